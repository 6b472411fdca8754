//! The LFS bucket (R2, binding `LFS`): an object's bytes stream from the request into the
//! bucket and from the bucket into the response in the Worker, under the grant a batch
//! answer signed, without waking the repository's object.

use worker::{Env, Method, Request, Response, Result};

use crate::http::range;
use crate::http::reply::{Body, Caching, Reply};
use crate::lfs::presign::Bucket;
use crate::lfs::{self, grant, LfsError};

/// The bucket's binding in `wrangler.toml`.
const BINDING: &str = "LFS";

/// The bucket's name in `wrangler.toml`, which presigned URLs name unless `R2_BUCKET` says
/// otherwise.
const DEFAULT_BUCKET: &str = "git-lfs";

/// The key grants are signed with, from the Worker's secrets (or vars, locally).
pub fn grant_key(env: &Env) -> Option<Vec<u8>> {
    grant::key(super::setting(env, "LFS_SECRET").as_deref())
}

/// R2's S3 credentials, when all of `R2_ACCESS_KEY_ID`, `R2_SECRET_ACCESS_KEY` and
/// `R2_ACCOUNT_ID` are set: then transfers go on presigned URLs, to the bucket named
/// `R2_BUCKET` (default `git-lfs`, the name `wrangler.toml` binds).
pub fn presigning(env: &Env) -> Option<Bucket> {
    let read = |name| super::setting(env, name).filter(|v| !v.is_empty());
    let bucket = read("R2_BUCKET").unwrap_or_else(|| DEFAULT_BUCKET.to_string());
    Some(Bucket::r2(
        &read("R2_ACCESS_KEY_ID")?,
        &read("R2_SECRET_ACCESS_KEY")?,
        &read("R2_ACCOUNT_ID")?,
        &bucket,
    ))
}

/// Deletes every object the bucket holds for `repo`, verified or not, a page of keys at a
/// time; returns how many. Only keys directly under the repository's prefix go: a
/// repository `o` must not take `o/r`'s objects with it.
pub async fn delete_repository(env: &Env, repo: &str) -> Result<u64> {
    let bucket = env.bucket(BINDING)?;
    let prefix = lfs::object_key(repo, "");
    let mut deleted = 0;
    let mut cursor = None;
    loop {
        let mut list = bucket.list().prefix(prefix.clone()).delimiter("/");
        if let Some(cursor) = cursor.take() {
            list = list.cursor(cursor);
        }
        let page = list.execute().await?;
        for object in page.objects() {
            let key = object.key();
            if key.strip_prefix(&prefix).is_some_and(lfs::valid_oid) {
                bucket.delete(key).await?;
                deleted += 1;
            }
        }
        match (page.truncated(), page.cursor()) {
            (true, Some(next)) => cursor = Some(next),
            _ => return Ok(deleted),
        }
    }
}

/// The size at which the bucket holds `oid` of `repo`, if it holds it.
pub async fn held_size(env: &Env, repo: &str, oid: &str) -> Result<Option<u64>> {
    let bucket = env.bucket(BINDING)?;
    Ok(bucket
        .head(lfs::object_key(repo, oid))
        .await?
        .map(|o| o.size()))
}

fn refuse(e: LfsError) -> Result<Response> {
    super::respond(e.into(), None)
}

/// Serves `PUT` (upload) or `GET` (download) of `oid` of `repo` under the grant the
/// request's `Authorization: Bearer` header carries.
pub async fn transfer(
    req: &Request,
    env: &Env,
    repo: &str,
    oid: &str,
    max_size: u64,
) -> Result<Response> {
    let Some(key) = grant_key(env) else {
        return refuse(LfsError::new(501, lfs::NO_KEY));
    };
    let presented = super::credential(req)?.unwrap_or_default();
    let now = worker::js_sys::Date::now() as i64 / 1000;
    let granted = match grant::check(&key, repo, oid, &presented, now) {
        Ok(granted) => granted,
        Err(bad) => return refuse(LfsError::new(403, bad.to_string())),
    };
    match (req.method(), granted.operation) {
        (Method::Put, grant::Operation::Upload) => upload(req, env, &granted, max_size).await,
        (Method::Get | Method::Head, grant::Operation::Download) => {
            download(req, env, &granted).await
        }
        _ => refuse(LfsError::new(405, "this grant is for another method")),
    }
}

/// Streams the body into the bucket, which checks it against the oid as it goes: an upload
/// whose bytes hash otherwise is refused and leaves nothing stored.
async fn upload(
    req: &Request,
    env: &Env,
    granted: &grant::Grant<'_>,
    max_size: u64,
) -> Result<Response> {
    let length = req.headers().get("Content-Length")?;
    let length = length.and_then(|l| l.trim().parse::<u64>().ok());
    if granted.size > max_size {
        let why = format!("Size must be less than or equal to {max_size} (MAX_LFS_OBJECT_BYTES)");
        return refuse(LfsError::new(413, why));
    }
    if length != Some(granted.size) {
        let why = format!(
            "the upload must send its {} bytes with a Content-Length",
            granted.size
        );
        return refuse(LfsError::new(400, why));
    }
    let digest = hex::decode(granted.oid).unwrap_or_default();
    let key = lfs::object_key(granted.repo, granted.oid);
    let bucket = env.bucket(BINDING)?;
    let put = match req.inner().body() {
        Some(stream) => bucket.put(key, stream),
        None => bucket.put(key, Vec::new()),
    };
    match put.sha256(digest).execute().await {
        Ok(_) => super::respond(lfs::reply(200, &serde_json::json!({})), None),
        Err(e) if e.to_string().contains("checksum") => refuse(LfsError::new(
            422,
            format!(
                "the uploaded bytes do not hash to {}: nothing was stored",
                granted.oid
            ),
        )),
        Err(e) => refuse(LfsError::new(
            500,
            format!("storing the object failed: {e}"),
        )),
    }
}

/// Streams the object (or the range asked) out of the bucket.
async fn download(req: &Request, env: &Env, granted: &grant::Grant<'_>) -> Result<Response> {
    let asked = req.headers().get("Range")?;
    let mut span = (0, granted.size);
    let content_type = "application/octet-stream";
    let reply = range::ranged(
        granted.size,
        asked.as_deref(),
        content_type,
        Caching::PrivateForever,
        |start, end| {
            span = (start, end);
            Body::Bytes(Vec::new())
        },
    );
    if reply.status == 416 {
        return super::respond(reply, None);
    }
    let key = lfs::object_key(granted.repo, granted.oid);
    let bucket = env.bucket(BINDING)?;
    let mut get = bucket.get(key);
    if reply.status == 206 {
        get = get.range(worker::Range::OffsetWithLength {
            offset: span.0,
            length: span.1 - span.0,
        });
    }
    let Some(object) = get.execute().await? else {
        return refuse(LfsError::new(404, "Object does not exist"));
    };
    if object.size() != granted.size {
        return refuse(LfsError::new(404, "Object does not exist at this size"));
    }
    let body = match (req.method(), object.body()) {
        (Method::Get, Some(body)) => body.response_body()?,
        _ => worker::ResponseBody::Empty,
    };
    let Reply {
        status,
        mut headers,
        ..
    } = reply;
    headers.push(("ETag", format!("\"{}\"", granted.oid)));
    let response = Response::from_body(body)?.with_status(status);
    super::with_headers(response, content_type, Caching::PrivateForever, &headers)
}
