//! Identities: the `Name <email> 1700000000 +0100` of a commit's author and committer and
//! a tag's tagger (git's `ident.c`, `split_ident_line`).

use crate::format::date;

/// Who made an object, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ident<'a> {
    /// The name, as stored (in the object's encoding).
    pub name: &'a [u8],
    /// The email, without its angle brackets.
    pub email: &'a [u8],
    /// Seconds since the epoch.
    pub time: i64,
    /// The zone it was made in, minutes east of UTC.
    pub offset: i32,
}

impl Ident<'_> {
    /// The time in RFC 3339, in the zone it was made in (git's `%aI`).
    pub fn date(&self) -> String {
        date::rfc3339(self.time, self.offset)
    }
}

/// Reads an identity line's value. As git does, the name ends at the first `<`, the email
/// at the first `>` after it, and the date follows the last `>`; a date that does not
/// parse reads as the epoch, in UTC. None without an email.
pub fn parse(line: &[u8]) -> Option<Ident<'_>> {
    let open = line.iter().position(|&b| b == b'<')?;
    let close = open + 1 + line[open + 1..].iter().position(|&b| b == b'>')?;
    let name = line[..open].trim_ascii_end();
    let email = &line[open + 1..close];
    let last = line.iter().rposition(|&b| b == b'>')?;
    let mut fields = line[last + 1..]
        .split(|&b| b == b' ')
        .filter(|field| !field.is_empty());
    let time = fields.next().and_then(seconds).unwrap_or(0);
    let offset = fields.next().and_then(zone).unwrap_or(0);
    Some(Ident {
        name,
        email,
        time,
        offset,
    })
}

/// Decimal seconds; git's unsigned timestamps beyond ours read as the latest we have.
fn seconds(field: &[u8]) -> Option<i64> {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let text = std::str::from_utf8(field).ok()?;
    Some(text.parse::<i64>().unwrap_or(i64::MAX))
}

/// `+hhmm` or `-hhmm` as minutes east of UTC.
fn zone(field: &[u8]) -> Option<i32> {
    let (sign, digits) = match field.split_first()? {
        (b'+', digits) => (1, digits),
        (b'-', digits) => (-1, digits),
        _ => return None,
    };
    if digits.len() != 4 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = |at: usize| i32::from(digits[at] - b'0') * 10 + i32::from(digits[at + 1] - b'0');
    Some(sign * (value(0) * 60 + value(2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_email_and_date() {
        let ident = parse(b"A U Thor <author@example.com> 1700000000 -0130").unwrap();
        assert_eq!(ident.name, b"A U Thor");
        assert_eq!(ident.email, b"author@example.com");
        assert_eq!((ident.time, ident.offset), (1_700_000_000, -90));
        assert_eq!(ident.date(), "2023-11-14T20:43:20-01:30");
    }

    #[test]
    fn takes_broken_lines_as_git_does() {
        // An empty name, and a stray `>` before the date.
        let ident = parse(b"<a@b>> 5 +0100").unwrap();
        assert_eq!((ident.name, ident.email), (&b""[..], &b"a@b"[..]));
        assert_eq!((ident.time, ident.offset), (5, 60));
        // No date, a bad zone, a time too large.
        assert_eq!(parse(b"N <e>").unwrap().time, 0);
        assert_eq!(parse(b"N <e> 7 0100").unwrap().offset, 0);
        assert_eq!(
            parse(b"N <e> 99999999999999999999 +0000").unwrap().time,
            i64::MAX
        );
        assert_eq!(parse(b"no email at all 5 +0000"), None);
    }
}
