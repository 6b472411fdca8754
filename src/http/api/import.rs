//! `POST api/import` and `POST api/fork`: what they ask, and the account of an import that
//! `GET api` shows. The host does the fetching (see [`crate::fetch_pack`]); this decides
//! whether an import may start and keeps its record.

use serde::{Deserialize, Serialize};

use crate::access::settings::branch_ref;
use crate::fetch_pack::{Choice, Plan};
use crate::format::date::rfc3339_utc;
use crate::format::object::ObjectId;
use crate::hooks;
use crate::http::reply::Reply;
use crate::http::route;
use crate::receive_pack::ReceivePack;
use crate::store::sql::Sql;
use crate::store::{Store, StoreError, DEFAULT_HEAD};

/// The meta row that holds the repository's name, for the events of imports the alarm
/// runs.
pub const NAME: &str = "name";

/// The meta row that holds the import's account.
const ACCOUNT: &str = "import";

/// The meta row that holds the token an import from a URL presents, until it ends.
const TOKEN: &str = "import_token";

/// Why a second import is refused while one runs.
pub const RUNNING: &str = "an import is running already";

/// The longest URL imported from.
const MAX_URL: usize = 2048;

/// Which refs to take, as the request names them.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Refs {
    #[default]
    All,
    Default,
}

impl From<Refs> for Choice {
    fn from(refs: Refs) -> Choice {
        match refs {
            Refs::All => Choice::All,
            Refs::Default => Choice::Default,
        }
    }
}

/// The body of `POST api/import`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportBody {
    url: Option<String>,
    token: Option<String>,
    from: Option<String>,
    #[serde(default)]
    refs: Refs,
    mirror: Option<Mirror>,
}

/// A mirror's schedule: it fetches from its source again every `interval` seconds.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    /// Seconds between fetches.
    pub interval: i64,
}

/// The body of `POST api/fork`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForkBody {
    to: String,
    #[serde(default)]
    refs: Refs,
}

/// Where an import takes its refs and objects from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Another Git server, over smart HTTP, with the token to present.
    Url {
        /// The repository's URL, as `git clone` takes it.
        url: String,
        /// Sent as the password of HTTP Basic authentication.
        token: Option<String>,
    },
    /// A repository of this server (a fork), read with the caller's own credential.
    Repository(String),
}

/// An import asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    /// Where from.
    pub source: Source,
    /// Which refs.
    pub choice: Choice,
    /// Whether, and how often, to fetch again.
    pub mirror: Option<Mirror>,
    /// A mirror's fetch after its first: the repository has the source's refs of then, and
    /// the fetch is told to hooks and the directory only when it changes a ref or ends
    /// otherwise than the last one.
    pub refetch: bool,
}

/// Reads the body of `POST api/import`, or answers 400 saying what is wrong with it; a
/// mirror fetches every `min_interval` seconds at the most.
pub fn parse(body: &[u8], min_interval: u64) -> Result<Asked, Reply> {
    let body: ImportBody = serde_json::from_slice(body)
        .map_err(|e| Reply::json_error(400, &format!("bad import request: {e}")))?;
    let source = match (body.url, body.from, body.token) {
        (Some(url), None, token) => Source::Url {
            url: check_url(url)?,
            token,
        },
        (None, Some(from), None) => {
            Source::Repository(route::repository(&from).map_err(|e| bad(&format!("from: {e}")))?)
        }
        (None, Some(_), Some(_)) => return Err(bad("token goes only with url")),
        _ => return Err(bad("give either url or from")),
    };
    if let Some(mirror) = body.mirror {
        if matches!(source, Source::Repository(_)) || body.refs != Refs::All {
            return Err(bad("a mirror takes every ref of a url"));
        }
        let min = i64::try_from(min_interval).unwrap_or(i64::MAX);
        if !(min..=MAX_INTERVAL).contains(&mirror.interval) {
            let why = format!("mirror interval must be from {min} to {MAX_INTERVAL} seconds");
            return Err(bad(&why));
        }
    }
    Ok(Asked {
        source,
        choice: body.refs.into(),
        mirror: body.mirror,
        refetch: false,
    })
}

/// The longest interval between a mirror's fetches: a year.
const MAX_INTERVAL: i64 = 365 * 86_400;

/// Reads the body of `POST api/fork`: the new repository's canonical name, and the body
/// of the import into it that makes the fork of `from`.
pub fn parse_fork(body: &[u8], from: &str) -> Result<(String, Vec<u8>), Reply> {
    let body: ForkBody = serde_json::from_slice(body)
        .map_err(|e| Reply::json_error(400, &format!("bad fork request: {e}")))?;
    let bad = |why: &str| Reply::json_error(400, &format!("bad fork request: {why}"));
    let to = route::repository(&body.to).map_err(|e| bad(&format!("to: {e}")))?;
    if to == from {
        return Err(bad("a repository cannot be forked into itself"));
    }
    let import = serde_json::json!({ "from": from, "refs": body.refs });
    Ok((to, import.to_string().into_bytes()))
}

fn bad(why: &str) -> Reply {
    Reply::json_error(400, &format!("bad import request: {why}"))
}

/// An http or https URL without credentials in it (they go in `token`, which is not shown).
fn check_url(url: String) -> Result<String, Reply> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("url must begin with https:// or http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("url must name a host, and no credentials (give token)"));
    }
    // Paths are appended to it, and a query would be shown to every reader of GET api.
    if url.contains(['?', '#']) {
        return Err(bad("url must have no query or fragment"));
    }
    if url.len() > MAX_URL || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("url is too long or has spaces or control characters"));
    }
    Ok(url)
}

/// Where an import is.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Fetching.
    Running,
    /// Finished: the refs are the source's.
    Done,
    /// Finished without a change to the repository; `error` says why.
    Failed,
}

/// An import's account, as `GET api` shows it under `import`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Account {
    /// Where it is.
    pub state: State,
    /// The URL, or the repository forked.
    pub source: String,
    /// The refs asked for.
    refs: Refs,
    /// Refs created, moved or deleted by the last fetch.
    pub updated: u64,
    /// Objects the fetched pack held.
    pub objects: u64,
    /// Bytes of the fetched pack.
    pub bytes: u64,
    /// Why it failed, in git's words where git has them.
    pub error: Option<String>,
    /// When the last fetch ended (RFC 3339).
    #[serde(default)]
    pub finished_at: Option<String>,
    /// For a mirror, its schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Mirror>,
    /// Alarms that began this import (one, unless the object restarted while it ran).
    #[serde(default, skip_serializing_if = "is_zero")]
    attempts: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Alarms that may begin one import: after that many, the object restarted that often
/// while it ran (a source that takes it past its memory, say), and it is failed.
const MAX_ATTEMPTS: u32 = 3;

impl Account {
    /// The account of `asked` starting.
    pub fn running(asked: &Asked) -> Account {
        let source = match &asked.source {
            Source::Url { url, .. } => url.clone(),
            Source::Repository(name) => name.clone(),
        };
        let refs = match asked.choice {
            Choice::All => Refs::All,
            Choice::Default => Refs::Default,
        };
        Account {
            state: State::Running,
            source,
            refs,
            updated: 0,
            objects: 0,
            bytes: 0,
            error: None,
            finished_at: None,
            mirror: asked.mirror,
            attempts: 0,
        }
    }
}

/// Whether an import may start: only into a repository with no refs, and not beside
/// another import. None when it may; the refusal otherwise.
pub fn refusal<S: Sql>(store: &Store<S>) -> Result<Option<Reply>, StoreError> {
    if account(store)?.is_some_and(|a| a.state == State::Running) {
        return Ok(Some(Reply::json_error(409, RUNNING)));
    }
    if store.count_refs("")? > 0 {
        return Ok(Some(Reply::json_error(409, HAS_REFS)));
    }
    Ok(None)
}

/// Records `asked` as running, in a repository that exists from now on (so that `GET api`
/// shows how the import goes); the host then fetches it in the alarm. (A fork is fetched
/// within its request, and only its end is recorded.)
pub fn begin<S: Sql>(store: &Store<S>, asked: &Asked) -> Result<Account, StoreError> {
    let account = Account::running(asked);
    let token = match &asked.source {
        Source::Url { token, .. } => token.as_deref(),
        Source::Repository(_) => None,
    };
    let head = store.head_target()?;
    store.transaction(|| {
        if head.is_none() {
            store.set_head_target(DEFAULT_HEAD)?;
        }
        store.set_meta(TOKEN, token)?;
        store.set_meta(MIRROR_DUE, None)?;
        record(store, &account, 0)
    })?;
    Ok(account)
}

/// The fetch from a URL that is due at `now` (seconds since the epoch), for the alarm to
/// do: an import running (again, if the object restarted while it ran, up to
/// [`MAX_ATTEMPTS`] times), or a mirror's, on its clock or asked for (whose next one is
/// then due an interval later, should this one never end).
pub fn pending<S: Sql>(store: &Store<S>, now: i64) -> Result<Option<Asked>, StoreError> {
    let Some(mut account) = account(store)? else {
        return Ok(None);
    };
    let running = account.state == State::Running;
    if !running && account.mirror.is_none() {
        return Ok(None);
    }
    if account.mirror.is_some() && mirror_due(store)?.is_some_and(|at| at > now) {
        return Ok(None);
    }
    if running {
        if account.attempts >= MAX_ATTEMPTS {
            account.state = State::Failed;
            account.error = Some(format!(
                "the import did not end in {MAX_ATTEMPTS} attempts: the object restarted while it ran"
            ));
            record(store, &account, now)?;
            return Ok(None);
        }
        account.attempts += 1;
        let json = serde_json::to_string(&account).unwrap_or_default();
        store.set_meta(ACCOUNT, Some(&json))?;
    }
    store.set_meta(MIRROR_STARTED, Some(&now.to_string()))?;
    if let Some(mirror) = account.mirror {
        let next = now.saturating_add(mirror.interval).to_string();
        store.set_meta(MIRROR_DUE, Some(&next))?;
    }
    let source = Source::Url {
        url: account.source.clone(),
        token: store.meta(TOKEN)?,
    };
    Ok(Some(Asked {
        source,
        choice: account.refs.into(),
        mirror: account.mirror,
        refetch: account.mirror.is_some() && account.finished_at.is_some(),
    }))
}

/// When the alarm should next fetch (seconds since the epoch; 0 for at once): an import
/// waiting to run, or a mirror's next fetch.
pub fn next_fetch<S: Sql>(store: &Store<S>) -> Result<Option<i64>, StoreError> {
    let Some(account) = account(store)? else {
        return Ok(None);
    };
    let due = mirror_due(store)?;
    Ok(match account.state {
        State::Running => Some(due.unwrap_or(0)),
        _ => due,
    })
}

/// When a mirror fetches next (seconds since the epoch); None for a repository that is
/// not a mirror, or whose first fetch has not ended.
fn mirror_due<S: Sql>(store: &Store<S>) -> Result<Option<i64>, StoreError> {
    Ok(store.meta(MIRROR_DUE)?.and_then(|at| at.parse().ok()))
}

/// The meta row that holds when a mirror fetches next.
const MIRROR_DUE: &str = "mirror_due";

/// The meta row that holds when the last fetch from a URL began.
const MIRROR_STARTED: &str = "mirror_started";

/// Keeps `account`, ended at `now` unless it is running: a mirror's next fetch is then
/// due an interval after this one began, or sooner if a sync asked for it meanwhile; an
/// import that is not a mirror forgets its token, as does a mirror stopped meanwhile.
pub fn record<S: Sql>(store: &Store<S>, account: &Account, now: i64) -> Result<(), StoreError> {
    let mut account = account.clone();
    if account.state != State::Running {
        account.finished_at = Some(rfc3339_utc(now));
        let stopped = self::account(store)?.is_some_and(|stored| stored.mirror.is_none());
        if stopped {
            account.mirror = None;
        }
        match account.mirror {
            Some(mirror) => {
                let next = now.saturating_add(mirror.interval);
                let due = mirror_due(store)?.map_or(next, |due| due.min(next));
                store.set_meta(MIRROR_DUE, Some(&due.to_string()))?;
            }
            None => {
                store.set_meta(TOKEN, None)?;
                store.set_meta(MIRROR_DUE, None)?;
            }
        }
    }
    let json = serde_json::to_string(&account).unwrap_or_default();
    store.set_meta(ACCOUNT, Some(&json))
}

/// Queues the `import` event of `account`'s end (a mirror's fetches included) for the
/// hooks that asked for it.
pub fn announce<S: Sql>(store: &Store<S>, account: &Account, now: i64) -> Result<(), StoreError> {
    let repo = store.meta(NAME)?.unwrap_or_default();
    let origin = hooks::Origin {
        repo,
        pusher: "import".into(),
        now,
    };
    hooks::announce(store, "import", 1, &origin, || {
        let repository = origin.repository(store)?;
        Ok(vec![
            serde_json::json!({ "import": account, "repository": repository }),
        ])
    })
}

/// Why the repository cannot take an import asked for as `asked`, given its refs `ours`, if
/// it cannot: an import other than a mirror's refetch goes only into a repository that has
/// no refs still (a push may have come since it was asked for, and the fetch would delete
/// what it made).
pub fn refused(asked: &Asked, ours: &[(String, ObjectId)]) -> Option<&'static str> {
    (!asked.refetch && !ours.is_empty()).then_some(HAS_REFS)
}

/// The branch HEAD must name before a refetch applies `plan` to the refs `ours`, if it must
/// move: the source's, or when the fetch deletes HEAD's branch and the source names none, a
/// branch that stays (the update would otherwise be refused as the deletion of the current
/// branch).
pub fn next_head<S: Sql>(
    store: &Store<S>,
    asked: &Asked,
    plan: &Plan,
    ours: &[(String, ObjectId)],
) -> Result<Option<String>, StoreError> {
    if !asked.refetch {
        return Ok(None);
    }
    let current = store.head_target()?;
    let deleted = |name: &str| {
        plan.updates
            .iter()
            .any(|u| u.name == name && u.new.is_zero())
    };
    let staying = || {
        let updated = plan
            .updates
            .iter()
            .filter(|u| !u.new.is_zero())
            .map(|u| &u.name);
        let kept = ours
            .iter()
            .map(|(name, _)| name)
            .filter(|name| !deleted(name));
        updated.chain(kept).find(|name| is_branch(name)).cloned()
    };
    let next = match plan.head.clone().filter(|head| is_branch(head)) {
        Some(head) => Some(head),
        None if current.as_deref().is_some_and(deleted) => staying(),
        None => None,
    };
    Ok(next.filter(|next| current.as_deref() != Some(next.as_str())))
}

/// Applies a fetch's `push`, HEAD moved first to `next_head` if it must move (see
/// [`next_head`]) and back if the push is refused, so that nothing of a refused fetch
/// stays; answers the push's refusal, if any.
pub fn apply<S: Sql>(
    store: &Store<S>,
    push: ReceivePack<'_, S>,
    next_head: Option<String>,
) -> Result<Result<(), String>, StoreError> {
    let before = store.head_target()?;
    if let Some(next) = &next_head {
        store.set_head_target(next)?;
    }
    let applied = push.conclude();
    if let (Err(_), Some(_), Some(before)) = (&applied, &next_head, before) {
        store.set_head_target(&before)?;
    }
    Ok(applied)
}

/// Why an import into a repository with refs is refused.
const HAS_REFS: &str = "the repository has refs: an import goes into a new or empty repository";

/// Whether `name` is a branch HEAD may name, as `PATCH api/settings` checks one.
pub fn is_branch(name: &str) -> bool {
    name.starts_with("refs/heads/") && branch_ref(name).is_some()
}

/// The source a mirror fetches from, if the repository is one: it takes no pushes.
pub fn mirrored_from<S: Sql>(store: &Store<S>) -> Result<Option<String>, StoreError> {
    Ok(account(store)?
        .filter(|a| a.mirror.is_some())
        .map(|a| a.source))
}

/// `POST api/mirror/sync`: the mirror fetches in the alarm (202), now, or
/// `min_interval` seconds after its last fetch began if that is later (so that syncs
/// asked for in a loop cost no more than the shortest schedule); 409 for a repository
/// that is not a mirror.
pub fn sync<S: Sql>(store: &Store<S>, now: i64, min_interval: i64) -> Result<Reply, StoreError> {
    let Some(mut account) = account(store)?.filter(|a| a.mirror.is_some()) else {
        return Ok(Reply::json_error(409, "the repository is not a mirror"));
    };
    let started = store
        .meta(MIRROR_STARTED)?
        .and_then(|at| at.parse::<i64>().ok());
    let earliest = started.map_or(now, |at| now.max(at.saturating_add(min_interval)));
    let due = mirror_due(store)?.map_or(earliest, |due| due.min(earliest));
    store.transaction(|| {
        store.set_meta(MIRROR_DUE, Some(&due.to_string()))?;
        if account.state != State::Running {
            account.state = State::Running;
            account.attempts = 0;
            let json = serde_json::to_string(&account).unwrap_or_default();
            store.set_meta(ACCOUNT, Some(&json))?;
        }
        Ok(())
    })?;
    let answer = serde_json::json!({ "import": account, "next_fetch": rfc3339_utc(due) });
    Ok(Reply::json(202, &answer))
}

/// `DELETE api/mirror`: the repository stops mirroring, keeps what it has and takes pushes
/// from now on (200 with the account); 409 for a repository that is not a mirror.
pub fn stop_mirroring<S: Sql>(store: &Store<S>) -> Result<Reply, StoreError> {
    let Some(mut account) = account(store)?.filter(|a| a.mirror.is_some()) else {
        return Ok(Reply::json_error(409, "the repository is not a mirror"));
    };
    account.mirror = None;
    if account.state == State::Running && account.finished_at.is_some() {
        // A sync asked for and not begun is dropped; a first import goes on, as an import.
        account.state = State::Done;
    }
    let json = serde_json::to_string(&account).unwrap_or_default();
    store.transaction(|| {
        store.set_meta(TOKEN, None)?;
        store.set_meta(MIRROR_DUE, None)?;
        store.set_meta(ACCOUNT, Some(&json))
    })?;
    Ok(Reply::json(200, &account))
}

/// The last import's account, if there was one.
pub fn account<S: Sql>(store: &Store<S>) -> Result<Option<Account>, StoreError> {
    let stored = store.meta(ACCOUNT)?;
    Ok(stored.and_then(|json| serde_json::from_str(&json).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_imports_and_forks() {
        let asked = parse(br#"{"url": "https://example.com/a.git", "token": "t"}"#, 60).unwrap();
        assert_eq!(asked.choice, Choice::All);
        assert!(matches!(asked.source, Source::Url { token: Some(_), .. }));
        let fork = parse(br#"{"from": "o/r.git", "refs": "default"}"#, 60).unwrap();
        assert_eq!(fork.source, Source::Repository("o/r".into()));
        assert_eq!(fork.choice, Choice::Default);
        for bad in [
            &br#"{"url": "ftp://example.com/a"}"#[..],
            br#"{"url": "https://user:pw@example.com/a"}"#,
            br#"{"url": "https://example.com/a b"}"#,
            br#"{"url": "https://example.com/a?private_token=x"}"#,
            br#"{"from": "api"}"#,
            br#"{"from": "o/r", "token": "t"}"#,
            br#"{"url": "https://e.com/a", "from": "o/r"}"#,
            br#"{}"#,
            br#"{"url": "https://e.com/a", "extra": 1}"#,
            br#"{"url": "https://e.com/a", "mirror": {"interval": 59}}"#,
            br#"{"url": "https://e.com/a", "mirror": {"interval": 60}, "refs": "default"}"#,
            br#"{"from": "o/r", "mirror": {"interval": 60}}"#,
        ] {
            let reply = parse(bad, 60).unwrap_err();
            assert_eq!(reply.status, 400, "{}", String::from_utf8_lossy(bad));
        }
        let (to, body) = parse_fork(br#"{"to": "me/copy.git"}"#, "o/r").unwrap();
        assert_eq!(to, "me/copy");
        assert_eq!(
            parse(&body, 60).unwrap().source,
            Source::Repository("o/r".into())
        );
        assert!(parse_fork(br#"{"to": "o/r"}"#, "o/r").is_err());
        assert!(parse_fork(br#"{"to": "a/b/c"}"#, "o/r").is_err());
    }
}
