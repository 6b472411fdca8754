//! What indexing a push in progress knows, in rows instead of memory: its entries (offset,
//! CRC, id, type, delta depth, and for a delta still waiting, its base), the objects its
//! objects link to, and its commits. Accepting the push copies them into the repository's
//! tables in a few statements; discarding it drops them.

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

    /// Records objects that the push's objects link to, with the type git takes each to be.
    /// An object linked as two types keeps type 0, which no object has: git refuses one of
    /// those links, whatever the object is.
    pub fn record_links(&self, push: PackId, links: &[Link]) -> Result<(), StoreError> {
        for batch in links.chunks(JSON_BATCH) {
            let rows: Vec<String> = batch
                .iter()
                .map(|link| match link.kind {
                    Some(kind) => format!("[\"{}\",{}]", link.id, kind as u8),
                    None => format!("[\"{}\",null]", link.id),
                })
                .collect();
            self.exec(
                "INSERT INTO push_links (push, oid, type) \
                 SELECT ?, unhex(value ->> 0), value ->> 1 FROM json_each(?) WHERE true \
                 ON CONFLICT (push, oid) DO UPDATE SET type = CASE \
                   WHEN excluded.type IS NULL OR excluded.type IS push_links.type \
                     THEN push_links.type \
                   WHEN push_links.type IS NULL THEN excluded.type ELSE 0 END",
                vec![push.into(), format!("[{}]", rows.join(",")).into()],
            )?;
        }
        Ok(())
    }

    /// Records commits of the push.
    pub fn record_push_commits(
        &self,
        push: PackId,
        commits: &[CommitInfo],
    ) -> Result<(), StoreError> {
        for batch in commits.chunks(JSON_BATCH) {
            let rows: Vec<String> = batch
                .iter()
                .map(|c| {
                    let parents: String = c.parents.iter().map(ObjectId::to_hex).collect();
                    format!("[\"{}\",{},\"{parents}\"]", c.id, c.time)
                })
                .collect();
            self.exec(
                "INSERT OR IGNORE INTO push_commits (push, oid, time, parents) \
                 SELECT ?, unhex(value ->> 0), value ->> 1, unhex(value ->> 2) FROM json_each(?)",
                vec![push.into(), format!("[{}]", rows.join(",")).into()],
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

    /// Whether every object the push's objects link to is in the push or stored, of the type
    /// git takes it to be where git parses it (git's connectivity check fails otherwise).
    /// One lookup per link: as correlated subqueries, SQLite searched the push's entries by
    /// the primary key's prefix (all of them) for each link, three times over.
    pub fn push_is_complete(&self, push: PackId) -> Result<bool, StoreError> {
        let rows = self.exec(
            "SELECT 1 FROM push_links l \
             LEFT JOIN push_entries e INDEXED BY push_entries_oid \
               ON e.push = ?1 AND e.oid = l.oid \
             LEFT JOIN objects o ON e.oid IS NULL AND o.oid = l.oid \
             WHERE l.push = ?1 AND (coalesce(e.type, o.type) IS NULL \
               OR coalesce(e.type, o.type) IS NOT coalesce(l.type, e.type, o.type)) \
             LIMIT 1",
            vec![push.into()],
        )?;
        Ok(rows.is_empty())
    }

    /// The type of an object the push holds.
    pub fn pushed_type(
        &self,
        push: PackId,
        id: &ObjectId,
    ) -> Result<Option<ObjectType>, StoreError> {
        Ok(self
            .entry_of(push, id)?
            .and_then(|e| e.resolved.map(|(_, kind)| kind)))
    }

    /// The push's objects in pack order (for small pushes, staged loose).
    pub fn pushed_objects(&self, push: PackId) -> Result<Vec<NewObject>, StoreError> {
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
    pub(super) fn index_pushed(&self, push: PackId, packed: bool) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM unreachable WHERE oid IN (SELECT oid FROM push_entries WHERE push = ?)",
            vec![push.into()],
        )?;
        self.exec(
            "INSERT OR IGNORE INTO objects (oid, type, pack, offset, size) \
             SELECT oid, type, iif(?2, push, NULL), iif(?2, offset, NULL), size \
             FROM push_entries WHERE push = ?1 ORDER BY offset",
            vec![push.into(), Value::Integer(packed as i64)],
        )?;
        self.exec(
            "INSERT OR IGNORE INTO commits (oid, time, parents) \
             SELECT oid, time, parents FROM push_commits WHERE push = ?",
            vec![push.into()],
        )?;
        self.forget_push(push)
    }

    /// Drops what indexing the push recorded.
    pub(super) fn forget_push(&self, push: PackId) -> Result<(), StoreError> {
        for table in ["push_entries", "push_links", "push_commits"] {
            self.exec(
                &format!("DELETE FROM {table} WHERE push = ?"),
                vec![push.into()],
            )?;
        }
        Ok(())
    }
}
