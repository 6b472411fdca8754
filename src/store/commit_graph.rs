//! The commit graph in pages, as git's commit-graph file is a table of commits: each
//! commit's time and parents, recorded when its push is accepted, so that history walks
//! need not inflate commits. A push writes a row per page its commits fall in, not one per
//! commit. A commit of more than two parents (an octopus merge, rare) keeps a row of its
//! own in `commits`, which also holds the rows of a repository made before the pages until
//! they are moved.

use std::collections::HashMap;

use super::objects::commit_row;
use super::paged::{Change, Paged};
use super::{CommitInfo, Store, StoreError};
use crate::format::object::ObjectId;
use crate::store::sql::Sql;

/// Bytes of a record: id (20), commit time (8, signed), parents (1: how many), and room
/// for two parents (40, zeros where there is none).
const RECORD: usize = 69;

/// Parents a record holds at most.
const PARENTS: usize = 2;

/// A commit of at most two parents, as its page records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CommitRecord {
    id: ObjectId,
    time: i64,
    parents: [Option<ObjectId>; PARENTS],
}

impl CommitRecord {
    /// The record of `commit`, if its parents fit one.
    pub(super) fn of(commit: &CommitInfo) -> Option<CommitRecord> {
        if commit.parents.len() > PARENTS {
            return None;
        }
        let mut parents = [None; PARENTS];
        for (slot, parent) in parents.iter_mut().zip(&commit.parents) {
            *slot = Some(*parent);
        }
        Some(CommitRecord {
            id: commit.id,
            time: commit.time,
            parents,
        })
    }

    /// The commit recorded.
    pub(super) fn id(&self) -> ObjectId {
        self.id
    }

    /// The commit it records.
    pub(super) fn info(&self) -> CommitInfo {
        CommitInfo {
            id: self.id,
            time: self.time,
            // Sized exactly: collected from the flattened pair, a single parent took room
            // for four, and a clone's walk holds one of these per commit.
            parents: {
                let mut parents = Vec::with_capacity(self.parents.iter().flatten().count());
                parents.extend(self.parents.iter().flatten().copied());
                parents
            },
        }
    }
}

impl Paged for CommitRecord {
    const TABLE: &'static str = "commit_pages";
    const SIZE: usize = RECORD;

    fn id(&self) -> ObjectId {
        self.id
    }

    fn encode(&self, page: &mut Vec<u8>) -> Result<(), StoreError> {
        page.extend_from_slice(&self.id.0);
        page.extend_from_slice(&self.time.to_be_bytes());
        page.push(self.parents.iter().flatten().count() as u8);
        for parent in self.parents {
            page.extend_from_slice(&parent.map_or([0; 20], |p| p.0));
        }
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<CommitRecord, StoreError> {
        let bad = || StoreError::BadColumn("commit graph page");
        let id = ObjectId::from_bytes(&bytes[..20]).ok_or_else(bad)?;
        let time = i64::from_be_bytes(bytes[20..28].try_into().map_err(|_| bad())?);
        let count = bytes[28] as usize;
        if count > PARENTS {
            return Err(bad());
        }
        let mut parents = [None; PARENTS];
        for (i, slot) in parents.iter_mut().enumerate().take(count) {
            let at = 29 + 20 * i;
            *slot = Some(ObjectId::from_bytes(&bytes[at..at + 20]).ok_or_else(bad)?);
        }
        Ok(CommitRecord { id, time, parents })
    }
}

impl<S: Sql> Store<S> {
    /// Records commits in the graph: in pages, those of at most two parents, the others as
    /// rows. Those recorded already stay as they are.
    pub(super) fn record_commits<'c>(
        &self,
        commits: impl Iterator<Item = &'c CommitInfo>,
    ) -> Result<(), StoreError> {
        let mut changes = Vec::new();
        let mut octopus = Vec::new();
        for commit in commits {
            match CommitRecord::of(commit) {
                Some(record) => changes.push(Change::Add(record)),
                None => octopus.push(commit),
            }
        }
        self.apply_changes(changes)?;
        self.insert_commits(
            "commits (oid, time, parents) SELECT",
            None,
            octopus.into_iter(),
        )
    }

    /// The commit-graph rows of those of `ids` that are stored: from the pages, then the
    /// rows.
    pub fn commits(&self, ids: &[ObjectId]) -> Result<HashMap<ObjectId, CommitInfo>, StoreError> {
        // Walks ask for a commit or two at a time, thousands of times: every page's key,
        // read once, spares a query each.
        self.load_keys::<CommitRecord>()?;
        let mut found: HashMap<ObjectId, CommitInfo> = self
            .find_records::<CommitRecord>(ids)?
            .into_iter()
            .map(|(id, record)| (id, record.info()))
            .collect();
        let rest: Vec<ObjectId> = ids
            .iter()
            .filter(|id| !found.contains_key(id))
            .copied()
            .collect();
        if !rest.is_empty() {
            found.extend(self.commit_rows(
                "SELECT oid, time, parents FROM commits \
                 WHERE oid IN (SELECT unhex(value) FROM json_each(?1))",
                None,
                &rest,
            )?);
        }
        self.commits_read
            .set(self.commits_read.get() + found.len() as u64);
        Ok(found)
    }

    /// How many commits lookups of the graph have found through this store and its clones:
    /// what a history walk read, as git's trace2 counts it, for tests to bound walks by.
    pub fn commits_read(&self) -> u64 {
        self.commits_read.get()
    }

    /// The commit-graph rows of `start` and of up to `n` of its ancestors along single
    /// parents, up to and including the first merge: for a walk down a history, each step
    /// a lookup in memory once its page is there. Past a merge the walk fetches each
    /// parent's own line.
    pub fn linear_history(
        &self,
        start: &ObjectId,
        n: usize,
    ) -> Result<HashMap<ObjectId, CommitInfo>, StoreError> {
        let mut found = HashMap::new();
        let mut at = *start;
        for _ in 0..=n {
            let Some(info) = self.commits(&[at])?.remove(&at) else {
                break;
            };
            let next = match info.parents[..] {
                [parent] if !found.contains_key(&parent) => Some(parent),
                _ => None,
            };
            found.insert(at, info);
            match next {
                Some(parent) => at = parent,
                None => break,
            }
        }
        Ok(found)
    }

    /// Drops commits from the graph (their objects are pruned).
    pub(super) fn drop_commits(&self, ids: &[ObjectId]) -> Result<(), StoreError> {
        let drops = ids.iter().map(|id| Change::Drop(*id)).collect();
        self.apply_changes::<CommitRecord>(drops)?;
        Ok(())
    }

    /// Moves the commit rows of at most two parents that a repository made before the pages
    /// holds into them, as [`Store::move_packed_rows`] does for objects.
    pub(super) fn move_commit_rows(&self) -> Result<(), StoreError> {
        self.move_rows(
            "commit_graph",
            &format!(
                "SELECT oid, time, parents FROM commits WHERE length(parents) <= {} LIMIT ?",
                PARENTS * 20
            ),
            "commits",
            |row| {
                let (_, commit) = commit_row(row)?;
                CommitRecord::of(&commit).ok_or(StoreError::BadColumn("commit parents"))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId([n; 20])
    }

    #[test]
    fn a_commit_of_up_to_two_parents_reads_back_as_recorded_and_an_octopus_has_no_record() {
        for parents in [vec![], vec![id(2)], vec![id(2), id(3)]] {
            let commit = CommitInfo {
                id: id(1),
                time: -5,
                parents,
            };
            let record = CommitRecord::of(&commit).unwrap();
            let mut bytes = Vec::new();
            record.encode(&mut bytes).unwrap();
            assert_eq!(bytes.len(), RECORD);
            assert_eq!(CommitRecord::decode(&bytes).unwrap().info(), commit);
        }
        let octopus = CommitInfo {
            id: id(1),
            time: 0,
            parents: vec![id(2), id(3), id(4)],
        };
        assert_eq!(CommitRecord::of(&octopus), None);
        let mut bad = vec![0; RECORD];
        bad[..20].copy_from_slice(&id(1).0);
        bad[28] = 3;
        assert!(CommitRecord::decode(&bad).is_err());
    }
}
