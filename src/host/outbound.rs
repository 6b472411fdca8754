//! Outbound requests: to another Git server over smart HTTP, or to another repository's
//! object on this server (a fork reads its source as a clone would, with the caller's own
//! credential), and the import they serve: [`fetch_pack`]'s requests go out, and the pack
//! that comes back streams into a receive-pack, with a push's limits and checks.
#![deny(clippy::indexing_slicing, clippy::string_slice)]

use base64::Engine;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::{AbortSignal, Env, Fetch, Headers, Method, Request, RequestInit, Response};

use super::body::Body;
use super::DoSql;
use crate::access::{Grant, GRANT_HEADER};
use crate::fetch_pack::{self, Advertised, Demux, Listing, Plan, Protocol};
use crate::http::api::import::{self, Asked};
use crate::limits::Limits;
use crate::receive_pack::ReceivePack;
use crate::store::Store;
use crate::AGENT;

/// Bytes a fetch's answer may carry beyond the pack (progress and framing).
const ANSWER_SLACK: u64 = 16 << 20;

/// How long all the requests of one import from another server may take, answers read
/// whole: well within the 15 minutes an alarm may run, so that a source that stalls makes
/// the import fail rather than the alarm.
const DEADLINE_MS: f64 = 10.0 * 60.0 * 1000.0;

#[wasm_bindgen]
extern "C" {
    /// `AbortSignal.timeout(ms)`: a signal that aborts by itself after `ms`.
    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout)]
    fn abort_after(ms: f64) -> worker::web_sys::AbortSignal;
}

/// Where an import reads from.
pub enum Remote<'a> {
    /// Another Git server, at the URL `git clone` would take.
    Url {
        /// The repository's URL.
        url: &'a str,
        /// Sent as the password of HTTP Basic authentication.
        token: Option<&'a str>,
        /// Aborts every request (and the reading of its answer) at the deadline.
        deadline: AbortSignal,
    },
    /// A repository of this server, asked as the caller: the grant the Worker gave it and
    /// the `Authorization` it sent.
    Sibling {
        /// The Worker's bindings, for the repository's object.
        env: &'a Env,
        /// The repository's name.
        repo: &'a str,
        /// The caller's grant.
        grant: Grant,
        /// The caller's `Authorization` header.
        authorization: Option<String>,
    },
}

/// Why an import stopped when its repository was deleted while it ran.
pub const DELETED: &str = "the repository was deleted while the import ran";

/// Why an import failed: the status to answer and git's words.
#[derive(Debug)]
pub struct Failure {
    /// 4xx for what the source or the request refused, 502 when the source failed.
    pub status: u16,
    /// What went wrong.
    pub message: String,
}

impl Failure {
    /// A failure answered with `status`.
    pub fn new(status: u16, message: impl std::fmt::Display) -> Failure {
        Failure {
            status,
            message: message.to_string(),
        }
    }
}

/// What an import fetched.
pub struct Fetched {
    /// The refs it created and the branch HEAD should name.
    pub plan: Plan,
    /// HEAD's branch at the source, even if it has no commits.
    pub head: Option<String>,
    /// Objects in the pack.
    pub objects: u64,
    /// Bytes of the pack.
    pub bytes: u64,
}

impl<'a> Remote<'a> {
    /// Another Git server, whose requests all end within [`DEADLINE_MS`] from now.
    pub fn url(url: &'a str, token: Option<&'a str>) -> Remote<'a> {
        Remote::Url {
            url,
            token,
            deadline: abort_after(DEADLINE_MS).into(),
        }
    }

    /// How errors name the source: the URL with a trailing `/`, as git names it.
    pub fn shown(&self) -> String {
        match self {
            Remote::Url { url, .. } => format!("{}/", url.trim_end_matches('/')),
            Remote::Sibling { repo, .. } => (*repo).to_string(),
        }
    }

    /// Sends a request for `path` under the repository (a GET, or a POST of a body of a
    /// type): its answer if it is a 200, else the failure as git words it.
    pub async fn send(&self, path: &str, post: Option<(&[u8], &str)>) -> Result<Response, Failure> {
        let response = self.request(path, post).await?;
        self.checked(response)
    }

    /// Sends a request for `path` under the repository, whatever the answer.
    pub async fn request(
        &self,
        path: &str,
        post: Option<(&[u8], &str)>,
    ) -> Result<Response, Failure> {
        let headers = Headers::new();
        let network = |e: worker::Error| {
            Failure::new(502, format!("unable to access '{}': {e}", self.shown()))
        };
        headers.set("User-Agent", AGENT).map_err(network)?;
        headers.set("Git-Protocol", "version=2").map_err(network)?;
        let mut init = RequestInit::new();
        if let Some((body, content_type)) = post {
            headers.set("Content-Type", content_type).map_err(network)?;
            let body = worker::js_sys::Uint8Array::from(body);
            init.with_method(Method::Post).with_body(Some(body.into()));
        }
        let url = match self {
            Remote::Url { url, token, .. } => {
                if let Some(token) = token {
                    let basic = base64::engine::general_purpose::STANDARD
                        .encode(format!("x-access-token:{token}"));
                    let value = format!("Basic {basic}");
                    headers.set("Authorization", &value).map_err(network)?;
                }
                format!("{}/{path}", url.trim_end_matches('/'))
            }
            Remote::Sibling {
                repo,
                grant,
                authorization,
                ..
            } => {
                // The object trusts this header; only the Worker and the objects set it.
                headers.set(GRANT_HEADER, grant.as_str()).map_err(network)?;
                if let Some(value) = authorization {
                    headers.set("Authorization", value).map_err(network)?;
                }
                format!("https://fork.invalid/{repo}.git/{path}")
            }
        };
        init.with_headers(headers);
        let request = Request::new_with_init(&url, &init).map_err(network)?;
        let response = match self {
            Remote::Url { deadline, .. } => {
                Fetch::Request(request).send_with_signal(deadline).await
            }
            Remote::Sibling { env, repo, .. } => {
                let objects = env.durable_object("REPO").map_err(network)?;
                let id = objects.id_from_name(repo).map_err(network)?;
                let stub = id.get_stub().map_err(network)?;
                stub.fetch_with_request(request).await
            }
        };
        response.map_err(network)
    }

    /// The answer if it is a 200, else the failure as git words it.
    fn checked(&self, response: Response) -> Result<Response, Failure> {
        let shown = self.shown();
        match response.status_code() {
            200 => Ok(response),
            status @ (401 | 403) => Err(Failure::new(
                status,
                format!("Authentication failed for '{shown}'"),
            )),
            404 => Err(Failure::new(404, format!("repository '{shown}' not found"))),
            status => Err(Failure::new(
                502,
                format!("unable to access '{shown}': The requested URL returned error: {status}"),
            )),
        }
    }

    /// The whole answer to a request, within `limit` bytes.
    pub async fn read(&self, path: &str, post: Option<&[u8]>) -> Result<Vec<u8>, Failure> {
        let post = post.map(|body| (body, fetch_pack::UPLOAD_PACK_REQUEST));
        let response = self.send(path, post).await?;
        let mut body = Body::of_response(&response).map_err(|e| self.cut(e))?;
        let read = body.read_to_end(fetch_pack::MAX_LISTING).await;
        let limit = fetch_pack::MAX_LISTING;
        read.map_err(|e| self.cut(e))?
            .ok_or_else(|| Failure::new(502, format!("{path}: answer over {limit} bytes")))
    }

    fn cut(&self, e: worker::Error) -> Failure {
        Failure::new(502, format!("reading from '{}' failed: {e}", self.shown()))
    }

    /// The source's refs (at most `max_refs`), and the protocol it speaks.
    async fn list(&self, max_refs: usize) -> Result<(Protocol, Listing), Failure> {
        let advertised = self.read("info/refs?service=git-upload-pack", None).await?;
        let advertised = fetch_pack::parse_advertisement(&advertised, max_refs);
        match advertised.map_err(remote)? {
            Advertised::V0(listing) => Ok((Protocol::V0, listing)),
            Advertised::V2 { unborn } => {
                let request = fetch_pack::ls_refs_request(unborn);
                let answer = self.read("git-upload-pack", Some(&request)).await?;
                let listing = fetch_pack::parse_ls_refs(&answer, max_refs).map_err(remote)?;
                Ok((Protocol::V2, listing))
            }
        }
    }
}

fn remote(e: fetch_pack::FetchError) -> Failure {
    Failure::new(502, e)
}

/// Makes the refs of the repository in `store` `choice` of the refs of `source`, as
/// `git fetch --prune` of a mirror does, in one atomic push: every ref is created, moved
/// or deleted, or nothing changes. The objects of our refs are named as haves, so a fetch
/// into a repository that has most of them brings only what is new. Nothing is applied
/// unless `alive` still says yes once everything has come (the repository may have been
/// deleted meanwhile).
pub async fn import(
    store: &Store<DoSql>,
    limits: &Limits,
    source: &Remote<'_>,
    asked: &Asked,
    alive: &dyn Fn() -> bool,
) -> Result<Fetched, Failure> {
    let (protocol, listing) = source.list(limits.push_refs).await?;
    let head = listing.head.clone();
    let failed = |e| Failure::new(500, e);
    let ours = store.refs().map_err(failed)?;
    let ours: Vec<_> = ours.into_iter().map(|r| (r.name, r.id)).collect();
    let plan = Plan::new(listing, asked.choice, &ours, limits.haves);
    if let Some(why) = import::refused(asked, &ours) {
        return Err(Failure::new(409, why));
    }
    let mut fetched = Fetched {
        plan,
        head,
        objects: 0,
        bytes: 0,
    };
    if fetched.plan.updates.is_empty() {
        return Ok(fetched);
    }
    let mut push = ReceivePack::new(store, limits);
    push.feed(&fetched.plan.commands())
        .map_err(|e| Failure::new(422, e))?;
    let mut demux = Demux::new(protocol);
    if !fetched.plan.wants.is_empty() {
        let request = fetched.plan.fetch_request(protocol);
        let post = Some((request.as_slice(), fetch_pack::UPLOAD_PACK_REQUEST));
        let streamed = match source.send("git-upload-pack", post).await {
            Ok(answer) => stream(source, answer, &mut push, &mut demux, limits).await,
            Err(e) => Err(e),
        };
        if let Err(e) = streamed {
            // A pending push left behind is removed at the object's next start.
            let _ = push.abort();
            return Err(e);
        }
    }
    if !alive() {
        // Its rows went with the repository's.
        let _ = push.abort();
        return Err(Failure::new(409, DELETED));
    }
    let next_head = import::next_head(store, asked, &fetched.plan, &ours).map_err(failed)?;
    import::apply(store, push, next_head)
        .map_err(failed)?
        .map_err(|e| Failure::new(422, e))?;
    fetched.objects = demux.objects().unwrap_or_default().into();
    fetched.bytes = demux.bytes();
    Ok(fetched)
}

/// Streams the pack in `answer` into `push`.
async fn stream(
    source: &Remote<'_>,
    answer: Response,
    push: &mut ReceivePack<'_, DoSql>,
    demux: &mut Demux,
    limits: &Limits,
) -> Result<(), Failure> {
    let mut body = Body::of_response(&answer).map_err(|e| source.cut(e))?;
    let limit = limits.push_bytes.saturating_add(ANSWER_SLACK);
    let mut taken = 0u64;
    while !demux.done() {
        let Some(piece) = body.next().await.map_err(|e| source.cut(e))? else {
            break;
        };
        taken += piece.len() as u64;
        if taken > limit {
            let why = format!("the answer exceeds {limit} bytes (MAX_PUSH_BYTES)");
            return Err(Failure::new(413, why));
        }
        let pack = demux.feed(&piece).map_err(remote)?;
        push.feed(&pack).map_err(|e| Failure::new(422, e))?;
    }
    demux.finish().map_err(remote)
}

/// Sends one webhook event: the receiver's status and the start of its answer, or None and
/// why it could not be reached. Each has 10 seconds.
pub async fn deliver(sending: &crate::hooks::deliver::Sending) -> (Option<u16>, String) {
    match post_event(sending).await {
        Ok(answered) => answered,
        Err(e) => (None, e.to_string()),
    }
}

async fn post_event(
    sending: &crate::hooks::deliver::Sending,
) -> worker::Result<(Option<u16>, String)> {
    let headers = Headers::new();
    for (name, value) in &sending.headers {
        headers.set(name, value)?;
    }
    let body = worker::js_sys::Uint8Array::from(sending.payload.as_bytes());
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let request = Request::new_with_init(&sending.url, &init)?;
    let deadline: AbortSignal = abort_after(10_000.0).into();
    let response = Fetch::Request(request).send_with_signal(&deadline).await?;
    let status = response.status_code();
    let mut body = Body::of_response(&response)?;
    let answer = body.next().await?.unwrap_or_default();
    let answer = String::from_utf8_lossy(answer.get(..1024).unwrap_or(&answer)).into_owned();
    Ok((Some(status), answer))
}
