//! History in `git log` order (git's `revision.c`): a walk by committer date, newest
//! first, ties going to the commit queued first; with a path, git's default history
//! simplification; the commits of `base..head`; and merge bases.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use crate::browse::rev_parse::tree_of;
use crate::browse::tree_walk::{lookup, Entry};
use crate::browse::{line_of_history, step, BrowseError};
use crate::format::object::ObjectId;
use crate::store::sql::Sql;
use crate::store::{CommitInfo, ObjectReader, StoreError};

/// A page of `git log`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The commits shown, in order, each with the number of commits walked when it was
    /// shown: a cursor to the commits after it.
    pub commits: Vec<(ObjectId, u64)>,
    /// When there are more: how many commits the walk took to get here, to skip next time.
    pub next: Option<u64>,
}

/// What a page asks for.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Commits walked by the pages before (a cursor's count).
    pub skip: u64,
    /// Commits shown at most.
    pub limit: usize,
}

/// `git log`'s queue: newest committer date first, ties in the order queued.
#[derive(Default)]
struct DateQueue {
    heap: BinaryHeap<(i64, Reverse<u64>, ObjectId)>,
    queued: u64,
}

impl DateQueue {
    fn push(&mut self, id: ObjectId, time: i64) {
        self.heap.push((time, Reverse(self.queued), id));
        self.queued += 1;
    }

    fn pop(&mut self) -> Option<ObjectId> {
        self.heap.pop().map(|(_, _, id)| id)
    }
}

/// What a tree entry is: its mode and object.
type Found = Option<(u32, ObjectId)>;

/// A walker with its cache of graph rows and, when following a path, of what each commit
/// has there and what each tree read has under the path's next name.
pub struct Log<'r, S: Sql> {
    reader: &'r ObjectReader<S>,
    graph: HashMap<ObjectId, CommitInfo>,
    /// Whether the commits walked are read (to follow a path): their places are learnt with
    /// their graph rows.
    reading: bool,
    at_path: HashMap<ObjectId, Found>,
    /// (tree, n): the entry named by the path's component n in that tree.
    in_tree: HashMap<(ObjectId, usize), Found>,
}

impl<'r, S: Sql> Log<'r, S> {
    /// A walker reading through `reader`.
    pub fn new(reader: &'r ObjectReader<S>) -> Self {
        Log {
            reader,
            graph: HashMap::new(),
            reading: false,
            at_path: HashMap::new(),
            in_tree: HashMap::new(),
        }
    }

    /// A walker whose request's walks take at most `steps` steps from now, in all.
    pub fn within(self, steps: u64) -> Self {
        self.reader.set_walk_budget(steps);
        self
    }

    /// Counts one more commit taken by a walk (`what`), refusing one past the request's
    /// budget (every commit a walk takes costs a row in memory, those a cursor skips too).
    fn count(&self, walked: &mut u64, what: &str) -> Result<(), BrowseError> {
        *walked += 1;
        step(self.reader, what)
    }

    /// The graph row of commit `id`, with those of its line of history fetched alongside.
    fn commit(&mut self, id: &ObjectId) -> Result<CommitInfo, StoreError> {
        let fetched = line_of_history(self.reader, &mut self.graph, id)?;
        if self.reading && !fetched.is_empty() {
            self.reader.learn(&fetched)?;
        }
        self.graph
            .get(id)
            .cloned()
            .ok_or(StoreError::NotInGraph(*id))
    }

    /// The commits `git log <start> [-- <path>]` shows, one page of them.
    pub fn log(
        &mut self,
        start: ObjectId,
        path: Option<&[&[u8]]>,
        window: Window,
    ) -> Result<Page, BrowseError> {
        self.reading = path.is_some();
        let mut queue = DateQueue::default();
        let mut seen = HashSet::from([start]);
        queue.push(start, self.commit(&start)?.time);
        let mut page = Page::default();
        let mut walked = 0u64;
        while let Some(id) = queue.pop() {
            self.count(&mut walked, "the history")?;
            let skipping = walked <= window.skip;
            let info = self.commit(&id)?;
            // A commit is queued once: its row is not needed again.
            self.graph.remove(&id);
            let (shown, follow) = match path {
                // Only a merge's simplification changes where the walk goes.
                Some(path) if !skipping || info.parents.len() > 1 => self.simplify(&info, path)?,
                _ => (true, info.parents.clone()),
            };
            for parent in follow {
                if seen.insert(parent) {
                    queue.push(parent, self.commit(&parent)?.time);
                }
            }
            if !skipping && shown {
                page.commits.push((id, walked));
            }
            if page.commits.len() >= window.limit && !queue.heap.is_empty() {
                page.next = Some(walked);
                break;
            }
        }
        Ok(page)
    }

    /// git's default simplification for `log -- <path>`: whether the commit is shown, and
    /// which parents the walk follows. A commit that has at `path` what one of its parents
    /// has (TREESAME) is not shown, and the walk follows only the first such parent; a
    /// root commit is shown when it has something there.
    fn simplify(
        &mut self,
        commit: &CommitInfo,
        path: &[&[u8]],
    ) -> Result<(bool, Vec<ObjectId>), BrowseError> {
        let here = self.entry_at(&commit.id, path)?;
        if commit.parents.is_empty() {
            return Ok((here.is_some(), Vec::new()));
        }
        for parent in &commit.parents {
            if self.entry_at(parent, path)? == here {
                return Ok((false, vec![*parent]));
            }
        }
        Ok((true, commit.parents.clone()))
    }

    /// The mode and object at `path` in commit `id`'s tree.
    fn entry_at(&mut self, id: &ObjectId, path: &[&[u8]]) -> Result<Found, BrowseError> {
        if let Some(known) = self.at_path.get(id) {
            return Ok(*known);
        }
        let mut found = Some((0o40000, tree_of(self.reader, id)?));
        for (n, name) in path.iter().enumerate() {
            found = match found {
                Some((0o40000, tree)) => self.in_tree(tree, n, name)?,
                _ => None,
            };
        }
        self.at_path.insert(*id, found);
        Ok(found)
    }

    /// The entry `name` (the path's component `n`) of `tree`: successive commits mostly
    /// share their subtrees, which are then read once.
    fn in_tree(&mut self, tree: ObjectId, n: usize, name: &[u8]) -> Result<Found, BrowseError> {
        if let Some(known) = self.in_tree.get(&(tree, n)) {
            return Ok(*known);
        }
        let found = lookup(self.reader, &tree, &[name])?.map(|Entry { mode, id, .. }| (mode, id));
        self.in_tree.insert((tree, n), found);
        Ok(found)
    }

    /// A flag-carrying walk that goes on while a `wanted` entry is queued, from `base`
    /// (flagged [`BASE`]) and `head` ([`HEAD`]).
    fn marked(
        &mut self,
        wanted: fn(u8) -> bool,
        base: ObjectId,
        head: ObjectId,
    ) -> Result<Marked, StoreError> {
        let mut walk = Marked::new(wanted);
        walk.push(base, self.commit(&base)?.time, BASE);
        walk.push(head, self.commit(&head)?.time, HEAD);
        Ok(walk)
    }

    /// Gives the parents of `id` the `flags` in `walk`.
    fn push_parents(
        &mut self,
        walk: &mut Marked,
        id: &ObjectId,
        flags: u8,
    ) -> Result<(), StoreError> {
        for parent in self.commit(id)?.parents {
            let time = self.commit(&parent)?.time;
            walk.push(parent, time, flags);
        }
        Ok(())
    }

    /// The commits of `git log base..head`, at most `limit`: date order, stopping once
    /// only commits reachable from `base` are left to look at; and whether there were more.
    pub fn range(
        &mut self,
        base: ObjectId,
        head: ObjectId,
        limit: usize,
    ) -> Result<(Vec<ObjectId>, bool), BrowseError> {
        let mut walk = self.marked(|flags| flags & BASE == 0, base, head)?;
        let mut shown = Vec::new();
        let mut walked = 0;
        while let Some((id, flags)) = walk.pop() {
            self.count(&mut walked, "the range")?;
            if flags & BASE == 0 {
                shown.push(id);
            }
            self.push_parents(&mut walk, &id, flags & BASE)?;
        }
        // A commit shown before the walk found that `base` reaches it too is not shown.
        shown.retain(|id| walk.flags(id) & BASE == 0);
        let more = shown.len() > limit;
        shown.truncate(limit);
        Ok((shown, more))
    }

    /// The best common ancestor of `a` and `b` (git's `merge-base`: of several, the
    /// newest), or None when their histories never meet.
    pub fn merge_base(
        &mut self,
        a: ObjectId,
        b: ObjectId,
    ) -> Result<Option<ObjectId>, BrowseError> {
        if a == b {
            return Ok(Some(a));
        }
        let mut walk = self.marked(|flags| flags & STALE == 0, a, b)?;
        let mut found = Vec::new();
        let mut walked = 0;
        while let Some((id, mut flags)) = walk.pop() {
            self.count(&mut walked, "finding the merge base")?;
            if flags & (BASE | HEAD) == BASE | HEAD {
                found.push(id);
                flags |= STALE;
            }
            self.push_parents(&mut walk, &id, flags)?;
        }
        // A base that another base reaches is not a best one.
        Ok(found.into_iter().find(|id| walk.flags(id) & STALE == 0))
    }
}

/// Reached from `base` (or the first of two commits).
const BASE: u8 = 1;
/// Reached from `head` (or the second).
const HEAD: u8 = 2;
/// Below a common ancestor already found.
const STALE: u8 = 4;

/// A date-ordered walk that carries flags down to parents (git's `paint_down_to_common` and
/// `limit_list`): a commit is queued again when it gains flags, so that they spread. The walk
/// goes on while a queued entry was `wanted` when queued: entries that have lost that since
/// only lengthen the walk, which stays exact, and no pop scans the queue.
struct Marked {
    queue: DateQueue,
    flags: HashMap<ObjectId, u8>,
    wanted: fn(u8) -> bool,
    /// The queued entries (by their place in the queue) that were wanted when queued and
    /// are not yet popped.
    counted: HashSet<u64>,
}

impl Marked {
    fn new(wanted: fn(u8) -> bool) -> Self {
        Marked {
            queue: DateQueue::default(),
            flags: HashMap::new(),
            wanted,
            counted: HashSet::new(),
        }
    }

    fn flags(&self, id: &ObjectId) -> u8 {
        self.flags.get(id).copied().unwrap_or(0)
    }

    /// Gives `id` the `flags`; queues it if it is new or gains some.
    fn push(&mut self, id: ObjectId, time: i64, flags: u8) {
        let had = self.flags.get(&id).copied();
        if had.is_some_and(|had| had & flags == flags) {
            return;
        }
        let now = had.unwrap_or(0) | flags;
        self.flags.insert(id, now);
        if (self.wanted)(now) {
            self.counted.insert(self.queue.queued);
        }
        self.queue.push(id, time);
    }

    /// The next commit and its flags, while a wanted entry is queued.
    fn pop(&mut self) -> Option<(ObjectId, u8)> {
        if self.counted.is_empty() {
            return None;
        }
        let (_, Reverse(at), id) = self.queue.heap.pop()?;
        self.counted.remove(&at);
        Some((id, self.flags(&id)))
    }
}
