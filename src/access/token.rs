//! Repository tokens: made from random bytes, shown once, kept only as a hash, and compared
//! in constant time.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::format::date::rfc3339_utc;

/// What a repository token allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Clone, fetch and read.
    Read,
    /// Read, and what a push may do.
    Write,
}

impl Scope {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    /// The scope a stored name names.
    pub fn parse(name: &str) -> Option<Scope> {
        match name {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            _ => None,
        }
    }
}

/// What every token starts with, so that one found in a log or a commit is recognisable.
const PREFIX: &str = "gdo_";

/// Random bytes a token is made of: 8 name its row, 32 are its secret.
pub const RANDOM_BYTES: usize = 40;

/// A token as stored: its id, the hash of the whole token, its scope, and when it was made
/// and expires (seconds since the epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// 16 hex digits, public: how a token is listed and revoked.
    pub id: String,
    /// SHA-256 of the whole token.
    pub hash: [u8; 32],
    /// What it allows.
    pub scope: Scope,
    /// When it was made.
    pub created: i64,
    /// When it stops working, if ever.
    pub expires: Option<i64>,
}

/// A token as the API lists it: everything but the secret.
#[derive(Debug, Serialize)]
pub struct Listed {
    id: String,
    scope: Scope,
    created: String,
    expires: Option<String>,
}

/// A token as the API answers its creation: the only time the secret is shown.
#[derive(Debug, Serialize)]
pub struct Created {
    id: String,
    token: String,
    scope: Scope,
    expires: Option<String>,
}

/// A new token from `random` bytes, made at `now`: the token to show once, and the record
/// to store.
pub fn make(
    random: &[u8; RANDOM_BYTES],
    scope: Scope,
    now: i64,
    expires_in: Option<i64>,
) -> (Created, TokenRecord) {
    let id = hex::encode(&random[..8]);
    let token = format!("{PREFIX}{id}_{}", hex::encode(&random[8..]));
    let record = TokenRecord {
        id: id.clone(),
        hash: hash(&token),
        scope,
        created: now,
        expires: expires_in.map(|secs| now.saturating_add(secs)),
    };
    let created = Created {
        id,
        token,
        scope,
        expires: record.expires.map(rfc3339_utc),
    };
    (created, record)
}

/// The id a presented token names, if it has the shape of one of ours.
pub fn id_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, len| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, 16) && hex(secret, 64)).then_some(id)
}

/// Whether two hashes are equal, in time that does not depend on where they differ: every
/// byte is compared, without stopping early.
pub fn same_hash(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The hash a token is stored as.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenRecord {
    /// The scope `presented` has if it is this token and it has not expired at `now`. The
    /// hashes are compared in time that does not depend on where they differ.
    pub fn admits(&self, presented: &str, now: i64) -> Option<Scope> {
        let live = self.expires.is_none_or(|at| now < at);
        (same_hash(&hash(presented), &self.hash) && live).then_some(self.scope)
    }

    /// The token as listed.
    pub fn listed(&self) -> Listed {
        Listed {
            id: self.id.clone(),
            scope: self.scope,
            created: rfc3339_utc(self.created),
            expires: self.expires.map(rfc3339_utc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_admitted_until_it_expires_and_only_whole() {
        let random = [7u8; RANDOM_BYTES];
        let (created, record) = make(&random, Scope::Write, 1000, Some(60));
        assert_eq!(created.token.len(), 4 + 16 + 1 + 64);
        assert_eq!(id_of(&created.token), Some(record.id.as_str()));
        assert_eq!(created.expires.as_deref(), Some("1970-01-01T00:17:40Z"));
        assert_eq!(record.admits(&created.token, 1059), Some(Scope::Write));
        assert_eq!(record.admits(&created.token, 1060), None);
        let mut other = created.token.clone();
        other.pop();
        other.push('0');
        assert_eq!(record.admits(&other, 1000), None);
        assert_eq!(record.admits("", 1000), None);
        assert!(!serde_json::to_string(&record.listed())
            .unwrap()
            .contains(&created.token));
    }

    #[test]
    fn hashes_differing_anywhere_differ() {
        let base = hash("s3cret");
        assert!(same_hash(&base, &base));
        // Differences that cancel out byte by byte (as they would if they were summed or
        // XORed together) are still differences.
        let mut pair = base;
        pair[0] ^= 0x5a;
        pair[31] ^= 0x5a;
        assert!(!same_hash(&base, &pair));
        let mut last = base;
        last[31] ^= 1;
        assert!(!same_hash(&base, &last));
    }

    #[test]
    fn only_our_shape_names_an_id() {
        let (created, _) = make(&[0xab; RANDOM_BYTES], Scope::Read, 0, None);
        assert!(id_of(&created.token).is_some());
        let secret = "cd".repeat(32);
        let bad_id = format!("gdo_abababababababxy_{secret}");
        let short_secret = "gdo_abababababababab_00".to_string();
        let bad_secret = format!("gdo_abababababababab_{}xy", "cd".repeat(31));
        for bad in [
            "",
            "gdo_",
            "gdo_abababababababab",
            "xyz_abababababababab_00",
            "gdo_zz_00",
            &bad_id,
            &short_secret,
            &bad_secret,
        ] {
            assert_eq!(id_of(bad), None, "{bad}");
        }
        assert_eq!(created.expires, None);
    }
}
