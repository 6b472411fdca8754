//! A pack's ends file: the count of its entries, where each starts in pack order, then where
//! its trailer starts, each a number of 8 bytes big-endian. It is git's reverse index told
//! in offsets: an entry's compressed data end where the next entry starts, so an entry is
//! copied into another pack without being inflated to find its end (git's `pack-objects`
//! reuses entries so, through the `.rev` file or the reverse index it builds).

use super::pack::{read_bytes, ChunkSource, PackError};

/// Bytes of each number.
const WIDTH: usize = 8;

/// The bytes of a number of the file, as it is written.
pub fn encode(number: u64) -> [u8; WIDTH] {
    number.to_be_bytes()
}

/// Number `at` of the file in `src` (the count is number 0).
fn number(src: &dyn ChunkSource, at: u64) -> Result<u64, PackError> {
    count(&read_bytes(src, at * WIDTH as u64, WIDTH)?)
}

/// Bytes of the file's head, which holds the count.
pub const HEAD: usize = WIDTH;

/// Entries an ends file lists, read from its `head` (any number of the file reads so).
pub fn count(head: &[u8]) -> Result<u64, PackError> {
    let head: [u8; WIDTH] = head.try_into().map_err(|_| PackError::BadEnds)?;
    Ok(u64::from_be_bytes(head))
}

/// Where the compressed data of the entry at `offset` end, and the entry's place in pack
/// order, from the ends file in `src` of `count` entries, searched by bisection from the
/// place `hint` (the last found: copies mostly go in pack order). None when no entry
/// starts at `offset`.
pub fn end_of(
    src: &dyn ChunkSource,
    count: u64,
    offset: u64,
    hint: u64,
) -> Result<Option<(u64, u64)>, PackError> {
    let start = |i: u64| number(src, 1 + i);
    let (mut low, mut high) = (0, count);
    if hint < count && start(hint)? <= offset {
        // Gallop forward from the hint: the next entry copied is most often close after.
        low = hint;
        let mut step = 1;
        while low + step < count && start(low + step)? <= offset {
            low += step;
            step *= 2;
        }
        high = (low + step).min(count);
    }
    // The last entry starting at or before `offset` is in `low..high`, if any is.
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if start(mid)? <= offset {
            low = mid;
        } else {
            high = mid;
        }
    }
    if low >= count || start(low)? != offset {
        return Ok(None);
    }
    Ok(Some((start(low + 1)?, low)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    /// A file in chunks of 16 bytes (two numbers), as stored rows would hold it.
    struct Chunks(Vec<u8>);

    impl ChunkSource for Chunks {
        fn chunk_size(&self) -> u64 {
            16
        }

        fn chunk(&self, seq: u64) -> Result<Rc<Vec<u8>>, PackError> {
            let from = (seq as usize * 16).min(self.0.len());
            let to = (from + 16).min(self.0.len());
            Ok(Rc::new(self.0[from..to].to_vec()))
        }
    }

    fn file(starts: &[u64], trailer: u64) -> Chunks {
        let mut bytes = encode(starts.len() as u64).to_vec();
        for n in starts.iter().chain([&trailer]) {
            bytes.extend_from_slice(&encode(*n));
        }
        Chunks(bytes)
    }

    #[test]
    fn finds_each_entry_end_from_any_hint_and_nothing_between_entries() {
        let starts: Vec<u64> = (0..37).map(|i| 12 + i * (i + 2)).collect();
        let src = file(&starts, 2000);
        assert_eq!(count(&src.0[..HEAD]).unwrap(), 37);
        for hint in [0, 5, 36, 37, 99] {
            for (i, &start) in starts.iter().enumerate() {
                let end = starts.get(i + 1).copied().unwrap_or(2000);
                let found = end_of(&src, 37, start, hint).unwrap();
                assert_eq!(found, Some((end, i as u64)));
                assert_eq!(end_of(&src, 37, start + 1, hint).unwrap(), None, "{start}");
            }
            assert_eq!(end_of(&src, 37, 0, hint).unwrap(), None);
            assert_eq!(end_of(&src, 37, 2000, hint).unwrap(), None);
        }
    }

    #[test]
    fn a_file_cut_short_is_an_error_and_no_file_or_no_entry_finds_nothing() {
        let mut src = file(&[12, 40, 90], 120);
        src.0.truncate(30);
        assert!(matches!(end_of(&src, 3, 40, 0), Err(PackError::BadEnds)));
        assert!(matches!(count(&[0; 7]), Err(PackError::BadEnds)));
        let empty = file(&[], 12);
        assert_eq!(count(&empty.0[..HEAD]).unwrap(), 0);
        assert_eq!(end_of(&empty, 0, 12, 0).unwrap(), None);
    }
}
