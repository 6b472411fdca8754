//! The token a request presents in its `Authorization` header: the password of HTTP Basic
//! (what git's credential helpers and isomorphic-git's `onAuth` send; the user name is
//! ignored) or a Bearer token.

use base64::Engine;

/// The longest `Authorization` header read: far above any token of ours, so that a huge
/// header costs nothing to refuse.
const MAX_HEADER: usize = 4096;

/// The token in an `Authorization` header, or None when it carries none. A Basic
/// credential with an empty password presents its user name instead, as some clients put
/// a token there.
pub fn credential(header: Option<&str>) -> Option<String> {
    let header = header?.trim();
    if header.len() > MAX_HEADER {
        return Some(String::new());
    }
    let (scheme, value) = header.split_once(' ')?;
    let value = value.trim();
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        value.to_string()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())?;
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        if password.is_empty() {
            user.to_string()
        } else {
            password.to_string()
        }
    } else {
        return None;
    };
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_password: &str) -> String {
        let encoded = base64::engine::general_purpose::STANDARD.encode(user_password);
        format!("Basic {encoded}")
    }

    #[test]
    fn the_password_or_the_bearer_token_is_the_token() {
        assert_eq!(credential(Some(&basic("x:secret"))), Some("secret".into()));
        assert_eq!(credential(Some(&basic("x:a:b"))), Some("a:b".into()));
        assert_eq!(credential(Some(&basic("tok:"))), Some("tok".into()));
        assert_eq!(credential(Some("Bearer  secret ")), Some("secret".into()));
        assert_eq!(credential(Some("bearer secret")), Some("secret".into()));
    }

    #[test]
    fn no_usable_credential_is_none() {
        assert_eq!(credential(None), None);
        assert_eq!(credential(Some(&basic(":"))), None);
        assert_eq!(credential(Some("Basic !!!")), None);
        assert_eq!(credential(Some("Digest abc")), None);
        assert_eq!(credential(Some("Bearer")), None);
    }

    #[test]
    fn a_huge_header_presents_a_token_that_matches_nothing() {
        let longest = format!("Bearer {}", "a".repeat(MAX_HEADER - 7));
        assert_eq!(credential(Some(&longest)), Some("a".repeat(MAX_HEADER - 7)));
        let huge = format!("Bearer {}", "a".repeat(MAX_HEADER - 6));
        assert_eq!(credential(Some(&huge)), Some(String::new()));
    }
}
