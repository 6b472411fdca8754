//! The answer to a fetch, read as it streams in: the lines before the pack (v2's sections
//! up to `packfile`, v0's `NAK`), then the side-band, whose first band is the pack.

use super::{lossy, text, FetchError, Protocol};
use crate::format::pktline::{self, Pkt};

/// Where the answer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Before the pack: v2's sections, or v0's acknowledgement.
    Lines,
    /// In the side-band that carries the pack.
    Pack,
    /// After the flush that ends it.
    Done,
}

/// Takes the pack out of a fetch's answer, a piece at a time.
pub struct Demux {
    protocol: Protocol,
    phase: Phase,
    /// Bytes of a pkt-line not complete yet (at most one pkt-line and a piece).
    pending: Vec<u8>,
    /// Pack bytes taken so far.
    bytes: u64,
    /// The pack's first 12 bytes, for its object count.
    header: Vec<u8>,
}

impl Demux {
    /// Reads an answer in `protocol`.
    pub fn new(protocol: Protocol) -> Demux {
        Demux {
            protocol,
            phase: Phase::Lines,
            pending: Vec::new(),
            bytes: 0,
            header: Vec::new(),
        }
    }

    /// Takes the next piece of the answer; returns the pack bytes it carried. Anything
    /// after the flush that ends the pack is refused, so that what is held stays bounded.
    pub fn feed(&mut self, piece: &[u8]) -> Result<Vec<u8>, FetchError> {
        if self.phase == Phase::Done && !piece.is_empty() {
            return Err(super::protocol("data after the end of the pack"));
        }
        self.pending.extend_from_slice(piece);
        let mut pack = Vec::new();
        let mut pos = 0;
        while self.phase != Phase::Done {
            let rest = self.pending.get(pos..).unwrap_or_default();
            let Some((pkt, len)) = pktline::decode(rest)? else {
                break;
            };
            pos += len;
            match (self.phase, pkt) {
                (Phase::Lines, pkt) => {
                    if starts_pack(self.protocol, pkt)? {
                        self.phase = Phase::Pack;
                    }
                }
                (_, Pkt::Flush) => self.phase = Phase::Done,
                (_, Pkt::Data(frame)) => match frame.split_first() {
                    Some((1, data)) => pack.extend_from_slice(data),
                    Some((2, _)) => {}
                    Some((3, message)) => {
                        return Err(FetchError::Remote(lossy(text(message))));
                    }
                    _ => return Err(super::protocol("bad band in the side-band")),
                },
                (_, other) => return Err(super::protocol(&format!("unexpected {other:?}"))),
            }
        }
        self.pending.drain(..pos.min(self.pending.len()));
        if self.phase == Phase::Done && !self.pending.is_empty() {
            return Err(super::protocol("data after the end of the pack"));
        }
        self.count(&pack);
        Ok(pack)
    }

    fn count(&mut self, pack: &[u8]) {
        self.bytes += pack.len() as u64;
        let missing = 12usize.saturating_sub(self.header.len());
        self.header
            .extend_from_slice(pack.get(..missing.min(pack.len())).unwrap_or_default());
    }

    /// The answer has ended: an error unless the pack's side-band ended with its flush.
    pub fn finish(&self) -> Result<(), FetchError> {
        match self.phase {
            Phase::Done => Ok(()),
            _ => Err(FetchError::EarlyEof),
        }
    }

    /// Whether the pack's side-band has ended.
    pub fn done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Pack bytes taken so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The object count the pack's header declares, once it has come.
    pub fn objects(&self) -> Option<u32> {
        let count = self.header.get(8..12)?;
        Some(u32::from_be_bytes(count.try_into().ok()?))
    }
}

/// Whether `pkt`, a line before the pack, is the last one before it.
fn starts_pack(protocol: Protocol, pkt: Pkt) -> Result<bool, FetchError> {
    let line = match pkt {
        Pkt::Data(line) => text(line),
        // v2 separates its sections with delimiters.
        Pkt::Delim if protocol == Protocol::V2 => return Ok(false),
        other => return Err(super::protocol(&format!("unexpected {other:?}"))),
    };
    if let Some(message) = line.strip_prefix(b"ERR ") {
        return Err(FetchError::Remote(lossy(message)));
    }
    Ok(match protocol {
        Protocol::V2 => line == b"packfile",
        Protocol::V0 => line == b"NAK" || line.starts_with(b"ACK "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::pktline::{Band, SideBand};

    fn answer(protocol: Protocol, pack: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match protocol {
            Protocol::V2 => pktline::write_str(&mut out, "packfile\n"),
            Protocol::V0 => pktline::write_str(&mut out, "NAK\n"),
        }
        SideBand::Large.write(&mut out, Band::Progress, b"Counting objects\n");
        SideBand::Large.write(&mut out, Band::Data, pack);
        out.extend_from_slice(pktline::FLUSH);
        out
    }

    #[test]
    fn takes_the_pack_out_in_any_pieces() {
        let mut pack = b"PACK\0\0\0\x02\0\0\0\x07".to_vec();
        pack.extend((0..200_000u32).map(|i| i as u8));
        for protocol in [Protocol::V2, Protocol::V0] {
            let wire = answer(protocol, &pack);
            for size in [1, 7, 4096, wire.len()] {
                let mut demux = Demux::new(protocol);
                let mut out = Vec::new();
                for piece in wire.chunks(size) {
                    out.extend(demux.feed(piece).unwrap());
                }
                demux.finish().unwrap();
                assert_eq!(out, pack);
                assert_eq!(demux.objects(), Some(7));
                assert_eq!(demux.bytes(), pack.len() as u64);
            }
        }
    }

    #[test]
    fn reports_errors_and_cut_answers() {
        let mut demux = Demux::new(Protocol::V2);
        let mut wire = Vec::new();
        pktline::write_str(&mut wire, "packfile\n");
        SideBand::Large.write(&mut wire, Band::Error, b"upload-pack: not our ref\n");
        let err = demux.feed(&wire).unwrap_err();
        assert_eq!(err.to_string(), "remote error: upload-pack: not our ref");
        let mut demux = Demux::new(Protocol::V0);
        let wire = answer(Protocol::V0, b"PACK");
        demux.feed(wire.get(..wire.len() - 4).unwrap()).unwrap();
        assert_eq!(demux.finish(), Err(FetchError::EarlyEof));
        let mut err = Vec::new();
        pktline::write_str(&mut err, "ERR access denied\n");
        let refused = Demux::new(Protocol::V0).feed(&err).unwrap_err();
        assert_eq!(refused.to_string(), "remote error: access denied");
        // Nothing may follow the end, in the same piece or later ones.
        let mut wire = answer(Protocol::V2, b"PACK");
        let mut demux = Demux::new(Protocol::V2);
        demux.feed(&wire).unwrap();
        assert!(demux.done());
        assert!(demux.feed(b"0004").is_err());
        wire.extend_from_slice(b"more");
        assert!(Demux::new(Protocol::V2).feed(&wire).is_err());
    }
}
