//! The repository's storage: refs, HEAD, packs and their indexes in chunk rows, loose
//! objects and the object index. The only module that speaks SQL.

use crate::format::object::{BadObject, ObjectId, ObjectType};
use crate::format::pack::{PackError, PackId};
use crate::store::sql::{Rows, Sql, SqlError, Value};

mod access;
mod blocks;
mod commit_graph;
mod hooks;
mod lfs;
mod maintenance;
mod midx;
mod objects;
mod odb;
mod packs;
mod paged;
mod push;
mod readers;
mod refs;
pub mod sql;
mod walk;

pub use hooks::DeliveryRow;
pub use lfs::LfsLock;
pub use maintenance::{
    delta_searchable, in_delta_search, Backlog, Footprint, RepackRow, Summary, SwapReport, Written,
};
pub use objects::{CommitInfo, Located, Location, NewObject, Queued};
pub use odb::{ObjectReader, Peeled, MAX_STEPS};
pub use packs::{
    ChunkFile, ChunkWriter, FileRange, PackFile, PackInfo, PackState, ScratchRows, StoredChunks,
};
pub use push::{Base, EntryRow, Held, IdxRow, IdxSource, LINK_PAGE};
pub use readers::ReadLease;
pub use refs::Ref;
pub use walk::{TakeIn, Unsaved, Walk, WalkInMemory};

/// The size of one pack or idx chunk row (the platform allows 2 MB per row).
pub const CHUNK_SIZE: u64 = 1 << 20;

/// The symbolic ref a new repository's HEAD names.
pub const DEFAULT_HEAD: &str = "refs/heads/main";

/// Rows per statement when many are written or looked up at once: they travel as one JSON
/// parameter that SQLite expands with `json_each`, instead of one bound value per column,
/// which keeps within the 100-parameter limit and avoids a crossing into JavaScript per value.
const JSON_BATCH: usize = 1000;

/// A storage failure: a statement failed, or what the rows hold does not read back. Every
/// one is the server's fault, never the client's: HTTP answers it with 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A statement failed.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// A stored pack does not read back.
    #[error("stored pack unreadable: {0}")]
    Pack(PackError),
    /// A column holds what the schema does not allow.
    #[error("bad {0} in storage")]
    BadColumn(&'static str),
    /// An object the rows promise is not there.
    #[error("{kind} {id} is missing")]
    Missing {
        /// What was looked for: "object", "commit", "tree", "loose object".
        kind: &'static str,
        /// Its id.
        id: ObjectId,
    },
    /// A stored object is not the type the rows say.
    #[error("{id} is not a {}", .expected.name())]
    NotA {
        /// The object.
        id: ObjectId,
        /// The type it should have.
        expected: ObjectType,
    },
    /// A stored object does not parse as its type.
    #[error("{} {id} is corrupt: {why}", .kind.name())]
    Corrupt {
        /// Its type.
        kind: ObjectType,
        /// The object.
        id: ObjectId,
        /// What is wrong.
        why: BadObject,
    },
    /// A loose object's file does not inflate to an object of its type.
    #[error("loose object {0} is corrupt")]
    CorruptLoose(ObjectId),
    /// A commit the walk reached has no row in the commit graph.
    #[error("commit {0} is missing from the commit graph")]
    NotInGraph(ObjectId),
    /// More annotated tags in a row than any repository has.
    #[error("tag chain from {0} is too long")]
    TagChainTooLong(ObjectId),
    /// A pack's rows end before the bytes its objects' rows point into.
    #[error("stored pack {0} is shorter than recorded")]
    PackTooShort(PackId),
}

/// Reading a stored pack reports the store's own failure as it was, not wrapped as a pack
/// error.
impl From<PackError> for StoreError {
    fn from(e: PackError) -> Self {
        match e {
            PackError::Source(source) => match source.downcast::<StoreError>() {
                Ok(store) => *store,
                Err(other) => StoreError::Pack(PackError::Source(other)),
            },
            e => StoreError::Pack(e),
        }
    }
}

/// A stored delta that does not apply is a stored pack that does not read back.
impl From<crate::format::delta::DeltaError> for StoreError {
    fn from(e: crate::format::delta::DeltaError) -> Self {
        StoreError::Pack(PackError::Delta(e))
    }
}

/// The chunk rows a pack is read from fail as the store does.
impl From<StoreError> for PackError {
    fn from(e: StoreError) -> Self {
        PackError::Source(Box::new(e))
    }
}

/// One repository's storage on top of a [`Sql`] connection.
#[derive(Clone)]
pub struct Store<S: Sql> {
    sql: S,
    chunk_size: u64,
    readers: readers::Readers,
    page_cache: std::rc::Rc<std::cell::RefCell<paged::PageCache>>,
    commits_read: std::rc::Rc<std::cell::Cell<u64>>,
    walk: std::rc::Rc<std::cell::RefCell<Option<Box<WalkInMemory>>>>,
    /// The pack rows read last, by every reader of this instance: a page or a fetch reads
    /// the same few rows as the one before it, and each row is a MiB to bring in again.
    recent: std::rc::Rc<std::cell::RefCell<packs::RecentChunks>>,
}

/// Pack rows the instance keeps between requests (8 MiB at most).
const INSTANCE_ROWS: usize = 8;

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
        .ok_or(StoreError::BadColumn("object id"))
}

fn row_int(value: &Value) -> Result<i64, StoreError> {
    value.as_i64().ok_or(StoreError::BadColumn("integer"))
}

/// The statements of the schema, comments left out.
fn schema() -> Vec<String> {
    let schema: String = include_str!("../../schema.sql")
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    schema
        .split(';')
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .collect()
}

impl<S: Sql> Store<S> {
    /// A store over `sql`, with the standard chunk size.
    pub fn new(sql: S) -> Store<S> {
        Store::with_chunk_size(sql, CHUNK_SIZE)
    }

    /// A store with a custom chunk size (tests use tiny chunks to cross boundaries).
    pub fn with_chunk_size(sql: S, chunk_size: u64) -> Store<S> {
        Store {
            sql,
            chunk_size,
            readers: readers::Readers::default(),
            page_cache: Default::default(),
            commits_read: Default::default(),
            walk: Default::default(),
            recent: packs::RecentChunks::shared(INSTANCE_ROWS),
        }
    }

    /// Forgets everything this instance remembers of the storage: it was deleted whole.
    pub fn forget_everything(&self) {
        self.let_go_of_caches();
        *self.walk.borrow_mut() = None;
    }

    /// Lets go of the pack rows and index pages this instance keeps between requests (8 MiB
    /// of each at most), for a request that may outlive the instance: workerd replaces an
    /// object no request has entered for some seconds even while a body it answered still
    /// streams, and what the old one kept stays in wasm memory until the garbage collector
    /// runs (see [`crate::pack_objects::LONG_PACK`]).
    pub fn let_go_of_caches(&self) {
        self.forget_pages();
        self.forget_chunks();
    }

    /// The pack rows read last, for a reader to share.
    pub(super) fn recent_chunks(&self) -> std::rc::Rc<std::cell::RefCell<packs::RecentChunks>> {
        self.recent.clone()
    }

    /// Forgets the pack rows read: rows are being deleted (a pack's id may be another
    /// pack's once it goes). A file being written forgets only its own rows (see
    /// [`Store::write_chunk`]).
    pub(super) fn forget_chunks(&self) {
        self.recent.borrow_mut().clear();
    }

    /// The rows read and written through this store's handle so far.
    pub fn rows(&self) -> Rows {
        self.sql.rows()
    }

    /// The same store on a handle that counts its own rows from zero (a request's).
    pub fn counting(&self) -> Store<S> {
        Store {
            sql: self.sql.counting(),
            ..self.clone()
        }
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
        self.forget_pages();
        // Deliveries as the first version of webhooks kept them, each with its own copy of
        // the event's body: dropped, and made anew by the schema (what waited is not sent).
        if self
            .exec("SELECT payload FROM deliveries LIMIT 0", vec![])
            .is_ok()
        {
            self.exec("DROP TABLE deliveries", vec![])?;
        }
        for statement in schema() {
            self.exec(&statement, vec![])?;
        }
        // Tables made before these columns existed lack them: `ADD COLUMN` is not
        // idempotent, so it runs only when reading the column fails.
        for (table, column) in [
            ("objects", "size"),
            ("objects", "depth"),
            ("repack_objects", "stored_depth"),
            ("packs", "retired"),
            ("loose", "retired"),
            ("hooks", "dropped"),
        ] {
            if self
                .exec(&format!("SELECT {column} FROM {table} LIMIT 0"), vec![])
                .is_err()
            {
                let add = format!("ALTER TABLE {table} ADD COLUMN {column} INTEGER");
                self.exec(&add, vec![])?;
            }
        }
        self.remake_loose()?;
        self.start_object_count()?;
        self.start_loose_retired()?;
        self.move_packed_rows()?;
        self.move_commit_rows()?;
        self.drop_leftovers()
    }

    /// Makes `loose` again WITHOUT ROWID if an earlier version made it with one (a file then
    /// cost two rows written: the table's and its key's index entry), once it is empty, as
    /// it is after a repack packed its objects and their files were swept: nothing is
    /// copied, and until then the table serves as it is.
    fn remake_loose(&self) -> Result<(), StoreError> {
        // Only a table with a rowid has the column; LIMIT 0 reads no row.
        let with_rowid = self.exec("SELECT rowid FROM loose LIMIT 0", vec![]).is_ok();
        if !with_rowid || !self.exec("SELECT 1 FROM loose LIMIT 1", vec![])?.is_empty() {
            return Ok(());
        }
        let create = schema().into_iter().find(|s| s.contains("EXISTS loose ("));
        let create = create.ok_or_else(|| SqlError("the schema does not make loose".into()))?;
        // Should the making fail after the drop, the next start makes it from the schema.
        self.exec("DROP TABLE loose", vec![])?;
        self.exec(&create, vec![])?;
        Ok(())
    }

    /// Empties `table` by dropping it and making it again from the schema: a `DELETE` is
    /// billed a row written for each row it removes, a dropped table's pages are let go
    /// whole. For tables of bookkeeping that hold a row per object for a while.
    /// Run it within a transaction, so that a failure between the drop and the making
    /// leaves the table as it was.
    pub(super) fn empty_table(&self, table: &str) -> Result<(), StoreError> {
        let create = format!("CREATE TABLE IF NOT EXISTS {table} (");
        let own = [format!("EXISTS {table} ("), format!("ON {table} (")];
        let statements: Vec<String> = schema()
            .into_iter()
            .filter(|s| own.iter().any(|mark| s.contains(mark.as_str())))
            .collect();
        if !statements
            .iter()
            .any(|s| s.trim_start().starts_with(&create))
        {
            let why = format!("the schema does not make table {table}");
            return Err(SqlError(why).into());
        }
        if self
            .exec(&format!("SELECT 1 FROM {table} LIMIT 1"), vec![])?
            .is_empty()
        {
            return Ok(());
        }
        self.exec(&format!("DROP TABLE IF EXISTS {table}"), vec![])?;
        for statement in statements {
            self.exec(&statement, vec![])?;
        }
        Ok(())
    }

    /// Runs `work` in one transaction: if it fails, none of its writes stay.
    pub fn transaction<T>(
        &self,
        work: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut work = Some(work);
        let mut outcome = None;
        let done = self.sql.transaction(&mut || {
            let result = work.take().map(|work| work());
            let commit = matches!(result, Some(Ok(_)));
            outcome = result;
            commit
        });
        if !matches!((&done, &outcome), (Ok(()), Some(Ok(_)))) {
            // Pages and rows read within may be ones it wrote and the rollback undid.
            self.forget_pages();
            self.forget_chunks();
        }
        done?;
        outcome.unwrap_or_else(|| Err(SqlError("the transaction did not run".into()).into()))
    }

    /// Whether the repository has been created by a push.
    pub fn exists(&self) -> Result<bool, StoreError> {
        Ok(self.head_target()?.is_some())
    }
}
