//! Indexing a pack while it streams in (git's `index-pack`): the bytes are spooled into
//! chunk rows as they arrive, every object id is computed, deltas are resolved against
//! their bases through a bounded cache, and the links needed for the connectivity check
//! and the commit graph are collected. What is known of each entry goes to rows as it is
//! learnt (see `entries`), so memory stays bounded by the largest object plus the cache,
//! never by the size of the pack or its number of objects.

mod entries;
mod spool;
mod write_idx;

pub use write_idx::{write_idx, IdxEntries};

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::rc::Rc;

use crate::format::delta::DeltaError;
use crate::format::object::{self, BadObject, Link, ObjectHasher, ObjectId, ObjectType};
use crate::format::pack::{
    self, BaseCache, EntryAt, EntryHeader, EntryKind, Object, ObjectSink, PackError, PackId,
    PackObjects, BASE_CACHE_BYTES, MAX_HELD,
};
use crate::format::sha1::Sha1;
use crate::format::zlib::Inflater;
use crate::format::{ends, loose};
use crate::limits::{Limits, OverLimit};
use crate::store::sql::Sql;
use crate::store::{
    Base, ChunkFile, ChunkWriter, CommitInfo, EntryRow, Held, IdxSource, ScratchRows, Store,
    StoreError,
};
use entries::Entries;
use spool::Spool;

/// Pushes with fewer objects than this are stored as loose objects (git's `transfer.unpackLimit`).
pub const UNPACK_LIMIT: u32 = 100;

/// The entries of a push held in memory by default, instead of written to rows: 48 bytes
/// and an index of 4 in a table each (about 30 MiB for as many), so that a history as
/// large as git/git's (419,403 objects) is indexed without a row per object.
pub const HELD_ENTRIES: usize = 1 << 19;

/// Objects larger than this keep their push in pack form: a loose row must stay far below
/// the platform's 2 MB row limit.
pub const MAX_LOOSE_OBJECT: u64 = 1 << 20;

/// Why a received pack is refused, in the words git's receive-pack reports after `unpack`.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// An entry that does not read: its header, its zlib data or its delta chain.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// The spool's rows could not be written or read back.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A push with commands to create or update refs, and no pack.
    #[error("no pack data received")]
    NoData,
    /// The body ends before the pack's trailer.
    #[error("pack is truncated at offset {0}")]
    Truncated(u64),
    /// Bytes after the trailer.
    #[error("pack has trailing garbage after offset {0}")]
    TrailingGarbage(u64),
    /// The trailer is not the SHA-1 of the pack.
    #[error("pack checksum mismatch (pack is corrupted)")]
    Checksum,
    /// An entry header longer than any header can be.
    #[error("bad entry header at offset {0}")]
    EntryHeader(u64),
    /// An entry that inflates to more bytes than its header declares.
    #[error("entry at offset {0} inflates to more than its declared size")]
    Overflow(u64),
    /// An entry that inflates to fewer bytes than its header declares.
    #[error("entry at offset {offset} inflates to {produced} bytes, not the declared {declared}")]
    Short {
        /// Where the entry starts.
        offset: u64,
        /// The bytes it inflated to.
        produced: u64,
        /// The bytes its header declares.
        declared: u64,
    },
    /// An OFS_DELTA whose base offset is not the start of an entry.
    #[error("delta at offset {0} names no entry as its base")]
    NoBaseEntry(u64),
    /// A delta that does not apply to its base.
    #[error("corrupt delta at offset {offset}: {why}")]
    Delta {
        /// Where the delta entry starts.
        offset: u64,
        /// Why it does not apply.
        why: DeltaError,
    },
    /// An object whose content does not parse as its type.
    #[error("bad {} {id}: {why}", .kind.name())]
    BadObject {
        /// Its type.
        kind: ObjectType,
        /// Its id.
        id: ObjectId,
        /// What is wrong.
        why: BadObject,
    },
    /// An object the pack holds twice: refused, as git's `index-pack --strict` does, so that
    /// no copy's delta chain can lead back to the object itself.
    #[error("the same object {0} appears twice in the pack")]
    Duplicate(ObjectId),
    /// A delta chain longer than the chains stored packs are read back through.
    #[error("delta chain too long at offset {0}")]
    ChainTooLong(u64),
    /// An object larger than the server takes.
    #[error(transparent)]
    OverLimit(#[from] OverLimit),
    /// A tree, commit or tag too large to be parsed whole.
    #[error("{} at offset {offset} is {size} bytes: trees, commits and tags are limited to {MAX_HELD} bytes", .kind.name())]
    TooLargeToParse {
        /// Its type.
        kind: ObjectType,
        /// Where its entry starts.
        offset: u64,
        /// Its size.
        size: u64,
    },
    /// Deltas whose bases are neither in the pack nor resolvable.
    #[error("pack has {n} unresolved delta{s} (missing delta base)", n = .0, s = if *.0 == 1 { "" } else { "s" })]
    Unresolved(usize),
}

/// A delta that fails to apply while a chain is read.
impl From<DeltaError> for IndexError {
    fn from(e: DeltaError) -> Self {
        IndexError::Pack(PackError::Delta(e))
    }
}

/// Refuses an object (or a delta) of `size` bytes at `offset` over `max_object`, and a tree,
/// commit or tag too large to parse.
fn check_size(
    kind: Option<ObjectType>,
    size: u64,
    offset: u64,
    max_object: u64,
) -> Result<(), IndexError> {
    if size > max_object {
        return Err(IndexError::OverLimit(OverLimit {
            what: format!("object at offset {offset} is {size} bytes"),
            limit: max_object,
            var: "MAX_OBJECT_BYTES",
        }));
    }
    match kind {
        Some(kind) if kind != ObjectType::Blob && size > MAX_HELD => {
            Err(IndexError::TooLargeToParse { kind, offset, size })
        }
        _ => Ok(()),
    }
}

/// Whether an object of `kind` and `size` is kept in memory once read: trees, commits and
/// tags to be parsed, and blobs small enough to be cached as delta bases.
fn kept(kind: ObjectType, size: u64) -> bool {
    kind != ObjectType::Blob || size <= (BASE_CACHE_BYTES / 4) as u64
}

/// A delta's result as it is rebuilt: hashed as it streams, kept only when [`kept`].
struct Rebuilt {
    offset: u64,
    max_object: u64,
    /// The result's type, size and hasher, once its size is declared.
    begun: Option<(ObjectType, u64, ObjectHasher)>,
    data: Option<Vec<u8>>,
}

impl ObjectSink for Rebuilt {
    type Error = IndexError;

    fn begin(&mut self, kind: ObjectType, size: u64) -> Result<(), IndexError> {
        check_size(Some(kind), size, self.offset, self.max_object)?;
        self.begun = Some((kind, size, ObjectHasher::new(kind, size)));
        self.data = kept(kind, size).then(|| Vec::with_capacity(size as usize));
        Ok(())
    }

    fn data(&mut self, bytes: &[u8]) -> Result<(), IndexError> {
        self.begun.as_mut().expect("begun").2.update(bytes);
        if let Some(data) = self.data.as_mut() {
            data.extend_from_slice(bytes);
        }
        Ok(())
    }
}

/// A rebuilt delta: its object's id, type and size, and its bytes when [`kept`].
struct Resolved {
    id: ObjectId,
    kind: ObjectType,
    size: u64,
    data: Option<Rc<Vec<u8>>>,
}

/// The depth of a delta on a base `base_depth` deep, if the pack's chains can be read back.
fn deeper(base_depth: usize, offset: u64) -> Result<usize, IndexError> {
    match base_depth + 1 {
        depth if depth > pack::MAX_CHAIN => Err(IndexError::ChainTooLong(offset)),
        depth => Ok(depth),
    }
}

/// How an accepted push will be stored.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    /// Kept as a pack (with its idx already written) named by its checksum.
    Pack {
        /// The pack's checksum in hex.
        name: String,
        /// Bytes in the `.pack`.
        size: u64,
        /// Bytes in the `.idx`.
        idx_size: u64,
    },
    /// Exploded into staged loose objects.
    Loose,
}

/// A fully received and verified pack, indexed in the rows of its pending push, or for a
/// push of few enough objects, in memory (`held`).
#[derive(Debug)]
pub struct Indexed {
    /// The pending pack row that owns what the push wrote.
    pub push: PackId,
    /// How it is stored.
    pub stored: Stored,
    /// Its entries, when they were held in memory rather than written to rows.
    pub held: Option<Held>,
    /// The last page of what its objects link to (the pages before are in rows).
    pub links: Vec<Link>,
}

/// The entry being inflated.
struct Current {
    offset: u64,
    header: EntryHeader,
    crc: crc32fast::Hasher,
    data: Vec<u8>,
    produced: u64,
    /// For whole objects: the id, computed as the data streams through.
    hasher: Option<ObjectHasher>,
    /// Whether `data` keeps the inflated bytes: a whole object that is [`kept`], or a delta
    /// of at most [`MAX_HELD`] bytes.
    keep: bool,
}

enum Phase {
    Header,
    EntryHeader,
    EntryData(Box<Current>),
    Trailer,
    Done,
}

/// A pack being received: feed it bytes as they arrive, then [`IndexPack::finish`].
pub struct IndexPack<'s, S: Sql> {
    spool: Spool<'s, S>,
    /// The largest object taken, whole or as a delta's result.
    max_object: u64,
    /// The links the pack's objects may record.
    max_links: u64,
    sha: Sha1,
    phase: Phase,
    partial: Vec<u8>,
    offset: u64,
    count: u32,
    inflater: Inflater,
    entries: Entries<'s, S>,
    /// The largest object resolved so far.
    largest: u64,
    cache: RefCell<BaseCache>,
    /// Large delta bases while a chain is rebuilt: files of the push's row.
    scratch: ScratchRows<S>,
    /// The pack's ends file, written as its entries come (see [`ChunkFile::Ends`]).
    ends: ChunkWriter<'s, S>,
}

impl<'s, S: Sql> IndexPack<'s, S> {
    /// Starts receiving a pack into `store`, owned by the pending row `push`, taking
    /// objects of at most `max_object` bytes.
    pub fn new(store: &'s Store<S>, push: PackId, max_object: u64) -> IndexPack<'s, S> {
        IndexPack {
            spool: Spool::new(store, push),
            max_object,
            sha: Sha1::long(),
            phase: Phase::Header,
            partial: Vec::new(),
            offset: 0,
            count: 0,
            inflater: Inflater::new(),
            entries: Entries::new(store, push, HELD_ENTRIES),
            max_links: Limits::default().push_links,
            largest: 0,
            cache: RefCell::new(BaseCache::new(BASE_CACHE_BYTES)),
            scratch: ScratchRows::new(store, Some(push)),
            ends: ChunkWriter::new(store, push, ChunkFile::Ends),
        }
    }

    /// Indexes within `limits`: objects of at most `MAX_OBJECT_BYTES`, at most
    /// `MAX_PUSH_LINKS` links, the entries of a push of up to `PUSH_ENTRIES_IN_MEMORY`
    /// objects held in memory instead of rows.
    pub fn within(mut self, limits: &Limits) -> Self {
        self.max_object = limits.object_bytes;
        self.max_links = limits.push_links;
        self.entries = Entries::new(self.spool.store(), self.push(), limits.held_entries);
        self
    }

    /// The pending pack row that owns what this push writes.
    pub fn push(&self) -> PackId {
        self.spool.push()
    }

    /// Takes the next bytes of the pack.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), IndexError> {
        while !data.is_empty() {
            let used = match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Header => self.read_pack_header(data)?,
                Phase::EntryHeader => self.read_entry_header(data)?,
                Phase::EntryData(current) => self.inflate(current, data)?,
                Phase::Trailer => {
                    let take = (20 - self.partial.len()).min(data.len());
                    self.partial.extend_from_slice(&data[..take]);
                    self.absorb(&data[..take], None, false)?;
                    self.phase = if self.partial.len() == 20 {
                        Phase::Done
                    } else {
                        Phase::Trailer
                    };
                    take
                }
                Phase::Done => return Err(IndexError::TrailingGarbage(self.offset)),
            };
            data = &data[used..];
        }
        Ok(())
    }

    /// Passes consumed bytes on to the checksum, the entry's CRC and the spool.
    fn absorb(
        &mut self,
        bytes: &[u8],
        crc: Option<&mut crc32fast::Hasher>,
        hashed: bool,
    ) -> Result<(), IndexError> {
        if hashed {
            self.sha.update(bytes);
        }
        if let Some(crc) = crc {
            crc.update(bytes);
        }
        self.offset += bytes.len() as u64;
        Ok(self.spool.append(bytes)?)
    }

    fn read_pack_header(&mut self, data: &[u8]) -> Result<usize, IndexError> {
        let take = (pack::HEADER_LEN - self.partial.len()).min(data.len());
        self.partial.extend_from_slice(&data[..take]);
        self.absorb(&data[..take], None, true)?;
        self.phase = Phase::Header;
        if self.partial.len() == pack::HEADER_LEN {
            self.count = pack::parse_header(&self.partial)?;
            self.entries.expect(u64::from(self.count))?;
            self.ends.append(&ends::encode(self.count.into()))?;
            self.partial.clear();
            self.phase = self.after_entry();
        }
        Ok(take)
    }

    fn after_entry(&mut self) -> Phase {
        self.partial.clear();
        if self.entries.count() == self.count as u64 {
            Phase::Trailer
        } else {
            Phase::EntryHeader
        }
    }

    fn read_entry_header(&mut self, data: &[u8]) -> Result<usize, IndexError> {
        let before = self.partial.len();
        let take = (pack::MAX_ENTRY_HEADER_LEN - before).min(data.len());
        self.partial.extend_from_slice(&data[..take]);
        let offset = self.offset - before as u64;
        let Some(header) = pack::parse_entry_header(&self.partial, offset)? else {
            if self.partial.len() >= pack::MAX_ENTRY_HEADER_LEN {
                return Err(IndexError::EntryHeader(offset));
            }
            self.absorb_header_bytes(&data[..take])?;
            self.phase = Phase::EntryHeader;
            return Ok(take);
        };
        let used = header.len - before;
        let whole = match header.kind {
            EntryKind::Whole(kind) => Some(kind),
            _ => None,
        };
        check_size(whole, header.size, offset, self.max_object)?;
        self.ends.append(&ends::encode(offset))?;
        let mut current = Box::new(Current {
            offset,
            header,
            crc: crc32fast::Hasher::new(),
            data: Vec::new(),
            produced: 0,
            hasher: match header.kind {
                EntryKind::Whole(kind) => Some(ObjectHasher::new(kind, header.size)),
                _ => None,
            },
            // A delta is kept to be applied as soon as its base is known (read back from
            // the spool if it has to wait, or is large).
            keep: match whole {
                Some(kind) => kept(kind, header.size),
                None => header.size <= MAX_HELD,
            },
        });
        current.crc.update(&self.partial[..before]);
        self.sha.update(&data[..used]);
        current.crc.update(&data[..used]);
        self.offset += used as u64;
        self.spool.append(&data[..used])?;
        self.partial.clear();
        self.inflater.reset();
        self.phase = Phase::EntryData(current);
        Ok(used)
    }

    /// Header bytes seen before the header could be parsed: hashed and spooled now,
    /// CRC'd when the entry starts (they stay in `partial` until then).
    fn absorb_header_bytes(&mut self, bytes: &[u8]) -> Result<(), IndexError> {
        self.absorb(bytes, None, true)
    }

    fn inflate(&mut self, mut current: Box<Current>, data: &[u8]) -> Result<usize, IndexError> {
        let declared = current.header.size;
        let mut overflow = false;
        let cur = &mut *current;
        let (used, done) = self
            .inflater
            .feed(data, &mut |piece| {
                cur.produced += piece.len() as u64;
                overflow |= cur.produced > declared;
                if overflow {
                    return ControlFlow::Break(());
                }
                if let Some(hasher) = cur.hasher.as_mut() {
                    hasher.update(piece);
                }
                if cur.keep {
                    cur.data.extend_from_slice(piece);
                }
                ControlFlow::Continue(())
            })
            .map_err(|_| PackError::Zlib(cur.offset))?;
        if overflow {
            return Err(IndexError::Overflow(cur.offset));
        }
        self.sha.update(&data[..used]);
        current.crc.update(&data[..used]);
        self.offset += used as u64;
        self.spool.append(&data[..used])?;
        if !done {
            self.phase = Phase::EntryData(current);
            return Ok(used);
        }
        if current.produced != declared {
            return Err(IndexError::Short {
                offset: current.offset,
                produced: current.produced,
                declared,
            });
        }
        self.finish_entry(*current)?;
        self.phase = self.after_entry();
        Ok(used)
    }

    fn reader<'a>(
        &'a self,
        find: &'a dyn Fn(&ObjectId) -> Result<Option<u64>, PackError>,
    ) -> PackObjects<'a> {
        PackObjects::new(self.push(), &self.spool, find, &self.cache)
    }

    /// The object whose entry is at `offset`, its REF_DELTA bases found among the entries.
    fn object_at(&self, offset: u64) -> Result<Object, PackError> {
        let find = |id: &ObjectId| Ok(self.entries.of(id)?.map(|e| e.offset));
        self.reader(&find).object_at(offset)
    }

    /// Rebuilds the delta at `offset`, whose base is resolved: from `payload` when it is
    /// at hand, else streaming it from the spool.
    fn rebuild(&self, offset: u64, payload: Option<(u64, &[u8])>) -> Result<Resolved, IndexError> {
        let mut rebuilt = Rebuilt {
            offset,
            max_object: self.max_object,
            begun: None,
            data: None,
        };
        let find = |id: &ObjectId| Ok(self.entries.of(id)?.map(|e| e.offset));
        let reader = self.reader(&find).with_scratch(&self.scratch);
        let read = match payload {
            Some((base, delta)) => reader.stream_delta(base, delta, &mut rebuilt),
            None => reader.stream_at(offset, &mut rebuilt),
        };
        match read {
            Err(IndexError::Pack(PackError::Delta(why))) => Err(IndexError::Delta { offset, why }),
            Err(e) => Err(e),
            Ok(()) => {
                let (kind, size, hasher) = rebuilt.begun.expect("begun before it ends");
                Ok(Resolved {
                    id: hasher.finish(),
                    kind,
                    size,
                    data: rebuilt.data.map(Rc::new),
                })
            }
        }
    }

    /// A delta's resolved base entry (its offset and depth), or else what the delta
    /// waits for.
    fn base_of(
        &self,
        kind: EntryKind,
        offset: u64,
    ) -> Result<Result<(u64, usize), Base>, IndexError> {
        match kind {
            // Never asked: only deltas have a base.
            EntryKind::Whole(_) => Err(IndexError::NoBaseEntry(offset)),
            EntryKind::OfsDelta(base) => match self.entries.base_at(base)? {
                None => Err(IndexError::NoBaseEntry(offset)),
                Some(Some(depth)) => Ok(Ok((base, depth))),
                Some(None) => Ok(Err(Base::Offset(base))),
            },
            EntryKind::RefDelta(id) => match self.entries.of(&id)? {
                Some(entry) => Ok(Ok((entry.offset, entry.depth))),
                None => Ok(Err(Base::Id(id))),
            },
        }
    }

    fn finish_entry(&mut self, current: Current) -> Result<(), IndexError> {
        let mut entry = EntryRow {
            offset: current.offset,
            crc32: current.crc.finalize(),
            resolved: None,
            size: current.produced,
            depth: 0,
            waits_for: None,
        };
        let offset = entry.offset;
        let (kind, data) = match current.header.kind {
            EntryKind::Whole(kind) => {
                let id = current.hasher.expect("whole objects are hashed").finish();
                entry.resolved = Some((id, kind));
                (kind, current.keep.then(|| Rc::new(current.data)))
            }
            delta_kind => match self.base_of(delta_kind, offset)? {
                Err(base) => {
                    entry.waits_for = Some(base);
                    return Ok(self.entries.add(entry)?);
                }
                Ok((base, base_depth)) => {
                    entry.depth = deeper(base_depth, offset)?;
                    let payload = current.keep.then_some((base, &current.data[..]));
                    let rebuilt = self.rebuild(offset, payload)?;
                    entry.size = rebuilt.size;
                    entry.resolved = Some((rebuilt.id, rebuilt.kind));
                    (rebuilt.kind, rebuilt.data)
                }
            },
        };
        self.learn(&entry, kind, data)?;
        self.entries.add(entry)?;
        self.release(entry)
    }

    /// Resolves every delta that waited for `entry`, and theirs in turn: a walk down from
    /// each base, whatever order the entries came in.
    fn release(&mut self, entry: EntryRow) -> Result<(), IndexError> {
        let mut ready = self.waiting_for(&entry)?;
        while let Some(offset) = ready.pop() {
            let header = pack::entry_header(&self.spool, offset)?;
            let Ok((_, base_depth)) = self.base_of(header.kind, offset)? else {
                return Err(IndexError::Unresolved(1));
            };
            let depth = deeper(base_depth, offset)?;
            let rebuilt = self.rebuild(offset, None)?;
            let child = EntryRow {
                resolved: Some((rebuilt.id, rebuilt.kind)),
                size: rebuilt.size,
                depth,
                waits_for: None,
                ..self
                    .entries
                    .at(offset)?
                    .ok_or(IndexError::NoBaseEntry(offset))?
            };
            self.learn(&child, rebuilt.kind, rebuilt.data)?;
            self.entries.resolved(child)?;
            ready.extend(self.waiting_for(&child)?);
        }
        Ok(())
    }

    /// The deltas that wait for the resolved `entry`, by its offset or its id.
    fn waiting_for(&mut self, entry: &EntryRow) -> Result<Vec<u64>, IndexError> {
        let mut waiting = self.entries.waiting_for(Base::Offset(entry.offset))?;
        if let Some((id, _)) = entry.resolved {
            waiting.extend(self.entries.waiting_for(Base::Id(id))?);
        }
        Ok(waiting)
    }

    /// Takes what a resolved object tells: the objects it links to, its place in the
    /// commit graph, and its data as a possible base.
    fn learn(
        &mut self,
        entry: &EntryRow,
        kind: ObjectType,
        data: Option<Rc<Vec<u8>>>,
    ) -> Result<(), IndexError> {
        let (id, _) = entry.resolved.expect("learnt once resolved");
        self.largest = self.largest.max(entry.size);
        if kind != ObjectType::Blob {
            let data = data.as_ref().expect("non-blob data is kept");
            let links =
                object::links(kind, data).map_err(|why| IndexError::BadObject { kind, id, why })?;
            self.entries.link(links.refs)?;
            if self.entries.linked() > self.max_links {
                return Err(IndexError::OverLimit(OverLimit {
                    what: "the pack's trees, commits and tags make too many links".into(),
                    limit: self.max_links,
                    var: "MAX_PUSH_LINKS",
                }));
            }
            if kind == ObjectType::Commit {
                self.entries.commit(CommitInfo {
                    id,
                    time: links.commit_time,
                    parents: links.parents,
                })?;
            }
        }
        if let Some(data) = data {
            let at = EntryAt {
                pack: self.push(),
                offset: entry.offset,
            };
            self.cache.borrow_mut().insert(at, kind, data);
        }
        Ok(())
    }

    /// Stages every object as a loose object of the push (a small push).
    fn stage_loose(&self) -> Result<Stored, IndexError> {
        let store = self.spool.store();
        for object in self.entries.objects()? {
            let Object { kind, data } = self.object_at(object.offset)?;
            store.stage_loose(self.push(), &object.id, loose::encode(kind, &data))?;
        }
        Ok(Stored::Loose)
    }

    /// Verifies the end of the pack, checks that every delta resolved and no object came
    /// twice, and writes the idx (pack form) or stages loose objects (small pushes).
    /// Nothing becomes visible yet.
    pub fn finish(mut self) -> Result<Indexed, IndexError> {
        match self.phase {
            Phase::Done => {}
            Phase::Header if self.offset == 0 => return Err(IndexError::NoData),
            _ => return Err(IndexError::Truncated(self.offset)),
        }
        let checksum = ObjectId(std::mem::take(&mut self.sha).finish());
        if checksum.0[..] != self.partial[..] {
            return Err(IndexError::Checksum);
        }
        let links = self.entries.flush()?;
        let store = self.spool.store();
        let push = self.push();
        if self.entries.waiting() > 0 {
            return Err(IndexError::Unresolved(self.entries.waiting() as usize));
        }
        if let Some(id) = self.entries.duplicate()? {
            return Err(IndexError::Duplicate(id));
        }
        self.scratch.clear()?;
        let stored = if self.count < UNPACK_LIMIT && self.largest <= MAX_LOOSE_OBJECT {
            // Read from the spool's last row still in memory: the pack itself is dropped,
            // so that row is never written (nor deleted, two rows and one billed).
            self.stage_loose()?
        } else {
            self.spool.flush()?;
            self.ends.append(&ends::encode(self.offset - 20))?;
            self.ends.flush()?;
            let rows = match self.entries.held() {
                Some(held) => IdxEntries::Held(held),
                None => IdxEntries::Stored(IdxSource::Push(push)),
            };
            let idx_size = write_idx(store, push, rows, &checksum)?;
            Stored::Pack {
                name: checksum.to_hex(),
                size: self.offset,
                idx_size,
            }
        };
        Ok(Indexed {
            push,
            stored,
            held: self.entries.take_held(),
            links,
        })
    }
}
