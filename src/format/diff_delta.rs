//! Making a delta (git's `diff-delta.c`): the copy and insert instructions that rebuild a
//! target from a base. The base's 16-byte blocks are indexed by hash; each position of the
//! target looks its block up, and a match is grown both ways into a copy. Memory is the two
//! objects, one index entry per base block and the delta; time is about linear in the two.

/// The length of the blocks the base is indexed by, and the shortest copy made.
const BLOCK: usize = 16;
/// The longest copy one instruction makes (git's encoders stop here too).
const MAX_COPY: usize = 0x10000;
/// The longest insert one instruction makes.
const MAX_INSERT: usize = 0x7f;
/// Base positions tried for one hash: more are skipped, so a base of one repeated block
/// costs no more than a varied one.
const MAX_TRIES: usize = 8;

fn block_hash(block: &[u8]) -> u64 {
    let word = |at: usize| {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&block[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    (word(0) ^ word(8).rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn write_size(out: &mut Vec<u8>, mut size: usize) {
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn write_insert(out: &mut Vec<u8>, bytes: &[u8]) {
    for chunk in bytes.chunks(MAX_INSERT) {
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk);
    }
}

fn write_copy(out: &mut Vec<u8>, mut offset: usize, mut len: usize) {
    while len > 0 {
        let size = len.min(MAX_COPY);
        let mut op = 0x80u8;
        let mut args = Vec::with_capacity(7);
        for i in 0..4 {
            let byte = (offset >> (8 * i)) as u8;
            if byte != 0 {
                op |= 1 << i;
                args.push(byte);
            }
        }
        // A size of 0x10000 is written as none at all.
        let field = if size == MAX_COPY { 0 } else { size };
        for i in 0..3 {
            let byte = (field >> (8 * i)) as u8;
            if byte != 0 {
                op |= 1 << (4 + i);
                args.push(byte);
            }
        }
        out.push(op);
        out.extend_from_slice(&args);
        offset += size;
        len -= size;
    }
}

/// A base's blocks indexed by hash: made once, it serves every target tried against that
/// base (a delta search tries each object against several).
pub struct Index {
    blocks: Vec<(u64, u32)>,
}

impl Index {
    /// The index of `base`, which must be under 4 GiB.
    pub fn new(base: &[u8]) -> Index {
        let mut blocks: Vec<(u64, u32)> = base
            .chunks_exact(BLOCK)
            .enumerate()
            .map(|(i, block)| (block_hash(block), (i * BLOCK) as u32))
            .collect();
        blocks.sort_unstable();
        Index { blocks }
    }

    /// Bytes the index of a base of `len` bytes holds besides it.
    pub fn heap_size_of(len: usize) -> usize {
        len / BLOCK * std::mem::size_of::<(u64, u32)>()
    }

    /// The delta that rebuilds `target` from `base`, the bytes this index was made of, or
    /// None once it would pass `max_size` bytes (a delta that large is not worth it).
    pub fn encode(&self, base: &[u8], target: &[u8], max_size: usize) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        write_size(&mut out, base.len());
        write_size(&mut out, target.len());
        let mut pending = 0;
        let mut at = 0;
        while at + BLOCK <= target.len() {
            let Some((from, len)) = best_match(base, &self.blocks, target, at) else {
                at += 1;
                continue;
            };
            // Grow the match backwards over bytes not yet written.
            let back = (1..=(at - pending).min(from))
                .take_while(|&k| base[from - k] == target[at - k])
                .count();
            write_insert(&mut out, &target[pending..at - back]);
            write_copy(&mut out, from - back, len + back);
            at += len;
            pending = at;
            if out.len() > max_size {
                return None;
            }
        }
        write_insert(&mut out, &target[pending..]);
        (out.len() <= max_size).then_some(out)
    }
}

/// The delta that rebuilds `target` from `base`, or None once it would pass `max_size`
/// bytes. The base must be under 4 GiB.
pub fn encode(base: &[u8], target: &[u8], max_size: usize) -> Option<Vec<u8>> {
    Index::new(base).encode(base, target, max_size)
}

/// The longest match, of at least one block, of `target` at `at` in `base`: its base
/// offset and length.
fn best_match(
    base: &[u8],
    index: &[(u64, u32)],
    target: &[u8],
    at: usize,
) -> Option<(usize, usize)> {
    let hash = block_hash(&target[at..at + BLOCK]);
    let first = index.partition_point(|&(h, _)| h < hash);
    let mut best: Option<(usize, usize)> = None;
    for &(_, from) in index[first..]
        .iter()
        .take_while(|&&(h, _)| h == hash)
        .take(MAX_TRIES)
    {
        let from = from as usize;
        let len = base[from..]
            .iter()
            .zip(&target[at..])
            .take_while(|(a, b)| a == b)
            .count();
        if len >= BLOCK && best.is_none_or(|(_, l)| len > l) {
            best = Some((from, len));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::delta;

    /// Bytes that do not repeat: a simple generator, so the test needs no crate.
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 33) as u8
            })
            .collect()
    }

    fn round_trip(base: &[u8], target: &[u8]) -> usize {
        let made = encode(base, target, usize::MAX).unwrap();
        assert_eq!(delta::apply(base, &made).unwrap(), target);
        made.len()
    }

    #[test]
    fn a_small_change_costs_a_few_bytes() {
        let base = noise(1, 1 << 20);
        let mut target = base.clone();
        target[500_000..500_010].copy_from_slice(b"one change");
        assert!(round_trip(&base, &target) < 100);
        // An insertion and a deletion.
        let mut target = base[..300_000].to_vec();
        target.extend_from_slice(b"a new line\n");
        target.extend_from_slice(&base[300_100..]);
        assert!(round_trip(&base, &target) < 100);
    }

    #[test]
    fn rebuilds_whatever_the_inputs() {
        let base = noise(2, 100_000);
        let other = noise(3, 70_000);
        round_trip(&base, &other);
        round_trip(&[], &other);
        round_trip(&base, &[]);
        round_trip(&[], &[]);
        round_trip(&base[..10], &base[..15]);
        let repeated = vec![7u8; 300_000];
        round_trip(&repeated, &repeated[..200_001]);
        round_trip(&base, &[&base[50_000..], &base[..50_000]].concat());
        let mut moved = other.clone();
        moved.extend_from_slice(&base[1000..90_000]);
        // The new bytes are inserted (one length byte per 127), the rest copied.
        assert!(round_trip(&base, &moved) < 70_000 * 128 / 127 + 100);
    }

    /// The delta's instructions after its two sizes: (copies, bytes inserted).
    fn instructions(delta: &[u8]) -> (usize, usize) {
        let mut at = 0;
        for _ in 0..2 {
            while delta[at] & 0x80 != 0 {
                at += 1;
            }
            at += 1;
        }
        let (mut copies, mut inserted) = (0, 0);
        while at < delta.len() {
            let op = delta[at];
            at += 1;
            if op & 0x80 != 0 {
                copies += 1;
                at += (op & 0x7f).count_ones() as usize;
            } else {
                inserted += op as usize;
                at += op as usize;
            }
        }
        (copies, inserted)
    }

    #[test]
    fn inserts_only_what_changed() {
        // The match after the change is found at the next indexed block, 6 bytes on, and
        // grown back to the change.
        let base = noise(6, 1 << 20);
        let mut target = base.clone();
        target[500_000..500_010].copy_from_slice(b"one change");
        let made = encode(&base, &target, usize::MAX).unwrap();
        assert_eq!(instructions(&made).1, 10);
    }

    #[test]
    fn copies_from_the_longest_match() {
        // Block A is at 0 and at 32 of the base, followed once by B and once by C; the
        // target is A then C, which only one of the copies continues, first or second.
        let block = |seed| noise(seed, BLOCK);
        let (a, b, c) = (block(7), block(8), block(9));
        let target = [&a[..], &c].concat();
        for base in [[&a[..], &c, &a, &b].concat(), [&a[..], &b, &a, &c].concat()] {
            let made = encode(&base, &target, usize::MAX).unwrap();
            assert_eq!(instructions(&made), (1, 0));
            assert_eq!(delta::apply(&base, &made).unwrap(), target);
        }
    }

    #[test]
    fn gives_up_past_the_limit() {
        let base = noise(4, 10_000);
        let other = noise(5, 10_000);
        assert_eq!(encode(&base, &other, 5_000), None);
        let made = encode(&base, &base, usize::MAX).unwrap();
        assert_eq!(encode(&base, &base, made.len()), Some(made.clone()));
        assert_eq!(encode(&base, &base, made.len() - 1), None);
    }
}
