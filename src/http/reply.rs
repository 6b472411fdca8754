//! Responses as the services describe them, free of any HTTP library's types.

use crate::access::{Denied, REALM};
use crate::format::object::ObjectId;
use crate::format::pack::PackId;
use crate::http::route::NotFound;
use crate::protocol::BadRequest;
use crate::store::{PackFile, StoreError};

/// How a response may be cached (the headers git's http-backend sends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caching {
    /// No caching headers.
    Default,
    /// Refs, HEAD, the pack list: always revalidate.
    NoCache,
    /// Content-addressed files: cache for a year.
    Forever,
    /// Content-addressed files of a private repository: the client may cache them for a
    /// year, shared caches not at all.
    PrivateForever,
}

/// A response body.
#[derive(Debug, PartialEq, Eq)]
pub enum Body {
    /// Bytes in hand.
    Bytes(Vec<u8>),
    /// A byte range of a stored pack file, streamed from its chunk rows.
    Chunks {
        /// The pack's row id.
        pack: PackId,
        /// Which of its files.
        file: PackFile,
        /// The first byte sent.
        start: u64,
        /// The byte just past the last one sent.
        end: u64,
    },
    /// A byte range of a blob, streamed as it is read (see [`crate::browse::blob`]).
    Blob {
        /// The blob.
        id: ObjectId,
        /// Its size.
        size: u64,
        /// The first byte sent.
        start: u64,
        /// The byte just past the last one sent.
        end: u64,
    },
}

/// A response.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Content-Type.
    pub content_type: &'static str,
    /// Cache policy.
    pub caching: Caching,
    /// Extra headers (e.g. Content-Range).
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body,
}

impl Reply {
    /// A 200 response with `body`.
    pub fn ok(content_type: &'static str, caching: Caching, body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            content_type,
            caching,
            headers: Vec::new(),
            body: Body::Bytes(body),
        }
    }

    /// The 404 for a repository that was never pushed to.
    pub fn repository_not_found() -> Reply {
        Reply::text(404, "repository not found")
    }

    /// A JSON answer.
    pub fn json(status: u16, value: &impl serde::Serialize) -> Reply {
        // Our types serialize to JSON infallibly; an empty body would show if one did not.
        let mut body = serde_json::to_vec(value).unwrap_or_default();
        body.push(b'\n');
        Reply {
            status,
            ..Reply::ok("application/json", Caching::NoCache, body)
        }
    }

    /// A JSON error: `{"error": message}`.
    pub fn json_error(status: u16, message: &str) -> Reply {
        Reply::json(status, &serde_json::json!({ "error": message }))
    }

    /// A one-line refusal: `{"error": message}` for the JSON API (`json`), else text.
    pub fn error(status: u16, message: &str, json: bool) -> Reply {
        match json {
            true => Reply::json_error(status, message),
            false => Reply::text(status, message),
        }
    }

    /// An answer with no body (204 and the like).
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            ..Reply::ok("text/plain; charset=utf-8", Caching::NoCache, Vec::new())
        }
    }

    /// The refusal of a request, as JSON for the API (`json`) or as text; a 401 asks for
    /// Basic credentials, so that git asks its credential helper or the user.
    pub fn denied(denied: &Denied, json: bool) -> Reply {
        let status = denied.status();
        let mut reply = Reply::error(status, &denied.to_string(), json);
        if status == 401 {
            let challenge = format!("Basic realm=\"{REALM}\"");
            reply.headers.push(("WWW-Authenticate", challenge));
        }
        reply
    }

    /// The refusal of an LFS request: the LFS API's `{"message": ...}`, and on 401 the
    /// `LFS-Authenticate` challenge that makes git-lfs ask git's credential helper.
    pub fn lfs_denied(denied: &Denied) -> Reply {
        let status = denied.status();
        let mut reply: Reply = crate::lfs::LfsError::new(status, denied.to_string()).into();
        if status == 401 {
            let challenge = format!("Basic realm=\"{REALM}\"");
            reply.headers.push(("LFS-Authenticate", challenge.clone()));
            reply.headers.push(("WWW-Authenticate", challenge));
        }
        reply
    }

    /// A one-line plain-text answer (errors, descriptions).
    pub fn text(status: u16, message: &str) -> Reply {
        let mut body = message.trim_end().as_bytes().to_vec();
        body.push(b'\n');
        Reply {
            status,
            ..Reply::ok("text/plain; charset=utf-8", Caching::NoCache, body)
        }
    }
}

/// A malformed request is the client's fault: 400, with the reason.
impl From<BadRequest> for Reply {
    fn from(e: BadRequest) -> Reply {
        let status = match e {
            BadRequest::OverLimit(_) | BadRequest::CommandsTooLong(_) => 413,
            _ => 400,
        };
        Reply::text(status, &e.to_string())
    }
}

/// A path that is not one of ours: 404, with why.
impl From<NotFound> for Reply {
    fn from(e: NotFound) -> Reply {
        Reply::text(404, &e.to_string())
    }
}

/// A storage failure is the server's: 500, with what failed.
impl From<StoreError> for Reply {
    fn from(e: StoreError) -> Reply {
        Reply::text(500, &e.to_string())
    }
}
