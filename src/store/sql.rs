//! The narrow synchronous SQL interface the store runs on: the Durable Object's
//! `SqlStorage` in production, SQLite through rusqlite in native tests.

use std::cell::Cell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::format::pack::PackId;

/// A value bound to or read from a statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer.
    Integer(i64),
    /// Text.
    Text(String),
    /// A BLOB.
    Blob(Vec<u8>),
}

impl Value {
    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The bytes of a BLOB (or of text).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Blob(b) => Some(b),
            Value::Text(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// Takes the bytes out of a BLOB (or text), leaving Null behind.
    pub fn take_bytes(&mut self) -> Option<Vec<u8>> {
        match std::mem::replace(self, Value::Null) {
            Value::Blob(b) => Some(b),
            Value::Text(s) => Some(s.into_bytes()),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Integer(n)
    }
}

impl From<PackId> for Value {
    fn from(id: PackId) -> Self {
        Value::Integer(id.0)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Blob(b)
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Value::Blob(b.to_vec())
    }
}

/// A failed statement. The runtime reports it only as text (the message of a JavaScript
/// exception, or of rusqlite in tests), so that text is all it carries.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("storage error: {0}")]
pub struct SqlError(pub String);

/// The most parameters one statement may bind (a Durable Object limit).
pub const MAX_PARAMS: usize = 100;

/// Rows read and written: what the platform bills a SQLite-backed Durable Object for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rows {
    /// Rows read (every row a statement visits, as the runtime counts them).
    pub read: u64,
    /// Rows written (inserted, updated or deleted, index entries included on the platform).
    pub written: u64,
}

impl Rows {
    /// What was counted from `earlier` to `self`.
    pub fn since(self, earlier: Rows) -> Rows {
        Rows {
            read: self.read.saturating_sub(earlier.read),
            written: self.written.saturating_sub(earlier.written),
        }
    }
}

impl std::ops::AddAssign for Rows {
    fn add_assign(&mut self, more: Rows) {
        self.read = self.read.saturating_add(more.read);
        self.written = self.written.saturating_add(more.written);
    }
}

/// The count a [`Sql`] handle keeps: its own rows, and those of every handle of the same
/// database (the instance's). A request counts on its own handle, so the rows of requests
/// that interleave at their awaits are told apart.
#[derive(Clone, Debug, Default)]
pub struct RowCounter {
    own: Rc<Cell<Rows>>,
    all: Rc<Cell<Rows>>,
}

impl RowCounter {
    /// Counts `rows` on this handle and on the instance.
    pub fn add(&self, rows: Rows) {
        for cell in [&self.own, &self.all] {
            let mut sum = cell.get();
            sum += rows;
            cell.set(sum);
        }
    }

    /// A counter of its own from zero, adding to the same instance's.
    pub fn fork(&self) -> RowCounter {
        RowCounter {
            own: Rc::default(),
            all: self.all.clone(),
        }
    }

    /// The rows counted on this handle.
    pub fn own(&self) -> Rows {
        self.own.get()
    }

    /// The rows counted on every handle of the instance.
    pub fn all(&self) -> Rows {
        self.all.get()
    }
}

/// Runs one statement with positional `?` parameters and returns all its rows. Clones are
/// cheap handles to the same database, so readers that outlive a request can own one.
pub trait Sql: Clone {
    /// Executes `query` and collects its rows.
    fn exec(&self, query: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>, SqlError>;

    /// The rows this handle (and its clones) read and wrote so far.
    fn rows(&self) -> Rows;

    /// A handle to the same database that counts its own rows from zero.
    fn counting(&self) -> Self;

    /// Runs `work` as one transaction: its writes stay if it returns true and are rolled
    /// back, every one, if it returns false.
    fn transaction(&self, work: &mut dyn FnMut() -> bool) -> Result<(), SqlError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forked_counter_counts_its_own_rows_and_adds_to_the_instance() {
        let instance = RowCounter::default();
        instance.add(Rows {
            read: 5,
            written: 1,
        });
        let request = instance.fork();
        request.add(Rows {
            read: 2,
            written: 3,
        });
        assert_eq!(
            request.own(),
            Rows {
                read: 2,
                written: 3
            }
        );
        assert_eq!(
            instance.all(),
            Rows {
                read: 7,
                written: 4
            }
        );
        assert_eq!(request.all(), instance.all());
        assert_eq!(
            instance.all().since(request.own()),
            Rows {
                read: 5,
                written: 1
            }
        );
        assert_eq!(request.own().since(instance.all()), Rows::default());
    }

    #[test]
    fn text_reads_as_its_bytes_and_a_failure_says_it_is_storage() {
        assert_eq!(Value::Text("ab".into()).as_bytes(), Some(&b"ab"[..]));
        let mut text = Value::Text("ab".into());
        assert_eq!(text.take_bytes(), Some(b"ab".to_vec()));
        assert_eq!(text, Value::Null);
        assert_eq!(Value::Integer(1).as_bytes(), None);
        assert_eq!(
            SqlError("no such table: refs".into()).to_string(),
            "storage error: no such table: refs"
        );
    }
}
