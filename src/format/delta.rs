//! Applying git's binary deltas (the payload of OFS_DELTA and REF_DELTA pack entries).

/// Why a delta cannot be applied to its base.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    /// A size varint runs past the end.
    #[error("truncated delta header")]
    TruncatedHeader,
    /// A size varint does not fit.
    #[error("delta size overflows")]
    SizeOverflows,
    /// The base is not the size the delta was made against.
    #[error("delta base size mismatch")]
    BaseSizeMismatch,
    /// An instruction runs past the end.
    #[error("truncated delta")]
    Truncated,
    /// A copy reaches outside the base.
    #[error("delta copies out of bounds")]
    CopyOutOfBounds,
    /// Opcode 0, which git reserves.
    #[error("delta has a reserved opcode")]
    ReservedOpcode,
    /// The instructions produce more than the declared result size.
    #[error("delta result is longer than declared")]
    ResultTooLong,
    /// The instructions produce less than the declared result size.
    #[error("delta result size mismatch")]
    ResultSizeMismatch,
}

/// Reads a size varint at `*pos`: None when `data` ends first.
fn varint(data: &[u8], pos: &mut usize) -> Result<Option<u64>, DeltaError> {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let Some(&byte) = data.get(*pos) else {
            return Ok(None);
        };
        *pos += 1;
        if shift > 56 {
            return Err(DeltaError::SizeOverflows);
        }
        value |= ((byte & 0x7f) as u64) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return Ok(Some(value));
        }
    }
}

/// The base size and result size a delta declares.
pub fn sizes(delta: &[u8]) -> Result<(u64, u64), DeltaError> {
    let mut pos = 0;
    let mut next = || varint(delta, &mut pos)?.ok_or(DeltaError::TruncatedHeader);
    Ok((next()?, next()?))
}

/// What a delta's copies read from: the base object, held in memory or kept elsewhere.
pub trait DeltaBase<E> {
    /// The base's size in bytes.
    fn size(&self) -> u64;
    /// Hands the `len` bytes at `offset` (within the base) to `out`, in one or more pieces.
    fn copy(
        &self,
        offset: u64,
        len: u64,
        out: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E>;
}

impl<E> DeltaBase<E> for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn copy(
        &self,
        offset: u64,
        len: u64,
        out: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        out(&self[offset as usize..(offset + len) as usize])
    }
}

/// The longest unit of a delta: an insert of 127 bytes and its opcode (the header's two
/// varints and a copy are shorter).
const MAX_UNIT: usize = 128;

/// A delta applied as its bytes arrive: each instruction's output is handed on as soon as
/// the instruction is read, so neither the delta nor its result is ever held whole.
#[derive(Default)]
pub struct DeltaStream {
    /// The declared base and result sizes, once read.
    sizes: Option<(u64, u64)>,
    /// The start of a unit cut off by the end of the bytes fed so far.
    pending: Vec<u8>,
    produced: u64,
}

impl DeltaStream {
    /// A delta about to be fed from its first byte.
    pub fn new() -> DeltaStream {
        DeltaStream::default()
    }

    /// The declared base and result sizes, once the header has been fed.
    pub fn sizes(&self) -> Option<(u64, u64)> {
        self.sizes
    }

    /// Feeds the next delta bytes, handing the result to `out`. Returns how many bytes it
    /// used: all of them, except that it returns right after the header so that the caller
    /// can act on the declared sizes before any output.
    pub fn feed<E: From<DeltaError>>(
        &mut self,
        input: &[u8],
        base: &(impl DeltaBase<E> + ?Sized),
        out: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<usize, E> {
        let mut used = 0;
        while used < input.len() {
            let had_header = self.sizes.is_some();
            if self.pending.is_empty() {
                match self.step(&input[used..], base, out)? {
                    Some(n) => used += n,
                    None => {
                        self.pending.extend_from_slice(&input[used..]);
                        used = input.len();
                    }
                }
            } else {
                let old = self.pending.len();
                let take = (MAX_UNIT - old).min(input.len() - used);
                let mut unit = std::mem::take(&mut self.pending);
                unit.extend_from_slice(&input[used..used + take]);
                match self.step(&unit, base, out)? {
                    Some(n) => used += n - old,
                    None if unit.len() < MAX_UNIT => {
                        self.pending = unit;
                        used += take;
                    }
                    None => return Err(DeltaError::Truncated.into()),
                }
            }
            if !had_header && self.sizes.is_some() {
                break;
            }
        }
        Ok(used)
    }

    /// Checks that the delta ended where it should, having produced its declared size.
    pub fn finish(&self) -> Result<(), DeltaError> {
        match self.sizes {
            None => Err(DeltaError::TruncatedHeader),
            Some(_) if !self.pending.is_empty() => Err(DeltaError::Truncated),
            Some((_, result)) if result != self.produced => Err(DeltaError::ResultSizeMismatch),
            Some(_) => Ok(()),
        }
    }

    /// Reads one unit (the header, or one instruction) at the start of `bytes` and carries
    /// it out: how many bytes it took, or None when `bytes` ends inside it.
    fn step<E: From<DeltaError>>(
        &mut self,
        bytes: &[u8],
        base: &(impl DeltaBase<E> + ?Sized),
        out: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<Option<usize>, E> {
        let Some((_, result_size)) = self.sizes else {
            let mut pos = 0;
            let (Some(base_size), Some(result_size)) =
                (varint(bytes, &mut pos)?, varint(bytes, &mut pos)?)
            else {
                return Ok(None);
            };
            if base_size != base.size() {
                return Err(DeltaError::BaseSizeMismatch.into());
            }
            self.sizes = Some((base_size, result_size));
            return Ok(Some(pos));
        };
        let cmd = bytes[0];
        let taken = if cmd & 0x80 != 0 {
            let taken = 1 + (cmd & 0x7f).count_ones() as usize;
            let Some(fields) = bytes.get(1..taken) else {
                return Ok(None);
            };
            let (offset, len) = copy_fields(cmd, fields);
            if offset + len > base.size() {
                return Err(DeltaError::CopyOutOfBounds.into());
            }
            self.grow(len, result_size)?;
            base.copy(offset, len, out)?;
            taken
        } else if cmd != 0 {
            let Some(data) = bytes.get(1..1 + cmd as usize) else {
                return Ok(None);
            };
            self.grow(data.len() as u64, result_size)?;
            out(data)?;
            1 + data.len()
        } else {
            return Err(DeltaError::ReservedOpcode.into());
        };
        Ok(Some(taken))
    }

    /// Counts `len` more bytes of result, refusing to pass the declared size.
    fn grow(&mut self, len: u64, result_size: u64) -> Result<(), DeltaError> {
        self.produced += len;
        match self.produced > result_size {
            true => Err(DeltaError::ResultTooLong),
            false => Ok(()),
        }
    }
}

/// The offset and length of a copy instruction `cmd`, whose present bytes are `fields`.
fn copy_fields(cmd: u8, fields: &[u8]) -> (u64, u64) {
    let mut values = [0u64; 2];
    let mut fields = fields.iter();
    let mut bit = 0;
    for (value, bytes) in values.iter_mut().zip([4, 3]) {
        for i in 0..bytes {
            if cmd & (1 << bit) != 0 {
                *value |= (*fields.next().expect("one byte per bit set") as u64) << (8 * i);
            }
            bit += 1;
        }
    }
    let [offset, len] = values;
    (offset, if len == 0 { 0x10000 } else { len })
}

/// Rebuilds the target object from `base` and `delta`, checking every bound.
pub fn apply(base: &[u8], delta: &[u8]) -> Result<Vec<u8>, DeltaError> {
    apply_in_pieces(base, delta, delta.len().max(1))
}

/// [`apply`], feeding the delta to a [`DeltaStream`] `piece` bytes at a time: the same
/// result, or the same refusal, however the delta is cut.
pub fn apply_in_pieces(base: &[u8], delta: &[u8], piece: usize) -> Result<Vec<u8>, DeltaError> {
    let mut stream = DeltaStream::new();
    let mut out = Vec::new();
    for mut bytes in delta.chunks(piece) {
        while !bytes.is_empty() {
            let used = stream.feed(bytes, base, &mut |b: &[u8]| {
                out.extend_from_slice(b);
                Ok::<(), DeltaError>(())
            })?;
            if let (true, Some((_, size))) = (out.is_empty(), stream.sizes()) {
                out.reserve(size.min(1 << 24) as usize);
            }
            bytes = &bytes[used..];
        }
    }
    stream.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_and_inserts() {
        let base = b"hello world";
        // base 11, result 11: copy 6 bytes at 0, insert "there"
        let delta = [11, 11, 0x90, 6, 5, b't', b'h', b'e', b'r', b'e'];
        assert_eq!(apply(base, &delta).unwrap(), b"hello there");
        assert_eq!(sizes(&delta).unwrap(), (11, 11));
    }

    #[test]
    fn feeding_stops_after_the_header_before_any_output() {
        // base 11, result 11: copy 6 bytes at 0, insert "there"
        let delta = [11, 11, 0x90, 6, 5, b't', b'h', b'e', b'r', b'e'];
        let mut stream = DeltaStream::new();
        let mut out = Vec::new();
        let mut feed = |stream: &mut DeltaStream, bytes: &[u8]| {
            stream.feed(bytes, &b"hello world"[..], &mut |b: &[u8]| {
                out.extend_from_slice(b);
                Ok::<(), DeltaError>(())
            })
        };
        assert_eq!(
            feed(&mut stream, &delta),
            Ok(2),
            "the header, and nothing after it"
        );
        assert_eq!(stream.sizes(), Some((11, 11)));
        assert_eq!(
            feed(&mut stream, &delta[2..]),
            Ok(8),
            "then all the rest at once"
        );
        assert_eq!(stream.finish(), Ok(()));
        assert_eq!(out, b"hello there");
    }

    #[test]
    fn a_delta_fed_in_pieces_applies_as_it_does_whole() {
        let base: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        let mut delta = vec![0xac, 0x02, 0xa1, 0x03]; // base 300, result 417
        delta.extend_from_slice(&[0x93, 0x0c, 0x01, 0x20]); // copy 32 at 268
        delta.push(127);
        delta.extend((0..127).map(|i| i as u8));
        delta.extend_from_slice(&[0x90, 0xff, 0x91, 0x05, 0x01]); // copy 255 at 0, 1 at 5
        delta.extend_from_slice(&[0x90, 0x01, 0x01, b'!']); // copy 1 at 0, insert "!"
        let whole = apply(&base, &delta);
        assert_eq!(whole.as_ref().map(Vec::len), Ok(417));
        for piece in [1, 2, 3, 5, 127, 128, 1000] {
            assert_eq!(
                apply_in_pieces(&base, &delta, piece),
                whole,
                "pieces of {piece}"
            );
        }
        for cut in 0..delta.len() {
            for piece in [1, 3] {
                assert_eq!(
                    apply_in_pieces(&base, &delta[..cut], piece),
                    apply(&base, &delta[..cut]),
                    "cut at {cut}, pieces of {piece}"
                );
            }
        }
    }

    #[test]
    fn rejects_out_of_bounds_and_bad_sizes() {
        let base = b"hello";
        // The reasons are pinned by their text, as a client reads them.
        fn err<T>(reason: &str) -> Result<T, DeltaError> {
            use DeltaError::*;
            let every = [
                TruncatedHeader,
                SizeOverflows,
                BaseSizeMismatch,
                Truncated,
                CopyOutOfBounds,
                ReservedOpcode,
                ResultTooLong,
                ResultSizeMismatch,
            ];
            Err(every.into_iter().find(|e| e.to_string() == reason).unwrap())
        }
        // copy 10 bytes at 3 of a 5-byte base: refused, never clamped to what is there
        assert_eq!(
            apply(base, &[5, 10, 0x91, 3, 10]),
            err("delta copies out of bounds")
        );
        assert_eq!(
            apply(base, &[5, 2, 0x91, 4, 2]),
            err("delta copies out of bounds")
        );
        assert_eq!(apply(base, &[5, 5, 0x91, 0, 5]), Ok(base.to_vec()));
        // size 0 means 0x10000
        assert_eq!(
            apply(base, &[5, 5, 0x81, 0]),
            err("delta copies out of bounds")
        );
        let big = vec![7u8; 0x10000];
        assert_eq!(
            apply(&big, &[0x80, 0x80, 4, 0x80, 0x80, 4, 0x80]),
            Ok(big.clone())
        );
        // offset bytes at every position, size bytes at every position
        let mut long = vec![0u8; 0x0302_0100 + 4];
        long[0x0302_0100..].copy_from_slice(b"abcd");
        let mut delta = Vec::new();
        let mut n = long.len();
        while n >= 0x80 {
            delta.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        delta.push(n as u8);
        delta.extend_from_slice(&[4, 0x9f, 0x00, 0x01, 0x02, 0x03, 4]);
        assert_eq!(apply(&long, &delta), Ok(b"abcd".to_vec()));
        assert_eq!(
            apply(base, &[4, 1, 1, b'x']),
            err("delta base size mismatch")
        );
        assert_eq!(
            apply(base, &[5, 2, 1, b'x']),
            err("delta result size mismatch")
        );
        assert_eq!(
            apply(base, &[5, 1, 2, b'x', b'y']),
            err("delta result is longer than declared")
        );
        assert_eq!(apply(base, &[5, 1, 5, b'x']), err("truncated delta"));
        assert_eq!(apply(base, &[5, 1, 0x91, 0]), err("truncated delta"));
        assert_eq!(apply(base, &[5, 1, 0]), err("delta has a reserved opcode"));
        assert_eq!(apply(base, &[5]), err("truncated delta header"));
        assert_eq!(apply(base, &[0xff; 12]), err("delta size overflows"));
        assert_eq!(sizes(&[0xff; 9]), err("truncated delta header"));
        assert_eq!(sizes(&[0x80, 0x01, 0xff, 0x7f]), Ok((128, 0x3fff)));
        // the largest size that fits (nine 7-bit groups), and one more group
        let mut max = vec![0xff; 8];
        max.push(0x7f);
        max.push(0);
        assert_eq!(sizes(&max), Ok(((1 << 63) - 1, 0)));
        let mut over = vec![0xff; 9];
        over.push(0x01);
        assert_eq!(sizes(&over), err("delta size overflows"));
    }
}
