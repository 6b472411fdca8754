//! pkt-line framing and side-band multiplexing (gitprotocol-common, gitprotocol-pack).
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

/// The largest pkt-line git sends or accepts, length prefix included.
pub const MAX_PKT_LEN: usize = 65520;

/// The flush packet that ends a section.
pub const FLUSH: &[u8] = b"0000";

/// One decoded pkt-line.
#[derive(Debug, PartialEq, Eq)]
pub enum Pkt<'a> {
    /// `0000`
    Flush,
    /// `0001`, the protocol v2 delimiter.
    Delim,
    /// `0002`, the protocol v2 response end.
    ResponseEnd,
    /// A data line, without its length prefix.
    Data(&'a [u8]),
}

/// Why a pkt-line is not well formed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PktError {
    /// The four-byte length is not hexadecimal.
    #[error("malformed pkt-line length {0:?}")]
    Length(String),
    /// `0003`: shorter than its own prefix, and not one of the special packets.
    #[error("malformed pkt-line length 0003")]
    Reserved,
    /// Longer than git sends or accepts.
    #[error("pkt-line of {0} bytes exceeds the limit of {MAX_PKT_LEN}")]
    TooLong(usize),
}

/// Decodes the pkt-line at the start of `buf`: `Ok(None)` when more bytes are needed,
/// otherwise the packet and how many bytes it took.
pub fn decode(buf: &[u8]) -> Result<Option<(Pkt<'_>, usize)>, PktError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let len = std::str::from_utf8(prefix)
        .ok()
        .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|s| usize::from_str_radix(s, 16).ok())
        .ok_or_else(|| PktError::Length(String::from_utf8_lossy(prefix).into()))?;
    let pkt = match len {
        0 => Pkt::Flush,
        1 => Pkt::Delim,
        2 => Pkt::ResponseEnd,
        3 => return Err(PktError::Reserved),
        n if n > MAX_PKT_LEN => return Err(PktError::TooLong(n)),
        n => match buf.get(4..n) {
            Some(data) => Pkt::Data(data),
            None => return Ok(None),
        },
    };
    Ok(Some((pkt, len.max(4))))
}

/// Appends one data pkt-line.
pub fn write(out: &mut Vec<u8>, data: &[u8]) {
    debug_assert!(data.len() + 4 <= MAX_PKT_LEN);
    write_len(out, data.len() + 4);
    out.extend_from_slice(data);
}

/// Appends a pkt-line's four-digit hex length (lower-case, as git writes it).
fn write_len(out: &mut Vec<u8>, len: usize) {
    out.extend(
        [12, 8, 4, 0].map(|shift| match ((len >> shift) & 0xf) as u8 {
            digit @ 0..=9 => b'0' + digit,
            digit => b'a' + digit - 10,
        }),
    );
}

/// Appends `text` as one pkt-line.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    write(out, text.as_bytes());
}

/// Side-band channels (gitprotocol-pack "side-band").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Band {
    /// Pack or report data.
    Data = 1,
    /// Progress text for the user's terminal.
    Progress = 2,
    /// A fatal error message.
    Error = 3,
}

/// How a response is framed, as negotiated by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SideBand {
    /// No side-band: data goes out as is, progress is dropped.
    None,
    /// `side-band`: frames of at most 1000 bytes.
    Small,
    /// `side-band-64k`: frames of at most 65520 bytes.
    Large,
}

impl SideBand {
    /// Appends `data` on `band`, split into frames no larger than the negotiated size.
    pub fn write(self, out: &mut Vec<u8>, band: Band, data: &[u8]) {
        let max = match self {
            SideBand::None => {
                if band == Band::Data {
                    out.extend_from_slice(data);
                }
                return;
            }
            SideBand::Small => 1000 - 5,
            SideBand::Large => MAX_PKT_LEN - 5,
        };
        for frame in data.chunks(max) {
            write_len(out, frame.len() + 5);
            out.push(band as u8);
            out.extend_from_slice(frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_waits_for_more() {
        let mut out = Vec::new();
        write_str(&mut out, "hello\n");
        out.extend_from_slice(FLUSH);
        assert_eq!(&out[..4], b"000a");
        assert_eq!(decode(&out).unwrap(), Some((Pkt::Data(b"hello\n"), 10)));
        assert_eq!(decode(&out[10..]).unwrap(), Some((Pkt::Flush, 4)));
        assert_eq!(decode(&out[..7]).unwrap(), None);
        assert_eq!(decode(b"00").unwrap(), None);
    }

    #[test]
    fn rejects_malformed_lengths() {
        let err = |buf: &[u8]| decode(buf).unwrap_err().to_string();
        assert_eq!(err(b"zzzz"), "malformed pkt-line length \"zzzz\"");
        assert_eq!(err(b"0003"), "malformed pkt-line length 0003");
        assert_eq!(
            err(b"fff1"),
            "pkt-line of 65521 bytes exceeds the limit of 65520"
        );
        assert_eq!(err(b"+fff"), "malformed pkt-line length \"+fff\"");
        assert_eq!(decode(b"0001"), Ok(Some((Pkt::Delim, 4))));
        assert_eq!(decode(b"0002"), Ok(Some((Pkt::ResponseEnd, 4))));
        // The largest pkt-line git writes is exactly at the limit.
        let mut largest = b"fff0".to_vec();
        largest.resize(MAX_PKT_LEN, b'x');
        assert_eq!(
            decode(&largest),
            Ok(Some((Pkt::Data(&largest[4..]), MAX_PKT_LEN)))
        );
    }

    #[test]
    fn side_band_splits_frames() {
        let mut out = Vec::new();
        SideBand::Small.write(&mut out, Band::Data, &[7; 2000]);
        assert_eq!(&out[..5], b"03e8\x01");
        assert_eq!(out.len(), 2000 + 3 * 5);
        let mut large = Vec::new();
        SideBand::Large.write(&mut large, Band::Error, &[7; 70_000]);
        assert_eq!(&large[..5], b"fff0\x03");
        assert_eq!(&large[MAX_PKT_LEN..MAX_PKT_LEN + 5], b"118a\x03");
        assert_eq!(large.len(), 70_000 + 2 * 5);
        let mut progress = Vec::new();
        SideBand::Large.write(&mut progress, Band::Progress, b"hi");
        assert_eq!(progress, b"0007\x02hi");
        let mut data = Vec::new();
        SideBand::None.write(&mut data, Band::Data, b"as is");
        assert_eq!(data, b"as is");
        let mut written = Vec::new();
        write(&mut written, b"\x00\xff");
        assert_eq!(written, b"0006\x00\xff");
        let mut plain = Vec::new();
        SideBand::None.write(&mut plain, Band::Progress, b"dropped");
        assert!(plain.is_empty());
    }
}
