//! Identities: the `Name <email> 1700000000 +0100` of a commit's author and committer and
//! a tag's tagger (git's `ident.c`, `split_ident_line`).
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

use crate::format::{date, rsplit_once, split_once, split_while};

/// Who made an object, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ident<'a> {
    /// The name, as stored (in the object's encoding).
    pub name: &'a [u8],
    /// The email, without its angle brackets.
    pub email: &'a [u8],
    /// When, if the line has a date git reads: digits, then a zone.
    pub when: Option<When>,
}

/// The date of an identity line, as git's `split_ident_line` finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct When {
    /// Seconds since the epoch (past what git can show: 0, with no zone).
    pub time: i64,
    /// The zone as its digits read in decimal: `-0130` is -130 (0 past what git shows).
    pub zone: i32,
}

/// The latest time git can show: past it, C's `gmtime` fails (its year is an `int`), and
/// git shows the epoch in UTC.
const LATEST: i64 = 67_767_976_233_532_799;

impl Ident<'_> {
    /// The time in RFC 3339, in the zone it was made in, as git's `%aI` prints it; None
    /// where git prints no date.
    pub fn date(&self) -> Option<String> {
        let when = self.when?;
        let minutes = (when.zone.abs() / 100 * 60 + when.zone.abs() % 100) * when.zone.signum();
        let local = when.time.saturating_add(i64::from(minutes) * 60);
        Some(match local {
            0..=LATEST => date::rfc3339_zone(when.time, minutes, when.zone),
            _ => date::rfc3339_utc(0),
        })
    }
}

/// git's whitespace (`isspace`): space, tab, newline, carriage return.
pub fn space(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Reads an identity line's value as git's `split_ident_line` does: the name ends at the
/// first `<` (trailing whitespace dropped; a NUL before it and there is none), the email at the first `>` after it; the date
/// follows the last `>`: digits, whitespace, then `+` or `-` and digits, else the line has
/// none. None without an email.
pub fn parse(line: &[u8]) -> Option<Ident<'_>> {
    let (name, after_open) = split_once(line, b'<')?;
    // git's search for the `<` stops at a NUL.
    if name.contains(&0) {
        return None;
    }
    let (email, _) = split_once(after_open, b'>')?;
    let kept = name
        .iter()
        .rposition(|b| !space(b))
        .map_or(0, |end| end + 1);
    let name = name.split_at(kept).0;
    let (_, date) = rsplit_once(line, b'>')?;
    Some(Ident {
        name,
        email,
        when: when(date),
    })
}

/// The date after an identity's email, if git finds one there.
fn when(rest: &[u8]) -> Option<When> {
    let rest = split_while(rest, space).1;
    let (time, rest) = split_while(rest, u8::is_ascii_digit);
    let rest = split_while(rest, space).1;
    let (&sign, zone) = rest.split_first()?;
    let zone = split_while(zone, u8::is_ascii_digit).0;
    if time.is_empty() || zone.is_empty() || !matches!(sign, b'+' | b'-') {
        return None;
    }
    // C's strtoumax and strtol: past their range, the largest value, which git shows as
    // the epoch (a time), or as no zone (a zone).
    let time = std::str::from_utf8(time)
        .ok()?
        .parse::<u64>()
        .unwrap_or(u64::MAX);
    let zone = std::str::from_utf8(zone)
        .ok()?
        .parse::<i64>()
        .unwrap_or(i64::MAX);
    let zone = if sign == b'-' { -zone } else { zone };
    Some(match (i64::try_from(time), i32::try_from(zone)) {
        (Ok(time), Ok(zone)) if time < i64::MAX && zone != i32::MIN && zone != i32::MAX => {
            When { time, zone }
        }
        (Ok(time), _) if time < i64::MAX => When { time, zone: 0 },
        _ => When { time: 0, zone: 0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_email_and_date() {
        let ident = parse(b"A U Thor <author@example.com> 1700000000 -0130").unwrap();
        assert_eq!(ident.name, b"A U Thor");
        assert_eq!(ident.email, b"author@example.com");
        let when = ident.when.unwrap();
        assert_eq!((when.time, when.zone), (1_700_000_000, -130));
        assert_eq!(ident.date().unwrap(), "2023-11-14T20:43:20-01:30");
    }

    #[test]
    fn takes_broken_lines_as_git_does() {
        // An empty name, and a stray `>` before the date.
        let ident = parse(b"<a@b>> 5 +0100").unwrap();
        assert_eq!((ident.name, ident.email), (&b""[..], &b"a@b"[..]));
        assert_eq!(ident.date().unwrap(), "1970-01-01T01:00:05+01:00");
        // No date, no zone or one without its sign, no digits: git shows no date.
        for line in [
            &b"N <e>"[..],
            b"N <e> 7",
            b"N <e> 7 0100",
            b"N <e> +5 +0000",
            b"N <e> 7 +",
        ] {
            assert_eq!(parse(line).unwrap().when, None, "{line:?}");
        }
        // A tab before the date, a zone of five digits: git reads both.
        assert_eq!(
            parse(b"N <e>\t42 +00000").unwrap().date().unwrap(),
            "1970-01-01T00:00:42Z"
        );
        // A time too large for git to show is the epoch.
        for line in [
            &b"N <e> 99999999999999999999 +0000"[..],
            b"N <e> 18446744073709551615 +0100",
        ] {
            assert_eq!(parse(line).unwrap().date().unwrap(), "1970-01-01T00:00:00Z");
        }
        // A zone's digits are hours and minutes however many: +0090 is 90 minutes.
        assert_eq!(
            parse(b"N <e> 0 +0090").unwrap().date().unwrap(),
            "1970-01-01T01:30:00+00:90"
        );
        assert_eq!(parse(b"no email at all 5 +0000"), None);
    }
}
