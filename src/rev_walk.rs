//! Walking history for upload-pack (git's revision walk): which commits a fetch must send,
//! where a shallow history stops, and which trees and blobs those commits bring. Commits are
//! walked through the commit graph recorded at push time, so no commit is inflated; trees are
//! read only where the commits being sent differ from their parents.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::rc::Rc;

use hashbrown::hash_table::{self, HashTable};

use crate::format::object::{
    self, BadObject, IdHashing, ObjectId, ObjectType, TreeEntry, TreeEntryKind,
};
use crate::format::pack::Object;
use crate::store::sql::Sql;
use crate::store::{CommitInfo, Located, ObjectReader, Queued, StoreError};

/// How far back a shallow fetch goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deepen {
    /// `deepen N`: at most N commits deep from each want (relative: beyond the client's
    /// current shallow boundary).
    pub depth: Option<u32>,
    /// `deepen-since T`: only commits made at or after T.
    pub since: Option<i64>,
    /// `deepen-not`: nothing reachable from these commits.
    pub not: Vec<ObjectId>,
    /// `deepen-relative`: depth counts from the client's shallow boundary.
    pub relative: bool,
}

impl Deepen {
    /// Whether any deepening was asked for.
    pub fn any(&self) -> bool {
        self.depth.is_some() || self.since.is_some() || !self.not.is_empty()
    }
}

/// The commits a fetch sends, and what changes in the client's shallow boundary.
#[derive(Debug, Default)]
pub struct CommitPlan {
    /// Commits to send, newest first.
    pub commits: Vec<ObjectId>,
    /// Commits the client has whose trees need not be sent again.
    pub edges: Vec<ObjectId>,
    /// Sent commits whose parents are not sent: the client's new shallow boundary.
    pub shallow: Vec<ObjectId>,
    /// Commits the client had as shallow whose parents are now sent.
    pub unshallow: Vec<ObjectId>,
}

/// Distinct objects in the order first added, as a walk lists what it sends: each id is
/// held once, in the list, and found through a table of 4-byte positions in it, where a
/// set of ids beside the list held every id twice (a clone of git/git's history: 9 MiB
/// less at the walk's peak).
pub struct ObjectList {
    ids: Vec<ObjectId>,
    /// Positions in `ids`, hashed by the id there.
    positions: HashTable<u32>,
    hasher: IdHashing,
}

impl ObjectList {
    /// An empty list with room for `room` objects.
    pub fn with_capacity(room: usize) -> Self {
        ObjectList {
            ids: Vec::with_capacity(room),
            positions: HashTable::with_capacity(room),
            hasher: IdHashing::default(),
        }
    }

    /// Adds `id` unless the list holds it; whether it was added.
    pub fn insert(&mut self, id: ObjectId) -> bool {
        let (ids, hasher) = (&self.ids, &self.hasher);
        let at = ids.len() as u32;
        match self.positions.entry(
            hasher.hash_one(id),
            |&other| ids[other as usize] == id,
            |&other| hasher.hash_one(ids[other as usize]),
        ) {
            hash_table::Entry::Occupied(_) => false,
            hash_table::Entry::Vacant(place) => {
                place.insert(at);
                self.ids.push(id);
                true
            }
        }
    }

    /// The objects, in the order added.
    pub fn ids(&self) -> &[ObjectId] {
        &self.ids
    }

    /// The objects, without the table that finds them.
    pub fn into_ids(self) -> Vec<ObjectId> {
        self.ids
    }
}

/// Trees a clone's walk finds that wait to be located together, at most (1.25 MiB of
/// them): they are located when the queue runs out or past this many (or sooner, see
/// [`Walker::every_tree_object`]).
const NAMED_AT_MOST: usize = 65_536;

/// A walker with a cache of commit-graph rows.
pub struct Walker<'r, S: Sql> {
    reader: &'r ObjectReader<S>,
    graph: HashMap<ObjectId, CommitInfo>,
    /// The shallowest depth each tree was walked at by [`Walker::tree_objects_within`].
    tree_depths: HashMap<ObjectId, u32>,
    /// Whether the walks list blobs: not for a filter that leaves every one out.
    blobs: bool,
}

const SEEN: u8 = 1;
const UNINTERESTING: u8 = 2;
const QUEUED: u8 = 4;

/// A newest-first queue of commits, marking what the client has (uninteresting) and
/// spreading that mark to ancestors; it runs dry once only uninteresting commits are left.
#[derive(Default)]
struct DateWalk {
    flags: HashMap<ObjectId, u8>,
    queue: BinaryHeap<(i64, ObjectId)>,
    interesting: usize,
}

impl DateWalk {
    fn push(&mut self, id: ObjectId, time: i64, uninteresting: bool) {
        let f = self.flags.entry(id).or_insert(0);
        if *f & SEEN != 0 {
            if uninteresting && *f & UNINTERESTING == 0 {
                *f |= UNINTERESTING;
                if *f & QUEUED != 0 {
                    *f &= !QUEUED;
                    self.interesting -= 1;
                }
            }
            return;
        }
        *f |= SEEN;
        if uninteresting {
            *f |= UNINTERESTING;
        } else {
            *f |= QUEUED;
            self.interesting += 1;
        }
        self.queue.push((time, id));
    }

    /// The next commit and whether it is uninteresting, while interesting ones remain.
    fn pop(&mut self) -> Option<(ObjectId, bool)> {
        if self.interesting == 0 {
            return None;
        }
        let (_, id) = self.queue.pop()?;
        let f = self.flags.entry(id).or_insert(0);
        if *f & QUEUED != 0 {
            *f &= !QUEUED;
            self.interesting -= 1;
        }
        Some((id, *f & UNINTERESTING != 0))
    }

    fn is_uninteresting(&self, id: &ObjectId) -> bool {
        self.flags.get(id).is_some_and(|f| f & UNINTERESTING != 0)
    }
}

/// The `commits` that `roots` reach without walking past a commit in `boundary`, in their
/// order (`sent` holds the same commits, as a set). The client grafts every shallow commit as parentless, so a commit that is reached
/// only through one (the other parent of a merge cut on one side) would be sent for nothing;
/// git's upload-pack does not send it either, though it lists it as shallow.
fn cut_at(
    commits: &[ObjectId],
    sent: &HashSet<ObjectId>,
    roots: &[ObjectId],
    boundary: &HashSet<ObjectId>,
    graph: &HashMap<ObjectId, CommitInfo>,
) -> Vec<ObjectId> {
    let mut reached: HashSet<ObjectId> = HashSet::new();
    let mut stack: Vec<ObjectId> = roots.to_vec();
    while let Some(id) = stack.pop() {
        if !sent.contains(&id) || !reached.insert(id) || boundary.contains(&id) {
            continue;
        }
        if let Some(info) = graph.get(&id) {
            stack.extend(info.parents.iter().copied());
        }
    }
    commits
        .iter()
        .filter(|id| reached.contains(id))
        .copied()
        .collect()
}

impl<'r, S: Sql> Walker<'r, S> {
    /// A walker reading through `reader`.
    pub fn new(reader: &'r ObjectReader<S>) -> Self {
        Walker {
            reader,
            graph: HashMap::new(),
            tree_depths: HashMap::new(),
            blobs: true,
        }
    }

    /// Leaves blobs out of the walks that follow, for a filter that leaves them out by the
    /// mode of the tree entry that names them, as git's `blob:none` does: such a clone
    /// neither lists nor locates them.
    pub fn without_blobs(&mut self) {
        self.blobs = false;
    }

    /// The graph rows of `ids`, loading what is not cached in one batch.
    fn load(&mut self, ids: &[ObjectId]) -> Result<(), StoreError> {
        let missing: Vec<ObjectId> = ids
            .iter()
            .filter(|id| !self.graph.contains_key(id))
            .copied()
            .collect();
        if !missing.is_empty() {
            self.graph.extend(self.reader.store().commits(&missing)?);
        }
        Ok(())
    }

    fn commit(&mut self, id: &ObjectId) -> Result<CommitInfo, StoreError> {
        self.load(std::slice::from_ref(id))?;
        self.graph
            .get(id)
            .cloned()
            .ok_or(StoreError::NotInGraph(*id))
    }

    /// Commits reachable from `wants` and not from `haves`, newest first (date order, as git
    /// walks), stopping once only commits the client has are left to look at. Parents of the
    /// client's shallow commits are followed on neither side: git's upload-pack grafts them
    /// as parentless, so what lies below a shallow boundary is not taken as had.
    pub fn difference(
        &mut self,
        wants: &[ObjectId],
        haves: &[ObjectId],
        client_shallow: &HashSet<ObjectId>,
    ) -> Result<CommitPlan, StoreError> {
        let mut walk = DateWalk::default();
        let mut plan = CommitPlan::default();
        let mut all: Vec<ObjectId> = wants.to_vec();
        all.extend_from_slice(haves);
        self.load(&all)?;
        for (list, uninteresting) in [(wants, false), (haves, true)] {
            for id in list {
                let time = self.commit(id)?.time;
                walk.push(*id, time, uninteresting);
            }
        }
        while let Some((id, uninteresting)) = walk.pop() {
            let info = self.commit(&id)?;
            if !uninteresting {
                plan.commits.push(id);
            }
            if client_shallow.contains(&id) {
                continue;
            }
            self.load(&info.parents)?;
            for parent in &info.parents {
                let time = self.commit(parent)?.time;
                walk.push(*parent, time, uninteresting);
            }
        }
        let sent: HashSet<ObjectId> = plan.commits.iter().copied().collect();
        let mut edges = HashSet::new();
        for id in &plan.commits {
            let parents = self
                .graph
                .get(id)
                .map(|c| c.parents.as_slice())
                .unwrap_or_default();
            for parent in parents {
                if !sent.contains(parent) && walk.is_uninteresting(parent) {
                    edges.insert(*parent);
                }
            }
        }
        plan.edges = edges.into_iter().collect();
        Ok(plan)
    }

    /// Commits for a shallow fetch (git's `deepen`): from `wants` down to the limits of
    /// `deepen`; when relative, the new commits above the client's history plus `depth`
    /// generations beyond those of its shallow commits that the refs (`tips`) still reach,
    /// as git's `get_reachable_list` picks them. Also the new boundary, and the client's
    /// shallow commits that are shallow no more.
    pub fn shallow(
        &mut self,
        wants: &[ObjectId],
        haves: &[ObjectId],
        deepen: &Deepen,
        client_shallow: &HashSet<ObjectId>,
        tips: &[ObjectId],
    ) -> Result<CommitPlan, StoreError> {
        let excluded = self.reachable(&deepen.not)?;
        self.load(&client_shallow.iter().copied().collect::<Vec<_>>())?;
        // With `deepen-relative`, git walks from the client's shallow commits the refs reach
        // (each a step above the limit, so none stays shallow), else from the wants.
        let (mut plan, from_shallow, starts) = if deepen.relative {
            let plan = self.difference(wants, haves, client_shallow)?;
            let from_shallow = self.reached(tips, client_shallow)?;
            let starts = from_shallow
                .iter()
                .filter_map(|id| self.graph.get(id))
                .flat_map(|info| info.parents.iter().copied())
                .collect();
            (plan, from_shallow, starts)
        } else {
            (CommitPlan::default(), HashSet::new(), wants.to_vec())
        };
        let mut sent: HashSet<ObjectId> = plan.commits.iter().copied().collect();
        let (boundary, walked) =
            self.walk_to_depth(&starts, deepen, &excluded, &mut sent, &mut plan)?;
        plan.shallow = plan
            .commits
            .iter()
            .filter(|id| boundary.contains(id) && !client_shallow.contains(id))
            .copied()
            .collect();
        // git's NOT_SHALLOW: a client's shallow commit walked short of the boundary, a root
        // too, is shallow no more.
        plan.unshallow = client_shallow
            .iter()
            .filter(|id| {
                from_shallow.contains(*id) || (walked.contains(*id) && !boundary.contains(*id))
            })
            .copied()
            .collect();
        let mut roots = wants.to_vec();
        roots.extend(starts);
        plan.commits = cut_at(&plan.commits, &sent, &roots, &boundary, &self.graph);
        Ok(plan)
    }

    /// Walks breadth-first from `starts` as far as `deepen` allows, adding each commit once
    /// to `sent` and to the plan, and returns the boundary (the commits at the depth limit
    /// or with a parent cut off) and every commit walked.
    fn walk_to_depth(
        &mut self,
        starts: &[ObjectId],
        deepen: &Deepen,
        excluded: &HashSet<ObjectId>,
        sent: &mut HashSet<ObjectId>,
        plan: &mut CommitPlan,
    ) -> Result<(HashSet<ObjectId>, HashSet<ObjectId>), StoreError> {
        let mut depth_of: HashMap<ObjectId, u32> = HashMap::new();
        let mut queue: VecDeque<ObjectId> = VecDeque::new();
        for &id in starts {
            if depth_of.insert(id, 1).is_none() {
                queue.push_back(id);
            }
        }
        let mut boundary = HashSet::new();
        while let Some(id) = queue.pop_front() {
            let depth = depth_of[&id];
            if sent.insert(id) {
                plan.commits.push(id);
            }
            let info = self.commit(&id)?;
            // git's get_shallow_commits: a commit at the depth limit is shallow, a root too,
            // and its parents are not looked at.
            if deepen.depth.is_some_and(|limit| depth >= limit) {
                boundary.insert(id);
                continue;
            }
            self.load(&info.parents)?;
            for parent in &info.parents {
                let too_old = match deepen.since {
                    Some(since) => self.commit(parent)?.time < since,
                    None => false,
                };
                if too_old || excluded.contains(parent) {
                    boundary.insert(id);
                } else if !depth_of.contains_key(parent) {
                    depth_of.insert(*parent, depth + 1);
                    queue.push_back(*parent);
                }
            }
        }
        Ok((boundary, depth_of.into_keys().collect()))
    }

    /// Which of `targets` the commits among `tips` reach, walking only until all are found.
    fn reached(
        &mut self,
        tips: &[ObjectId],
        targets: &HashSet<ObjectId>,
    ) -> Result<HashSet<ObjectId>, StoreError> {
        self.load(tips)?;
        let mut found = HashSet::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<ObjectId> = tips
            .iter()
            .filter(|id| self.graph.contains_key(id))
            .copied()
            .collect();
        while let Some(id) = stack.pop() {
            if found.len() == targets.len() {
                break;
            }
            if !seen.insert(id) {
                continue;
            }
            if targets.contains(&id) {
                found.insert(id);
            }
            stack.extend(self.commit(&id)?.parents);
        }
        Ok(found)
    }

    /// Every commit reachable from `tips`.
    fn reachable(&mut self, tips: &[ObjectId]) -> Result<HashSet<ObjectId>, StoreError> {
        let mut seen: HashSet<ObjectId> = HashSet::new();
        let mut stack: Vec<ObjectId> = tips.to_vec();
        while let Some(id) = stack.pop() {
            if seen.insert(id) {
                stack.extend(self.commit(&id)?.parents);
            }
        }
        Ok(seen)
    }

    /// Whether `want` reaches a commit in `common` within a bounded walk (git's
    /// `ok_to_give_up` asks this of every want before it answers `ready`).
    pub fn reaches(
        &mut self,
        want: ObjectId,
        common: &HashSet<ObjectId>,
    ) -> Result<bool, StoreError> {
        const BUDGET: usize = 4096;
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([want]);
        while let Some(id) = queue.pop_front() {
            if common.contains(&id) {
                return Ok(true);
            }
            if seen.len() > BUDGET || !seen.insert(id) {
                continue;
            }
            queue.extend(self.commit(&id)?.parents);
        }
        Ok(false)
    }

    /// The objects of `tree` (itself included) that are not at the same path in any of
    /// `bases` (the trees of the commit's parents, which the client has or is being sent)
    /// and not in `list`; they are added to it. Only directories that differ
    /// from every base are read, so the cost follows the size of the change (git's sparse
    /// walk); with no bases, every object of the tree is visited. Gitlinks are not followed.
    pub fn tree_objects(
        &mut self,
        tree: ObjectId,
        bases: &[ObjectId],
        list: &mut ObjectList,
    ) -> Result<(), StoreError> {
        let mut stack = vec![(tree, bases.to_vec())];
        while let Some((id, bases)) = stack.pop() {
            if bases.contains(&id) || !list.insert(id) {
                continue;
            }
            let data = self.read_tree(&id)?;
            let base_data: Vec<Rc<Vec<u8>>> = bases
                .iter()
                .map(|base| self.read_tree(base))
                .collect::<Result<_, _>>()?;
            let base_entries: Vec<HashMap<&[u8], TreeEntry>> = bases
                .iter()
                .zip(&base_data)
                .map(|(base, d)| by_name(d).map_err(|why| corrupt_tree(*base, why)))
                .collect::<Result<_, _>>()?;
            let entries = object::tree_entries(&data).map_err(|why| corrupt_tree(id, why))?;
            for entry in entries {
                let same_path: Vec<ObjectId> = base_entries
                    .iter()
                    .filter_map(|names| names.get(entry.name))
                    .filter(|b| b.kind == entry.kind)
                    .map(|b| b.id)
                    .collect();
                if same_path.contains(&entry.id) {
                    continue;
                }
                match entry.kind {
                    TreeEntryKind::Tree => stack.push((entry.id, same_path)),
                    TreeEntryKind::Blob if self.blobs => {
                        list.insert(entry.id);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The trees and blobs that the trees of `commits` reach (those trees included) and
    /// `list` does not hold, added to it: a clone's walk, which has no trees
    /// to compare with. Commits and trees are read in the order they are stored (see
    /// [`Queued`]), where a walk tree by tree read a row for every fifteenth object (git/git's
    /// history), and what they name is located many at a time, in id order. With an index
    /// that stays in memory, that is before the walk leaves the pack row it reads, so each
    /// row of a pack in git's order (a tree before what it names) is read about once; with
    /// a larger one, when the queue runs out, so each page of the index is read once per
    /// level of directories, and each row of the pack about as often. Gitlinks are not
    /// followed.
    pub fn every_tree_object(
        &mut self,
        commits: &[ObjectId],
        list: &mut ObjectList,
    ) -> Result<(), StoreError> {
        let mut queue = BinaryHeap::new();
        self.queue_named(&mut commits.to_vec(), ObjectType::Commit, &mut queue)?;
        let soon = self.reader.locates_cheaply()?;
        let row_size = self.reader.store().chunk_size();
        let mut row = None;
        let mut named = Vec::new();
        loop {
            let leaving = queue.peek().map(|Reverse(next)| next.row(row_size)) != row;
            if queue.is_empty() || named.len() >= NAMED_AT_MOST || (soon && leaving) {
                self.queue_named(&mut named, ObjectType::Tree, &mut queue)?;
            }
            let Some(Reverse(next)) = queue.pop() else {
                return Ok(());
            };
            row = Some(next.row(row_size));
            let object = (self.reader).read_at(&next.id, next.kind, next.location())?;
            if object.kind != next.kind {
                // The index and the pack disagree: the store is damaged, and says so.
                return Err(StoreError::NotA {
                    id: next.id,
                    expected: next.kind,
                });
            }
            let data = object.data;
            if next.kind == ObjectType::Commit {
                let tree = commit_tree(&next.id, &data)?;
                if list.insert(tree) {
                    named.push(tree);
                }
                continue;
            }
            let entries = object::tree_entries(&data).map_err(|why| corrupt_tree(next.id, why))?;
            for entry in entries {
                match entry.kind {
                    TreeEntryKind::Tree if list.insert(entry.id) => named.push(entry.id),
                    TreeEntryKind::Blob if self.blobs => {
                        list.insert(entry.id);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Locates `named` (objects a walk found named as `kind`s) in id order, queues them and
    /// empties it; Err for one that is not stored or is not a `kind`.
    fn queue_named(
        &self,
        named: &mut Vec<ObjectId>,
        kind: ObjectType,
        queue: &mut BinaryHeap<Reverse<Queued>>,
    ) -> Result<(), StoreError> {
        if named.is_empty() {
            return Ok(());
        }
        named.sort_unstable();
        named.dedup();
        let queued = queue.len();
        let mut wrong = None;
        self.reader
            .locate_each(named, |id, located| match located.kind == kind {
                true => queue.push(Reverse(Queued::new(id, located))),
                false => wrong = wrong.or(Some(id)),
            })?;
        if let Some(id) = wrong {
            return Err(StoreError::NotA { id, expected: kind });
        }
        if queue.len() - queued < named.len() {
            // Each is visited once: one is missing, and which is worth a search only now.
            let found: HashSet<ObjectId> = queue.iter().map(|Reverse(q)| q.id).collect();
            if let Some(id) = named.iter().find(|id| !found.contains(id)) {
                return Err(StoreError::Missing {
                    kind: kind.name(),
                    id: *id,
                });
            }
        }
        named.clear();
        Ok(())
    }

    /// The objects of `tree` less than `limit` deep (the tree itself is at 0, its entries at
    /// 1), added to `list` unless it holds them (git's `tree:<depth>` filter).
    /// A tree met again nearer the root is walked again, as what it holds may now be within
    /// the limit; gitlinks are not followed.
    pub fn tree_objects_within(
        &mut self,
        tree: ObjectId,
        limit: u32,
        list: &mut ObjectList,
    ) -> Result<(), StoreError> {
        let mut stack = vec![(tree, 0)];
        while let Some((id, depth)) = stack.pop() {
            if depth >= limit || self.tree_depths.get(&id).is_some_and(|&d| d <= depth) {
                continue;
            }
            self.tree_depths.insert(id, depth);
            list.insert(id);
            let data = self.read_tree(&id)?;
            for entry in object::tree_entries(&data).map_err(|why| corrupt_tree(id, why))? {
                match entry.kind {
                    TreeEntryKind::Tree => stack.push((entry.id, depth + 1)),
                    TreeEntryKind::Blob if self.blobs && depth + 1 < limit => {
                        list.insert(entry.id);
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The blobs of tree `new` that replace another blob at the same path in tree `old`,
    /// with the one they replace: the bases a thin pack's deltas can name. Only directories
    /// that differ are read; at most `limit` pairs are added to `out`.
    pub fn changed_blobs(
        &mut self,
        new: ObjectId,
        old: ObjectId,
        limit: usize,
        out: &mut Vec<(ObjectId, ObjectId)>,
    ) -> Result<(), StoreError> {
        let mut stack = vec![(new, old)];
        while let Some((new, old)) = stack.pop() {
            if new == old {
                continue;
            }
            let (new_data, old_data) = (self.read_tree(&new)?, self.read_tree(&old)?);
            let old_entries = by_name(&old_data).map_err(|why| corrupt_tree(old, why))?;
            for entry in object::tree_entries(&new_data).map_err(|why| corrupt_tree(new, why))? {
                let Some(was) = old_entries.get(entry.name).filter(|was| was.id != entry.id) else {
                    continue;
                };
                match (entry.kind, was.kind) {
                    (TreeEntryKind::Tree, TreeEntryKind::Tree) => stack.push((entry.id, was.id)),
                    (TreeEntryKind::Blob, TreeEntryKind::Blob) if out.len() < limit => {
                        out.push((entry.id, was.id))
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Visits where each of `ids` that is stored is.
    pub fn locate_each(
        &self,
        ids: &[ObjectId],
        visit: impl FnMut(ObjectId, Located),
    ) -> Result<(), StoreError> {
        self.reader.locate_each(ids, visit)
    }

    /// Forgets the delta bases and index pages the walk cached: once it has read its trees,
    /// a pack that copies stored entries rarely reads either again.
    pub fn forget_walk(&self) {
        self.reader.forget_walk();
    }

    /// Forgets the commits read so far, and the pages of the commit graph they came from: a
    /// walk of trees that compares no commit with its parents does not read them again.
    pub fn forget_commits(&mut self) {
        self.graph = HashMap::new();
        self.reader.forget_walk();
    }

    fn read_tree(&self, id: &ObjectId) -> Result<Rc<Vec<u8>>, StoreError> {
        match self.reader.read(id)? {
            Some(Object {
                kind: ObjectType::Tree,
                data,
            }) => Ok(data),
            Some(_) => Err(StoreError::NotA {
                id: *id,
                expected: ObjectType::Tree,
            }),
            None => Err(StoreError::Missing {
                kind: "tree",
                id: *id,
            }),
        }
    }

    /// The parents of a commit, from the commit graph.
    pub fn parents(&mut self, id: &ObjectId) -> Result<Vec<ObjectId>, StoreError> {
        Ok(self.commit(id)?.parents)
    }

    /// The tree of a commit.
    pub fn tree_of(&self, commit: &ObjectId) -> Result<ObjectId, StoreError> {
        let Object { data, .. } = self.reader.read(commit)?.ok_or(StoreError::Missing {
            kind: "commit",
            id: *commit,
        })?;
        commit_tree(commit, &data)
    }
}

/// The tree named by the commit `id` whose bytes are `data`.
fn commit_tree(id: &ObjectId, data: &[u8]) -> Result<ObjectId, StoreError> {
    let corrupt = |why| StoreError::Corrupt {
        kind: ObjectType::Commit,
        id: *id,
        why,
    };
    let links = object::links(ObjectType::Commit, data).map_err(corrupt)?;
    // A commit's first link is its tree: `links` refuses a commit without one.
    links
        .refs
        .first()
        .map(|link| link.id)
        .ok_or(corrupt(BadObject::CommitWithoutTree))
}

/// A tree's entries by name, so that comparing two trees costs their sizes, not their
/// product; of two entries with one name (which git never writes), the first counts.
fn by_name(data: &[u8]) -> Result<HashMap<&[u8], TreeEntry<'_>>, BadObject> {
    let mut names = HashMap::new();
    for entry in object::tree_entries(data)? {
        names.entry(entry.name).or_insert(entry);
    }
    Ok(names)
}

fn corrupt_tree(id: ObjectId, why: BadObject) -> StoreError {
    StoreError::Corrupt {
        kind: ObjectType::Tree,
        id,
        why,
    }
}

/// The commit-graph rows of those of the ids asked for that exist.
pub type GraphRows<'a> =
    dyn FnMut(&[ObjectId]) -> Result<HashMap<ObjectId, CommitInfo>, StoreError> + 'a;

/// Whether `old` is `new` or one of its ancestors, so that moving a ref from `old` to `new`
/// is a fast-forward (git's `in_merge_bases`). Commits come from `rows`; an id that is not a
/// commit is no ancestor. The walk goes newest first and gives up below `old`'s date less a
/// day of clock skew, as no commit older than that can reach it; a walk longer than
/// `budget` commits answers false, which refuses a protected update rather than spending
/// unbounded time on it.
pub fn is_ancestor(
    old: ObjectId,
    new: ObjectId,
    rows: &mut GraphRows,
    budget: usize,
) -> Result<bool, StoreError> {
    const SKEW: i64 = 86_400;
    if old == new {
        return Ok(true);
    }
    let ends = rows(&[old, new])?;
    let (Some(old_info), Some(new_info)) = (ends.get(&old), ends.get(&new)) else {
        return Ok(false);
    };
    let cutoff = old_info.time.saturating_sub(SKEW);
    let mut seen = HashSet::from([new]);
    let mut queue = BinaryHeap::from([(new_info.time, new, new_info.parents.clone())]);
    while let Some((_, _, parents)) = queue.pop() {
        if seen.len() > budget {
            return Ok(false);
        }
        let fresh: Vec<ObjectId> = parents.into_iter().filter(|p| seen.insert(*p)).collect();
        if fresh.contains(&old) {
            return Ok(true);
        }
        for info in rows(&fresh)?.into_values() {
            if info.time >= cutoff {
                queue.push((info.time, info.id, info.parents));
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId([n; 20])
    }

    /// 1 <- 2 <- 3 <- 5 (a merge of 3 and 4), 1 <- 4; 6 is a root of its own. Times are
    /// days apart, except 4, which claims to be older than its parent by an hour.
    fn graph() -> HashMap<ObjectId, CommitInfo> {
        let day = 86_400;
        let commits = [
            (1, day, vec![]),
            (2, 2 * day, vec![1]),
            (3, 3 * day, vec![2]),
            (4, day - 3600, vec![1]),
            (5, 5 * day, vec![3, 4]),
            (6, 6 * day, vec![]),
        ];
        commits
            .into_iter()
            .map(|(n, time, parents)| {
                let parents = parents.into_iter().map(id).collect();
                (
                    id(n),
                    CommitInfo {
                        id: id(n),
                        time,
                        parents,
                    },
                )
            })
            .collect()
    }

    fn ancestor(old: u8, new: u8, budget: usize) -> bool {
        let graph = graph();
        let mut rows = |ids: &[ObjectId]| {
            Ok(ids
                .iter()
                .filter_map(|i| graph.get(i).map(|c| (*i, c.clone())))
                .collect())
        };
        is_ancestor(id(old), id(new), &mut rows, budget).unwrap()
    }

    #[test]
    fn ancestors_are_found_through_merges_and_skewed_clocks() {
        assert!(ancestor(1, 5, 100));
        assert!(ancestor(4, 5, 100));
        assert!(ancestor(2, 3, 100));
        assert!(ancestor(5, 5, 100));
        assert!(!ancestor(5, 3, 100));
        assert!(!ancestor(4, 3, 100));
        assert!(!ancestor(1, 6, 100));
        assert!(!ancestor(9, 5, 100));
        assert!(!ancestor(1, 5, 1));
    }

    #[test]
    fn an_object_list_holds_each_id_once_in_the_order_first_added() {
        // Ids alike but for their last bytes, as a hostile pusher could make them.
        let id = |n: u32| {
            let mut bytes = [7u8; 20];
            bytes[16..].copy_from_slice(&n.to_be_bytes());
            ObjectId(bytes)
        };
        let mut list = ObjectList::with_capacity(4);
        let added: Vec<bool> = [3, 1, 3, 2, 1].map(|n| list.insert(id(n))).to_vec();
        assert_eq!(added, [true, true, false, true, false]);
        assert_eq!(list.ids(), [id(3), id(1), id(2)]);
        // Past the room it was made with, as a fetch's list grows.
        for n in (0..50_000).chain(0..50_000) {
            list.insert(id(n));
        }
        let ids = list.into_ids();
        assert_eq!(ids.len(), 50_000);
        assert_eq!(ids[..4], [id(3), id(1), id(2), id(0)]);
    }
}
