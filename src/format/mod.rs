//! Git's formats, as pure functions over bytes: no SQL, no HTTP. Everything above reads and
//! writes git's data through these.

pub mod checksum;
pub mod commit;
pub mod date;
pub mod delta;
pub mod diff_delta;
pub mod ends;
pub mod ident;
pub mod idx;
pub mod loose;
pub mod object;
pub mod pack;
pub mod pktline;
pub mod refname;
pub mod sha1;
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

/// Undoes the `%XX` escapes of a URL or of a `combine:` filter's parts as git's `url_decode`
/// does: two hex digits make a byte, unless it would be NUL; any other `%` stands for itself.
pub fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let escaped = bytes
            .get(at + 1..at + 3)
            .filter(|_| byte == b'%')
            .and_then(hex_byte)
            .filter(|&b| b != 0);
        match escaped {
            Some(escaped) => {
                decoded.push(escaped);
                at += 3;
            }
            None => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    decoded
}

/// The byte two hex digits spell.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |c: &u8| char::from(*c).to_digit(16);
    match pair {
        [high, low] => u8::try_from(digit(high)? * 16 + digit(low)?).ok(),
        _ => None,
    }
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

    #[test]
    fn percent_escapes_decode_as_git_decodes_them() {
        assert_eq!(percent_decode("a%20b%2Fc%zz%4"), b"a b/c%zz%4");
        assert_eq!(percent_decode("%e9t%C3%A9"), b"\xe9t\xc3\xa9");
        // A sign is no hex digit, and NUL is never decoded (git's hex2chr and `0 < val`).
        assert_eq!(percent_decode("%+1%-1%00%0"), b"%+1%-1%00%0");
    }
}
