//! Reading trees and finding a path in them (git's `tree-walk.c`).

use crate::browse::{corrupt, read_as, step, BrowseError};
use crate::format::object::{self, ObjectId, ObjectType, TreeEntry, TreeEntryKind};
use crate::store::sql::Sql;
use crate::store::ObjectReader;

/// A tree entry, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its name in its tree.
    pub name: Vec<u8>,
    /// Its mode, e.g. `0o100644`.
    pub mode: u32,
    /// What it points at.
    pub kind: TreeEntryKind,
    /// The object it names.
    pub id: ObjectId,
}

impl From<TreeEntry<'_>> for Entry {
    fn from(entry: TreeEntry) -> Entry {
        Entry {
            name: entry.name.to_vec(),
            mode: entry.mode,
            kind: entry.kind,
            id: entry.id,
        }
    }
}

/// Runs `read` on the entries of tree `id`, borrowed from its content: a step of the
/// request's walks.
fn with_entries<S: Sql, T>(
    reader: &ObjectReader<S>,
    id: &ObjectId,
    read: impl FnOnce(Vec<TreeEntry>) -> T,
) -> Result<T, BrowseError> {
    step(reader, "reading trees")?;
    let data = read_as(reader, id, ObjectType::Tree)?;
    let entries = object::tree_entries(&data).map_err(corrupt(ObjectType::Tree, *id))?;
    Ok(read(entries))
}

/// The entries of tree `id`, in its (git's) order.
pub fn read_tree<S: Sql>(
    reader: &ObjectReader<S>,
    id: &ObjectId,
) -> Result<Vec<Entry>, BrowseError> {
    with_entries(reader, id, |entries| {
        entries.into_iter().map(Entry::from).collect()
    })
}

/// The components of a path: empty ones (a leading, doubled or trailing `/`) dropped.
pub fn components(path: &[u8]) -> Vec<&[u8]> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect()
}

/// The entry at `path` (its components) under tree `root`, if there is one.
pub fn lookup<S: Sql>(
    reader: &ObjectReader<S>,
    root: &ObjectId,
    path: &[&[u8]],
) -> Result<Option<Entry>, BrowseError> {
    let mut tree = *root;
    let mut found = None;
    for (at, name) in path.iter().enumerate() {
        if at > 0 {
            match found.take() {
                Some(Entry {
                    kind: TreeEntryKind::Tree,
                    id,
                    ..
                }) => tree = id,
                _ => return Ok(None),
            }
        }
        // Only the entry found is copied out of the tree.
        found = with_entries(reader, &tree, |entries| {
            entries
                .into_iter()
                .find(|entry| entry.name == *name)
                .map(Entry::from)
        })?;
        if found.is_none() {
            return Ok(None);
        }
    }
    Ok(found)
}
