//! The narrow synchronous SQL interface the store runs on: the Durable Object's
//! `SqlStorage` in production, SQLite through rusqlite in native tests.

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

/// Runs one statement with positional `?` parameters and returns all its rows. Clones are
/// cheap handles to the same database, so readers that outlive a request can own one.
pub trait Sql: Clone {
    /// Executes `query` and collects its rows.
    fn exec(&self, query: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>, SqlError>;

    /// Runs `work` as one transaction: its writes stay if it returns true and are rolled
    /// back, every one, if it returns false.
    fn transaction(&self, work: &mut dyn FnMut() -> bool) -> Result<(), SqlError>;
}

#[cfg(test)]
mod tests {
    use super::*;

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
