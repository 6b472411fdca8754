//! One request's dispatch, as git's `http-backend.c` does it: which service answers, with
//! what content type, and the refusals that come before a service runs. The host does the
//! I/O: it reads the body, streams the answer, and sets the headers of the [`Reply`].

use crate::access::{self, token, Denied, Grant, Need, ServerAccess, Visibility};
use crate::format::zlib;
use crate::http::api;
use crate::http::dumb;
use crate::http::reply::{Caching, Reply};
use crate::http::route::{Api, Endpoint, Lfs, Page};
use crate::limits::Limits;
use crate::protocol::{v2, BadRequest};
use crate::store::sql::Sql;
use crate::store::{Store, StoreError};
use crate::upload_pack::Failure;
use crate::{receive_pack, upload_pack};

/// The largest upload-pack request accepted (wants and haves are 50 bytes each).
pub const MAX_UPLOAD_REQUEST: usize = 32 << 20;

/// The content type of an upload-pack answer.
pub const UPLOAD_PACK_RESULT: &str = "application/x-git-upload-pack-result";

/// The HTTP methods the backend tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// Anything else.
    Other,
}

/// A request as access control sees it.
#[derive(Clone, Copy, Debug)]
pub struct Asked<'a> {
    /// Its method.
    pub method: Method,
    /// What it asks of the repository.
    pub endpoint: &'a Endpoint,
    /// The `?service=` of its query.
    pub service: Option<&'a str>,
}

impl Asked<'_> {
    /// What the request needs: pushing, creating, importing, maintenance and purging need
    /// write, managing tokens and webhooks, changing settings and deleting the repository
    /// need the admin, everything else reads (a fork reads its source, and is then an import into
    /// its new repository).
    pub fn need(&self) -> Need {
        match (self.endpoint, self.method) {
            (Endpoint::InfoRefs, _) if self.service == Some("git-receive-pack") => Need::Write,
            (Endpoint::ReceivePack, _) | (Endpoint::Api(Api::Repo), Method::Put) => Need::Write,
            (Endpoint::Api(Api::Maintenance | Api::Purge | Api::Import), _) => Need::Write,
            (Endpoint::Api(Api::MirrorSync), _) => Need::Write,
            (Endpoint::Api(Api::Mirror), Method::Delete) => Need::Admin,
            (Endpoint::Api(Api::Tokens | Api::Token(_)), _) => Need::Admin,
            (Endpoint::Api(Api::Hooks | Api::Hook(_) | Api::Deliveries(_)), _) => Need::Admin,
            (Endpoint::Api(Api::Repo), Method::Delete) => Need::Admin,
            (Endpoint::Api(Api::Settings), Method::Patch) => Need::Admin,
            (Endpoint::Lfs(Lfs::Verify), _) => Need::Signed,
            (Endpoint::Lfs(Lfs::LocksVerify | Lfs::Unlock(_)), _) => Need::Write,
            (Endpoint::Lfs(Lfs::Locks), Method::Post) => Need::Write,
            // A batch that uploads needs write too, which only its body tells: the
            // repository's object checks that once it has read the body.
            _ => Need::Read,
        }
    }

    /// The refusal of `denied`: as JSON under `api`, as the LFS API's errors under
    /// `info/lfs`, and as text elsewhere.
    fn refusal(&self, denied: &Denied) -> Reply {
        match self.endpoint {
            Endpoint::Lfs(_) => Reply::lfs_denied(denied),
            endpoint => Reply::denied(denied, matches!(endpoint, Endpoint::Api(_))),
        }
    }
}

/// The Worker's half of access control, before the repository's object wakes: what the
/// request's `credential` is granted, or the refusal that no repository could overturn.
pub fn admit(
    server: &ServerAccess,
    asked: Asked,
    credential: Option<&str>,
) -> Result<Grant, Reply> {
    let grant = server.grant(credential);
    match server.refuse(asked.need(), grant, credential.is_some()) {
        Some(denied) => Err(asked.refusal(&denied)),
        None => Ok(grant),
    }
}

/// The repository's half: whether the caller the Worker granted `grant`, presenting
/// `credential`, may do what it asks of a repository of `visibility` at `now` (seconds
/// since the epoch).
pub fn authorize<S: Sql>(
    store: &Store<S>,
    asked: Asked,
    grant: Grant,
    credential: Option<&str>,
    visibility: Visibility,
    now: i64,
) -> Result<Option<Reply>, StoreError> {
    let verdict = may(store, asked.need(), grant, credential, visibility, now)?;
    Ok(verdict.err().map(|denied| asked.refusal(&denied)))
}

/// Whether the caller the Worker granted `grant`, presenting `credential`, has `need` on
/// a repository of `visibility` at `now`.
pub fn may<S: Sql>(
    store: &Store<S>,
    need: Need,
    grant: Grant,
    credential: Option<&str>,
    visibility: Visibility,
    now: i64,
) -> Result<Result<(), Denied>, StoreError> {
    if grant == Grant::Admin {
        return Ok(Ok(()));
    }
    let mut scope = None;
    if let Some(id) = credential.and_then(token::id_of) {
        if let Some(record) = store.token(id)? {
            scope = credential.and_then(|presented| record.admits(presented, now));
        }
    }
    Ok(access::authorize(
        need,
        grant,
        credential.is_some(),
        scope,
        visibility,
    ))
}

/// What the host does with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// Answers with this reply.
    Reply(Reply),
    /// Streams the body into a [`receive_pack::ReceivePack`], then [`receive_pack_reply`].
    ReceivePack,
    /// Reads the whole body (at most [`MAX_UPLOAD_REQUEST`] bytes), then [`upload_pack`].
    UploadPack,
    /// Reads the whole body (at most [`crate::http::api::MAX_BODY`] bytes), then
    /// [`crate::http::api::serve`].
    Api(Api),
    /// Reads the whole body (at most [`crate::lfs::MAX_BODY`] bytes), then answers the LFS
    /// endpoint.
    Lfs(Lfs),
    /// Answers with [`crate::http::pages::serve`] (GET and HEAD only).
    Page(Page),
}

/// Dispatches a request the caller may make to a repository of `visibility`.
pub fn dispatch<S: Sql>(
    store: &Store<S>,
    asked: Asked,
    headers: Headers,
    visibility: Visibility,
) -> Result<Dispatch, StoreError> {
    let Asked {
        method,
        endpoint,
        service,
    } = asked;
    if let Some(refusal) = wrong_media_type(method, endpoint, headers.content_type) {
        return Ok(Dispatch::Reply(refusal));
    }
    if asked.need() == Need::Write && matches!(endpoint, Endpoint::InfoRefs | Endpoint::ReceivePack)
    {
        if let Some(source) = api::import::mirrored_from(store)? {
            return Ok(Dispatch::Reply(Reply::text(403, &mirror_refusal(&source))));
        }
    }
    let range = headers.range;
    let reply = match (method, endpoint) {
        (_, Endpoint::Api(api)) => return Ok(Dispatch::Api(api.clone())),
        (_, Endpoint::Lfs(lfs)) => return Ok(Dispatch::Lfs(lfs.clone())),
        (Method::Get | Method::Head, Endpoint::Page(page)) => {
            return Ok(Dispatch::Page(page.clone()))
        }
        (Method::Get, Endpoint::InfoRefs) if service == Some("git-receive-pack") => Reply::ok(
            "application/x-git-receive-pack-advertisement",
            Caching::NoCache,
            receive_pack::advertise(store)?,
        ),
        (Method::Get, Endpoint::InfoRefs) if service == Some("git-upload-pack") => {
            if !store.exists()? {
                return Ok(Dispatch::Reply(Reply::repository_not_found()));
            }
            let advertisement = match v2::asks_v2(headers.git_protocol) {
                true => upload_pack::advertise_v2(),
                false => upload_pack::advertise(store)?,
            };
            Reply::ok(
                "application/x-git-upload-pack-advertisement",
                Caching::NoCache,
                advertisement,
            )
        }
        (Method::Post, Endpoint::ReceivePack) => return Ok(Dispatch::ReceivePack),
        (Method::Post, Endpoint::UploadPack) => return Ok(Dispatch::UploadPack),
        (Method::Get | Method::Head, endpoint) => {
            private_caching(dumb::get(store, endpoint, range)?, visibility)
        }
        _ => Reply::text(405, "method not allowed"),
    };
    Ok(Dispatch::Reply(reply))
}

/// Why a mirror takes no push (git shows it as `remote: ...`).
fn mirror_refusal(source: &str) -> String {
    format!(
        "this repository is a mirror of {source}: it takes its refs from there (POST api/mirror/sync \
         fetches now, DELETE api/mirror stops mirroring), not from pushes"
    )
}

/// The request headers dispatch reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct Headers<'a> {
    /// Range.
    pub range: Option<&'a str>,
    /// Content-Type.
    pub content_type: Option<&'a str>,
    /// Git-Protocol: `version=2` asks upload-pack for protocol v2.
    pub git_protocol: Option<&'a str>,
}

/// The 415 of a body that is not of the type its endpoint takes, as git's http-backend
/// refuses one. Besides matching git, it keeps a web page from making a visitor's browser
/// push with credentials it has cached: a POST of a type other than a form's or plain
/// text's needs a CORS preflight, which credentials cannot pass (`Allow-Origin` is `*`).
fn wrong_media_type(
    method: Method,
    endpoint: &Endpoint,
    content_type: Option<&str>,
) -> Option<Reply> {
    let expected = match (method, endpoint) {
        (Method::Post, Endpoint::ReceivePack) => "application/x-git-receive-pack-request",
        (Method::Post, Endpoint::UploadPack) => "application/x-git-upload-pack-request",
        (Method::Post | Method::Patch, Endpoint::Api(_)) => "application/json",
        (Method::Post, Endpoint::Lfs(_)) => crate::lfs::CONTENT_TYPE,
        _ => return None,
    };
    let given = content_type.unwrap_or_default();
    let media_type = given.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case(expected) {
        return None;
    }
    let why = format!("unsupported media type {given:?}: expected {expected}");
    Some(match endpoint {
        Endpoint::Lfs(_) => crate::lfs::LfsError::new(415, why).into(),
        _ => Reply::error(415, &why, matches!(endpoint, Endpoint::Api(_))),
    })
}

/// A content-addressed file of a private repository may be cached for a year, but only by
/// the client: a shared cache would hand it to anyone who knows its URL.
fn private_caching(mut reply: Reply, visibility: Visibility) -> Reply {
    if reply.caching == Caching::Forever && visibility == Visibility::Private {
        reply.caching = Caching::PrivateForever;
    }
    reply
}

/// The answer to a `POST git-upload-pack` whose whole body is `body` (gzipped when
/// `gzipped`) in protocol v2 when `git_protocol` asks for it, or the reply that refuses it.
pub fn upload_pack<S: Sql>(
    store: &Store<S>,
    body: Vec<u8>,
    gzipped: bool,
    git_protocol: Option<&str>,
    limits: &Limits,
) -> Result<upload_pack::Answer<S>, Reply> {
    let body = if gzipped {
        zlib::gunzip(&body, MAX_UPLOAD_REQUEST).map_err(|_| BadRequest::Gzip)?
    } else {
        body
    };
    if v2::asks_v2(git_protocol) {
        return upload_pack_v2(store, &body, limits);
    }
    let request = match upload_pack::parse_request(&body, limits) {
        Ok(request) => request,
        Err(bad) => return bad_request(bad),
    };
    if !store.exists()? {
        return Err(Reply::repository_not_found());
    }
    Ok(upload_pack::serve(store, request)?)
}

/// The answer to a v2 request: refusals get an `ERR` line, as in v0.
fn upload_pack_v2<S: Sql>(
    store: &Store<S>,
    body: &[u8],
    limits: &Limits,
) -> Result<upload_pack::Answer<S>, Reply> {
    if !store.exists()? {
        return Err(Reply::repository_not_found());
    }
    match upload_pack::serve_v2(store, body, limits) {
        Ok(answer) => Ok(answer),
        Err(Failure::Refused(message)) => Ok(refusal(&message)),
        Err(Failure::Bad(bad)) => bad_request(bad),
        Err(Failure::Store(e)) => Err(e.into()),
    }
}

/// An `ERR` line as the whole answer: git shows it as `remote error: <message>`.
fn refusal<S: Sql>(message: &str) -> upload_pack::Answer<S> {
    upload_pack::Answer::Negotiation(upload_pack::err_line(message))
}

/// A malformed upload-pack request is a 400; one over a limit gets an `ERR` line naming it.
fn bad_request<S: Sql>(bad: BadRequest) -> Result<upload_pack::Answer<S>, Reply> {
    match bad {
        BadRequest::OverLimit(over) => Ok(refusal(&format!("upload-pack: {over}"))),
        bad => Err(bad.into()),
    }
}

/// The reply to a push, from what receive-pack made of its body.
pub fn receive_pack_reply(result: Result<Vec<u8>, BadRequest>) -> Reply {
    match result {
        Ok(body) => Reply::ok(
            "application/x-git-receive-pack-result",
            Caching::NoCache,
            body,
        ),
        Err(e) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::route::Page;

    #[test]
    fn each_request_needs_what_its_kind_of_change_needs() {
        let need = |method, endpoint: Endpoint| {
            Asked {
                method,
                endpoint: &endpoint,
                service: None,
            }
            .need()
        };
        let repo = || Endpoint::Api(Api::Repo);
        assert_eq!(need(Method::Get, repo()), Need::Read);
        assert_eq!(need(Method::Put, repo()), Need::Write);
        assert_eq!(need(Method::Delete, repo()), Need::Admin);
        assert_eq!(need(Method::Get, Endpoint::Api(Api::Tokens)), Need::Admin);
        assert_eq!(need(Method::Get, Endpoint::Api(Api::Settings)), Need::Read);
        assert_eq!(
            need(Method::Patch, Endpoint::Api(Api::Settings)),
            Need::Admin
        );
        assert_eq!(need(Method::Post, Endpoint::ReceivePack), Need::Write);
        assert_eq!(need(Method::Get, Endpoint::Page(Page::Summary)), Need::Read);
    }
}
