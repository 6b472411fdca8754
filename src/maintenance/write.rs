//! Writing the repack's pack (git's `pack-objects` for `git repack -a -d`), a slice at a
//! time: a stored delta is copied as it is, as a delta of its base's new entry, and trees
//! and blobs stored whole or loose go through a delta search over a sliding window of the
//! objects before them in `pack-objects`' order (type, name hash, size), so that versions
//! of a file pushed whole, one push each, end up as deltas of each other.

use std::collections::{HashMap, VecDeque};
use std::ops::RangeInclusive;
use std::rc::Rc;

use crate::format::object::{ObjectId, ObjectType};
use crate::format::pack::{self, EntryKind, ObjectSink, PackId};
use crate::format::{diff_delta, zlib};
use crate::store::sql::Sql;
use crate::store::{
    delta_searchable, in_delta_search, ChunkWriter, Location, ObjectReader, PackFile, RepackRow,
    Store, StoreError, Walk, Written,
};

/// Objects in the window the delta search tries each object against (git's `pack.window`).
pub const WINDOW: usize = 10;
/// The longest delta chain made (git's `pack.depth`); a stored delta that would be deeper
/// is written anew, as git's `break_delta_chains` does.
pub const MAX_DEPTH: u32 = 50;
/// Objects smaller than this are not worth a delta.
const DELTA_MIN: u64 = 64;
/// Objects larger than this are stored whole: the window holds its objects in memory.
pub const DELTA_MAX: u64 = 4 << 20;
/// Bytes the window holds at most, objects and their indexes.
pub const WINDOW_BYTES: usize = 32 << 20;

/// Counts of what the writing did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    /// Stored entries copied as they were.
    pub reused: u64,
    /// Of them, deltas.
    pub reused_deltas: u64,
    /// Deltas the search made.
    pub new_deltas: u64,
    /// Objects written whole after being inflated.
    pub rebuilt: u64,
}

/// An object in the delta search's window: read, and indexed, only once a search tries it
/// (most never are: see [`PackWriter::search`]).
struct Candidate {
    row: RepackRow,
    data: Option<Rc<Vec<u8>>>,
    index: Option<diff_delta::Index>,
    written: Written,
    /// What it counts for in the window's bytes: its data and their index once tried,
    /// counted from its recorded size when it joins, so that the window holds the same
    /// objects whether they are tried or not.
    bytes: usize,
}

impl Candidate {
    fn new(row: RepackRow, data: Option<Rc<Vec<u8>>>, written: Written) -> Candidate {
        let mut candidate = Candidate {
            row,
            data,
            index: None,
            written,
            bytes: 0,
        };
        let len = candidate.len();
        candidate.bytes = len + diff_delta::Index::heap_size_of(len);
        candidate
    }

    /// Its size: every object the search takes has its size recorded; one that had not
    /// would count for the largest it may be.
    fn len(&self) -> usize {
        match &self.data {
            Some(data) => data.len(),
            None => self.row.size.unwrap_or(DELTA_MAX) as usize,
        }
    }
}

/// The pack being written during one slice.
pub struct PackWriter<'s, S: Sql> {
    store: &'s Store<S>,
    /// Where the repack keeps its objects and where they went.
    walk: &'s mut Walk,
    reader: ObjectReader<S>,
    out: ChunkWriter<'s, S>,
    /// What this slice wrote, by id and by where it was stored, until recorded.
    done: Vec<(ObjectId, i64, Written)>,
    by_id: HashMap<ObjectId, Written>,
    by_stored: HashMap<(PackId, u64), Written>,
    window: VecDeque<Candidate>,
    window_bytes: usize,
    /// The place whose window is still to be taken up from storage, until the first search.
    window_from: Option<i64>,
    deflater: zlib::Deflater,
    /// What was done.
    pub tally: Tally,
    /// Bytes read from storage.
    pub read: u64,
}

/// Where an object whose entry is at `entry` went, at `depth` (its CRC is not needed by
/// the window).
fn written_for(entry: &Entry, depth: u32) -> Written {
    Written {
        offset: entry.offset,
        crc: 0,
        depth,
    }
}

/// The pack `row`'s object is stored in; None when it is loose.
fn stored_in(row: &RepackRow) -> Option<PackId> {
    match row.location {
        Location::Packed { pack, .. } => Some(pack),
        Location::Loose => None,
    }
}

/// Sizes of the trees and blobs the delta search takes.
pub const SEARCHED: RangeInclusive<u64> = DELTA_MIN..=DELTA_MAX;

/// Whether the delta search may take an object: a tree or a blob of a size in [`SEARCHED`].
fn searchable(row: &RepackRow) -> bool {
    delta_searchable(row, &SEARCHED)
}

/// Whether the delta search takes an object (see [`in_delta_search`]).
fn searched(row: &RepackRow) -> bool {
    in_delta_search(row, &SEARCHED)
}

impl<'s, S: Sql> PackWriter<'s, S> {
    /// Goes on writing `pack` after its first `written` bytes; the window is taken up from
    /// the objects searched last, at or before place `cursor`, when the slice first
    /// searches.
    pub fn resume(
        store: &'s Store<S>,
        walk: &'s mut Walk,
        pack: PackId,
        written: u64,
        cursor: i64,
    ) -> Result<Self, StoreError> {
        Ok(PackWriter {
            store,
            walk,
            reader: ObjectReader::new(store),
            out: ChunkWriter::resume(store, pack, PackFile::Pack, written)?,
            done: Vec::new(),
            by_id: HashMap::new(),
            by_stored: HashMap::new(),
            window: VecDeque::new(),
            window_bytes: 0,
            window_from: Some(cursor),
            deflater: zlib::Deflater::new(),
            tally: Tally::default(),
            read: 0,
        })
    }

    /// Takes up the window where an earlier slice left it, once, for an object of the
    /// search's group (a stored delta written anew makes do with the window in memory:
    /// the group's last objects are far from it, and finding them would read every row
    /// between).
    fn take_up_window(&mut self) -> Result<(), StoreError> {
        let Some(cursor) = self.window_from.take() else {
            return Ok(());
        };
        let mut last = self
            .store
            .repack_window(self.walk, SEARCHED, cursor, WINDOW)?;
        last.reverse();
        for (row, written) in last {
            self.remember(row, None, written);
        }
        Ok(())
    }

    /// Bytes of the pack so far.
    pub fn written(&self) -> u64 {
        self.out.written()
    }

    /// Writes the next object.
    pub fn write(&mut self, row: &RepackRow) -> Result<(), StoreError> {
        let offset = self.out.written();
        let mut entry = Entry::new(offset);
        let depth = match row.location {
            _ if searched(row) => {
                self.take_up_window()?;
                self.search(row, &mut entry)?
            }
            Location::Packed { pack, offset: at } => match self.copy(row, pack, at, &mut entry)? {
                Some(depth) => depth,
                None if searchable(row) => self.search(row, &mut entry)?,
                None => self.rebuild(row, &mut entry)?,
            },
            Location::Loose => self.rebuild(row, &mut entry)?,
        };
        let written = Written {
            offset,
            crc: entry.crc.clone().finalize(),
            depth,
        };
        self.done.push((row.id, row.seq, written));
        self.by_id.insert(row.id, written);
        if let Location::Packed { pack, offset: at } = row.location {
            self.by_stored.insert((pack, at), written);
        }
        Ok(())
    }

    /// Copies a stored entry if it can stay as it is: a whole object, or a delta whose base
    /// is written already and not at [`MAX_DEPTH`]. Returns its depth, or None if it must
    /// be written anew.
    fn copy(
        &mut self,
        row: &RepackRow,
        pack: PackId,
        at: u64,
        entry: &mut Entry,
    ) -> Result<Option<u32>, StoreError> {
        let (header, data) = self.reader.extent(pack, at)?;
        let base = match header.kind {
            EntryKind::Whole(_) => None,
            EntryKind::OfsDelta(base) => match self.by_stored.get(&(pack, base)) {
                Some(&written) => Some(written),
                None => self.store.repack_written_at(self.walk, pack, base)?,
            },
            EntryKind::RefDelta(base) => match self.by_id.get(&base) {
                Some(&written) => Some(written),
                None => self.store.repack_written(self.walk, &base)?,
            },
        };
        let (kind, depth) = match (header.kind, base) {
            (EntryKind::Whole(_), _) => (EntryKind::Whole(row.kind), 0),
            (_, Some(base)) if base.depth < MAX_DEPTH => {
                (EntryKind::OfsDelta(base.offset), base.depth + 1)
            }
            (_, _) => return Ok(None),
        };
        let head = pack::encode_entry_header(kind, header.size, entry.offset);
        entry.put(&mut self.out, &head)?;
        let mut from = data.start;
        while from < data.end {
            let piece = self.reader.piece(pack, PackFile::Pack, from, data.end)?;
            if piece.bytes().is_empty() {
                return Err(StoreError::PackTooShort(pack));
            }
            entry.put(&mut self.out, piece.bytes())?;
            from += piece.bytes().len() as u64;
        }
        self.read += data.end - data.start;
        self.tally.reused += 1;
        self.tally.reused_deltas += (depth > 0) as u64;
        Ok(Some(depth))
    }

    /// Writes an object as a delta of the window's object that gives the smallest one, as
    /// git's `try_delta` chooses (the deeper a base, the less it may cost; of equal deltas
    /// the shallower base wins), or whole when none is worth it. Returns its depth.
    ///
    /// As git's `try_delta` does when it reuses deltas, an object stored whole in a pack is
    /// not tried against the candidates stored in the same pack: the search that made the
    /// pack left it whole beside them (`gc --aggressive` would try again). Versions pushed
    /// one push each, in packs of their own or loose, are tried. With no candidate to try,
    /// the object is copied as it is stored without being read.
    fn search(&mut self, row: &RepackRow, entry: &mut Entry) -> Result<u32, StoreError> {
        let pack = stored_in(row).filter(|_| row.stored_depth == Some(0));
        let eligible: Vec<usize> = (0..self.window.len())
            .rev()
            .filter(|&i| {
                let candidate = &self.window[i];
                candidate.row.kind == row.kind
                    && candidate.written.depth < MAX_DEPTH
                    && (pack.is_none() || stored_in(&candidate.row) != pack)
            })
            .collect();
        if eligible.is_empty() {
            let depth = match self.copy_whole(row, entry)? {
                Some(depth) => depth,
                None => self.rebuild(row, entry)?,
            };
            self.remember(*row, None, written_for(entry, depth));
            return Ok(depth);
        }
        let data = self.reader.read_at(&row.id, row.kind, row.location)?.data;
        self.read += data.len() as u64;
        let best = self.best_delta(&data, &eligible)?;
        let size = data.len();
        let depth = match best {
            Some((delta, base)) => {
                let kind = EntryKind::OfsDelta(base.offset);
                let head = pack::encode_entry_header(kind, delta.len() as u64, entry.offset);
                entry.put(&mut self.out, &head)?;
                entry.put(&mut self.out, &zlib::deflate(&delta))?;
                self.tally.new_deltas += 1;
                base.depth + 1
            }
            None => match self.copy_whole(row, entry)? {
                Some(depth) => depth,
                None => {
                    let kind = EntryKind::Whole(row.kind);
                    let head = pack::encode_entry_header(kind, size as u64, entry.offset);
                    entry.put(&mut self.out, &head)?;
                    entry.put(&mut self.out, &zlib::deflate(&data))?;
                    self.tally.rebuilt += 1;
                    0
                }
            },
        };
        self.remember(*row, Some(data), written_for(entry, depth));
        Ok(depth)
    }

    /// The smallest delta of `data` from the window's candidates at `eligible` (newest first),
    /// with where its base went; None when none is worth it.
    fn best_delta(
        &mut self,
        data: &[u8],
        eligible: &[usize],
    ) -> Result<Option<(Vec<u8>, Written)>, StoreError> {
        let size = data.len();
        let mut best: Option<(Vec<u8>, Written)> = None;
        for &i in eligible {
            let base = self.window[i].written;
            let (limit, ref_depth) = match &best {
                None => ((size / 2).saturating_sub(20), 1),
                Some((delta, best_base)) => (delta.len(), best_base.depth + 1),
            };
            let limit = limit as u64 * u64::from(MAX_DEPTH - base.depth)
                / u64::from(MAX_DEPTH + 1 - ref_depth);
            let base_size = self.window[i].len() as u64;
            if limit == 0
                || (size as u64).saturating_sub(base_size) >= limit
                || (size as u64) < base_size / 32
            {
                continue;
            }
            let (base_data, index) = self.tried(i)?;
            let Some(delta) = index.encode(base_data, data, limit as usize) else {
                continue;
            };
            // Within the limit a delta replaces the best so far, unless it is the same size
            // from a base no shallower.
            let same = best.as_ref().is_some_and(|(old, old_base)| {
                delta.len() == old.len() && base.depth >= old_base.depth
            });
            if !same {
                best = Some((delta, base));
            }
        }
        Ok(best)
    }

    /// The data and index of the window's candidate at `i`, read and made if they were not.
    fn tried(&mut self, i: usize) -> Result<(&[u8], &diff_delta::Index), StoreError> {
        let Candidate {
            row, data, index, ..
        } = &mut self.window[i];
        let data = match data {
            Some(data) => data,
            None => {
                let read = self.reader.read_at(&row.id, row.kind, row.location)?.data;
                self.read += read.len() as u64;
                data.insert(read)
            }
        };
        let index = index.get_or_insert_with(|| diff_delta::Index::new(data));
        Ok((data, index))
    }

    /// Copies an object stored whole as it is, deflated already; None for one stored
    /// otherwise.
    fn copy_whole(
        &mut self,
        row: &RepackRow,
        entry: &mut Entry,
    ) -> Result<Option<u32>, StoreError> {
        match row.location {
            Location::Packed { pack, offset } if row.stored_depth == Some(0) => {
                self.copy(row, pack, offset, entry)
            }
            _ => Ok(None),
        }
    }

    /// Puts an object in the window, with its data if they were read, dropping the oldest
    /// past its count or bytes.
    fn remember(&mut self, row: RepackRow, data: Option<Rc<Vec<u8>>>, written: Written) {
        let candidate = Candidate::new(row, data, written);
        self.window_bytes += candidate.bytes;
        self.window.push_back(candidate);
        while self.window.len() > WINDOW
            || (self.window_bytes > WINDOW_BYTES && self.window.len() > 1)
        {
            if let Some(old) = self.window.pop_front() {
                self.window_bytes -= old.bytes;
            }
        }
    }

    /// Writes an object whole, deflated anew as it is streamed out of storage; its depth is
    /// 0.
    fn rebuild(&mut self, row: &RepackRow, entry: &mut Entry) -> Result<u32, StoreError> {
        self.deflater.reset();
        let mut sink = Rebuild {
            out: &mut self.out,
            entry,
            deflater: &mut self.deflater,
            read: 0,
        };
        self.reader
            .stream_at(&row.id, row.kind, row.location, &mut sink)?;
        let Rebuild {
            out,
            entry,
            deflater,
            read,
        } = sink;
        deflater.finish(&mut |piece| entry.put(out, piece))?;
        self.read += read;
        self.tally.rebuilt += 1;
        Ok(0)
    }

    /// Saves the pack's last partial row and records where this slice's objects went;
    /// returns how many it wrote.
    pub fn finish(mut self) -> Result<usize, StoreError> {
        self.out.save()?;
        self.store.repack_record(self.walk, &self.done)?;
        Ok(self.done.len())
    }
}

/// An entry being written: where it starts, and the CRC-32 of its bytes so far.
struct Entry {
    offset: u64,
    crc: crc32fast::Hasher,
}

impl Entry {
    fn new(offset: u64) -> Entry {
        Entry {
            offset,
            crc: crc32fast::Hasher::new(),
        }
    }

    fn put<S: Sql>(
        &mut self,
        out: &mut ChunkWriter<'_, S>,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.crc.update(bytes);
        out.append(bytes)
    }
}

/// Takes an object streamed out of storage and writes it as a whole entry.
struct Rebuild<'w, 's, S: Sql> {
    out: &'w mut ChunkWriter<'s, S>,
    entry: &'w mut Entry,
    deflater: &'w mut zlib::Deflater,
    read: u64,
}

impl<S: Sql> ObjectSink for Rebuild<'_, '_, S> {
    type Error = StoreError;

    fn begin(&mut self, kind: ObjectType, size: u64) -> Result<(), StoreError> {
        let head = pack::encode_entry_header(EntryKind::Whole(kind), size, self.entry.offset);
        self.entry.put(self.out, &head)
    }

    fn data(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.read += bytes.len() as u64;
        let (out, entry) = (&mut *self.out, &mut *self.entry);
        self.deflater
            .feed(bytes, &mut |piece| entry.put(out, piece))
    }
}
