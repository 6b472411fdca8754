//! Git's formats, as pure functions over bytes: no SQL, no HTTP. Everything above reads and
//! writes git's data through these.

pub mod checksum;
pub mod commit;
pub mod date;
pub mod delta;
pub mod diff_delta;
pub mod ident;
pub mod idx;
pub mod loose;
pub mod object;
pub mod pack;
pub mod pktline;
pub mod refname;
pub mod tag;
pub mod zlib;

/// `bytes` around the first `sep`: what comes before it and what after; None without one.
/// The readers of objects and requests split with this (and [`rsplit_once`], [`split_while`])
/// rather than index, so that no input can put an offset out of bounds.
pub fn split_once(bytes: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let mut parts = bytes.splitn(2, |&b| b == sep);
    let before = parts.next()?;
    parts.next().map(|after| (before, after))
}

/// `bytes` around the last `sep`: what comes before it and what after; None without one.
pub fn rsplit_once(bytes: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let mut parts = bytes.rsplitn(2, |&b| b == sep);
    let after = parts.next()?;
    parts.next().map(|before| (before, after))
}

/// `bytes` split after its leading run of bytes that `keep` accepts.
pub fn split_while(bytes: &[u8], keep: impl Fn(&u8) -> bool) -> (&[u8], &[u8]) {
    let end = bytes.iter().position(|b| !keep(b)).unwrap_or(bytes.len());
    bytes.split_at(end)
}

/// An object made by real git, for the unit tests (tests/fixtures/objects/make.sh).
#[cfg(test)]
fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/objects/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_around_the_first_or_last_separator_or_a_leading_run() {
        assert_eq!(split_once(b"a b c", b' '), Some((&b"a"[..], &b"b c"[..])));
        assert_eq!(rsplit_once(b"a b c", b' '), Some((&b"a b"[..], &b"c"[..])));
        assert_eq!(split_once(b" ", b' '), Some((&b""[..], &b""[..])));
        assert_eq!(split_once(b"abc", b' '), None);
        assert_eq!(rsplit_once(b"", b' '), None);
        let digit = |b: &u8| b.is_ascii_digit();
        assert_eq!(split_while(b"12ab", digit), (&b"12"[..], &b"ab"[..]));
        assert_eq!(split_while(b"12", digit), (&b"12"[..], &b""[..]));
        assert_eq!(split_while(b"ab", digit), (&b""[..], &b"ab"[..]));
    }
}
