//! Ref name rules: git's `check-ref-format`, as receive-pack applies them to pushed names.
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

/// Whether a push may update `name`, as git's receive-pack decides: it must be under
/// `refs/`, and what follows must pass `check_ref_format`, with two levels at least
/// (`refs/tags` alone is refused) unless the command deletes the ref.
pub fn is_valid_push_name(name: &str, deletion: bool) -> bool {
    name.strip_prefix("refs/")
        .is_some_and(|rest| check_ref_format(rest, deletion))
}

/// Whether git could write `name` as a loose ref on a usual filesystem: no component over
/// 255 bytes (`NAME_MAX`), the whole within 4,000 (`PATH_MAX`, 4,096, less the
/// repository's own path and `.lock`). git's ref transaction fails to lock any other, so a
/// push of one is refused as git refuses it; it also bounds what a listing of refs holds
/// and each advertised line, which a name as long as a pkt-line would pass.
pub fn fits_a_filesystem(name: &str) -> bool {
    name.len() <= 4000 && name.split('/').all(|component| component.len() <= 255)
}

/// git's `check_refname_format` (refs.c) without `REFNAME_REFSPEC_PATTERN`: every
/// `/`-separated component non-empty, not starting with `.` nor ending with `.lock`, no
/// `..` or `@{`, no control character, DEL or any of ` ~^:?*[\`; the whole not `@` and
/// not ending with `.`; and at least two components unless `one_level` allows one.
pub fn check_ref_format(name: &str, one_level: bool) -> bool {
    if name == "@" || name.ends_with('.') {
        return false;
    }
    let bad_byte = |b: u8| b < 0x20 || b == 0x7f || b" ~^:?*[\\".contains(&b);
    if name.contains("..") || name.contains("@{") || name.bytes().any(bad_byte) {
        return false;
    }
    let mut components = 0;
    for component in name.split('/') {
        if component.is_empty() || component.starts_with('.') || component.ends_with(".lock") {
            return false;
        }
        components += 1;
    }
    one_level || components >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_filesystem_as_git_writes_loose_refs() {
        let component = |n: usize| "c".repeat(n);
        assert!(fits_a_filesystem(&format!("refs/heads/{}", component(255))));
        assert!(!fits_a_filesystem(&format!(
            "refs/heads/{}",
            component(256)
        )));
        let path = |parts: usize| format!("refs/{}", vec![component(99); parts].join("/"));
        assert!(fits_a_filesystem(&path(39)));
        assert!(!fits_a_filesystem(&path(40)));
    }

    #[test]
    fn follows_check_ref_format() {
        for good in [
            "refs/heads/main",
            "refs/tags/v1.0",
            "refs/heads/a/b-c_d",
            "refs/heads/ü",
        ] {
            assert!(is_valid_push_name(good, false), "{good}");
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
            "refs/@",
        ] {
            assert!(!is_valid_push_name(bad, true), "{bad}");
        }
        // One level under refs/ may only be deleted (a ref git itself could not create).
        assert!(!is_valid_push_name("refs/tags", false));
        assert!(is_valid_push_name("refs/tags", true));
    }
}
