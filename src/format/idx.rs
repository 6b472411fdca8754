//! Pack index (`.idx`) version 2, written exactly as `git index-pack` writes it.

use crate::format::object::ObjectId;
use crate::format::pack::{read_bytes, ChunkSource, PackError};

/// Bytes before the object ids: the signature, the version and the fanout table.
const IDS_AT: u64 = 8 + 256 * 4;

/// The signature, the version and the fanout table of a version 2 index, from how many
/// of its objects start with each byte.
pub fn header(first_bytes: &[u32; 256]) -> Vec<u8> {
    let mut out = Vec::with_capacity(IDS_AT as usize);
    out.extend_from_slice(b"\xfftOc\0\0\0\x02");
    let mut total = 0u32;
    for count in first_bytes {
        total += count;
        out.extend_from_slice(&total.to_be_bytes());
    }
    out
}

/// The 4-byte offset word of an entry at `offset`: the offset itself, or for one past
/// 2 GiB a reference to the next 8-byte word appended to `large`.
pub fn offset_word(offset: u64, large: &mut Vec<u8>) -> [u8; 4] {
    let word = if offset > 0x7fff_ffff {
        large.extend_from_slice(&offset.to_be_bytes());
        0x8000_0000 | (large.len() / 8 - 1) as u32
    } else {
        offset as u32
    };
    word.to_be_bytes()
}

/// The pack offset of object `id` in the version 2 index read through `src`, by a binary
/// search that reads a few bytes at each step, never the whole index.
pub fn find(src: &dyn ChunkSource, id: &ObjectId) -> Result<Option<u64>, PackError> {
    let word = |at: u64| -> Result<u32, PackError> {
        let bytes = read_bytes(src, at, 4)?;
        let bytes: [u8; 4] = bytes.try_into().map_err(|_| PackError::BadIdx)?;
        Ok(u32::from_be_bytes(bytes))
    };
    let first = id.0[0] as u64;
    let total = word(8 + 255 * 4)? as u64;
    let mut low = if first == 0 {
        0
    } else {
        word(8 + (first - 1) * 4)? as u64
    };
    let mut high = word(8 + first * 4)? as u64;
    if high > total || low > high {
        return Err(PackError::BadIdx);
    }
    while low < high {
        let middle = low + (high - low) / 2;
        let probe = read_bytes(src, IDS_AT + middle * 20, 20)?;
        match probe.as_slice().cmp(&id.0[..]) {
            std::cmp::Ordering::Equal => {
                let small = word(IDS_AT + total * 24 + middle * 4)?;
                if small & 0x8000_0000 == 0 {
                    return Ok(Some(small as u64));
                }
                let at = IDS_AT + total * 28 + (small & 0x7fff_ffff) as u64 * 8;
                let large = read_bytes(src, at, 8)?;
                let large: [u8; 8] = large.try_into().map_err(|_| PackError::BadIdx)?;
                return Ok(Some(u64::from_be_bytes(large)));
            }
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One object's line: id, offset, CRC.
    #[derive(Clone, Copy)]
    struct IdxEntry {
        id: ObjectId,
        offset: u64,
        crc32: u32,
    }

    /// A whole index, as the streaming writer lays it out.
    fn write(entries: &mut [IdxEntry], pack_checksum: &ObjectId) -> Vec<u8> {
        use sha1::{Digest, Sha1};
        entries.sort_unstable_by_key(|e| e.id);
        let mut first_bytes = [0u32; 256];
        for entry in entries.iter() {
            first_bytes[entry.id.0[0] as usize] += 1;
        }
        let mut out = header(&first_bytes);
        for entry in entries.iter() {
            out.extend_from_slice(&entry.id.0);
        }
        for entry in entries.iter() {
            out.extend_from_slice(&entry.crc32.to_be_bytes());
        }
        let mut large = Vec::new();
        for entry in entries.iter() {
            out.extend_from_slice(&offset_word(entry.offset, &mut large));
        }
        out.extend_from_slice(&large);
        out.extend_from_slice(&pack_checksum.0);
        let checksum: [u8; 20] = Sha1::digest(&out).into();
        out.extend_from_slice(&checksum);
        out
    }

    #[test]
    fn lays_out_fanout_and_large_offsets() {
        let mut entries = vec![
            IdxEntry {
                id: ObjectId([0xff; 20]),
                offset: 12,
                crc32: 1,
            },
            IdxEntry {
                id: ObjectId([0x01; 20]),
                offset: 0x1_0000_0000,
                crc32: 2,
            },
        ];
        let idx = write(&mut entries, &ObjectId([7; 20]));
        assert_eq!(idx.len(), 8 + 1024 + 2 * 28 + 8 + 40);
        assert_eq!(&idx[8 + 4..8 + 8], &1u32.to_be_bytes()); // fanout[1]
        assert_eq!(&idx[8 + 1020..8 + 1024], &2u32.to_be_bytes()); // fanout[255]
        let offsets = 8 + 1024 + 2 * 24;
        assert_eq!(&idx[offsets..offsets + 4], &0x8000_0000u32.to_be_bytes());
        assert_eq!(&idx[offsets + 4..offsets + 8], &12u32.to_be_bytes());
    }

    /// An index in memory, read in chunks of `.1` bytes.
    struct Chunks(Vec<u8>, u64);

    impl ChunkSource for Chunks {
        fn chunk_size(&self) -> u64 {
            self.1
        }

        fn chunk(&self, seq: u64) -> Result<std::rc::Rc<Vec<u8>>, PackError> {
            let start = (seq * self.1) as usize;
            let end = (start + self.1 as usize).min(self.0.len());
            Ok(std::rc::Rc::new(
                self.0.get(start..end).unwrap_or_default().to_vec(),
            ))
        }
    }

    #[test]
    fn finds_every_object_and_no_other() {
        let id = |i: u32| {
            let mut bytes = [0u8; 20];
            bytes[..4].copy_from_slice(&(i.wrapping_mul(2_654_435_761)).to_be_bytes());
            ObjectId(bytes)
        };
        let mut entries: Vec<IdxEntry> = (1..=500)
            .map(|i| IdxEntry {
                id: id(i),
                offset: if i % 7 == 0 {
                    (1 << 33) + i as u64
                } else {
                    12 + i as u64 * 3
                },
                crc32: i,
            })
            .collect();
        let idx = write(&mut entries.clone(), &ObjectId([7; 20]));
        for chunk in [7, 1 << 20] {
            let src = Chunks(idx.clone(), chunk);
            for entry in &entries {
                assert_eq!(find(&src, &entry.id).unwrap(), Some(entry.offset));
            }
            assert_eq!(find(&src, &id(501)).unwrap(), None);
            assert_eq!(find(&src, &ObjectId([0; 20])).unwrap(), None);
            assert_eq!(find(&src, &ObjectId([0xff; 20])).unwrap(), None);
        }
        entries.clear();
        let empty = Chunks(write(&mut entries, &ObjectId([7; 20])), 64);
        assert_eq!(find(&empty, &id(1)).unwrap(), None);
        let short = Chunks(vec![0xff, b't', b'O', b'c', 0, 0, 0, 2, 0, 0], 64);
        assert_eq!(
            find(&short, &id(1)).unwrap_err().to_string(),
            "bad pack index"
        );
    }
}
