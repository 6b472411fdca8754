//! The entries of a push being indexed: held in memory while there are at most a budget of
//! them (most pushes: no row is written per entry), and beyond it kept in the store's rows,
//! the newest in a small batch in memory, so that memory does not grow with the number of
//! objects.

use std::collections::VecDeque;

use crate::format::object::{Link, ObjectId};
use crate::format::pack::PackId;
use crate::store::sql::Sql;
use crate::store::{Base, CommitInfo, EntryRow, Held, NewObject, Store, StoreError, LINK_PAGE};

/// Rows kept in memory before they are written in one statement.
const BATCH: usize = 1000;

/// Bytes that commits held in memory may take, their parents counted (a commit may name
/// hundreds of thousands: an 8 MiB one) with what holding each costs besides
/// ([`held_cost`]), so that neither their number nor their parents are unbounded. Past it,
/// the held entries and commits go to rows, and commits are written in batches of at most
/// a sixteenth of it.
const COMMIT_BYTES: usize = 16 << 20;

/// Deltas held while they wait for their base, at most: each takes a place in two maps
/// besides its entry (about 130 bytes in all), and a pack of deltas whose bases never
/// come would otherwise hold as many as entries are held. Past it, the entries go to rows.
const HELD_WAITING: u64 = 1 << 16;

/// What holding `commit` costs: its parents, and a record of 72 bytes with its place in a
/// table (more for one of more parents, held whole in a map).
fn held_cost(commit: &CommitInfo) -> usize {
    let whole = match commit.parents.len() {
        0..=2 => 80,
        _ => 160,
    };
    whole + commit.parents.len() * 20
}

/// Entries written to rows whose offset and depth are remembered in memory (10 bytes
/// each), so that the base of an OFS_DELTA is found without a query: half a million.
const REMEMBERED: usize = 1 << 19;

/// The depth that marks an entry still waiting for its base.
const WAITING: u16 = u16::MAX;

/// Links remembered as already recorded, at most: a blob or tree that stays the same across
/// commits is linked from every version of its tree, and is written again only once another
/// link took its place (2.75 MiB of slots).
const RECENT_LINKS: usize = 1 << 17;

/// The links recorded lately, each in the slot its id's first bytes choose: a look-up is
/// one comparison, with no hashing or probing (a set of them took 2.5 s of SipHash alone in
/// git/git's push). A link that lost its slot is only recorded again, and the connectivity
/// check takes it twice; a tree naming ids that share a slot only makes repeats, which
/// `MAX_PUSH_LINKS` bounds as it bounds distinct links.
struct RecentLinks(Vec<Option<Link>>);

impl RecentLinks {
    /// Slots for a pack of `objects` objects: a few per object, so that a small push does
    /// not take the whole budget.
    fn for_objects(objects: u64) -> RecentLinks {
        let slots = objects.saturating_mul(4).min(RECENT_LINKS as u64) as usize;
        RecentLinks(vec![None; slots.next_power_of_two().max(1024)])
    }

    /// Whether `link` was not among the recent links, which it now is.
    fn first(&mut self, link: Link) -> bool {
        let [a, b, c, d, ..] = link.id.0;
        let at = u32::from_le_bytes([a, b, c, d]) as usize & (self.0.len() - 1);
        let Some(slot) = self.0.get_mut(at) else {
            return true;
        };
        let first = *slot != Some(link);
        *slot = Some(link);
        first
    }
}

/// A push's entries, links and commits, written in batches.
pub struct Entries<'s, S: Sql> {
    store: &'s Store<S>,
    push: PackId,
    /// Entries recorded so far.
    count: u64,
    /// Every entry and commit while there are at most `hold` entries, with the deltas
    /// waiting for each base; None once they went to rows.
    held: Option<Held>,
    hold: usize,
    /// An object that two held entries hold, once found.
    duplicate: Option<ObjectId>,
    /// The newest entries, not yet written, in offset order.
    pending: Vec<EntryRow>,
    /// Deltas waiting for their base.
    waiting: u64,
    /// The offsets of the newest entries, ascending, and beside them their depths.
    offsets: VecDeque<u64>,
    depths: VecDeque<u16>,
    /// The links of the page being filled, and the pages written before it.
    links: Vec<Link>,
    link_pages: u64,
    /// Links recorded so far.
    linked: u64,
    recent_links: RecentLinks,
    commits: Vec<CommitInfo>,
    /// Bytes of parents of the commits held or not yet written.
    commit_bytes: usize,
}

impl<'s, S: Sql> Entries<'s, S> {
    /// The entries of the pending row `push`, held in memory up to `hold` of them.
    pub fn new(store: &'s Store<S>, push: PackId, hold: usize) -> Self {
        Entries {
            store,
            push,
            count: 0,
            held: Some(Held::default()),
            hold,
            duplicate: None,
            pending: Vec::new(),
            waiting: 0,
            offsets: VecDeque::new(),
            depths: VecDeque::new(),
            links: Vec::new(),
            link_pages: 0,
            linked: 0,
            recent_links: RecentLinks::for_objects(0),
            commits: Vec::new(),
            commit_bytes: 0,
        }
    }

    /// Entries recorded so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Deltas still waiting for their base.
    pub fn waiting(&self) -> u64 {
        self.waiting
    }

    /// Records a new entry (after every earlier one).
    pub fn add(&mut self, entry: EntryRow) -> Result<(), StoreError> {
        self.count += 1;
        if entry.waits_for.is_some() {
            self.waiting += 1;
        }
        if let Some(held) = &mut self.held {
            if held.len() < self.hold && (entry.waits_for.is_none() || self.waiting <= HELD_WAITING)
            {
                if let Some(id) = held.add(entry) {
                    self.duplicate.get_or_insert(id);
                }
                return Ok(());
            }
            self.spill()?;
        }
        self.remember(&entry);
        self.pending.push(entry);
        if self.pending.len() >= BATCH {
            self.flush_entries()?;
        }
        Ok(())
    }

    /// Remembers the offset and depth of an entry written to rows: held entries are found
    /// in what holds them.
    fn remember(&mut self, entry: &EntryRow) {
        if self.offsets.len() == REMEMBERED {
            self.offsets.pop_front();
            self.depths.pop_front();
        }
        self.offsets.push_back(entry.offset);
        self.depths.push_back(match entry.waits_for {
            Some(_) => WAITING,
            None => entry.depth as u16,
        });
    }

    /// Records that a waiting entry is resolved.
    pub fn resolved(&mut self, entry: EntryRow) -> Result<(), StoreError> {
        self.waiting -= 1;
        if let Ok(at) = self.offsets.binary_search(&entry.offset) {
            self.depths[at] = entry.depth as u16;
        }
        if let Some(held) = &mut self.held {
            if let Some(id) = held.resolve(entry) {
                self.duplicate.get_or_insert(id);
            }
            return Ok(());
        }
        match self
            .pending
            .binary_search_by_key(&entry.offset, |e| e.offset)
        {
            Ok(at) => self.pending[at] = entry,
            Err(_) => self.store.record_entries(self.push, &[entry])?,
        }
        Ok(())
    }

    /// The entry at `offset`.
    pub fn at(&self, offset: u64) -> Result<Option<EntryRow>, StoreError> {
        if let Some(held) = &self.held {
            return Ok(held.at(offset));
        }
        match self.pending.binary_search_by_key(&offset, |e| e.offset) {
            Ok(at) => Ok(Some(self.pending[at])),
            Err(_) => self.store.entry_at(self.push, offset),
        }
    }

    /// Whether an entry starts at `offset`, and if it is resolved, its depth: what an
    /// OFS_DELTA needs of its base, from memory when the entry is recent enough.
    pub fn base_at(&self, offset: u64) -> Result<Option<Option<usize>>, StoreError> {
        if let Some(held) = &self.held {
            return Ok(held
                .at(offset)
                .map(|e| e.resolved.is_some().then_some(e.depth)));
        }
        if let Ok(at) = self.offsets.binary_search(&offset) {
            let depth = self.depths[at];
            return Ok(Some((depth != WAITING).then_some(depth as usize)));
        }
        if self.offsets.front().is_some_and(|&first| offset > first) {
            return Ok(None);
        }
        Ok(self
            .at(offset)?
            .map(|e| e.resolved.is_some().then_some(e.depth)))
    }

    /// A resolved entry holding object `id`.
    pub fn of(&self, id: &ObjectId) -> Result<Option<EntryRow>, StoreError> {
        if let Some(held) = &self.held {
            return Ok(held.of(id));
        }
        let pending = self
            .pending
            .iter()
            .find(|e| e.resolved.is_some_and(|(found, _)| found == *id));
        match pending {
            Some(entry) => Ok(Some(*entry)),
            None => self.store.entry_of(self.push, id),
        }
    }

    /// The offsets of the deltas waiting for `base` (none are looked for when none wait).
    pub fn waiting_for(&mut self, base: Base) -> Result<Vec<u64>, StoreError> {
        if self.waiting == 0 {
            return Ok(Vec::new());
        }
        if let Some(held) = &mut self.held {
            return Ok(held.take_waiting(base));
        }
        self.flush_entries()?;
        self.store.waiting_for(self.push, base)
    }

    /// Records objects that a pushed object links to.
    pub fn link(&mut self, links: impl IntoIterator<Item = Link>) -> Result<(), StoreError> {
        for link in links {
            if self.recent_links.first(link) {
                self.links.push(link);
                self.linked += 1;
            }
            if self.links.len() == LINK_PAGE {
                self.flush_links()?;
            }
        }
        Ok(())
    }

    /// Links recorded so far.
    pub fn linked(&self) -> u64 {
        self.linked
    }

    /// Takes the pack's declared number of objects: entries that could not all be held
    /// go to rows from the start.
    pub fn expect(&mut self, objects: u64) -> Result<(), StoreError> {
        self.recent_links = RecentLinks::for_objects(objects);
        if objects > self.hold as u64 {
            self.spill()?;
        }
        Ok(())
    }

    /// Records a pushed commit.
    pub fn commit(&mut self, commit: CommitInfo) -> Result<(), StoreError> {
        self.commit_bytes += held_cost(&commit);
        if let Some(held) = &mut self.held {
            held.add_commit(commit);
            if self.commit_bytes > COMMIT_BYTES {
                self.spill()?;
            }
            return Ok(());
        }
        self.commits.push(commit);
        if self.commits.len() >= BATCH || self.commit_bytes > COMMIT_BYTES / 16 {
            self.flush_commits()?;
        }
        Ok(())
    }

    fn flush_commits(&mut self) -> Result<(), StoreError> {
        self.store.record_push_commits(self.push, &self.commits)?;
        self.commits.clear();
        self.commit_bytes = 0;
        Ok(())
    }

    /// Moves the held entries to rows: the push has more than the budget.
    fn spill(&mut self) -> Result<(), StoreError> {
        if let Some(held) = self.held.take() {
            let mut batch = Vec::with_capacity(BATCH);
            for entry in held.entries() {
                self.remember(&entry);
                batch.push(entry);
                if batch.len() == BATCH {
                    self.store.record_entries(self.push, &batch)?;
                    batch.clear();
                }
            }
            self.store.record_entries(self.push, &batch)?;
            for commits in held.commits(BATCH) {
                self.store.record_push_commits(self.push, &commits)?;
            }
            self.commit_bytes = 0;
        }
        Ok(())
    }

    /// An object the push holds twice, if any.
    pub fn duplicate(&self) -> Result<Option<ObjectId>, StoreError> {
        match (self.duplicate, &self.held) {
            (Some(id), _) => Ok(Some(id)),
            (None, Some(_)) => Ok(None),
            (None, None) => self.store.duplicate_entry(self.push),
        }
    }

    /// The push's objects in pack order (for small pushes, staged loose).
    pub fn objects(&self) -> Result<Vec<NewObject>, StoreError> {
        self.store.pushed_objects(self.push, self.held.as_ref())
    }

    /// The entries held in memory, if the push had few enough to hold them all.
    pub fn held(&self) -> Option<&Held> {
        self.held.as_ref()
    }

    /// Takes the entries held in memory, if any.
    pub fn take_held(&mut self) -> Option<Held> {
        self.held.take()
    }

    fn flush_entries(&mut self) -> Result<(), StoreError> {
        if !self.pending.is_empty() {
            self.store.record_entries(self.push, &self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    fn flush_links(&mut self) -> Result<(), StoreError> {
        if !self.links.is_empty() {
            self.store
                .record_links(self.push, self.link_pages, &self.links)?;
            self.link_pages += 1;
            self.links.clear();
        }
        Ok(())
    }

    /// Writes everything still in memory but the last page of links, which it returns:
    /// the connectivity check reads it from memory, and it is never written (nor deleted).
    pub fn flush(&mut self) -> Result<Vec<Link>, StoreError> {
        self.flush_entries()?;
        self.flush_commits()?;
        Ok(std::mem::take(&mut self.links))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::object::ObjectType;

    fn link(first: u8, last: u8, kind: Option<ObjectType>) -> Link {
        let mut id = [first; 20];
        id[19] = last;
        Link {
            id: ObjectId(id),
            kind,
        }
    }

    #[test]
    fn a_recent_link_is_recorded_once_until_another_takes_its_slot() {
        let mut recent = RecentLinks::for_objects(3);
        assert_eq!(recent.0.len(), 1024);
        let (a, b) = (link(1, 0, None), link(1, 1, None));
        assert!(recent.first(a));
        assert!(!recent.first(a));
        // The same id as a tree is another link.
        assert!(recent.first(link(1, 0, Some(ObjectType::Tree))));
        assert!(recent.first(a));
        // b shares a's first bytes, so its slot: each comes back as new.
        assert!(recent.first(b));
        assert!(recent.first(a));
        assert!(recent.first(link(2, 0, None)));
        assert!(!recent.first(a));
        assert_eq!(RecentLinks::for_objects(1 << 20).0.len(), RECENT_LINKS);
        assert_eq!(RecentLinks::for_objects(5000).0.len(), 1 << 15);
    }
}
