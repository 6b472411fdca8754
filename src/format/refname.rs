//! Ref name rules: git's `check-ref-format`, as receive-pack applies them to pushed names.

/// Whether `name` may be created or updated by a push: it must be under `refs/`
/// and pass `git check-ref-format`.
pub fn is_valid_push_name(name: &str) -> bool {
    name.strip_prefix("refs/")
        .is_some_and(|rest| !rest.is_empty())
        && check_ref_format(name)
}

/// git's `check-ref-format` rules for a full ref name.
pub fn check_ref_format(name: &str) -> bool {
    if name.is_empty() || name == "@" || name.ends_with('/') || name.ends_with('.') {
        return false;
    }
    if name.contains("..") || name.contains("@{") {
        return false;
    }
    let bad_byte = |b: u8| b < 0x20 || b == 0x7f || b" ~^:?*[\\".contains(&b);
    if name.bytes().any(bad_byte) {
        return false;
    }
    name.split('/')
        .all(|c| !c.is_empty() && !c.starts_with('.') && !c.ends_with(".lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_check_ref_format() {
        for good in [
            "refs/heads/main",
            "refs/tags/v1.0",
            "refs/heads/a/b-c_d",
            "refs/heads/ü",
        ] {
            assert!(is_valid_push_name(good), "{good}");
        }
        for bad in [
            "HEAD",
            "refs/",
            "refs/heads/bad..name",
            "refs/heads/.hidden",
            "refs/heads/x.lock",
            "refs/heads/a//b",
            "refs/heads/a/",
            "refs/heads/a.",
            "refs/heads/a b",
            "refs/heads/a~1",
            "refs/heads/a^",
            "refs/heads/a:b",
            "refs/heads/a?",
            "refs/heads/a*",
            "refs/heads/a[",
            "refs/heads/a\\b",
            "refs/heads/a@{1}",
            "refs/heads/\x01",
            "heads/main",
        ] {
            assert!(!is_valid_push_name(bad), "{bad}");
        }
    }
}
