//! The Worker and the Durable Object: route each request to its repository's object,
//! stream request bodies into the services and stored packs out of SQLite.
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either, FutureExt, LocalBoxFuture, Shared};
use futures_util::StreamExt;
use wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use worker::{
    durable_object, event, Context, Env, Headers, Method, Request, Response, Result, SqlStorage,
    SqlStorageValue, State,
};

mod body;
mod digest;
mod directory;
mod outbound;
mod r2;

use body::Body as RequestBody;

use crate::access::{self, Denied, Grant, Need, ServerAccess, GRANT_HEADER};
use crate::hooks;
use crate::http::api::import::Source;
use crate::http::backend::{self, Asked, Dispatch};
use crate::http::reply::{Body, Caching, Reply};
use crate::http::{api, pages, route};
use crate::lfs::{self, LfsError};
use crate::limits::{Limits, OverLimit};
use crate::maintenance::{self, Due, Host, Slice};
use crate::protocol::BadRequest;
use crate::receive_pack::ReceivePack;
use crate::store::sql::{RowCounter, Rows, Sql, SqlError, Value};
use crate::store::{ReadLease, Store, StoreError};
use crate::{upload_pack, AGENT};

const ABOUT: &str = "git-on-durable-objects: a Git server on Cloudflare Durable Objects.

Each repository is its own Durable Object with its own SQLite database, created by its first push.
  git push http://HOST/<owner>/<repo>.git main          smart receive-pack (with a token)
  GIT_SMART_HTTP=0 git clone http://HOST/<owner>/<repo>.git   dumb HTTP
  curl http://HOST/<owner>/<repo>.git/info/refs         the refs, as plain text
Paths: /<owner>/<repo>.git/... or /<repo>.git/... ('.git' optional), names of [A-Za-z0-9._-].
";

/// The Durable Object's SQL storage as the store's [`Sql`], the storage object whose
/// `transactionSync` makes a group of its statements all-or-nothing, and the count of rows
/// the runtime's cursors report.
#[derive(Clone)]
struct DoSql(SqlStorage, TxStorage, RowCounter);

#[wasm_bindgen]
extern "C" {
    /// `DurableObjectStorage`, for the one method workers-rs does not bind.
    #[derive(Clone)]
    type TxStorage;

    /// Runs the callback in a transaction that is rolled back if it throws.
    #[wasm_bindgen(method, catch, js_name = transactionSync)]
    fn transaction_sync(
        this: &TxStorage,
        work: &mut dyn FnMut() -> std::result::Result<JsValue, JsValue>,
    ) -> std::result::Result<JsValue, JsValue>;
}

impl DoSql {
    fn new(state: &State) -> DoSql {
        let storage = state.storage();
        let raw = state
            .as_raw()
            .storage()
            .map(JsCast::unchecked_into::<TxStorage>);
        DoSql(
            storage.sql(),
            raw.unwrap_or_else(|e| e.unchecked_into()),
            RowCounter::default(),
        )
    }
}

impl Sql for DoSql {
    fn exec(
        &self,
        query: &str,
        params: Vec<Value>,
    ) -> std::result::Result<Vec<Vec<Value>>, SqlError> {
        let params: Vec<SqlStorageValue> = params
            .into_iter()
            .map(|v| match v {
                Value::Null => SqlStorageValue::Null,
                Value::Integer(n) => SqlStorageValue::Integer(n),
                Value::Text(s) => SqlStorageValue::String(s),
                Value::Blob(b) => SqlStorageValue::Blob(b),
            })
            .collect();
        let cursor = self
            .0
            .exec(query, params)
            .map_err(|e| SqlError(e.to_string()))?;
        let rows = cursor
            .raw()
            .map(|row| {
                let row = row.map_err(|e| SqlError(e.to_string()))?;
                Ok(row
                    .into_iter()
                    .map(|v| match v {
                        SqlStorageValue::Null => Value::Null,
                        SqlStorageValue::Boolean(b) => Value::Integer(b as i64),
                        SqlStorageValue::Integer(n) => Value::Integer(n),
                        SqlStorageValue::Float(f) => Value::Integer(f as i64),
                        SqlStorageValue::String(s) => Value::Text(s),
                        SqlStorageValue::Blob(b) => Value::Blob(b),
                    })
                    .collect())
            })
            .collect();
        // The cursor's counts are final once it is consumed.
        self.2.add(Rows {
            read: cursor.rows_read() as u64,
            written: cursor.rows_written() as u64,
        });
        rows
    }

    fn rows(&self) -> Rows {
        self.2.own()
    }

    fn counting(&self) -> DoSql {
        DoSql(self.0.clone(), self.1.clone(), self.2.fork())
    }

    fn transaction(&self, work: &mut dyn FnMut() -> bool) -> std::result::Result<(), SqlError> {
        const ROLLED_BACK: &str = "rolled back";
        let outcome = self.1.transaction_sync(&mut || match work() {
            true => Ok(JsValue::UNDEFINED),
            // Throwing is how transactionSync is told to roll back.
            false => Err(JsValue::from_str(ROLLED_BACK)),
        });
        match outcome {
            Ok(_) => Ok(()),
            Err(e) if e.as_string().as_deref() == Some(ROLLED_BACK) => Ok(()),
            Err(e) => Err(SqlError(format!("{e:?}"))),
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// Web Crypto's `crypto.getRandomValues`, which fills the buffer in place.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// How the server was configured: the `ADMIN_TOKEN` secret (or var, locally) and
/// `ANONYMOUS_PUSH`.
fn server_access(env: &Env) -> ServerAccess {
    ServerAccess::from_vars(|name| setting(env, name))
}

/// The limits `wrangler.toml`'s variables set.
fn limits(env: &Env) -> std::result::Result<Limits, crate::limits::BadLimit> {
    Limits::from_vars(|name| env.var(name).ok().map(|v| v.to_string()))
}

/// A setting of the Worker: the secret `name`, or else the variable (how `wrangler dev
/// --var` passes secrets locally).
fn setting(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .or_else(|_| env.var(name))
        .ok()
        .map(|v| v.to_string())
}

/// The token an incoming request presents.
fn credential(req: &Request) -> Result<Option<String>> {
    Ok(access::credential(
        req.headers().get("Authorization")?.as_deref(),
    ))
}

fn method(req: &Request) -> backend::Method {
    match req.method() {
        Method::Get => backend::Method::Get,
        Method::Head => backend::Method::Head,
        Method::Post => backend::Method::Post,
        Method::Put => backend::Method::Put,
        Method::Patch => backend::Method::Patch,
        Method::Delete => backend::Method::Delete,
        _ => backend::Method::Other,
    }
}

fn service(req: &Request) -> Result<Option<String>> {
    Ok(req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.into_owned()))
}

/// Headers that let browsers (isomorphic-git, apps calling the API) talk to us.
fn cors(headers: &Headers) -> Result<()> {
    headers.set("Access-Control-Allow-Origin", "*")?;
    headers.set(
        "Access-Control-Allow-Methods",
        "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    )?;
    headers.set(
        "Access-Control-Allow-Headers",
        "accept, authorization, cache-control, content-type, git-protocol, if-none-match, pragma, range, user-agent, x-authorization",
    )?;
    headers.set(
        "Access-Control-Expose-Headers",
        "accept-ranges, content-length, content-type, content-range, etag, www-authenticate, x-wasm-memory, x-rows-read, x-rows-written, x-instance-rows-read, x-instance-rows-written",
    )?;
    Ok(())
}

fn text(status: u16, message: &str) -> Result<Response> {
    respond(Reply::text(status, message), None)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    if req.method() == Method::Options {
        let response = Response::empty()?.with_status(204);
        cors(response.headers())?;
        return Ok(response);
    }
    let server = server_access(&env);
    let path = req.path();
    if path == "/" {
        return text(200, &format!("{ABOUT}{}\n", server.describe()));
    }
    if let Some(asset) = pages::asset(&path) {
        return respond(asset, None);
    }
    if path == "/api/repos" {
        return list_repositories(&req, &env, &server).await;
    }
    let route = match route::parse(&path) {
        Err(reason) => return answer_unread(&req, reason.into()).await,
        Ok(route) => route,
    };
    if let route::Endpoint::Lfs(route::Lfs::Object(oid)) = &route.endpoint {
        let max_size = limits(&env).unwrap_or_default().lfs_object_bytes;
        let answer = r2::transfer(&req, &env, &route.repo, oid, max_size).await;
        body::discard(&req).await;
        return answer;
    }
    if route.endpoint == route::Endpoint::Api(route::Api::Fork) {
        return fork(&req, &env, &server, &route.repo).await;
    }
    let service = service(&req)?;
    let asked = Asked {
        method: method(&req),
        endpoint: &route.endpoint,
        service: service.as_deref(),
    };
    let grant = match backend::admit(&server, asked, credential(&req)?.as_deref()) {
        Ok(grant) => grant,
        Err(refusal) => return answer_unread(&req, refusal).await,
    };
    // The object trusts this header, so the Worker always sets it itself.
    let mut forwarded = req.clone_mut()?;
    forwarded.headers_mut()?.set(GRANT_HEADER, grant.as_str())?;
    let stub = env
        .durable_object("REPO")?
        .id_from_name(&route.repo)?
        .get_stub()?;
    stub.fetch_with_request(forwarded).await
}

/// `GET /api/repos`: the directory's page, for the admin.
async fn list_repositories(req: &Request, env: &Env, server: &ServerAccess) -> Result<Response> {
    let credential = credential(req)?;
    let refusal = match (server.grant(credential.as_deref()), credential) {
        (Grant::Admin, _) => None,
        (_, None) => Some(Reply::denied(&Denied::NoCredential, true)),
        (_, Some(_)) => Some(Reply::json_error(
            403,
            "only the admin token can list repositories",
        )),
    };
    if let Some(refusal) = refusal {
        return answer_unread(req, refusal).await;
    }
    if method(req) != backend::Method::Get {
        return answer_unread(req, Reply::json_error(405, "method not allowed")).await;
    }
    let query = req
        .url()?
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let request = Request::new(&format!("https://directory/repos{query}"), Method::Get)?;
    let stub = env
        .durable_object("DIRECTORY")?
        .id_from_name(directory::NAME)?
        .get_stub()?;
    stub.fetch_with_request(request).await
}

/// `POST api/fork`: the Worker reads the new repository's name and asks that repository's
/// object to import this one, as the caller: the new one checks that the caller may write
/// to it, and this one that the caller may read it.
async fn fork(req: &Request, env: &Env, server: &ServerAccess, from: &str) -> Result<Response> {
    if method(req) != backend::Method::Post {
        return answer_unread(req, Reply::json_error(405, "method not allowed")).await;
    }
    let Some(body) = whole_body(req, api::MAX_BODY).await? else {
        return respond(Reply::json_error(413, "request body too large"), None);
    };
    let (to, import) = match api::import::parse_fork(&body, from) {
        Ok(fork) => fork,
        Err(reply) => return respond(reply, None),
    };
    let endpoint = route::Endpoint::Api(route::Api::Import);
    let asked = Asked {
        method: backend::Method::Post,
        endpoint: &endpoint,
        service: None,
    };
    let grant = match backend::admit(server, asked, credential(req)?.as_deref()) {
        Ok(grant) => grant,
        Err(refusal) => return respond(refusal, None),
    };
    let target = outbound::Remote::Sibling {
        env,
        repo: &to,
        grant,
        authorization: req.headers().get("Authorization")?,
    };
    match target
        .request("api/import", Some((&import, "application/json")))
        .await
    {
        Ok(answer) => Ok(answer),
        Err(failure) => respond(Reply::json_error(failure.status, &failure.message), None),
    }
}

/// Answers `reply` to a request whose body the Worker does not forward, once that body is
/// read (see [`body::discard`]).
async fn answer_unread(req: &Request, reply: Reply) -> Result<Response> {
    body::discard(req).await;
    respond(reply, None)
}

/// One repository.
#[durable_object]
pub struct Repo {
    state: State,
    env: Env,
    store: Store<DoSql>,
    rows: RowCounter,
    limits: Limits,
    broken: Option<String>,
    /// Whether an import (or a mirror's fetch) is running: one at a time.
    importing: Cell<bool>,
    /// How many times the repository was deleted since the object started: an import
    /// that began before a deletion does not apply what it fetched.
    generation: Cell<u64>,
    /// The directory's last tell, which may still be on its way (a push does not wait for
    /// it): the next tell waits for it, so that the directory hears of the repository's
    /// changes in their order.
    told: RefCell<Option<Telling>>,
}

/// A tell of the directory, kept so that the next can wait for it (see [`Repo::after_last_tell`]).
type Telling = Shared<LocalBoxFuture<'static, ()>>;

/// Milliseconds since the epoch.
fn now_ms() -> i64 {
    worker::js_sys::Date::now() as i64
}

/// The wasm module's memory: it never shrinks, so it is also its peak.
fn wasm_memory() -> Option<u64> {
    Some(core::arch::wasm32::memory_size(0) as u64 * 65536)
}

/// Maintenance's view of the host.
/// Webhook deliveries sent at once: the connections a Worker's invocation keeps open.
const SENT_TOGETHER: usize = 6;

const HOST: Host<'static> = Host {
    now_ms: &now_ms,
    memory: &wasm_memory,
};

impl worker::DurableObject for Repo {
    fn new(state: State, env: Env) -> Self {
        digest::install();
        let sql = DoSql::new(&state);
        let rows = sql.2.clone();
        let store = Store::new(sql);
        let limits = limits(&env);
        let broken = match (&limits, store.open()) {
            (Err(e), _) => Some(format!("bad configuration: {e}")),
            (_, Err(e)) => Some(format!("repository storage failed to open: {e}")),
            _ => None,
        };
        let limits = limits.unwrap_or_default();
        Repo {
            state,
            env,
            store,
            rows,
            limits,
            broken,
            importing: Cell::new(false),
            generation: Cell::new(0),
            told: RefCell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let store = self.store.counting();
        let response = self.serve(&req, &store).await;
        body::discard(&req).await;
        let response = response?;
        self.count_rows(response.headers(), store.rows())?;
        Ok(response)
    }

    /// Maintenance: sweeps what expired, then runs the repack that is due or in progress
    /// for a while, and sets the alarm for what comes next.
    async fn alarm(&self) -> Result<Response> {
        self.deliver_events().await;
        self.pending_import().await?;
        let next = self.maintain();
        if let Err(e) = &next {
            worker::console_error!("maintenance failed: {e}");
        }
        let retry = now_ms() / 1000 + self.limits.timing().retry();
        let next = next.unwrap_or(Due::At(retry));
        self.schedule(self.with_other_jobs(next)).await?;
        Response::ok("")
    }
}

/// The whole body of `req`, or None if it is longer than `limit`; the rest of a longer one
/// is read and dropped (see [`body::discard`]).
async fn whole_body(req: &Request, limit: usize) -> Result<Option<Vec<u8>>> {
    let mut body = Some(Vec::new());
    let mut stream = RequestBody::of(req)?;
    while let Some(chunk) = stream.next().await? {
        if let Some(kept) = &mut body {
            kept.extend_from_slice(&chunk);
            if kept.len() > limit {
                body = None;
            }
        }
    }
    Ok(body)
}

impl Repo {
    /// Tells the `rows` a request read and wrote before its answer's headers, and the rows
    /// this instance of the object read and wrote since it started. A body still streaming
    /// reads more (a stored pack's chunk rows, about one per MiB, and the objects of a pack
    /// being made), which only the instance's count takes in.
    fn count_rows(&self, headers: &Headers, rows: Rows) -> Result<()> {
        let all = self.rows.all();
        for (name, value) in [
            ("x-rows-read", rows.read),
            ("x-rows-written", rows.written),
            ("x-instance-rows-read", all.read),
            ("x-instance-rows-written", all.written),
        ] {
            headers.set(name, &value.to_string())?;
        }
        Ok(())
    }

    /// One alarm's work; returns when maintenance is due next.
    fn maintain(&self) -> std::result::Result<Due, StoreError> {
        let timing = self.limits.timing();
        let now = now_ms() / 1000;
        maintenance::sweep(&self.store, now, timing.sweep)?;
        let start = match maintenance::due(&self.store, now, &timing)? {
            Due::Now => true,
            Due::At(at) => at <= now,
            Due::Never => false,
        };
        if start {
            maintenance::start(&self.store, &HOST, timing.grace)?;
            // One turn, then the object goes back to requests: the clock does not move
            // while a handler runs in production, so turns are counted in work, not time.
            if !maintenance::run(&self.store, &HOST, &Slice::turn(), 0)? {
                // Now, or when a sealed pack stops waiting for pushes: the next turn is due
                // before anything retired could be swept.
                return maintenance::due(&self.store, now_ms() / 1000, &timing);
            }
            let repo = self.store.meta(api::import::NAME)?.unwrap_or_default();
            api::announce_maintenance(&self.store, &repo, now_ms() / 1000)?;
            maintenance::sweep(&self.store, now_ms() / 1000, timing.sweep)?;
        }
        let now = now_ms() / 1000;
        let due = maintenance::due(&self.store, now, &timing)?;
        maintenance::next_alarm(&self.store, now, due, &timing)
    }

    /// Sets the alarm for `due` (replacing the one set), or deletes it for never. workers-rs
    /// reads a number as milliseconds from now, so an absolute time is passed as its
    /// distance from now (see [`Due::alarm_delay`]).
    async fn schedule(&self, due: Due) -> Result<()> {
        let storage = self.state.storage();
        match due.alarm_delay(now_ms()) {
            Some(delay) => storage.set_alarm(delay).await,
            None => storage.delete_alarm().await,
        }
    }

    async fn serve(&self, req: &Request, store: &Store<DoSql>) -> Result<Response> {
        if let Some(reason) = &self.broken {
            return text(500, reason);
        }
        let route = match route::parse(&req.path()) {
            Ok(route) => route,
            Err(reason) => return respond(reason.into(), None),
        };
        let service = service(req)?;
        let asked = Asked {
            method: method(req),
            endpoint: &route.endpoint,
            service: service.as_deref(),
        };
        let grant = Grant::parse(req.headers().get(GRANT_HEADER)?.as_deref());
        let now = (worker::js_sys::Date::now() / 1000.0) as i64;
        let credential = credential(req)?;
        // Read once: who may read, and how what is read may be cached.
        let visibility = match store.settings() {
            Ok(settings) => settings.visibility,
            Err(e) => return respond(e.into(), None),
        };
        let verdict =
            backend::authorize(store, asked, grant, credential.as_deref(), visibility, now);
        match verdict {
            Ok(None) => {}
            Ok(Some(refusal)) => return respond(refusal, None),
            Err(e) => return respond(e.into(), None),
        }
        let range = req.headers().get("Range")?;
        let content_type = req.headers().get("Content-Type")?;
        let git_protocol = req.headers().get("Git-Protocol")?;
        let headers = backend::Headers {
            range: range.as_deref(),
            content_type: content_type.as_deref(),
            git_protocol: git_protocol.as_deref(),
        };
        let dispatch = backend::dispatch(store, asked, headers, visibility);
        match dispatch {
            Ok(Dispatch::Reply(reply)) => respond(reply, Some(store)),
            Ok(Dispatch::ReceivePack) => {
                let origin = hooks::Origin {
                    repo: route.repo.clone(),
                    pusher: pusher(grant, credential.as_deref()),
                    now,
                };
                self.receive_pack(req, store, origin).await
            }
            Ok(Dispatch::UploadPack) => self.upload_pack(req, store).await,
            Ok(Dispatch::Api(route::Api::Repo)) if asked.method == backend::Method::Delete => {
                self.delete(store, &route.repo).await
            }
            Ok(Dispatch::Api(route::Api::Import)) if asked.method == backend::Method::Post => {
                self.import(req, store, &route.repo, grant).await
            }
            Ok(Dispatch::Api(endpoint)) => {
                let private = visibility == access::Visibility::Private;
                let asked = (asked.method, &endpoint);
                self.api(req, store, &route.repo, asked, now, private).await
            }
            Ok(Dispatch::Page(page)) => {
                let private = visibility == access::Visibility::Private;
                self.page(req, store, &route.repo, &page, private)
            }
            Ok(Dispatch::Lfs(endpoint)) => {
                let caller = Caller {
                    grant,
                    credential: credential.as_deref(),
                    visibility,
                };
                self.lfs(req, store, &route.repo, &endpoint, caller, now)
                    .await
            }
            Err(e) => respond(e.into(), None),
        }
    }

    async fn api(
        &self,
        req: &Request,
        store: &Store<DoSql>,
        repo: &str,
        (method, endpoint): (backend::Method, &route::Api),
        now: i64,
        private: bool,
    ) -> Result<Response> {
        let Some(body) = whole_body(req, api::MAX_BODY).await? else {
            return respond(Reply::json_error(413, "request body too large"), None);
        };
        let url = req.url()?;
        let base_url = url.origin().ascii_serialization();
        let mut context = api::Context {
            now,
            random: [0; access::token::RANDOM_BYTES],
            host: HOST,
            grace: self.limits.timing().grace,
            repo,
            mirror_interval: i64::try_from(self.limits.mirror_min_interval).unwrap_or(i64::MAX),
            base_url: &base_url,
        };
        get_random_values(&mut context.random);
        let range = req.headers().get("Range")?;
        let if_none_match = req.headers().get("If-None-Match")?;
        let request = api::Request {
            method,
            api: endpoint,
            body: &body,
            query: api::read::Query {
                query: url.query().unwrap_or_default(),
                private,
            },
            conditions: api::raw::Conditions {
                range: range.as_deref(),
                if_none_match: if_none_match.as_deref(),
            },
        };
        let mut reply = match api::serve(store, &request, &context) {
            Ok(reply) => reply,
            Err(e) => return respond(Reply::json_error(500, &e.to_string()), None),
        };
        let changed = matches!(
            (endpoint, method, reply.status),
            (route::Api::Repo, backend::Method::Put, 201)
                | (route::Api::Settings, backend::Method::Patch, 200)
        );
        if changed {
            self.tell_directory(store, repo).await;
        }
        // Maintenance, a mirror's fetch and a new hook's ping happen in the alarm; a sync
        // may have been put off (see api::import::sync).
        let alarm = *endpoint == route::Api::Maintenance && reply.status == 202
            || *endpoint == route::Api::Hooks && reply.status == 201;
        if alarm {
            self.schedule(Due::Now).await?;
        } else if *endpoint == route::Api::MirrorSync && reply.status == 202 {
            let due = self.next_alarm(store).unwrap_or(Due::Now);
            self.schedule(due).await?;
        }
        if method == backend::Method::Head {
            reply.body = Body::Bytes(Vec::new());
        }
        respond(reply, Some(store))
    }

    /// `DELETE api`: the repository goes whole. Its LFS objects go first, so that a failure
    /// leaves a repository that a second DELETE finishes; then every row and the alarm. The
    /// object then answers as for a name never pushed to, and a push makes it anew.
    async fn delete(&self, store: &Store<DoSql>, repo: &str) -> Result<Response> {
        match store.exists() {
            Ok(true) => {}
            Ok(false) => {
                // A deletion cut short before the directory was told: it is told now.
                self.forget_in_directory(repo).await;
                return respond(Reply::json_error(404, "repository not found"), None);
            }
            Err(e) => return respond(Reply::json_error(500, &e.to_string()), None),
        }
        if let Err(e) = r2::delete_repository(&self.env, repo).await {
            let why = format!("the repository's Git LFS objects could not be deleted: {e}");
            return respond(Reply::json_error(503, &why), None);
        }
        let storage = self.state.storage();
        self.generation.set(self.generation.get() + 1);
        storage.delete_alarm().await?;
        storage.delete_all().await?;
        self.store.forget_everything();
        if let Err(e) = self.store.open() {
            let why = format!("repository storage failed to open: {e}");
            return respond(Reply::json_error(500, &why), None);
        }
        self.forget_in_directory(repo).await;
        respond(Reply::empty(204), None)
    }

    fn page(
        &self,
        req: &Request,
        store: &Store<DoSql>,
        repo: &str,
        page: &route::Page,
        private: bool,
    ) -> Result<Response> {
        let url = req.url()?;
        let if_none_match = req.headers().get("If-None-Match")?;
        let request = pages::Request {
            page,
            repo,
            origin: &url.origin().ascii_serialization(),
            query: api::read::Query {
                query: url.query().unwrap_or_default(),
                private,
            },
            if_none_match: if_none_match.as_deref(),
        };
        let mut reply = match pages::serve(store, &request) {
            Ok(reply) => reply,
            Err(e) => return respond(e.into(), None),
        };
        if method(req) == backend::Method::Head {
            reply.body = Body::Bytes(Vec::new());
        }
        respond(reply, Some(store))
    }

    async fn lfs(
        &self,
        req: &Request,
        store: &Store<DoSql>,
        repo: &str,
        endpoint: &route::Lfs,
        caller: Caller<'_>,
        now: i64,
    ) -> Result<Response> {
        let Some(body) = whole_body(req, lfs::MAX_BODY).await? else {
            return respond(LfsError::new(413, "request body too large").into(), None);
        };
        if *endpoint == route::Lfs::Verify {
            if method(req) != backend::Method::Post {
                return respond(LfsError::new(405, "method not allowed").into(), None);
            }
            return self
                .verify(store, repo, &body, caller.credential, now)
                .await;
        }
        let write_denied = match endpoint {
            route::Lfs::Batch => match self.write_denied(store, caller, now) {
                Ok(denied) => denied,
                Err(e) => return respond(e.into(), None),
            },
            _ => None,
        };
        let key = r2::grant_key(&self.env);
        let bucket = r2::presigning(&self.env);
        let max_size = match bucket {
            Some(_) => lfs::presign::MAX_PUT_BYTES,
            None => self.limits.lfs_object_bytes,
        };
        let url = req.url()?;
        let base = format!("{}/{repo}.git/info/lfs", url.origin().ascii_serialization());
        let request = lfs::Request {
            method: method(req),
            lfs: endpoint,
            body: &body,
            query: url.query().unwrap_or_default(),
            caller: lfs::locks::Caller {
                owner: lfs::owner(caller.grant, caller.credential),
                admin: caller.grant == Grant::Admin,
            },
            write_denied,
            signer: key.as_deref().map(|key| lfs::batch::Signer {
                key,
                repo,
                base: &base,
                now,
                max_size,
                bucket: bucket.as_ref(),
                lifetime: self.limits.lfs_grant_seconds.min(lfs::presign::MAX_EXPIRES) as i64,
            }),
            now,
        };
        match lfs::serve(store, &request) {
            Ok(reply) => respond(reply, None),
            Err(e) => respond(LfsError::new(500, e.to_string()).into(), None),
        }
    }

    /// Why `caller` may not upload, if it may not: what the Worker refuses a push before the
    /// repository wakes (a server with no admin token), then the repository's verdict.
    fn write_denied(
        &self,
        store: &Store<DoSql>,
        caller: Caller,
        now: i64,
    ) -> std::result::Result<Option<Denied>, StoreError> {
        let Caller {
            grant,
            credential,
            visibility,
        } = caller;
        let server = server_access(&self.env);
        if let Some(denied) = server.refuse(Need::Write, grant, credential.is_some()) {
            return Ok(Some(denied));
        }
        let verdict = backend::may(store, Need::Write, grant, credential, visibility, now)?;
        Ok(verdict.err())
    }

    /// An upload's verify action, under the upload's grant: records the object once the
    /// bucket holds it at its size.
    async fn verify(
        &self,
        store: &Store<DoSql>,
        repo: &str,
        body: &[u8],
        presented: Option<&str>,
        now: i64,
    ) -> Result<Response> {
        let verify = match lfs::parse_verify(body) {
            Ok(verify) => verify,
            Err(e) => return respond(e.into(), None),
        };
        let Some(key) = r2::grant_key(&self.env) else {
            return respond(LfsError::new(501, lfs::NO_KEY).into(), None);
        };
        if let Err(e) = lfs::check_verify_grant(&key, repo, &verify, presented, now) {
            return respond(e.into(), None);
        }
        let held = match r2::held_size(&self.env, repo, &verify.oid).await {
            Ok(held) => held,
            Err(e) => {
                let why = format!("the bucket could not be read: {e}");
                return respond(LfsError::new(503, why).into(), None);
            }
        };
        if let Err(e) = lfs::check_verify(&verify, held) {
            return respond(e.into(), None);
        }
        match store.record_lfs(&verify.oid, verify.size, now) {
            Ok(()) => respond(lfs::reply(200, &serde_json::json!({})), None),
            Err(e) => respond(LfsError::new(500, e.to_string()).into(), None),
        }
    }

    async fn upload_pack(&self, req: &Request, store: &Store<DoSql>) -> Result<Response> {
        let Some(body) = whole_body(req, backend::MAX_UPLOAD_REQUEST).await? else {
            return text(413, "upload-pack request too large");
        };
        let gzipped = req
            .headers()
            .get("Content-Encoding")?
            .is_some_and(|e| e.eq_ignore_ascii_case("gzip"));
        let git_protocol = req.headers().get("Git-Protocol")?;
        // What the answer reads is chosen now: until its last byte is sent, nothing a
        // repack retires from now on is deleted.
        let lease = store.begin_read(now_ms() / 1000);
        let answer =
            backend::upload_pack(store, body, gzipped, git_protocol.as_deref(), &self.limits);
        let answer = match answer {
            Ok(answer) => answer,
            Err(reply) => return respond(reply, None),
        };
        let stream: Box<dyn Iterator<Item = std::result::Result<Vec<u8>, StoreError>>> =
            match answer {
                upload_pack::Answer::Negotiation(body) => Box::new(std::iter::once(Ok(body))),
                upload_pack::Answer::Pack(prefix, pack) => {
                    Box::new(std::iter::once(Ok(prefix)).chain(pack))
                }
            };
        with_headers(
            streamed(lease, stream)?,
            backend::UPLOAD_PACK_RESULT,
            Caching::NoCache,
            &[],
        )
    }

    async fn receive_pack(
        &self,
        req: &Request,
        store: &Store<DoSql>,
        origin: hooks::Origin,
    ) -> Result<Response> {
        let declared = req.headers().get("Content-Length")?;
        let limit = self.limits.push_bytes;
        if let Some(size) = declared.and_then(|n| n.parse::<u64>().ok()) {
            if size > limit {
                let over = OverLimit {
                    what: format!("push body of {size} bytes"),
                    limit,
                    var: "MAX_PUSH_BYTES",
                };
                return respond(BadRequest::OverLimit(over).into(), None);
            }
        }
        let repo = origin.repo.clone();
        let mut push = ReceivePack::new(store, &self.limits).announcing(origin);
        let mut bad = None;
        let mut body = RequestBody::of(req)?;
        loop {
            match body.next().await {
                Ok(None) => break,
                Ok(Some(bytes)) if bad.is_none() => {
                    if let Err(e) = push.feed(&bytes) {
                        bad = Some(e);
                    }
                }
                Ok(Some(_)) => {}
                Err(e) => {
                    // The reply is the refusal either way; a failed cleanup leaves a
                    // pending push, which the next start of the object removes.
                    let _ = push.abort();
                    return text(400, &format!("request body failed: {e}"));
                }
            }
        }
        let result = match bad {
            Some(e) => {
                // As above: a pending push left behind is removed at the next start.
                let _ = push.abort();
                Err(e)
            }
            None => push.finish(),
        };
        if result.is_ok() {
            let scheduled = self.after_push(store, &repo).await;
            self.tell_directory_later(store, &repo);
            scheduled?;
        }
        respond(backend::receive_pack_reply(result), None)
    }
}

impl Repo {
    /// `POST api/import`: from a URL, recorded and answered 202 at once, then fetched in the
    /// alarm; from a repository of this server (a fork), fetched now and answered 201.
    async fn import(
        &self,
        req: &Request,
        store: &Store<DoSql>,
        repo: &str,
        grant: Grant,
    ) -> Result<Response> {
        let Some(body) = whole_body(req, api::MAX_BODY).await? else {
            return respond(Reply::json_error(413, "request body too large"), None);
        };
        let asked = match api::import::parse(&body, self.limits.mirror_min_interval) {
            Ok(asked) => asked,
            Err(reply) => return respond(reply, None),
        };
        if self.importing.get() {
            return respond(Reply::json_error(409, api::import::RUNNING), None);
        }
        // The name is kept for the events of imports the alarm runs, with no request.
        let refused = api::import::refusal(store).and_then(|refused| {
            store
                .set_meta(api::import::NAME, Some(repo))
                .map(|()| refused)
        });
        match refused {
            Ok(None) => {}
            Ok(Some(reply)) => return respond(reply, None),
            Err(e) => return respond(Reply::json_error(500, &e.to_string()), None),
        }
        let Source::Repository(from) = &asked.source else {
            if grant == Grant::OpenPush {
                // Anyone may push here, but not make the server download from anywhere.
                let why = "importing from a URL needs the admin token";
                return respond(Reply::json_error(403, why), None);
            }
            // The alarm first: should setting it fail, no import is left waiting for it.
            self.schedule(Due::Now).await?;
            let account = match api::import::begin(store, &asked) {
                Ok(account) => account,
                Err(e) => return respond(Reply::json_error(500, &e.to_string()), None),
            };
            let started = serde_json::json!({ "import": account });
            return respond(Reply::json(202, &started), None);
        };
        let source = outbound::Remote::Sibling {
            env: &self.env,
            repo: from,
            grant,
            authorization: req.headers().get("Authorization")?,
        };
        let (account, status) = self.fetch_into(store, repo, &asked, &source).await?;
        let status = status.unwrap_or(201);
        respond(Reply::json(status, &account), None)
    }

    /// Runs an import into the repository, one at a time, and records how it went: its
    /// account, and the status to answer when it failed. A fork that failed leaves nothing,
    /// not even its account (its caller has the answer), nor does an import whose
    /// repository was deleted while it ran.
    async fn fetch_into(
        &self,
        store: &Store<DoSql>,
        repo: &str,
        asked: &api::import::Asked,
        source: &outbound::Remote<'_>,
    ) -> Result<(api::import::Account, Option<u16>)> {
        let mut account = api::import::Account::running(asked);
        if self.importing.replace(true) {
            account.state = api::import::State::Failed;
            account.error = Some(api::import::RUNNING.into());
            return Ok((account, Some(409)));
        }
        let generation = self.generation.get();
        let alive = || self.generation.get() == generation;
        let fetched = self.fetch_and_finish(store, asked, source, &alive).await;
        self.importing.set(false);
        let failed = match fetched {
            Ok(fetched) => {
                account.state = api::import::State::Done;
                account.updated = fetched.plan.updates.len() as u64;
                account.objects = fetched.objects;
                account.bytes = fetched.bytes;
                None
            }
            Err(failure) => {
                account.state = api::import::State::Failed;
                account.error = Some(failure.message);
                Some(failure.status)
            }
        };
        let fork = matches!(source, outbound::Remote::Sibling { .. });
        // A mirror's fetch on its clock that changed nothing is told to no one.
        let before = api::import::account(store).ok().flatten();
        let quiet = asked.refetch
            && account.updated == 0
            && before.is_some_and(|before| before.state == account.state);
        if alive() && (failed.is_none() || !fork) {
            let recorded = store.transaction(|| {
                let now = now_ms() / 1000;
                api::import::record(store, &account, now)?;
                match quiet {
                    true => Ok(()),
                    false => api::import::announce(store, &account, now),
                }
            });
            if let Err(e) = recorded {
                worker::console_error!("the import's account was not kept: {e}");
            }
        }
        if failed.is_none() && !quiet {
            let scheduled = self.after_push(store, repo).await;
            self.tell_directory(store, repo).await;
            scheduled?;
        }
        Ok((account, failed))
    }

    /// The fetch of [`Self::fetch_into`], then HEAD, and a fork's visibility (its source's).
    async fn fetch_and_finish(
        &self,
        store: &Store<DoSql>,
        asked: &api::import::Asked,
        source: &outbound::Remote<'_>,
        alive: &dyn Fn() -> bool,
    ) -> std::result::Result<outbound::Fetched, outbound::Failure> {
        // Read first, as the caller reads the source: this also tells, before anything is
        // fetched, whether the caller may read it at all.
        let visibility = match source {
            outbound::Remote::Sibling { .. } => Some(source_visibility(source).await?),
            outbound::Remote::Url { .. } => None,
        };
        let fetched = outbound::import(store, &self.limits, source, asked, alive).await?;
        if !alive() {
            return Err(outbound::Failure::new(409, outbound::DELETED));
        }
        finish_import(store, &fetched, visibility)?;
        Ok(fetched)
    }

    /// Runs the fetch from a URL that is due: an import `POST api/import` recorded, or a
    /// mirror's.
    async fn pending_import(&self) -> Result<()> {
        if self.importing.get() {
            return Ok(());
        }
        let pending = match api::import::pending(&self.store, now_ms() / 1000) {
            Ok(pending) => pending,
            Err(e) => {
                worker::console_error!("the import could not be read: {e}");
                None
            }
        };
        let Some(asked) = pending else {
            return Ok(());
        };
        let Source::Url { url, token } = &asked.source else {
            return Ok(());
        };
        let source = outbound::Remote::url(url, token.as_deref());
        let repo = self.store.meta(api::import::NAME).ok().flatten();
        let repo = repo.unwrap_or_default();
        self.fetch_into(&self.store, &repo, &asked, &source).await?;
        Ok(())
    }

    /// Tells the directory what the repository `repo` now is. A failure is only logged: the
    /// repository is listed again at its next change.
    async fn tell_directory(&self, store: &Store<DoSql>, repo: &str) {
        self.after_last_tell(self.telling_directory(store, repo))
            .await
    }

    /// [`Self::tell_directory`] without waiting for the directory's answer: the directory
    /// is another object, maybe in another place, and a push's answer need not wait for it
    /// (the object is kept running until the call ends: see `wrangler.toml`).
    fn tell_directory_later(&self, store: &Store<DoSql>, repo: &str) {
        let telling = self.after_last_tell(self.telling_directory(store, repo));
        worker::wasm_bindgen_futures::spawn_local(telling);
    }

    /// Tells the directory that `repo` is no more. A failure is only logged.
    async fn forget_in_directory(&self, repo: &str) {
        let forgetting = forget_in_directory(self.env.clone(), repo.to_string());
        self.after_last_tell(forgetting).await
    }

    /// `tell` once the directory's last tell is done, kept as the last: whether or not its
    /// caller waits for it, the directory hears of the repository's changes in their order.
    fn after_last_tell(&self, tell: impl Future<Output = ()> + 'static) -> Telling {
        let before = self.told.take();
        let telling = async move {
            if let Some(before) = before {
                before.await;
            }
            tell.await
        };
        let telling = telling.boxed_local().shared();
        self.told.replace(Some(telling.clone()));
        telling
    }

    /// What tells the directory what `repo` is now, read from `store` before it runs: a
    /// repository that does not exist (a refused import, or settings of one never pushed
    /// to) is forgotten.
    fn telling_directory(
        &self,
        store: &Store<DoSql>,
        repo: &str,
    ) -> impl Future<Output = ()> + 'static {
        let env = self.env.clone();
        let repo = repo.to_string();
        let entry = match store.exists() {
            Ok(false) => None,
            _ => Some(directory_entry(store, &repo)),
        };
        async move {
            let Some(entry) = entry else {
                return forget_in_directory(env, repo).await;
            };
            let told = match entry {
                Ok(entry) => {
                    let body = serde_json::to_vec(&entry).unwrap_or_default();
                    directory(&env, "entry", Method::Put, Some(&body)).await
                }
                Err(e) => Err(worker::Error::RustError(e.to_string())),
            };
            if let Err(e) = told {
                worker::console_error!("the directory was not told of {repo}: {e}");
            }
        }
    }

    /// `due` or sooner: when an import or a mirror's fetch is due (unless one runs, which
    /// sets the alarm when it ends), or a webhook's event.
    fn with_other_jobs(&self, due: Due) -> Due {
        let mirror = match self.importing.get() {
            true => None,
            false => api::import::next_fetch(&self.store).unwrap_or_default(),
        };
        let event = self.store.next_delivery_at().unwrap_or_default();
        let at = |time: Option<i64>| time.map_or(Due::Never, Due::At);
        due.sooner(at(mirror)).sooner(at(event))
    }

    /// Sends the webhook events that are due, each with a 10-second deadline, and records
    /// what each receiver answered.
    async fn deliver_events(&self) {
        let now = now_ms() / 1000;
        let due = match hooks::deliver::due(&self.store, now) {
            Ok(due) => due,
            Err(e) => {
                worker::console_error!("webhook deliveries could not be read: {e}");
                return;
            }
        };
        let retry = i64::try_from(self.limits.webhook_retry).unwrap_or(i64::MAX);
        // Side by side: a receiver that does not answer holds the alarm its 10 s, not 10 s
        // for each of its events before the others'. No more at once than a Worker keeps
        // connections open, so that a delivery's 10 s start when it is sent, not queued.
        let sent: Vec<_> = futures_util::stream::iter(due.iter().map(outbound::deliver))
            .buffered(SENT_TOGETHER)
            .collect()
            .await;
        for (sending, (status, answer)) in due.iter().zip(sent) {
            let row = &sending.row;
            let recorded = hooks::deliver::attempted(
                &self.store,
                row,
                now_ms() / 1000,
                status,
                &answer,
                retry,
            );
            if let Err(e) = recorded {
                worker::console_error!("a webhook delivery was not recorded: {e}");
            }
        }
    }

    /// When the alarm must ring next: for maintenance, an import or a mirror's fetch, or a
    /// webhook's event.
    fn next_alarm(&self, store: &Store<DoSql>) -> std::result::Result<Due, StoreError> {
        let now = now_ms() / 1000;
        let timing = self.limits.timing();
        let due = maintenance::due(store, now, &timing)?;
        let due = maintenance::next_alarm(store, now, due, &timing)?;
        Ok(self.with_other_jobs(due))
    }

    /// Records the push's time and the repository's name, and sets the alarm for the
    /// maintenance it makes due (the caller tells the directory).
    async fn after_push(&self, store: &Store<DoSql>, repo: &str) -> Result<()> {
        let now = now_ms() / 1000;
        let due = store
            .set_meta(maintenance::LAST_PUSH, Some(&now.to_string()))
            .and_then(|()| remember_name(store, repo))
            .and_then(|()| self.next_alarm(store));
        match due {
            Ok(due) => self.schedule(due).await,
            // The push is stored; maintenance comes with the next push or alarm.
            Err(e) => {
                worker::console_error!("after the push: {e}");
                Ok(())
            }
        }
    }
}

/// Keeps the repository's name for what the alarm tells, with no request to name it.
fn remember_name(store: &Store<DoSql>, repo: &str) -> Result<(), StoreError> {
    if store.meta(api::import::NAME)?.as_deref() == Some(repo) {
        return Ok(());
    }
    store.set_meta(api::import::NAME, Some(repo))
}

/// A repository's visibility, read from its settings as `source`'s caller may read them.
async fn source_visibility(
    source: &outbound::Remote<'_>,
) -> std::result::Result<access::Visibility, outbound::Failure> {
    let settings = source.read("api/settings", None).await?;
    let visibility = serde_json::from_slice::<serde_json::Value>(&settings)
        .ok()
        .and_then(|v| serde_json::from_value(v.get("visibility")?.clone()).ok());
    visibility.ok_or_else(|| outbound::Failure::new(502, "the source's settings do not read"))
}

/// After an import: HEAD names the source's branch when it was fetched, or, in a
/// repository left without refs, the branch the source's HEAD names (which also makes an
/// empty import a repository); a fork takes its source's `visibility`.
fn finish_import(
    store: &Store<DoSql>,
    fetched: &outbound::Fetched,
    visibility: Option<access::Visibility>,
) -> std::result::Result<(), outbound::Failure> {
    let failed = |e: StoreError| outbound::Failure::new(500, e);
    let head = match &fetched.plan.head {
        Some(head) => Some(head.as_str()),
        None if store.count_refs("").map_err(failed)? == 0 => {
            fetched.head.as_deref().or(Some(crate::store::DEFAULT_HEAD))
        }
        None => None,
    };
    let head = head.filter(|head| api::import::is_branch(head));
    let stored = store.head_target().map_err(failed)?;
    if let Some(head) = head.filter(|head| stored.as_deref() != Some(*head)) {
        store.set_head_target(head).map_err(failed)?;
    }
    if let Some(visibility) = visibility {
        let mut settings = store.settings().map_err(failed)?;
        settings.visibility = visibility;
        store.set_settings(&settings).map_err(failed)?;
    }
    Ok(())
}

/// Removes `repo` from the directory; a failure is only logged.
async fn forget_in_directory(env: Env, repo: String) {
    let path = format!("entry?name={repo}");
    if let Err(e) = directory(&env, &path, Method::Delete, None).await {
        worker::console_error!("the directory still lists {repo}: {e}");
    }
}

/// How long the directory's answer is waited for: past it, the tell counts as failed (the
/// repository is listed again at its next change), so that a directory that does not
/// answer holds up no other tell for longer.
const DIRECTORY_WAIT: Duration = Duration::from_secs(10);

/// Sends `path` to the directory's object (`entry` or `entry?name=`).
async fn directory(env: &Env, path: &str, method: Method, body: Option<&[u8]>) -> Result<()> {
    let mut init = worker::RequestInit::new();
    init.with_method(method);
    if let Some(body) = body {
        init.with_body(Some(worker::js_sys::Uint8Array::from(body).into()));
    }
    let request = Request::new_with_init(&format!("https://directory/{path}"), &init)?;
    let objects = env.durable_object("DIRECTORY")?;
    let stub = objects.id_from_name(directory::NAME)?.get_stub()?;
    let answer = pin!(stub.fetch_with_request(request));
    let answer = match select(answer, worker::Delay::from(DIRECTORY_WAIT)).await {
        Either::Left((answer, _)) => answer?,
        Either::Right(_) => {
            let waited = DIRECTORY_WAIT.as_secs();
            let why = format!("the directory did not answer in {waited} s");
            return Err(worker::Error::RustError(why));
        }
    };
    match answer.status_code() {
        204 => Ok(()),
        status => Err(worker::Error::RustError(format!(
            "the directory answered {status}"
        ))),
    }
}

/// What the directory lists of the repository `repo`.
fn directory_entry(
    store: &Store<DoSql>,
    repo: &str,
) -> std::result::Result<crate::directory::Entry, StoreError> {
    let last_push = store
        .meta(maintenance::LAST_PUSH)?
        .and_then(|t| t.parse().ok());
    Ok(crate::directory::Entry {
        name: repo.to_string(),
        bytes: store.footprint()?.bytes,
        last_push,
        visibility: store.settings()?.visibility,
    })
}

/// Who a push comes from, as its webhook events name them: the admin, a token by its id,
/// or anyone.
fn pusher(grant: Grant, credential: Option<&str>) -> String {
    match (grant, credential.and_then(access::token::id_of)) {
        (Grant::Admin, _) => "admin".into(),
        (_, Some(id)) => format!("token {id}"),
        _ => "anonymous".into(),
    }
}

/// Who calls, as the Worker and the repository established it.
#[derive(Clone, Copy)]
struct Caller<'a> {
    grant: Grant,
    credential: Option<&'a str>,
    visibility: access::Visibility,
}

/// Turns a [`Reply`] into a Response; stored pack bytes are streamed one chunk row at a
/// time, and blobs as they are read, under a reader's lease.
fn respond(reply: Reply, store: Option<&Store<DoSql>>) -> Result<Response> {
    let response = match (reply.body, store) {
        (Body::Bytes(bytes), _) => Response::from_bytes(bytes)?,
        (_, None) => return text(500, "no storage for a streamed body"),
        (
            Body::Blob {
                id,
                size,
                start,
                end,
            },
            Some(store),
        ) => {
            let lease = store.begin_read(now_ms() / 1000);
            match crate::browse::blob::pieces(store, &id, size, start..end) {
                Ok(pieces) => streamed(lease, pieces)?,
                Err(e) => return respond(Reply::json_error(500, &e.to_string()), None),
            }
        }
        (
            Body::Chunks {
                pack,
                file,
                start,
                end,
            },
            Some(store),
        ) => {
            let lease = store.begin_read(now_ms() / 1000);
            streamed(lease, store.file_range(pack, file, start..end))?
        }
    }
    .with_status(reply.status);
    with_headers(response, reply.content_type, reply.caching, &reply.headers)
}

/// A body streamed from `pieces`, holding `lease` until its last byte is sent.
fn streamed(
    lease: ReadLease,
    pieces: impl Iterator<Item = std::result::Result<Vec<u8>, StoreError>> + 'static,
) -> Result<Response> {
    let pieces = pieces.map(move |piece| {
        let _held = &lease;
        piece.map_err(|e| worker::Error::RustError(e.to_string()))
    });
    Response::from_stream(futures_util::stream::iter(pieces))
}

/// Sets the headers every response carries: type, cache policy (as git's http-backend
/// sends them), `extra`, the server, wasm memory for the bench, and CORS.
fn with_headers(
    response: Response,
    content_type: &str,
    caching: Caching,
    extra: &[(&'static str, String)],
) -> Result<Response> {
    let headers = response.headers();
    headers.set("Content-Type", content_type)?;
    match caching {
        Caching::Default => {}
        Caching::NoCache => {
            headers.set("Expires", "Fri, 01 Jan 1980 00:00:00 GMT")?;
            headers.set("Pragma", "no-cache")?;
            headers.set("Cache-Control", "no-cache, max-age=0, must-revalidate")?;
        }
        Caching::Forever => headers.set("Cache-Control", "public, max-age=31536000, immutable")?,
        Caching::PrivateForever => {
            headers.set("Cache-Control", "private, max-age=31536000, immutable")?
        }
    }
    for (name, value) in extra {
        headers.set(name, value)?;
    }
    headers.set("Server", AGENT)?;
    headers.set(
        "x-wasm-memory",
        &wasm_memory().unwrap_or_default().to_string(),
    )?;
    cors(headers)?;
    Ok(response)
}
