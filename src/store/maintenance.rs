//! What maintenance keeps in rows: the objects of a repack in progress (its walk queue,
//! its write order, where each went), the unreachable objects and since when, the swap
//! that makes a repack's pack the repository's, and the sweep of what it retired.

use std::collections::HashSet;
use std::ops::RangeInclusive;

use super::midx::{record_row, Record};
use super::packs::PackState;
use super::paged::Change;
use super::walk::Walk;
use super::{id_value, ids_json, row_id, row_int, Location, Store, StoreError, JSON_BATCH};
use crate::format::object::{ObjectId, ObjectType};
use crate::format::pack::PackId;
use crate::store::sql::{Sql, Value};

/// An object of the repack, in write order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepackRow {
    /// Its place in the write order.
    pub seq: i64,
    /// The object.
    pub id: ObjectId,
    /// Its type.
    pub kind: ObjectType,
    /// Its size, if recorded.
    pub size: Option<u64>,
    /// Where it is stored now.
    pub location: Location,
    /// The hash of the file name it was found under (0 for none).
    pub name_hash: u32,
    /// Deltas between its stored entry and a whole object, if known (never for loose).
    pub stored_depth: Option<u32>,
}

/// Where a repacked object went in the new pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// Its entry's offset.
    pub offset: u64,
    /// The CRC-32 of the entry.
    pub crc: u32,
    /// Deltas between it and a whole object.
    pub depth: u32,
}

/// What a swap did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwapReport {
    /// Objects the repack holds.
    pub objects: u64,
    /// Objects dropped for good.
    pub pruned: u64,
    /// Unreachable objects kept for their grace period.
    pub kept: u64,
    /// Packs retired.
    pub retired: u64,
}

/// What the repository holds, for its JSON summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Refs.
    pub refs: u64,
    /// Live packs.
    pub packs: u64,
    /// Objects stored loose.
    pub loose: u64,
    /// Objects in all.
    pub objects: u64,
    /// Bytes of live and retired packs and their indexes, and of loose files.
    pub bytes: u64,
    /// Packs retired but not yet deleted.
    pub retired_packs: u64,
    /// Objects found unreachable, kept for their grace period.
    pub unreachable: u64,
}

/// Counts the live packs; `?1` is the live state.
const LIVE_PACKS: &str = "SELECT count(*) FROM packs WHERE state = ?1";

/// Counts the objects stored loose: their rows, not their files (every one has its file in
/// `loose`, but a file may outlive its object's packing for a while, or belong to a push not
/// yet accepted), so that a push reads the loose objects once and the retired files never.
const LOOSE: &str = "SELECT count(*) FROM objects WHERE pack IS NULL";

/// The `meta` key of the time the earliest loose file not yet swept was retired (empty:
/// none is), so that neither the alarm nor a push reads every loose file to learn it.
const LOOSE_RETIRED: &str = "loose_retired";

/// What a repository stores, as a maintenance run reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Live packs.
    pub packs: u64,
    /// Objects stored loose.
    pub loose: u64,
    /// Bytes of live and retired packs and their indexes, and of loose files.
    pub bytes: u64,
}

/// Bytes stored (see [`Footprint`]); `?1` is the live state, `?2` the retired one.
const BYTES: &str =
    "(SELECT coalesce(sum(size + idx_size), 0) FROM packs WHERE state IN (?1, ?2)) \
     + (SELECT coalesce(sum(length(data)), 0) FROM loose)";

/// The footprint in the first columns of `row`: ([`LIVE_PACKS`]), ([`LOOSE`]), [`BYTES`].
fn footprint(row: &[Value]) -> Result<Footprint, StoreError> {
    let n = |i: usize| row_int(&row[i]).map(|n| n as u64);
    Ok(Footprint {
        packs: n(0)?,
        loose: n(1)?,
        bytes: n(2)?,
    })
}

/// What decides whether a repack is due.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Live packs.
    pub packs: u64,
    /// Objects stored loose.
    pub loose: u64,
}

/// Whether a repack row goes through the delta search: a tree or a blob, loose or stored
/// whole, of a size from `?1` to `?2`.
const SEARCHED: &str =
    "(type IN (2, 3) AND size BETWEEN ?1 AND ?2 AND (pack IS NULL OR stored_depth = 0))";

/// Whether the delta search may take a repack object: a tree or a blob of a size in
/// `searched`.
pub fn delta_searchable(row: &RepackRow, searched: &RangeInclusive<u64>) -> bool {
    matches!(row.kind, ObjectType::Tree | ObjectType::Blob)
        && row.size.is_some_and(|size| searched.contains(&size))
}

/// Whether the delta search takes a repack object, [`SEARCHED`] in Rust: a searchable one
/// stored loose or whole (stored deltas are copied, unless their chain must be cut).
pub fn in_delta_search(row: &RepackRow, searched: &RangeInclusive<u64>) -> bool {
    delta_searchable(row, searched)
        && (row.location == Location::Loose || row.stored_depth == Some(0))
}

/// The objects of the refs an exact pack is recorded with at most (655 KB of `meta`): a
/// repository of more is walked whole by every repack.
pub const EXACT_TIPS_AT_MOST: usize = 16_384;

const REPACK_COLUMNS: &str = "seq, oid, type, size, pack, at, name_hash, stored_depth";

pub(super) fn repack_row(row: &[Value]) -> Result<RepackRow, StoreError> {
    let kind = ObjectType::from_number(row_int(&row[2])? as u8)
        .ok_or(StoreError::BadColumn("object type"))?;
    let location = match row[4] {
        Value::Null => Location::Loose,
        ref pack => Location::Packed {
            pack: PackId(row_int(pack)?),
            offset: row_int(&row[5])? as u64,
        },
    };
    Ok(RepackRow {
        seq: row_int(&row[0])?,
        id: row_id(&row[1])?,
        kind,
        size: row[3].as_i64().map(|n| n as u64),
        location,
        name_hash: row_int(&row[6])? as u32,
        stored_depth: row[7].as_i64().map(|n| n as u32),
    })
}

fn written(row: &[Value]) -> Result<Written, StoreError> {
    Ok(Written {
        offset: row_int(&row[0])? as u64,
        crc: row_int(&row[1])? as u32,
        depth: row_int(&row[2])? as u32,
    })
}

/// Unreachable objects dropped from the index at once.
const PRUNE_BATCH: usize = 16_384;

/// Those of `records` (sorted) that are not in `repacked` (sorted), and the ids of those.
fn outside(records: Vec<Record>, repacked: &[Record]) -> (Vec<Record>, Vec<ObjectId>) {
    let kept: Vec<Record> = records
        .into_iter()
        .filter(|r| repacked.binary_search_by(|n| n.id.cmp(&r.id)).is_err())
        .collect();
    let ids = kept.iter().map(|r| r.id).collect();
    (kept, ids)
}

/// The records of two sorted lists without a common id, in one sorted list.
fn sorted_union(mut a: Vec<Record>, b: Vec<Record>) -> Vec<Record> {
    a.extend(b);
    a.sort_unstable_by_key(|r| r.id);
    a
}

pub(super) fn count(rows: &[Vec<Value>]) -> Result<u64, StoreError> {
    let row = rows.first().ok_or(StoreError::BadColumn("count"))?;
    Ok(row_int(&row[0])? as u64)
}

impl<S: Sql> Store<S> {
    /// A meta value by key.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let rows = self.exec("SELECT value FROM meta WHERE key = ?", vec![key.into()])?;
        Ok(rows.first().and_then(|r| r[0].as_str()).map(str::to_string))
    }

    /// Sets a meta value, or removes it.
    pub fn set_meta(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        match value {
            Some(value) => self.exec(
                "INSERT INTO meta (key, value) VALUES (?, ?) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                vec![key.into(), value.into()],
            )?,
            None => self.exec("DELETE FROM meta WHERE key = ?", vec![key.into()])?,
        };
        Ok(())
    }

    /// Starts the pack a repack writes.
    pub fn begin_repack(&self) -> Result<PackId, StoreError> {
        self.new_pack_row(PackState::Repack)
    }

    /// Forgets a repack: its objects, and its pack row if it has one that is not live.
    pub fn clear_repack(&self, pack: Option<PackId>) -> Result<(), StoreError> {
        self.empty_table("repack_objects")?;
        if let Some(pack) = pack {
            let state = self.exec("SELECT state FROM packs WHERE id = ?", vec![pack.into()])?;
            if state
                .first()
                .is_some_and(|r| r[0] == PackState::Repack.into())
            {
                self.drop_pack_rows(pack)?;
            }
        }
        Ok(())
    }

    /// Gives the repack's objects not yet ordered their places after those that are, in
    /// three groups, as `pack-objects` searches deltas for every object it does not reuse
    /// as a delta:
    /// - trees and blobs of a size in `searched`, loose or stored whole, by type, name hash
    ///   and size, largest first (the delta search's order);
    /// - the other objects stored whole or loose, stored ones in storage order;
    /// - stored deltas (and objects stored before their depth was recorded) in storage
    ///   order, so that each follows its base and is copied as it is.
    ///
    /// Returns how many were ordered.
    pub fn repack_order(
        &self,
        walk: &mut Walk,
        searched: RangeInclusive<u64>,
    ) -> Result<u64, StoreError> {
        if let Walk::Memory(memory) = walk {
            return self.order_in_memory(memory, &searched);
        }
        // The last place is read first: read inside the update, it would grow as rows get
        // theirs.
        let last = self.exec(
            "SELECT coalesce(max(seq), 0) FROM repack_objects WHERE seq IS NOT NULL",
            vec![],
        )?;
        let last = count(&last)? as i64;
        let rows = self.exec(
            &format!(
                "UPDATE repack_objects SET seq = o.n + ?3 \
                 FROM (SELECT oid, row_number() OVER (ORDER BY g, \
                         iif(g = 0, type, 0), iif(g = 0, name_hash, 0), iif(g = 0, size, 0) DESC, \
                         pack IS NULL, pack, at, type, name_hash, size DESC, oid) AS n \
                       FROM (SELECT *, CASE WHEN {SEARCHED} THEN 0 \
                               WHEN pack IS NULL OR stored_depth = 0 THEN 1 ELSE 2 END AS g \
                             FROM repack_objects WHERE seq IS NULL)) AS o \
                 WHERE repack_objects.oid = o.oid RETURNING 1"
            ),
            vec![
                (*searched.start() as i64).into(),
                (*searched.end() as i64).into(),
                last.into(),
            ],
        )?;
        Ok(rows.len() as u64)
    }

    /// Up to `limit` of the repack's objects in write order, after place `after`.
    pub fn repack_rows(
        &self,
        walk: &Walk,
        after: i64,
        limit: usize,
    ) -> Result<Vec<RepackRow>, StoreError> {
        if let Walk::Memory(memory) = walk {
            return Ok(memory.placed_after(after, limit));
        }
        let rows = self.exec(
            &format!(
                "SELECT {REPACK_COLUMNS} FROM repack_objects WHERE seq > ? ORDER BY seq LIMIT ?"
            ),
            vec![after.into(), (limit as i64).into()],
        )?;
        rows.iter().map(|r| repack_row(r)).collect()
    }

    /// The last `limit` objects of the delta search (see [`Store::repack_order`]) written
    /// at or before place `upto`, newest first, with where they went: the search's window,
    /// taken up again in a new slice.
    pub fn repack_window(
        &self,
        walk: &Walk,
        searched: RangeInclusive<u64>,
        upto: i64,
        limit: usize,
    ) -> Result<Vec<(RepackRow, Written)>, StoreError> {
        if let Walk::Memory(memory) = walk {
            return Ok(memory.window(&searched, upto, limit));
        }
        let rows = self.exec(
            &format!(
                "SELECT {REPACK_COLUMNS}, offset, crc, depth FROM repack_objects \
                 WHERE seq <= ?3 AND {SEARCHED} AND offset IS NOT NULL \
                 ORDER BY seq DESC LIMIT ?4"
            ),
            vec![
                (*searched.start() as i64).into(),
                (*searched.end() as i64).into(),
                upto.into(),
                (limit as i64).into(),
            ],
        )?;
        rows.iter()
            .map(|r| Ok((repack_row(r)?, written(&r[8..])?)))
            .collect()
    }

    /// Where the repack wrote the object stored at `at` in `pack`, if it has.
    pub fn repack_written_at(
        &self,
        walk: &Walk,
        pack: PackId,
        at: u64,
    ) -> Result<Option<Written>, StoreError> {
        if let Walk::Memory(memory) = walk {
            return Ok(memory.written_at(pack, at));
        }
        let rows = self.exec(
            "SELECT offset, crc, depth FROM repack_objects \
             WHERE pack = ? AND at = ? AND offset IS NOT NULL",
            vec![pack.into(), (at as i64).into()],
        )?;
        rows.first().map(|r| written(r)).transpose()
    }

    /// Where the repack wrote object `id`, if it has.
    pub fn repack_written(
        &self,
        walk: &Walk,
        id: &ObjectId,
    ) -> Result<Option<Written>, StoreError> {
        if let Walk::Memory(memory) = walk {
            return Ok(memory.written(id));
        }
        let rows = self.exec(
            "SELECT offset, crc, depth FROM repack_objects WHERE oid = ? AND offset IS NOT NULL",
            vec![id_value(id)],
        )?;
        rows.first().map(|r| written(r)).transpose()
    }

    /// Records where the repack wrote objects, each with its place in the write order.
    pub fn repack_record(
        &self,
        walk: &mut Walk,
        done: &[(ObjectId, i64, Written)],
    ) -> Result<(), StoreError> {
        if let Walk::Memory(memory) = walk {
            return memory.record(done);
        }
        for batch in done.chunks(JSON_BATCH) {
            let rows: Vec<String> = batch
                .iter()
                .map(|(id, _, w)| format!("[\"{id}\",{},{},{}]", w.offset, w.crc, w.depth))
                .collect();
            self.exec(
                "UPDATE repack_objects SET offset = j.value ->> 1, crc = j.value ->> 2, \
                 depth = j.value ->> 3 FROM json_each(?) j \
                 WHERE repack_objects.oid = unhex(j.value ->> 0)",
                vec![format!("[{}]", rows.join(",")).into()],
            )?;
        }
        Ok(())
    }

    /// Makes `pack` the home of every repacked object (there is none when no ref reaches
    /// any object) and, at `now`:
    /// - records the objects outside the repack as unreachable, and prunes those unreachable
    ///   since `prune_before` or earlier;
    /// - retires the live packs that no object lives in any more (those pushed while the
    ///   repack ran too: what their objects the refs reach is in the new pack, and a purge
    ///   prunes the rest), and the loose files of objects now packed;
    /// - forgets the repack.
    ///
    /// `moved` says whether the objects' records must be pointed at `pack` (false when the
    /// repack found a pack that already holds exactly its objects: then nothing of the
    /// index is written). Run it in one transaction.
    pub fn repack_swap(
        &self,
        pack: Option<PackId>,
        moved: bool,
        walk: &Walk,
        now: i64,
        prune_before: i64,
    ) -> Result<SwapReport, StoreError> {
        let objects = self.repack_count(walk)?;
        if self.any_unreachable()? {
            self.forget_reached(walk)?;
        }
        let moved_to = pack.filter(|_| moved);
        let mut live = HashSet::new();
        self.rewrite_pages::<Record>(|key, end, records| {
            // Without a move, the pack that matched holds every object the repack holds
            // and no other, so what is elsewhere is what no ref reaches.
            let (unreachable, changed) = match moved_to {
                Some(pack) => {
                    let repacked = self.repack_range(walk, pack, key, end)?;
                    let changed = !repacked.is_empty();
                    let (kept, gone) = outside(std::mem::take(records), &repacked);
                    *records = sorted_union(kept, repacked);
                    (gone, changed)
                }
                None => {
                    let gone = records.iter().filter(|r| Some(r.pack) != pack);
                    (gone.map(|r| r.id).collect(), false)
                }
            };
            self.mark_unreachable(&unreachable, now)?;
            live.extend(records.iter().map(|r| r.pack));
            Ok(changed)
        })?;
        if moved_to.is_some() {
            self.retire_repacked_loose(walk, now)?;
        }
        self.mark_loose_unreachable(walk, now)?;
        let pruned = self.prune(prune_before)?;
        if pruned > 0 {
            live.clear();
            self.rewrite_pages::<Record>(|_, _, records| {
                live.extend(records.iter().map(|r| r.pack));
                Ok(false)
            })?;
        }
        let kept = count(&self.exec("SELECT count(*) FROM unreachable", vec![])?)?;
        let live: Vec<String> = live.iter().map(|p| p.0.to_string()).collect();
        let retired = self.exec(
            "UPDATE packs SET state = ?, retired = ? WHERE state = ? AND id IS NOT ? \
             AND id NOT IN (SELECT value FROM json_each(?)) RETURNING 1",
            vec![
                PackState::Retired.into(),
                now.into(),
                PackState::Live.into(),
                pack.map_or(Value::Null, Value::from),
                format!("[{}]", live.join(",")).into(),
            ],
        )?;
        if let Walk::Rows = walk {
            self.empty_table("repack_objects")?;
        }
        Ok(SwapReport {
            objects,
            pruned,
            kept,
            retired: retired.len() as u64,
        })
    }

    /// Retires the loose files of the objects the repack packed, and their rows.
    fn retire_repacked_loose(&self, walk: &Walk, now: i64) -> Result<(), StoreError> {
        let Walk::Memory(memory) = walk else {
            self.exec(
                "UPDATE loose SET retired = ? WHERE retired IS NULL \
                 AND oid IN (SELECT oid FROM repack_objects WHERE pack IS NULL)",
                vec![now.into()],
            )?;
            let retired = self.changes()?;
            self.exec(
                "DELETE FROM objects WHERE oid IN \
                 (SELECT oid FROM repack_objects WHERE pack IS NULL)",
                vec![],
            )?;
            return self.note_loose_retired(retired, now);
        };
        let mut retired = 0;
        for batch in memory.placed_loose().chunks(JSON_BATCH) {
            let ids = ids_json(batch);
            self.exec(
                "UPDATE loose SET retired = ? WHERE retired IS NULL \
                 AND oid IN (SELECT unhex(value) FROM json_each(?))",
                vec![now.into(), ids.clone().into()],
            )?;
            retired += self.changes()?;
            self.exec(
                "DELETE FROM objects WHERE oid IN (SELECT unhex(value) FROM json_each(?))",
                vec![ids.into()],
            )?;
        }
        self.note_loose_retired(retired, now)
    }

    /// Records that `retired` loose files were retired at `now`, unless earlier ones wait
    /// for the sweep already. A repository whose last sweep came before that was kept reads
    /// its loose files once, for those retired earlier.
    fn note_loose_retired(&self, retired: i64, now: i64) -> Result<(), StoreError> {
        if retired == 0 {
            return Ok(());
        }
        let first = match self.meta(LOOSE_RETIRED)? {
            Some(kept) if kept.parse::<i64>().is_ok() => return Ok(()),
            Some(_) => Some(now),
            None => self.loose_retired_in_files()?,
        };
        let first = first.unwrap_or(now).to_string();
        self.set_meta(LOOSE_RETIRED, Some(&first))
    }

    /// Records that no loose file waits for the sweep in a repository that has none at all
    /// and has not recorded it yet (a new one), so that its pushes need not read its loose
    /// files to learn it until its first repack retires some.
    pub(super) fn start_loose_retired(&self) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) SELECT ?1, '' \
             WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = ?1) \
             AND NOT EXISTS (SELECT 1 FROM loose)",
            vec![LOOSE_RETIRED.into()],
        )?;
        Ok(())
    }

    /// When the earliest loose file not yet swept was retired: kept in `meta`, or read from
    /// every file for a repository whose last sweep came before that was kept.
    fn first_loose_retired(&self) -> Result<Option<i64>, StoreError> {
        match self.meta(LOOSE_RETIRED)? {
            Some(kept) => Ok(kept.parse().ok()),
            None => self.loose_retired_in_files(),
        }
    }

    /// [`Self::first_loose_retired`] read from every loose file.
    fn loose_retired_in_files(&self) -> Result<Option<i64>, StoreError> {
        let rows = self.exec("SELECT min(retired) FROM loose", vec![])?;
        Ok(rows.first().and_then(|r| r[0].as_i64()))
    }

    /// Forgets that the objects the repack reached were unreachable: the refs reach them
    /// again.
    fn forget_reached(&self, walk: &Walk) -> Result<(), StoreError> {
        let Walk::Memory(memory) = walk else {
            self.exec(
                "DELETE FROM unreachable WHERE oid IN (SELECT oid FROM repack_objects)",
                vec![],
            )?;
            return Ok(());
        };
        self.each_id_batch(("unreachable", "1"), vec![], JSON_BATCH, |ids| {
            let reached: Vec<ObjectId> = ids.into_iter().filter(|id| memory.holds(id)).collect();
            if reached.is_empty() {
                return Ok(());
            }
            self.exec(
                "DELETE FROM unreachable WHERE oid IN (SELECT unhex(value) FROM json_each(?))",
                vec![ids_json(&reached).into()],
            )?;
            Ok(())
        })
    }

    /// Records the loose objects the repack did not reach as unreachable since `now`.
    fn mark_loose_unreachable(&self, walk: &Walk, now: i64) -> Result<(), StoreError> {
        let Walk::Memory(memory) = walk else {
            self.exec(
                "INSERT OR IGNORE INTO unreachable (oid, since) SELECT oid, ? FROM objects \
                 WHERE oid NOT IN (SELECT oid FROM repack_objects)",
                vec![now.into()],
            )?;
            return Ok(());
        };
        self.each_id_batch(("objects", "1"), vec![], JSON_BATCH, |ids| {
            let gone: Vec<ObjectId> = ids.into_iter().filter(|id| !memory.holds(id)).collect();
            self.mark_unreachable(&gone, now)
        })
    }

    /// Visits the ids of the rows of a table that meet a condition (`(table, condition)`,
    /// its parameters in `params`) in order, `batch` at a time, so that memory holds one
    /// batch however many rows there are. `visit` may delete rows it was given.
    fn each_id_batch(
        &self,
        (table, condition): (&str, &str),
        params: Vec<Value>,
        batch: usize,
        mut visit: impl FnMut(Vec<ObjectId>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let query =
            format!("SELECT oid FROM {table} WHERE {condition} AND oid > ? ORDER BY oid LIMIT ?");
        let mut after = Vec::new();
        loop {
            let mut bound = params.clone();
            bound.extend([after.clone().into(), (batch as i64).into()]);
            let rows = self.exec(&query, bound)?;
            let ids = rows
                .iter()
                .map(|r| row_id(&r[0]))
                .collect::<Result<Vec<ObjectId>, StoreError>>()?;
            let Some(last) = ids.last() else {
                return Ok(());
            };
            after = last.0.to_vec();
            let full = ids.len() == batch;
            visit(ids)?;
            if !full {
                return Ok(());
            }
        }
    }

    /// The repack's objects from `key` up to `end` (None: every one after), in id order, as
    /// records of `pack`, where the repack wrote them.
    fn repack_range(
        &self,
        walk: &Walk,
        pack: PackId,
        key: &[u8],
        end: Option<&[u8]>,
    ) -> Result<Vec<Record>, StoreError> {
        if let Walk::Memory(memory) = walk {
            return memory.records(pack, key, end);
        }
        // Past every id when there is no next page: a bound of OR terms would keep SQLite
        // from seeking, and each page's query would read to the end of the table.
        let end = end.map_or(vec![0xff; 21], <[u8]>::to_vec);
        let rows = self.exec(
            "SELECT oid, type, ?3, offset, size, depth FROM repack_objects \
             WHERE oid >= ?1 AND oid < ?2 ORDER BY oid",
            vec![key.into(), end.into(), pack.into()],
        )?;
        rows.iter().map(|r| record_row(r)).collect()
    }

    /// Records `ids` as unreachable since `now`, those not recorded so already.
    fn mark_unreachable(&self, ids: &[ObjectId], now: i64) -> Result<(), StoreError> {
        for batch in ids.chunks(JSON_BATCH) {
            self.exec(
                "INSERT OR IGNORE INTO unreachable (oid, since) \
                 SELECT unhex(value), ? FROM json_each(?)",
                vec![now.into(), ids_json(batch).into()],
            )?;
        }
        Ok(())
    }

    /// Drops for good the objects unreachable since `before` or earlier: their records or
    /// rows, their commit rows and their loose files. Returns how many.
    fn prune(&self, before: i64) -> Result<u64, StoreError> {
        self.each_id_batch(
            ("unreachable", "since <= ?"),
            vec![before.into()],
            PRUNE_BATCH,
            |ids| {
                // Only the commits among them are asked of the commit graph: every id asked
                // there would read a page, and most unreachable objects are trees and blobs.
                let stored = self.find(&ids)?;
                let commits: Vec<ObjectId> = ids
                    .iter()
                    .filter(|id| {
                        stored
                            .get(id)
                            .is_some_and(|s| s.located.kind == ObjectType::Commit)
                    })
                    .copied()
                    .collect();
                let dropped =
                    self.apply_changes::<Record>(ids.iter().map(|id| Change::Drop(*id)).collect())?;
                self.tally_objects(dropped)?;
                self.drop_commits(&commits)
            },
        )?;
        let expired = "(SELECT oid FROM unreachable WHERE since <= ?)";
        for table in ["objects", "commits", "loose"] {
            self.exec(
                &format!("DELETE FROM {table} WHERE oid IN {expired}"),
                vec![before.into()],
            )?;
            if table == "objects" {
                self.tally_objects(-self.changes()?)?;
            }
        }
        let rows = self.exec(
            "DELETE FROM unreachable WHERE since <= ? RETURNING 1",
            vec![before.into()],
        )?;
        Ok(rows.len() as u64)
    }

    /// Makes `pack` live under `name`, with its sizes; if a live pack has that name already
    /// (the same bytes), drops `pack` and returns that one.
    pub fn seal_repack(
        &self,
        pack: PackId,
        name: &str,
        size: u64,
        idx_size: u64,
    ) -> Result<PackId, StoreError> {
        if let Some(existing) = self.live_pack_named(name)? {
            self.drop_pack_rows(pack)?;
            return Ok(existing);
        }
        self.make_live(pack, name, size, idx_size)?;
        Ok(pack)
    }

    /// Deletes the packs and loose files retired at or before `before` that no reader in
    /// flight can hold (none began at or before they were retired). Returns how many packs.
    pub fn sweep(&self, before: i64) -> Result<u64, StoreError> {
        let before = match self.oldest_reader() {
            Some(reader) => before.min(reader - 1),
            None => before,
        };
        let rows = self.exec(
            "SELECT id FROM packs WHERE state = ? AND retired <= ?",
            vec![PackState::Retired.into(), before.into()],
        )?;
        for row in &rows {
            self.drop_pack_rows(PackId(row_int(&row[0])?))?;
        }
        if self
            .first_loose_retired()?
            .is_some_and(|first| first <= before)
        {
            self.exec("DELETE FROM loose WHERE retired <= ?", vec![before.into()])?;
            let rest = self.loose_retired_in_files()?.map(|t| t.to_string());
            self.set_meta(LOOSE_RETIRED, Some(rest.as_deref().unwrap_or_default()))?;
        }
        Ok(rows.len() as u64)
    }

    /// When the first thing retired became, or becomes, `reader_grace` seconds old.
    pub fn retired_expiry(&self, reader_grace: i64) -> Result<Option<i64>, StoreError> {
        let rows = self.exec(
            "SELECT min(retired) FROM packs WHERE retired IS NOT NULL",
            vec![],
        )?;
        let pack = rows.first().and_then(|r| r[0].as_i64());
        let first = pack.into_iter().chain(self.first_loose_retired()?).min();
        Ok(first.map(|t| t + reader_grace))
    }

    /// When the first object found unreachable has been so for `grace` seconds.
    pub fn unreachable_expiry(&self, grace: i64) -> Result<Option<i64>, StoreError> {
        let rows = self.exec("SELECT min(since) + ? FROM unreachable", vec![grace.into()])?;
        Ok(rows.first().and_then(|r| r[0].as_i64()))
    }

    /// The pack that holds exactly what the refs reach, if a repack made one and no ref has
    /// changed since: a clone of everything copies it whole.
    pub fn exact_pack(&self) -> Result<Option<super::PackInfo>, StoreError> {
        let Some((pack, version, _)) = self.exact_record()? else {
            return Ok(None);
        };
        if version != self.refs_version()? {
            return Ok(None);
        }
        Ok(self.packs()?.into_iter().find(|p| p.id == pack))
    }

    /// The exact pack's record as [`Store::set_exact_pack`] wrote it: the pack, the refs'
    /// version, and the objects the refs named, in hex, if they were recorded.
    fn exact_record(&self) -> Result<Option<(PackId, i64, Option<String>)>, StoreError> {
        let Some(exact) = self.meta("exact_pack")? else {
            return Ok(None);
        };
        let mut parts = exact.split(' ');
        let mut number = || parts.next().and_then(|n| n.parse::<i64>().ok());
        let (Some(pack), Some(version)) = (number(), number()) else {
            return Ok(None);
        };
        Ok(Some((
            PackId(pack),
            version,
            parts.next().map(String::from),
        )))
    }

    /// Records that `pack` holds exactly what the refs reach at `refs_version`, and, for a
    /// later repack to take the pack in whole (see [`Store::exact_closure`]), the objects
    /// those refs name, if given and not past [`EXACT_TIPS_AT_MOST`].
    pub fn set_exact_pack(
        &self,
        pack: PackId,
        refs_version: i64,
        tips: Option<&[ObjectId]>,
    ) -> Result<(), StoreError> {
        let mut value = format!("{} {refs_version}", pack.0);
        if let Some(tips) = tips.filter(|tips| tips.len() <= EXACT_TIPS_AT_MOST) {
            value.reserve(1 + tips.len() * 40);
            value.push(' ');
            for tip in tips {
                value.push_str(&tip.to_hex());
            }
        }
        self.set_meta("exact_pack", Some(&value))
    }

    /// The live pack a repack made (or found) holding exactly what the refs reached then,
    /// with the objects those refs named, whether or not the refs moved since: the pack
    /// holds everything those objects reach, and nothing else.
    pub(super) fn exact_closure(&self) -> Result<Option<(PackId, Vec<ObjectId>)>, StoreError> {
        let Some((pack, _, Some(tips))) = self.exact_record()? else {
            return Ok(None);
        };
        let tips: Option<Vec<ObjectId>> =
            tips.as_bytes().chunks(40).map(ObjectId::from_hex).collect();
        let live = self.packs()?.iter().any(|p| p.id == pack);
        Ok(tips.filter(|_| live).map(|tips| (pack, tips)))
    }

    /// What the repository holds.
    pub fn summary(&self) -> Result<Summary, StoreError> {
        let rows = self.exec(
            &format!(
                "SELECT ({LIVE_PACKS}), ({LOOSE}), {BYTES}, (SELECT count(*) FROM refs), \
                 (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'objects'), \
                 (SELECT count(*) FROM packs WHERE state = ?2), \
                 (SELECT count(*) FROM unreachable)"
            ),
            vec![PackState::Live.into(), PackState::Retired.into()],
        )?;
        let row = rows.first().ok_or(StoreError::BadColumn("summary"))?;
        let Footprint {
            packs,
            loose,
            bytes,
        } = footprint(row)?;
        let n = |i: usize| row_int(&row[i]).map(|n| n as u64);
        Ok(Summary {
            packs,
            loose,
            bytes,
            refs: n(3)?,
            objects: n(4)?,
            retired_packs: n(5)?,
            unreachable: n(6)?,
        })
    }

    /// The live packs, the loose objects and the bytes stored, which a maintenance run
    /// reports before and after: read without counting every object.
    pub fn footprint(&self) -> Result<Footprint, StoreError> {
        let rows = self.exec(
            &format!("SELECT ({LIVE_PACKS}), ({LOOSE}), {BYTES}"),
            vec![PackState::Live.into(), PackState::Retired.into()],
        )?;
        footprint(rows.first().ok_or(StoreError::BadColumn("footprint"))?)
    }

    /// The live packs and loose objects, which decide whether a repack is due: read after
    /// every push, so it visits the loose files and the packs, never every object.
    pub fn backlog(&self) -> Result<Backlog, StoreError> {
        let rows = self.exec(
            &format!("SELECT ({LIVE_PACKS}), ({LOOSE})"),
            vec![PackState::Live.into()],
        )?;
        let row = rows.first().ok_or(StoreError::BadColumn("backlog"))?;
        Ok(Backlog {
            packs: row_int(&row[0])? as u64,
            loose: row_int(&row[1])? as u64,
        })
    }
}
