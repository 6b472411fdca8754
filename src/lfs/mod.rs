//! Git LFS: the Batch API, the transfer grants and the Locks API under
//! `<repo>.git/info/lfs`, as git-lfs's own API documents describe them. The bytes live in a
//! bucket (R2) that the Worker streams to and from; the repository's object keeps only the
//! bookkeeping (which objects it holds, and its locks). Pure: the host does the I/O.
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

pub mod batch;
pub mod grant;
pub mod locks;
pub mod presign;

use serde::{Deserialize, Serialize};

use crate::access::{Denied, Grant};
use crate::http::backend::Method;
use crate::http::reply::{Body, Caching, Reply};
use crate::http::route::Lfs;
use crate::store::sql::Sql;
use crate::store::{Store, StoreError};

/// The media type of every LFS request and answer.
pub const CONTENT_TYPE: &str = "application/vnd.git-lfs+json";

/// The largest LFS object accepted through the Worker unless `MAX_LFS_OBJECT_BYTES` says
/// otherwise: the body limit of Cloudflare's Free and Pro plans.
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 100 << 20;

/// The largest request body an LFS endpoint of the repository's object reads.
pub const MAX_BODY: usize = 256 << 10;

/// Why a server without a key for grants refuses LFS transfers.
pub const NO_KEY: &str = "this server has no key to sign LFS transfers: set the LFS_SECRET secret \
     to at least 32 random characters (`openssl rand -hex 32 | npx wrangler secret put LFS_SECRET`)";

/// Whether `oid` is an LFS object id: a SHA-256 as 64 lowercase hex digits.
pub fn valid_oid(oid: &str) -> bool {
    oid.len() == 64 && oid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The bucket key of object `oid` of repository `repo`: the repository's name comes first,
/// so that what one repository's grant names is never another's object.
pub fn object_key(repo: &str, oid: &str) -> String {
    format!("{repo}/{oid}")
}

/// A refusal, answered as `{"message": ...}` with its status, as the LFS API's errors are.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LfsError {
    /// The HTTP status.
    pub status: u16,
    /// What git-lfs shows the user.
    pub message: String,
}

impl LfsError {
    /// A refusal with `status` saying `message`.
    pub fn new(status: u16, message: impl Into<String>) -> LfsError {
        LfsError {
            status,
            message: message.into(),
        }
    }
}

impl From<LfsError> for Reply {
    fn from(e: LfsError) -> Reply {
        reply(e.status, &serde_json::json!({ "message": e.message }))
    }
}

/// An LFS answer: `value` as JSON, in the LFS media type, never cached.
pub fn reply(status: u16, value: &impl Serialize) -> Reply {
    // Our types serialize to JSON infallibly; an empty body would show if one did not.
    let mut body = serde_json::to_vec(value).unwrap_or_default();
    body.push(b'\n');
    Reply {
        status,
        content_type: CONTENT_TYPE,
        caching: Caching::NoCache,
        headers: Vec::new(),
        body: Body::Bytes(body),
    }
}

/// Who owns the locks a caller takes: the admin, the token it presents (already checked to
/// be one of the repository's), or an anonymous pusher.
pub fn owner(grant: Grant, credential: Option<&str>) -> &str {
    match (grant, credential.and_then(crate::access::token::id_of)) {
        (Grant::Admin, _) => "admin",
        (_, Some(id)) => id,
        (_, None) => "anonymous",
    }
}

/// An LFS request to the repository's object, as the host read it.
pub struct Request<'a> {
    /// Its method.
    pub method: Method,
    /// The endpoint.
    pub lfs: &'a Lfs,
    /// Its whole body.
    pub body: &'a [u8],
    /// Its query string.
    pub query: &'a str,
    /// Who calls.
    pub caller: locks::Caller<'a>,
    /// Why the caller may not write, if it may not: a batch that uploads needs write,
    /// which only the body tells.
    pub write_denied: Option<Denied>,
    /// What signs the batch's grants; None when the server has no key.
    pub signer: Option<batch::Signer<'a>>,
    /// Seconds since the epoch.
    pub now: i64,
}

/// Answers an LFS request other than a transfer (the Worker's) or a verify (which asks the
/// bucket first: [`parse_verify`], [`check_verify`], then [`Store::record_lfs`]).
pub fn serve<S: Sql>(store: &Store<S>, request: &Request) -> Result<Reply, StoreError> {
    let Request { body, caller, .. } = *request;
    match (request.lfs, request.method) {
        (Lfs::Batch, Method::Post) => answer_batch(store, request),
        (Lfs::Locks, Method::Get) => locks::list(store, request.query),
        (Lfs::Locks, Method::Post) => locks::create(store, caller, body, request.now),
        (Lfs::LocksVerify, Method::Post) => locks::verify(store, caller, body),
        (Lfs::Unlock(id), Method::Post) => locks::unlock(store, caller, id, body),
        _ => Ok(LfsError::new(405, "method not allowed").into()),
    }
}

fn answer_batch<S: Sql>(store: &Store<S>, request: &Request) -> Result<Reply, StoreError> {
    let asked = match batch::parse(request.body) {
        Ok(asked) => asked,
        Err(e) => return Ok(e.into()),
    };
    if asked.operation == grant::Operation::Upload {
        if let Some(denied) = &request.write_denied {
            return Ok(Reply::lfs_denied(denied));
        }
    }
    let Some(signer) = &request.signer else {
        return Ok(LfsError::new(501, NO_KEY).into());
    };
    let oids: Vec<&str> = asked
        .objects
        .iter()
        .filter_map(|o| o.as_ref().ok().map(|(oid, _)| oid.as_str()))
        .collect();
    let stored = store.lfs_sizes(&oids)?;
    Ok(reply(200, &batch::answer(asked, &stored, signer)))
}

/// The body of a `verify` request: the object the client says it uploaded.
#[derive(Deserialize, Debug, PartialEq, Eq)]
pub struct Verify {
    /// Its oid.
    pub oid: String,
    /// Its size.
    pub size: u64,
}

/// Parses a `verify` request.
pub fn parse_verify(body: &[u8]) -> Result<Verify, LfsError> {
    let verify: Verify = serde_json::from_slice(body)
        .map_err(|e| LfsError::new(422, format!("invalid verify request: {e}")))?;
    if !valid_oid(&verify.oid) {
        return Err(LfsError::new(422, "invalid oid"));
    }
    Ok(verify)
}

/// Whether `presented` (the verify's `Authorization: Bearer`) is the grant the batch answer
/// signed for uploading `verify`'s object at its size: only who could upload it may record it.
pub fn check_verify_grant(
    key: &[u8],
    repo: &str,
    verify: &Verify,
    presented: Option<&str>,
    now: i64,
) -> Result<(), LfsError> {
    let granted = grant::check(key, repo, &verify.oid, presented.unwrap_or_default(), now)
        .map_err(|bad| LfsError::new(403, bad.to_string()))?;
    if granted.operation != grant::Operation::Upload || granted.size != verify.size {
        return Err(LfsError::new(403, "this grant is for another transfer"));
    }
    Ok(())
}

/// The answer of a `verify` whose object the bucket holds at `held` bytes (None: not at
/// all): Ok when it is there at the size the client named.
pub fn check_verify(verify: &Verify, held: Option<u64>) -> Result<(), LfsError> {
    match held {
        None => Err(LfsError::new(
            404,
            format!("object {} was not uploaded", verify.oid),
        )),
        Some(size) if size != verify.size => Err(LfsError::new(
            422,
            format!("object {} is {size} bytes, not {}", verify.oid, verify.size),
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";

    #[test]
    fn oids_are_lowercase_sha256_hex_and_keys_start_with_the_repository() {
        assert!(valid_oid(A));
        assert!(!valid_oid(&A.to_uppercase()));
        assert!(!valid_oid(A.get(1..).unwrap()));
        assert!(!valid_oid(&format!("{}/", A.get(1..).unwrap())));
        assert_eq!(object_key("o/r", A), format!("o/r/{A}"));
    }

    #[test]
    fn a_verify_holds_when_the_bucket_has_the_object_at_its_size() {
        let body = format!("{{\"oid\": \"{A}\", \"size\": 5}}");
        let verify = parse_verify(body.as_bytes()).unwrap();
        assert_eq!(check_verify(&verify, Some(5)), Ok(()));
        assert_eq!(check_verify(&verify, Some(6)).unwrap_err().status, 422);
        assert_eq!(check_verify(&verify, None).unwrap_err().status, 404);
        assert_eq!(
            parse_verify(b"{\"oid\": \"x\", \"size\": 5}")
                .unwrap_err()
                .status,
            422
        );
        assert_eq!(parse_verify(b"[]").unwrap_err().status, 422);
    }

    #[test]
    fn only_the_upload_grant_of_the_object_at_its_size_records_it() {
        let verify = Verify {
            oid: A.to_string(),
            size: 5,
        };
        let signed = |operation, size, expires| {
            let oid = A;
            let grant = grant::Grant {
                repo: "o/r",
                oid,
                operation,
                size,
                expires,
            };
            grant.sign(b"k")
        };
        let check = |text: &str, repo| check_verify_grant(b"k", repo, &verify, Some(text), 100);
        let upload = signed(grant::Operation::Upload, 5, 200);
        assert_eq!(check(&upload, "o/r"), Ok(()));
        assert_eq!(check(&upload, "o/other").unwrap_err().status, 403);
        let other_size = signed(grant::Operation::Upload, 6, 200);
        assert_eq!(check(&other_size, "o/r").unwrap_err().status, 403);
        let download = signed(grant::Operation::Download, 5, 200);
        assert_eq!(check(&download, "o/r").unwrap_err().status, 403);
        let expired = signed(grant::Operation::Upload, 5, 99);
        assert_eq!(check(&expired, "o/r").unwrap_err().status, 403);
        let none = check_verify_grant(b"k", "o/r", &verify, None, 100);
        assert_eq!(none.unwrap_err().status, 403);
    }

    #[test]
    fn a_refusal_reads_as_the_lfs_api_s_message() {
        let reply: Reply = LfsError::new(403, "no").into();
        assert_eq!((reply.status, reply.content_type), (403, CONTENT_TYPE));
        assert_eq!(reply.body, Body::Bytes(b"{\"message\":\"no\"}\n".to_vec()));
    }
}
