//! Git LFS bookkeeping: which objects the repository holds in the bucket, and its locks.

use std::collections::HashMap;

use super::maintenance::count;
use super::{row_int, Store, StoreError};
use crate::store::sql::{Sql, Value};

/// A lock on a path, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LfsLock {
    /// Its id.
    pub id: i64,
    /// The path it locks.
    pub path: String,
    /// Who took it: a token id, `admin` or `anonymous`.
    pub owner: String,
    /// When, in seconds since the epoch.
    pub locked_at: i64,
}

fn lock_row(row: &[Value]) -> Result<LfsLock, StoreError> {
    let text = |i: usize| {
        row.get(i)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(StoreError::BadColumn("lock"))
    };
    let int = |i: usize| {
        row.get(i)
            .ok_or(StoreError::BadColumn("lock"))
            .and_then(row_int)
    };
    Ok(LfsLock {
        id: int(0)?,
        path: text(1)?,
        owner: text(2)?,
        locked_at: int(3)?,
    })
}

const LOCK_COLUMNS: &str = "id, path, owner, locked_at";

impl<S: Sql> Store<S> {
    /// The size of each of `oids` the repository holds.
    pub fn lfs_sizes(&self, oids: &[&str]) -> Result<HashMap<String, u64>, StoreError> {
        let json = serde_json::to_string(oids).map_err(|_| StoreError::BadColumn("oid"))?;
        let rows = self.exec(
            "SELECT oid, size FROM lfs_objects WHERE oid IN (SELECT value FROM json_each(?))",
            vec![json.into()],
        )?;
        rows.iter()
            .map(|row| match (row[0].as_str(), row[1].as_i64()) {
                (Some(oid), Some(size)) => Ok((oid.to_string(), size as u64)),
                _ => Err(StoreError::BadColumn("lfs object")),
            })
            .collect()
    }

    /// Records that the bucket holds `oid` of `size` bytes, verified at `now`: one row
    /// written, once however often it is verified.
    pub fn record_lfs(&self, oid: &str, size: u64, now: i64) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO lfs_objects (oid, size, at) VALUES (?, ?, ?) ON CONFLICT (oid) DO NOTHING",
            vec![oid.into(), (size as i64).into(), now.into()],
        )?;
        Ok(())
    }

    /// How many LFS objects the repository holds, and their bytes. Counted, not kept as
    /// totals: keeping them would write two more rows per upload, and rows read cost a
    /// thousandth of rows written.
    pub fn lfs_totals(&self) -> Result<(u64, u64), StoreError> {
        let rows = self.exec(
            "SELECT count(*), coalesce(sum(size), 0) FROM lfs_objects",
            Vec::new(),
        )?;
        let row = rows.first().ok_or(StoreError::BadColumn("lfs totals"))?;
        let int = |i: usize| row.get(i).ok_or(StoreError::BadColumn("lfs totals"));
        Ok((row_int(int(0)?)? as u64, row_int(int(1)?)? as u64))
    }

    /// Locks `path` for `owner` at `now`, or returns the lock that holds it already.
    pub fn add_lfs_lock(
        &self,
        path: &str,
        owner: &str,
        now: i64,
    ) -> Result<Result<LfsLock, LfsLock>, StoreError> {
        let query = format!(
            "INSERT INTO lfs_locks (path, owner, locked_at) VALUES (?, ?, ?) \
             ON CONFLICT (path) DO NOTHING RETURNING {LOCK_COLUMNS}"
        );
        let added = self.exec(&query, vec![path.into(), owner.into(), now.into()])?;
        if let Some(row) = added.first() {
            return Ok(Ok(lock_row(row)?));
        }
        let query = format!("SELECT {LOCK_COLUMNS} FROM lfs_locks WHERE path = ?");
        let held = self.exec(&query, vec![path.into()])?;
        let held = held.first().ok_or(StoreError::BadColumn("lock"))?;
        Ok(Err(lock_row(held)?))
    }

    /// How many locks the repository holds.
    pub fn lfs_lock_count(&self) -> Result<u64, StoreError> {
        count(&self.exec("SELECT count(*) FROM lfs_locks", Vec::new())?)
    }

    /// Up to `limit` locks with ids above `after`, by id, narrowed to one `path` or `id`.
    pub fn lfs_locks(
        &self,
        after: i64,
        limit: usize,
        path: Option<&str>,
        id: Option<i64>,
    ) -> Result<Vec<LfsLock>, StoreError> {
        // Each narrowing is a plain equality, so that SQLite looks the lock up by its index
        // instead of reading every lock after `after`.
        let mut query = format!("SELECT {LOCK_COLUMNS} FROM lfs_locks WHERE id > ?");
        let mut params = vec![after.into()];
        if let Some(path) = path {
            query.push_str(" AND path = ?");
            params.push(path.into());
        }
        if let Some(id) = id {
            query.push_str(" AND id = ?");
            params.push(id.into());
        }
        query.push_str(" ORDER BY id LIMIT ?");
        params.push((limit as i64).into());
        let rows = self.exec(&query, params)?;
        rows.iter().map(|row| lock_row(row)).collect()
    }

    /// Removes lock `id`.
    pub fn remove_lfs_lock(&self, id: i64) -> Result<(), StoreError> {
        self.exec("DELETE FROM lfs_locks WHERE id = ?", vec![id.into()])?;
        Ok(())
    }
}
