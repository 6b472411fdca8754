//! The repository's storage: refs, HEAD, packs and their indexes in chunk rows, loose
//! objects and the object index. The only module that speaks SQL.

use crate::format::object::ObjectId;
use crate::format::pack::{PackError, PackId};
use crate::store::sql::{Sql, SqlError, Value};

mod objects;
mod odb;
mod packs;
mod refs;
pub mod sql;

pub use objects::{CommitInfo, Location, NewObject};
pub use odb::{ObjectReader, Peeled};
pub use packs::{PackFile, PackInfo, StoredChunks};
pub use refs::Ref;

/// The size of one pack or idx chunk row (the platform allows 2 MB per row).
pub const CHUNK_SIZE: u64 = 1 << 20;

/// The symbolic ref a new repository's HEAD names.
pub const DEFAULT_HEAD: &str = "refs/heads/main";

/// Rows per statement when many are written or looked up at once: they travel as one JSON
/// parameter that SQLite expands with `json_each`, instead of one bound value per column,
/// which keeps within the 100-parameter limit and avoids a crossing into JavaScript per value.
const JSON_BATCH: usize = 1000;

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
        let schema: String = include_str!("../../schema.sql")
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        for statement in schema.split(';').filter(|s| !s.trim().is_empty()) {
            self.exec(statement, vec![])?;
        }
        for row in self.exec("SELECT id FROM packs WHERE state = 'pending'", vec![])? {
            self.discard_push(PackId(row_int(&row[0])?))?;
        }
        Ok(())
    }

    /// Whether the repository has been created by a push.
    pub fn exists(&self) -> Result<bool, StoreError> {
        Ok(self.head_target()?.is_some())
    }
}
