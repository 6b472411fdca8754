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

fn varint(data: &[u8], pos: &mut usize) -> Result<u64, DeltaError> {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let byte = *data.get(*pos).ok_or(DeltaError::TruncatedHeader)?;
        *pos += 1;
        if shift > 56 {
            return Err(DeltaError::SizeOverflows);
        }
        value |= ((byte & 0x7f) as u64) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
}

/// The base size and result size a delta declares.
pub fn sizes(delta: &[u8]) -> Result<(u64, u64), DeltaError> {
    let mut pos = 0;
    Ok((varint(delta, &mut pos)?, varint(delta, &mut pos)?))
}

/// Rebuilds the target object from `base` and `delta`, checking every bound.
pub fn apply(base: &[u8], delta: &[u8]) -> Result<Vec<u8>, DeltaError> {
    let mut pos = 0;
    let base_size = varint(delta, &mut pos)?;
    let result_size = varint(delta, &mut pos)?;
    if base_size != base.len() as u64 {
        return Err(DeltaError::BaseSizeMismatch);
    }
    let mut out = Vec::with_capacity(result_size.min(1 << 24) as usize);
    while pos < delta.len() {
        let cmd = delta[pos];
        pos += 1;
        if cmd & 0x80 != 0 {
            let mut fields = [0usize; 2];
            let mut bit = 0;
            for (field, bytes) in fields.iter_mut().zip([4, 3]) {
                for i in 0..bytes {
                    if cmd & (1 << bit) != 0 {
                        let byte = *delta.get(pos).ok_or(DeltaError::Truncated)?;
                        pos += 1;
                        *field |= (byte as usize) << (8 * i);
                    }
                    bit += 1;
                }
            }
            let [offset, mut size] = fields;
            if size == 0 {
                size = 0x10000;
            }
            let chunk = offset
                .checked_add(size)
                .and_then(|end| base.get(offset..end))
                .ok_or(DeltaError::CopyOutOfBounds)?;
            out.extend_from_slice(chunk);
        } else if cmd != 0 {
            let chunk = delta
                .get(pos..pos + cmd as usize)
                .ok_or(DeltaError::Truncated)?;
            pos += cmd as usize;
            out.extend_from_slice(chunk);
        } else {
            return Err(DeltaError::ReservedOpcode);
        }
        if out.len() as u64 > result_size {
            return Err(DeltaError::ResultTooLong);
        }
    }
    if out.len() as u64 != result_size {
        return Err(DeltaError::ResultSizeMismatch);
    }
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
