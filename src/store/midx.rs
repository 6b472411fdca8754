//! The multi-pack index: where every packed object is (pack, offset) with its type, size
//! and delta depth, for every live pack at once, as git's `multi-pack-index` is, stored as
//! pages of records sorted by id. A page is a row keyed by a lower bound of its ids: the
//! page of an id is the one with the greatest key not above it, found with one indexed
//! query. So a push writes a row for each page its objects fall in, not one per object, a
//! clone reads every location in a few dozen rows, and a repack rewrites the pages once.

use std::collections::HashMap;
use std::rc::Rc;

use super::{row_int, Store, StoreError, JSON_BATCH};
use crate::format::object::{ObjectId, ObjectType};
use crate::format::pack::PackId;
use crate::store::sql::{Sql, Value};

/// Bytes of a record: id (20), type (1), depth (1, 255: unknown), pack (4), offset (8),
/// size (8, all ones: unknown), all big-endian.
const RECORD: usize = 42;

/// Records a page is cut to when it grows past [`MAX_RECORDS`] (21 KiB).
const RECORDS: usize = 512;

/// Records a page may hold before it is cut in two.
const MAX_RECORDS: usize = 2 * RECORDS;

/// Pages one statement fetches at most, which bounds the memory of a lookup or a merge.
const PAGES_AT_ONCE: usize = 8;

/// A depth this deep or deeper is kept as its cap: deeper chains are never copied as they
/// are, so the exact depth no longer matters.
const DEPTH_CAP: u32 = 254;

/// A packed object's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// The object.
    pub id: ObjectId,
    /// Its type.
    pub kind: ObjectType,
    /// The live pack it is in.
    pub pack: PackId,
    /// Its entry's offset there.
    pub offset: u64,
    /// Its size, if known.
    pub size: Option<u64>,
    /// Deltas between its entry and a whole object, if known.
    pub depth: Option<u32>,
}

impl Record {
    /// Appends the record to `page`. A pack's row id (one per push, repack or reader's
    /// scratch row) past 32 bits does not fit: that is refused, not cut.
    fn encode(&self, page: &mut Vec<u8>) -> Result<(), StoreError> {
        let pack = u32::try_from(self.pack.0).map_err(|_| StoreError::BadColumn("pack id"))?;
        page.extend_from_slice(&self.id.0);
        page.push(self.kind as u8);
        page.push(self.depth.map_or(255, |d| d.min(DEPTH_CAP) as u8));
        page.extend_from_slice(&pack.to_be_bytes());
        page.extend_from_slice(&self.offset.to_be_bytes());
        page.extend_from_slice(&self.size.unwrap_or(u64::MAX).to_be_bytes());
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Record, StoreError> {
        let bad = || StoreError::BadColumn("index page");
        let id = ObjectId::from_bytes(&bytes[..20]).ok_or_else(bad)?;
        let kind = ObjectType::from_number(bytes[20]).ok_or_else(bad)?;
        let number = |range: std::ops::Range<usize>| {
            let mut be = [0u8; 8];
            be[8 - range.len()..].copy_from_slice(&bytes[range]);
            u64::from_be_bytes(be)
        };
        Ok(Record {
            id,
            kind,
            depth: (bytes[21] != 255).then_some(bytes[21] as u32),
            pack: PackId(number(22..26) as i64),
            offset: number(26..34),
            size: Some(number(34..42)).filter(|&s| s != u64::MAX),
        })
    }
}

/// A page's key and its records.
pub(super) type KeyedPage = (Vec<u8>, Vec<Record>);

/// A stored page: its key and its records' bytes.
pub(super) struct Page {
    key: Vec<u8>,
    data: Vec<u8>,
}

impl Page {
    fn records(&self) -> Result<Vec<Record>, StoreError> {
        if !self.data.len().is_multiple_of(RECORD) {
            return Err(StoreError::BadColumn("index page"));
        }
        self.data.chunks_exact(RECORD).map(Record::decode).collect()
    }

    /// The record of `id`, found by bisection without decoding the rest.
    pub(super) fn find(&self, id: &ObjectId) -> Result<Option<Record>, StoreError> {
        let records = self.data.len() / RECORD;
        let at = |i: usize| &self.data[i * RECORD..(i + 1) * RECORD];
        let i = partition(records, |i| at(i)[..20] < id.0[..]);
        match (i < records).then(|| at(i)) {
            Some(record) if record[..20] == id.0[..] => Record::decode(record).map(Some),
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

/// Ids a lookup must have for it to read every page's key (a row per page) rather than
/// ask for the pages of its ids.
const KEY_LIST_AT: usize = 64;

/// Bytes of pages kept in memory: a walk looks up ids all over the index, batch after
/// batch, and would fetch the same pages again for each.
const CACHE_BYTES: usize = 4 << 20;

/// Pages of the index kept in memory between lookups (shared by the clones of a store),
/// with every page's key once read, until pages are written.
#[derive(Default)]
pub(super) struct PageCache {
    keys: Option<Vec<Vec<u8>>>,
    pages: HashMap<Vec<u8>, Rc<Page>>,
    bytes: usize,
}

impl PageCache {
    /// Keeps `page`; when the budget is spent, the pages kept so far are let go first.
    fn keep(&mut self, page: &Rc<Page>) {
        if self.bytes + page.data.len() > CACHE_BYTES {
            self.pages.clear();
            self.bytes = 0;
        }
        self.bytes += page.data.len();
        self.pages.insert(page.key.clone(), page.clone());
    }
}

/// A change to the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Adds a record, unless the object has one already.
    Add(Record),
    /// Drops the object's record.
    Drop(ObjectId),
}

impl Change {
    fn id(&self) -> &ObjectId {
        match self {
            Change::Add(record) => &record.id,
            Change::Drop(id) => id,
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
    fn page_keys(&self, ids: &[ObjectId]) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for batch in ids.chunks(JSON_BATCH) {
            let rows = self.exec(
                "SELECT DISTINCT (SELECT max(first) FROM midx_pages WHERE first <= unhex(value)) \
                 AS k FROM json_each(?) ORDER BY k",
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
    fn pages(&self, keys: &[Vec<u8>]) -> Result<Vec<Page>, StoreError> {
        let mut rows = self.exec(
            "SELECT first, data FROM midx_pages \
             WHERE first IN (SELECT unhex(value) FROM json_each(?)) ORDER BY first",
            vec![keys_json(keys).into()],
        )?;
        rows.iter_mut().map(|r| page_from(r)).collect()
    }

    /// The records of those of `ids` that are packed.
    pub(super) fn midx_find(
        &self,
        ids: &[ObjectId],
    ) -> Result<HashMap<ObjectId, Record>, StoreError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut found = HashMap::new();
        self.midx_each(&ids, |_, record| {
            found.insert(record.id, record);
        })?;
        Ok(found)
    }

    /// Visits the record of each of `ids` (sorted, each once) that is packed, with its
    /// place in `ids`.
    pub(super) fn midx_each(
        &self,
        ids: &[ObjectId],
        mut visit: impl FnMut(usize, Record),
    ) -> Result<(), StoreError> {
        // The pages' own keys bound which ids each holds: an id between two of them would
        // have named a page between them.
        let all = self.keys_of(ids)?;
        for keys in all.chunks(PAGES_AT_ONCE) {
            for page in self.cached_pages(keys)? {
                let start = partition(ids.len(), |i| ids[i].0[..] < page.key[..]);
                let end = next_key(&all, &page.key);
                for (i, id) in in_range(&ids[start..], &page.key, end).iter().enumerate() {
                    if let Some(record) = page.find(id)? {
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
    fn keys_of(&self, ids: &[ObjectId]) -> Result<Vec<Vec<u8>>, StoreError> {
        if ids.len() < KEY_LIST_AT && self.midx.borrow().keys.is_none() {
            return self.page_keys(ids);
        }
        if self.midx.borrow().keys.is_none() {
            let keys = self.every_key()?;
            self.midx.borrow_mut().keys = Some(keys);
        }
        let cache = self.midx.borrow();
        let every = cache.keys.as_deref().unwrap_or_default();
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for id in ids {
            let i = partition(every.len(), |i| every[i][..] <= id.0[..]);
            if let Some(key) = i.checked_sub(1).map(|i| &every[i]) {
                if keys.last() != Some(key) {
                    keys.push(key.clone());
                }
            }
        }
        Ok(keys)
    }

    /// Every page's key, in order.
    fn every_key(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows = self.exec("SELECT first FROM midx_pages ORDER BY first", vec![])?;
        rows.into_iter()
            .map(|mut row| row[0].take_bytes().ok_or(StoreError::BadColumn("page key")))
            .collect()
    }

    /// The pages keyed `keys` (sorted), from memory or fetched and kept there.
    fn cached_pages(&self, keys: &[Vec<u8>]) -> Result<Vec<Rc<Page>>, StoreError> {
        let mut found: HashMap<&[u8], Rc<Page>> = HashMap::new();
        let mut missing = Vec::new();
        {
            let cache = self.midx.borrow();
            for key in keys {
                match cache.pages.get(key) {
                    Some(page) => {
                        found.insert(key, page.clone());
                    }
                    None => missing.push(key.clone()),
                }
            }
        }
        if !missing.is_empty() {
            let mut cache = self.midx.borrow_mut();
            for page in self.pages(&missing)? {
                let page = Rc::new(page);
                cache.keep(&page);
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
    pub(super) fn midx_cached(&self, id: &ObjectId) -> Result<Option<Option<Record>>, StoreError> {
        let cache = self.midx.borrow();
        let Some(every) = cache.keys.as_deref() else {
            return Ok(None);
        };
        let i = partition(every.len(), |i| every[i][..] <= id.0[..]);
        let Some(key) = i.checked_sub(1).map(|i| &every[i]) else {
            return Ok(Some(None));
        };
        match cache.pages.get(key) {
            Some(page) => page.find(id).map(Some),
            None => Ok(None),
        }
    }

    /// Forgets the pages kept in memory: after pages are written, or a transaction that may
    /// have read pages it wrote is rolled back.
    pub(super) fn midx_forget(&self) {
        *self.midx.borrow_mut() = PageCache::default();
    }

    /// Applies `changes`, a page at a time; returns how many records were added less how
    /// many were dropped.
    pub(super) fn midx_apply(&self, mut changes: Vec<Change>) -> Result<i64, StoreError> {
        changes.sort_by(|a, b| a.id().cmp(b.id()));
        changes.dedup_by(|a, b| a.id() == b.id());
        let ids: Vec<ObjectId> = changes.iter().map(|c| *c.id()).collect();
        let mut keys = self.keys_of(&ids)?;
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
                .pages(group)?
                .into_iter()
                .map(|p| (p.key.clone(), p))
                .collect();
            for key in group {
                let end = next_key(&keys, key);
                let (old, existed) = match pages.remove(key) {
                    Some(page) => (page.records()?, true),
                    None => (Vec::new(), false),
                };
                let start = partition(ids.len(), |i| ids[i].0[..] < key[..]);
                let count = in_range(&ids[start..], key, end).len();
                let (records, added) = merge(old, &changes[start..start + count]);
                net += added;
                self.write_page(key, records, existed)?;
            }
        }
        Ok(net)
    }

    /// Stores the page keyed `key` with `records` (sorted, all at or above the key): cut
    /// in pages of [`RECORDS`] if there are too many, dropped if none.
    fn write_page(
        &self,
        key: &[u8],
        records: Vec<Record>,
        existed: bool,
    ) -> Result<(), StoreError> {
        self.midx_forget();
        if records.is_empty() {
            if existed {
                self.exec("DELETE FROM midx_pages WHERE first = ?", vec![key.into()])?;
            }
            return Ok(());
        }
        let pieces = if records.len() > MAX_RECORDS {
            records.chunks(RECORDS).collect()
        } else {
            vec![&records[..]]
        };
        for (i, piece) in pieces.iter().enumerate() {
            let mut data = Vec::with_capacity(piece.len() * RECORD);
            for record in piece.iter() {
                record.encode(&mut data)?;
            }
            let key = if i == 0 {
                key.to_vec()
            } else {
                piece[0].id.0.to_vec()
            };
            self.exec(
                "INSERT INTO midx_pages (first, data) VALUES (?, ?) \
                 ON CONFLICT (first) DO UPDATE SET data = excluded.data",
                vec![key.into(), data.into()],
            )?;
        }
        Ok(())
    }

    /// Visits every page in key order with the records it holds, and the ids below the
    /// next page's key (None: the last page); `visit` may change the records (keeping them
    /// sorted and within those bounds) and returns whether it did, and the page is stored
    /// again if so. With no page at all, it visits one empty page that holds every id.
    pub(super) fn midx_rewrite(
        &self,
        mut visit: impl FnMut(&[u8], Option<&[u8]>, &mut Vec<Record>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for mut row in self.exec("SELECT first FROM midx_pages ORDER BY first", vec![])? {
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
                self.write_page(&[], records, false)?;
            }
        }
        for group in keys.chunks(PAGES_AT_ONCE) {
            for page in self.pages(group)? {
                let mut records = page.records()?;
                if visit(&page.key, next_key(&keys, &page.key), &mut records)? {
                    self.write_page(&page.key, records, true)?;
                }
            }
        }
        Ok(())
    }

    /// The records of the page after `after` (the first page if None), with its key.
    pub(super) fn midx_next_page(
        &self,
        after: Option<&[u8]>,
    ) -> Result<Option<KeyedPage>, StoreError> {
        let rows = match after {
            Some(key) => self.exec(
                "SELECT first, data FROM midx_pages WHERE first > ? ORDER BY first LIMIT 1",
                vec![key.into()],
            )?,
            None => self.exec(
                "SELECT first, data FROM midx_pages ORDER BY first LIMIT 1",
                vec![],
            )?,
        };
        decoded(rows)
    }

    /// The records of the page keyed `key`, with its key.
    pub(super) fn midx_page_at(&self, key: &[u8]) -> Result<Option<KeyedPage>, StoreError> {
        decoded(self.exec(
            "SELECT first, data FROM midx_pages WHERE first = ?",
            vec![key.into()],
        )?)
    }

    /// The key of the page that holds `id`, if any page does.
    pub(super) fn midx_key_of(&self, id: &ObjectId) -> Result<Option<Vec<u8>>, StoreError> {
        let mut rows = self.exec(
            "SELECT max(first) FROM midx_pages WHERE first <= ?",
            vec![super::id_value(id)],
        )?;
        Ok(rows.first_mut().and_then(|r| r[0].take_bytes()))
    }

    /// Records in the index.
    pub(super) fn midx_count(&self) -> Result<u64, StoreError> {
        let rows = self.exec(
            "SELECT coalesce(sum(length(data)), 0) FROM midx_pages",
            vec![],
        )?;
        let bytes = rows.first().map(|r| row_int(&r[0])).transpose()?;
        Ok(bytes.unwrap_or(0) as u64 / RECORD as u64)
    }
}

/// The page in the first of `rows`, decoded, with its key.
fn decoded(mut rows: Vec<Vec<Value>>) -> Result<Option<KeyedPage>, StoreError> {
    match rows.first_mut() {
        Some(row) => {
            let page = page_from(row)?;
            let records = page.records()?;
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
/// added less how many dropped.
fn merge(records: Vec<Record>, changes: &[Change]) -> (Vec<Record>, i64) {
    let mut out = Vec::with_capacity(records.len() + changes.len());
    let mut net = 0;
    let mut changes = changes.iter().peekable();
    for record in records {
        while let Some(change) = changes.next_if(|c| c.id() < &record.id) {
            if let Change::Add(new) = change {
                out.push(*new);
                net += 1;
            }
        }
        match changes.next_if(|c| c.id() == &record.id) {
            Some(Change::Drop(_)) => net -= 1,
            _ => out.push(record),
        }
    }
    for change in changes {
        if let Change::Add(new) = change {
            out.push(*new);
            net += 1;
        }
    }
    (out, net)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u8) -> Record {
        let mut id = [0u8; 20];
        id[0] = n;
        id[19] = n;
        Record {
            id: ObjectId(id),
            kind: ObjectType::Blob,
            pack: PackId(7),
            offset: 12 + n as u64,
            size: Some(n as u64 * 1000),
            depth: Some(1),
        }
    }

    #[test]
    fn a_record_reads_back_as_written_unknowns_included() {
        let mut known = record(9);
        known.offset = 1 << 40;
        let unknown = Record {
            size: None,
            depth: None,
            ..record(3)
        };
        let deep = Record {
            depth: Some(4000),
            ..record(4)
        };
        for (r, back) in [(known, known), (unknown, unknown)].into_iter().chain([(
            deep,
            Record {
                depth: Some(DEPTH_CAP),
                ..deep
            },
        )]) {
            let mut bytes = Vec::new();
            r.encode(&mut bytes).unwrap();
            assert_eq!(bytes.len(), RECORD);
            assert_eq!(Record::decode(&bytes).unwrap(), back);
        }
    }

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
        let (out, net) = merge(old, &changes);
        assert_eq!(out, vec![record(1), record(2), record(4), record(9)]);
        assert_eq!(net, 1);
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
