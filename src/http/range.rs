//! Range requests (RFC 9110): one range of a file, or the whole file.

use crate::http::reply::{Body, Caching, Reply};

/// A whole-file or single-range reply for a file of `size` bytes, whose `body` the range
/// (start, end) makes.
pub fn ranged(
    size: u64,
    range: Option<&str>,
    content_type: &'static str,
    caching: Caching,
    body: impl FnOnce(u64, u64) -> Body,
) -> Reply {
    let (status, start, end, mut headers) = match wanted(range, size) {
        Wanted::Whole => (200, 0, size, Vec::new()),
        Wanted::Part(start, end) => {
            let content_range = format!("bytes {start}-{}/{size}", end - 1);
            (206, start, end, vec![("Content-Range", content_range)])
        }
        Wanted::Unsatisfiable => {
            return Reply {
                status: 416,
                content_type: "text/plain; charset=utf-8",
                caching: Caching::Default,
                headers: vec![("Content-Range", format!("bytes */{size}"))],
                body: Body::Bytes(b"requested range not satisfiable\n".to_vec()),
            }
        }
    };
    headers.insert(0, ("Accept-Ranges", "bytes".into()));
    Reply {
        status,
        content_type,
        caching,
        headers,
        body: body(start, end),
    }
}

/// What a Range header asks of a file.
enum Wanted {
    /// The whole file: no Range header, or one this server does not serve in part.
    Whole,
    /// The bytes from `.0` up to, not including, `.1`.
    Part(u64, u64),
    /// A range that lies outside the file.
    Unsatisfiable,
}

/// Reads a Range header for a file of `size` bytes. Several ranges would need a multipart
/// answer, so they get the whole file, which HTTP allows.
fn wanted(range: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    let Some((first, last)) = spec.split_once('-').filter(|_| !spec.contains(',')) else {
        return Wanted::Whole;
    };
    let bounds = match (first.trim().parse::<u64>(), last.trim()) {
        (Ok(start), "") => Some((start, size)),
        (Ok(start), last) => last
            .parse::<u64>()
            .ok()
            .map(|l| (start, l.saturating_add(1).min(size))),
        (Err(_), suffix) if first.trim().is_empty() => suffix
            .parse::<u64>()
            .ok()
            .map(|n| (size.saturating_sub(n), size)),
        // Not a range at all: ignored, as HTTP allows (RFC 9110, 14.2).
        (Err(_), _) => return Wanted::Whole,
    };
    match bounds {
        Some((start, end)) if start < end => Wanted::Part(start, end),
        _ => Wanted::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(range: &str, size: u64) -> Option<(u64, u64)> {
        match wanted(Some(range), size) {
            Wanted::Whole => Some((0, size)),
            Wanted::Part(start, end) => Some((start, end)),
            Wanted::Unsatisfiable => None,
        }
    }

    #[test]
    fn ranges_are_read_as_http_reads_them_whatever_their_numbers() {
        assert_eq!(asked("bytes=0-9", 100), Some((0, 10)));
        assert_eq!(asked("bytes=90-", 100), Some((90, 100)));
        assert_eq!(asked("bytes=-10", 100), Some((90, 100)));
        assert_eq!(asked("bytes=0-18446744073709551615", 100), Some((0, 100)));
        assert_eq!(asked("bytes=5-3", 100), None);
        assert_eq!(asked("bytes=0-1,5-6", 100), Some((0, 100)));
        assert_eq!(asked("bytes=100-", 100), None);
        assert_eq!(asked("bytes=-0", 100), None);
        assert_eq!(asked("bytes=x-1", 100), Some((0, 100)));
        assert_eq!(asked("bytes=1-x", 100), None);
    }
}
