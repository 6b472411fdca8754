//! Object selection: which objects the pack carries, as pieces in the order they are
//! written. Every rule that narrows a selection is decided here, the choice to copy the
//! stored packs whole included, so a rule added later applies to full clones too.

use std::collections::{HashMap, HashSet};

use super::filter::Filter;
use super::wants::Resolved;
use crate::format::object::{ObjectId, ObjectType};
use crate::format::pack::{PackId, HEADER_LEN};
use crate::pack_objects::Piece;
use crate::rev_walk::{CommitPlan, Walker};
use crate::store::sql::Sql;
use crate::store::{Located, Location, Store, StoreError};

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
    // A clone of a long history reads most trees and sends most objects: their locations
    // in one scan beat a query for each.
    if plan.edges.is_empty() && plan.commits.len() >= BULK_COMMITS && depth != Some(0) {
        walker.expect_everything()?;
    }
    let mut skip: HashSet<ObjectId> = HashSet::new();
    let mut objects = commit_objects(walker, &plan, &mut skip, depth)?;
    for tree in &resolved.want_trees {
        match depth {
            Some(depth) => walker.tree_objects_within(*tree, depth, &mut skip, &mut objects)?,
            None => walker.tree_objects(*tree, &[], &mut skip, &mut objects)?,
        }
    }
    // Wanted trees too: a `tree:0` walk reads none, but what a want names is always sent.
    for id in resolved.want_trees.iter().chain(&resolved.extra) {
        if skip.insert(*id) {
            objects.push(*id);
        }
    }
    if resolved.include_tag {
        objects.extend(tags_of(resolved, &objects, &mut skip));
    }
    let located = walker.locate_many(&objects)?;
    if let Some(filter) = &resolved.filter {
        objects = filtered(store, resolved, filter, objects, &located)?;
    }
    let mut pieces = in_storage_order(&located, &objects)?;
    if resolved.thin_pack && !plan.edges.is_empty() {
        thin(store, walker, &plan, &mut pieces)?;
    }
    let count = pieces.len() as u32;
    Ok(Selection { pieces, count })
}

/// Commits from which a walk without haves learns every tree's location at once.
const BULK_COMMITS: usize = 256;

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
                *piece = Piece::Thin { id, location, base };
            }
        }
    }
    Ok(())
}

/// `objects` less those `filter` leaves out; what the client named in a want is kept
/// whatever the filter says, as git keeps it.
fn filtered<S: Sql>(
    store: &Store<S>,
    resolved: &Resolved,
    filter: &Filter,
    objects: Vec<ObjectId>,
    located: &HashMap<ObjectId, Located>,
) -> Result<Vec<ObjectId>, StoreError> {
    let given: HashSet<&ObjectId> = (resolved.want_commits.iter())
        .chain(&resolved.want_trees)
        .chain(&resolved.extra)
        .collect();
    let kind = |id: &ObjectId| located.get(id).map(|l| l.kind);
    let sizes = match filter.needs_sizes() {
        true => {
            let blobs: Vec<ObjectId> = objects
                .iter()
                .filter(|id| kind(id) == Some(ObjectType::Blob))
                .copied()
                .collect();
            store.object_sizes(&blobs)?
        }
        false => HashMap::new(),
    };
    Ok(objects
        .into_iter()
        .filter(|id| match kind(id) {
            Some(kind) if !given.contains(id) => filter.keeps(kind, sizes.get(id).copied()),
            _ => true,
        })
        .collect())
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

/// The commits of `plan` with their trees and blobs (only those less than `depth` deep, when
/// a filter says so). When the client has some history, each commit's tree is compared with
/// its parents' (those the client has and those being sent) so only what changed is read; a
/// clone walks each tree once instead.
fn commit_objects<S: Sql>(
    walker: &mut Walker<S>,
    plan: &CommitPlan,
    skip: &mut HashSet<ObjectId>,
    depth: Option<u32>,
) -> Result<Vec<ObjectId>, StoreError> {
    let mut objects = Vec::new();
    let known: HashSet<ObjectId> = plan.commits.iter().chain(&plan.edges).copied().collect();
    for commit in &plan.commits {
        if skip.insert(*commit) {
            objects.push(*commit);
        }
        if let Some(depth) = depth {
            if depth == 0 {
                continue;
            }
            let tree = walker.tree_of(commit)?;
            walker.tree_objects_within(tree, depth, skip, &mut objects)?;
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
        walker.tree_objects(tree, &bases, skip, &mut objects)?;
    }
    Ok(objects)
}

/// The annotated tags whose targets are among `objects` and that are not sent yet.
fn tags_of(
    resolved: &Resolved,
    objects: &[ObjectId],
    skip: &mut HashSet<ObjectId>,
) -> Vec<ObjectId> {
    let sent: HashSet<ObjectId> = objects.iter().copied().collect();
    resolved
        .refs
        .iter()
        .filter(|r| r.name.starts_with("refs/tags/"))
        .filter(|r| {
            r.peeled.is_some_and(|p| sent.contains(&p))
                && !sent.contains(&r.id)
                && skip.insert(r.id)
        })
        .map(|r| r.id)
        .collect()
}

/// The objects as pieces in storage order, so stored delta bases come before their deltas.
fn in_storage_order(
    located: &HashMap<ObjectId, Located>,
    objects: &[ObjectId],
) -> Result<Vec<Piece>, StoreError> {
    let mut pieces: Vec<(ObjectId, ObjectType, Location)> = Vec::with_capacity(objects.len());
    for id in objects {
        let &Located { kind, location } = located.get(id).ok_or(StoreError::Missing {
            kind: "object",
            id: *id,
        })?;
        pieces.push((*id, kind, location));
    }
    let order = |location: &Location| match location {
        Location::Packed { pack, offset } => (0, *pack, *offset),
        Location::Loose => (1, PackId(0), 0),
    };
    pieces.sort_by_key(|(_, _, location)| order(location));
    Ok(pieces
        .into_iter()
        .map(|(id, kind, location)| Piece::Object { id, kind, location })
        .collect())
}
