//! Dates as the JSON endpoints write them: RFC 3339.

/// `secs` since the Unix epoch as an RFC 3339 UTC time, e.g. `2026-11-24T03:00:00Z`.
pub fn rfc3339_utc(secs: i64) -> String {
    rfc3339(secs, 0)
}

/// `secs` since the Unix epoch as an RFC 3339 time in the zone `offset` minutes east of
/// UTC, as git's `%aI` prints it: `2005-04-07T22:13:13+02:00`, or `Z` for offset zero.
pub fn rfc3339(secs: i64, offset: i32) -> String {
    let zone = offset / 60 * 100 + offset % 60;
    rfc3339_zone(secs, offset, zone)
}

/// `secs` since the Unix epoch, `offset` minutes east of UTC, with the zone shown as git
/// shows `zone` (the digits of `+hhmm` read as a decimal number): `Z` for 0, else its
/// sign, its hundreds and the rest, so `+0090` shows as `+00:90`.
pub fn rfc3339_zone(secs: i64, offset: i32, zone: i32) -> String {
    let local = secs.saturating_add(i64::from(offset) * 60);
    let days = local.div_euclid(86_400);
    let of_day = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let zone = match zone {
        0 => "Z".to_string(),
        _ => {
            let sign = if zone < 0 { '-' } else { '+' };
            let digits = zone.unsigned_abs();
            format!("{sign}{:02}:{:02}", digits / 100, digits % 100)
        }
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{zone}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_date_does() {
        // `date -u -d @N +%Y-%m-%dT%H:%M:%SZ`
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_795_489_199), "2026-11-24T02:59:59Z");
        assert_eq!(rfc3339_utc(4_107_542_400), "2100-03-01T00:00:00Z");
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn keeps_the_offset_as_git_does() {
        // `git log --format=%aI` of commits made with these GIT_AUTHOR_DATEs.
        assert_eq!(rfc3339(1_700_000_000, -90), "2023-11-14T20:43:20-01:30");
        assert_eq!(rfc3339(1_700_000_000, 330), "2023-11-15T03:43:20+05:30");
        assert_eq!(rfc3339(1_700_000_000, 0), "2023-11-14T22:13:20Z");
        // A hostile time saturates instead of overflowing.
        assert!(rfc3339(i64::MAX, 60).ends_with("+01:00"));
    }
}
