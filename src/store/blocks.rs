//! A vector kept in blocks of a fixed number of items rather than one allocation. wasm's
//! memory never shrinks, and once a walk has churned through it what is free is in
//! pieces: a repack's write order of 28 MiB in one piece grew it by as much (git/git's
//! history: 60 to 87 MiB), where blocks of 1 MiB fit in the pieces.

use std::ops::{Index, IndexMut};

/// Items a block holds.
const BLOCK: usize = 16_384;

/// A vector in blocks of [`BLOCK`] items, indexed by `u32` (it holds a repack's objects,
/// far fewer).
#[derive(Debug)]
pub(super) struct Blocks<T> {
    blocks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Blocks<T> {
    fn default() -> Self {
        Blocks {
            blocks: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Copy> Blocks<T> {
    /// Items held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Adds an item at the end.
    pub(super) fn push(&mut self, item: T) {
        if self.len.is_multiple_of(BLOCK) {
            self.blocks.push(Vec::with_capacity(BLOCK));
        }
        if let Some(block) = self.blocks.last_mut() {
            block.push(item);
            self.len += 1;
        }
    }

    /// The item at `i`, if there is one.
    pub(super) fn get(&self, i: usize) -> Option<&T> {
        self.blocks.get(i / BLOCK)?.get(i % BLOCK)
    }

    /// The item at `i` to change, if there is one.
    pub(super) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.blocks.get_mut(i / BLOCK)?.get_mut(i % BLOCK)
    }

    /// The place of the item whose `key` is `wanted`, the items being in order of it.
    pub(super) fn position<K: Ord>(&self, wanted: &K, key: impl Fn(&T) -> K) -> Option<usize> {
        let block = (self.blocks)
            .partition_point(|block| block.last().is_some_and(|last| key(last) < *wanted));
        let at = self
            .blocks
            .get(block)?
            .binary_search_by_key(wanted, key)
            .ok()?;
        Some(block * BLOCK + at)
    }

    /// The items in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.blocks.iter().flatten()
    }

    /// Sorts the items from index `from` on by `key`, computed for each comparison. Their
    /// indexes are sorted (4 bytes an item), then the items moved along the permutation's
    /// cycles, each once: no second copy of them is made.
    pub(super) fn sort_from<K: Ord>(&mut self, from: usize, key: impl Fn(&T) -> K) {
        let mut order: Vec<u32> = (from as u32..self.len as u32).collect();
        order.sort_unstable_by_key(|&i| key(&self[i as usize]));
        // The item at `from + k` goes, in order, to place `from + k`; `u32::MAX` marks a
        // place filled.
        for start in 0..order.len() {
            if order[start] == u32::MAX {
                continue;
            }
            let first = self[from + start];
            let mut k = start;
            loop {
                let source = order[k] as usize - from;
                order[k] = u32::MAX;
                if source == start {
                    self[from + k] = first;
                    break;
                }
                self[from + k] = self[from + source];
                k = source;
            }
        }
    }
}

impl<T> Index<usize> for Blocks<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        &self.blocks[i / BLOCK][i % BLOCK]
    }
}

impl<T> IndexMut<usize> for Blocks<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.blocks[i / BLOCK][i % BLOCK]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_from_a_place_orders_what_follows_it_and_leaves_the_rest() {
        let mut blocks = Blocks::default();
        // Three blocks and a part, in an order of many cycles.
        let n = 3 * BLOCK as u64 + 100;
        for i in 0..n {
            blocks.push((i * 7_919) % n);
        }
        let before: Vec<u64> = blocks.iter().copied().collect();
        blocks.sort_from(1000, |item| std::cmp::Reverse(*item));
        let after: Vec<u64> = blocks.iter().copied().collect();
        assert_eq!(after[..1000], before[..1000]);
        let mut want = before[1000..].to_vec();
        want.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(after[1000..], want[..]);
    }

    #[test]
    fn an_item_is_found_by_its_key_in_any_block_and_none_past_the_end() {
        let mut blocks = Blocks::default();
        let n = 2 * BLOCK as u64 + 5;
        for i in 0..n {
            blocks.push(i * 3);
        }
        for i in [0, 1, BLOCK as u64 - 1, BLOCK as u64, 2 * BLOCK as u64 + 4] {
            assert_eq!(blocks.position(&(i * 3), |item| *item), Some(i as usize));
            assert_eq!(blocks.position(&(i * 3 + 1), |item| *item), None);
        }
        assert_eq!(blocks.position(&(n * 3), |item| *item), None);
        assert_eq!(blocks.get(n as usize), None);
        assert_eq!(blocks.get(n as usize - 1), Some(&((n - 1) * 3)));
    }
}
