//! The pack format: entry headers, and reading whole objects back out of a stored pack
//! (inflating and applying delta chains with a bounded cache of bases).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::ops::ControlFlow;
use std::rc::Rc;

use crate::format::delta::{self, DeltaBase, DeltaError};
use crate::format::object::{ObjectId, ObjectType};
use crate::format::zlib::{self, Inflater};

/// Bytes of a pack header: `PACK`, version, object count.
pub const HEADER_LEN: usize = 12;

/// The longest entry header: type and size varint, then an offset varint or a 20-byte id.
pub const MAX_ENTRY_HEADER_LEN: usize = 32;

/// The longest delta chain read back: far more than the 4,095 git's `pack-objects` allows
/// itself, and a bound on the work of reading one object.
pub const MAX_CHAIN: usize = 10_000;

/// Why a pack, or an entry in it, could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// The file does not start with `PACK`.
    #[error("not a pack: bad signature")]
    Signature,
    /// A pack version other than 2 or 3.
    #[error("unsupported pack version {0}")]
    Version(u32),
    /// An entry header that does not parse.
    #[error("bad entry header at offset {offset}: {what}")]
    EntryHeader {
        /// Where the entry starts.
        offset: u64,
        /// What is wrong with it.
        what: &'static str,
    },
    /// The pack ends inside the entry at this offset.
    #[error("truncated entry at offset {0}")]
    TruncatedEntry(u64),
    /// The entry at this offset does not inflate to its declared size.
    #[error("corrupt zlib data in entry at offset {0}")]
    Zlib(u64),
    /// More deltas in a row than any pack git writes.
    #[error("delta chain too long")]
    ChainTooLong,
    /// A pack index that is cut short or whose fanout does not add up.
    #[error("bad pack index")]
    BadIdx,
    /// A pack's ends file that is cut short.
    #[error("bad ends file of a pack")]
    BadEnds,
    /// A REF_DELTA whose base is not in the same pack.
    #[error("delta base {0} is not in the pack")]
    BaseNotInPack(ObjectId),
    /// A delta that does not apply to its base.
    #[error("corrupt delta: {0}")]
    Delta(#[from] DeltaError),
    /// An object read whole that is larger than objects held whole may be.
    #[error("object of {0} bytes is too large to read whole")]
    TooLargeToHold(u64),
    /// The [`ChunkSource`] failed: the layer that keeps the bytes says why.
    #[error("{0}")]
    Source(Box<dyn std::error::Error>),
}

/// Parses the 12-byte pack header and returns the object count.
pub fn parse_header(header: &[u8]) -> Result<u32, PackError> {
    if header.len() < HEADER_LEN || &header[..4] != b"PACK" {
        return Err(PackError::Signature);
    }
    let version = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if version != 2 && version != 3 {
        return Err(PackError::Version(version));
    }
    Ok(u32::from_be_bytes([
        header[8], header[9], header[10], header[11],
    ]))
}

/// The header for a pack of `count` objects.
pub fn header(count: u32) -> [u8; HEADER_LEN] {
    let mut out = *b"PACK\0\0\0\x02\0\0\0\0";
    out[8..].copy_from_slice(&count.to_be_bytes());
    out
}

/// What an entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A whole object.
    Whole(ObjectType),
    /// A delta against the entry at this absolute pack offset.
    OfsDelta(u64),
    /// A delta against the object with this id.
    RefDelta(ObjectId),
}

/// A parsed entry header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryHeader {
    /// What follows the header.
    pub kind: EntryKind,
    /// The inflated size of the entry's data (the object, or the delta).
    pub size: u64,
    /// How many bytes the header took.
    pub len: usize,
}

/// Parses the entry header at the start of `buf`, for an entry at pack `offset`.
/// `Ok(None)` means more bytes are needed.
pub fn parse_entry_header(buf: &[u8], offset: u64) -> Result<Option<EntryHeader>, PackError> {
    let bad = |what| PackError::EntryHeader { offset, what };
    let mut pos = 0;
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    pos += 1;
    let type_number = (first >> 4) & 7;
    let mut size = (first & 0x0f) as u64;
    let mut shift = 4;
    let mut byte = first;
    while byte & 0x80 != 0 {
        let Some(&next) = buf.get(pos) else {
            return Ok(None);
        };
        pos += 1;
        if shift > 57 {
            return Err(bad("size overflows"));
        }
        byte = next;
        size |= ((byte & 0x7f) as u64) << shift;
        shift += 7;
    }
    let kind = match type_number {
        6 => {
            let Some((distance, len)) = ofs_distance(&buf[pos..]).map_err(bad)? else {
                return Ok(None);
            };
            pos += len;
            if distance == 0 || distance > offset {
                return Err(bad("delta base offset out of range"));
            }
            EntryKind::OfsDelta(offset - distance)
        }
        7 => {
            let Some(id) = buf.get(pos..pos + 20) else {
                return Ok(None);
            };
            pos += 20;
            EntryKind::RefDelta(ObjectId::from_bytes(id).expect("20 bytes"))
        }
        n => EntryKind::Whole(ObjectType::from_number(n).ok_or_else(|| bad("unknown type"))?),
    };
    Ok(Some(EntryHeader {
        kind,
        size,
        len: pos,
    }))
}

/// Reads the base distance of an OFS_DELTA at the start of `buf`, in git's encoding (each
/// continuation byte adds one before the shift, so no distance has two spellings).
/// `Ok(None)` means more bytes are needed; otherwise the distance and the bytes it took.
fn ofs_distance(buf: &[u8]) -> Result<Option<(u64, usize)>, &'static str> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut pos = 1;
    let mut distance = (first & 0x7f) as u64;
    let mut c = first;
    while c & 0x80 != 0 {
        let Some(&next) = buf.get(pos) else {
            return Ok(None);
        };
        pos += 1;
        if distance > (u64::MAX >> 8) {
            return Err("delta offset overflows");
        }
        c = next;
        distance = ((distance + 1) << 7) | (c & 0x7f) as u64;
    }
    Ok(Some((distance, pos)))
}

/// Random access to a pack's bytes, stored in fixed-size chunks.
pub trait ChunkSource {
    /// The size of every chunk but the last.
    fn chunk_size(&self) -> u64;
    /// Chunk number `seq`.
    fn chunk(&self, seq: u64) -> Result<Rc<Vec<u8>>, PackError>;
}

/// A part of one chunk: `chunk[range]`, shared without copying.
pub struct ChunkPiece {
    chunk: Rc<Vec<u8>>,
    range: std::ops::Range<usize>,
}

impl ChunkPiece {
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.chunk[self.range.clone()]
    }
}

/// The bytes from `at` up to `end` that lie in the chunk holding `at`: a range is read piece
/// by piece, one chunk each. Empty past the end of the data.
pub fn piece_at(src: &dyn ChunkSource, at: u64, end: u64) -> Result<ChunkPiece, PackError> {
    let size = src.chunk_size();
    let chunk = src.chunk(at / size)?;
    let from = ((at % size) as usize).min(chunk.len());
    let wanted = usize::try_from(end.saturating_sub(at)).unwrap_or(usize::MAX);
    let to = from + wanted.min(chunk.len() - from);
    Ok(ChunkPiece {
        chunk,
        range: from..to,
    })
}

/// Reads bytes `[offset, offset + len)` (fewer at the end of the data).
pub fn read_bytes(src: &dyn ChunkSource, offset: u64, len: usize) -> Result<Vec<u8>, PackError> {
    let mut out = Vec::with_capacity(len);
    let end = offset + len as u64;
    while out.len() < len {
        let piece = piece_at(src, offset + out.len() as u64, end)?;
        if piece.bytes().is_empty() {
            break;
        }
        out.extend_from_slice(piece.bytes());
    }
    Ok(out)
}

/// The header of the entry at `offset`.
pub fn entry_header(src: &dyn ChunkSource, offset: u64) -> Result<EntryHeader, PackError> {
    let head = read_bytes(src, offset, MAX_ENTRY_HEADER_LEN)?;
    parse_entry_header(&head, offset)?.ok_or(PackError::TruncatedEntry(offset))
}

/// Reads the entry at `offset`: its header and its inflated data (object or delta).
pub fn read_entry(src: &dyn ChunkSource, offset: u64) -> Result<(EntryHeader, Vec<u8>), PackError> {
    let header = entry_header(src, offset)?;
    let mut data = Vec::with_capacity(header.size.min(1 << 24) as usize);
    inflate_entry(src, offset, &header, &mut |piece: &[u8]| {
        data.extend_from_slice(piece);
        Ok::<(), PackError>(())
    })?;
    Ok((header, data))
}

/// Where the entry at `offset` is: its header, and the range of its compressed data, so
/// that it can be copied into another pack without recompressing. Its end is found by
/// inflating it (nothing inflated is kept).
pub fn entry_extent(
    src: &dyn ChunkSource,
    offset: u64,
) -> Result<(EntryHeader, std::ops::Range<u64>), PackError> {
    let header = entry_header(src, offset)?;
    let end = inflate_entry(
        src,
        offset,
        &header,
        &mut |_: &[u8]| Ok::<(), PackError>(()),
    )?;
    Ok((header, offset + header.len as u64..end))
}

/// Inflates the data of the entry at `offset` whose header is `header`, handing it to `out`
/// piece by piece; checks that it inflates to exactly its declared size, and returns where
/// its compressed data ends.
pub fn inflate_entry<E: From<PackError>>(
    src: &dyn ChunkSource,
    offset: u64,
    header: &EntryHeader,
    out: &mut dyn FnMut(&[u8]) -> Result<(), E>,
) -> Result<u64, E> {
    zlib::with_inflater(|inflater| inflate_entry_with(inflater, src, offset, header, out))
}

fn inflate_entry_with<E: From<PackError>>(
    inflater: &mut Inflater,
    src: &dyn ChunkSource,
    offset: u64,
    header: &EntryHeader,
    out: &mut dyn FnMut(&[u8]) -> Result<(), E>,
) -> Result<u64, E> {
    let mut inflated = 0u64;
    let mut failed = None;
    let mut at = offset + header.len as u64;
    let corrupt = || E::from(PackError::Zlib(offset));
    loop {
        let piece = piece_at(src, at, u64::MAX)?;
        if piece.bytes().is_empty() {
            return Err(corrupt());
        }
        let (used, done) = inflater
            .feed(piece.bytes(), &mut |bytes| {
                inflated += bytes.len() as u64;
                if inflated > header.size {
                    return ControlFlow::Break(());
                }
                match out(bytes) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(e) => {
                        failed = Some(e);
                        ControlFlow::Break(())
                    }
                }
            })
            .map_err(|_| corrupt())?;
        if let Some(e) = failed {
            return Err(e);
        }
        if inflated > header.size {
            return Err(corrupt());
        }
        at += used as u64;
        if done {
            break;
        }
    }
    if inflated != header.size {
        return Err(corrupt());
    }
    Ok(at)
}

/// A whole object: its type and its data, shareable between the cache and its readers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// Its type.
    pub kind: ObjectType,
    /// Its content (without the `<type> <size>` header).
    pub data: Rc<Vec<u8>>,
}

/// Which stored pack an entry belongs to: the number the store gave the pack's row when its
/// push began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackId(pub i64);

impl std::fmt::Display for PackId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where an entry is: a pack and an offset in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EntryAt {
    /// The pack.
    pub pack: PackId,
    /// The entry's offset in the `.pack`.
    pub offset: u64,
}

/// The byte budget of a [`BaseCache`]: resolved objects kept as delta bases, by indexing
/// and by reading.
pub const BASE_CACHE_BYTES: usize = 8 << 20;

/// A cache of resolved objects keyed by where their entry is, bounded in bytes; oldest out first.
pub struct BaseCache {
    budget: usize,
    used: usize,
    order: VecDeque<EntryAt>,
    objects: HashMap<EntryAt, Object>,
}

impl BaseCache {
    /// A cache holding at most `budget` bytes of object data.
    pub fn new(budget: usize) -> BaseCache {
        BaseCache {
            budget,
            used: 0,
            order: VecDeque::new(),
            objects: HashMap::new(),
        }
    }

    /// The object at `at`, if cached.
    pub fn get(&self, at: EntryAt) -> Option<Object> {
        self.objects.get(&at).cloned()
    }

    /// Remembers an object; objects larger than a quarter of the budget are not kept.
    pub fn insert(&mut self, at: EntryAt, kind: ObjectType, data: Rc<Vec<u8>>) {
        if data.len() > self.budget / 4 || self.objects.contains_key(&at) {
            return;
        }
        self.used += data.len();
        self.order.push_back(at);
        self.objects.insert(at, Object { kind, data });
        while self.used > self.budget {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.objects.remove(&old) {
                self.used -= gone.data.len();
            }
        }
    }
}

/// Objects up to this size are held whole while they are read; larger ones are streamed,
/// and the delta bases among them are kept in [`Scratch`] files instead of memory.
pub const MAX_HELD: u64 = 8 << 20;

/// Receives an object as it is read: its type and size first, then its bytes in order.
pub trait ObjectSink {
    /// What the sink may fail with, besides the pack's own errors.
    type Error: From<PackError> + From<DeltaError>;
    /// The object's type and size, before any of its bytes.
    fn begin(&mut self, kind: ObjectType, size: u64) -> Result<(), Self::Error>;
    /// The next bytes of the object.
    fn data(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
}

/// Files for the inflated bytes of delta bases too large to hold: each written once, in
/// order, then read at any offset while the next delta of the chain applies to it.
pub trait Scratch {
    /// Empties file `slot` and returns its writer.
    fn create(&self, slot: u8) -> Result<Box<dyn ScratchWriter + '_>, PackError>;
    /// File `slot` as written.
    fn open(&self, slot: u8) -> Result<Box<dyn ChunkSource + '_>, PackError>;
}

/// Writes one [`Scratch`] file.
pub trait ScratchWriter {
    /// Takes the next bytes.
    fn append(&mut self, bytes: &[u8]) -> Result<(), PackError>;
    /// Writes what is still buffered.
    fn finish(&mut self) -> Result<(), PackError>;
}

/// A resolved level of a delta chain: the base the next delta applies to.
enum Level<'a> {
    /// Small enough to hold.
    Held(Rc<Vec<u8>>),
    /// Kept in a scratch file of this size.
    Kept(Box<dyn ChunkSource + 'a>, u64),
}

impl<E: From<PackError>> DeltaBase<E> for Level<'_> {
    fn size(&self) -> u64 {
        match self {
            Level::Held(data) => data.len() as u64,
            Level::Kept(_, size) => *size,
        }
    }

    fn copy(
        &self,
        offset: u64,
        len: u64,
        out: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Level::Held(data) => data[..].copy(offset, len, out),
            Level::Kept(src, _) => {
                let (mut at, end) = (offset, offset + len);
                while at < end {
                    let piece = piece_at(&**src, at, end)?;
                    if piece.bytes().is_empty() {
                        return Err(PackError::TruncatedEntry(at).into());
                    }
                    out(piece.bytes())?;
                    at += piece.bytes().len() as u64;
                }
                Ok(())
            }
        }
    }
}

/// Where a delta chain ends, walking down from the object asked for.
enum Bottom {
    /// An object in the cache.
    Cached(Object),
    /// A whole entry of this type: its offset and header.
    Whole(ObjectType, u64, EntryHeader),
}

/// A delta entry of a chain: its offset and header.
type DeltaAt = (u64, EntryHeader);

/// Reads objects out of one pack, resolving delta chains through a shared cache of small
/// objects and, for large ones, scratch files.
pub struct PackObjects<'a> {
    pack: PackId,
    src: &'a dyn ChunkSource,
    /// Finds the offset of a REF_DELTA base inside this same pack.
    find: &'a dyn Fn(&ObjectId) -> Result<Option<u64>, PackError>,
    cache: &'a RefCell<BaseCache>,
    scratch: Option<&'a dyn Scratch>,
}

impl<'a> PackObjects<'a> {
    /// An object reader over pack `pack` read through `src`, finding REF_DELTA bases with
    /// `find`. Without [`PackObjects::with_scratch`] it reads only objects whose chain is
    /// held whole.
    pub fn new(
        pack: PackId,
        src: &'a dyn ChunkSource,
        find: &'a dyn Fn(&ObjectId) -> Result<Option<u64>, PackError>,
        cache: &'a RefCell<BaseCache>,
    ) -> PackObjects<'a> {
        PackObjects {
            pack,
            src,
            find,
            cache,
            scratch: None,
        }
    }

    /// Keeps the large delta bases of a chain in `scratch`.
    pub fn with_scratch(self, scratch: &'a dyn Scratch) -> PackObjects<'a> {
        PackObjects {
            scratch: Some(scratch),
            ..self
        }
    }

    fn entry_at(&self, offset: u64) -> EntryAt {
        EntryAt {
            pack: self.pack,
            offset,
        }
    }

    /// The object whose entry starts at `offset`, whole: at most [`MAX_HELD`] bytes.
    pub fn object_at(&self, offset: u64) -> Result<Object, PackError> {
        let mut sink = LevelSink::new(None, 0);
        self.stream_at(offset, &mut sink)?;
        match self.level(offset, sink)? {
            (kind, Level::Held(data)) => Ok(Object { kind, data }),
            (_, Level::Kept(_, size)) => Err(PackError::TooLargeToHold(size)),
        }
    }

    /// Streams the object whose entry starts at `offset` into `sink`. The deltas of its
    /// chain apply in turn from the bottom, each to the level below, held when small and
    /// in a scratch file when large; the last streams into the sink.
    pub fn stream_at<K: ObjectSink>(&self, offset: u64, sink: &mut K) -> Result<(), K::Error> {
        let (mut deltas, bottom) = self.chain(offset)?;
        if deltas.is_empty() {
            return match bottom {
                Bottom::Whole(kind, at, header) => {
                    sink.begin(kind, header.size)?;
                    inflate_entry(self.src, at, &header, &mut |bytes| sink.data(bytes))?;
                    Ok(())
                }
                Bottom::Cached(Object { kind, data }) => {
                    sink.begin(kind, data.len() as u64)?;
                    sink.data(&data)
                }
            };
        }
        let top = deltas.remove(0);
        let (kind, level) = self.resolve(deltas, bottom)?;
        self.apply_delta(top, &level, kind, sink)
    }

    /// Streams into `sink` the result of `delta`, a delta payload already read, applied to
    /// the object whose entry starts at `base`.
    pub fn stream_delta<K: ObjectSink>(
        &self,
        base: u64,
        delta: &[u8],
        sink: &mut K,
    ) -> Result<(), K::Error> {
        let (deltas, bottom) = self.chain(base)?;
        let (kind, level) = self.resolve(deltas, bottom)?;
        let mut stream = delta::DeltaStream::new();
        feed_delta(&mut stream, delta, &level, kind, sink)?;
        Ok(stream.finish()?)
    }

    /// The object at the top of a chain, as a level the next delta can apply to: its
    /// `deltas` (top first) applied in turn from `bottom`.
    fn resolve(
        &self,
        deltas: Vec<DeltaAt>,
        bottom: Bottom,
    ) -> Result<(ObjectType, Level<'a>), PackError> {
        let (kind, mut level) = match bottom {
            Bottom::Whole(kind, at, header) => {
                let mut sink = LevelSink::new(self.scratch, 1);
                sink.begin(kind, header.size)?;
                inflate_entry(self.src, at, &header, &mut |bytes| sink.data(bytes))?;
                self.level(at, sink)?
            }
            Bottom::Cached(Object { kind, data }) => (kind, Level::Held(data)),
        };
        for (n, delta) in deltas.into_iter().rev().enumerate() {
            let mut sink = LevelSink::new(self.scratch, n as u8 % 2);
            self.apply_delta(delta, &level, kind, &mut sink)?;
            level = self.level(delta.0, sink)?.1;
        }
        Ok((kind, level))
    }

    /// Walks down from `offset` to a cached object or a whole entry: the deltas passed, the
    /// object asked for first.
    fn chain(&self, offset: u64) -> Result<(Vec<DeltaAt>, Bottom), PackError> {
        let mut deltas = Vec::new();
        let mut at = offset;
        loop {
            if let Some(hit) = self.cache.borrow().get(self.entry_at(at)) {
                return Ok((deltas, Bottom::Cached(hit)));
            }
            if deltas.len() > MAX_CHAIN {
                return Err(PackError::ChainTooLong);
            }
            let header = entry_header(self.src, at)?;
            let base = match header.kind {
                EntryKind::Whole(kind) => return Ok((deltas, Bottom::Whole(kind, at, header))),
                EntryKind::OfsDelta(base) => base,
                EntryKind::RefDelta(id) => (self.find)(&id)?.ok_or(PackError::BaseNotInPack(id))?,
            };
            deltas.push((at, header));
            at = base;
        }
    }

    /// What `sink` took for the entry at `at`, and its type: held (and cached), or kept.
    fn level(&self, at: u64, sink: LevelSink<'a>) -> Result<(ObjectType, Level<'a>), PackError> {
        let kind = sink.kind.expect("begun before it ends");
        match sink.writer {
            Some(mut writer) => {
                writer.finish()?;
                drop(writer);
                let scratch = sink.scratch.expect("kept in scratch");
                Ok((kind, Level::Kept(scratch.open(sink.slot)?, sink.size)))
            }
            None => {
                let held = Rc::new(sink.held);
                self.cache
                    .borrow_mut()
                    .insert(self.entry_at(at), kind, held.clone());
                Ok((kind, Level::Held(held)))
            }
        }
    }

    /// Applies `delta`, a delta entry, to `base`, inflating it as it goes, into `sink`: it
    /// begins with the declared result size, before any of the result.
    fn apply_delta<K: ObjectSink>(
        &self,
        (at, header): DeltaAt,
        base: &Level<'a>,
        kind: ObjectType,
        sink: &mut K,
    ) -> Result<(), K::Error> {
        let mut stream = delta::DeltaStream::new();
        inflate_entry(self.src, at, &header, &mut |bytes| {
            feed_delta(&mut stream, bytes, base, kind, sink)
        })?;
        Ok(stream.finish()?)
    }
}

/// Feeds the next `bytes` of a delta to `stream`, applying it to `base` into `sink`, which
/// begins as soon as the delta's header declares the result's size.
fn feed_delta<K: ObjectSink>(
    stream: &mut delta::DeltaStream,
    mut bytes: &[u8],
    base: &Level<'_>,
    kind: ObjectType,
    sink: &mut K,
) -> Result<(), K::Error> {
    while !bytes.is_empty() {
        let had_sizes = stream.sizes().is_some();
        let used = stream.feed(bytes, base, &mut |out| sink.data(out))?;
        if let (false, Some((_, size))) = (had_sizes, stream.sizes()) {
            sink.begin(kind, size)?;
        }
        bytes = &bytes[used..];
    }
    Ok(())
}

/// Takes one level of a chain: holds it when small, else writes it to a scratch file.
struct LevelSink<'a> {
    scratch: Option<&'a dyn Scratch>,
    slot: u8,
    kind: Option<ObjectType>,
    size: u64,
    held: Vec<u8>,
    writer: Option<Box<dyn ScratchWriter + 'a>>,
}

impl<'a> LevelSink<'a> {
    fn new(scratch: Option<&'a dyn Scratch>, slot: u8) -> Self {
        LevelSink {
            scratch,
            slot,
            kind: None,
            size: 0,
            held: Vec::new(),
            writer: None,
        }
    }
}

impl ObjectSink for LevelSink<'_> {
    type Error = PackError;

    fn begin(&mut self, kind: ObjectType, size: u64) -> Result<(), PackError> {
        (self.kind, self.size) = (Some(kind), size);
        if size <= MAX_HELD {
            self.held.reserve_exact(size as usize);
            return Ok(());
        }
        let scratch = self.scratch.ok_or(PackError::TooLargeToHold(size))?;
        self.writer = Some(scratch.create(self.slot)?);
        Ok(())
    }

    fn data(&mut self, bytes: &[u8]) -> Result<(), PackError> {
        match self.writer.as_mut() {
            Some(writer) => writer.append(bytes),
            None => {
                self.held.extend_from_slice(bytes);
                Ok(())
            }
        }
    }
}

/// Encodes an entry header (for packs we write ourselves).
pub fn encode_entry_header(kind: EntryKind, size: u64, offset: u64) -> Vec<u8> {
    let type_number = match kind {
        EntryKind::Whole(t) => t as u8,
        EntryKind::OfsDelta(_) => 6,
        EntryKind::RefDelta(_) => 7,
    };
    let mut out = Vec::with_capacity(MAX_ENTRY_HEADER_LEN);
    let mut byte = (type_number << 4) | (size & 0x0f) as u8;
    let mut rest = size >> 4;
    while rest != 0 {
        out.push(byte | 0x80);
        byte = (rest & 0x7f) as u8;
        rest >>= 7;
    }
    out.push(byte);
    match kind {
        EntryKind::Whole(_) => {}
        EntryKind::OfsDelta(base) => {
            let mut distance = offset - base;
            let mut bytes = vec![(distance & 0x7f) as u8];
            distance >>= 7;
            while distance != 0 {
                distance -= 1;
                bytes.push(0x80 | (distance & 0x7f) as u8);
                distance >>= 7;
            }
            bytes.reverse();
            out.extend_from_slice(&bytes);
        }
        EntryKind::RefDelta(id) => out.extend_from_slice(&id.0),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_headers_round_trip() {
        for (kind, size, offset) in [
            (EntryKind::Whole(ObjectType::Blob), 5, 12),
            (EntryKind::Whole(ObjectType::Commit), 1 << 40, 12),
            (EntryKind::OfsDelta(12), 300, 1_000_000),
            (EntryKind::OfsDelta(999_871), 70_000, 1_000_000),
            (EntryKind::RefDelta(ObjectId([9; 20])), 17, 40),
        ] {
            let bytes = encode_entry_header(kind, size, offset);
            let parsed = parse_entry_header(&bytes, offset).unwrap().unwrap();
            assert_eq!(
                (parsed.kind, parsed.size, parsed.len),
                (kind, size, bytes.len())
            );
            assert_eq!(
                parse_entry_header(&bytes[..bytes.len() - 1], offset).unwrap(),
                None
            );
        }
    }

    /// A pack's bytes in memory, cut into chunks of `.1` bytes.
    struct Chunks(Vec<u8>, u64);

    impl ChunkSource for Chunks {
        fn chunk_size(&self) -> u64 {
            self.1
        }

        fn chunk(&self, seq: u64) -> Result<Rc<Vec<u8>>, PackError> {
            let start = (seq * self.1) as usize;
            let end = (start + self.1 as usize).min(self.0.len());
            Ok(Rc::new(self.0.get(start..end).unwrap_or_default().to_vec()))
        }
    }

    fn entry(kind: EntryKind, data: &[u8], offset: u64) -> Vec<u8> {
        let mut out = encode_entry_header(kind, data.len() as u64, offset);
        out.extend_from_slice(&crate::format::zlib::deflate(data));
        out
    }

    #[test]
    fn reads_an_entry_whose_header_and_data_cross_chunks() {
        let data: Vec<u8> = (0..300u32).map(|i| (i % 256) as u8).collect();
        let mut bytes = vec![0, 0];
        bytes.extend_from_slice(&entry(EntryKind::Whole(ObjectType::Blob), &data, 2));
        for chunk in [3, 4, 1 << 20] {
            let src = Chunks(bytes.clone(), chunk);
            let (header, read) = read_entry(&src, 2).unwrap();
            assert_eq!((header.size, header.len, read), (300, 2, data.clone()));
            let (_, raw) = entry_extent(&src, 2).unwrap();
            assert_eq!(raw, 4..bytes.len() as u64);
        }
        let cut = Chunks(bytes[..bytes.len() - 3].to_vec(), 3);
        assert_eq!(
            read_entry(&cut, 2).unwrap_err().to_string(),
            "corrupt zlib data in entry at offset 2"
        );
    }

    #[test]
    fn delta_chains_are_followed_up_to_ten_thousand_links() {
        // A one-byte blob, then 10,001 deltas, each on the entry before it.
        let mut bytes = entry(EntryKind::Whole(ObjectType::Blob), b"x", 0);
        let mut offsets = vec![0u64];
        for _ in 0..10_001 {
            let at = bytes.len() as u64;
            let base = *offsets.last().unwrap();
            bytes.extend_from_slice(&entry(EntryKind::OfsDelta(base), &[1, 1, 0x90, 1], at));
            offsets.push(at);
        }
        let src = Chunks(bytes, 1 << 20);
        let find = |_: &ObjectId| Ok(None);
        let read = |at: u64| {
            let cache = RefCell::new(BaseCache::new(0));
            PackObjects::new(PackId(1), &src, &find, &cache).object_at(at)
        };
        let object = read(offsets[10_000]).unwrap();
        assert_eq!(
            (object.kind, object.data.as_slice()),
            (ObjectType::Blob, &b"x"[..])
        );
        assert_eq!(
            read(offsets[10_001]).unwrap_err().to_string(),
            "delta chain too long"
        );
    }

    #[test]
    fn a_pack_id_reads_as_its_row_number() {
        // As error messages name a stored pack.
        assert_eq!(PackId(42).to_string(), "42");
    }

    #[test]
    fn base_cache_keeps_its_budget_oldest_out_first() {
        let blob = |n: usize| Rc::new(vec![0u8; n]);
        let object = |kind, data| Object { kind, data };
        let entry = |offset: u64| EntryAt {
            pack: PackId(1),
            offset,
        };
        let mut cache = BaseCache::new(100);
        cache.insert(entry(0), ObjectType::Blob, blob(25));
        cache.insert(entry(1), ObjectType::Blob, blob(26));
        assert_eq!(
            cache.get(entry(0)),
            Some(object(ObjectType::Blob, blob(25)))
        );
        assert_eq!(cache.get(entry(1)), None, "over a quarter of the budget");
        for at in 2..5 {
            cache.insert(entry(at), ObjectType::Blob, blob(25));
        }
        let present = |cache: &BaseCache| -> Vec<u64> {
            (0..10)
                .filter(|&at| cache.get(entry(at)).is_some())
                .collect()
        };
        assert_eq!(present(&cache), vec![0, 2, 3, 4], "exactly at the budget");
        cache.insert(entry(5), ObjectType::Blob, blob(10));
        assert_eq!(present(&cache), vec![2, 3, 4, 5], "the oldest went");
        // Inserting what is there already changes nothing, nor counts twice.
        cache.insert(entry(2), ObjectType::Tree, blob(20));
        assert_eq!(
            cache.get(entry(2)),
            Some(object(ObjectType::Blob, blob(25)))
        );
        cache.insert(entry(6), ObjectType::Blob, blob(15));
        assert_eq!(present(&cache), vec![2, 3, 4, 5, 6]);
        cache.insert(entry(7), ObjectType::Blob, blob(1));
        assert_eq!(present(&cache), vec![3, 4, 5, 6, 7]);
        assert_eq!(
            cache.get(EntryAt {
                pack: PackId(2),
                offset: 3
            }),
            None,
            "another pack"
        );
    }

    #[test]
    fn rejects_bad_headers() {
        let why = |r: Result<_, PackError>| r.unwrap_err().to_string();
        let bad = |what: &str| format!("bad entry header at offset 12: {what}");
        assert_eq!(why(parse_entry_header(&[0x50], 12)), bad("unknown type"));
        assert_eq!(why(parse_entry_header(&[0x00], 12)), bad("unknown type"));
        let ofs = encode_entry_header(EntryKind::OfsDelta(0), 1, 100);
        assert_eq!(
            why(parse_entry_header(&ofs, 50)),
            "bad entry header at offset 50: delta base offset out of range"
        );
        assert_eq!(
            why(parse_entry_header(&[0xff; 20], 12)),
            bad("size overflows")
        );
        // An OFS_DELTA distance that would not fit in 64 bits is refused, never wrapped.
        let mut far = vec![0x60];
        far.extend_from_slice(&[0xff; 10]);
        far.push(0);
        assert_eq!(
            why(parse_entry_header(&far, u64::MAX)),
            format!(
                "bad entry header at offset {}: delta offset overflows",
                u64::MAX
            )
        );
        let why = |r: Result<u32, PackError>| r.unwrap_err().to_string();
        assert_eq!(
            why(parse_header(b"PACK\0\0\0\x04\0\0\0\0")),
            "unsupported pack version 4"
        );
        assert_eq!(parse_header(b"PACK\0\0\0\x03\0\0\0\x01").unwrap(), 1);
        assert_eq!(parse_header(&header(7)).unwrap(), 7);
        let signature = "not a pack: bad signature";
        assert_eq!(why(parse_header(b"PACK")), signature);
        assert_eq!(why(parse_header(b"KCAP\0\0\0\x02\0\0\0\0")), signature);
    }
}
