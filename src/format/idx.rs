//! Pack index (`.idx`) version 2, written exactly as `git index-pack` writes it.

use sha1::{Digest, Sha1};

use crate::format::object::ObjectId;

/// One object's line in the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdxEntry {
    /// The object id.
    pub id: ObjectId,
    /// The entry's offset in the pack.
    pub offset: u64,
    /// CRC-32 of the entry's raw bytes in the pack (header and compressed data).
    pub crc32: u32,
}

/// Writes a version 2 index for `entries` (any order) of the pack whose trailer is `pack_checksum`.
pub fn write(entries: &mut [IdxEntry], pack_checksum: &ObjectId) -> Vec<u8> {
    entries.sort_unstable_by_key(|e| e.id);
    let mut out = Vec::with_capacity(8 + 256 * 4 + entries.len() * 28 + 40);
    out.extend_from_slice(b"\xfftOc\0\0\0\x02");
    let mut fanout = [0u32; 256];
    for entry in entries.iter() {
        fanout[entry.id.0[0] as usize] += 1;
    }
    let mut total = 0;
    for count in fanout {
        total += count;
        out.extend_from_slice(&total.to_be_bytes());
    }
    for entry in entries.iter() {
        out.extend_from_slice(&entry.id.0);
    }
    for entry in entries.iter() {
        out.extend_from_slice(&entry.crc32.to_be_bytes());
    }
    let mut large = Vec::new();
    for entry in entries.iter() {
        let small = if entry.offset > 0x7fff_ffff {
            large.extend_from_slice(&entry.offset.to_be_bytes());
            0x8000_0000 | (large.len() / 8 - 1) as u32
        } else {
            entry.offset as u32
        };
        out.extend_from_slice(&small.to_be_bytes());
    }
    out.extend_from_slice(&large);
    out.extend_from_slice(&pack_checksum.0);
    let checksum: [u8; 20] = Sha1::digest(&out).into();
    out.extend_from_slice(&checksum);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
