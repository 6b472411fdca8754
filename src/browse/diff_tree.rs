//! Comparing two trees as `git diff --raw --no-renames` does (git's `tree-diff.c`): both
//! are walked together in git's tree order, and only subtrees that differ are read.

use std::cmp::Ordering;

use crate::browse::tree_walk::{read_tree, Entry};
use crate::browse::BrowseError;
use crate::format::object::{ObjectId, TreeEntryKind};
use crate::store::sql::Sql;
use crate::store::ObjectReader;

/// The most changes one comparison lists.
pub const MAX_CHANGES: usize = 10_000;

/// The deepest a comparison descends: git's own `core.maxTreeDepth` is 2048, and a frame
/// per level must fit the stack.
const MAX_DEPTH: usize = 512;

/// How a path changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// It is new.
    Added,
    /// Its content or mode changed.
    Modified,
    /// It is gone.
    Deleted,
    /// It changed between file, symlink and submodule.
    TypeChanged,
}

impl Status {
    /// git's letter for it.
    pub fn letter(self) -> &'static str {
        match self {
            Status::Added => "A",
            Status::Modified => "M",
            Status::Deleted => "D",
            Status::TypeChanged => "T",
        }
    }
}

/// One changed path, as a line of `git diff --raw`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Its path from the root.
    pub path: Vec<u8>,
    /// How it changed.
    pub status: Status,
    /// Its mode before (0 when added).
    pub old_mode: u32,
    /// Its mode after (0 when deleted).
    pub new_mode: u32,
    /// Its object before (all zeros when added).
    pub old_id: ObjectId,
    /// Its object after (all zeros when deleted).
    pub new_id: ObjectId,
}

/// The changes from tree `old` to tree `new` (None is the empty tree), in git's order, at
/// most [`MAX_CHANGES`] of them; and whether there were more.
pub fn diff_trees<S: Sql>(
    reader: &ObjectReader<S>,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
) -> Result<(Vec<Change>, bool), BrowseError> {
    let mut diff = Diff {
        reader,
        changes: Vec::new(),
        truncated: false,
    };
    diff.trees(old, new, &mut Vec::new(), 0)?;
    Ok((diff.changes, diff.truncated))
}

struct Diff<'r, S: Sql> {
    reader: &'r ObjectReader<S>,
    changes: Vec<Change>,
    truncated: bool,
}

/// git's tree order (`base_name_compare`): names compared as if a tree's ended in `/`
/// and any other's in NUL.
fn tree_order(a: &Entry, b: &Entry) -> Ordering {
    fn key(e: &Entry) -> impl Iterator<Item = u8> + '_ {
        let end = if e.kind == TreeEntryKind::Tree {
            b'/'
        } else {
            0
        };
        e.name.iter().copied().chain(std::iter::once(end))
    }
    key(a).cmp(key(b))
}

/// The file-type bits of a mode.
fn file_type(mode: u32) -> u32 {
    mode & 0o170_000
}

impl<S: Sql> Diff<'_, S> {
    fn trees(
        &mut self,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
        prefix: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), BrowseError> {
        if depth > MAX_DEPTH {
            return Err(BrowseError::Bad(format!(
                "trees nested deeper than {MAX_DEPTH} levels"
            )));
        }
        let read = |id: Option<ObjectId>| match id {
            Some(id) => read_tree(self.reader, &id),
            None => Ok(Vec::new()),
        };
        let (old, new) = (read(old)?, read(new)?);
        let (mut i, mut j) = (0, 0);
        while (i < old.len() || j < new.len()) && !self.truncated {
            let (a, b) = (old.get(i), new.get(j));
            let order = match (a, b) {
                (Some(a), Some(b)) => tree_order(a, b),
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            match (order, a, b) {
                (Ordering::Less, Some(a), _) => self.one_side(a, true, prefix, depth)?,
                (Ordering::Greater, _, Some(b)) => self.one_side(b, false, prefix, depth)?,
                (Ordering::Equal, Some(a), Some(b)) => self.both(a, b, prefix, depth)?,
                // The order was taken from the entries that are there.
                _ => break,
            }
            i += usize::from(order != Ordering::Greater);
            j += usize::from(order != Ordering::Less);
        }
        Ok(())
    }

    /// An entry only the old tree (`deleted`) or only the new one has.
    fn one_side(
        &mut self,
        entry: &Entry,
        deleted: bool,
        prefix: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), BrowseError> {
        if entry.kind == TreeEntryKind::Tree {
            let (old, new) = match deleted {
                true => (Some(entry.id), None),
                false => (None, Some(entry.id)),
            };
            return self.within(entry, old, new, prefix, depth);
        }
        let (status, old, new) = match deleted {
            true => (Status::Deleted, Some(entry), None),
            false => (Status::Added, None, Some(entry)),
        };
        self.record(prefix, &entry.name, status, old, new);
        Ok(())
    }

    /// An entry both trees have under one name and kind of name.
    fn both(
        &mut self,
        old: &Entry,
        new: &Entry,
        prefix: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), BrowseError> {
        if old.id == new.id && old.mode == new.mode {
            return Ok(());
        }
        if old.kind == TreeEntryKind::Tree {
            return self.within(old, Some(old.id), Some(new.id), prefix, depth);
        }
        let status = match file_type(old.mode) == file_type(new.mode) {
            true => Status::Modified,
            false => Status::TypeChanged,
        };
        self.record(prefix, &old.name, status, Some(old), Some(new));
        Ok(())
    }

    /// Compares the subtrees under `entry`'s name.
    fn within(
        &mut self,
        entry: &Entry,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
        prefix: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), BrowseError> {
        let len = prefix.len();
        prefix.extend_from_slice(&entry.name);
        prefix.push(b'/');
        let result = self.trees(old, new, prefix, depth + 1);
        prefix.truncate(len);
        result
    }

    fn record(
        &mut self,
        prefix: &[u8],
        name: &[u8],
        status: Status,
        old: Option<&Entry>,
        new: Option<&Entry>,
    ) {
        if self.changes.len() == MAX_CHANGES {
            self.truncated = true;
            return;
        }
        let side = |entry: Option<&Entry>| entry.map_or((0, ObjectId::ZERO), |e| (e.mode, e.id));
        let ((old_mode, old_id), (new_mode, new_id)) = (side(old), side(new));
        self.changes.push(Change {
            path: [prefix, name].concat(),
            status,
            old_mode,
            new_mode,
            old_id,
            new_id,
        });
    }
}
