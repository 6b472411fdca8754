//! Presigned URLs for R2's S3 API (AWS Signature Version 4, in the query string), so that
//! an object past the Worker's body limit goes straight between git-lfs and the bucket.
//! An upload's URL signs its size (`content-length`) and its SHA-256 (the oid, as
//! `x-amz-content-sha256`, the payload hash): the bucket refuses a body of another size or
//! hash, as the Worker does.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::format::date::rfc3339_utc;

/// What the largest object one presigned PUT may carry: R2 takes up to 5 GiB in one
/// upload; this stays under it in decimal units too.
pub const MAX_PUT_BYTES: u64 = 5_000_000_000;

/// The longest a presigned URL may last: SigV4 allows a week.
pub const MAX_EXPIRES: u64 = 7 * 24 * 3600;

/// The header that carries the payload's SHA-256 when it is signed.
pub const CONTENT_SHA256: &str = "x-amz-content-sha256";

/// R2's S3 credentials and where the bucket is (`R2_ACCESS_KEY_ID`,
/// `R2_SECRET_ACCESS_KEY`, `R2_ACCOUNT_ID`, `R2_BUCKET`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The endpoint's host: `<account id>.r2.cloudflarestorage.com`.
    pub host: String,
    /// The bucket's name, the first segment of every path (path-style addressing).
    pub name: String,
    /// The region signed for: `auto` for R2.
    pub region: String,
}

impl Bucket {
    /// The bucket of account `account_id`, named `name`, at R2's S3 endpoint.
    pub fn r2(
        access_key_id: &str,
        secret_access_key: &str,
        account_id: &str,
        name: &str,
    ) -> Bucket {
        Bucket {
            access_key_id: access_key_id.to_string(),
            secret_access_key: secret_access_key.to_string(),
            host: format!("{account_id}.r2.cloudflarestorage.com"),
            name: name.to_string(),
            region: "auto".to_string(),
        }
    }

    /// A URL that lets its holder GET object `key` for `expires` seconds from `now`.
    pub fn download(&self, key: &str, now: i64, expires: i64) -> String {
        let path = format!("/{}/{key}", self.name);
        self.presign(&Request {
            method: "GET",
            path: &path,
            headers: &[],
            payload: "UNSIGNED-PAYLOAD",
            now,
            expires,
        })
    }

    /// A URL that lets its holder PUT object `key`: exactly `size` bytes hashing to `oid`
    /// (hex SHA-256), sent with the header `x-amz-content-sha256: <oid>`.
    pub fn upload(&self, key: &str, oid: &str, size: u64, now: i64, expires: i64) -> String {
        let path = format!("/{}/{key}", self.name);
        let size = size.to_string();
        self.presign(&Request {
            method: "PUT",
            path: &path,
            headers: &[("content-length", &size), (CONTENT_SHA256, oid)],
            payload: oid,
            now,
            expires,
        })
    }

    /// The URL of `request`, signed.
    fn presign(&self, request: &Request) -> String {
        let amz_date = amz_date(request.now);
        let date = amz_date.get(..8).unwrap_or_default();
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let mut headers: Vec<(&str, &str)> = vec![("host", &self.host)];
        headers.extend_from_slice(request.headers);
        headers.sort_unstable();
        let signed_headers: Vec<&str> = headers.iter().map(|(name, _)| *name).collect();
        let signed_headers = signed_headers.join(";");
        let credential = format!("{}/{scope}", self.access_key_id);
        let expires = request.expires.to_string();
        // Already in sorted order, as the canonical query needs.
        let query = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", &credential),
            ("X-Amz-Date", &amz_date),
            ("X-Amz-Expires", &expires),
            ("X-Amz-SignedHeaders", &signed_headers),
        ];
        let query: Vec<String> = query
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value, false)))
            .collect();
        let query = query.join("&");
        let canonical_headers: String = headers
            .iter()
            .map(|(name, value)| format!("{name}:{}\n", value.trim()))
            .collect();
        let path = encode(request.path, true);
        let canonical = format!(
            "{}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{}",
            request.method, request.payload
        );
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac(format!("AWS4{}", self.secret_access_key).as_bytes(), date);
        for part in [self.region.as_str(), "s3", "aws4_request"] {
            key = hmac(&key, part);
        }
        let signature = hex::encode(hmac(&key, &to_sign));
        format!(
            "https://{}{path}?{query}&X-Amz-Signature={signature}",
            self.host
        )
    }
}

/// A request to presign.
struct Request<'a> {
    method: &'a str,
    /// The absolute path, not yet encoded.
    path: &'a str,
    /// The headers signed besides `host`, by lowercase name.
    headers: &'a [(&'a str, &'a str)],
    /// The payload's hash as the canonical request names it.
    payload: &'a str,
    now: i64,
    expires: i64,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // new_from_slice takes a key of any length for HMAC.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// `secs` as SigV4 writes a time: `20130524T000000Z`.
fn amz_date(secs: i64) -> String {
    rfc3339_utc(secs).replace(['-', ':'], "")
}

/// URI-encodes `text` as SigV4 does: unreserved characters as they are, `/` too in a
/// path, every other byte as `%XX`.
fn encode(text: &str, path: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b'/' if path => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example: "Authenticating Requests: Using Query Parameters (AWS
    /// Signature Version 4)", a GET of examplebucket/test.txt for 86,400 seconds.
    fn example() -> Bucket {
        Bucket {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            host: "examplebucket.s3.amazonaws.com".into(),
            name: String::new(),
            region: "us-east-1".into(),
        }
    }

    const MAY_24_2013: i64 = 1_369_353_600;

    #[test]
    fn a_download_is_signed_as_aws_s_published_example() {
        let request = Request {
            method: "GET",
            path: "/test.txt",
            headers: &[],
            payload: "UNSIGNED-PAYLOAD",
            now: MAY_24_2013,
            expires: 86400,
        };
        assert_eq!(
            example().presign(&request),
            "https://examplebucket.s3.amazonaws.com/test.txt\
             ?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn an_upload_signs_its_size_and_hash_and_every_part_changes_the_signature() {
        let bucket = Bucket::r2("id", "secret", "acct", "git-lfs");
        let oid = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";
        let url = bucket.upload(&format!("o/r/{oid}"), oid, 5, MAY_24_2013, 3600);
        assert!(url.starts_with(&format!(
            "https://acct.r2.cloudflarestorage.com/git-lfs/o/r/{oid}?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=id%2F20130524%2Fauto%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z\
             &X-Amz-Expires=3600&X-Amz-SignedHeaders=content-length%3Bhost%3Bx-amz-content-sha256\
             &X-Amz-Signature="
        )));
        let signature = |url: &str| url.rsplit('=').next().unwrap().to_string();
        let other_size = bucket.upload(&format!("o/r/{oid}"), oid, 6, MAY_24_2013, 3600);
        let other_key = bucket.upload(&format!("o/s/{oid}"), oid, 5, MAY_24_2013, 3600);
        let download = bucket.download(&format!("o/r/{oid}"), MAY_24_2013, 3600);
        let all = [&url, &other_size, &other_key, &download].map(|u| signature(u));
        for (i, a) in all.iter().enumerate() {
            assert_eq!(a.len(), 64);
            assert!(all.iter().skip(i + 1).all(|b| b != a));
        }
    }

    #[test]
    fn paths_and_values_are_encoded_as_sigv4_encodes_them() {
        assert_eq!(encode("a b/c~d", true), "a%20b/c~d");
        assert_eq!(encode("a/b;c", false), "a%2Fb%3Bc");
        assert_eq!(encode("é", false), "%C3%A9");
        assert_eq!(amz_date(MAY_24_2013 + 3661), "20130524T010101Z");
    }
}
