//! The repository's storage: refs, HEAD, packs and their indexes in chunk rows, loose
//! objects and the object index. The only module that speaks SQL.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::object::{ObjectId, ObjectType};
use crate::pack::{BaseCache, ChunkSource, EntryHeader, Object, PackError, PackObjects};
use crate::sql::{Sql, SqlError, Value};
use crate::zlib;

/// The size of one pack or idx chunk row (the platform allows 2 MB per row).
pub const CHUNK_SIZE: u64 = 1 << 20;

/// The symbolic ref a new repository's HEAD names.
pub const DEFAULT_HEAD: &str = "refs/heads/main";

/// Rows per statement when many are written or looked up at once: they travel as one JSON
/// parameter that SQLite expands with `json_each`, instead of one bound value per column,
/// which keeps within the 100-parameter limit and avoids a crossing into JavaScript per value.
const JSON_BATCH: usize = 1000;

/// Bytes of resolved objects kept while reading delta chains.
const BASE_CACHE_BYTES: usize = 16 << 20;

/// Which of a pack's two files a chunk belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackFile {
    /// The `.pack`.
    Pack = 0,
    /// The `.idx`.
    Idx = 1,
}

/// A ref and, for annotated tags, the object it peels to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ref {
    /// Full name, e.g. `refs/heads/main`.
    pub name: String,
    /// The object it points at.
    pub id: ObjectId,
    /// For a ref to a tag object: the non-tag object at the end of the tag chain.
    pub peeled: Option<ObjectId>,
}

/// A live pack as listed in `objects/info/packs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackInfo {
    /// Row id.
    pub id: i64,
    /// The pack's checksum in hex: the file is `pack-<name>.pack`.
    pub name: String,
    /// Bytes in the `.pack`.
    pub size: u64,
    /// Bytes in the `.idx`.
    pub idx_size: u64,
}

/// Where an object is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// A loose object row.
    Loose,
    /// An entry of a live pack, at this offset.
    Packed { pack: i64, offset: u64 },
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

/// A storage failure: SQL, or stored data that does not read back.
#[derive(Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl From<SqlError> for StoreError {
    fn from(e: SqlError) -> Self {
        StoreError(e.to_string())
    }
}

impl From<PackError> for StoreError {
    fn from(e: PackError) -> Self {
        StoreError(format!("stored pack unreadable: {e}"))
    }
}

impl From<StoreError> for PackError {
    fn from(e: StoreError) -> Self {
        PackError(e.0)
    }
}

/// One repository's storage on top of a [`Sql`] connection.
#[derive(Clone)]
pub struct Store<S: Sql> {
    sql: S,
    chunk_size: u64,
}

fn id_value(id: &ObjectId) -> Value {
    Value::Blob(id.0.to_vec())
}

/// A JSON array of hex ids.
fn ids_json(ids: &[ObjectId]) -> String {
    let quoted: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
    format!("[{}]", quoted.join(","))
}

fn row_id(value: &Value) -> Result<ObjectId, StoreError> {
    value
        .as_bytes()
        .and_then(ObjectId::from_bytes)
        .ok_or_else(|| StoreError("bad object id in storage".into()))
}

fn row_int(value: &Value) -> Result<i64, StoreError> {
    value
        .as_i64()
        .ok_or_else(|| StoreError("bad integer in storage".into()))
}

impl<S: Sql> Store<S> {
    /// A store over `sql`, with the standard chunk size.
    pub fn new(sql: S) -> Store<S> {
        Store::with_chunk_size(sql, CHUNK_SIZE)
    }

    /// A store with a custom chunk size (tests use tiny chunks to cross boundaries).
    pub fn with_chunk_size(sql: S, chunk_size: u64) -> Store<S> {
        Store { sql, chunk_size }
    }

    /// The chunk size of pack rows.
    pub fn chunk_size(&self) -> u64 {
        self.chunk_size
    }

    fn exec(&self, query: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>, StoreError> {
        Ok(self.sql.exec(query, params)?)
    }

    /// Creates the tables (idempotent) and removes what interrupted pushes left behind.
    /// Call only when no push can be in flight (when the Durable Object starts).
    pub fn open(&self) -> Result<(), StoreError> {
        let schema: String = include_str!("../schema.sql")
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        for statement in schema.split(';').filter(|s| !s.trim().is_empty()) {
            self.exec(statement, vec![])?;
        }
        for row in self.exec("SELECT id FROM packs WHERE state = 'pending'", vec![])? {
            self.discard_push(row_int(&row[0])?)?;
        }
        Ok(())
    }

    /// Whether the repository has been created by a push.
    pub fn exists(&self) -> Result<bool, StoreError> {
        Ok(self.head_target()?.is_some())
    }

    /// The ref HEAD points at, or None for a repository never pushed to.
    pub fn head_target(&self) -> Result<Option<String>, StoreError> {
        let rows = self.exec("SELECT value FROM meta WHERE key = 'HEAD'", vec![])?;
        Ok(rows.first().and_then(|r| r[0].as_str()).map(str::to_string))
    }

    /// Points HEAD at `target`.
    pub fn set_head_target(&self, target: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES ('HEAD', ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            vec![target.into()],
        )?;
        Ok(())
    }

    /// All refs, sorted by name (byte order, as git sorts them).
    pub fn refs(&self) -> Result<Vec<Ref>, StoreError> {
        let rows = self.exec("SELECT name, oid, peeled FROM refs", vec![])?;
        let mut refs = rows
            .iter()
            .map(|row| {
                Ok(Ref {
                    name: row[0].as_str().unwrap_or_default().to_string(),
                    id: row_id(&row[1])?,
                    peeled: match row[2] {
                        Value::Null => None,
                        ref v => Some(row_id(v)?),
                    },
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        refs.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(refs)
    }

    /// The value of one ref.
    pub fn ref_value(&self, name: &str) -> Result<Option<ObjectId>, StoreError> {
        let rows = self.exec("SELECT oid FROM refs WHERE name = ?", vec![name.into()])?;
        rows.first().map(|r| row_id(&r[0])).transpose()
    }

    /// Sets a ref (creating it at the end of the creation order if new).
    pub fn set_ref(
        &self,
        name: &str,
        id: &ObjectId,
        peeled: Option<ObjectId>,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO refs (name, oid, peeled) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET oid = excluded.oid, peeled = excluded.peeled",
            vec![
                name.into(),
                id_value(id),
                peeled.as_ref().map_or(Value::Null, id_value),
            ],
        )?;
        Ok(())
    }

    /// Deletes a ref.
    pub fn delete_ref(&self, name: &str) -> Result<(), StoreError> {
        self.exec("DELETE FROM refs WHERE name = ?", vec![name.into()])?;
        Ok(())
    }

    /// The branch that was created first among those that exist.
    pub fn first_branch(&self) -> Result<Option<String>, StoreError> {
        let rows = self.exec(
            "SELECT name FROM refs WHERE name LIKE 'refs/heads/%' ORDER BY rowid LIMIT 1",
            vec![],
        )?;
        Ok(rows.first().and_then(|r| r[0].as_str()).map(str::to_string))
    }

    /// The types of those of `ids` that are stored (visible).
    pub fn object_types(
        &self,
        ids: &[ObjectId],
    ) -> Result<HashMap<ObjectId, ObjectType>, StoreError> {
        Ok(self
            .locate_many(ids)?
            .into_iter()
            .map(|(id, (kind, _))| (id, kind))
            .collect())
    }

    /// Where those of `ids` that are stored are.
    pub fn locate_many(
        &self,
        ids: &[ObjectId],
    ) -> Result<HashMap<ObjectId, (ObjectType, Location)>, StoreError> {
        let mut found = HashMap::new();
        for batch in ids.chunks(JSON_BATCH) {
            let rows = self.exec(
                "SELECT oid, type, pack, offset FROM objects \
                 WHERE oid IN (SELECT unhex(value) FROM json_each(?))",
                vec![ids_json(batch).into()],
            )?;
            for row in rows {
                found.insert(row_id(&row[0])?, location(&row[1..])?);
            }
        }
        Ok(found)
    }

    /// Where an object is stored, if it is.
    pub fn locate(&self, id: &ObjectId) -> Result<Option<(ObjectType, Location)>, StoreError> {
        let rows = self.exec(
            "SELECT type, pack, offset FROM objects WHERE oid = ?",
            vec![id_value(id)],
        )?;
        rows.first().map(|row| location(row)).transpose()
    }

    /// The bytes of a visible loose object's file.
    pub fn loose_object(&self, id: &ObjectId) -> Result<Option<Vec<u8>>, StoreError> {
        let mut rows = self.exec(
            "SELECT l.data FROM loose l JOIN objects o ON o.oid = l.oid \
             WHERE l.oid = ? AND o.pack IS NULL",
            vec![id_value(id)],
        )?;
        Ok(rows.first_mut().and_then(|r| r[0].take_bytes()))
    }

    /// Reads a whole stored object.
    pub fn read_object(&self, id: &ObjectId) -> Result<Option<Object>, StoreError> {
        ObjectReader::new(self).read(id)
    }

    /// The commit-graph rows of those of `ids` that are stored.
    pub fn commits(&self, ids: &[ObjectId]) -> Result<HashMap<ObjectId, CommitInfo>, StoreError> {
        let mut found = HashMap::new();
        for batch in ids.chunks(JSON_BATCH) {
            let rows = self.exec(
                "SELECT oid, time, parents FROM commits \
                 WHERE oid IN (SELECT unhex(value) FROM json_each(?))",
                vec![ids_json(batch).into()],
            )?;
            for row in rows {
                let id = row_id(&row[0])?;
                let parents = row[2]
                    .as_bytes()
                    .unwrap_or_default()
                    .chunks(20)
                    .filter_map(ObjectId::from_bytes)
                    .collect();
                let time = row_int(&row[1])?;
                found.insert(id, CommitInfo { id, time, parents });
            }
        }
        Ok(found)
    }

    /// How many objects the repository has, and how many of them are loose.
    pub fn count_objects(&self) -> Result<(u64, u64), StoreError> {
        let rows = self.exec(
            "SELECT count(*), count(*) - count(pack) FROM objects",
            vec![],
        )?;
        let row = rows.first().ok_or_else(|| StoreError("no count".into()))?;
        Ok((row_int(&row[0])? as u64, row_int(&row[1])? as u64))
    }

    /// The ids of all loose objects.
    pub fn loose_ids(&self) -> Result<Vec<ObjectId>, StoreError> {
        let rows = self.exec("SELECT oid FROM objects WHERE pack IS NULL", vec![])?;
        rows.iter().map(|r| row_id(&r[0])).collect()
    }

    /// The object count in a stored pack's header.
    pub fn pack_object_count(&self, pack: i64) -> Result<u64, StoreError> {
        let rows = self.exec(
            "SELECT substr(data, 9, 4) FROM pack_chunks WHERE pack = ? AND kind = 0 AND seq = 0",
            vec![pack.into()],
        )?;
        let bytes = rows
            .first()
            .and_then(|r| r[0].as_bytes())
            .filter(|b| b.len() == 4)
            .ok_or_else(|| StoreError(format!("pack {pack} has no header")))?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as u64)
    }

    /// Starts a push: a pending pack row that owns everything the push writes until it is accepted.
    pub fn begin_push(&self) -> Result<i64, StoreError> {
        let rows = self.exec(
            "INSERT INTO packs (state) VALUES ('pending') RETURNING id",
            vec![],
        )?;
        rows.first()
            .map(|r| row_int(&r[0]))
            .transpose()?
            .ok_or_else(|| StoreError("no pack id returned".into()))
    }

    /// Writes chunk `seq` of a pack's file.
    pub fn write_chunk(
        &self,
        pack: i64,
        file: PackFile,
        seq: u64,
        data: &[u8],
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO pack_chunks (pack, kind, seq, data) VALUES (?, ?, ?, ?)",
            vec![
                pack.into(),
                (file as i64).into(),
                (seq as i64).into(),
                data.into(),
            ],
        )?;
        Ok(())
    }

    /// Reads chunk `seq` of a pack's file (None past the end).
    pub fn read_chunk(
        &self,
        pack: i64,
        file: PackFile,
        seq: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut rows = self.exec(
            "SELECT data FROM pack_chunks WHERE pack = ? AND kind = ? AND seq = ?",
            vec![pack.into(), (file as i64).into(), (seq as i64).into()],
        )?;
        Ok(rows.first_mut().and_then(|r| r[0].take_bytes()))
    }

    /// Stages a loose object file for a push; it stays invisible until [`Store::accept_loose`].
    pub fn stage_loose(&self, push: i64, id: &ObjectId, file: Vec<u8>) -> Result<(), StoreError> {
        self.exec(
            "INSERT OR IGNORE INTO loose (oid, push, data) VALUES (?, ?, ?)",
            vec![id_value(id), push.into(), file.into()],
        )?;
        Ok(())
    }

    /// Makes a pushed pack live under `name` and indexes its objects. If a pack with the
    /// same name is already live, the new copy is dropped and the live one serves.
    pub fn accept_pack(
        &self,
        push: i64,
        name: &str,
        size: u64,
        idx_size: u64,
        objects: &[NewObject],
        commits: &[CommitInfo],
    ) -> Result<(), StoreError> {
        if self.pack_by_name(name)?.is_some() {
            return self.discard_push(push);
        }
        self.exec(
            "UPDATE packs SET state = 'live', name = ?, size = ?, idx_size = ? WHERE id = ?",
            vec![
                name.into(),
                (size as i64).into(),
                (idx_size as i64).into(),
                push.into(),
            ],
        )?;
        self.index_objects(objects, Some(push))?;
        self.record_commits(commits)
    }

    /// Makes staged loose objects visible and drops the push's spooled pack.
    pub fn accept_loose(
        &self,
        push: i64,
        objects: &[NewObject],
        commits: &[CommitInfo],
    ) -> Result<(), StoreError> {
        self.index_objects(objects, None)?;
        self.record_commits(commits)?;
        self.drop_pack_rows(push)
    }

    fn index_objects(&self, objects: &[NewObject], pack: Option<i64>) -> Result<(), StoreError> {
        for batch in objects.chunks(JSON_BATCH) {
            let rows: Vec<String> = batch
                .iter()
                .map(|o| format!("[\"{}\",{},{}]", o.id, o.kind as u8, o.offset))
                .collect();
            self.exec(
                "INSERT OR IGNORE INTO objects (oid, type, pack, offset) \
                 SELECT unhex(value ->> 0), value ->> 1, ?1, iif(?1 IS NULL, NULL, value ->> 2) \
                 FROM json_each(?2)",
                vec![
                    pack.map_or(Value::Null, Value::Integer),
                    format!("[{}]", rows.join(",")).into(),
                ],
            )?;
        }
        Ok(())
    }

    fn record_commits(&self, commits: &[CommitInfo]) -> Result<(), StoreError> {
        for batch in commits.chunks(JSON_BATCH) {
            let rows: Vec<String> = batch
                .iter()
                .map(|c| {
                    let parents: String = c.parents.iter().map(ObjectId::to_hex).collect();
                    format!("[\"{}\",{},\"{parents}\"]", c.id, c.time)
                })
                .collect();
            self.exec(
                "INSERT OR IGNORE INTO commits (oid, time, parents) \
                 SELECT unhex(value ->> 0), value ->> 1, unhex(value ->> 2) FROM json_each(?)",
                vec![format!("[{}]", rows.join(",")).into()],
            )?;
        }
        Ok(())
    }

    /// Removes everything a push wrote that was not accepted.
    pub fn discard_push(&self, push: i64) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM loose WHERE push = ? AND oid NOT IN (SELECT oid FROM objects WHERE pack IS NULL)",
            vec![push.into()],
        )?;
        self.drop_pack_rows(push)
    }

    fn drop_pack_rows(&self, push: i64) -> Result<(), StoreError> {
        self.exec("DELETE FROM pack_chunks WHERE pack = ?", vec![push.into()])?;
        self.exec("DELETE FROM packs WHERE id = ?", vec![push.into()])?;
        Ok(())
    }

    /// Live packs, oldest first.
    pub fn packs(&self) -> Result<Vec<PackInfo>, StoreError> {
        let rows = self.exec(
            "SELECT id, name, size, idx_size FROM packs WHERE state = 'live' ORDER BY id",
            vec![],
        )?;
        rows.iter().map(|r| pack_info(r)).collect()
    }

    /// A live pack by its name (hex checksum).
    pub fn pack_by_name(&self, name: &str) -> Result<Option<PackInfo>, StoreError> {
        let rows = self.exec(
            "SELECT id, name, size, idx_size FROM packs WHERE state = 'live' AND name = ?",
            vec![name.into()],
        )?;
        rows.first().map(|r| pack_info(r)).transpose()
    }
}

/// Reads `type, pack, offset` columns.
fn location(row: &[Value]) -> Result<(ObjectType, Location), StoreError> {
    let kind = ObjectType::from_number(row_int(&row[0])? as u8)
        .ok_or_else(|| StoreError("bad object type in storage".into()))?;
    let location = match row[1] {
        Value::Null => Location::Loose,
        ref pack => Location::Packed {
            pack: row_int(pack)?,
            offset: row_int(&row[2])? as u64,
        },
    };
    Ok((kind, location))
}

fn pack_info(row: &[Value]) -> Result<PackInfo, StoreError> {
    Ok(PackInfo {
        id: row_int(&row[0])?,
        name: row[1].as_str().unwrap_or_default().to_string(),
        size: row_int(&row[2])? as u64,
        idx_size: row_int(&row[3])? as u64,
    })
}

/// Splits a loose object file into its type and data, checking the header's size.
pub fn parse_loose(file: &[u8]) -> Option<(ObjectType, Vec<u8>)> {
    let mut inflater = zlib::Inflater::new();
    let mut raw = Vec::new();
    let (_, done) = inflater
        .feed(file, &mut |c| raw.extend_from_slice(c))
        .ok()?;
    if !done {
        return None;
    }
    let nul = raw.iter().position(|&b| b == 0)?;
    let (kind, size) = std::str::from_utf8(&raw[..nul]).ok()?.split_once(' ')?;
    let kind = ObjectType::from_name(kind.as_bytes())?;
    let size: usize = size.parse().ok()?;
    let data = raw.split_off(nul + 1);
    (data.len() == size).then_some((kind, data))
}

/// Encodes a loose object file.
pub fn encode_loose(kind: ObjectType, data: &[u8]) -> Vec<u8> {
    let mut raw = crate::object::header(kind, data.len());
    raw.extend_from_slice(data);
    zlib::deflate(&raw)
}

/// A stored pack's chunks as a [`ChunkSource`], remembering the last chunk read.
pub struct StoredChunks<S: Sql> {
    store: Store<S>,
    pack: i64,
    file: PackFile,
    last: RefCell<Option<(u64, Rc<Vec<u8>>)>>,
}

impl<S: Sql> StoredChunks<S> {
    /// The chunks of `file` of pack row `pack`.
    pub fn new(store: &Store<S>, pack: i64, file: PackFile) -> Self {
        StoredChunks {
            store: store.clone(),
            pack,
            file,
            last: RefCell::new(None),
        }
    }
}

impl<S: Sql> ChunkSource for StoredChunks<S> {
    fn chunk_size(&self) -> u64 {
        self.store.chunk_size
    }

    fn chunk(&self, seq: u64) -> Result<Rc<Vec<u8>>, PackError> {
        if let Some((at, data)) = self.last.borrow().as_ref() {
            if *at == seq {
                return Ok(data.clone());
            }
        }
        let data = Rc::new(
            self.store
                .read_chunk(self.pack, self.file, seq)?
                .unwrap_or_default(),
        );
        *self.last.borrow_mut() = Some((seq, data.clone()));
        Ok(data)
    }
}

/// Where a chain of annotated tags leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peeled {
    /// The tags passed through, the starting object first if it is a tag.
    pub tags: Vec<ObjectId>,
    /// The first object that is not a tag.
    pub target: ObjectId,
    /// Its type, or None when it is not stored.
    pub kind: Option<ObjectType>,
}

/// Reads many objects, sharing one cache of delta bases and one chunk reader per pack.
pub struct ObjectReader<S: Sql> {
    store: Store<S>,
    packs: RefCell<HashMap<i64, Rc<StoredChunks<S>>>>,
    cache: RefCell<BaseCache>,
}

impl<S: Sql> ObjectReader<S> {
    /// The store it reads.
    pub fn store(&self) -> &Store<S> {
        &self.store
    }

    /// A reader over `store`.
    pub fn new(store: &Store<S>) -> Self {
        ObjectReader {
            store: store.clone(),
            packs: RefCell::new(HashMap::new()),
            cache: RefCell::new(BaseCache::new(BASE_CACHE_BYTES)),
        }
    }

    fn chunks(&self, pack: i64) -> Rc<StoredChunks<S>> {
        self.packs
            .borrow_mut()
            .entry(pack)
            .or_insert_with(|| Rc::new(StoredChunks::new(&self.store, pack, PackFile::Pack)))
            .clone()
    }

    /// A whole object, if stored.
    pub fn read(&self, id: &ObjectId) -> Result<Option<Object>, StoreError> {
        match self.store.locate(id)? {
            None => Ok(None),
            Some((kind, location)) => self.read_at(id, kind, location).map(Some),
        }
    }

    /// A whole object whose location is known.
    pub fn read_at(
        &self,
        id: &ObjectId,
        kind: ObjectType,
        location: Location,
    ) -> Result<Object, StoreError> {
        match location {
            Location::Loose => {
                let file = self
                    .store
                    .loose_object(id)?
                    .ok_or_else(|| StoreError(format!("loose object {id} is missing")))?;
                let data = parse_loose(&file)
                    .filter(|(k, _)| *k == kind)
                    .ok_or_else(|| StoreError(format!("loose object {id} is corrupt")))?;
                Ok((kind, Rc::new(data.1)))
            }
            Location::Packed { pack, offset } => Ok(self.object_at(pack, offset)?),
        }
    }

    /// The object whose entry is at `offset` in `pack`.
    pub fn object_at(&self, pack: i64, offset: u64) -> Result<Object, PackError> {
        let source = self.chunks(pack);
        let find = |base: &ObjectId| -> Result<Option<u64>, PackError> {
            Ok(match self.store.locate(base)? {
                Some((_, Location::Packed { pack: p, offset })) if p == pack => Some(offset),
                _ => None,
            })
        };
        PackObjects::new(pack, &*source, &find, &self.cache).object_at(offset)
    }

    /// Follows a chain of annotated tags from `id`.
    pub fn peel(&self, id: ObjectId) -> Result<Peeled, StoreError> {
        let mut tags = Vec::new();
        let mut at = id;
        while tags.len() < 64 {
            match self.store.locate(&at)? {
                Some((ObjectType::Tag, location)) => {
                    let (_, data) = self.read_at(&at, ObjectType::Tag, location)?;
                    let target = crate::object::links(ObjectType::Tag, &data)
                        .ok()
                        .and_then(|l| l.tag_target)
                        .ok_or_else(|| StoreError(format!("tag {at} is corrupt")))?;
                    tags.push(at);
                    at = target;
                }
                found => {
                    return Ok(Peeled {
                        tags,
                        target: at,
                        kind: found.map(|(kind, _)| kind),
                    })
                }
            }
        }
        Err(StoreError(format!("tag chain from {id} is too long")))
    }

    /// The entry at `offset` in `pack` as stored: header and compressed bytes.
    pub fn raw_entry(&self, pack: i64, offset: u64) -> Result<(EntryHeader, Vec<u8>), PackError> {
        crate::pack::read_raw_entry(&*self.chunks(pack), offset)
    }
}
