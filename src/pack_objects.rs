//! Writing a pack for a fetch (git's `pack-objects`), produced piece by piece so the response
//! streams with bounded memory. Stored bytes are reused wherever possible: whole stored packs
//! are copied verbatim, stored entries are copied without recompressing, and a stored delta
//! stays a delta when its base has already been written; only the rest is inflated and
//! deflated again.

use crate::format::pack::PackId;

use crate::format::object::{ObjectId, ObjectType};
use crate::format::pack::{self, EntryKind, ObjectSink, Scratch, MAX_HELD};
use crate::format::pktline::{Band, SideBand};
use crate::format::sha1::Sha1;
use crate::format::{diff_delta, zlib};
use crate::store::sql::Sql;
use crate::store::{ChunkWriter, Location, ObjectReader, PackFile, ScratchRows, StoreError};

/// One piece of the pack to write. A clone's list holds one per object, so the common
/// kind, a stored entry, is 16 bytes and names no object; the rarer kinds are boxed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// An object stored in a pack, copied from its entry or written anew; the pack's row id
    /// fits 32 bits (else the object is [`Piece::Named`]).
    Packed {
        /// The pack's row id.
        pack: u32,
        /// The entry's offset in the `.pack`.
        offset: u64,
        /// The object's type.
        kind: ObjectType,
    },
    /// An object with its id: a loose one (found by id), any when the pack must name the
    /// bases of its deltas (a client without OFS_DELTA), and a blob whose size a filter
    /// reads by id.
    Named(Box<Named>),
    /// A blob sent as a delta of an object the client has (a thin pack), when the delta is
    /// small enough to be worth it; else as [`Piece::Named`] would send it.
    Thin(Box<ThinBlob>),
    /// The entries of a stored pack, copied byte for byte (distances of OFS deltas inside
    /// them stay valid).
    Entries(Box<Entries>),
}

// A clone's list holds a piece per object: what one costs is worth knowing when it grows.
const _: () = assert!(std::mem::size_of::<Piece>() == 16);

/// A stored object with its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Named {
    /// The object.
    pub id: ObjectId,
    /// Its type.
    pub kind: ObjectType,
    /// Where it is stored.
    pub location: Location,
}

/// A blob a thin pack may send as a delta.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThinBlob {
    /// The blob.
    pub id: ObjectId,
    /// Where it is stored.
    pub location: Location,
    /// The client's object it is a delta of.
    pub base: ObjectId,
}

/// A run of a stored pack's entries: `start..end` excludes its header and trailer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entries {
    /// The pack's row id.
    pub pack: PackId,
    /// The offset of the first entry copied.
    pub start: u64,
    /// The offset just past the last entry copied.
    pub end: u64,
}

/// Where a piece's object is stored, as a key of storage order: packed ones by pack and
/// offset, then loose ones by id, then whole packs' entries.
type StorageKey = (u8, PackId, u64, ObjectId);

impl Piece {
    /// The piece for the object `id` of type `kind` stored at `location`: named when
    /// `named` says the pack needs its id, or when nothing else finds it.
    pub fn new(id: ObjectId, kind: ObjectType, location: Location, named: bool) -> Piece {
        if let (Location::Packed { pack, offset }, false) = (location, named) {
            if let Ok(pack) = u32::try_from(pack.0) {
                return Piece::Packed { pack, offset, kind };
            }
        }
        Piece::Named(Box::new(Named { id, kind, location }))
    }

    /// The object of a piece that names one.
    pub fn object(&self) -> Option<&ObjectId> {
        match self {
            Piece::Packed { .. } | Piece::Entries(_) => None,
            Piece::Named(named) => Some(&named.id),
            Piece::Thin(thin) => Some(&thin.id),
        }
    }

    /// Where its object is stored, as a key of storage order.
    fn stored(&self) -> StorageKey {
        match self {
            Piece::Packed { pack, offset, .. } => stored_at(None, packed(*pack, *offset)),
            Piece::Named(named) => stored_at(Some(&named.id), named.location),
            Piece::Thin(thin) => stored_at(Some(&thin.id), thin.location),
            Piece::Entries(entries) => (2, entries.pack, entries.start, ObjectId([0; 20])),
        }
    }

    /// The order pieces are written in when a pack is made of objects: storage order, so
    /// that a stored delta's base comes before it, as it did in its pack, and so that a
    /// written entry is found again by where it is stored, with no map of what was written.
    pub fn storage_order(a: &Piece, b: &Piece) -> std::cmp::Ordering {
        a.stored().cmp(&b.stored())
    }
}

/// The location of the entry at `offset` in the pack with row id `pack`.
fn packed(pack: u32, offset: u64) -> Location {
    Location::Packed {
        pack: PackId(pack.into()),
        offset,
    }
}

/// The key of an object stored at `location` in storage order: packed ones by pack and
/// offset, then loose ones by id (which a loose object's piece always has).
fn stored_at(id: Option<&ObjectId>, location: Location) -> StorageKey {
    match location {
        Location::Packed { pack, offset } => (0, pack, offset, ObjectId([0; 20])),
        Location::Loose => (1, PackId(0), 0, id.copied().unwrap_or(ObjectId([0; 20]))),
    }
}

/// How the client wants the pack.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Framing of the response.
    pub side_band: SideBand,
    /// Whether OFS_DELTA entries may be sent.
    pub ofs_delta: bool,
    /// Whether progress messages are wanted.
    pub progress: bool,
}

/// Objects in a pack past which, once its last byte is made, the instance lets go of the
/// pack rows and index pages it keeps between requests
/// ([`crate::store::Store::let_go_of_caches`]): such a pack (a clone's) streams for long
/// after the walk or copy that filled them, and a shorter one (such as a fetch's) leaves
/// them to the requests that follow.
pub const LONG_PACK: u32 = 65_536;

/// Where a piece not written yet, or not an object, was written.
const NOT_WRITTEN: u64 = u64::MAX;

/// Roughly how much pack data one call to `next` produces.
const BATCH: usize = 256 * 1024;

/// The scratch file a large rebuilt object is deflated into (files 0 and 1 hold the
/// levels of its delta chain).
const DEFLATED: u8 = 2;

/// Counts for git's closing progress line: stored entries copied (and how many of them are
/// deltas), and deltas made here (thin ones).
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    reused: u32,
    reused_deltas: u32,
    made_deltas: u32,
}

/// Bytes being copied into the pack from a stored file, a piece per row.
#[derive(Clone, Copy, Debug)]
struct Copying {
    /// A stored pack's file, or the reader's scratch file of a rebuilt object.
    from: Option<(PackId, PackFile)>,
    at: u64,
    end: u64,
}

/// A pack being written; iterate it to get the response body piece by piece.
pub struct PackStream<S: Sql> {
    reader: ObjectReader<S>,
    pieces: Vec<Piece>,
    next: usize,
    /// What is left to copy of the current piece.
    copying: Option<Copying>,
    count: u32,
    options: Options,
    sha: Sha1,
    offset: u64,
    /// Where each piece's object was written, beside `pieces` (NOT_WRITTEN for the rest).
    written: Vec<u64>,
    /// Reused for every object rebuilt: making one costs more than deflating a small object.
    deflater: zlib::Deflater,
    /// What the closing progress line reports.
    tally: Tally,
    started: bool,
    finished: bool,
}

impl<S: Sql> PackStream<S> {
    /// A pack of `count` objects made of `pieces`, in order.
    pub fn new(reader: ObjectReader<S>, pieces: Vec<Piece>, count: u32, options: Options) -> Self {
        PackStream {
            reader,
            written: vec![NOT_WRITTEN; pieces.len()],
            pieces,
            next: 0,
            copying: None,
            count,
            options,
            sha: Sha1::long(),
            offset: 0,
            deflater: zlib::Deflater::new(),
            tally: Tally::default(),
            started: false,
            finished: false,
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        self.sha.update(bytes);
        self.offset += bytes.len() as u64;
        out.extend_from_slice(bytes);
    }

    /// Appends the next pieces' pack bytes to `out`, up to about one batch.
    fn fill(&mut self, out: &mut Vec<u8>) -> Result<(), StoreError> {
        if !self.started {
            self.started = true;
            self.emit(out, &pack::header(self.count));
        }
        while out.len() < BATCH {
            if let Some(copying) = self.copying {
                self.copy(out, copying)?;
                continue;
            }
            let at = self.next;
            if at == self.pieces.len() {
                let checksum = std::mem::take(&mut self.sha).finish();
                out.extend_from_slice(&checksum);
                self.finished = true;
                if self.count > LONG_PACK {
                    self.reader.store().let_go_of_caches();
                }
                return Ok(());
            }
            self.written[at] = self.offset;
            self.next += 1;
            // What a piece holds is copied out of it, not the piece cloned: a boxed piece's
            // clone would allocate for every object written.
            match &self.pieces[at] {
                &Piece::Packed { pack, offset, kind } => {
                    self.write_entry(out, kind, PackId(pack.into()), offset)?;
                }
                Piece::Named(named) => self.write_named(out, **named)?,
                Piece::Thin(thin) => self.write_thin(out, **thin)?,
                Piece::Entries(entries) => {
                    self.copying = Some(Copying {
                        from: Some((entries.pack, PackFile::Pack)),
                        at: entries.start,
                        end: entries.end,
                    });
                }
            }
        }
        Ok(())
    }

    /// Copies the next piece of `copying`: the bytes of one chunk row.
    fn copy(&mut self, out: &mut Vec<u8>, mut copying: Copying) -> Result<(), StoreError> {
        let piece = match copying.from {
            Some((pack, file)) => self.reader.piece(pack, file, copying.at, copying.end)?,
            None => {
                let scratch = self.reader.scratch().open(DEFLATED)?;
                pack::piece_at(&*scratch, copying.at, copying.end)?
            }
        };
        if piece.bytes().is_empty() {
            return Err(StoreError::PackTooShort(
                copying.from.map_or(PackId(0), |f| f.0),
            ));
        }
        self.emit(out, piece.bytes());
        copying.at += piece.bytes().len() as u64;
        self.copying = (copying.at < copying.end).then_some(copying);
        Ok(())
    }

    /// Writes a named object: as [`Self::write_entry`] does when it is packed, else
    /// rebuilt from its loose row.
    fn write_named(&mut self, out: &mut Vec<u8>, named: Named) -> Result<(), StoreError> {
        let Named { id, kind, location } = named;
        match location {
            Location::Packed { pack, offset } => self.write_entry(out, kind, pack, offset),
            Location::Loose => self.rebuild(out, Source::Loose(id, kind)),
        }
    }

    /// Writes the object of type `kind` whose entry is at `stored` in `pack`: the entry
    /// copied when it is whole or its base was written (and the client can be told which
    /// base that is), else the object rebuilt.
    fn write_entry(
        &mut self,
        out: &mut Vec<u8>,
        kind: ObjectType,
        pack: PackId,
        stored: u64,
    ) -> Result<(), StoreError> {
        let offset = self.offset;
        let (header, data) = self.reader.extent(pack, stored)?;
        let base = match header.kind {
            EntryKind::Whole(_) => None,
            EntryKind::OfsDelta(base) => {
                self.written_at(None, Location::Packed { pack, offset: base })
            }
            EntryKind::RefDelta(base) => match self.reader.locate(&base)? {
                Some(located) => self
                    .written_at(Some(&base), located.location)
                    .map(|(at, _)| (at, Some(base))),
                None => None,
            },
        };
        let reused = match (header.kind, base) {
            (EntryKind::Whole(_), _) => Some(EntryKind::Whole(kind)),
            (_, Some((at, _))) if self.options.ofs_delta => Some(EntryKind::OfsDelta(at)),
            (_, Some((_, Some(base_id)))) => Some(EntryKind::RefDelta(base_id)),
            _ => None,
        };
        let Some(entry_kind) = reused else {
            return self.rebuild(out, Source::Entry(pack, stored));
        };
        self.tally.reused += 1;
        self.tally.reused_deltas += !matches!(entry_kind, EntryKind::Whole(_)) as u32;
        let head = pack::encode_entry_header(entry_kind, header.size, offset);
        self.emit(out, &head);
        self.copying = Some(Copying {
            from: Some((pack, PackFile::Pack)),
            at: data.start,
            end: data.end,
        });
        Ok(())
    }

    /// Where the object stored at `location` (loose ones need their `id`) was written in
    /// this pack, and its id if its piece names it, if it was written already: found among
    /// the pieces before the current one by where they are stored, as they are in that order.
    fn written_at(
        &self,
        id: Option<&ObjectId>,
        location: Location,
    ) -> Option<(u64, Option<ObjectId>)> {
        let done = &self.pieces[..self.next.saturating_sub(1)];
        let wanted = stored_at(id, location);
        let at = done
            .binary_search_by(|piece| piece.stored().cmp(&wanted))
            .ok()?;
        let offset = self.written[at];
        (offset != NOT_WRITTEN).then(|| (offset, done[at].object().copied()))
    }

    /// Writes `thin`'s blob as a delta of its base, if that takes at most half its size.
    fn write_thin(&mut self, out: &mut Vec<u8>, thin: ThinBlob) -> Result<(), StoreError> {
        let ThinBlob { id, location, base } = thin;
        let target = self.reader.read_at(&id, ObjectType::Blob, location)?.data;
        let delta = match self.reader.read(&base)? {
            Some(base) => diff_delta::encode(&base.data, &target, target.len() / 2),
            None => None,
        };
        let Some(delta) = delta else {
            let kind = ObjectType::Blob;
            return self.write_named(out, Named { id, kind, location });
        };
        let offset = self.offset;
        let head = pack::encode_entry_header(EntryKind::RefDelta(base), delta.len() as u64, offset);
        self.emit(out, &head);
        self.emit(out, &zlib::deflate(&delta));
        self.tally.made_deltas += 1;
        Ok(())
    }

    /// Writes an object as a whole entry, deflating it anew as it is read: a small one
    /// straight into `out`, a large one into a scratch file that is then copied out.
    fn rebuild(&mut self, out: &mut Vec<u8>, source: Source) -> Result<(), StoreError> {
        self.deflater.reset();
        let mut rebuilt = Rebuilt {
            head: Vec::new(),
            offset: self.offset,
            deflater: &mut self.deflater,
            output: Deflated::Held(Vec::new()),
            scratch: self.reader.scratch(),
        };
        match source {
            Source::Entry(pack, offset) => self.reader.stream_entry(pack, offset, &mut rebuilt)?,
            Source::Loose(id, kind) => {
                (self.reader).stream_at(&id, kind, Location::Loose, &mut rebuilt)?
            }
        }
        let Rebuilt {
            head,
            deflater,
            mut output,
            ..
        } = rebuilt;
        deflater.finish(&mut |piece| output.append(piece))?;
        let (held, kept) = output.finish()?;
        self.emit(out, &head);
        self.emit(out, &held);
        if let Some(end) = kept {
            self.copying = Some(Copying {
                from: None,
                at: 0,
                end,
            });
        }
        Ok(())
    }
}

/// What an object is rebuilt from.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// The entry at this offset of this pack.
    Entry(PackId, u64),
    /// The loose object with this id and type.
    Loose(ObjectId, ObjectType),
}

/// Where a rebuilt object's deflated bytes go: memory when it is small, else a scratch file.
enum Deflated<'r, S: Sql> {
    Held(Vec<u8>),
    Kept(ChunkWriter<'r, S>),
}

impl<S: Sql> Deflated<'_, S> {
    fn append(&mut self, piece: &[u8]) -> Result<(), StoreError> {
        match self {
            Deflated::Held(bytes) => {
                bytes.extend_from_slice(piece);
                Ok(())
            }
            Deflated::Kept(writer) => writer.append(piece),
        }
    }

    /// The bytes held, or else the length of the scratch file, once written.
    fn finish(self) -> Result<(Vec<u8>, Option<u64>), StoreError> {
        match self {
            Deflated::Held(bytes) => Ok((bytes, None)),
            Deflated::Kept(mut writer) => {
                writer.flush()?;
                Ok((Vec::new(), Some(writer.written())))
            }
        }
    }
}

/// Takes an object being rebuilt: its entry header, and its data deflated.
struct Rebuilt<'r, S: Sql> {
    head: Vec<u8>,
    offset: u64,
    deflater: &'r mut zlib::Deflater,
    output: Deflated<'r, S>,
    scratch: &'r ScratchRows<S>,
}

impl<S: Sql> ObjectSink for Rebuilt<'_, S> {
    type Error = StoreError;

    fn begin(&mut self, kind: ObjectType, size: u64) -> Result<(), StoreError> {
        self.head = pack::encode_entry_header(EntryKind::Whole(kind), size, self.offset);
        if size > MAX_HELD {
            self.output = Deflated::Kept(self.scratch.create_file(DEFLATED)?);
        }
        Ok(())
    }

    fn data(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let output = &mut self.output;
        self.deflater.feed(bytes, &mut |piece| output.append(piece))
    }
}

impl<S: Sql> Iterator for PackStream<S> {
    type Item = Result<Vec<u8>, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let side_band = self.options.side_band;
        let progress = self.options.progress && side_band != SideBand::None;
        let opening = progress && !self.started;
        let mut data = Vec::with_capacity(BATCH + 64 * 1024);
        let result = self.fill(&mut data);
        let mut out = Vec::with_capacity(data.len() + data.len() / 8000 + 256);
        if opening {
            side_band.write(&mut out, Band::Progress, self.opening().as_bytes());
        }
        side_band.write(&mut out, Band::Data, &data);
        if let Err(e) = result {
            self.finished = true;
            if side_band == SideBand::None {
                return Some(Err(e));
            }
            side_band.write(&mut out, Band::Error, format!("error: {e}\n").as_bytes());
            return Some(Ok(out));
        }
        if self.finished && side_band != SideBand::None {
            if progress {
                side_band.write(&mut out, Band::Progress, self.closing().as_bytes());
            }
            out.extend_from_slice(crate::format::pktline::FLUSH);
        }
        Some(Ok(out))
    }
}

impl<S: Sql> PackStream<S> {
    /// The progress lines before the pack, as git's `pack-objects` ends its counting ones
    /// (the selection is made before the answer starts, so only the final state is shown).
    fn opening(&self) -> String {
        let n = self.count;
        format!("Enumerating objects: {n}, done.\nCounting objects: 100% ({n}/{n}), done.\n")
    }

    /// The progress line after the pack, in git's words; objects copied inside whole stored
    /// packs are `pack-reused`.
    fn closing(&self) -> String {
        let Tally {
            reused,
            reused_deltas,
            made_deltas,
        } = self.tally;
        let deltas = reused_deltas + made_deltas;
        let one_by_one = self
            .pieces
            .iter()
            .filter(|p| !matches!(p, Piece::Entries(_)));
        let pack_reused = self.count.saturating_sub(one_by_one.count() as u32);
        format!(
            "Total {} (delta {deltas}), reused {reused} (delta {reused_deltas}), pack-reused {pack_reused}\n",
            self.count
        )
    }
}
