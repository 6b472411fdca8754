//! What a repack's walk keeps: every object the refs reach, with the queue of those whose
//! links are not listed yet. It starts in memory, where it writes nothing (a repository at
//! rest is walked and found already packed without a row written), and moves to the
//! `repack_objects` rows when it outgrows its budget, when the repack has to write a pack
//! (which orders and records its objects there), or when the memory is lost with the
//! object's instance: rows survive a restart, so a walk restarted in them always ends.

use std::collections::{HashMap, VecDeque};

use super::maintenance::RepackRow;
use super::objects::Stored;
use super::{ids_json, row_id, row_int, Location, Store, StoreError, JSON_BATCH};
use crate::format::object::{ObjectId, ObjectType};
use crate::format::pack::PackId;
use crate::store::sql::{Rows, Sql};

/// A repack's walk held in memory.
#[derive(Debug, Default)]
pub struct WalkInMemory {
    /// The run it belongs to (its start, in milliseconds).
    run: i64,
    /// Every object found, with the hash of the name it was first found under.
    seen: HashMap<ObjectId, u32>,
    /// The objects found whose links are not listed yet (blobs have none, so never wait);
    /// where each is stored is looked up again when it is walked, to keep them small.
    queue: VecDeque<ObjectId>,
    /// How many objects it may hold; past that it moves to the rows.
    budget: usize,
    /// How many of the objects found each pack holds, and how many are loose.
    packs: HashMap<PackId, u64>,
    loose: u64,
    /// What the run's slices counted since its progress was last written.
    unsaved: Option<Unsaved>,
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
        self.seen.len()
    }

    /// Whether it found nothing.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Whether the walk found `id`.
    pub(super) fn holds(&self, id: &ObjectId) -> bool {
        self.seen.contains_key(id)
    }

    /// Sets how many objects it may hold before it moves to the rows.
    pub fn set_budget(&mut self, objects: usize) {
        self.budget = objects;
    }

    fn add(&mut self, id: ObjectId, name_hash: u32, stored: &Stored) {
        if self.seen.insert(id, name_hash).is_some() {
            return;
        }
        match stored.located.location {
            Location::Packed { pack, .. } => *self.packs.entry(pack).or_default() += 1,
            Location::Loose => self.loose += 1,
        }
        if stored.located.kind != ObjectType::Blob {
            self.queue.push_back(id);
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

impl<S: Sql> Store<S> {
    /// A walk in memory for the run started at `run`, holding `budget` objects at most,
    /// with every ref's object queued.
    pub fn walk_in_memory(&self, run: i64, budget: usize) -> Result<Walk, StoreError> {
        let mut walk = Walk::Memory(Box::new(WalkInMemory {
            run,
            budget,
            ..WalkInMemory::default()
        }));
        self.repack_add_tips(&mut walk)?;
        Ok(walk)
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
                    .filter(|(id, _)| !memory.seen.contains_key(id))
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

    /// Moves a walk in memory into the rows, where the rest of the repack keeps its objects.
    pub fn spill_walk(&self, walk: &mut Walk) -> Result<(), StoreError> {
        let Walk::Memory(memory) = walk else {
            return Ok(());
        };
        // Sorted ids rather than a set, and the objects a batch at a time: this runs with the
        // whole walk in memory, at its budget.
        let mut waiting: Vec<ObjectId> = memory.queue.iter().copied().collect();
        waiting.sort_unstable();
        let mut objects = memory.seen.iter().map(|(id, hash)| (*id, *hash));
        loop {
            let batch: Vec<(ObjectId, u32)> = objects.by_ref().take(JSON_BATCH).collect();
            if batch.is_empty() {
                break;
            }
            self.insert_repack(&batch, |id, _| waiting.binary_search(id).is_err())?;
        }
        *walk = Walk::Rows;
        Ok(())
    }

    /// Up to `limit` objects of the walk whose links are not listed yet.
    pub fn repack_unwalked(&self, walk: &Walk, limit: usize) -> Result<Vec<RepackRow>, StoreError> {
        if let Walk::Memory(memory) = walk {
            return self.queued_rows(memory, limit);
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

    /// The first `limit` objects of a walk in memory's queue, where they are stored now.
    fn queued_rows(
        &self,
        memory: &WalkInMemory,
        limit: usize,
    ) -> Result<Vec<RepackRow>, StoreError> {
        let ids: Vec<ObjectId> = memory.queue.iter().take(limit).copied().collect();
        let stored = self.find(&ids)?;
        ids.iter()
            .map(|id| {
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
                    name_hash: memory.seen.get(id).copied().unwrap_or(0),
                    stored_depth: s.depth,
                })
            })
            .collect()
    }

    /// Adds the objects `links` name (id, name hash) to the walk, those stored and not in
    /// it yet, and marks `walked` as listed: the first of those [`Store::repack_unwalked`]
    /// gave.
    pub fn repack_link(
        &self,
        walk: &mut Walk,
        walked: &[ObjectId],
        links: &[(ObjectId, u32)],
    ) -> Result<(), StoreError> {
        self.repack_queue(walk, links)?;
        if let Walk::Memory(memory) = walk {
            let n = walked.len().min(memory.queue.len());
            memory.queue.drain(..n);
            return Ok(());
        }
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
