//! zlib streams as git stores them: loose objects and pack entries. Backed by zlib-rs
//! (through flate2), a Rust port of zlib that inflates git's many small streams markedly
//! faster than miniz_oxide in wasm.

use std::cell::RefCell;
use std::ops::ControlFlow;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The compression level for objects we deflate ourselves (git's `core.compression` default).
pub const LEVEL: u32 = 6;

/// A zlib or gzip stream that does not decode.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("corrupt zlib stream")]
pub struct ZlibError;

/// Deflates `data` into one zlib stream.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let mut deflater = Deflater::new();
    let mut collect = |piece: &[u8]| {
        out.extend_from_slice(piece);
        Ok::<(), std::convert::Infallible>(())
    };
    let Ok(()) = deflater.feed(data, &mut collect);
    let Ok(()) = deflater.finish(&mut collect);
    out
}

/// One zlib stream deflated as its data arrives, handing on compressed bytes as they come.
pub struct Deflater {
    state: Compress,
    scratch: Vec<u8>,
}

impl Default for Deflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Deflater {
    /// A new stream at git's level.
    pub fn new() -> Deflater {
        Deflater {
            state: Compress::new(Compression::new(LEVEL), true),
            scratch: vec![0; 64 * 1024],
        }
    }

    /// Starts over on a new stream.
    pub fn reset(&mut self) {
        self.state.reset();
    }

    /// Deflates the next bytes of the data.
    pub fn feed<E>(
        &mut self,
        mut input: &[u8],
        out: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        while !input.is_empty() {
            let used = self.step(input, FlushCompress::None, out)?.0;
            input = &input[used..];
        }
        Ok(())
    }

    /// Ends the stream.
    pub fn finish<E>(&mut self, out: &mut dyn FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        while !self.step(&[], FlushCompress::Finish, out)?.1 {}
        Ok(())
    }

    /// One call into zlib: the input it used, and whether the stream ended.
    fn step<E>(
        &mut self,
        input: &[u8],
        flush: FlushCompress,
        out: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(usize, bool), E> {
        let (before_in, before_out) = (self.state.total_in(), self.state.total_out());
        // Compressing into a buffer of the right size cannot fail.
        let status = self
            .state
            .compress(input, &mut self.scratch, flush)
            .unwrap_or(Status::BufError);
        let produced = (self.state.total_out() - before_out) as usize;
        if produced > 0 {
            out(&self.scratch[..produced])?;
        }
        let used = (self.state.total_in() - before_in) as usize;
        Ok((used, status == Status::StreamEnd))
    }
}

/// Decodes a gzip member (RFC 1952), as git sends large upload-pack requests, refusing to
/// produce more than `limit` bytes.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, ZlibError> {
    let flags = *data.get(3).ok_or(ZlibError)?;
    if data.get(..3) != Some(&[0x1f, 0x8b, 8][..]) || flags & 0xe0 != 0 {
        return Err(ZlibError);
    }
    let mut pos = 10;
    if flags & 4 != 0 {
        let len = data.get(pos..pos + 2).ok_or(ZlibError)?;
        pos += 2 + u16::from_le_bytes([len[0], len[1]]) as usize;
    }
    for flag in [8, 16] {
        if flags & flag != 0 {
            let rest = data.get(pos..).ok_or(ZlibError)?;
            pos += rest.iter().position(|&b| b == 0).ok_or(ZlibError)? + 1;
        }
    }
    if flags & 2 != 0 {
        pos += 2;
    }
    let body = data.get(pos..).filter(|b| b.len() >= 8).ok_or(ZlibError)?;
    let (deflated, trailer) = body.split_at(body.len() - 8);
    let mut inflater = Inflater::with_format(false);
    let mut out = Vec::new();
    let (used, done) = inflater.feed(deflated, &mut |chunk| {
        out.extend_from_slice(chunk);
        match out.len() > limit {
            true => ControlFlow::Break(()),
            false => ControlFlow::Continue(()),
        }
    })?;
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    if !done || used != deflated.len() || out.len() > limit {
        return Err(ZlibError);
    }
    if crc32fast::hash(&out) != crc || out.len() as u32 != size {
        return Err(ZlibError);
    }
    Ok(out)
}

/// An incremental inflater that reports exactly where its stream ends, so that the
/// next pack entry can start right after it.
pub struct Inflater {
    state: Decompress,
    scratch: Vec<u8>,
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Inflater {
    /// A fresh inflater for one zlib stream.
    pub fn new() -> Inflater {
        Inflater::with_format(true)
    }

    /// An inflater for a zlib stream, or for raw deflate data (`zlib == false`).
    fn with_format(zlib: bool) -> Inflater {
        Inflater {
            state: Decompress::new(zlib),
            scratch: vec![0; 64 * 1024],
        }
    }

    /// Starts over on a new stream.
    pub fn reset(&mut self) {
        self.state.reset(true);
    }

    /// Feeds `input`, handing every inflated piece to `sink`, which may stop the inflating
    /// (when it has seen more than it allows). Returns how many input bytes were used and
    /// whether the stream ended (then the rest of `input` is not ours).
    pub fn feed(
        &mut self,
        input: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> ControlFlow<()>,
    ) -> Result<(usize, bool), ZlibError> {
        let mut used = 0;
        loop {
            let (before_in, before_out) = (self.state.total_in(), self.state.total_out());
            let status = self
                .state
                .decompress(&input[used..], &mut self.scratch, FlushDecompress::None)
                .map_err(|_| ZlibError)?;
            let consumed = (self.state.total_in() - before_in) as usize;
            let produced = (self.state.total_out() - before_out) as usize;
            used += consumed;
            if produced > 0 && sink(&self.scratch[..produced]).is_break() {
                return Ok((used, false));
            }
            match status {
                Status::StreamEnd => return Ok((used, true)),
                Status::Ok | Status::BufError => {
                    if consumed == 0 && produced == 0 {
                        return Ok((used, false));
                    }
                }
            }
        }
    }
}

thread_local! {
    /// One inflater reused for every stream read: making one costs more than inflating a
    /// small pack entry.
    static INFLATER: RefCell<Inflater> = RefCell::new(Inflater::new());
}

/// Runs `work` with an inflater ready for a new zlib stream: the shared one, or a new one
/// should the shared one be in use.
pub fn with_inflater<T>(work: impl FnOnce(&mut Inflater) -> T) -> T {
    INFLATER.with(|shared| match shared.try_borrow_mut() {
        Ok(mut inflater) => {
            inflater.reset();
            work(&mut inflater)
        }
        Err(_) => work(&mut Inflater::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_deflated_in_pieces_inflates_to_its_data() {
        let data: Vec<u8> = (0..300_000u32)
            .map(|i| (i % 251) as u8 ^ (i >> 9) as u8)
            .collect();
        let mut deflater = Deflater::new();
        let mut stream = Vec::new();
        let mut collect = |piece: &[u8]| {
            stream.extend_from_slice(piece);
            Ok::<(), ()>(())
        };
        for piece in data.chunks(7919) {
            deflater.feed(piece, &mut collect).unwrap();
        }
        deflater.finish(&mut collect).unwrap();
        let mut out = Vec::new();
        let (used, done) = Inflater::new()
            .feed(&stream, &mut |c| {
                out.extend_from_slice(c);
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!((used, done), (stream.len(), true));
        assert_eq!(out, data);
    }

    #[test]
    fn finds_the_end_of_a_stream_fed_in_pieces() {
        let first = deflate(&vec![b'a'; 100_000]);
        let mut input = first.clone();
        input.extend_from_slice(b"NEXT");
        let mut inflater = Inflater::new();
        let mut out = Vec::new();
        let mut used_total = 0;
        for piece in input.chunks(7) {
            let (used, done) = inflater
                .feed(piece, &mut |c| {
                    out.extend_from_slice(c);
                    ControlFlow::Continue(())
                })
                .unwrap();
            used_total += used;
            if done {
                break;
            }
        }
        assert_eq!(used_total, first.len());
        assert_eq!(out, vec![b'a'; 100_000]);
    }

    #[test]
    fn stops_when_the_sink_has_seen_enough() {
        // 16 MiB of zeros deflate to about 16 KiB; the sink stops after its first piece.
        let bomb = deflate(&vec![0; 16 << 20]);
        let mut pieces = 0;
        let (used, done) = Inflater::new()
            .feed(&bomb, &mut |_| {
                pieces += 1;
                ControlFlow::Break(())
            })
            .unwrap();
        assert_eq!((pieces, done), (1, false));
        assert!(used < bomb.len() / 10, "used {used} of {}", bomb.len());
    }

    #[test]
    fn gunzips_what_gzip_writes() {
        // `printf hello | gzip -n`
        let gz = [
            0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0, 0x86, 0xa6,
            0x10, 0x36, 5, 0, 0, 0,
        ];
        assert_eq!(gunzip(&gz, 100).unwrap(), b"hello");
        assert!(gunzip(&gz, 4).is_err());
        assert!(gunzip(&gz[..gz.len() - 1], 100).is_err());
        assert!(gunzip(b"hello", 100).is_err());
    }

    #[test]
    fn rejects_corruption_and_reports_an_unfinished_stream() {
        let data = deflate(b"hello");
        let inflate = |input: &[u8]| {
            let mut out = Vec::new();
            Inflater::new()
                .feed(input, &mut |c| {
                    out.extend_from_slice(c);
                    ControlFlow::Continue(())
                })
                .map(|(_, done)| (done, out))
        };
        assert_eq!(inflate(&data), Ok((true, b"hello".to_vec())));
        assert_eq!(
            inflate(&data[..data.len() - 1]).map(|(done, _)| done),
            Ok(false)
        );
        let mut bad_header = data.clone();
        bad_header[0] = 0x00;
        assert_eq!(inflate(&bad_header), Err(ZlibError));
        let mut bad_block = data.clone();
        bad_block[2] |= 0x06; // block type 3, which deflate reserves
        assert_eq!(inflate(&bad_block), Err(ZlibError));
        let mut bad_checksum = data.clone();
        *bad_checksum.last_mut().unwrap() ^= 1;
        assert!(inflate(&bad_checksum).is_err());
    }
}
