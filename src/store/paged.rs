//! Sorted records in pages: the layout the multi-pack index and the commit graph share.
//! Each index is a table of pages, a page a row keyed by a lower bound of its records'
//! ids, its records sorted by id: the page of an id is the one with the greatest key not
//! above it, found with one indexed query. A write touches a row per page its records fall
//! in, not one per record, and a scan reads a row per page.

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use super::{row_int, Store, StoreError, JSON_BATCH};
use crate::format::object::ObjectId;
use crate::store::sql::{Sql, Value};

/// A record kept in pages: fixed in size, its first 20 bytes the object id it is sorted by.
pub(super) trait Paged: Copy {
    /// The table of its pages (`first BLOB PRIMARY KEY, data BLOB`).
    const TABLE: &'static str;
    /// Bytes of a record.
    const SIZE: usize;
    /// The object it is the record of.
    fn id(&self) -> ObjectId;
    /// Appends the record's bytes.
    fn encode(&self, page: &mut Vec<u8>) -> Result<(), StoreError>;
    /// Reads a record from its bytes ([`Paged::SIZE`] of them).
    fn decode(bytes: &[u8]) -> Result<Self, StoreError>;
}

/// Records a page is cut to when it grows past [`MAX_RECORDS`].
const RECORDS: usize = 512;

/// Records a page may hold before it is cut in two.
const MAX_RECORDS: usize = 2 * RECORDS;

/// Pages one statement fetches at most, which bounds the memory of a lookup or a merge.
const PAGES_AT_ONCE: usize = 8;

/// Rows moved into pages at once (see [`Store::move_rows`]).
const MOVE_BATCH: i64 = 8192;

/// A page's key and its records.
pub(super) type KeyedPage<R> = (Vec<u8>, Vec<R>);

/// A stored page: its key and its records' bytes.
pub(super) struct Page {
    key: Vec<u8>,
    data: Vec<u8>,
}

impl Page {
    fn records<R: Paged>(&self) -> Result<Vec<R>, StoreError> {
        if !self.data.len().is_multiple_of(R::SIZE) {
            return Err(StoreError::BadColumn("index page"));
        }
        self.data.chunks_exact(R::SIZE).map(R::decode).collect()
    }

    /// The record of `id`, found by bisection without decoding the rest.
    pub(super) fn find<R: Paged>(&self, id: &ObjectId) -> Result<Option<R>, StoreError> {
        let records = self.data.len() / R::SIZE;
        let at = |i: usize| &self.data[i * R::SIZE..(i + 1) * R::SIZE];
        let i = partition(records, |i| order(&at(i)[..20], &id.0) == Ordering::Less);
        match (i < records).then(|| at(i)) {
            Some(record) if record[..20] == id.0[..] => R::decode(record).map(Some),
            _ => Ok(None),
        }
    }
}

/// The first of `0..n` for which `before` is false (it is true, then false, along `0..n`).
fn partition(n: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, n);
    while low < high {
        let mid = (low + high) / 2;
        if before(mid) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    low
}

/// How `a` sorts against `b`, byte by byte, as slices sort: the first eight bytes read as
/// one number decide almost every comparison of ids, where comparing the slices calls
/// `memcmp` at each probe of a search (a tenth of a clone's walk went there).
fn order(a: &[u8], b: &[u8]) -> Ordering {
    if let (Some(x), Some(y)) = (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        let (x, y) = (u64::from_be_bytes(*x), u64::from_be_bytes(*y));
        if x != y {
            return x.cmp(&y);
        }
    }
    a.cmp(b)
}

/// Ids a lookup must have for it to read every page's key (a row per page) rather than
/// ask for the pages of its ids.
const KEY_LIST_AT: usize = 64;

/// Bytes of pages kept in memory: a walk looks up ids all over the index, batch after
/// batch, and would fetch the same pages again for each (a clone's walk of git/git's 78,000
/// commits, whose graph takes 5.4 MiB of pages: a page fetched for every other commit
/// with 4 MiB kept).
const CACHE_BYTES: usize = 8 << 20;

/// Pages of the index kept in memory between lookups (shared by the clones of a store),
/// with every page's key once read, until pages are written.
#[derive(Default)]
pub(super) struct PageCache {
    keys: HashMap<&'static str, Vec<Vec<u8>>>,
    pages: HashMap<(&'static str, Vec<u8>), Rc<Page>>,
    /// The pages' keys, the first kept first.
    order: VecDeque<(&'static str, Vec<u8>)>,
    bytes: usize,
}

impl PageCache {
    /// Keeps `page`, letting go of the pages kept first while the budget would be spent.
    fn keep(&mut self, table: &'static str, page: &Rc<Page>) {
        let key = (table, page.key.clone());
        if self.pages.contains_key(&key) {
            return;
        }
        while self.bytes + page.data.len() > CACHE_BYTES {
            let Some(first) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.pages.remove(&first) {
                self.bytes -= gone.data.len();
            }
        }
        self.bytes += page.data.len();
        self.order.push_back(key.clone());
        self.pages.insert(key, page.clone());
    }
}

/// A change to an index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change<R> {
    /// Adds a record, unless the object has one already.
    Add(R),
    /// Drops the object's record.
    Drop(ObjectId),
}

impl<R: Paged> Change<R> {
    fn id(&self) -> ObjectId {
        match self {
            Change::Add(record) => record.id(),
            Change::Drop(id) => *id,
        }
    }
}

fn keys_json(keys: &[Vec<u8>]) -> String {
    let quoted: Vec<String> = keys
        .iter()
        .map(|k| format!("\"{}\"", hex::encode(k)))
        .collect();
    format!("[{}]", quoted.join(","))
}

/// The page in a row's first two columns (key, data).
pub(super) fn page_from(row: &mut [Value]) -> Result<Page, StoreError> {
    let bad = || StoreError::BadColumn("index page");
    Ok(Page {
        key: row[0].take_bytes().ok_or_else(bad)?,
        data: row[1].take_bytes().ok_or_else(bad)?,
    })
}

impl<S: Sql> Store<S> {
    /// The keys of the pages that hold `ids` (sorted), in order, each once.
    fn page_keys<R: Paged>(&self, ids: &[ObjectId]) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for batch in ids.chunks(JSON_BATCH) {
            let rows = self.exec(
                &format!(
                    "SELECT DISTINCT (SELECT max(first) FROM {table} WHERE first <= unhex(value)) \
                 AS k FROM json_each(?) ORDER BY k",
                    table = R::TABLE
                ),
                vec![super::ids_json(batch).into()],
            )?;
            // An id below every page has none (NULL).
            for key in rows.into_iter().filter_map(|mut row| row[0].take_bytes()) {
                if keys.last() != Some(&key) {
                    keys.push(key);
                }
            }
        }
        Ok(keys)
    }

    /// The pages keyed `keys`, in key order.
    fn pages<R: Paged>(&self, keys: &[Vec<u8>]) -> Result<Vec<Page>, StoreError> {
        let mut rows = self.exec(
            &format!(
                "SELECT first, data FROM {table} \
             WHERE first IN (SELECT unhex(value) FROM json_each(?)) ORDER BY first",
                table = R::TABLE
            ),
            vec![keys_json(keys).into()],
        )?;
        rows.iter_mut().map(|r| page_from(r)).collect()
    }

    /// The records of those of `ids` that are packed.
    pub(super) fn find_records<R: Paged>(
        &self,
        ids: &[ObjectId],
    ) -> Result<HashMap<ObjectId, R>, StoreError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut found = HashMap::new();
        self.each_record::<R>(&ids, |_, record| {
            found.insert(record.id(), record);
        })?;
        Ok(found)
    }

    /// Whether every page of `R`'s table fits in the page cache at once: lookups of a few
    /// ids at a time then read each page once, as a lookup of them all would.
    /// The keys are read (and kept) only up to one past what fits: a large index is not
    /// read to learn that it is large.
    pub(super) fn pages_fit_cache<R: Paged>(&self) -> Result<bool, StoreError> {
        let fit = CACHE_BYTES / (MAX_RECORDS * R::SIZE);
        let held = self.page_cache.borrow().keys.get(R::TABLE).map(Vec::len);
        if let Some(pages) = held {
            return Ok(pages <= fit);
        }
        let keys = self.first_keys::<R>(Some(fit + 1))?;
        if keys.len() > fit {
            return Ok(false);
        }
        self.page_cache.borrow_mut().keys.insert(R::TABLE, keys);
        Ok(true)
    }

    /// Visits the record of each of `ids` (sorted, each once) that is packed, with its
    /// place in `ids`.
    pub(super) fn each_record<R: Paged>(
        &self,
        ids: &[ObjectId],
        mut visit: impl FnMut(usize, R),
    ) -> Result<(), StoreError> {
        // The pages' own keys bound which ids each holds: an id between two of them would
        // have named a page between them.
        let all = self.keys_of::<R>(ids)?;
        // A lookup of more pages than the cache holds would only push out, page by page,
        // what it kept itself (a clone's list of every object): it keeps none.
        let keep = all.len().saturating_mul(RECORDS * R::SIZE) <= CACHE_BYTES;
        for keys in all.chunks(PAGES_AT_ONCE) {
            for page in self.cached_pages::<R>(keys, keep)? {
                let start = partition(ids.len(), |i| ids[i].0[..] < page.key[..]);
                let end = next_key(&all, &page.key);
                for (i, id) in in_range(&ids[start..], &page.key, end).iter().enumerate() {
                    if let Some(record) = page.find::<R>(id)? {
                        visit(start + i, record);
                    }
                }
            }
        }
        Ok(())
    }

    /// The keys of the pages that hold `ids` (sorted), in order, each once: from every
    /// page's key, kept in memory, for many ids or once they are kept, else from a query
    /// (each id asked costs a row read, and a key of the list one).
    fn keys_of<R: Paged>(&self, ids: &[ObjectId]) -> Result<Vec<Vec<u8>>, StoreError> {
        if ids.len() < KEY_LIST_AT && !self.page_cache.borrow().keys.contains_key(R::TABLE) {
            return self.page_keys::<R>(ids);
        }
        self.load_keys::<R>()?;
        let cache = self.page_cache.borrow();
        let every = cache
            .keys
            .get(R::TABLE)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for id in ids {
            let i = partition(every.len(), |i| {
                order(&every[i], &id.0) != Ordering::Greater
            });
            if let Some(key) = i.checked_sub(1).map(|i| &every[i]) {
                if keys.last() != Some(key) {
                    keys.push(key.clone());
                }
            }
        }
        Ok(keys)
    }

    /// Moves rows that a repository made before the pages into them: `select` (its only
    /// parameter the batch size) reads a batch of rows of `table`, `read` makes each a
    /// record, and each batch is added to the pages and deleted from `table` in one
    /// transaction, until none is left; then `done` is set in `meta`, so that later starts
    /// do not look again. A start cut short moves the rest at the next.
    pub(super) fn move_rows<R: Paged>(
        &self,
        done: &str,
        select: &str,
        table: &str,
        read: impl Fn(&[Value]) -> Result<R, StoreError>,
    ) -> Result<(), StoreError> {
        if self.meta(done)?.is_some() {
            return Ok(());
        }
        loop {
            let rows = self.exec(select, vec![MOVE_BATCH.into()])?;
            if rows.is_empty() {
                return self.set_meta(done, Some("1"));
            }
            let records = rows
                .iter()
                .map(|row| read(row))
                .collect::<Result<Vec<R>, StoreError>>()?;
            let ids: Vec<ObjectId> = records.iter().map(R::id).collect();
            self.transaction(|| {
                self.apply_changes(records.iter().map(|r| Change::Add(*r)).collect())?;
                for batch in ids.chunks(JSON_BATCH) {
                    self.exec(
                        &format!(
                            "DELETE FROM {table} WHERE oid IN \
                             (SELECT unhex(value) FROM json_each(?))"
                        ),
                        vec![super::ids_json(batch).into()],
                    )?;
                }
                Ok(())
            })?;
        }
    }

    /// Reads every page's key into memory, unless it is there: for many lookups to come.
    pub(super) fn load_keys<R: Paged>(&self) -> Result<(), StoreError> {
        if !self.page_cache.borrow().keys.contains_key(R::TABLE) {
            let keys = self.first_keys::<R>(None)?;
            self.page_cache.borrow_mut().keys.insert(R::TABLE, keys);
        }
        Ok(())
    }

    /// The pages' keys in order, the first `limit` of them if given, else every one.
    fn first_keys<R: Paged>(&self, limit: Option<usize>) -> Result<Vec<Vec<u8>>, StoreError> {
        // SQLite reads a negative limit as none.
        let limit = limit.map_or(-1, |n| n as i64);
        let rows = self.exec(
            &format!(
                "SELECT first FROM {table} ORDER BY first LIMIT ?",
                table = R::TABLE
            ),
            vec![Value::Integer(limit)],
        )?;
        rows.into_iter()
            .map(|mut row| row[0].take_bytes().ok_or(StoreError::BadColumn("page key")))
            .collect()
    }

    /// The pages keyed `keys` (sorted), from memory or fetched (and kept there if `keep`).
    fn cached_pages<R: Paged>(
        &self,
        keys: &[Vec<u8>],
        keep: bool,
    ) -> Result<Vec<Rc<Page>>, StoreError> {
        let mut found: HashMap<&[u8], Rc<Page>> = HashMap::new();
        let mut missing = Vec::new();
        {
            let cache = self.page_cache.borrow();
            for key in keys {
                match cache.pages.get(&(R::TABLE, key.clone())) {
                    Some(page) => {
                        found.insert(key, page.clone());
                    }
                    None => missing.push(key.clone()),
                }
            }
        }
        if !missing.is_empty() {
            let mut cache = self.page_cache.borrow_mut();
            for page in self.pages::<R>(&missing)? {
                let page = Rc::new(page);
                if keep {
                    cache.keep(R::TABLE, &page);
                }
                if let Some(key) = keys.iter().find(|k| **k == page.key) {
                    found.insert(key, page);
                }
            }
        }
        keys.iter()
            .map(|k| {
                found
                    .remove(k.as_slice())
                    .ok_or(StoreError::BadColumn("page key"))
            })
            .collect()
    }

    /// The record of `id` if the page that would hold it is in memory: Some(None) when it
    /// is there and holds no such record, None when it is not there.
    pub(super) fn cached_record<R: Paged>(
        &self,
        id: &ObjectId,
    ) -> Result<Option<Option<R>>, StoreError> {
        let cache = self.page_cache.borrow();
        let Some(every) = cache.keys.get(R::TABLE).map(Vec::as_slice) else {
            return Ok(None);
        };
        let i = partition(every.len(), |i| {
            order(&every[i], &id.0) != Ordering::Greater
        });
        let Some(key) = i.checked_sub(1).map(|i| &every[i]) else {
            return Ok(Some(None));
        };
        match cache.pages.get(&(R::TABLE, key.clone())) {
            Some(page) => page.find::<R>(id).map(Some),
            None => Ok(None),
        }
    }

    /// Forgets the pages kept in memory: after pages are written, or a transaction that may
    /// have read pages it wrote is rolled back.
    pub(super) fn forget_pages(&self) {
        *self.page_cache.borrow_mut() = PageCache::default();
    }

    /// Applies `changes`, a page at a time; returns how many records were added less how
    /// many were dropped.
    pub(super) fn apply_changes<R: Paged>(
        &self,
        mut changes: Vec<Change<R>>,
    ) -> Result<i64, StoreError> {
        if changes.is_empty() {
            return Ok(0);
        }
        changes.sort_by_key(Change::id);
        changes.dedup_by(|a, b| a.id() == b.id());
        let ids: Vec<ObjectId> = changes.iter().map(Change::id).collect();
        let mut keys = self.keys_of::<R>(&ids)?;
        let below = ids
            .first()
            .zip(keys.first())
            .map(|(id, k)| id.0[..] < k[..]);
        if keys.is_empty() || below == Some(true) {
            // Ids below every page go to a page keyed below every id.
            keys.insert(0, Vec::new());
        }
        let mut net = 0;
        for group in keys.chunks(PAGES_AT_ONCE) {
            let mut pages: HashMap<Vec<u8>, Page> = self
                .pages::<R>(group)?
                .into_iter()
                .map(|p| (p.key.clone(), p))
                .collect();
            for key in group {
                let end = next_key(&keys, key);
                let (old, existed) = match pages.remove(key) {
                    Some(page) => (page.records::<R>()?, true),
                    None => (Vec::new(), false),
                };
                let start = partition(ids.len(), |i| ids[i].0[..] < key[..]);
                let count = in_range(&ids[start..], key, end).len();
                let (records, added, dropped) = merge(old, &changes[start..start + count]);
                net += added - dropped;
                // A page whose records stay as they were is not written again.
                if added + dropped > 0 {
                    self.write_page::<R>(key, records, existed)?;
                }
            }
        }
        Ok(net)
    }

    /// Stores the page keyed `key` with `records` (sorted, all at or above the key): cut
    /// in pages of [`RECORDS`] if there are too many, dropped if none.
    fn write_page<R: Paged>(
        &self,
        key: &[u8],
        records: Vec<R>,
        existed: bool,
    ) -> Result<(), StoreError> {
        self.forget_pages();
        if records.is_empty() {
            if existed {
                self.exec(
                    &format!("DELETE FROM {table} WHERE first = ?", table = R::TABLE),
                    vec![key.into()],
                )?;
            }
            return Ok(());
        }
        let pieces = if records.len() > MAX_RECORDS {
            records.chunks(RECORDS).collect()
        } else {
            vec![&records[..]]
        };
        for (i, piece) in pieces.iter().enumerate() {
            let mut data = Vec::with_capacity(piece.len() * R::SIZE);
            for record in piece.iter() {
                record.encode(&mut data)?;
            }
            let key = if i == 0 {
                key.to_vec()
            } else {
                piece[0].id().0.to_vec()
            };
            self.exec(
                &format!(
                    "INSERT INTO {table} (first, data) VALUES (?, ?) \
                 ON CONFLICT (first) DO UPDATE SET data = excluded.data",
                    table = R::TABLE
                ),
                vec![key.into(), data.into()],
            )?;
        }
        Ok(())
    }

    /// Visits every page in key order with the records it holds, and the ids below the
    /// next page's key (None: the last page); `visit` may change the records (keeping them
    /// sorted and within those bounds) and returns whether it did, and the page is stored
    /// again if so. With no page at all, it visits one empty page that holds every id.
    pub(super) fn rewrite_pages<R: Paged>(
        &self,
        mut visit: impl FnMut(&[u8], Option<&[u8]>, &mut Vec<R>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for mut row in self.exec(
            &format!("SELECT first FROM {table} ORDER BY first", table = R::TABLE),
            vec![],
        )? {
            keys.push(
                row[0]
                    .take_bytes()
                    .ok_or(StoreError::BadColumn("page key"))?,
            );
        }
        if keys.first().is_none_or(|lowest| !lowest.is_empty()) {
            // No page holds the ids below the lowest key (its page was emptied and
            // dropped): one is visited for them, empty.
            let mut records = Vec::new();
            if visit(&[], keys.first().map(Vec::as_slice), &mut records)? {
                self.write_page::<R>(&[], records, false)?;
            }
        }
        for group in keys.chunks(PAGES_AT_ONCE) {
            for page in self.pages::<R>(group)? {
                let mut records = page.records::<R>()?;
                if visit(&page.key, next_key(&keys, &page.key), &mut records)? {
                    self.write_page::<R>(&page.key, records, true)?;
                }
            }
        }
        Ok(())
    }

    /// The records of the page after `after` (the first page if None), with its key.
    pub(super) fn next_page<R: Paged>(
        &self,
        after: Option<&[u8]>,
    ) -> Result<Option<KeyedPage<R>>, StoreError> {
        let rows = match after {
            Some(key) => self.exec(
                &format!(
                    "SELECT first, data FROM {table} WHERE first > ? ORDER BY first LIMIT 1",
                    table = R::TABLE
                ),
                vec![key.into()],
            )?,
            None => self.exec(
                &format!(
                    "SELECT first, data FROM {table} ORDER BY first LIMIT 1",
                    table = R::TABLE
                ),
                vec![],
            )?,
        };
        decoded::<R>(rows)
    }

    /// The records of the page keyed `key`, with its key.
    pub(super) fn page_at<R: Paged>(&self, key: &[u8]) -> Result<Option<KeyedPage<R>>, StoreError> {
        decoded::<R>(self.exec(
            &format!(
                "SELECT first, data FROM {table} WHERE first = ?",
                table = R::TABLE
            ),
            vec![key.into()],
        )?)
    }

    /// The key of the page that holds `id`, if any page does.
    pub(super) fn key_of<R: Paged>(&self, id: &ObjectId) -> Result<Option<Vec<u8>>, StoreError> {
        let mut rows = self.exec(
            &format!(
                "SELECT max(first) FROM {table} WHERE first <= ?",
                table = R::TABLE
            ),
            vec![super::id_value(id)],
        )?;
        Ok(rows.first_mut().and_then(|r| r[0].take_bytes()))
    }

    /// Records in the index.
    pub(super) fn count_records<R: Paged>(&self) -> Result<u64, StoreError> {
        let rows = self.exec(
            &format!(
                "SELECT coalesce(sum(length(data)), 0) FROM {table}",
                table = R::TABLE
            ),
            vec![],
        )?;
        let bytes = rows.first().map(|r| row_int(&r[0])).transpose()?;
        Ok(bytes.unwrap_or(0) as u64 / R::SIZE as u64)
    }
}

/// The page in the first of `rows`, decoded, with its key.
fn decoded<R: Paged>(mut rows: Vec<Vec<Value>>) -> Result<Option<KeyedPage<R>>, StoreError> {
    match rows.first_mut() {
        Some(row) => {
            let page = page_from(row)?;
            let records = page.records::<R>()?;
            Ok(Some((page.key, records)))
        }
        None => Ok(None),
    }
}

/// The key after `key` in `keys` (sorted), if any.
fn next_key<'k>(keys: &'k [Vec<u8>], key: &[u8]) -> Option<&'k [u8]> {
    let i = partition(keys.len(), |i| keys[i].as_slice() <= key);
    keys.get(i).map(Vec::as_slice)
}

/// Those of `ids` (sorted) in the page keyed `key` whose next page is keyed `end`.
fn in_range<'i>(ids: &'i [ObjectId], key: &[u8], end: Option<&[u8]>) -> &'i [ObjectId] {
    let start = partition(ids.len(), |i| ids[i].0[..] < *key);
    let stop = match end {
        Some(end) => partition(ids.len(), |i| ids[i].0[..] < *end),
        None => ids.len(),
    };
    &ids[start..stop.max(start)]
}

/// `records` with `changes` (sorted by id, one per id) applied, and how many records were
/// added and how many dropped.
fn merge<R: Paged>(records: Vec<R>, changes: &[Change<R>]) -> (Vec<R>, i64, i64) {
    let mut out = Vec::with_capacity(records.len() + changes.len());
    let (mut added, mut dropped) = (0, 0);
    let mut changes = changes.iter().peekable();
    for record in records {
        while let Some(change) = changes.next_if(|c| c.id() < record.id()) {
            if let Change::Add(new) = change {
                out.push(*new);
                added += 1;
            }
        }
        match changes.next_if(|c| c.id() == record.id()) {
            Some(Change::Drop(_)) => dropped += 1,
            _ => out.push(record),
        }
    }
    for change in changes {
        if let Change::Add(new) = change {
            out.push(*new);
            added += 1;
        }
    }
    (out, added, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::pack::PackId;
    use crate::store::midx::{sample as record, Record};

    #[test]
    fn a_merge_adds_what_is_new_keeps_what_is_there_and_drops_what_is_asked() {
        let old = vec![record(2), record(4), record(6)];
        let moved = Record {
            pack: PackId(8),
            ..record(4)
        };
        let changes = [
            Change::Add(record(1)),
            Change::Add(moved),
            Change::Drop(record(6).id),
            Change::Drop(record(7).id),
            Change::Add(record(9)),
        ];
        let (out, added, dropped) = merge(old, &changes);
        assert_eq!(out, vec![record(1), record(2), record(4), record(9)]);
        assert_eq!((added, dropped), (2, 1));
    }

    #[test]
    fn ids_fall_in_the_page_whose_key_is_the_greatest_not_above_them() {
        let ids: Vec<ObjectId> = [1, 3, 5, 7].map(|n| record(n).id).to_vec();
        let key = |n: u8| record(n).id.0.to_vec();
        assert_eq!(in_range(&ids, &key(3), Some(&key(7))), &ids[1..3]);
        assert_eq!(in_range(&ids, &[], Some(&key(2))), &ids[..1]);
        assert_eq!(in_range(&ids, &key(6), None), &ids[3..]);
        let keys = vec![Vec::new(), key(3), key(7)];
        assert_eq!(next_key(&keys, &key(3)), Some(&key(7)[..]));
        assert_eq!(next_key(&keys, &key(7)), None);
        assert_eq!(next_key(&keys, &[]), Some(&key(3)[..]));
    }
}
