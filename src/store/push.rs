//! What indexing a push in progress knows: its entries (offset, CRC, id, type, delta depth,
//! and for a delta still waiting, its base), in memory while there are few enough of them
//! ([`Held`]) and in rows beyond, the objects its objects link to, in pages, and its commits.
//! Accepting the push copies them into the repository's tables in a few statements;
//! discarding it drops them.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

use hashbrown::hash_table::{self, HashTable};

use super::blocks::Blocks;
use super::commit_graph::CommitRecord;
use super::midx::Record;
use super::paged::Change;
use super::{id_value, row_id, row_int, CommitInfo, NewObject, Store, StoreError, JSON_BATCH};
use crate::format::object::{Link, ObjectId, ObjectType};
use crate::format::pack::PackId;
use crate::store::sql::{Sql, Value};

/// What a delta waiting for its base names it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Base {
    /// An OFS_DELTA's base entry.
    Offset(u64),
    /// A REF_DELTA's base object.
    Id(ObjectId),
}

/// One pack entry of a push being indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRow {
    /// Where the entry starts.
    pub offset: u64,
    /// CRC-32 of its raw bytes.
    pub crc32: u32,
    /// Its object, once resolved.
    pub resolved: Option<(ObjectId, ObjectType)>,
    /// The object's size, once resolved.
    pub size: u64,
    /// Deltas between it and a whole object.
    pub depth: usize,
    /// For a delta not yet resolved: what it waits for.
    pub waits_for: Option<Base>,
}

/// An entry as [`Held`]: 48 bytes where an [`EntryRow`] takes 80, and found by id through
/// a table of 4-byte indexes rather than a map of ids.
#[derive(Clone, Copy, Debug)]
struct Slot {
    offset: u64,
    size: u64,
    id: ObjectId,
    crc32: u32,
    depth: u16,
    /// The object's type number, 0 while the delta waits for its base.
    kind: u8,
}

/// The entries of a push kept in memory while it is indexed and checked, so that a push of
/// few enough objects writes no row for each: every entry in offset order, where each
/// object's entry is, and once asked, the entries in id order (for the idx and the
/// multi-pack index).
#[derive(Debug, Default)]
pub struct Held {
    /// In blocks, as entries come: a list reserved whole from the pack's declared count
    /// would let a push that sends nothing take memory, and one grown by doubling would
    /// take half as much again, in pieces.
    slots: Blocks<Slot>,
    /// Indexes into `slots` of the first resolved entry of each object, hashed by its id.
    by_id: HashTable<u32>,
    hasher: RandomState,
    /// The offsets of the deltas waiting for each base.
    waiting: HashMap<Base, Vec<u64>>,
    commits: HeldCommits,
    /// The resolved entries' indexes in id order, made once asked.
    in_id_order: OnceCell<Vec<u32>>,
}

impl Held {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.slots.len() == 0
    }

    /// The entry of `slot`, without what it waits for (only [`Held::entries`] tells that).
    fn row(&self, slot: &Slot) -> EntryRow {
        EntryRow {
            offset: slot.offset,
            crc32: slot.crc32,
            resolved: ObjectType::from_number(slot.kind).map(|kind| (slot.id, kind)),
            size: slot.size,
            depth: usize::from(slot.depth),
            waits_for: None,
        }
    }

    /// Every entry, in offset order, with what each delta still waiting waits for.
    pub fn entries(&self) -> impl Iterator<Item = EntryRow> + '_ {
        let bases: HashMap<u64, Base> = (self.waiting.iter())
            .flat_map(|(base, offsets)| offsets.iter().map(|offset| (*offset, *base)))
            .collect();
        self.slots.iter().map(move |slot| EntryRow {
            waits_for: bases.get(&slot.offset).copied(),
            ..self.row(slot)
        })
    }

    /// Takes the offsets of the deltas waiting for `base`, to be resolved now.
    pub fn take_waiting(&mut self, base: Base) -> Vec<u64> {
        self.waiting.remove(&base).unwrap_or_default()
    }

    /// Takes a new entry (after every earlier one); returns its id if another entry already
    /// holds the same object.
    pub fn add(&mut self, entry: EntryRow) -> Option<ObjectId> {
        self.slots.push(Slot {
            offset: entry.offset,
            crc32: entry.crc32,
            ..Slot::default()
        });
        self.fill(self.slots.len() - 1, entry)
    }

    /// Takes a waiting entry now resolved; returns its id if another entry already holds
    /// the same object.
    pub fn resolve(&mut self, entry: EntryRow) -> Option<ObjectId> {
        let at = self.position(entry.offset)?;
        self.fill(at, entry)
    }

    /// Writes what is known of the entry at `at`, and indexes its object once resolved.
    fn fill(&mut self, at: usize, entry: EntryRow) -> Option<ObjectId> {
        self.in_id_order = OnceCell::new();
        let slot = self.slots.get_mut(at)?;
        // Chains are refused past pack::MAX_CHAIN, far below u16::MAX.
        slot.depth = u16::try_from(entry.depth).unwrap_or(u16::MAX);
        slot.size = entry.size;
        if let Some(base) = entry.waits_for {
            self.waiting.entry(base).or_default().push(entry.offset);
        }
        let (id, kind) = entry.resolved?;
        (slot.id, slot.kind) = (id, kind as u8);
        let hash = self.hasher.hash_one(id);
        let slots = &self.slots;
        let hasher = &self.hasher;
        match self.by_id.entry(
            hash,
            |&other| slots[other as usize].id == id,
            |&other| hasher.hash_one(slots[other as usize].id),
        ) {
            hash_table::Entry::Occupied(_) => Some(id),
            hash_table::Entry::Vacant(place) => {
                place.insert(at as u32);
                None
            }
        }
    }

    fn position(&self, offset: u64) -> Option<usize> {
        self.slots.position(&offset, |e| e.offset)
    }

    /// The entry at `offset`.
    pub fn at(&self, offset: u64) -> Option<EntryRow> {
        Some(self.row(self.slots.get(self.position(offset)?)?))
    }

    /// The (first resolved) entry holding object `id`.
    pub fn of(&self, id: &ObjectId) -> Option<EntryRow> {
        let slots = &self.slots;
        let at = self
            .by_id
            .find(self.hasher.hash_one(id), |&at| slots[at as usize].id == *id)?;
        Some(self.row(&self.slots[*at as usize]))
    }

    /// The type of object `id`, if held.
    pub fn type_of(&self, id: &ObjectId) -> Option<ObjectType> {
        self.of(id)?.resolved.map(|(_, kind)| kind)
    }

    /// The resolved entries' indexes in id order (4 bytes each, made once).
    fn in_id_order(&self) -> &[u32] {
        self.in_id_order.get_or_init(|| {
            let mut order: Vec<u32> = (0..self.slots.len() as u32)
                .filter(|&at| self.slots[at as usize].kind != 0)
                .collect();
            order.sort_unstable_by_key(|&at| self.slots[at as usize].id);
            order
        })
    }

    /// Takes a commit of the push (the first of copies).
    pub fn add_commit(&mut self, commit: CommitInfo) {
        self.commits.add(commit, &self.hasher);
    }

    /// The commits of the push, in id order (those of more than two parents last), `batch`
    /// at a time.
    pub fn commits(&self, batch: usize) -> impl Iterator<Item = Vec<CommitInfo>> + '_ {
        self.commits.in_id_order(batch)
    }

    /// The commit-graph rows of those of `ids` that the push brings.
    pub fn commits_of(&self, ids: &[ObjectId]) -> HashMap<ObjectId, CommitInfo> {
        ids.iter()
            .filter_map(|id| Some((*id, self.commits.get(id, &self.hasher)?)))
            .collect()
    }

    /// The objects held, in pack order.
    pub fn objects(&self) -> Vec<NewObject> {
        self.entries()
            .filter_map(|e| {
                let (id, kind) = e.resolved?;
                Some(NewObject {
                    id,
                    kind,
                    offset: e.offset,
                })
            })
            .collect()
    }

    /// The idx's rows, in id order.
    pub fn idx_rows(&self) -> impl Iterator<Item = IdxRow> + '_ {
        self.in_id_order().iter().map(|&at| {
            let slot = &self.slots[at as usize];
            (slot.id, slot.offset, slot.crc32)
        })
    }

    /// The resolved entries in id order, `batch` at a time.
    fn pushed_in_id_order(&self, batch: usize) -> impl Iterator<Item = Vec<Pushed>> + '_ {
        self.in_id_order().chunks(batch).map(|ats| {
            ats.iter()
                .filter_map(|&at| pushed(&self.row(&self.slots[at as usize])))
                .collect()
        })
    }
}

/// The commits of a push held in memory: a record of 72 bytes each where most fit one, found
/// by id through a table of indexes, and the rare commit of more parents whole.
#[derive(Debug, Default)]
struct HeldCommits {
    records: Blocks<CommitRecord>,
    by_id: HashTable<u32>,
    octopus: HashMap<ObjectId, CommitInfo>,
}

impl HeldCommits {
    /// Where the record of `id` is, if it has one.
    fn find(&self, id: &ObjectId, hasher: &RandomState) -> Option<usize> {
        let records = &self.records;
        let at = self
            .by_id
            .find(hasher.hash_one(id), |&at| records[at as usize].id() == *id)?;
        Some(*at as usize)
    }

    /// Takes a commit, unless it came before.
    fn add(&mut self, commit: CommitInfo, hasher: &RandomState) {
        if self.find(&commit.id, hasher).is_some() {
            return;
        }
        let Some(record) = CommitRecord::of(&commit) else {
            self.octopus.entry(commit.id).or_insert(commit);
            return;
        };
        self.records.push(record);
        let records = &self.records;
        self.by_id.insert_unique(
            hasher.hash_one(commit.id),
            (records.len() - 1) as u32,
            |&at| hasher.hash_one(records[at as usize].id()),
        );
    }

    /// The commit `id`, if held.
    fn get(&self, id: &ObjectId, hasher: &RandomState) -> Option<CommitInfo> {
        match self.find(id, hasher) {
            Some(at) => Some(self.records[at].info()),
            None => self.octopus.get(id).cloned(),
        }
    }

    /// The commits in id order, `batch` at a time (those of more parents last, at once), so
    /// that each batch falls in pages of the commit graph of its own.
    fn in_id_order(&self, batch: usize) -> impl Iterator<Item = Vec<CommitInfo>> + '_ {
        let mut order: Vec<u32> = (0..self.records.len() as u32).collect();
        order.sort_unstable_by_key(|&at| self.records[at as usize].id());
        let octopus: Vec<CommitInfo> = self.octopus.values().cloned().collect();
        let mut order = order.into_iter().map(|at| self.records[at as usize].info());
        std::iter::from_fn(move || {
            let next: Vec<CommitInfo> = order.by_ref().take(batch).collect();
            (!next.is_empty()).then_some(next)
        })
        .chain((!octopus.is_empty()).then_some(octopus))
    }
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            offset: 0,
            size: 0,
            id: ObjectId([0; 20]),
            crc32: 0,
            depth: 0,
            kind: 0,
        }
    }
}

/// Links as a page of `push_link_pages`: each the id, then the type (0 for any).
fn link_page(links: &[Link]) -> Vec<u8> {
    let mut page = Vec::with_capacity(links.len() * LINK_BYTES);
    for link in links {
        page.extend_from_slice(&link.id.0);
        page.push(link.kind.map_or(0, |kind| kind as u8));
    }
    page
}

/// An entry's place in the idx: its id, offset and CRC.
pub type IdxRow = (ObjectId, u64, u32);

/// Whose entries an idx is written from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdxSource {
    /// A push's pack, from its entry rows.
    Push(PackId),
    /// The pack the repack in progress writes.
    Repack,
}

impl IdxSource {
    /// The rows' table and condition, and the condition's parameters.
    fn rows(self) -> (&'static str, Vec<Value>) {
        match self {
            IdxSource::Push(push) => ("push_entries WHERE push = ?", vec![push.into()]),
            IdxSource::Repack => ("repack_objects WHERE offset IS NOT NULL", vec![]),
        }
    }
}

fn json_row(e: &EntryRow) -> String {
    let (id, kind) = match e.resolved {
        Some((id, kind)) => (format!("\"{id}\""), (kind as u8).to_string()),
        None => ("null".into(), "null".into()),
    };
    let (base_offset, base_id) = match e.waits_for {
        Some(Base::Offset(at)) => (at.to_string(), "null".into()),
        Some(Base::Id(id)) => ("null".into(), format!("\"{id}\"")),
        None => ("null".into(), "null".into()),
    };
    format!(
        "[{},{},{kind},{id},{},{},{base_offset},{base_id}]",
        e.offset, e.crc32, e.size, e.depth
    )
}

fn entry_row(row: &[Value]) -> Result<EntryRow, StoreError> {
    let resolved = match (&row[2], &row[3]) {
        (Value::Null, _) | (_, Value::Null) => None,
        (kind, id) => {
            let kind = ObjectType::from_number(row_int(kind)? as u8)
                .ok_or(StoreError::BadColumn("object type"))?;
            Some((row_id(id)?, kind))
        }
    };
    let waits_for = match (&row[6], &row[7]) {
        (Value::Null, Value::Null) => None,
        (Value::Null, id) => Some(Base::Id(row_id(id)?)),
        (offset, _) => Some(Base::Offset(row_int(offset)? as u64)),
    };
    Ok(EntryRow {
        offset: row_int(&row[0])? as u64,
        crc32: row_int(&row[1])? as u32,
        resolved,
        size: row_int(&row[4])? as u64,
        depth: row_int(&row[5])? as usize,
        waits_for,
    })
}

/// A resolved object of a push, as it is indexed.
struct Pushed {
    id: ObjectId,
    kind: ObjectType,
    offset: u64,
    size: u64,
    depth: u32,
}

fn pushed(e: &EntryRow) -> Option<Pushed> {
    let (id, kind) = e.resolved?;
    Some(Pushed {
        id,
        kind,
        offset: e.offset,
        size: e.size,
        depth: e.depth as u32,
    })
}

/// Entry rows a push too large to hold in memory is indexed from at once: in id order,
/// so each batch rewrites its own pages and the one it shares with the batch before.
const INDEX_BATCH: usize = 16_384;

/// Bytes of a link in a page: the id, then the type's number (0: none).
const LINK_BYTES: usize = 21;

/// Links in a page (672 KiB): a push of git/git's whole history writes a few hundred.
pub const LINK_PAGE: usize = 1 << 15;

const ENTRY_COLUMNS: &str = "offset, crc, type, oid, size, depth, base_offset, base_oid";

impl<S: Sql> Store<S> {
    /// Records entries of a push (new ones, or waiting ones now resolved).
    pub fn record_entries(&self, push: PackId, entries: &[EntryRow]) -> Result<(), StoreError> {
        for batch in entries.chunks(JSON_BATCH) {
            let rows: Vec<String> = batch.iter().map(json_row).collect();
            self.exec(
                "INSERT OR REPLACE INTO push_entries \
                 (push, offset, crc, type, oid, size, depth, base_offset, base_oid) \
                 SELECT ?1, value ->> 0, value ->> 1, value ->> 2, unhex(value ->> 3), \
                 value ->> 4, value ->> 5, value ->> 6, unhex(value ->> 7) FROM json_each(?2)",
                vec![push.into(), format!("[{}]", rows.join(",")).into()],
            )?;
        }
        Ok(())
    }

    /// The push's entry at `offset`.
    pub fn entry_at(&self, push: PackId, offset: u64) -> Result<Option<EntryRow>, StoreError> {
        let rows = self.exec(
            &format!("SELECT {ENTRY_COLUMNS} FROM push_entries WHERE push = ? AND offset = ?"),
            vec![push.into(), (offset as i64).into()],
        )?;
        rows.first().map(|r| entry_row(r)).transpose()
    }

    /// The push's (first) entry holding object `id`.
    pub fn entry_of(&self, push: PackId, id: &ObjectId) -> Result<Option<EntryRow>, StoreError> {
        let rows = self.exec(
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM push_entries WHERE push = ? AND oid = ? \
                 ORDER BY offset LIMIT 1"
            ),
            vec![push.into(), id_value(id)],
        )?;
        rows.first().map(|r| entry_row(r)).transpose()
    }

    /// The offsets of the push's deltas that wait for `base`. SQLite's planner prefers the
    /// primary key's prefix (every entry of the push) to the index of waiting deltas, which
    /// made resolving a push read its entries once per object: the index is named.
    pub fn waiting_for(&self, push: PackId, base: Base) -> Result<Vec<u64>, StoreError> {
        let (column, value) = match base {
            Base::Offset(at) => ("base_offset", Value::from(at as i64)),
            Base::Id(id) => ("base_offset IS NULL AND base_oid", id_value(&id)),
        };
        let rows = self.exec(
            &format!(
                "SELECT offset FROM push_entries INDEXED BY push_entries_waiting \
                 WHERE push = ? AND oid IS NULL AND {column} = ?"
            ),
            vec![push.into(), value],
        )?;
        rows.iter().map(|r| Ok(row_int(&r[0])? as u64)).collect()
    }

    /// Records page `seq` of the objects that the push's objects link to, with the type git
    /// takes each to be (at most [`LINK_PAGE`] of them).
    pub fn record_links(&self, push: PackId, seq: u64, links: &[Link]) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO push_link_pages (push, seq, data) VALUES (?, ?, ?)",
            vec![push.into(), (seq as i64).into(), link_page(links).into()],
        )?;
        Ok(())
    }

    /// Records commits of the push.
    pub fn record_push_commits(
        &self,
        push: PackId,
        commits: &[CommitInfo],
    ) -> Result<(), StoreError> {
        let into = "push_commits (push, oid, time, parents) SELECT ?2,";
        self.insert_commits(into, Some(push), commits.iter())
    }

    /// Inserts `commits` `into` a table (`?2` is `push`, when given).
    pub(super) fn insert_commits<'c>(
        &self,
        into: &str,
        push: Option<PackId>,
        commits: impl Iterator<Item = &'c CommitInfo>,
    ) -> Result<(), StoreError> {
        let commits: Vec<&CommitInfo> = commits.collect();
        for batch in commits.chunks(JSON_BATCH) {
            let rows: Vec<String> = batch
                .iter()
                .map(|c| {
                    let parents: String = c.parents.iter().map(ObjectId::to_hex).collect();
                    format!("[\"{}\",{},\"{parents}\"]", c.id, c.time)
                })
                .collect();
            self.exec(
                &format!(
                    "INSERT OR IGNORE INTO {into} \
                     unhex(value ->> 0), value ->> 1, unhex(value ->> 2) FROM json_each(?1)"
                ),
                std::iter::once(format!("[{}]", rows.join(",")).into())
                    .chain(push.map(Value::from))
                    .collect(),
            )?;
        }
        Ok(())
    }

    /// An object the push holds twice, if any.
    pub fn duplicate_entry(&self, push: PackId) -> Result<Option<ObjectId>, StoreError> {
        let rows = self.exec(
            "SELECT oid FROM push_entries WHERE push = ? AND oid IS NOT NULL \
             GROUP BY oid HAVING count(*) > 1 LIMIT 1",
            vec![push.into()],
        )?;
        rows.first().map(|r| row_id(&r[0])).transpose()
    }

    /// Whether every object the push's objects link to is in the push (`held`, or its rows)
    /// or stored, of the type git takes it to be where git parses it (git's connectivity
    /// check fails otherwise): the links of its recorded pages, then the `last` ones, never
    /// written. The pages are read one at a time, so memory stays that of a page.
    pub fn push_is_complete(
        &self,
        push: PackId,
        held: Option<&Held>,
        last: &[Link],
    ) -> Result<bool, StoreError> {
        for seq in 0_i64.. {
            let rows = self.exec(
                "SELECT data FROM push_link_pages WHERE push = ? AND seq = ?",
                vec![push.into(), seq.into()],
            )?;
            let Some(page) = rows.into_iter().next().and_then(|r| r.into_iter().next()) else {
                break;
            };
            let Value::Blob(page) = page else {
                return Err(StoreError::BadColumn("link page"));
            };
            if !self.page_found(push, held, &page)? {
                return Ok(false);
            }
        }
        self.page_found(push, held, &link_page(last))
    }

    /// Whether every link of a page names an object in the push or stored (see
    /// [`Store::links_found`]).
    fn page_found(
        &self,
        push: PackId,
        held: Option<&Held>,
        page: &[u8],
    ) -> Result<bool, StoreError> {
        for batch in page.chunks(LINK_BYTES * JSON_BATCH) {
            if !self.links_found(push, held, batch)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether every link of a piece of a page names an object in the push or stored, of the
    /// type it is linked as. An object linked as two types fails one of the two links. The
    /// push is asked first: most links of a large push name its own objects.
    fn links_found(
        &self,
        push: PackId,
        held: Option<&Held>,
        links: &[u8],
    ) -> Result<bool, StoreError> {
        let mut asked = Vec::new();
        for (&kind, id) in links
            .chunks_exact(LINK_BYTES)
            .filter_map(<[u8]>::split_last)
        {
            let id = ObjectId::from_bytes(id).ok_or(StoreError::BadColumn("link page"))?;
            asked.push((id, kind));
        }
        let pushed = match held {
            Some(held) => asked
                .iter()
                .filter_map(|(id, _)| Some((*id, held.type_of(id)?)))
                .collect(),
            None => self.pushed_types(push, &asked)?,
        };
        let mut rest = Vec::new();
        for (id, kind) in &asked {
            match pushed.get(id) {
                Some(&found) if *kind != 0 && *kind != found as u8 => return Ok(false),
                Some(_) => {}
                None => rest.push((*id, *kind)),
            }
        }
        let ids: Vec<ObjectId> = rest.iter().map(|(id, _)| *id).collect();
        let stored = self.find(&ids)?;
        Ok(rest.iter().all(|(id, kind)| {
            stored
                .get(id)
                .is_some_and(|s| *kind == 0 || *kind == s.located.kind as u8)
        }))
    }

    /// The types of those of `asked` that the push's entry rows hold. The cross join keeps
    /// the asked ids outside: the other way round, every entry of the push would be read
    /// for each page of links.
    fn pushed_types(
        &self,
        push: PackId,
        asked: &[(ObjectId, u8)],
    ) -> Result<HashMap<ObjectId, ObjectType>, StoreError> {
        let ids: Vec<ObjectId> = asked.iter().map(|(id, _)| *id).collect();
        let mut found = HashMap::new();
        for batch in ids.chunks(JSON_BATCH) {
            let rows = self.exec(
                "SELECT e.oid, e.type FROM json_each(?2) l \
                 CROSS JOIN push_entries e INDEXED BY push_entries_oid \
                 WHERE e.push = ?1 AND e.oid = unhex(l.value)",
                vec![push.into(), super::ids_json(batch).into()],
            )?;
            for row in rows {
                let kind = ObjectType::from_number(row_int(&row[1])? as u8)
                    .ok_or(StoreError::BadColumn("object type"))?;
                found.insert(row_id(&row[0])?, kind);
            }
        }
        Ok(found)
    }

    /// The type of an object the push holds (in `held`, or its rows).
    pub fn pushed_type(
        &self,
        push: PackId,
        held: Option<&Held>,
        id: &ObjectId,
    ) -> Result<Option<ObjectType>, StoreError> {
        if let Some(held) = held {
            return Ok(held.type_of(id));
        }
        Ok(self
            .entry_of(push, id)?
            .and_then(|e| e.resolved.map(|(_, kind)| kind)))
    }

    /// The push's objects in pack order (for small pushes, staged loose), from what
    /// indexing `held` in memory, or else from its rows.
    pub fn pushed_objects(
        &self,
        push: PackId,
        held: Option<&Held>,
    ) -> Result<Vec<NewObject>, StoreError> {
        if let Some(held) = held {
            return Ok(held.objects());
        }
        let rows = self.exec(
            &format!("SELECT {ENTRY_COLUMNS} FROM push_entries WHERE push = ? ORDER BY offset"),
            vec![push.into()],
        )?;
        rows.iter()
            .map(|r| {
                let entry = entry_row(r)?;
                let (id, kind) = entry.resolved.ok_or(StoreError::BadColumn("oid"))?;
                Ok(NewObject {
                    id,
                    kind,
                    offset: entry.offset,
                })
            })
            .collect()
    }

    /// How many of the pack's objects start with each byte: the idx's fanout, not summed.
    pub fn idx_first_bytes(&self, source: IdxSource) -> Result<[u32; 256], StoreError> {
        let (rows, params) = source.rows();
        let rows = self.exec(
            &format!("SELECT hex(substr(oid, 1, 1)), count(*) FROM {rows} GROUP BY 1"),
            params,
        )?;
        let mut counts = [0u32; 256];
        for row in rows {
            let byte = row[0]
                .as_str()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(StoreError::BadColumn("oid"))?;
            counts[byte as usize] = row_int(&row[1])? as u32;
        }
        Ok(counts)
    }

    /// Up to `limit` of the pack's objects in id order, after `after`: the idx's rows.
    /// They come as one row of hex text, not a row each: a page then crosses from SQLite
    /// at once instead of value by value. The aggregate's own ORDER BY keeps them in id
    /// order, which SQLite does not promise for a subquery's order alone.
    pub fn idx_rows(
        &self,
        source: IdxSource,
        after: Option<ObjectId>,
        limit: usize,
    ) -> Result<Vec<IdxRow>, StoreError> {
        let (rows, mut params) = source.rows();
        params.push(Value::Blob(after.map_or(vec![], |id| id.0.to_vec())));
        params.push((limit as i64).into());
        let rows = self.exec(
            &format!(
                "SELECT group_concat(hex(oid) || printf('%08x%016x', crc, offset), '' ORDER BY oid) \
                 FROM (SELECT oid, crc, offset FROM {rows} AND oid > ? ORDER BY oid LIMIT ?)"
            ),
            params,
        )?;
        let text = rows.first().and_then(|r| r[0].as_str()).unwrap_or_default();
        let bad = || StoreError::BadColumn("idx row");
        let number = |hex: &[u8]| {
            std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .ok_or_else(bad)
        };
        text.as_bytes()
            .chunks(64)
            .map(|row| {
                let id = row.get(..40).and_then(ObjectId::from_hex).ok_or_else(bad)?;
                let crc = number(row.get(40..48).ok_or_else(bad)?)?;
                let offset = number(row.get(48..).filter(|o| o.len() == 16).ok_or_else(bad)?)?;
                Ok((id, offset, crc as u32))
            })
            .collect()
    }

    /// Makes the push's objects and commits part of the repository: at `pack`, or loose.
    /// An object it sends again that a repack found unreachable is freshened, as git's
    /// `freshen_object` does: its grace starts again when a repack next finds it unreachable.
    pub(super) fn index_pushed(
        &self,
        push: PackId,
        packed: bool,
        held: Option<&Held>,
    ) -> Result<(), StoreError> {
        let fresh = self.any_unreachable()?;
        if let Some(held) = held {
            for objects in held.pushed_in_id_order(INDEX_BATCH) {
                self.index_objects(push, packed, fresh, &objects)?;
            }
            for commits in held.commits(INDEX_BATCH) {
                self.record_commits(commits.iter())?;
            }
            return self.forget_push(push);
        }
        // In id order, so that each batch falls in pages of its own.
        let mut after = Vec::new();
        loop {
            let rows = self.exec(
                &format!(
                    "SELECT {ENTRY_COLUMNS} FROM push_entries INDEXED BY push_entries_oid \
                     WHERE push = ? AND oid > ? ORDER BY oid LIMIT ?"
                ),
                vec![push.into(), after.into(), (INDEX_BATCH as i64).into()],
            )?;
            let objects = rows
                .iter()
                .map(|r| entry_row(r))
                .collect::<Result<Vec<EntryRow>, StoreError>>()?;
            let objects: Vec<Pushed> = objects.iter().filter_map(pushed).collect();
            self.index_objects(push, packed, fresh, &objects)?;
            match objects.last() {
                Some(last) if rows.len() == INDEX_BATCH => after = last.id.0.to_vec(),
                _ => break,
            }
        }
        self.record_pushed_commits(push)?;
        self.forget_push(push)
    }

    /// Records the commits of a push too large to hold in memory, from its rows in id order
    /// a batch at a time, so each batch falls in pages of its own.
    fn record_pushed_commits(&self, push: PackId) -> Result<(), StoreError> {
        let mut after = Vec::new();
        loop {
            let rows = self.exec(
                "SELECT oid, time, parents FROM push_commits WHERE push = ? AND oid > ? \
                 ORDER BY oid LIMIT ?",
                vec![push.into(), after.into(), (INDEX_BATCH as i64).into()],
            )?;
            let commits = rows
                .iter()
                .map(|row| super::objects::commit_row(row).map(|(_, info)| info))
                .collect::<Result<Vec<CommitInfo>, StoreError>>()?;
            self.record_commits(commits.iter())?;
            match commits.last() {
                Some(last) if rows.len() == INDEX_BATCH => after = last.id.0.to_vec(),
                _ => return Ok(()),
            }
        }
    }

    /// Whether any object waits out its grace as unreachable: most often none does, and a
    /// push need not then look up each of its objects there.
    pub(super) fn any_unreachable(&self) -> Result<bool, StoreError> {
        Ok(!self
            .exec("SELECT 1 FROM unreachable LIMIT 1", vec![])?
            .is_empty())
    }

    /// Indexes pushed objects: packed ones in the multi-pack index, unless stored loose
    /// already, loose ones as rows, unless packed already, so that each object is stored
    /// once; those found unreachable before are fresh again if `fresh`.
    fn index_objects(
        &self,
        push: PackId,
        packed: bool,
        fresh: bool,
        objects: &[Pushed],
    ) -> Result<(), StoreError> {
        let ids: Vec<ObjectId> = objects.iter().map(|o| o.id).collect();
        if fresh {
            for batch in ids.chunks(JSON_BATCH) {
                self.exec(
                    "DELETE FROM unreachable WHERE oid IN \
                     (SELECT unhex(value) FROM json_each(?))",
                    vec![super::ids_json(batch).into()],
                )?;
            }
        }
        if !packed {
            return self.index_loose(push, objects);
        }
        let loose = self.find_loose(&ids)?;
        let changes = objects
            .iter()
            .filter(|o| !loose.contains(&o.id))
            .map(|o| {
                Change::Add(Record {
                    id: o.id,
                    kind: o.kind,
                    pack: push,
                    offset: o.offset,
                    size: Some(o.size),
                    depth: Some(o.depth),
                })
            })
            .collect();
        let added = self.apply_changes(changes)?;
        self.tally_objects(added)
    }

    /// Those of `ids` stored loose. Every id asked in a batch is a row read, so when there
    /// are fewer loose objects than that (most often: a repack packs them), all of them
    /// are read instead.
    fn find_loose(&self, ids: &[ObjectId]) -> Result<HashSet<ObjectId>, StoreError> {
        let enough = ids.len() * 2 + 1;
        let every = self.exec(
            "SELECT oid FROM objects LIMIT ?",
            vec![(enough as i64).into()],
        )?;
        let asked: HashSet<&ObjectId> = ids.iter().collect();
        let mut found = HashSet::new();
        if every.len() < enough {
            for row in every {
                let id = row_id(&row[0])?;
                if asked.contains(&id) {
                    found.insert(id);
                }
            }
            return Ok(found);
        }
        for batch in ids.chunks(JSON_BATCH) {
            let rows = self.exec(
                "SELECT oid FROM objects WHERE oid IN (SELECT unhex(value) FROM json_each(?))",
                vec![super::ids_json(batch).into()],
            )?;
            for row in rows {
                found.insert(row_id(&row[0])?);
            }
        }
        Ok(found)
    }

    /// Indexes pushed objects stored loose, those not packed already: the files the push
    /// staged for those go, or nothing would ever retire them.
    fn index_loose(&self, push: PackId, objects: &[Pushed]) -> Result<(), StoreError> {
        let ids: Vec<ObjectId> = objects.iter().map(|o| o.id).collect();
        let packed = self.find_records::<Record>(&ids)?;
        let (old, new): (Vec<&Pushed>, Vec<&Pushed>) =
            objects.iter().partition(|o| packed.contains_key(&o.id));
        let old: Vec<ObjectId> = old.iter().map(|o| o.id).collect();
        for batch in old.chunks(JSON_BATCH) {
            self.exec(
                "DELETE FROM loose WHERE push = ? AND retired IS NULL \
                 AND oid IN (SELECT unhex(value) FROM json_each(?))",
                vec![push.into(), super::ids_json(batch).into()],
            )?;
        }
        for batch in new.chunks(JSON_BATCH) {
            let rows: Vec<String> = batch
                .iter()
                .map(|o| format!("[\"{}\",{},{}]", o.id, o.kind as u8, o.size))
                .collect();
            self.exec(
                "INSERT OR IGNORE INTO objects (oid, type, size) \
                 SELECT unhex(value ->> 0), value ->> 1, value ->> 2 FROM json_each(?)",
                vec![format!("[{}]", rows.join(",")).into()],
            )?;
            self.tally_objects(self.changes()?)?;
        }
        Ok(())
    }

    /// Drops what indexing the push recorded.
    pub(super) fn forget_push(&self, push: PackId) -> Result<(), StoreError> {
        for table in ["push_entries", "push_link_pages", "push_commits"] {
            self.exec(
                &format!("DELETE FROM {table} WHERE push = ?"),
                vec![push.into()],
            )?;
        }
        Ok(())
    }
}
