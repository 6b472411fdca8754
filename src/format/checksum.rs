//! A SHA-1 whose state can be saved as text and taken up again later: a pack written over
//! several maintenance slices is hashed across them, each slice resuming where the last
//! stopped, which a hasher that lives only in memory cannot do.

use sha1::digest::generic_array::GenericArray;

/// SHA-1's initial state.
const INITIAL: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// A SHA-1 in progress: the state after every whole 64-byte block, and the bytes since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checksum {
    state: [u32; 5],
    /// Bytes hashed so far.
    len: u64,
    /// The bytes of the block not yet complete (fewer than 64).
    pending: Vec<u8>,
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum {
            state: INITIAL,
            len: 0,
            pending: Vec::with_capacity(64),
        }
    }
}

impl Checksum {
    /// Hashes `bytes` after what came before.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if !self.pending.is_empty() {
            let take = (64 - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() < 64 {
                return;
            }
            let block = std::mem::take(&mut self.pending);
            self.blocks(&block);
        }
        let whole = bytes.len() - bytes.len() % 64;
        self.blocks(&bytes[..whole]);
        self.pending.extend_from_slice(&bytes[whole..]);
    }

    fn blocks(&mut self, bytes: &[u8]) {
        let blocks: Vec<_> = bytes
            .chunks_exact(64)
            .map(|b| *GenericArray::from_slice(b))
            .collect();
        sha1::compress(&mut self.state, &blocks);
    }

    /// The digest of everything hashed.
    pub fn finish(mut self) -> [u8; 20] {
        let bits = self.len.wrapping_mul(8);
        let mut tail = std::mem::take(&mut self.pending);
        tail.push(0x80);
        while tail.len() % 64 != 56 {
            tail.push(0);
        }
        tail.extend_from_slice(&bits.to_be_bytes());
        self.blocks(&tail);
        let mut out = [0; 20];
        for (word, bytes) in self.state.iter().zip(out.chunks_exact_mut(4)) {
            bytes.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// The state as text, for [`Checksum::resume`].
    pub fn save(&self) -> String {
        let words: Vec<String> = self.state.iter().map(|w| format!("{w:08x}")).collect();
        format!(
            "{} {} {}",
            words.concat(),
            self.len,
            hex::encode(&self.pending)
        )
    }

    /// Takes up a state [`Checksum::save`] wrote; None if `text` is not one.
    pub fn resume(text: &str) -> Option<Checksum> {
        let mut parts = text.split(' ');
        let words = parts.next().filter(|w| w.len() == 40)?;
        let len: u64 = parts.next()?.parse().ok()?;
        let pending = hex::decode(parts.next()?).ok()?;
        if parts.next().is_some() || pending.len() as u64 != len % 64 {
            return None;
        }
        let mut state = [0; 5];
        for (i, word) in state.iter_mut().enumerate() {
            *word = u32::from_str_radix(words.get(i * 8..i * 8 + 8)?, 16).ok()?;
        }
        Some(Checksum {
            state,
            len,
            pending,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha1::{Digest, Sha1};

    #[test]
    fn equals_sha1_however_the_bytes_are_split_and_saved() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for len in [0, 1, 55, 56, 63, 64, 65, 119, 128, 1000] {
            let want: [u8; 20] = Sha1::digest(&data[..len]).into();
            for split in [0, 1, 63, 64, 100].into_iter().filter(|&s| s <= len) {
                let mut first = Checksum::default();
                first.update(&data[..split]);
                // Pieces shorter and longer than a block.
                for size in [37, 100] {
                    let mut second = Checksum::resume(&first.save()).unwrap();
                    for piece in data[split..len].chunks(size) {
                        second.update(piece);
                    }
                    assert_eq!(second.finish(), want, "len {len} split {split} by {size}");
                }
            }
        }
    }

    #[test]
    fn a_saved_state_that_does_not_add_up_is_refused() {
        let mut sum = Checksum::default();
        sum.update(b"abc");
        let text = sum.save();
        assert_eq!(Checksum::resume(&text), Some(sum));
        assert_eq!(Checksum::resume(&text.replace(" 3 ", " 4 ")), None);
        assert_eq!(Checksum::resume(&text[1..]), None);
        assert_eq!(Checksum::resume(&format!("{text} x")), None);
    }
}
