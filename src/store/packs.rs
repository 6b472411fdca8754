//! Stored packs: their rows and states, and their files in chunk rows.

use crate::format::pack::PackId;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ops::Range;
use std::rc::Rc;

use super::{row_int, Held, Store, StoreError};
use crate::format::pack::{self, ChunkSource, PackError, Scratch, ScratchWriter};
use crate::store::sql::{Sql, Value};

/// Which of a pack's two files a chunk belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PackFile {
    /// The `.pack`.
    Pack = 0,
    /// The `.idx`.
    Idx = 1,
}

/// A file of chunk rows owned by a pack row: one of the pack's own files, or a scratch file
/// of large delta bases (see [`ScratchRows`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChunkFile {
    /// The `.pack` or the `.idx`.
    Of(PackFile),
    /// Scratch file number n.
    Scratch(u8),
    /// The name hash of each object of a pack a repack made, in the order of its idx (git's
    /// bitmap hash cache): what a later repack that takes the pack in whole gives its
    /// objects, unwalked, for the delta search's order.
    NameHashes,
    /// Where each entry of a pack starts, in pack order (see
    /// [`crate::format::ends`]): an entry is copied into another pack without being
    /// inflated to find its end.
    Ends,
}

impl From<PackFile> for ChunkFile {
    fn from(file: PackFile) -> ChunkFile {
        ChunkFile::Of(file)
    }
}

/// The rows of a scratch file are smaller than a pack's, and their readers keep more of
/// them: a delta's copies may read its base out of order, and each copy that misses costs
/// the reading of a whole row.
const SCRATCH_ROW: u64 = 256 * 1024;

/// Bytes of a row a writer holds before it reserves the row's room (see
/// [`ChunkWriter::append`]).
const SMALL_TAIL: usize = 4096;

/// Rows of a scratch file a reader keeps (2 MiB): what a delta's copies read last.
const SCRATCH_RECENT: usize = 8;

impl ChunkFile {
    /// The `kind` column of its rows.
    fn kind(self) -> i64 {
        match self {
            ChunkFile::Of(file) => file as i64,
            ChunkFile::Scratch(n) => 2 + n as i64,
            // Below the scratch files, which go by `kind >= 2`.
            ChunkFile::NameHashes => -1,
            ChunkFile::Ends => -2,
        }
    }

    /// The size of each of its rows but the last.
    fn row_size<S: Sql>(self, store: &Store<S>) -> u64 {
        match self {
            ChunkFile::Of(_) | ChunkFile::NameHashes | ChunkFile::Ends => store.chunk_size,
            ChunkFile::Scratch(_) => store.chunk_size.min(SCRATCH_ROW),
        }
    }

    /// How many of its rows a reader keeps.
    fn recent(self) -> usize {
        match self {
            ChunkFile::Of(_) | ChunkFile::NameHashes | ChunkFile::Ends => 1,
            ChunkFile::Scratch(_) => SCRATCH_RECENT,
        }
    }
}

/// Where a pack row is in its life (the `state` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackState {
    /// A push streaming in or being decided: nothing refers to its rows yet, and it is
    /// removed if the push is refused or interrupted.
    Pending,
    /// An accepted pack, listed in `objects/info/packs` and pointed at by object rows.
    Live,
    /// No pack: the owner of a reader's scratch files, removed when the reader is done.
    Scratch,
    /// A pack a repack is writing: it outlives restarts, as the repack resumes.
    Repack,
    /// A pack a repack replaced: unlisted, still served by name until it is deleted.
    Retired,
}

impl From<PackState> for Value {
    fn from(state: PackState) -> Value {
        let text = match state {
            PackState::Pending => "pending",
            PackState::Live => "live",
            PackState::Scratch => "scratch",
            PackState::Repack => "repack",
            PackState::Retired => "retired",
        };
        Value::Text(text.into())
    }
}

/// A live pack as listed in `objects/info/packs`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackInfo {
    /// Row id.
    pub id: PackId,
    /// The pack's checksum in hex: the file is `pack-<name>.pack`.
    pub name: String,
    /// Bytes in the `.pack`.
    pub size: u64,
    /// Bytes in the `.idx`.
    pub idx_size: u64,
}

impl<S: Sql> Store<S> {
    /// The object count in a stored pack's header.
    pub fn pack_object_count(&self, pack: PackId) -> Result<u64, StoreError> {
        let head = self.file_head(pack, PackFile::Pack, pack::HEADER_LEN)?;
        let count = head.and_then(|head| pack::parse_header(&head).ok());
        Ok(count.ok_or(StoreError::BadColumn("pack header"))?.into())
    }

    /// Starts a push: a pending pack row that owns everything the push writes until it is accepted.
    pub fn begin_push(&self) -> Result<PackId, StoreError> {
        self.new_pack_row(PackState::Pending)
    }

    pub(super) fn new_pack_row(&self, state: PackState) -> Result<PackId, StoreError> {
        let rows = self.exec(
            "INSERT INTO packs (state) VALUES (?) RETURNING id",
            vec![state.into()],
        )?;
        rows.first()
            .map(|r| row_int(&r[0]).map(PackId))
            .transpose()?
            .ok_or(StoreError::BadColumn("pack id"))
    }

    /// Writes chunk `seq` of a pack row's file, replacing what it held.
    pub fn write_chunk(
        &self,
        pack: PackId,
        file: ChunkFile,
        seq: u64,
        data: &[u8],
    ) -> Result<(), StoreError> {
        self.recent.borrow_mut().forget_file(pack, file);
        self.exec(
            "INSERT OR REPLACE INTO pack_chunks (pack, kind, seq, data) VALUES (?, ?, ?, ?)",
            vec![
                pack.into(),
                file.kind().into(),
                (seq as i64).into(),
                data.into(),
            ],
        )?;
        Ok(())
    }

    /// The bytes `range` of `file` of `pack`, as the pieces of a streamed body.
    pub fn file_range(
        &self,
        pack: PackId,
        file: impl Into<ChunkFile>,
        range: Range<u64>,
    ) -> FileRange<S> {
        FileRange {
            store: self.clone(),
            pack,
            file: file.into(),
            at: range.start,
            end: range.end,
        }
    }

    /// Reads chunk `seq` of a pack row's file (None past the end).
    pub fn read_chunk(
        &self,
        pack: PackId,
        file: impl Into<ChunkFile>,
        seq: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let file = file.into();
        let mut rows = self.exec(
            "SELECT data FROM pack_chunks WHERE pack = ? AND kind = ? AND seq = ?",
            vec![pack.into(), file.kind().into(), (seq as i64).into()],
        )?;
        Ok(rows.first_mut().and_then(|r| r[0].take_bytes()))
    }

    /// The first `len` bytes of `file` of `pack`, read without the rest of its first row;
    /// None when it has no row.
    pub fn file_head(
        &self,
        pack: PackId,
        file: impl Into<ChunkFile>,
        len: usize,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let mut rows = self.exec(
            "SELECT substr(data, 1, ?) FROM pack_chunks WHERE pack = ? AND kind = ? AND seq = 0",
            vec![(len as i64).into(), pack.into(), file.into().kind().into()],
        )?;
        Ok(rows.first_mut().and_then(|r| r[0].take_bytes()))
    }

    /// Whether `file` of `pack` has any row.
    pub fn has_file(&self, pack: PackId, file: impl Into<ChunkFile>) -> Result<bool, StoreError> {
        let rows = self.exec(
            "SELECT 1 FROM pack_chunks WHERE pack = ? AND kind = ? LIMIT 1",
            vec![pack.into(), file.into().kind().into()],
        )?;
        Ok(!rows.is_empty())
    }

    /// Cuts `file` of `pack` to its first `len` bytes' rows: the rows after the one holding
    /// byte `len` go (a writer resumed at `len` rewrites that one).
    pub fn truncate_file(
        &self,
        pack: PackId,
        file: impl Into<ChunkFile>,
        len: u64,
    ) -> Result<(), StoreError> {
        let file = file.into();
        self.recent.borrow_mut().forget_file(pack, file);
        self.exec(
            "DELETE FROM pack_chunks WHERE pack = ? AND kind = ? AND seq * ? >= ?",
            vec![
                pack.into(),
                file.kind().into(),
                (file.row_size(self) as i64).into(),
                (len as i64).into(),
            ],
        )?;
        Ok(())
    }

    /// Makes a pushed pack live under `name` and indexes its objects and commits. If a pack
    /// with the same name is already live, the new copy is dropped and the live one serves.
    pub fn accept_pack(
        &self,
        push: PackId,
        name: &str,
        size: u64,
        idx_size: u64,
        held: Option<&Held>,
    ) -> Result<(), StoreError> {
        if self.live_pack_named(name)?.is_some() {
            return self.discard_push(push);
        }
        self.make_live(push, name, size, idx_size)?;
        self.index_pushed(push, true, held)
    }

    /// Makes a written pack live under `name`, with its files' sizes. A retired pack of the
    /// same name (the same bytes, written again before it was swept) gives its name up: it
    /// is still deleted when its time comes, and a dumb client that asks for the name gets
    /// the same bytes from the new one.
    pub(super) fn make_live(
        &self,
        pack: PackId,
        name: &str,
        size: u64,
        idx_size: u64,
    ) -> Result<(), StoreError> {
        self.exec(
            "UPDATE packs SET name = name || '-retired-' || id WHERE name = ? AND state = ?",
            vec![name.into(), PackState::Retired.into()],
        )?;
        self.exec(
            "UPDATE packs SET state = ?, name = ?, size = ?, idx_size = ? WHERE id = ?",
            vec![
                PackState::Live.into(),
                name.into(),
                (size as i64).into(),
                (idx_size as i64).into(),
                pack.into(),
            ],
        )?;
        Ok(())
    }

    /// Makes staged loose objects and the push's commits visible and drops its spooled pack.
    pub fn accept_loose(&self, push: PackId, held: Option<&Held>) -> Result<(), StoreError> {
        self.index_pushed(push, false, held)?;
        self.drop_pack_rows(push)
    }

    /// Removes everything a push wrote that was not accepted.
    pub fn discard_push(&self, push: PackId) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM loose WHERE push = ? AND oid NOT IN (SELECT oid FROM objects WHERE pack IS NULL)",
            vec![push.into()],
        )?;
        self.forget_push(push)?;
        self.drop_pack_rows(push)
    }

    /// Removes the scratch files of the pack row `owner`.
    pub fn drop_scratch_files(&self, owner: PackId) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM pack_chunks WHERE pack = ? AND kind >= ?",
            vec![owner.into(), ChunkFile::Scratch(0).kind().into()],
        )?;
        Ok(())
    }

    /// Removes a reader's scratch row and its files.
    pub fn drop_scratch_row(&self, owner: PackId) -> Result<(), StoreError> {
        self.drop_pack_rows(owner)
    }

    /// Removes what readers and pushes left when the object stopped: pending pushes and
    /// scratch rows.
    pub(super) fn drop_leftovers(&self) -> Result<(), StoreError> {
        let rows = self.exec(
            "SELECT id, state FROM packs WHERE state IN (?, ?)",
            vec![PackState::Pending.into(), PackState::Scratch.into()],
        )?;
        for row in rows {
            let id = PackId(row_int(&row[0])?);
            if row[1] == PackState::Scratch.into() {
                self.drop_pack_rows(id)?;
            } else {
                self.discard_push(id)?;
            }
        }
        Ok(())
    }

    pub(super) fn drop_pack_rows(&self, push: PackId) -> Result<(), StoreError> {
        self.forget_chunks();
        self.exec("DELETE FROM pack_chunks WHERE pack = ?", vec![push.into()])?;
        self.exec("DELETE FROM packs WHERE id = ?", vec![push.into()])?;
        Ok(())
    }

    /// Live packs, oldest first.
    pub fn packs(&self) -> Result<Vec<PackInfo>, StoreError> {
        let rows = self.exec(
            "SELECT id, name, size, idx_size FROM packs WHERE state = ? ORDER BY id",
            vec![PackState::Live.into()],
        )?;
        rows.iter().map(|r| pack_info(r)).collect()
    }

    /// A live pack by its name (hex checksum), or a retired one not yet deleted: a dumb
    /// client that listed it before a repack still reads it.
    pub fn pack_by_name(&self, name: &str) -> Result<Option<PackInfo>, StoreError> {
        let rows = self.exec(
            "SELECT id, name, size, idx_size FROM packs WHERE state IN (?, ?) AND name = ?",
            vec![
                PackState::Live.into(),
                PackState::Retired.into(),
                name.into(),
            ],
        )?;
        rows.first().map(|r| pack_info(r)).transpose()
    }
}

impl<S: Sql> Store<S> {
    /// The live pack named `name`, if any.
    pub(super) fn live_pack_named(&self, name: &str) -> Result<Option<PackId>, StoreError> {
        let rows = self.exec(
            "SELECT id FROM packs WHERE state = ? AND name = ?",
            vec![PackState::Live.into(), name.into()],
        )?;
        rows.first().map(|r| row_int(&r[0]).map(PackId)).transpose()
    }
}

fn pack_info(row: &[Value]) -> Result<PackInfo, StoreError> {
    Ok(PackInfo {
        id: PackId(row_int(&row[0])?),
        name: row[1].as_str().unwrap_or_default().to_string(),
        size: row_int(&row[2])? as u64,
        idx_size: row_int(&row[3])? as u64,
    })
}

/// Appends to one file of a pack row, one full chunk row at a time.
pub struct ChunkWriter<'s, S: Sql> {
    store: &'s Store<S>,
    owner: PackId,
    file: ChunkFile,
    /// The bytes since the last row written: shared with readers of the file as it is
    /// written, and copied only if one still holds it when more bytes come.
    tail: Rc<Vec<u8>>,
    /// Chunk rows written so far.
    flushed: u64,
    /// Bytes taken so far.
    written: u64,
}

impl<'s, S: Sql> ChunkWriter<'s, S> {
    /// A writer of `file` of the pack row `owner`, which has no rows of it yet.
    pub fn new(store: &'s Store<S>, owner: PackId, file: impl Into<ChunkFile>) -> Self {
        ChunkWriter {
            store,
            owner,
            file: file.into(),
            tail: Rc::default(),
            flushed: 0,
            written: 0,
        }
    }

    /// A writer that goes on with `file` of `owner` after its first `written` bytes, which
    /// rows hold, the last perhaps partly (see [`ChunkWriter::save`]).
    pub fn resume(
        store: &'s Store<S>,
        owner: PackId,
        file: impl Into<ChunkFile>,
        written: u64,
    ) -> Result<Self, StoreError> {
        let file = file.into();
        let size = file.row_size(store);
        let flushed = written / size;
        let mut tail = store.read_chunk(owner, file, flushed)?.unwrap_or_default();
        tail.truncate((written % size) as usize);
        Ok(ChunkWriter {
            store,
            owner,
            file,
            tail: Rc::new(tail),
            flushed,
            written,
        })
    }

    /// Writes the bytes taken since the last whole row as that row, so that
    /// [`ChunkWriter::resume`] can go on from here; the row is rewritten as more come.
    pub fn save(&mut self) -> Result<(), StoreError> {
        if !self.tail.is_empty() {
            self.store
                .write_chunk(self.owner, self.file, self.flushed, &self.tail)?;
        }
        Ok(())
    }

    /// Takes the next bytes of the file.
    pub fn append(&mut self, mut bytes: &[u8]) -> Result<(), StoreError> {
        let size = self.file.row_size(self.store) as usize;
        self.written += bytes.len() as u64;
        while !bytes.is_empty() {
            let tail = Rc::make_mut(&mut self.tail);
            // A row's first few KiB grow as they come (every push writes an ends file, most
            // of them a few hundred bytes), then the row's room at once: grown by doubling,
            // each row's bytes would be copied through allocations of half, a quarter... of
            // it, and past it when a piece overshoots, each a hole wasm's memory keeps.
            if tail.len() + bytes.len() > SMALL_TAIL {
                tail.reserve_exact(size - tail.len());
            }
            let take = (size - tail.len()).min(bytes.len());
            tail.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if tail.len() == size {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Writes what is left as the last row.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        if !self.tail.is_empty() {
            self.store
                .write_chunk(self.owner, self.file, self.flushed, &self.tail)?;
            self.flushed += 1;
            self.tail = Rc::default();
        }
        Ok(())
    }

    /// Bytes taken so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Chunk rows written so far.
    pub fn flushed(&self) -> u64 {
        self.flushed
    }

    /// The bytes taken since the last row written.
    pub fn tail(&self) -> Rc<Vec<u8>> {
        self.tail.clone()
    }

    /// The store written to.
    pub fn store(&self) -> &'s Store<S> {
        self.store
    }

    /// The pack row that owns the file.
    pub fn owner(&self) -> PackId {
        self.owner
    }
}

impl<S: Sql> ScratchWriter for ChunkWriter<'_, S> {
    fn append(&mut self, bytes: &[u8]) -> Result<(), PackError> {
        Ok(ChunkWriter::append(self, bytes)?)
    }

    fn finish(&mut self) -> Result<(), PackError> {
        Ok(self.flush()?)
    }
}

/// A range of a stored file read one row at a time (a piece is the rest of a row), no row
/// kept once its piece is handed on. A file shorter than recorded ends where its rows end.
pub struct FileRange<S: Sql> {
    store: Store<S>,
    pack: PackId,
    file: ChunkFile,
    at: u64,
    end: u64,
}

impl<S: Sql> Iterator for FileRange<S> {
    type Item = Result<Vec<u8>, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.end {
            return None;
        }
        let chunks = StoredChunks::new(&self.store, self.pack, self.file);
        let piece = match pack::piece_at(&chunks, self.at, self.end) {
            Ok(piece) => piece.bytes().to_vec(),
            Err(e) => return Some(Err(e.into())),
        };
        self.at = match piece.is_empty() {
            true => self.end,
            false => self.at + piece.len() as u64,
        };
        Some(Ok(piece))
    }
}

/// The scratch files of one owner: a push's pending row, or a reader's own scratch row,
/// made when first needed. The files go with their owner.
pub struct ScratchRows<S: Sql> {
    store: Store<S>,
    owner: Cell<Option<PackId>>,
}

impl<S: Sql> ScratchRows<S> {
    /// Scratch files owned by the pack row `owner`, or by a scratch row of their own.
    pub fn new(store: &Store<S>, owner: Option<PackId>) -> Self {
        ScratchRows {
            store: store.clone(),
            owner: Cell::new(owner),
        }
    }

    fn owner(&self) -> Result<PackId, StoreError> {
        if let Some(owner) = self.owner.get() {
            return Ok(owner);
        }
        let owner = self.store.new_pack_row(PackState::Scratch)?;
        self.owner.set(Some(owner));
        Ok(owner)
    }

    /// The owner's pack row, if one was made for these files.
    pub fn made_owner(&self) -> Option<PackId> {
        self.owner.get()
    }

    /// Removes every scratch file's rows.
    pub fn clear(&self) -> Result<(), StoreError> {
        match self.owner.get() {
            Some(owner) => self.store.drop_scratch_files(owner),
            None => Ok(()),
        }
    }

    /// Empties scratch file `slot` and returns its writer.
    pub fn create_file(&self, slot: u8) -> Result<ChunkWriter<'_, S>, StoreError> {
        let owner = self.owner()?;
        let file = ChunkFile::Scratch(slot);
        self.store.exec(
            "DELETE FROM pack_chunks WHERE pack = ? AND kind = ?",
            vec![owner.into(), file.kind().into()],
        )?;
        Ok(ChunkWriter::new(&self.store, owner, file))
    }
}

impl<S: Sql> Scratch for ScratchRows<S> {
    fn create(&self, slot: u8) -> Result<Box<dyn ScratchWriter + '_>, PackError> {
        Ok(Box::new(self.create_file(slot)?))
    }

    fn open(&self, slot: u8) -> Result<Box<dyn ChunkSource + '_>, PackError> {
        let source = StoredChunks::new(&self.store, self.owner()?, ChunkFile::Scratch(slot));
        Ok(Box::new(source))
    }
}

/// A row of a file: the pack row that owns it, the file, its number.
type ChunkKey = (PackId, ChunkFile, u64);

/// The chunks read last, the newest at the back: of one file, or shared by the files of
/// one reader so that their sum stays within one budget however many packs it reads.
#[derive(Debug)]
pub struct RecentChunks {
    chunks: VecDeque<(ChunkKey, Rc<Vec<u8>>)>,
    keep: usize,
}

impl RecentChunks {
    /// Remembers the last `keep` chunks read, to be shared by readers of several files.
    pub fn shared(keep: usize) -> Rc<RefCell<RecentChunks>> {
        Rc::new(RefCell::new(RecentChunks {
            chunks: VecDeque::new(),
            keep,
        }))
    }

    /// Forgets every chunk: rows were deleted, or a transaction undone.
    pub fn clear(&mut self) {
        self.chunks.clear();
    }

    /// Forgets the chunks of `file` of `pack`: its rows are being written. Those of other
    /// files stay, so that a repack's slices, which write the new pack's rows, do not read
    /// again the rows of the packs they copy from.
    pub fn forget_file(&mut self, pack: PackId, file: ChunkFile) {
        self.chunks
            .retain(|((p, f, _), _)| (*p, *f) != (pack, file));
    }
}

/// A stored file's chunks as a [`ChunkSource`], remembering the last chunks read.
pub struct StoredChunks<S: Sql> {
    store: Store<S>,
    pack: PackId,
    file: ChunkFile,
    recent: Rc<RefCell<RecentChunks>>,
}

impl<S: Sql> StoredChunks<S> {
    /// The chunks of `file` of pack row `pack`.
    pub fn new(store: &Store<S>, pack: PackId, file: impl Into<ChunkFile>) -> Self {
        let file = file.into();
        StoredChunks {
            store: store.clone(),
            pack,
            file,
            recent: RecentChunks::shared(file.recent()),
        }
    }

    /// Keeps the last `keep` chunks read instead.
    pub fn keeping(self, keep: usize) -> Self {
        StoredChunks {
            recent: RecentChunks::shared(keep),
            ..self
        }
    }

    /// Remembers its chunks in `recent`, with those of other files.
    pub fn sharing(self, recent: &Rc<RefCell<RecentChunks>>) -> Self {
        StoredChunks {
            recent: recent.clone(),
            ..self
        }
    }
}

impl<S: Sql> ChunkSource for StoredChunks<S> {
    fn chunk_size(&self) -> u64 {
        self.file.row_size(&self.store)
    }

    fn chunk(&self, seq: u64) -> Result<Rc<Vec<u8>>, PackError> {
        let key = (self.pack, self.file, seq);
        let mut recent = self.recent.borrow_mut();
        if let Some(at) = recent.chunks.iter().position(|(k, _)| *k == key) {
            let hit = recent.chunks.remove(at).expect("found");
            recent.chunks.push_back(hit.clone());
            return Ok(hit.1);
        }
        let data = Rc::new(
            self.store
                .read_chunk(self.pack, self.file, seq)?
                .unwrap_or_default(),
        );
        if recent.chunks.len() >= recent.keep {
            recent.chunks.pop_front();
        }
        recent.chunks.push_back((key, data.clone()));
        Ok(data)
    }
}
