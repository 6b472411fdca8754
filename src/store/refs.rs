//! Refs and HEAD.

use super::{id_value, row_id, Store, StoreError};
use crate::format::object::ObjectId;
use crate::store::sql::{Sql, Value};

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

/// Refs listed per query: each page's names are one value, which must stay under the
/// platform's 2 MB (at 500 bytes a name on average).
const REFS_PER_PAGE: usize = 4000;

fn ref_rows(rows: &[Vec<Value>]) -> Result<Vec<Ref>, StoreError> {
    rows.iter()
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
        .collect()
}

/// The least string greater than every string that starts with `prefix`: its last code
/// point raised by one (code points that cannot be raised dropped first); None when there
/// is none (an empty prefix, or one of the greatest code point only).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last as u32 + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The condition on `name` that selects the refs starting with `prefix` (those after `after`
/// only, when given), with its parameters. Text compares as its bytes, and UTF-8 keeps the
/// order of code points: the names that start with `prefix` are those from it up to (not
/// including) [`prefix_end`]. Every bound is a plain comparison, so that SQLite
/// seeks the names' index to the first ref listed and stops after the last: a bound written
/// `(? IS NULL OR name > ?)` is not one it can seek by, and each page of a long listing read
/// every ref before it again.
fn name_range(prefix: &str, after: Option<&str>) -> (String, Vec<Value>) {
    let mut range = match after {
        Some(after) if after >= prefix => ("name > ?".to_string(), vec![after.into()]),
        _ => ("name >= ?".to_string(), vec![prefix.into()]),
    };
    if let Some(end) = prefix_end(prefix) {
        range.0.push_str(" AND name < ?");
        range.1.push(end.into());
    }
    range
}

impl<S: Sql> Store<S> {
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
        self.refs_with_prefix("")
    }

    /// The refs whose names start with `prefix`, sorted by name: one range of the names'
    /// index, however many other refs there are.
    pub fn refs_with_prefix(&self, prefix: &str) -> Result<Vec<Ref>, StoreError> {
        let mut refs: Vec<Ref> = Vec::new();
        loop {
            let after = refs.last().map(|r| r.name.clone());
            let page = self.ref_page(prefix, after.as_deref(), REFS_PER_PAGE)?;
            let full = page.len() == REFS_PER_PAGE;
            refs.extend(page);
            if !full {
                return Ok(refs);
            }
        }
    }

    /// How many refs' names start with `prefix`: one range of the names' index, counted
    /// where it is rather than sent to the Worker.
    pub fn count_refs(&self, prefix: &str) -> Result<u64, StoreError> {
        let (range, params) = name_range(prefix, None);
        let rows = self.exec(&format!("SELECT COUNT(*) FROM refs WHERE {range}"), params)?;
        Ok(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0) as u64)
    }

    /// The first `limit` refs whose names start with `prefix` (at most [`REFS_PER_PAGE`]),
    /// by name: what a page lists, or counts up to, however many there are.
    pub fn first_refs(&self, prefix: &str, limit: usize) -> Result<Vec<Ref>, StoreError> {
        self.ref_page(prefix, None, limit.min(REFS_PER_PAGE))
    }

    /// Up to `limit` refs whose names start with `prefix` (after `after`, when given), by
    /// name. A page is three values: the names, a line each, and the ids and peeled ids,
    /// 20 bytes each (zeros where a ref does not peel). A row per ref would cross from SQLite
    /// into the Worker one value at a time, which made listing 40,000 refs twice as slow as
    /// git's own server; ids in hex cost SQLite two calls per id, more than the rest of the
    /// listing.
    fn ref_page(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Ref>, StoreError> {
        let (range, mut params) = name_range(prefix, after);
        params.push(Value::Integer(limit as i64));
        // group_concat copies a blob's bytes as they are; the casts keep them bytes.
        let rows = self.exec(
            &format!(
                "SELECT group_concat(name, char(10)), CAST(group_concat(oid, '') AS BLOB), \
                        CAST(group_concat(coalesce(peeled, zeroblob(20)), '') AS BLOB) \
                 FROM (SELECT name, oid, peeled FROM refs WHERE {range} ORDER BY name LIMIT ?)"
            ),
            params,
        )?;
        let bad = || StoreError::BadColumn("ref listing");
        let Some([names, ids, peeled]) = rows.first().map(Vec::as_slice) else {
            return Err(bad());
        };
        let names = names.as_str().unwrap_or_default();
        let (ids, peeled) = (
            ids.as_bytes().unwrap_or_default(),
            peeled.as_bytes().unwrap_or_default(),
        );
        let names: Vec<&str> = match names {
            "" => Vec::new(),
            names => names.split('\n').collect(),
        };
        // A name holds no newline (git's rules for ref names forbid it), so the counts agree.
        if ids.len() != names.len() * 20 || peeled.len() != names.len() * 20 {
            return Err(bad());
        }
        let mut refs: Vec<Ref> = names
            .into_iter()
            .zip(ids.chunks_exact(20).zip(peeled.chunks_exact(20)))
            .map(|(name, (id, peeled))| Ref {
                name: name.to_string(),
                id: ObjectId::from_bytes(id).unwrap_or(ObjectId::ZERO),
                peeled: ObjectId::from_bytes(peeled).filter(|p| !p.is_zero()),
            })
            .collect();
        // The aggregates keep the inner query's order in SQLite, but SQL does not promise it.
        refs.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(refs)
    }

    /// One ref, if it exists.
    pub fn find_ref(&self, name: &str) -> Result<Option<Ref>, StoreError> {
        let rows = self.exec(
            "SELECT name, oid, peeled FROM refs WHERE name = ?",
            vec![name.into()],
        )?;
        Ok(ref_rows(&rows)?.pop())
    }

    /// The value of one ref.
    pub fn ref_value(&self, name: &str) -> Result<Option<ObjectId>, StoreError> {
        Ok(self.find_ref(name)?.map(|r| r.id))
    }

    /// Stored refs that `name` cannot sit beside: those it would be a directory of
    /// (`name/...`), and those that would be a directory of it (a prefix ending at a `/`).
    pub fn ref_conflicts(&self, name: &str) -> Result<Vec<String>, StoreError> {
        // The byte lengths of the prefixes that end before a '/'.
        let lengths: Vec<String> = name
            .match_indices('/')
            .map(|(at, _)| at.to_string())
            .collect();
        // Names under `name/` sort between `name/` and `name0`, '0' being the byte after '/'.
        let rows = self.exec(
            "SELECT name FROM refs WHERE name IN \
             (SELECT CAST(substr(CAST(?1 AS BLOB), 1, value) AS TEXT) FROM json_each(?2)) \
             OR (name > ?1 || '/' AND name < ?1 || '0') LIMIT 100",
            vec![name.into(), format!("[{}]", lengths.join(",")).into()],
        )?;
        Ok(rows
            .iter()
            .filter_map(|r| r[0].as_str().map(str::to_string))
            .collect())
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
        self.refs_changed()
    }

    /// Deletes a ref.
    pub fn delete_ref(&self, name: &str) -> Result<(), StoreError> {
        self.exec("DELETE FROM refs WHERE name = ?", vec![name.into()])?;
        self.refs_changed()
    }

    /// Counts a change of the refs, so that what was computed from them knows it is stale.
    fn refs_changed(&self) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES ('refs_version', '1') \
             ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            vec![],
        )?;
        Ok(())
    }

    /// How many times the refs have changed: equal counts mean equal refs.
    pub fn refs_version(&self) -> Result<i64, StoreError> {
        let rows = self.exec(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'refs_version'",
            vec![],
        )?;
        Ok(rows.first().and_then(|r| r[0].as_i64()).unwrap_or(0))
    }

    /// The branch that was created first among those that exist.
    pub fn first_branch(&self) -> Result<Option<String>, StoreError> {
        let rows = self.exec(
            "SELECT name FROM refs WHERE name LIKE 'refs/heads/%' ORDER BY rowid LIMIT 1",
            vec![],
        )?;
        Ok(rows.first().and_then(|r| r[0].as_str()).map(str::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn the_end_of_a_prefix_sorts_after_every_name_that_has_it() {
        assert_eq!(prefix_end("refs/heads/").as_deref(), Some("refs/heads0"));
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        let end = prefix_end("refs/tags/v").unwrap();
        for name in ["refs/tags/v", "refs/tags/v1", "refs/tags/v\u{10FFFF}x"] {
            assert!(name.as_bytes() < end.as_bytes(), "{name}");
        }
        assert!("refs/tags/w".as_bytes() >= end.as_bytes());
    }
}
