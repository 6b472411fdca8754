//! The object index (which objects exist, of what type, where), loose object rows, and the
//! commit graph recorded at push time.

use crate::format::pack::PackId;
use std::borrow::Cow;
use std::collections::HashMap;

use super::midx::{record_row, Record};
use super::{
    id_value, ids_json, row_id, row_int, Held, ObjectReader, Store, StoreError, JSON_BATCH,
};
use crate::format::object::{ObjectId, ObjectType};
use crate::format::pack::Object;
use crate::store::sql::{Sql, Value};

/// Where an object is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// A loose object row.
    Loose,
    /// An entry of a live pack, at this offset.
    Packed {
        /// The pack's row id.
        pack: PackId,
        /// The entry's offset in the `.pack`.
        offset: u64,
    },
}

/// A stored object's row in the object index: its type and where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Located {
    /// Its type.
    pub kind: ObjectType,
    /// Where its bytes are.
    pub location: Location,
}

/// An object a walk is to read, with where it is stored, so that it is read without being
/// looked up again; walks keep these in a heap that gives the first stored first (loose
/// objects last). A pack lists a commit before its tree and a tree before its subtrees (git
/// writes them in the order its walk finds them), so a walk in that order goes forward
/// through each pack, reading the rows of a pack's part about once, where a walk breadth
/// or depth first went to and fro (git/git's history: a chunk read for every third object).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Queued {
    /// The pack's row id (`u64::MAX` when loose), then the offset there.
    pack: u64,
    at: u64,
    /// The object.
    pub id: ObjectId,
    /// Its type.
    pub kind: ObjectType,
}

// What keeps a queue of 458,752 objects within 18 MiB.
const _: () = assert!(std::mem::size_of::<Queued>() == 40);

impl Queued {
    /// `id`, found at `located`.
    pub fn new(id: ObjectId, located: Located) -> Queued {
        let (pack, at) = match located.location {
            Location::Packed { pack, offset } => (pack.0 as u64, offset),
            Location::Loose => (u64::MAX, 0),
        };
        Queued {
            pack,
            at,
            id,
            kind: located.kind,
        }
    }

    /// The row of its pack, of rows of `row_size` bytes, that holds its start.
    pub fn row(&self, row_size: u64) -> (u64, u64) {
        (self.pack, self.at / row_size.max(1))
    }

    /// Where it is stored.
    pub fn location(&self) -> Location {
        match self.pack {
            u64::MAX => Location::Loose,
            pack => Location::Packed {
                pack: PackId(pack as i64),
                offset: self.at,
            },
        }
    }
}

/// An object that a push adds, to be indexed when the push is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewObject {
    /// Its id.
    pub id: ObjectId,
    /// Its type.
    pub kind: ObjectType,
    /// Its entry's offset in the pushed pack.
    pub offset: u64,
}

/// A commit's place in the history graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit.
    pub id: ObjectId,
    /// Committer time, seconds since the epoch.
    pub time: i64,
    /// Parents in order.
    pub parents: Vec<ObjectId>,
}

/// A row of (oid, time, parents) from the commit graph.
pub(super) fn commit_row(row: &[Value]) -> Result<(ObjectId, CommitInfo), StoreError> {
    let id = row_id(&row[0])?;
    let parents = row[2]
        .as_bytes()
        .unwrap_or_default()
        .chunks(20)
        .filter_map(ObjectId::from_bytes)
        .collect();
    let time = row_int(&row[1])?;
    Ok((id, CommitInfo { id, time, parents }))
}

impl<S: Sql> Store<S> {
    /// The types of those of `ids` that are stored (visible).
    pub fn object_types(
        &self,
        ids: &[ObjectId],
    ) -> Result<HashMap<ObjectId, ObjectType>, StoreError> {
        Ok(self
            .locate_many(ids)?
            .into_iter()
            .map(|(id, located)| (id, located.kind))
            .collect())
    }

    /// Counts `change` more objects (fewer, if negative) in the repository's count, kept as
    /// objects come and go so that the summary need not count every object.
    pub(super) fn tally_objects(&self, change: i64) -> Result<(), StoreError> {
        if change != 0 {
            self.exec(
                "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'objects'",
                vec![change.into()],
            )?;
        }
        Ok(())
    }

    /// Rows the statement just run inserted, updated or deleted (not counting index
    /// entries): counted by SQLite, so nothing is read back.
    pub(super) fn changes(&self) -> Result<i64, StoreError> {
        let rows = self.exec("SELECT changes()", vec![])?;
        Ok(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0))
    }

    /// Starts the count of objects of a repository made before it was kept: counts them
    /// once.
    pub(super) fn start_object_count(&self) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) SELECT 'objects', (SELECT count(*) FROM objects) \
             WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'objects')",
            vec![],
        )?;
        Ok(())
    }

    /// Moves the rows of packed objects that a repository made before the multi-pack
    /// index kept in `objects` into its pages (nothing indexes `pack`, so each start would
    /// read every loose row to find none: `meta` says once they are moved).
    pub(super) fn move_packed_rows(&self) -> Result<(), StoreError> {
        self.move_rows(
            "midx",
            "SELECT oid, type, pack, offset, size, depth FROM objects \
             WHERE pack IS NOT NULL LIMIT ?",
            "objects",
            record_row,
        )
    }

    /// Where those of `ids` that are stored are.
    pub fn locate_many(&self, ids: &[ObjectId]) -> Result<HashMap<ObjectId, Located>, StoreError> {
        let mut found = HashMap::with_capacity(ids.len());
        self.find_each(ids, |id, stored| {
            found.insert(id, stored.located);
        })?;
        Ok(found)
    }

    /// The recorded sizes of those of `ids` that are stored; objects indexed before sizes
    /// were recorded are left out.
    pub fn object_sizes(&self, ids: &[ObjectId]) -> Result<HashMap<ObjectId, u64>, StoreError> {
        let mut sizes = HashMap::with_capacity(ids.len());
        self.find_each(ids, |id, stored| {
            if let Some(size) = stored.size {
                sizes.insert(id, size);
            }
        })?;
        Ok(sizes)
    }

    /// Whether the whole multi-pack index stays in memory once read, so that objects can be
    /// located a few at a time for the price of locating them all at once.
    pub(super) fn index_fits_cache(&self) -> Result<bool, StoreError> {
        self.pages_fit_cache::<Record>()
    }

    /// What is stored of those of `ids` that are.
    pub(super) fn find(&self, ids: &[ObjectId]) -> Result<HashMap<ObjectId, Stored>, StoreError> {
        let mut found = HashMap::with_capacity(ids.len());
        self.find_each(ids, |id, stored| {
            found.insert(id, stored);
        })?;
        Ok(found)
    }

    /// Visits what is stored of those of `ids` that are: packed ones from the multi-pack
    /// index, the rest from the loose objects' rows. Each is visited once; the caller keeps
    /// what it needs, so a large lookup holds one map, not one per layer.
    pub(super) fn find_each(
        &self,
        ids: &[ObjectId],
        mut visit: impl FnMut(ObjectId, Stored),
    ) -> Result<(), StoreError> {
        // Ids sorted already (a clone's whole list) are not copied to be sorted again.
        let sorted: Cow<[ObjectId]> = match ids.windows(2).all(|w| w[0] < w[1]) {
            true => Cow::Borrowed(ids),
            false => {
                let mut sorted = ids.to_vec();
                sorted.sort_unstable();
                sorted.dedup();
                Cow::Owned(sorted)
            }
        };
        let mut packed = vec![false; sorted.len()];
        self.each_record::<Record>(&sorted, |i, record| {
            packed[i] = true;
            visit(record.id, Stored::from(record));
        })?;
        let rest: Vec<ObjectId> = sorted
            .iter()
            .zip(&packed)
            .filter(|(_, &packed)| !packed)
            .map(|(id, _)| *id)
            .collect();
        for batch in rest.chunks(JSON_BATCH) {
            let rows = self.exec(
                "SELECT oid, type, size FROM objects \
                 WHERE oid IN (SELECT unhex(value) FROM json_each(?))",
                vec![ids_json(batch).into()],
            )?;
            for row in rows {
                visit(row_id(&row[0])?, loose_row(&row[1..])?);
            }
        }
        Ok(())
    }

    /// Where an object is stored, if it is: one statement, for reads of single objects.
    pub fn locate(&self, id: &ObjectId) -> Result<Option<Located>, StoreError> {
        if let Some(Some(record)) = self.cached_record::<Record>(id)? {
            return Ok(Some(Stored::from(record).located));
        }
        let mut rows = self.exec(
            "SELECT first, data, NULL, NULL FROM midx_pages \
               WHERE first = (SELECT max(first) FROM midx_pages WHERE first <= ?1) \
             UNION ALL SELECT NULL, NULL, type, size FROM objects WHERE oid = ?1",
            vec![id_value(id)],
        )?;
        for row in &mut rows {
            if row[1] == Value::Null {
                return Ok(Some(loose_row(&row[2..])?.located));
            }
            if let Some(record) = super::paged::page_from(row)?.find::<Record>(id)? {
                return Ok(Some(Stored::from(record).located));
            }
        }
        Ok(None)
    }

    /// The bytes of a visible object's loose file: one stored loose, or one a repack has
    /// packed since (retired), whose file readers that started before may still ask for.
    pub fn loose_object(&self, id: &ObjectId) -> Result<Option<Vec<u8>>, StoreError> {
        let mut rows = self.exec(
            "SELECT data FROM loose WHERE oid = ?1 \
             AND (retired IS NOT NULL OR oid IN (SELECT oid FROM objects WHERE oid = ?1))",
            vec![id_value(id)],
        )?;
        Ok(rows.first_mut().and_then(|r| r[0].take_bytes()))
    }

    /// Reads a whole stored object.
    pub fn read_object(&self, id: &ObjectId) -> Result<Option<Object>, StoreError> {
        ObjectReader::new(self).read(id)
    }

    /// Up to `limit` ids of stored objects that start with the hex digits `prefix` (at most
    /// 40 of them, lower case), in order.
    pub fn ids_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<ObjectId>, StoreError> {
        let low = format!("{prefix:0<40}");
        let high = format!("{prefix:f<40}");
        let (Some(low), Some(high)) = (
            ObjectId::from_hex(low.as_bytes()),
            ObjectId::from_hex(high.as_bytes()),
        ) else {
            return Ok(Vec::new());
        };
        let mut ids = Vec::new();
        let mut key = self.key_of::<Record>(&low)?;
        let mut next = match key {
            Some(ref k) => self.page_at::<Record>(k)?,
            None => self.next_page::<Record>(None)?,
        };
        while let Some((at, records)) = next {
            let within = records
                .iter()
                .map(|r| r.id)
                .filter(|id| (low..=high).contains(id));
            ids.extend(within);
            if ids.len() >= limit || records.last().is_some_and(|r| r.id > high) {
                break;
            }
            key = Some(at);
            next = self.next_page::<Record>(key.as_deref())?;
        }
        let rows = self.exec(
            "SELECT oid FROM objects WHERE oid BETWEEN ? AND ? ORDER BY oid LIMIT ?",
            vec![
                id_value(&low),
                id_value(&high),
                Value::Integer(limit as i64),
            ],
        )?;
        for row in rows {
            ids.push(row_id(&row[0])?);
        }
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(limit);
        Ok(ids)
    }

    /// The commit-graph rows of those of `ids` that `push` brings (before it is accepted),
    /// from what indexing `held` in memory, or else from its rows.
    pub fn pushed_commits(
        &self,
        push: PackId,
        held: Option<&Held>,
        ids: &[ObjectId],
    ) -> Result<HashMap<ObjectId, CommitInfo>, StoreError> {
        if let Some(held) = held {
            return Ok(held.commits_of(ids));
        }
        self.commit_rows(
            "SELECT oid, time, parents FROM push_commits \
             WHERE push = ?2 AND oid IN (SELECT unhex(value) FROM json_each(?1))",
            Some(push.into()),
            ids,
        )
    }

    /// The (oid, time, parents) rows `query` selects for `ids`, asked in batches: `?1` is a
    /// batch as a JSON array of hex ids, `?2` is `also` if given.
    pub(super) fn commit_rows(
        &self,
        query: &str,
        also: Option<Value>,
        ids: &[ObjectId],
    ) -> Result<HashMap<ObjectId, CommitInfo>, StoreError> {
        let mut found = HashMap::new();
        for batch in ids.chunks(JSON_BATCH) {
            let bound = std::iter::once(ids_json(batch).into())
                .chain(also.clone())
                .collect();
            for row in self.exec(query, bound)? {
                let (id, info) = commit_row(&row)?;
                found.insert(id, info);
            }
        }
        Ok(found)
    }

    /// How many objects the repository has, and how many of them are loose: counted, not
    /// read from the kept count.
    pub fn count_objects(&self) -> Result<(u64, u64), StoreError> {
        let rows = self.exec("SELECT count(*) FROM objects", vec![])?;
        let loose = row_int(&rows.first().ok_or(StoreError::BadColumn("count"))?[0])? as u64;
        Ok((self.count_records::<Record>()? + loose, loose))
    }

    /// Stages a loose object file for a push; it stays invisible until [`Store::accept_loose`].
    pub fn stage_loose(
        &self,
        push: PackId,
        id: &ObjectId,
        file: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT OR IGNORE INTO loose (oid, push, data) VALUES (?, ?, ?)",
            vec![id_value(id), push.into(), file.into()],
        )?;
        Ok(())
    }
}

/// What is stored of an object: its type and place, and its size and delta depth where
/// known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stored {
    /// Its type and place.
    pub located: Located,
    /// Its size.
    pub size: Option<u64>,
    /// Deltas between its entry and a whole object (never known for loose objects).
    pub depth: Option<u32>,
}

impl From<Record> for Stored {
    fn from(record: Record) -> Stored {
        Stored {
            located: Located {
                kind: record.kind,
                location: Location::Packed {
                    pack: record.pack,
                    offset: record.offset,
                },
            },
            size: record.size,
            depth: record.depth,
        }
    }
}

/// Reads a loose object's `type, size` columns.
fn loose_row(row: &[Value]) -> Result<Stored, StoreError> {
    let kind = ObjectType::from_number(row_int(&row[0])? as u8)
        .ok_or(StoreError::BadColumn("object type"))?;
    Ok(Stored {
        located: Located {
            kind,
            location: Location::Loose,
        },
        size: row[1].as_i64().map(|n| n as u64),
        depth: None,
    })
}
