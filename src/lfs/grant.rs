//! Signed transfer grants: what lets a client move one LFS object's bytes into or out of
//! the bucket through the Worker, without the repository's object waking. The batch
//! endpoint (which checked the caller's token) signs one per object; the Worker checks it
//! against the URL it arrives on.
//!
//! A grant is `<operation>.<size>.<expires>.<signature>`, the signature being the hex of
//! HMAC-SHA256 over the repository, the oid, the operation, the size and the expiry. The
//! repository and oid are not in the grant: they are read from the URL, so a grant signed
//! for one repository or object names nothing else.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a grant lasts, in seconds: git-lfs asks again once an action has expired.
pub const LIFETIME: i64 = 3600;

/// The shortest `LFS_SECRET` taken: every grant a batch answer gives out lets its holder
/// try keys offline, so the key must be too long to guess.
pub const MIN_SECRET: usize = 32;

/// What a grant allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// PUT the object's bytes.
    Upload,
    /// GET the object's bytes.
    Download,
}

impl Operation {
    /// The word in the grant (and in the batch request).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Upload => "upload",
            Operation::Download => "download",
        }
    }

    /// The operation a word names.
    pub fn parse(word: &str) -> Option<Operation> {
        match word {
            "upload" => Some(Operation::Upload),
            "download" => Some(Operation::Download),
            _ => None,
        }
    }
}

/// The key grants are signed with: the `LFS_SECRET` secret, of its own and not derived from
/// the admin token (a grant would let anyone try admin tokens offline); None when it is
/// unset or shorter than [`MIN_SECRET`].
pub fn key(lfs_secret: Option<&str>) -> Option<Vec<u8>> {
    lfs_secret
        .filter(|s| s.len() >= MIN_SECRET)
        .map(|s| s.as_bytes().to_vec())
}

/// One object's grant, before it is signed or after it is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant<'a> {
    /// The repository's canonical name (`owner/repo`).
    pub repo: &'a str,
    /// The object's SHA-256, as 64 lowercase hex digits.
    pub oid: &'a str,
    /// What it allows.
    pub operation: Operation,
    /// The object's size in bytes.
    pub size: u64,
    /// When it stops being good, in seconds since the epoch.
    pub expires: i64,
}

fn mac(key: &[u8], grant: &Grant) -> Hmac<Sha256> {
    // new_from_slice takes a key of any length for HMAC.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    let message = format!(
        "lfs-grant v1\n{}\n{}\n{}\n{}\n{}",
        grant.repo,
        grant.oid,
        grant.operation.as_str(),
        grant.size,
        grant.expires
    );
    mac.update(message.as_bytes());
    mac
}

impl Grant<'_> {
    /// The grant's text, signed with `key`.
    pub fn sign(&self, key: &[u8]) -> String {
        let signature = hex::encode(mac(key, self).finalize().into_bytes());
        let operation = self.operation.as_str();
        format!("{operation}.{}.{}.{signature}", self.size, self.expires)
    }
}

/// Why a grant does not let a transfer through; the client sees the message with 403.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadGrant {
    /// No grant, or not in the grant's form.
    #[error("this transfer needs the grant its batch answer gave: ask the batch endpoint again")]
    Malformed,
    /// The signature is not ours for this repository, object, operation and size.
    #[error("this grant is not valid for this object")]
    Forged,
    /// Past its expiry.
    #[error("this grant has expired: ask the batch endpoint again")]
    Expired,
}

/// Checks the grant `text` for object `oid` of `repo` at `now` (seconds since the epoch),
/// and returns what it allows.
pub fn check<'a>(
    key: &[u8],
    repo: &'a str,
    oid: &'a str,
    text: &str,
    now: i64,
) -> Result<Grant<'a>, BadGrant> {
    let mut parts = text.split('.');
    let (Some(operation), Some(size), Some(expires), Some(signature), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(BadGrant::Malformed);
    };
    let operation = Operation::parse(operation).ok_or(BadGrant::Malformed)?;
    let size = size.parse().map_err(|_| BadGrant::Malformed)?;
    let expires = expires.parse().map_err(|_| BadGrant::Malformed)?;
    let signature = hex::decode(signature).map_err(|_| BadGrant::Malformed)?;
    let grant = Grant {
        repo,
        oid,
        operation,
        size,
        expires,
    };
    // verify_slice compares in constant time.
    mac(key, &grant)
        .verify_slice(&signature)
        .map_err(|_| BadGrant::Forged)?;
    if now >= expires {
        return Err(BadGrant::Expired);
    }
    Ok(grant)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OID: &str = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";
    const OTHER: &str = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    fn grant(operation: Operation) -> Grant<'static> {
        Grant {
            repo: "alice/assets",
            oid: OID,
            operation,
            size: 12,
            expires: 1_000,
        }
    }

    #[test]
    fn a_grant_checks_for_its_own_repository_object_and_time() {
        let key = b"k".as_slice();
        for operation in [Operation::Upload, Operation::Download] {
            let text = grant(operation).sign(key);
            assert_eq!(
                check(key, "alice/assets", OID, &text, 999),
                Ok(grant(operation))
            );
            assert_eq!(
                check(key, "alice/assets", OID, &text, 1_000),
                Err(BadGrant::Expired)
            );
            assert_eq!(
                check(key, "alice/other", OID, &text, 0),
                Err(BadGrant::Forged)
            );
            assert_eq!(
                check(key, "alice/assets", OTHER, &text, 0),
                Err(BadGrant::Forged)
            );
            assert_eq!(
                check(b"another key", "alice/assets", OID, &text, 0),
                Err(BadGrant::Forged)
            );
        }
    }

    #[test]
    fn a_grant_whose_fields_were_changed_is_forged_and_a_broken_one_malformed() {
        let key = b"k".as_slice();
        let text = grant(Operation::Download).sign(key);
        let (head, signature) = text.rsplit_once('.').unwrap();
        for changed in [
            text.replacen("download", "upload", 1),
            text.replacen(".12.", ".13.", 1),
            text.replacen(".1000.", ".999999999.", 1),
        ] {
            assert_eq!(
                check(key, "alice/assets", OID, &changed, 0),
                Err(BadGrant::Forged),
                "{changed}"
            );
        }
        for broken in [
            String::new(),
            head.to_string(),
            format!("{text}.x"),
            format!("{head}.zz{}", signature.get(2..).unwrap()),
            text.replacen("download", "delete", 1),
            text.replacen(".12.", ".-1.", 1),
        ] {
            assert_eq!(
                check(key, "alice/assets", OID, &broken, 0),
                Err(BadGrant::Malformed),
                "{broken}"
            );
        }
    }

    #[test]
    fn the_key_is_an_lfs_secret_too_long_to_guess() {
        let secret = "s".repeat(MIN_SECRET);
        assert_eq!(key(Some(&secret)), Some(secret.as_bytes().to_vec()));
        assert_eq!(key(Some(&"s".repeat(MIN_SECRET - 1))), None);
        assert_eq!(key(Some("")), None);
        assert_eq!(key(None), None);
    }
}
