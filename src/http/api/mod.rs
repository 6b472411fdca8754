//! The JSON endpoints under `<repo>/api`: the repository's summary, creating it before its
//! first push, its tokens, its settings, its maintenance, and reading it without git (refs,
//! history, trees, comparisons, raw files). Who may call which is decided before these run.

pub mod import;
pub mod raw;
pub mod read;

use serde::{Deserialize, Serialize};

use crate::access::settings::{branch_ref, Patch};
use crate::access::token::{self, Scope, RANDOM_BYTES};
use crate::format::date::rfc3339_utc;
use crate::hooks;
use crate::http::backend::Method;
use crate::http::reply::Reply;
use crate::http::route::Api;
use crate::maintenance::{self, Host, Report};
use crate::store::sql::Sql;
use crate::store::{Store, StoreError, DEFAULT_HEAD};

/// The largest request body an API endpoint reads.
pub const MAX_BODY: usize = 64 << 10;

/// The most tokens one repository keeps.
pub const MAX_TOKENS: usize = 1000;

/// The longest a token may live: a hundred years, in seconds.
const MAX_EXPIRES_IN: i64 = 100 * 365 * 86_400;

/// What the host supplies that a pure function cannot make.
pub struct Context<'h> {
    /// Seconds since the epoch.
    pub now: i64,
    /// Fresh random bytes, for a token being made.
    pub random: [u8; RANDOM_BYTES],
    /// The clock and memory gauge maintenance runs with, and its grace for unreachable
    /// objects (seconds).
    pub host: Host<'h>,
    /// Seconds unreachable objects are kept.
    pub grace: i64,
    /// The repository's name, for the events its webhooks are sent.
    pub repo: &'h str,
    /// Seconds a mirror's fetches are apart at the least (`MIRROR_MIN_INTERVAL_SECONDS`).
    pub mirror_interval: i64,
    /// The server's URL as the request names it (scheme and host), for the links in
    /// webhook payloads.
    pub base_url: &'h str,
}

/// The body of `POST api/tokens`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    scope: Scope,
    expires_in: Option<i64>,
}

/// The answer of `GET api/tokens`.
#[derive(Serialize)]
struct TokenList {
    tokens: Vec<token::Listed>,
}

/// A request to an endpoint, as the host read it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Its method.
    pub method: Method,
    /// The endpoint.
    pub api: &'a Api,
    /// Its whole body.
    pub body: &'a [u8],
    /// Its query, for the reads.
    pub query: read::Query<'a>,
    /// Its conditional and range headers, for raw files.
    pub conditions: raw::Conditions<'a>,
}

/// Answers a request to an endpoint.
pub fn serve<S: Sql>(
    store: &Store<S>,
    request: &Request,
    context: &Context,
) -> Result<Reply, StoreError> {
    let Request {
        method, api, body, ..
    } = *request;
    if !matches!((api, method), (Api::Repo, Method::Put)) && !store.exists()? {
        return Ok(Reply::json_error(404, "repository not found"));
    }
    let query = &request.query;
    let read = matches!(method, Method::Get | Method::Head);
    match (api, method) {
        (Api::Refs, _) if read => read::answer(read::refs(store, query)),
        (Api::Commits, _) if read => read::answer(read::commits(store, query)),
        (Api::Commit(rev), _) if read => read::answer(read::commit(store, rev, query)),
        (Api::Tree(rest), _) if read => read::answer(read::tree(store, rest, query)),
        (Api::Compare(rest), _) if read => read::answer(read::compare(store, rest, query)),
        (Api::Raw(rest), _) if read => {
            read::answer(raw::raw(store, rest, query, request.conditions))
        }
        (Api::Repo, Method::Put) => create(store),
        (Api::Tokens, Method::Get) => {
            let tokens = store.tokens()?.iter().map(|t| t.listed()).collect();
            Ok(Reply::json(200, &TokenList { tokens }))
        }
        (Api::Tokens, Method::Post) => create_token(store, body, context),
        (Api::Token(id), Method::Delete) => Ok(match store.delete_token(id)? {
            true => Reply::empty(204),
            false => Reply::json_error(404, "no such token"),
        }),
        (Api::Settings, Method::Get) => settings(store),
        (Api::Settings, Method::Patch) => patch_settings(store, body),
        (Api::Repo, _) if read => summary(store),
        (Api::Maintenance, Method::Post) => {
            maintenance::start(store, &context.host, context.grace)?;
            Ok(Reply::json(202, &Started { started: true }))
        }
        (Api::MirrorSync, Method::Post) => {
            import::sync(store, context.now, context.mirror_interval)
        }
        (Api::Hooks, Method::Get) => hooks::list(store),
        (Api::Hooks, Method::Post) => {
            let origin = hooks::Origin {
                repo: context.repo.to_string(),
                pusher: "admin".into(),
                now: context.now,
            };
            hooks::create(store, body, &context.random, &origin, context.base_url)
        }
        (Api::Hook(id), Method::Delete) => hooks::delete(store, id),
        (Api::Deliveries(id), Method::Get) => hooks::deliver::list(store, id),
        (Api::Mirror, Method::Delete) => import::stop_mirroring(store),
        (Api::Purge, Method::Post) => {
            let run = maintenance::purge(store, &context.host)?;
            Ok(Reply::json(200, &RunView::of(run)))
        }
        _ => Ok(Reply::json_error(405, "method not allowed")),
    }
}

/// The answer of `PUT api`.
#[derive(Serialize)]
struct Created {
    created: bool,
    head: String,
}

/// `PUT api`: an empty repository whose HEAD names `main`, unless it exists (a repository
/// exists once HEAD is set).
fn create<S: Sql>(store: &Store<S>) -> Result<Reply, StoreError> {
    let existing = store.head_target()?;
    let created = existing.is_none();
    if created {
        store.set_head_target(DEFAULT_HEAD)?;
    }
    let head = existing.unwrap_or_else(|| DEFAULT_HEAD.to_string());
    let status = if created { 201 } else { 200 };
    Ok(Reply::json(status, &Created { created, head }))
}

fn create_token<S: Sql>(
    store: &Store<S>,
    body: &[u8],
    context: &Context,
) -> Result<Reply, StoreError> {
    let asked: NewToken = match serde_json::from_slice(body) {
        Ok(asked) => asked,
        Err(e) => return Ok(Reply::json_error(400, &format!("bad token request: {e}"))),
    };
    if asked
        .expires_in
        .is_some_and(|secs| !(1..=MAX_EXPIRES_IN).contains(&secs))
    {
        let why =
            format!("bad token request: expires_in must be from 1 to {MAX_EXPIRES_IN} seconds");
        return Ok(Reply::json_error(400, &why));
    }
    store.delete_expired_tokens(context.now)?;
    if store.tokens()?.len() >= MAX_TOKENS {
        let why = format!("too many tokens: at most {MAX_TOKENS}; revoke some first");
        return Ok(Reply::json_error(400, &why));
    }
    let (created, record) =
        token::make(&context.random, asked.scope, context.now, asked.expires_in);
    store.add_token(&record)?;
    Ok(Reply::json(201, &created))
}

fn settings<S: Sql>(store: &Store<S>) -> Result<Reply, StoreError> {
    let head = store.head_target()?.unwrap_or_default();
    Ok(Reply::json(200, &store.settings()?.view(&head)))
}

/// `PATCH api/settings`: what the body names changes; the default branch must exist once
/// the repository has branches, as a push would otherwise move HEAD off it again.
fn patch_settings<S: Sql>(store: &Store<S>, body: &[u8]) -> Result<Reply, StoreError> {
    let patch = match Patch::parse(body) {
        Ok(patch) => patch,
        Err(e) => return Ok(Reply::json_error(400, &e.to_string())),
    };
    let head = patch.default_branch.as_deref().and_then(branch_ref);
    if let Some(head) = &head {
        if store.ref_value(head)?.is_none() && store.first_branch()?.is_some() {
            let why = format!("bad settings: default_branch {head} does not exist");
            return Ok(Reply::json_error(400, &why));
        }
    }
    let mut settings = store.settings()?;
    if let Some(visibility) = patch.visibility {
        settings.visibility = visibility;
    }
    if let Some(protect) = patch.protect {
        settings.protect = protect;
    }
    store.transaction(|| {
        store.set_settings(&settings)?;
        match &head {
            Some(head) => store.set_head_target(head),
            None => Ok(()),
        }
    })?;
    self::settings(store)
}

/// The answer of `POST api/maintenance`: the host runs it in its alarm.
#[derive(Serialize)]
struct Started {
    started: bool,
}

/// The answer of `GET api`.
#[derive(Serialize)]
struct SummaryView {
    head: String,
    refs: u64,
    packs: u64,
    loose: u64,
    objects: u64,
    bytes: u64,
    last_push: Option<String>,
    maintenance: MaintenanceView,
    lfs: LfsView,
    #[serde(skip_serializing_if = "Option::is_none")]
    import: Option<import::Account>,
}

/// The summary's account of Git LFS: the objects the bucket holds for the repository.
#[derive(Serialize)]
struct LfsView {
    objects: u64,
    bytes: u64,
}

/// The summary's account of maintenance.
#[derive(Serialize)]
struct MaintenanceView {
    in_progress: bool,
    retired_packs: u64,
    unreachable: u64,
    last_run: Option<RunView>,
}

/// A maintenance run as the API shows it: its times as dates.
#[derive(Serialize)]
struct RunView {
    started_at: String,
    finished_at: String,
    #[serde(flatten)]
    run: Report,
}

impl RunView {
    fn of(run: Report) -> RunView {
        RunView {
            started_at: rfc3339_utc(run.started),
            finished_at: rfc3339_utc(run.finished),
            run,
        }
    }
}

/// Queues the `maintenance` event of the run that just ended (its account, as `GET api`
/// shows it) for the hooks that asked for it.
pub fn announce_maintenance<S: Sql>(
    store: &Store<S>,
    repo: &str,
    now: i64,
) -> Result<(), StoreError> {
    let origin = hooks::Origin {
        repo: repo.to_string(),
        pusher: "maintenance".into(),
        now,
    };
    store.transaction(|| {
        hooks::announce(store, "maintenance", 1, &origin, || {
            let run = maintenance::last_report(store)?.map(RunView::of);
            let repository = origin.repository(store)?;
            Ok(vec![
                serde_json::json!({ "maintenance": run, "repository": repository }),
            ])
        })
    })
}

/// `GET api`: what the repository holds and how its maintenance went.
fn summary<S: Sql>(store: &Store<S>) -> Result<Reply, StoreError> {
    let held = store.summary()?;
    let (lfs_objects, lfs_bytes) = store.lfs_totals()?;
    let last_push = store
        .meta(maintenance::LAST_PUSH)?
        .and_then(|t| t.parse().ok());
    let view = SummaryView {
        head: store.head_target()?.unwrap_or_default(),
        refs: held.refs,
        packs: held.packs,
        loose: held.loose,
        objects: held.objects,
        bytes: held.bytes,
        last_push: last_push.map(rfc3339_utc),
        maintenance: MaintenanceView {
            in_progress: maintenance::in_progress(store)?,
            retired_packs: held.retired_packs,
            unreachable: held.unreachable,
            last_run: maintenance::last_report(store)?.map(RunView::of),
        },
        lfs: LfsView {
            objects: lfs_objects,
            bytes: lfs_bytes,
        },
        import: import::account(store)?,
    };
    Ok(Reply::json(200, &view))
}
