//! Object selection: which objects the pack carries, as pieces in the order they are
//! written. Every rule that narrows a selection is decided here, the choice to copy the
//! stored packs whole included, so a rule added later applies to full clones too.

use std::collections::{HashMap, HashSet};

use super::filter::Filter;
use super::wants::Resolved;
use crate::format::object::{ObjectId, ObjectType};
use crate::format::pack::HEADER_LEN;
use crate::pack_objects::{Entries, Piece, ThinBlob};
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
                pieces: vec![Piece::Entries(Box::new(Entries {
                    pack: exact.id,
                    start: HEADER_LEN as u64,
                    end: exact.size - 20,
                }))],
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
    if resolved
        .filter
        .as_ref()
        .is_some_and(Filter::leaves_out_blobs)
    {
        walker.without_blobs();
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
    let shape = Shape::new(store, walker, resolved, &plan)?;
    if resolved.include_tag {
        for tag in tags_of(store, walker, &shape, resolved, list.ids())? {
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
    let mut pieces = located(walker, &objects, &shape)?;
    drop(objects);
    if shape.filter.is_some_and(Filter::needs_sizes) {
        by_size(store, &shape, &mut pieces)?;
    }
    in_storage_order(&mut pieces);
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

/// The blobs to send as thin deltas, each with its base: those that replace a blob at the
/// same path between a sent commit and a parent the client has (an edge of the walk), as
/// git's thin packs do: a one-line change to a large file then costs bytes, not the file.
fn thin_bases<S: Sql>(
    store: &Store<S>,
    walker: &mut Walker<S>,
    plan: &CommitPlan,
) -> Result<HashMap<ObjectId, ObjectId>, StoreError> {
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
    Ok(bases)
}

/// How located objects become pieces: which of them a filter leaves out (but for what the
/// client named in a want, kept whatever the filter says, as git keeps it), which are sent
/// as thin deltas, and whether the pieces name their objects.
struct Shape<'r> {
    /// What the client named in its wants.
    given: HashSet<&'r ObjectId>,
    /// The request's filter, if any.
    filter: Option<&'r Filter>,
    /// Blobs sent as thin deltas, with their bases.
    thin: HashMap<ObjectId, ObjectId>,
    /// Whether every piece names its object: a client without OFS_DELTA is told a delta's
    /// base by id.
    named: bool,
    /// Whether blobs' pieces name them: a size filter reads their sizes by id.
    named_blobs: bool,
}

impl<'r> Shape<'r> {
    /// The shape of the pieces that answer `resolved` with `plan`.
    fn new<S: Sql>(
        store: &Store<S>,
        walker: &mut Walker<S>,
        resolved: &'r Resolved,
        plan: &CommitPlan,
    ) -> Result<Self, StoreError> {
        let filter = resolved.filter.as_ref();
        // A filter that sends no blob has no use for the blobs' bases, nor their sizes.
        let blobs = !filter.is_some_and(Filter::leaves_out_blobs);
        let thin = match resolved.thin_pack && !plan.edges.is_empty() && blobs {
            true => thin_bases(store, walker, plan)?,
            false => HashMap::new(),
        };
        Ok(Shape {
            given: (resolved.want_commits.iter())
                .chain(&resolved.want_trees)
                .chain(&resolved.extra)
                .collect(),
            filter,
            thin,
            named: !resolved.ofs_delta,
            named_blobs: filter.is_some_and(Filter::needs_sizes),
        })
    }

    /// Whether the object `id`, a `kind` of `size` (when known), is sent: the client named
    /// it, or the filter keeps it.
    fn sends(&self, id: &ObjectId, kind: ObjectType, size: Option<u64>) -> bool {
        self.given.contains(id) || self.filter.is_none_or(|f| f.keeps(kind, size))
    }

    /// The piece that sends the object `id`, unless the filter leaves it out; a size the
    /// filter may read is left to [`by_size`].
    fn piece(&self, id: ObjectId, Located { kind, location }: Located) -> Option<Piece> {
        if !self.sends(&id, kind, None) {
            return None;
        }
        Some(match self.thin.get(&id) {
            Some(&base) => Piece::Thin(Box::new(ThinBlob { id, location, base })),
            None => {
                let named = self.named || (self.named_blobs && kind == ObjectType::Blob);
                Piece::new(id, kind, location, named)
            }
        })
    }
}

/// Leaves out of `pieces` the blobs that `shape`'s size filter leaves out, but for those the
/// client named.
fn by_size<S: Sql>(
    store: &Store<S>,
    shape: &Shape,
    pieces: &mut Vec<Piece>,
) -> Result<(), StoreError> {
    let blob = |piece: &Piece| match piece {
        Piece::Named(named) if named.kind == ObjectType::Blob => Some(named.id),
        Piece::Thin(thin) => Some(thin.id),
        _ => None,
    };
    let blobs: Vec<ObjectId> = pieces.iter().filter_map(blob).collect();
    let sizes = store.object_sizes(&blobs)?;
    pieces.retain(|piece| match blob(piece) {
        Some(id) => shape.sends(&id, ObjectType::Blob, sizes.get(&id).copied()),
        None => true,
    });
    Ok(())
}

/// Whether a pack that holds exactly what the refs reach can be sent whole: the fetch
/// wants every ref and nothing else (a stored object no ref reaches is not in that pack),
/// no have, shallow boundary, depth or filter narrows it, the client reads OFS_DELTA
/// entries, and the fetch read every ref (see [`Resolved::refs`]).
fn is_everything(resolved: &Resolved) -> bool {
    resolved.every_ref
        && resolved.ofs_delta
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

/// The annotated tags whose targets are among `objects` (those already there included)
/// and sent in `shape`: git's `include-tag` adds a tag whose target is in the pack. Only
/// the tags' targets are held as a set: `objects` may be a whole history.
fn tags_of<S: Sql>(
    store: &Store<S>,
    walker: &Walker<S>,
    shape: &Shape,
    resolved: &Resolved,
    objects: &[ObjectId],
) -> Result<Vec<ObjectId>, StoreError> {
    let tags: Vec<(ObjectId, ObjectId)> = resolved
        .refs
        .iter()
        .filter(|r| r.name.starts_with("refs/tags/"))
        .filter_map(|r| Some((r.id, r.peeled?)))
        .collect();
    let targets: HashSet<ObjectId> = tags.iter().map(|&(_, target)| target).collect();
    let mut sent: HashSet<ObjectId> = objects
        .iter()
        .filter(|id| targets.contains(id))
        .copied()
        .collect();
    if shape.filter.is_some() {
        sent = sent_by(store, walker, shape, sent)?;
    }
    Ok(tags
        .into_iter()
        .filter(|(_, target)| sent.contains(target))
        .map(|(tag, _)| tag)
        .collect())
}

/// Those of `ids` that `shape` sends, by their types and sizes (when its filter reads
/// them).
fn sent_by<S: Sql>(
    store: &Store<S>,
    walker: &Walker<S>,
    shape: &Shape,
    ids: HashSet<ObjectId>,
) -> Result<HashSet<ObjectId>, StoreError> {
    let ids: Vec<ObjectId> = ids.into_iter().collect();
    let sizes = match shape.named_blobs {
        true => store.object_sizes(&ids)?,
        false => HashMap::new(),
    };
    let mut sent = HashSet::new();
    walker.locate_each(&ids, |id, located| {
        if shape.sends(&id, located.kind, sizes.get(&id).copied()) {
            sent.insert(id);
        }
    })?;
    Ok(sent)
}

/// The pieces `shape` makes of the stored objects of `objects` (sorted, so that they are not
/// copied to be looked up in order), in no particular order; Err for the first one not
/// stored.
fn located<S: Sql>(
    walker: &Walker<S>,
    objects: &[ObjectId],
    shape: &Shape,
) -> Result<Vec<Piece>, StoreError> {
    let mut pieces = Vec::with_capacity(objects.len());
    let mut found = 0;
    walker.locate_each(objects, |id, located| {
        found += 1;
        pieces.extend(shape.piece(id, located));
    })?;
    if found < objects.len() {
        let mut stored = HashSet::new();
        walker.locate_each(objects, |id, _| {
            stored.insert(id);
        })?;
        if let Some(id) = objects.iter().find(|id| !stored.contains(id)) {
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
