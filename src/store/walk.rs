//! What a repack's walk keeps: every object the refs reach, with the queue of those whose
//! links are not listed yet, and once a pack is written, their write order and where each
//! went. It starts in memory, where it writes nothing per object (a repository at rest is
//! walked and found already packed without a row written; a pack is written with a row per
//! chunk, not per object), and moves to the `repack_objects` rows when it outgrows its
//! budget (a smaller one once a pack is written), or when the memory is lost with the
//! object's instance: rows survive a restart, so a run restarted in them always ends.

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::ops::RangeInclusive;

use super::blocks::Blocks;
use super::maintenance::{in_delta_search, RepackRow, Written, EXACT_TIPS_AT_MOST};
use super::midx::Record;
use super::objects::{Queued, Stored};
use super::packs::{ChunkFile, ChunkWriter};
use super::push::IdxRow;
use super::{ids_json, row_id, row_int, Location, Store, StoreError, JSON_BATCH};
use crate::format::object::{IdHashing, ObjectId, ObjectType};
use crate::format::pack::PackId;
use crate::store::sql::{Rows, Sql};

/// A repack's walk held in memory.
#[derive(Debug, Default)]
pub struct WalkInMemory {
    /// The run it belongs to (its start, in milliseconds).
    run: i64,
    /// Every object found that has no place in the write order, with the hash of the name
    /// it was first found under (those with a place leave it for the order).
    seen: Seen,
    /// The objects found whose links are not listed yet (blobs have none, so never wait),
    /// the first stored first (see [`Queued`]).
    queue: BinaryHeap<Reverse<Queued>>,
    /// Those the walk took from the queue and has not listed the links of yet.
    taken: Vec<Queued>,
    /// Objects the walk's links named (id, name hash), not yet looked up: they are looked
    /// up many at a time (see [`NAMED_AT_MOST`]), in id order, so that a page of the index
    /// is read once for many of them rather than once for each.
    named: Vec<(ObjectId, u32)>,
    /// How many objects it may hold; past that it moves to the rows.
    budget: usize,
    /// How many of the objects found each pack holds, and how many are loose.
    packs: HashMap<PackId, u64>,
    loose: u64,
    /// What the run's slices counted since its progress was last written.
    unsaved: Option<Unsaved>,
    /// The objects given a place in the pack's write order, once a pack is written.
    order: WriteOrder,
    /// The objects the refs named when it began, sorted: what the pack it makes is recorded
    /// with, should no ref move before it is swapped in (see [`Store::set_exact_pack`]).
    tips: Option<Vec<ObjectId>>,
    /// The objects the refs named when the exact pack it took in whole was made, that the
    /// refs have not been shown to reach since (see [`Store::walk_in_memory`]).
    unproven: HashSet<ObjectId, IdHashing>,
    /// The exact pack it is taking in, until it has all of its objects.
    taking_in: Option<TakingIn>,
}

/// An exact pack being taken in whole by a walk, a few pages of the index at a time.
#[derive(Debug)]
struct TakingIn {
    pack: PackId,
    /// Its objects, and how many were taken in.
    count: u64,
    taken: u64,
    /// The greatest id of the pages of the index read: a page a push split meanwhile holds
    /// no record of the pack past it, so the next page read is the first keyed above it.
    after: Option<Vec<u8>>,
    hashes: NameHashes,
}

/// What [`Store::take_in`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum TakeIn {
    /// Nothing is being taken in, or all of it was: the walk goes on.
    Done,
    /// More pages are to be read.
    Pending,
    /// The pack cannot be taken in (a copy of one of its objects elsewhere holds its place
    /// in the index, its name hashes were not all kept, or it outgrew the walk's budget):
    /// the walk is to start again without it.
    Failed,
}

/// The objects a walk in memory found, with their name hashes, in sixteen maps by the high
/// half of their first byte: a map of a whole history (git/git's: 13 MiB) grows by doubling
/// into one new allocation, which wasm's memory, never shrinking, could only take by
/// growing; a sixteenth of it fits in the room other work left. The id order of the maps
/// also lets their objects be looked up a sixteenth at a time, in order.
#[derive(Debug, Default)]
struct Seen([HashMap<ObjectId, u32, IdHashing>; 16]);

impl Seen {
    /// The index of the map `id` belongs in.
    fn of(id: &ObjectId) -> usize {
        usize::from(id.0[0] >> 4)
    }

    /// The map `id` belongs in.
    fn shard(&mut self, id: &ObjectId) -> &mut HashMap<ObjectId, u32, IdHashing> {
        &mut self.0[Seen::of(id)]
    }

    /// The name hash `id` was found under, if it was.
    fn get(&self, id: &ObjectId) -> Option<&u32> {
        self.0[Seen::of(id)].get(id)
    }

    /// Whether `id` was found.
    fn contains_key(&self, id: &ObjectId) -> bool {
        self.get(id).is_some()
    }

    /// How many objects were found.
    fn len(&self) -> usize {
        self.0.iter().map(HashMap::len).sum()
    }

    /// The objects and their name hashes, in the order of the maps.
    fn iter(&self) -> impl Iterator<Item = (&ObjectId, &u32)> {
        self.0.iter().flat_map(HashMap::iter)
    }
}

/// Objects named by the walk's links that wait to be looked up together, at most: they are
/// looked up when the queue runs out, so that the walk goes through the packs once for
/// all that it queued, or past this many (1.5 MiB of them).
const NAMED_AT_MOST: usize = 65_536;

/// A repack's objects in write order, and where each went, held in memory: what the
/// `seq`, `offset`, `crc` and `depth` columns of `repack_objects` hold for a walk in rows,
/// in 72 bytes an object (its [`Placed`] and its place in the two sorted indexes).
#[derive(Debug, Default)]
struct WriteOrder {
    /// The objects by place (place `n` at index `n - 1`).
    rows: Blocks<Placed>,
    /// The packs they are stored in, which [`Placed::pack`] numbers.
    packs: Vec<PackId>,
    /// Indexes into `rows` in id order, and those of stored objects in (pack, offset) order.
    by_id: Vec<u32>,
    by_stored: Vec<u32>,
}

/// An object of the write order in 64 bytes, where a [`RepackRow`] and where it went take
/// 112: its place is its index in [`WriteOrder::rows`], its pack an index into
/// [`WriteOrder::packs`], and a value it lacks the greatest of its type (none is ever
/// reached: sizes and offsets stay far below, and depths below a pack's object count).
#[derive(Clone, Copy, Debug)]
struct Placed {
    id: ObjectId,
    kind: ObjectType,
    name_hash: u32,
    size: u64,
    /// The index of its pack, or `u32::MAX` when loose; then its offset there.
    pack: u32,
    at: u64,
    stored_depth: u32,
    /// Where it went in the new pack (`offset` `u64::MAX` until written).
    offset: u64,
    crc: u32,
    depth: u16,
}

// What keeps a repack of 458,752 objects within 28 MiB.
const _: () = assert!(std::mem::size_of::<Placed>() == 64);

const LOOSE: u32 = u32::MAX;

impl Placed {
    /// `row` as placed, its pack numbered in `packs` (added there if new).
    fn new(row: &RepackRow, packs: &mut Vec<PackId>) -> Result<Placed, StoreError> {
        let (pack, at) = match row.location {
            Location::Loose => (LOOSE, 0),
            Location::Packed { pack, offset } => {
                let index = match packs.iter().position(|p| *p == pack) {
                    Some(index) => index,
                    None => {
                        packs.push(pack);
                        packs.len() - 1
                    }
                };
                let index = u32::try_from(index).map_err(|_| StoreError::BadColumn("pack"))?;
                (index, offset)
            }
        };
        Ok(Placed {
            id: row.id,
            kind: row.kind,
            name_hash: row.name_hash,
            size: row.size.unwrap_or(u64::MAX),
            pack,
            at,
            stored_depth: row.stored_depth.unwrap_or(u32::MAX),
            offset: u64::MAX,
            crc: 0,
            depth: 0,
        })
    }

    /// The object as the repack row of place `seq`.
    fn row(&self, seq: usize, packs: &[PackId]) -> RepackRow {
        RepackRow {
            seq: seq as i64,
            id: self.id,
            kind: self.kind,
            size: self.size(),
            location: match self.stored_at(packs) {
                Some((pack, offset)) => Location::Packed { pack, offset },
                None => Location::Loose,
            },
            name_hash: self.name_hash,
            stored_depth: (self.stored_depth != u32::MAX).then_some(self.stored_depth),
        }
    }

    /// Its size, if recorded.
    fn size(&self) -> Option<u64> {
        (self.size != u64::MAX).then_some(self.size)
    }

    /// Where it is stored, if in a pack.
    fn stored_at(&self, packs: &[PackId]) -> Option<(PackId, u64)> {
        let pack = packs.get(self.pack as usize)?;
        Some((*pack, self.at))
    }

    /// Where it went in the new pack, if written.
    fn written(&self) -> Option<Written> {
        (self.offset != u64::MAX).then_some(Written {
            offset: self.offset,
            crc: self.crc,
            depth: u32::from(self.depth),
        })
    }

    /// Records where it went in the new pack.
    fn write(&mut self, written: &Written) -> Result<(), StoreError> {
        self.depth = u16::try_from(written.depth).map_err(|_| StoreError::BadColumn("depth"))?;
        self.offset = written.offset;
        self.crc = written.crc;
        Ok(())
    }
}

impl WriteOrder {
    /// Gives the rows from index `from` on the next places, in `pack-objects`' order (see
    /// [`Store::repack_order`]). They are sorted where they are ([`Blocks::sort_from`]), by
    /// a key computed for each comparison rather than held: this runs with the whole repack
    /// in memory.
    fn place_from(&mut self, from: usize, searched: &RangeInclusive<u64>) {
        let packs = &self.packs;
        self.rows
            .sort_from(from, |p| write_order_key(&p.row(0, packs), searched));
        let places = 0..self.rows.len() as u32;
        self.by_id = places.clone().collect();
        self.by_id
            .sort_unstable_by_key(|&i| self.rows[i as usize].id);
        self.by_stored = places
            .filter(|&i| self.rows[i as usize].pack != LOOSE)
            .collect();
        self.by_stored
            .sort_unstable_by_key(|&i| self.rows[i as usize].stored_at(packs));
    }

    /// The objects after the first `from` places, as repack rows with where they went.
    fn rows_from(&self, from: usize) -> impl Iterator<Item = (RepackRow, Option<Written>)> + '_ {
        let rows = (from..self.rows.len()).map(|i| (i, &self.rows[i]));
        rows.map(|(i, p)| (p.row(i + 1, &self.packs), p.written()))
    }

    /// The index of object `id`, if it has a place.
    fn place(&self, id: &ObjectId) -> Option<usize> {
        let found = self
            .by_id
            .binary_search_by_key(id, |&i| self.rows[i as usize].id);
        found.ok().map(|n| self.by_id[n] as usize)
    }

    /// Where the object stored at `at` in `pack` went, if it has.
    fn written_at(&self, pack: PackId, at: u64) -> Option<Written> {
        let found = self
            .by_stored
            .binary_search_by_key(&Some((pack, at)), |&i| {
                self.rows[i as usize].stored_at(&self.packs)
            });
        found
            .ok()
            .and_then(|n| self.rows[self.by_stored[n] as usize].written())
    }
}

/// Where a repack row is stored, if in a pack.
fn stored_at(row: &RepackRow) -> Option<(PackId, u64)> {
    match row.location {
        Location::Packed { pack, offset } => Some((pack, offset)),
        Location::Loose => None,
    }
}

/// What orders objects of one type by name hash and size, largest first.
type KindKey = (u8, u32, Reverse<Option<u64>>);

/// The order [`Store::repack_order`] gives the rows of `repack_objects`, as a sort key:
/// group, the delta search's order within the first group, stored objects by where they
/// are before loose ones, then type, name hash, size and id.
type OrderKey = (
    u8,
    Option<KindKey>,
    (bool, Option<(PackId, u64)>),
    KindKey,
    ObjectId,
);

fn write_order_key(row: &RepackRow, searched: &RangeInclusive<u64>) -> OrderKey {
    let group = match row {
        _ if in_delta_search(row, searched) => 0,
        _ if row.location == Location::Loose || row.stored_depth == Some(0) => 1,
        _ => 2,
    };
    let kind = (row.kind as u8, row.name_hash, Reverse(row.size));
    let stored = (row.location == Location::Loose, stored_at(row));
    (group, (group == 0).then_some(kind), stored, kind, row.id)
}

/// What a run's slices counted while only the count changed: kept with its walk in memory
/// rather than written after each slice (a row each), and lost with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unsaved {
    /// Slices run.
    pub slices: u32,
    /// Milliseconds spent in them.
    pub busy_ms: i64,
    /// Rows they read and wrote.
    pub rows: Rows,
}

impl WalkInMemory {
    /// Objects found so far.
    pub fn len(&self) -> usize {
        self.seen.len() + self.order.rows.len()
    }

    /// Whether it found nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the walk found `id`.
    pub(super) fn holds(&self, id: &ObjectId) -> bool {
        self.seen.contains_key(id) || self.order.place(id).is_some()
    }

    /// Whether the pack it takes in whole is in, and every tip it was recorded with shown
    /// reached (see [`Walk::proven`]).
    fn proven(&self) -> bool {
        self.unproven.is_empty() && self.taking_in.is_none()
    }

    /// Sets how many objects it may hold before it moves to the rows.
    pub fn set_budget(&mut self, objects: usize) {
        self.budget = objects;
    }

    /// Up to `limit` objects in write order after place `after`.
    pub(super) fn placed_after(&self, after: i64, limit: usize) -> Vec<RepackRow> {
        let from = usize::try_from(after).unwrap_or(0);
        let rows = self.order.rows_from(from).take(limit);
        rows.map(|(row, _)| row).collect()
    }

    /// The last `limit` objects of the delta search written at or before place `upto`,
    /// newest first, with where they went (see [`Store::repack_window`]).
    pub(super) fn window(
        &self,
        searched: &RangeInclusive<u64>,
        upto: i64,
        limit: usize,
    ) -> Vec<(RepackRow, Written)> {
        let upto = usize::try_from(upto)
            .unwrap_or(0)
            .min(self.order.rows.len());
        let placed = (0..upto).rev().map(|i| (i, &self.order.rows[i]));
        let written =
            placed.filter_map(|(i, p)| Some((p.row(i + 1, &self.order.packs), p.written()?)));
        let searched = written.filter(|(row, _)| in_delta_search(row, searched));
        searched.take(limit).collect()
    }

    /// Where object `id` went in the new pack, if it has.
    pub(super) fn written(&self, id: &ObjectId) -> Option<Written> {
        self.order
            .place(id)
            .and_then(|i| self.order.rows[i].written())
    }

    /// Where the object stored at `at` in `pack` went in the new pack, if it has.
    pub(super) fn written_at(&self, pack: PackId, at: u64) -> Option<Written> {
        self.order.written_at(pack, at)
    }

    /// Records where objects went in the new pack, each found at its place in the write
    /// order (its `seq` less one) without a search through the ids, if it is there.
    pub(super) fn record(&mut self, done: &[(ObjectId, i64, Written)]) -> Result<(), StoreError> {
        for (id, seq, written) in done {
            let at = usize::try_from(seq - 1).ok();
            let place = at
                .filter(|&at| self.order.rows.get(at).is_some_and(|p| p.id == *id))
                .or_else(|| self.order.place(id))
                .ok_or(StoreError::Missing {
                    kind: "repacked object",
                    id: *id,
                })?;
            self.order.rows[place].write(written)?;
        }
        Ok(())
    }

    /// Where the objects written to the new pack start, in the order they were placed.
    pub fn starts(&self) -> impl Iterator<Item = u64> + '_ {
        self.order
            .rows
            .iter()
            .filter_map(|p| Some(p.written()?.offset))
    }

    /// The new pack's idx rows, in id order.
    pub fn idx_rows(&self) -> impl Iterator<Item = IdxRow> + '_ {
        let placed = self
            .order
            .by_id
            .iter()
            .map(|&i| &self.order.rows[i as usize]);
        let written = placed.filter_map(|p| Some((p.id, p.written()?)));
        written.map(|(id, w)| (id, w.offset, w.crc))
    }

    /// The objects from `key` up to `end` (None: every one after), in id order, as records
    /// of `pack`, where they went in it.
    pub(super) fn records(
        &self,
        pack: PackId,
        key: &[u8],
        end: Option<&[u8]>,
    ) -> Result<Vec<Record>, StoreError> {
        let id_of = |i: &u32| self.order.rows[*i as usize].id;
        let by_id = &self.order.by_id;
        let from = by_id.partition_point(|i| id_of(i).0.as_slice() < key);
        let upto = end.map_or(by_id.len(), |end| {
            by_id.partition_point(|i| id_of(i).0.as_slice() < end)
        });
        let places = by_id.get(from..upto).unwrap_or_default();
        places
            .iter()
            .map(|&i| {
                let placed = &self.order.rows[i as usize];
                let written = placed
                    .written()
                    .ok_or(StoreError::BadColumn("repacked offset"))?;
                Ok(Record {
                    id: placed.id,
                    kind: placed.kind,
                    pack,
                    offset: written.offset,
                    size: placed.size(),
                    depth: Some(written.depth),
                })
            })
            .collect()
    }

    /// The placed objects stored loose.
    pub(super) fn placed_loose(&self) -> Vec<ObjectId> {
        let rows = self.order.rows.iter();
        let loose = rows.filter(|placed| placed.pack == LOOSE);
        loose.map(|placed| placed.id).collect()
    }

    /// Takes the first `limit` objects of the queue, as repack rows.
    fn take_queued(&mut self, limit: usize) -> Vec<RepackRow> {
        self.put_back_unwalked(0);
        while self.taken.len() < limit {
            let Some(Reverse(waiting)) = self.queue.pop() else {
                break;
            };
            self.taken.push(waiting);
        }
        let row = |w: &Queued| RepackRow {
            seq: 0,
            id: w.id,
            kind: w.kind,
            size: None,
            location: w.location(),
            name_hash: self.seen.get(&w.id).copied().unwrap_or(0),
            stored_depth: None,
        };
        self.taken.iter().map(row).collect()
    }

    /// Puts back in the queue those taken but the first `walked`.
    fn put_back_unwalked(&mut self, walked: usize) {
        let unwalked = self.taken.drain(walked.min(self.taken.len())..);
        self.queue.extend(unwalked.map(Reverse));
        self.taken.clear();
    }

    fn add(&mut self, id: ObjectId, name_hash: u32, stored: &Stored) {
        // The first name an object was found under stays, as `INSERT OR IGNORE` keeps it.
        if self.order.place(&id).is_some() {
            return;
        }
        let Entry::Vacant(slot) = self.seen.shard(&id).entry(id) else {
            return;
        };
        slot.insert(name_hash);
        match stored.located.location {
            Location::Packed { pack, .. } => *self.packs.entry(pack).or_default() += 1,
            Location::Loose => self.loose += 1,
        }
        if stored.located.kind != ObjectType::Blob {
            self.queue.push(Reverse(Queued::new(id, stored.located)));
        }
    }
}

/// Where a repack's walk keeps what it found.
#[derive(Debug)]
pub enum Walk {
    /// In the `repack_objects` rows.
    Rows,
    /// In memory.
    Memory(Box<WalkInMemory>),
}

impl Walk {
    /// Whether the walk in memory found `id` already (a walk in rows answers no: its rows
    /// are looked up many at a time, not one by one).
    pub fn found(&self, id: &ObjectId) -> bool {
        match self {
            Walk::Memory(memory) => memory.holds(id),
            Walk::Rows => false,
        }
    }

    /// Whether what it holds is what the refs reach: false while a pack it took in whole
    /// may hold objects that no ref reaches any more (see [`Store::walk_in_memory`]).
    pub fn proven(&self) -> bool {
        match self {
            Walk::Memory(memory) => memory.proven(),
            Walk::Rows => true,
        }
    }

    /// The tips of the pack it took in whole that it has not shown the refs to reach yet.
    pub fn unproven(&self) -> Vec<ObjectId> {
        match self {
            Walk::Memory(memory) => memory.unproven.iter().copied().collect(),
            Walk::Rows => Vec::new(),
        }
    }

    /// Records that the refs reach `id`, a tip of the pack it took in whole.
    pub fn prove(&mut self, id: &ObjectId) {
        if let Walk::Memory(memory) = self {
            memory.unproven.remove(id);
        }
    }

    /// The objects the refs named when it began, if it knows them.
    pub fn tips(&self) -> Option<&[ObjectId]> {
        match self {
            Walk::Memory(memory) => memory.tips.as_deref(),
            Walk::Rows => None,
        }
    }
}

impl<S: Sql> Store<S> {
    /// A walk in memory for the run started at `run`, holding `budget` objects at most,
    /// with every ref's object queued.
    ///
    /// With `take_in`, it first takes in whole, unwalked, the pack the last repack recorded
    /// as exact (see [`Store::exact_closure`]), as git's repack starts from its reachability
    /// bitmaps: the walk then reads only what pushes brought since, as it stops at what it
    /// holds. That is right only if the refs still reach every object the pack's refs named
    /// (a branch deleted or rewound since leaves objects in it that none reaches): the walk
    /// keeps those it has not met yet, and until it meets them all it is not
    /// [`Walk::proven`]. Most pushes move refs forward, so the walk of what they brought
    /// meets the old tips as parents.
    pub fn walk_in_memory(
        &self,
        run: i64,
        budget: usize,
        take_in: bool,
    ) -> Result<Walk, StoreError> {
        let mut memory = Box::new(WalkInMemory {
            run,
            budget,
            ..WalkInMemory::default()
        });
        // Taking the pack in only spares work: should reading its record fail (a pack row
        // cut short, say), the walk reads everything rather than fail every run.
        if take_in && self.begin_take_in(&mut memory).is_err() {
            memory.taking_in = None;
            memory.unproven.clear();
        }
        let mut walk = Walk::Memory(memory);
        self.repack_add_tips(&mut walk)?;
        Ok(walk)
    }

    /// Sets `memory` to take in the exact pack whole, if there is one that fits its budget,
    /// with the tips it was recorded with left to prove (see [`Store::take_in`]).
    fn begin_take_in(&self, memory: &mut WalkInMemory) -> Result<(), StoreError> {
        let Some((pack, tips)) = self.exact_closure()? else {
            return Ok(());
        };
        let count = self.pack_object_count(pack)?;
        if count > memory.budget as u64 {
            return Ok(());
        }
        memory.taking_in = Some(TakingIn {
            pack,
            count,
            taken: 0,
            after: None,
            hashes: NameHashes::default(),
        });
        memory.unproven = tips.into_iter().collect();
        Ok(())
    }

    /// Takes the next objects of the exact pack a walk in memory is taking in into it,
    /// found and walked, under the name hashes its repack kept: `pages` pages of the index
    /// a call, so that a turn of the alarm stays short whatever the pack's size.
    pub fn take_in(&self, walk: &mut Walk, pages: usize) -> Result<TakeIn, StoreError> {
        let Walk::Memory(memory) = walk else {
            return Ok(TakeIn::Done);
        };
        let Some(taking) = memory.taking_in.as_mut() else {
            return Ok(TakeIn::Done);
        };
        if taking.count > memory.budget as u64 {
            return Ok(TakeIn::Failed);
        }
        for _ in 0..pages.max(1) {
            let Some((at, records)) = self.next_page::<Record>(taking.after.as_deref())? else {
                let whole = taking.taken == taking.count
                    && taking.hashes.next(self, taking.pack)?.is_none();
                if !whole {
                    return Ok(TakeIn::Failed);
                }
                memory.packs.insert(taking.pack, taking.count);
                memory.taking_in = None;
                return Ok(TakeIn::Done);
            };
            for record in records.iter().filter(|r| r.pack == taking.pack) {
                let Some(hash) = taking.hashes.next(self, taking.pack)? else {
                    return Ok(TakeIn::Failed);
                };
                // A tip queued meanwhile is found already: it keeps its place in the queue
                // and takes the name hash kept for it.
                memory.seen.shard(&record.id).insert(record.id, hash);
                taking.taken += 1;
            }
            taking.after = Some(records.last().map_or(at, |r| r.id.0.to_vec()));
        }
        Ok(TakeIn::Pending)
    }

    /// Keeps the name hashes of the objects of `pack`, which holds exactly what `walk`
    /// found, in id order, unless they are kept already (a pack found exact again).
    pub fn keep_name_hashes(&self, pack: PackId, walk: &Walk) -> Result<(), StoreError> {
        let Walk::Memory(memory) = walk else {
            return Ok(());
        };
        if self.has_file(pack, ChunkFile::NameHashes)? {
            return Ok(());
        }
        let mut out = ChunkWriter::new(self, pack, ChunkFile::NameHashes);
        if memory.order.rows.len() == 0 {
            // Found in a pack that was there: the walk's map holds them, a sixteenth of the
            // ids at a time in order.
            for shard in &memory.seen.0 {
                let mut part: Vec<(&ObjectId, &u32)> = shard.iter().collect();
                part.sort_unstable();
                for (_, hash) in part {
                    out.append(&hash.to_be_bytes())?;
                }
            }
        } else {
            let order = &memory.order;
            for &i in &order.by_id {
                out.append(&order.rows[i as usize].name_hash.to_be_bytes())?;
            }
        }
        out.flush()
    }

    /// Takes the walk in memory of the run started at `run`, if this instance still holds
    /// it (a failed slice or a restart loses it).
    pub fn take_walk(&self, run: i64) -> Option<Box<WalkInMemory>> {
        let mut slot = self.walk.borrow_mut();
        match slot.take() {
            Some(walk) if walk.run == run => Some(walk),
            _ => None,
        }
    }

    /// What the run started at `run` counted since its progress was last written, if its
    /// walk is held here.
    pub fn unsaved(&self, run: i64) -> Option<Unsaved> {
        let slot = self.walk.borrow();
        slot.as_ref()
            .filter(|w| w.run == run)
            .and_then(|w| w.unsaved)
    }

    /// Keeps (or forgets) what the run started at `run` counted; returns false if its walk
    /// is not held here, and so cannot keep it.
    pub fn set_unsaved(&self, run: i64, unsaved: Option<Unsaved>) -> bool {
        let mut slot = self.walk.borrow_mut();
        match slot.as_mut().filter(|w| w.run == run) {
            Some(walk) => {
                walk.unsaved = unsaved;
                true
            }
            None => false,
        }
    }

    /// Keeps a walk in memory for the next slice of its run.
    pub fn keep_walk(&self, walk: Box<WalkInMemory>) {
        *self.walk.borrow_mut() = Some(walk);
    }

    /// Queues every ref's object for the repack's walk (those already queued stay as they are).
    pub fn repack_add_tips(&self, walk: &mut Walk) -> Result<(), StoreError> {
        let rows = self.exec("SELECT DISTINCT oid FROM refs", vec![])?;
        let tips = rows
            .iter()
            .map(|r| Ok((row_id(&r[0])?, 0)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        if let Walk::Memory(memory) = walk {
            for (tip, _) in &tips {
                memory.unproven.remove(tip);
            }
            if memory.tips.is_none() {
                // Past what a record holds, none is kept (an empty list: some ref names an
                // object whenever there is a pack to record).
                let mut ids: Vec<ObjectId> = match tips.len() <= EXACT_TIPS_AT_MOST {
                    true => tips.iter().map(|(id, _)| *id).collect(),
                    false => Vec::new(),
                };
                ids.sort_unstable();
                memory.tips = Some(ids);
            }
        }
        self.repack_queue(walk, &tips)
    }

    /// Queues those of `objects` (id, name hash) that are stored and not queued yet; a blob
    /// is queued walked, having no links. A walk in memory that this would take past its
    /// budget moves to the rows first, so it never holds more.
    fn repack_queue(&self, walk: &mut Walk, objects: &[(ObjectId, u32)]) -> Result<(), StoreError> {
        for batch in objects.chunks(JSON_BATCH) {
            if let Walk::Memory(memory) = walk {
                let new: Vec<ObjectId> = batch
                    .iter()
                    .filter(|(id, _)| !memory.holds(id))
                    .map(|(id, _)| *id)
                    .collect();
                if memory.len() + new.len() <= memory.budget {
                    let stored = self.find(&new)?;
                    for (id, hash) in batch {
                        if let Some(s) = stored.get(id) {
                            memory.add(*id, *hash, s);
                        }
                    }
                    continue;
                }
                self.spill_walk(walk)?;
            }
            self.insert_repack(batch, |_, kind| kind == ObjectType::Blob)?;
        }
        Ok(())
    }

    /// Queues the objects a walk in memory's links named, in id order, each under the first
    /// name it was found by.
    fn look_up_named(&self, walk: &mut Walk) -> Result<(), StoreError> {
        let Walk::Memory(memory) = walk else {
            return Ok(());
        };
        let mut named = std::mem::take(&mut memory.named);
        named.sort_by_key(|(id, _)| *id);
        named.dedup_by_key(|(id, _)| *id);
        self.repack_queue(walk, &named)
    }

    /// Writes the rows of those of `batch` (id, name hash) that are stored and have none
    /// yet, `walked` saying of each (id, type) whether its links are listed.
    fn insert_repack(
        &self,
        batch: &[(ObjectId, u32)],
        walked: impl Fn(&ObjectId, ObjectType) -> bool,
    ) -> Result<(), StoreError> {
        let ids: Vec<ObjectId> = batch.iter().map(|(id, _)| *id).collect();
        let stored = self.find(&ids)?;
        let rows: Vec<String> = batch
            .iter()
            .filter_map(|(id, hash)| {
                let s = stored.get(id)?;
                let (pack, at) = match s.located.location {
                    Location::Packed { pack, offset } => (pack.0.to_string(), offset.to_string()),
                    Location::Loose => ("null".into(), "null".into()),
                };
                let number = |n: Option<u64>| n.map_or("null".into(), |n| n.to_string());
                let kind = s.located.kind;
                Some(format!(
                    "[\"{id}\",{},{},{pack},{at},{},{hash},{}]",
                    kind as u8,
                    number(s.size),
                    number(s.depth.map(u64::from)),
                    walked(id, kind) as u8
                ))
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        self.exec(
            "INSERT OR IGNORE INTO repack_objects \
             (oid, type, size, pack, at, stored_depth, name_hash, walked) \
             SELECT unhex(value ->> 0), value ->> 1, value ->> 2, value ->> 3, \
             value ->> 4, value ->> 5, value ->> 6, value ->> 7 FROM json_each(?)",
            vec![format!("[{}]", rows.join(",")).into()],
        )?;
        Ok(())
    }

    /// Moves a walk in memory into the rows, where the rest of the repack keeps its objects:
    /// those with a place in the write order with it and where they went, the others as
    /// the walk left them.
    pub fn spill_walk(&self, walk: &mut Walk) -> Result<(), StoreError> {
        let Walk::Memory(memory) = walk else {
            return Ok(());
        };
        if !memory.proven() {
            // The rows cannot tell what it took in whole from what it walked: they walk
            // everything from the refs.
            *walk = Walk::Rows;
            return self.repack_add_tips(walk);
        }
        // What was taken and not walked waits again, and what trees named goes to the rows.
        memory.put_back_unwalked(0);
        let named = std::mem::take(&mut memory.named);
        in_batches(memory.order.rows_from(0), |batch| {
            self.insert_placed(&batch)
        })?;
        // Sorted ids rather than a set, and the objects a batch at a time: this runs with the
        // whole walk in memory, at its budget.
        let mut waiting: Vec<ObjectId> = memory.queue.iter().map(|w| w.0.id).collect();
        waiting.sort_unstable();
        let objects = memory.seen.iter().map(|(id, hash)| (*id, *hash));
        in_batches(objects, |batch| {
            self.insert_repack(&batch, |id, _| waiting.binary_search(id).is_err())
        })?;
        *walk = Walk::Rows;
        self.repack_queue(walk, &named)
    }

    /// Writes the rows of objects with a place in the write order (walked, all of them),
    /// and where those written went.
    fn insert_placed(&self, placed: &[(RepackRow, Option<Written>)]) -> Result<(), StoreError> {
        let number = |n: Option<u64>| n.map_or("null".into(), |n| n.to_string());
        let rows: Vec<String> = placed
            .iter()
            .map(|(row, w)| {
                let (pack, at) = stored_at(row).unzip();
                format!(
                    "[\"{}\",{},{},{},{},{},{},{},{},{},{}]",
                    row.id,
                    row.kind as u8,
                    number(row.size),
                    number(pack.map(|p| p.0 as u64)),
                    number(at),
                    number(row.stored_depth.map(u64::from)),
                    row.name_hash,
                    row.seq,
                    number(w.map(|w| w.offset)),
                    number(w.map(|w| u64::from(w.crc))),
                    number(w.map(|w| u64::from(w.depth))),
                )
            })
            .collect();
        self.exec(
            "INSERT INTO repack_objects \
             (oid, type, size, pack, at, stored_depth, name_hash, walked, seq, offset, crc, depth) \
             SELECT unhex(value ->> 0), value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
             value ->> 5, value ->> 6, 1, value ->> 7, value ->> 8, value ->> 9, value ->> 10 \
             FROM json_each(?)",
            vec![format!("[{}]", rows.join(",")).into()],
        )?;
        Ok(())
    }

    /// Up to `limit` objects of the walk whose links are not listed yet.
    /// A walk in memory takes them from its queue until [`Store::repack_link`].
    pub fn repack_unwalked(
        &self,
        walk: &mut Walk,
        limit: usize,
    ) -> Result<Vec<RepackRow>, StoreError> {
        if let Walk::Memory(memory) = walk {
            if memory.queue.is_empty() {
                self.look_up_named(walk)?;
            }
        }
        if let Walk::Memory(memory) = walk {
            return Ok(memory.take_queued(limit));
        }
        let rows = self.exec(
            "SELECT 0, oid, type, size, pack, at, name_hash, stored_depth FROM repack_objects \
             WHERE walked = 0 LIMIT ?",
            vec![(limit as i64).into()],
        )?;
        rows.iter()
            .map(|r| super::maintenance::repack_row(r))
            .collect()
    }

    /// Objects (id, name hash) of a walk in memory as repack rows, where they are stored now.
    fn found_rows(&self, objects: &[(ObjectId, u32)]) -> Result<Vec<RepackRow>, StoreError> {
        let ids: Vec<ObjectId> = objects.iter().map(|(id, _)| *id).collect();
        let stored = self.find(&ids)?;
        objects
            .iter()
            .map(|(id, name_hash)| {
                let s = stored.get(id).ok_or(StoreError::Missing {
                    kind: "object",
                    id: *id,
                })?;
                Ok(RepackRow {
                    seq: 0,
                    id: *id,
                    kind: s.located.kind,
                    size: s.size,
                    location: s.located.location,
                    name_hash: *name_hash,
                    stored_depth: s.depth,
                })
            })
            .collect()
    }

    /// Gives the objects of a walk in memory that have no place in the write order yet
    /// theirs (see [`Store::repack_order`]); returns how many. They leave the walk's map
    /// for the order a sixteenth at a time, each sixteenth of the map freed once its objects
    /// have moved, so the two together hold little more than the order. A failure on the
    /// way loses the walk, as any failed slice does.
    pub(super) fn order_in_memory(
        &self,
        memory: &mut WalkInMemory,
        searched: &RangeInclusive<u64>,
    ) -> Result<u64, StoreError> {
        // The walk is over: its queue's room (git/git's: 5 MiB) goes to the order.
        memory.queue.shrink_to_fit();
        let unplaced = std::mem::take(&mut memory.seen);
        let order = &mut memory.order;
        let from = order.rows.len();
        // Looked up in id order, a sixteenth of them at a time: each page of the index is
        // then read once, where batches in the map's order read pages all over it, again
        // and again (git/git's history: 9 s in one turn). Each map goes once its objects
        // are out of it, so that the order grows into the room the maps leave.
        for shard in unplaced.0 {
            let mut part: Vec<(ObjectId, u32)> = shard.into_iter().collect();
            part.sort_unstable();
            for batch in part.chunks(JSON_BATCH) {
                for row in self.found_rows(batch)? {
                    order.rows.push(Placed::new(&row, &mut order.packs)?);
                }
            }
        }
        order.place_from(from, searched);
        Ok((order.rows.len() - from) as u64)
    }

    /// Adds the objects that `walked` link to (id, name hash) to the walk, those stored and
    /// not in it yet, and marks `walked` as listed: the first of those
    /// [`Store::repack_unwalked`] gave. A walk in memory looks up the `commits` at once,
    /// and the `rest` many at a time: it goes down the history through the commits, in the
    /// order the packs hold them, where each wait for a batch would send it back to the
    /// start of them.
    pub fn repack_link(
        &self,
        walk: &mut Walk,
        walked: &[ObjectId],
        commits: &[(ObjectId, u32)],
        rest: &[(ObjectId, u32)],
    ) -> Result<(), StoreError> {
        if let Walk::Memory(memory) = walk {
            memory.put_back_unwalked(walked.len());
            if !memory.unproven.is_empty() {
                for (id, _) in commits.iter().chain(rest) {
                    memory.unproven.remove(id);
                }
            }
            let new: Vec<(ObjectId, u32)> = rest
                .iter()
                .filter(|(id, _)| !memory.holds(id))
                .copied()
                .collect();
            memory.named.extend(new);
            self.repack_queue(walk, commits)?;
            match walk {
                Walk::Memory(memory) if memory.named.len() >= NAMED_AT_MOST => {
                    return self.look_up_named(walk)
                }
                _ => return Ok(()),
            }
        }
        self.repack_queue(walk, commits)?;
        self.repack_queue(walk, rest)?;
        for batch in walked.chunks(JSON_BATCH) {
            self.exec(
                "UPDATE repack_objects SET walked = 1 \
                 WHERE oid IN (SELECT unhex(value) FROM json_each(?))",
                vec![ids_json(batch).into()],
            )?;
        }
        Ok(())
    }

    /// Objects in the repack.
    pub fn repack_count(&self, walk: &Walk) -> Result<u64, StoreError> {
        if let Walk::Memory(memory) = walk {
            return Ok(memory.len() as u64);
        }
        super::maintenance::count(&self.exec("SELECT count(*) FROM repack_objects", vec![])?)
    }

    /// Whether the repack holds no object.
    pub fn repack_is_empty(&self, walk: &Walk) -> Result<bool, StoreError> {
        if let Walk::Memory(memory) = walk {
            return Ok(memory.is_empty());
        }
        Ok(self
            .exec("SELECT 1 FROM repack_objects LIMIT 1", vec![])?
            .is_empty())
    }

    /// The live pack that holds exactly the repack's objects, if one does: the repack then
    /// has nothing to write.
    pub fn repack_matching_pack(&self, walk: &Walk) -> Result<Option<PackId>, StoreError> {
        let (pack, found) = match walk {
            Walk::Memory(memory) => {
                let mut packs = memory.packs.iter();
                match (packs.next(), packs.next(), memory.loose) {
                    (Some((pack, n)), None, 0) => (*pack, *n),
                    _ => return Ok(None),
                }
            }
            Walk::Rows => {
                let rows = self.exec(
                    "SELECT min(pack), max(pack), count(*) = count(pack), count(*) \
                     FROM repack_objects",
                    vec![],
                )?;
                let Some(row) = rows.first() else {
                    return Ok(None);
                };
                let (Some(low), Some(high)) = (row[0].as_i64(), row[1].as_i64()) else {
                    return Ok(None);
                };
                if low != high || row[2].as_i64() != Some(1) {
                    return Ok(None);
                }
                (PackId(low), row_int(&row[3])? as u64)
            }
        };
        Ok((self.pack_object_count(pack)? == found).then_some(pack))
    }
}

/// Where a walk is in the name hashes kept for a pack (see [`ChunkFile::NameHashes`]),
/// read a row at a time as they are taken: the whole of git/git's (1.7 MB) is never held
/// at once.
#[derive(Debug, Default)]
struct NameHashes {
    row: Vec<u8>,
    at: usize,
    seq: u64,
}

impl NameHashes {
    /// The next hash kept for `pack`, if any is left.
    fn next<S: Sql>(&mut self, store: &Store<S>, pack: PackId) -> Result<Option<u32>, StoreError> {
        while self.row.len() - self.at < 4 {
            let Some(next) = store.read_chunk(pack, ChunkFile::NameHashes, self.seq)? else {
                return Ok(None);
            };
            // A hash cut across two rows (rows of a size not a multiple of 4) is joined.
            let row = match &self.row[self.at..] {
                [] => next,
                rest => [rest, &next].concat(),
            };
            (self.row, self.at, self.seq) = (row, 0, self.seq + 1);
        }
        let bytes = &self.row[self.at..self.at + 4];
        self.at += 4;
        Ok(Some(u32::from_be_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3],
        ])))
    }
}

/// Calls `each` with `items` a batch of [`JSON_BATCH`] at a time: for walks held whole in
/// memory, which are not copied again to be cut into batches.
fn in_batches<T>(
    mut items: impl Iterator<Item = T>,
    mut each: impl FnMut(Vec<T>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    loop {
        let batch: Vec<T> = items.by_ref().take(JSON_BATCH).collect();
        if batch.is_empty() {
            return Ok(());
        }
        each(batch)?;
    }
}
