//! The Batch API (`POST info/lfs/objects/batch`): for each object a client names, the
//! actions that move its bytes, as git-lfs's `docs/api/batch.md` and `basic-transfers.md`
//! specify. Pure: the caller looks up what the repository holds and signs with its key.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::grant::{Grant, Operation};
use super::presign::{Bucket, CONTENT_SHA256};
use super::{object_key, valid_oid, LfsError};

/// The most objects one batch may name (git-lfs sends 100 at a time).
pub const MAX_OBJECTS: usize = 1000;

/// A batch request as sent.
#[derive(Deserialize)]
struct Request {
    operation: String,
    #[serde(default)]
    transfers: Option<Vec<String>>,
    objects: Vec<Named>,
    #[serde(default)]
    hash_algo: Option<String>,
}

/// One object a request names; checked one by one, so a bad one is its own error.
#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    oid: serde_json::Value,
    #[serde(default)]
    size: serde_json::Value,
}

/// What the batch asks, once parsed: the operation and the objects, each valid or not.
#[derive(Debug, PartialEq, Eq)]
pub struct Asked {
    /// Upload or download.
    pub operation: Operation,
    /// Each object's oid and size as named, or its oid as text when it is invalid.
    pub objects: Vec<Result<(String, u64), String>>,
}

/// Parses a batch request, or says why the whole request is refused (422, or 409 for a
/// hash other than SHA-256, as the API specifies).
pub fn parse(body: &[u8]) -> Result<Asked, LfsError> {
    let request: Request = serde_json::from_slice(body)
        .map_err(|e| LfsError::new(422, format!("invalid batch request: {e}")))?;
    let operation = Operation::parse(&request.operation)
        .ok_or_else(|| LfsError::new(422, format!("unknown operation {:?}", request.operation)))?;
    if request.hash_algo.as_deref().is_some_and(|h| h != "sha256") {
        return Err(LfsError::new(
            409,
            "only the sha256 hash algorithm is supported",
        ));
    }
    if let Some(transfers) = &request.transfers {
        if !transfers.iter().any(|t| t == "basic") {
            return Err(LfsError::new(422, "only the basic transfer is supported"));
        }
    }
    if request.objects.len() > MAX_OBJECTS {
        let why = format!("a batch may name at most {MAX_OBJECTS} objects");
        return Err(LfsError::new(413, why));
    }
    let objects = request
        .objects
        .into_iter()
        .map(|named| {
            let oid = named.oid.as_str().unwrap_or_default().to_string();
            match named.size.as_u64() {
                Some(size) if valid_oid(&oid) => Ok((oid, size)),
                _ => Err(oid),
            }
        })
        .collect();
    Ok(Asked { operation, objects })
}

/// An action: where to send the request, with which headers, for how long.
#[derive(Serialize, Debug)]
struct Action {
    href: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    header: HashMap<&'static str, String>,
    expires_in: i64,
}

/// One object's answer: its actions, or its error.
#[derive(Serialize, Debug)]
struct Answered {
    oid: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    authenticated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actions: Option<HashMap<&'static str, Action>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ObjectError>,
}

#[derive(Serialize, Debug)]
struct ObjectError {
    code: u16,
    message: String,
}

/// The answer of a batch request.
#[derive(Serialize, Debug)]
pub struct Answer {
    transfer: &'static str,
    objects: Vec<Answered>,
    hash_algo: &'static str,
}

/// What answering a batch needs besides the request.
pub struct Signer<'a> {
    /// The key grants are signed with.
    pub key: &'a [u8],
    /// The repository's canonical name.
    pub repo: &'a str,
    /// Where the repository is reached: scheme, host and path up to `info/lfs`
    /// (`https://host/owner/repo.git/info/lfs`).
    pub base: &'a str,
    /// Seconds since the epoch.
    pub now: i64,
    /// The largest object accepted: `MAX_LFS_OBJECT_BYTES` through the Worker, R2's own
    /// limit with presigned URLs.
    pub max_size: u64,
    /// R2's S3 credentials, when the transfers go straight to the bucket on presigned
    /// URLs instead of through the Worker.
    pub bucket: Option<&'a Bucket>,
    /// How long a grant or presigned URL lasts, in seconds (`LFS_GRANT_SECONDS`).
    pub lifetime: i64,
}

impl Signer<'_> {
    /// The grant of `operation` on `oid` of `size`, as the header that carries it.
    fn header(&self, oid: &str, size: u64, operation: Operation) -> HashMap<&'static str, String> {
        let grant = Grant {
            repo: self.repo,
            oid,
            operation,
            size,
            expires: self.now.saturating_add(self.lifetime),
        };
        HashMap::from([("Authorization", format!("Bearer {}", grant.sign(self.key)))])
    }

    /// The transfer action for `oid` of `size`: through the Worker under a grant, or on a
    /// presigned URL of the bucket.
    fn transfer(&self, oid: &str, size: u64, operation: Operation) -> Action {
        let (href, header) = match (self.bucket, operation) {
            (None, _) => (
                format!("{}/objects/{oid}", self.base),
                self.header(oid, size, operation),
            ),
            (Some(bucket), Operation::Upload) => {
                let key = object_key(self.repo, oid);
                let url = bucket.upload(&key, oid, size, self.now, self.lifetime);
                (url, HashMap::from([(CONTENT_SHA256, oid.to_string())]))
            }
            (Some(bucket), Operation::Download) => {
                let key = object_key(self.repo, oid);
                let url = bucket.download(&key, self.now, self.lifetime);
                (url, HashMap::new())
            }
        };
        Action {
            href,
            header,
            expires_in: self.lifetime,
        }
    }

    /// What names the limit an object is over.
    fn limit_name(&self) -> &'static str {
        match self.bucket {
            Some(_) => "R2's limit for one upload",
            None => "MAX_LFS_OBJECT_BYTES",
        }
    }

    /// The verify action for an upload of `oid` of `size`: it carries the upload's grant,
    /// which is what lets it record the object (git-lfs sends a verify with the action's
    /// headers, not with the credentials the batch went with).
    fn verify(&self, oid: &str, size: u64) -> Action {
        Action {
            href: format!("{}/verify", self.base),
            header: self.header(oid, size, Operation::Upload),
            expires_in: self.lifetime,
        }
    }
}

fn failed(oid: String, size: u64, code: u16, message: String) -> Answered {
    Answered {
        oid,
        size,
        authenticated: None,
        actions: None,
        error: Some(ObjectError { code, message }),
    }
}

/// Answers `asked`: `stored` gives the size of each object the repository holds.
pub fn answer(asked: Asked, stored: &HashMap<String, u64>, signer: &Signer) -> Answer {
    let objects = asked
        .objects
        .into_iter()
        .map(|object| {
            let (oid, size) = match object {
                Ok(named) => named,
                Err(oid) => return failed(oid, 0, 422, "invalid oid or size".into()),
            };
            let held = stored.get(&oid).copied();
            let actions = match (asked.operation, held) {
                (Operation::Download, None) => {
                    return failed(oid, size, 404, "Object does not exist".into())
                }
                (Operation::Download, Some(size)) => {
                    let download = signer.transfer(&oid, size, Operation::Download);
                    HashMap::from([("download", download)])
                }
                (Operation::Upload, _) if size > signer.max_size => {
                    let message = format!(
                        "Size must be less than or equal to {} ({})",
                        signer.max_size,
                        signer.limit_name()
                    );
                    return failed(oid, size, 422, message);
                }
                (Operation::Upload, Some(held)) if held == size => HashMap::new(),
                (Operation::Upload, _) => {
                    let upload = signer.transfer(&oid, size, Operation::Upload);
                    let verify = signer.verify(&oid, size);
                    HashMap::from([("upload", upload), ("verify", verify)])
                }
            };
            Answered {
                oid,
                size: held.unwrap_or(size),
                authenticated: Some(true),
                actions: (!actions.is_empty()).then_some(actions),
                error: None,
            }
        })
        .collect();
    Answer {
        transfer: "basic",
        objects,
        hash_algo: "sha256",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lfs::grant;
    use serde_json::{json, Value};

    const A: &str = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";
    const B: &str = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    fn signer() -> Signer<'static> {
        Signer {
            key: b"k",
            repo: "o/r",
            base: "http://h/o/r.git/info/lfs",
            now: 100,
            max_size: 1000,
            bucket: None,
            lifetime: grant::LIFETIME,
        }
    }

    #[test]
    fn with_r2_credentials_transfers_go_to_presigned_urls_and_verify_to_the_worker() {
        let bucket = Bucket::r2("id", "secret", "acct", "git-lfs");
        let signer = Signer {
            bucket: Some(&bucket),
            ..signer()
        };
        let request = json!({"operation": "upload", "objects": [{"oid": A, "size": 12}]});
        let asked = parse(request.to_string().as_bytes()).unwrap();
        let answered = serde_json::to_value(answer(asked, &HashMap::new(), &signer)).unwrap();
        let actions = &answered["objects"][0]["actions"];
        assert_eq!(
            actions["upload"]["href"],
            bucket.upload(&format!("o/r/{A}"), A, 12, 100, grant::LIFETIME)
        );
        assert_eq!(actions["upload"]["header"], json!({ CONTENT_SHA256: A }));
        assert_eq!(
            actions["verify"]["href"],
            "http://h/o/r.git/info/lfs/verify"
        );
        let request = json!({"operation": "download", "objects": [{"oid": A, "size": 0}]});
        let asked = parse(request.to_string().as_bytes()).unwrap();
        let stored = HashMap::from([(A.to_string(), 12)]);
        let answered = serde_json::to_value(answer(asked, &stored, &signer)).unwrap();
        let download = &answered["objects"][0]["actions"]["download"];
        assert_eq!(
            download["href"],
            bucket.download(&format!("o/r/{A}"), 100, grant::LIFETIME)
        );
        assert!(download.get("header").is_none());
        let request = json!({"operation": "upload", "objects": [{"oid": A, "size": 1001}]});
        let asked = parse(request.to_string().as_bytes()).unwrap();
        let answered = serde_json::to_value(answer(asked, &HashMap::new(), &signer)).unwrap();
        assert_eq!(
            answered["objects"][0]["error"]["message"],
            "Size must be less than or equal to 1000 (R2's limit for one upload)"
        );
    }

    fn batch(request: Value, stored: &[(&str, u64)]) -> Value {
        let asked = parse(request.to_string().as_bytes()).unwrap();
        let stored = stored.iter().map(|(o, s)| (o.to_string(), *s)).collect();
        serde_json::to_value(answer(asked, &stored, &signer())).unwrap()
    }

    #[test]
    fn an_upload_of_what_is_held_needs_no_action_and_the_rest_get_upload_and_verify() {
        let request = json!({"operation": "upload", "transfers": ["basic"], "ref": {"name": "refs/heads/main"},
            "objects": [{"oid": A, "size": 12}, {"oid": B, "size": 3}]});
        let answer = batch(request, &[(A, 12)]);
        assert_eq!(answer["transfer"], "basic");
        assert_eq!(
            answer["objects"][0],
            json!({"oid": A, "size": 12, "authenticated": true})
        );
        let actions = &answer["objects"][1]["actions"];
        let upload = &actions["upload"];
        assert_eq!(
            upload["href"],
            format!("http://h/o/r.git/info/lfs/objects/{B}")
        );
        assert_eq!(upload["expires_in"], grant::LIFETIME);
        let text = upload["header"]["Authorization"].as_str().unwrap();
        let text = text.strip_prefix("Bearer ").unwrap();
        let checked = grant::check(b"k", "o/r", B, text, 100).unwrap();
        assert_eq!((checked.operation, checked.size), (Operation::Upload, 3));
        assert_eq!(checked.expires, 100 + grant::LIFETIME);
        assert_eq!(
            actions["verify"]["href"],
            "http://h/o/r.git/info/lfs/verify"
        );
        assert_eq!(actions["verify"]["header"], upload["header"]);
    }

    #[test]
    fn an_upload_of_another_size_than_held_is_asked_again() {
        let request = json!({"operation": "upload", "objects": [{"oid": A, "size": 13}]});
        let answer = batch(request, &[(A, 12)]);
        assert!(answer["objects"][0]["actions"]["upload"].is_object());
    }

    #[test]
    fn a_download_gets_a_grant_for_the_size_held_or_a_404() {
        let request = json!({"operation": "download", "objects": [{"oid": A, "size": 1}, {"oid": B, "size": 3}]});
        let answer = batch(request, &[(A, 12)]);
        let download = &answer["objects"][0]["actions"]["download"];
        let text = download["header"]["Authorization"].as_str().unwrap();
        let checked = grant::check(b"k", "o/r", A, text.get(7..).unwrap(), 100).unwrap();
        assert_eq!((checked.operation, checked.size), (Operation::Download, 12));
        assert_eq!(answer["objects"][0]["size"], 12);
        assert_eq!(
            answer["objects"][1]["error"],
            json!({"code": 404, "message": "Object does not exist"})
        );
    }

    #[test]
    fn invalid_and_oversized_objects_are_each_refused_with_422() {
        let request = json!({"operation": "upload", "objects": [
            {"oid": A.to_uppercase(), "size": 1}, {"oid": "abc", "size": 1}, {"oid": A, "size": -1},
            {"oid": A, "size": 1.5}, {"oid": A}, {"oid": 7, "size": 1}, {"oid": B, "size": 1001}]});
        let answer = batch(request, &[]);
        let objects = answer["objects"].as_array().unwrap();
        assert_eq!(objects.len(), 7);
        for object in &objects[..6] {
            assert_eq!(object["error"]["code"], 422, "{object}");
        }
        assert_eq!(
            objects[6]["error"]["message"],
            "Size must be less than or equal to 1000 (MAX_LFS_OBJECT_BYTES)"
        );
    }

    #[test]
    fn requests_the_server_cannot_serve_are_refused_whole() {
        for (request, status) in [
            (json!({"operation": "delete", "objects": []}), 422),
            (json!({"operation": "upload"}), 422),
            (
                json!({"operation": "upload", "objects": [], "transfers": ["tus"]}),
                422,
            ),
            (
                json!({"operation": "upload", "objects": [], "hash_algo": "sha512"}),
                409,
            ),
        ] {
            let refused = parse(request.to_string().as_bytes()).unwrap_err();
            assert_eq!(refused.status, status, "{request}");
        }
        let many: Vec<Value> = (0..=MAX_OBJECTS)
            .map(|_| json!({"oid": A, "size": 1}))
            .collect();
        let request = json!({"operation": "upload", "objects": many});
        assert_eq!(
            parse(request.to_string().as_bytes()).unwrap_err().status,
            413
        );
        assert_eq!(parse(b"{").unwrap_err().status, 422);
    }
}
