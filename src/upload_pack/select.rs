//! Object selection: which objects the pack carries, as pieces in the order they are
//! written. Every rule that narrows a selection is decided here, the choice to copy the
//! stored packs whole included, so a rule added later applies to full clones too.

use std::collections::{HashMap, HashSet};

use super::filter::Filter;
use super::wants::Resolved;
use crate::format::object::{ObjectId, ObjectType};
use crate::format::pack::HEADER_LEN;
use crate::pack_objects::{Piece, ThinBlob};
use crate::rev_walk::{CommitPlan, ObjectList, Walker};
use crate::store::sql::Sql;
use crate::store::{Located, Store, StoreError};

/// The pieces of the pack, and how many objects they hold.
pub struct Selection {
    /// Pack entries and objects, in the order written.
    pub pieces: Vec<Piece>,
    /// Objects in them.
    pub count: u32,
}

/// What answers `resolved`: the commits of `plan` (the shallow plan, if any, else the
/// difference between wants and haves) with the trees and blobs they bring, wanted trees and
/// other objects, and with `include-tag` the tags of what is sent; less what its filter
/// leaves out.
pub fn select<S: Sql>(
    store: &Store<S>,
    walker: &mut Walker<S>,
    resolved: &Resolved,
    plan: Option<CommitPlan>,
) -> Result<Selection, StoreError> {
    if is_everything(resolved) {
        if let Some(exact) = store.exact_pack()? {
            return Ok(Selection {
                count: store.pack_object_count(exact.id)? as u32,
                pieces: vec![Piece::Entries {
                    pack: exact.id,
                    start: HEADER_LEN as u64,
                    end: exact.size - 20,
                }],
            });
        }
    }
    let plan = match plan {
        Some(plan) => plan,
        None => walker.difference(
            &resolved.want_commits,
            &resolved.common,
            &resolved.client_shallow,
        )?,
    };
    let depth = resolved.filter.as_ref().and_then(Filter::tree_depth);
    if plan.edges.is_empty() {
        walker.forget_commits();
    }
    let mut list = ObjectList::with_capacity(expected_objects(store, &plan, depth)?);
    commit_objects(walker, &plan, depth, &mut list)?;
    for tree in &resolved.want_trees {
        match depth {
            Some(depth) => walker.tree_objects_within(*tree, depth, &mut list)?,
            None => walker.tree_objects(*tree, &[], &mut list)?,
        }
    }
    // Wanted trees too: a `tree:0` walk reads none, but what a want names is always sent.
    for id in resolved.want_trees.iter().chain(&resolved.extra) {
        list.insert(*id);
    }
    if resolved.include_tag {
        for tag in tags_of(resolved, list.ids()) {
            list.insert(tag);
        }
    }
    let mut objects = list.into_ids();
    objects.sort_unstable();
    if objects.len() > LARGE_LIST {
        // The pieces of a long list (a clone's) take the room of what the walk cached; a
        // short one's leave it to the thin deltas and rebuilt objects that may read it.
        walker.forget_walk();
    }
    let mut pieces = located(walker, &objects)?;
    drop(objects);
    if let Some(filter) = &resolved.filter {
        filtered(store, resolved, filter, &mut pieces)?;
    }
    in_storage_order(&mut pieces);
    if resolved.thin_pack && !plan.edges.is_empty() {
        thin(store, walker, &plan, &mut pieces)?;
    }
    let count = pieces.len() as u32;
    Ok(Selection { pieces, count })
}

/// Objects in a list past which the walk's caches are let go before it is located: 3 MiB
/// of pieces, where the caches hold up to 16 MiB.
const LARGE_LIST: usize = 65_536;

/// Blobs smaller than this are sent whole: a delta would save little.
const THIN_MIN: u64 = 64;
/// Blobs larger than this are sent whole: a delta holds both versions and an index in memory.
const THIN_MAX: u64 = 4 << 20;
/// Bytes of blobs one fetch makes deltas of, at most: each costs reading both versions.
const THIN_BUDGET: u64 = 64 << 20;
/// Pairs of versions looked at, at most.
const THIN_PAIRS: usize = 10_000;

/// Makes thin deltas of the blobs in `pieces` that replace a blob at the same path between a
/// sent commit and a parent the client has (an edge of the walk), as git's thin packs do:
/// a one-line change to a large file then costs bytes, not the file.
fn thin<S: Sql>(
    store: &Store<S>,
    walker: &mut Walker<S>,
    plan: &CommitPlan,
    pieces: &mut [Piece],
) -> Result<(), StoreError> {
    let edges: HashSet<&ObjectId> = plan.edges.iter().collect();
    let mut pairs = Vec::new();
    for commit in &plan.commits {
        for parent in walker.parents(commit)? {
            if edges.contains(&parent) && pairs.len() < THIN_PAIRS {
                let (new, old) = (walker.tree_of(commit)?, walker.tree_of(&parent)?);
                walker.changed_blobs(new, old, THIN_PAIRS, &mut pairs)?;
            }
        }
    }
    let ids: Vec<ObjectId> = pairs.iter().flat_map(|&(new, old)| [new, old]).collect();
    let sizes = store.object_sizes(&ids)?;
    let fits = |id: &ObjectId| {
        sizes
            .get(id)
            .is_some_and(|s| (THIN_MIN..=THIN_MAX).contains(s))
    };
    let mut bases: HashMap<ObjectId, ObjectId> = HashMap::new();
    let mut budget = THIN_BUDGET;
    for (new, old) in pairs {
        let size = sizes.get(&new).copied().unwrap_or(u64::MAX);
        if fits(&new) && fits(&old) && !bases.contains_key(&new) && size <= budget {
            budget -= size;
            bases.insert(new, old);
        }
    }
    for piece in pieces.iter_mut() {
        if let Piece::Object { id, location, .. } = *piece {
            if let Some(&base) = bases.get(&id) {
                *piece = Piece::Thin(Box::new(ThinBlob { id, location, base }));
            }
        }
    }
    Ok(())
}

/// Leaves out of `pieces` what `filter` leaves out; what the client named in a want is
/// kept whatever the filter says, as git keeps it.
fn filtered<S: Sql>(
    store: &Store<S>,
    resolved: &Resolved,
    filter: &Filter,
    pieces: &mut Vec<Piece>,
) -> Result<(), StoreError> {
    let given: HashSet<&ObjectId> = (resolved.want_commits.iter())
        .chain(&resolved.want_trees)
        .chain(&resolved.extra)
        .collect();
    let sizes = match filter.needs_sizes() {
        true => {
            let blobs: Vec<ObjectId> = pieces
                .iter()
                .filter_map(|piece| match piece {
                    Piece::Object {
                        id,
                        kind: ObjectType::Blob,
                        ..
                    } => Some(*id),
                    _ => None,
                })
                .collect();
            store.object_sizes(&blobs)?
        }
        false => HashMap::new(),
    };
    pieces.retain(|piece| match piece {
        Piece::Object { id, kind, .. } if !given.contains(id) => {
            filter.keeps(*kind, sizes.get(id).copied())
        }
        _ => true,
    });
    Ok(())
}

/// Whether a pack that holds exactly what the refs reach can be sent whole: the fetch
/// wants every ref and nothing else (a stored object no ref reaches is not in that pack),
/// no have, shallow boundary, depth or filter narrows it, and the client reads OFS_DELTA
/// entries.
fn is_everything(resolved: &Resolved) -> bool {
    resolved.ofs_delta
        && resolved.filter.is_none()
        && resolved.common.is_empty()
        && resolved.client_shallow.is_empty()
        && !resolved.deepen.any()
        && {
            let wants: HashSet<&ObjectId> = resolved.wants.iter().collect();
            let tips: HashSet<&ObjectId> = resolved
                .refs
                .iter()
                .flat_map(|r| std::iter::once(&r.id).chain(&r.peeled))
                .collect();
            resolved.refs.iter().all(|r| wants.contains(&r.id))
                && wants.iter().all(|id| tips.contains(id))
        }
}

/// Objects a clone's selection for `plan` is likely to hold, to make room for at once: a
/// clone's list and set of a whole history, grown step by step, hold their old room and
/// their new one together at every step (git/git's history: 16 MiB more at the peak). A
/// plan's commits bring at most 16 objects each as far as this guess goes, so that a clone
/// of one short branch of a large repository does not take room for all of it.
fn expected_objects<S: Sql>(
    store: &Store<S>,
    plan: &CommitPlan,
    depth: Option<u32>,
) -> Result<usize, StoreError> {
    if !walks_every_tree(plan, depth) {
        // Only a clone's walk lists most objects; a fetch, or a filter that reads few trees
        // (`tree:0` lists commits alone), grows its list as it goes.
        return Ok(0);
    }
    let stored = store.meta("objects")?.and_then(|n| n.parse::<usize>().ok());
    Ok(stored
        .unwrap_or(0)
        .min(plan.commits.len().saturating_mul(16)))
}

/// Whether the selection for `plan` walks every tree its commits reach, with none to
/// compare with and no depth to stop at: a clone's walk.
fn walks_every_tree(plan: &CommitPlan, depth: Option<u32>) -> bool {
    plan.edges.is_empty() && depth.is_none()
}

/// The commits of `plan` with their trees and blobs (only those less than `depth` deep, when
/// a filter says so). When the client has some history, each commit's tree is compared with
/// its parents' (those the client has and those being sent) so only what changed is read; a
/// clone walks every tree once instead, in the order they are stored. They are added to
/// `list`.
fn commit_objects<S: Sql>(
    walker: &mut Walker<S>,
    plan: &CommitPlan,
    depth: Option<u32>,
    list: &mut ObjectList,
) -> Result<(), StoreError> {
    for commit in &plan.commits {
        list.insert(*commit);
    }
    if walks_every_tree(plan, depth) {
        return walker.every_tree_object(&plan.commits, list);
    }
    let known: HashSet<ObjectId> = match plan.edges.is_empty() {
        true => HashSet::new(),
        false => plan.commits.iter().chain(&plan.edges).copied().collect(),
    };
    for commit in &plan.commits {
        if let Some(depth) = depth {
            if depth == 0 {
                continue;
            }
            let tree = walker.tree_of(commit)?;
            walker.tree_objects_within(tree, depth, list)?;
            continue;
        }
        let mut bases = Vec::new();
        if !plan.edges.is_empty() {
            for parent in walker.parents(commit)? {
                if known.contains(&parent) {
                    bases.push(walker.tree_of(&parent)?);
                }
            }
        }
        let tree = walker.tree_of(commit)?;
        walker.tree_objects(tree, &bases, list)?;
    }
    Ok(())
}

/// The annotated tags whose targets are among `objects` (those already there included).
/// Only the tags' targets are held as a set: `objects` may be a whole history.
fn tags_of(resolved: &Resolved, objects: &[ObjectId]) -> Vec<ObjectId> {
    let tags: Vec<(ObjectId, ObjectId)> = resolved
        .refs
        .iter()
        .filter(|r| r.name.starts_with("refs/tags/"))
        .filter_map(|r| Some((r.id, r.peeled?)))
        .collect();
    let targets: HashSet<ObjectId> = tags.iter().map(|&(_, target)| target).collect();
    let sent: HashSet<ObjectId> = objects
        .iter()
        .filter(|id| targets.contains(id))
        .copied()
        .collect();
    tags.into_iter()
        .filter(|(_, target)| sent.contains(target))
        .map(|(tag, _)| tag)
        .collect()
}

/// The stored objects of `objects` (sorted, so that they are not copied to be looked up in
/// order) as pieces, in no particular order; Err for the first one not stored.
fn located<S: Sql>(walker: &Walker<S>, objects: &[ObjectId]) -> Result<Vec<Piece>, StoreError> {
    let mut pieces = Vec::with_capacity(objects.len());
    walker.locate_each(objects, |id, Located { kind, location }| {
        pieces.push(Piece::Object { id, kind, location })
    })?;
    if pieces.len() < objects.len() {
        let found: HashSet<&ObjectId> = pieces.iter().filter_map(Piece::object).collect();
        if let Some(id) = objects.iter().find(|id| !found.contains(id)) {
            return Err(StoreError::Missing {
                kind: "object",
                id: *id,
            });
        }
    }
    Ok(pieces)
}

/// Sorts pieces in storage order, so stored delta bases come before their deltas (and a
/// written base is found again by where it is stored: [`Piece::storage_order`]).
fn in_storage_order(pieces: &mut [Piece]) {
    pieces.sort_unstable_by(Piece::storage_order);
}
