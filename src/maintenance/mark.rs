//! The repack's walk (git's `reachable.c`): every object the refs reach, with the queue and
//! the visited set in memory or in rows (see [`Walk`]), so that a walk of any size fits the
//! memory budget and stops and resumes between slices. In memory, it reads the objects in
//! the order the packs store them (see [`crate::store::Store::repack_link`]).

use std::collections::{BinaryHeap, HashSet};

use crate::format::object::{self, IdHashing, ObjectId, ObjectType, TreeEntryKind};
use crate::store::sql::Sql;
use crate::store::{ObjectReader, RepackRow, Store, StoreError, Walk};

/// The hash `pack-objects` groups objects by for its delta search (git's `pack_name_hash`):
/// files of one name, wherever they are, sort together, and its last characters weigh most.
pub fn name_hash(name: &[u8]) -> u32 {
    name.iter()
        .filter(|c| !c.is_ascii_whitespace())
        .fold(0u32, |hash, &c| (hash >> 2).wrapping_add((c as u32) << 24))
}

/// Links one call lists at most, past which it stops after the object at hand: a tree may
/// hold hundreds of thousands of entries, and a slice reads thousands of trees.
pub const MAX_LINKS: usize = 100_000;

/// Commits the history is read back through at most to show that the refs reach a tip of
/// the pack a walk took in whole (see [`prove_by_history`]), from as many of the refs at
/// most; and the rows it may read (pages of the commit graph, which a graph past the page
/// cache reads one per commit): a few milliseconds, in one turn.
pub const PROVE_AT_MOST: usize = 4096;
const PROVE_ROWS: u64 = 256;

/// Committer dates may run backwards by this much (seconds) along a history before the
/// search for a tip below them stops.
const SKEW: i64 = 86_400;

/// Shows, through the commit graph, that the refs still reach those tips of the pack the
/// walk took in whole that the walk of what was pushed did not meet: a branch merged and
/// then deleted is a parent of what a ref names, which was in the pack already. The
/// commits the refs named when the walk began are read back, newest first, until each
/// such tip is met, the dates go a day below the oldest of them, or [`PROVE_AT_MOST`] are
/// read, or [`PROVE_ROWS`] rows. Only a tip met counts, so what is left unmet (a tag
/// deleted, a branch rewound, a history too long to read back) keeps the walk unproven,
/// and the run walks everything.
pub fn prove_by_history<S: Sql>(store: &Store<S>, walk: &mut Walk) -> Result<(), StoreError> {
    let unproven = walk.unproven();
    if unproven.is_empty() {
        return Ok(());
    }
    let wanted = store.commits(&unproven)?;
    if wanted.len() < unproven.len() {
        return Ok(());
    }
    let floor = wanted.values().map(|c| c.time).min().unwrap_or(0) - SKEW;
    let tips = walk.tips().unwrap_or_default().to_vec();
    if tips.len() > PROVE_AT_MOST {
        return Ok(());
    }
    let rows_before = store.rows();
    let mut queue: BinaryHeap<(i64, ObjectId, Vec<ObjectId>)> = store
        .commits(&tips)?
        .into_values()
        .map(|c| (c.time, c.id, c.parents))
        .collect();
    let mut seen: HashSet<ObjectId, IdHashing> = queue.iter().map(|(_, id, _)| *id).collect();
    let mut left = wanted.len();
    let mut read = 0;
    while let Some((time, id, parents)) = queue.pop() {
        if time < floor
            || read >= PROVE_AT_MOST
            || store.rows().since(rows_before).read > PROVE_ROWS
        {
            break;
        }
        read += 1;
        if wanted.contains_key(&id) {
            walk.prove(&id);
            left -= 1;
            if left == 0 {
                break;
            }
        }
        let parents: Vec<ObjectId> = parents.into_iter().filter(|p| seen.insert(*p)).collect();
        let infos = store.commits(&parents)?.into_values();
        queue.extend(infos.map(|c| (c.time, c.id, c.parents)));
    }
    Ok(())
}

/// What one call of [`walk`] did.
pub struct Marked {
    /// Objects whose links it listed (0: the walk is over).
    pub walked: usize,
    /// The links it listed.
    pub links: usize,
}

/// Lists the links of up to `limit` objects of the walk not yet walked, stopping early past
/// [`MAX_LINKS`].
pub fn walk<S: Sql>(
    store: &Store<S>,
    reader: &ObjectReader<S>,
    walk: &mut Walk,
    limit: usize,
) -> Result<Marked, StoreError> {
    let rows = store.repack_unwalked(walk, limit)?;
    let mut links = Links::default();
    let mut walked = Vec::with_capacity(rows.len());
    for row in &rows {
        links_of(reader, row, |id| walk.found(id), &mut links)?;
        walked.push(row.id);
        if links.listed >= MAX_LINKS {
            break;
        }
    }
    // Versions of a directory list the same entries: each kept once (the first, whose name
    // hash counts, as git's walk keeps it) spares the store a lookup.
    let mut seen = HashSet::with_capacity_and_hasher(links.rest.len(), IdHashing::default());
    links.rest.retain(|(id, _)| seen.insert(*id));
    store.repack_link(walk, &walked, &links.commits, &links.rest)?;
    Ok(Marked {
        walked: walked.len(),
        links: links.listed,
    })
}

/// What the objects walked link to (id, name hash): commits (a commit's parents, a tag's
/// commit), through which the walk goes down the history, and the rest; and how many links
/// were read, those found already included.
#[derive(Default)]
struct Links {
    commits: Vec<(ObjectId, u32)>,
    rest: Vec<(ObjectId, u32)>,
    listed: usize,
}

/// Adds what `row`'s object links to, each with the hash of the name it has there, but for
/// the entries of a tree that were `found` already: most of a tree's entries are those of
/// its previous version, and passing over them here spares a name hash and two lookups each.
fn links_of<S: Sql>(
    reader: &ObjectReader<S>,
    row: &RepackRow,
    found: impl Fn(&ObjectId) -> bool,
    out: &mut Links,
) -> Result<(), StoreError> {
    if row.kind == ObjectType::Blob {
        return Ok(());
    }
    let data = reader.read_at(&row.id, row.kind, row.location)?.data;
    let corrupt = |why| StoreError::Corrupt {
        kind: row.kind,
        id: row.id,
        why,
    };
    if row.kind == ObjectType::Tree {
        let entries = object::tree_entries(&data).map_err(corrupt)?;
        out.listed += entries.len();
        out.rest.extend(
            entries
                .iter()
                .filter(|e| e.kind != TreeEntryKind::Gitlink && !found(&e.id))
                .map(|e| (e.id, name_hash(e.name))),
        );
        return Ok(());
    }
    let links = object::links(row.kind, &data).map_err(corrupt)?;
    out.listed += links.refs.len();
    for link in links.refs {
        match link.kind {
            Some(ObjectType::Commit) => out.commits.push((link.id, 0)),
            _ => out.rest.push((link.id, 0)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_hash_is_gits() {
        // Values from git's pack_name_hash.
        assert_eq!(name_hash(b""), 0);
        assert_eq!(name_hash(b"a"), 0x6100_0000);
        assert_eq!(name_hash(b"ab"), (0x6100_0000u32 >> 2) + 0x6200_0000);
        assert_eq!(name_hash(b"a b"), name_hash(b"ab"));
        assert_eq!(name_hash(b"Makefile"), name_hash(b"Makefile"));
        assert_ne!(name_hash(b"a.c"), name_hash(b"a.h"));
    }
}
