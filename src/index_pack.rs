//! Indexing a pack while it streams in (git's `index-pack`): the bytes are spooled into
//! chunk rows as they arrive, every object id is computed, deltas are resolved against
//! earlier entries through a bounded cache, and the links needed for the connectivity
//! check and the commit graph are collected. Memory stays bounded by the largest object
//! plus the cache, never by the size of the pack.

use crate::format::pack::PackId;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::rc::Rc;

use sha1::{Digest, Sha1};

use crate::format::delta::{self, DeltaError};
use crate::format::idx::{self, IdxEntry};
use crate::format::loose;
use crate::format::object::{self, BadObject, ObjectHasher, ObjectId, ObjectType};
use crate::format::pack::{
    self, BaseCache, ChunkSource, EntryAt, EntryHeader, EntryKind, Object, PackError, PackObjects,
    BASE_CACHE_BYTES,
};
use crate::format::zlib::Inflater;
use crate::limits::OverLimit;
use crate::store::sql::Sql;
use crate::store::{CommitInfo, NewObject, PackFile, Store, StoreError, StoredChunks};

/// Pushes with fewer objects than this are stored as loose objects (git's `transfer.unpackLimit`).
pub const UNPACK_LIMIT: u32 = 100;

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
    /// Deltas whose bases are neither in the pack nor resolvable.
    #[error("pack has {n} unresolved delta{s} (missing delta base)", n = .0, s = if *.0 == 1 { "" } else { "s" })]
    Unresolved(usize),
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

/// Everything known about a fully received and verified pack.
#[derive(Debug)]
pub struct Indexed {
    /// The pending pack row that owns what the push wrote.
    pub push: PackId,
    /// How it is stored.
    pub stored: Stored,
    /// Every object in the pack.
    pub objects: Vec<NewObject>,
    /// Objects the pack refers to but does not contain: they must already be stored.
    pub needed: HashSet<ObjectId>,
    /// The commits in the pack.
    pub commits: Vec<CommitInfo>,
}

impl Indexed {
    /// The type of an object in this pack.
    pub fn kind_of(&self, id: &ObjectId) -> Option<ObjectType> {
        self.objects.iter().find(|o| o.id == *id).map(|o| o.kind)
    }
}

/// One entry, as the idx and the object index need it.
struct Entry {
    offset: u64,
    crc32: u32,
    /// None while a delta waits for its base.
    resolved: Option<(ObjectId, ObjectType)>,
    size: u64,
    /// Deltas between this entry and a whole object.
    depth: usize,
}

/// What a delta waiting for its base names it by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Base {
    /// An OFS_DELTA's base entry.
    Offset(u64),
    /// A REF_DELTA's base object.
    Id(ObjectId),
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
    /// Whether `data` keeps the inflated bytes (a large blob is only hashed).
    keep: bool,
}

enum Phase {
    Header,
    EntryHeader,
    EntryData(Box<Current>),
    Trailer,
    Done,
}

/// The pack's bytes as they are written into chunk rows; earlier bytes read back from them.
struct Spool<'s, S: Sql> {
    store: &'s Store<S>,
    push: PackId,
    tail: Vec<u8>,
    flushed: u64,
    stored: StoredChunks<S>,
}

impl<S: Sql> Spool<'_, S> {
    fn append(&mut self, mut bytes: &[u8]) -> Result<(), IndexError> {
        let size = self.store.chunk_size() as usize;
        while !bytes.is_empty() {
            let take = (size - self.tail.len()).min(bytes.len());
            self.tail.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.tail.len() == size {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IndexError> {
        if !self.tail.is_empty() {
            self.store
                .write_chunk(self.push, PackFile::Pack, self.flushed, &self.tail)?;
            self.flushed += 1;
            self.tail.clear();
        }
        Ok(())
    }
}

impl<S: Sql> ChunkSource for Spool<'_, S> {
    fn chunk_size(&self) -> u64 {
        self.store.chunk_size()
    }

    fn chunk(&self, seq: u64) -> Result<Rc<Vec<u8>>, PackError> {
        if seq < self.flushed {
            self.stored.chunk(seq)
        } else if seq == self.flushed {
            Ok(Rc::new(self.tail.clone()))
        } else {
            Ok(Rc::default())
        }
    }
}

/// A pack being received: feed it bytes as they arrive, then [`IndexPack::finish`].
pub struct IndexPack<'s, S: Sql> {
    spool: Spool<'s, S>,
    /// The largest object taken, whole or as a delta's result.
    max_object: u64,
    sha: Sha1,
    phase: Phase,
    partial: Vec<u8>,
    offset: u64,
    count: u32,
    inflater: Inflater,
    entries: Vec<Entry>,
    by_id: HashMap<ObjectId, usize>,
    /// Deltas whose base had not been resolved when they arrived, by that base.
    waiting: HashMap<Base, Vec<usize>>,
    cache: RefCell<BaseCache>,
    needed: HashSet<ObjectId>,
    commits: Vec<CommitInfo>,
}

impl<'s, S: Sql> IndexPack<'s, S> {
    /// Starts receiving a pack into `store`, owned by the pending row `push`, taking
    /// objects of at most `max_object` bytes.
    pub fn new(store: &'s Store<S>, push: PackId, max_object: u64) -> IndexPack<'s, S> {
        IndexPack {
            max_object,
            spool: Spool {
                store,
                push,
                tail: Vec::new(),
                flushed: 0,
                stored: StoredChunks::new(store, push, PackFile::Pack),
            },
            sha: Sha1::new(),
            phase: Phase::Header,
            partial: Vec::new(),
            offset: 0,
            count: 0,
            inflater: Inflater::new(),
            entries: Vec::new(),
            by_id: HashMap::new(),
            waiting: HashMap::new(),
            cache: RefCell::new(BaseCache::new(BASE_CACHE_BYTES)),
            needed: HashSet::new(),
            commits: Vec::new(),
        }
    }

    /// The pending pack row that owns what this push writes.
    pub fn push(&self) -> PackId {
        self.spool.push
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
        self.spool.append(bytes)
    }

    fn read_pack_header(&mut self, data: &[u8]) -> Result<usize, IndexError> {
        let take = (pack::HEADER_LEN - self.partial.len()).min(data.len());
        self.partial.extend_from_slice(&data[..take]);
        self.absorb(&data[..take], None, true)?;
        self.phase = Phase::Header;
        if self.partial.len() == pack::HEADER_LEN {
            self.count = pack::parse_header(&self.partial)?;
            self.partial.clear();
            self.phase = self.after_entry();
        }
        Ok(take)
    }

    fn after_entry(&mut self) -> Phase {
        self.partial.clear();
        if self.entries.len() as u64 == self.count as u64 {
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
        self.check_size(header.size, offset)?;
        let kind_keeps = match header.kind {
            EntryKind::Whole(ObjectType::Blob) => header.size <= (BASE_CACHE_BYTES / 4) as u64,
            _ => true,
        };
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
            keep: kind_keeps,
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
        PackObjects::new(self.spool.push, &self.spool, find, &self.cache)
    }

    fn offset_of(&self, id: &ObjectId) -> Option<u64> {
        self.by_id.get(id).map(|&i| self.entries[i].offset)
    }

    /// Refuses an object (or a delta) of `size` bytes over the limit.
    fn check_size(&self, size: u64, offset: u64) -> Result<(), IndexError> {
        if size <= self.max_object {
            return Ok(());
        }
        Err(IndexError::OverLimit(OverLimit {
            what: format!("object at offset {offset} is {size} bytes"),
            limit: self.max_object,
            var: "MAX_OBJECT_BYTES",
        }))
    }

    /// Refuses a delta whose result would be over the limit, before it is applied.
    fn check_result_size(&self, delta: &[u8], offset: u64) -> Result<(), IndexError> {
        let (_, result) = delta::sizes(delta).map_err(|why| IndexError::Delta { offset, why })?;
        self.check_size(result, offset)
    }

    /// A delta's base entry (its offset and depth) if the base is resolved, or else what
    /// the delta waits for.
    fn base_of(
        &self,
        kind: EntryKind,
        offset: u64,
    ) -> Result<Result<(u64, usize), Base>, IndexError> {
        let index = match kind {
            // Never asked: only deltas have a base.
            EntryKind::Whole(_) => return Err(IndexError::NoBaseEntry(offset)),
            EntryKind::OfsDelta(base) => {
                let index = self
                    .entries
                    .binary_search_by_key(&base, |e| e.offset)
                    .map_err(|_| IndexError::NoBaseEntry(offset))?;
                if self.entries[index].resolved.is_none() {
                    return Ok(Err(Base::Offset(base)));
                }
                index
            }
            EntryKind::RefDelta(id) => match self.by_id.get(&id) {
                Some(&index) => index,
                None => return Ok(Err(Base::Id(id))),
            },
        };
        let base = &self.entries[index];
        Ok(Ok((base.offset, base.depth)))
    }

    fn finish_entry(&mut self, current: Current) -> Result<(), IndexError> {
        let crc32 = current.crc.finalize();
        let offset = current.offset;
        match current.header.kind {
            EntryKind::Whole(kind) => {
                let id = current.hasher.expect("whole objects are hashed").finish();
                let data = current.keep.then(|| Rc::new(current.data));
                let index = self.record(offset, crc32, current.produced, 0);
                self.resolve(index, id, kind, data)
            }
            delta_kind => match self.base_of(delta_kind, offset)? {
                Err(base) => {
                    let index = self.record(offset, crc32, 0, 0);
                    self.waiting.entry(base).or_default().push(index);
                    Ok(())
                }
                Ok((base_offset, depth)) => {
                    let depth = deeper(depth, offset)?;
                    self.check_result_size(&current.data, offset)?;
                    let find = |id: &ObjectId| Ok(self.offset_of(id));
                    let Object { kind, data: base } = self.reader(&find).object_at(base_offset)?;
                    let data = delta::apply(&base, &current.data)
                        .map_err(|why| IndexError::Delta { offset, why })?;
                    let id = object::hash(kind, &data);
                    let index = self.record(offset, crc32, data.len() as u64, depth);
                    self.resolve(index, id, kind, Some(Rc::new(data)))
                }
            },
        }
    }

    /// Adds an entry, not yet resolved, and returns its index.
    fn record(&mut self, offset: u64, crc32: u32, size: u64, depth: usize) -> usize {
        self.entries.push(Entry {
            offset,
            crc32,
            resolved: None,
            size,
            depth,
        });
        self.entries.len() - 1
    }

    /// Resolves an entry, then every delta that waited for it, and theirs in turn: a walk
    /// down from each base, whatever order the entries came in.
    fn resolve(
        &mut self,
        index: usize,
        id: ObjectId,
        kind: ObjectType,
        data: Option<Rc<Vec<u8>>>,
    ) -> Result<(), IndexError> {
        self.mark_resolved(index, id, kind, data)?;
        let mut ready = self.released_by(index);
        while let Some(child) = ready.pop() {
            let offset = self.entries[child].offset;
            let (header, delta) = pack::read_entry(&self.spool, offset)?;
            self.check_result_size(&delta, offset)?;
            let Ok((_, base_depth)) = self.base_of(header.kind, offset)? else {
                return Err(IndexError::Unresolved(1));
            };
            self.entries[child].depth = deeper(base_depth, offset)?;
            let find = |id: &ObjectId| Ok(self.offset_of(id));
            let Object { kind, data } = self.reader(&find).object_at(offset)?;
            let id = object::hash(kind, &data);
            self.entries[child].size = data.len() as u64;
            self.mark_resolved(child, id, kind, Some(data))?;
            ready.extend(self.released_by(child));
        }
        Ok(())
    }

    /// The deltas that waited for the entry at `index`, now resolved.
    fn released_by(&mut self, index: usize) -> Vec<usize> {
        let entry = &self.entries[index];
        let (id, _) = entry.resolved.expect("resolved");
        let mut released = self
            .waiting
            .remove(&Base::Offset(entry.offset))
            .unwrap_or_default();
        released.extend(self.waiting.remove(&Base::Id(id)).unwrap_or_default());
        released
    }

    fn mark_resolved(
        &mut self,
        index: usize,
        id: ObjectId,
        kind: ObjectType,
        data: Option<Rc<Vec<u8>>>,
    ) -> Result<(), IndexError> {
        if self.by_id.insert(id, index).is_some() {
            return Err(IndexError::Duplicate(id));
        }
        let entry = &mut self.entries[index];
        entry.resolved = Some((id, kind));
        let offset = entry.offset;
        if kind != ObjectType::Blob {
            let data = data.as_ref().expect("non-blob data is kept");
            let links =
                object::links(kind, data).map_err(|why| IndexError::BadObject { kind, id, why })?;
            self.needed.extend(links.refs);
            if kind == ObjectType::Commit {
                self.commits.push(CommitInfo {
                    id,
                    time: links.commit_time,
                    parents: links.parents,
                });
            }
        }
        if let Some(data) = data {
            self.cache.borrow_mut().insert(
                EntryAt {
                    pack: self.spool.push,
                    offset,
                },
                kind,
                data,
            );
        }
        Ok(())
    }

    /// Stages every object as a loose object of the push (a small push).
    fn stage_loose(&self, objects: &[NewObject]) -> Result<Stored, IndexError> {
        let find = |id: &ObjectId| Ok(self.offset_of(id));
        let reader = self.reader(&find);
        for object in objects {
            let Object { kind, data } = reader.object_at(object.offset)?;
            let file = loose::encode(kind, &data);
            self.spool
                .store
                .stage_loose(self.spool.push, &object.id, file)?;
        }
        Ok(Stored::Loose)
    }

    /// Writes the pack's `.idx` into the push's chunk rows.
    fn write_idx(&self, objects: &[NewObject], checksum: &ObjectId) -> Result<Stored, IndexError> {
        let mut idx_entries: Vec<IdxEntry> = self
            .entries
            .iter()
            .zip(objects)
            .map(|(e, o)| IdxEntry {
                id: o.id,
                offset: e.offset,
                crc32: e.crc32,
            })
            .collect();
        let idx = idx::write(&mut idx_entries, checksum);
        let store = self.spool.store;
        for (seq, chunk) in idx.chunks(store.chunk_size() as usize).enumerate() {
            store.write_chunk(self.spool.push, PackFile::Idx, seq as u64, chunk)?;
        }
        Ok(Stored::Pack {
            name: checksum.to_hex(),
            size: self.offset,
            idx_size: idx.len() as u64,
        })
    }

    /// Verifies the end of the pack, resolves what is left, and writes the idx (pack
    /// form) or stages loose objects (small pushes). Nothing becomes visible yet.
    pub fn finish(mut self) -> Result<Indexed, IndexError> {
        match self.phase {
            Phase::Done => {}
            Phase::Header if self.offset == 0 => return Err(IndexError::NoData),
            _ => return Err(IndexError::Truncated(self.offset)),
        }
        let checksum = ObjectId(std::mem::take(&mut self.sha).finalize().into());
        if checksum.0[..] != self.partial[..] {
            return Err(IndexError::Checksum);
        }
        let unresolved: usize = self.waiting.values().map(Vec::len).sum();
        if unresolved > 0 {
            return Err(IndexError::Unresolved(unresolved));
        }
        self.spool.flush()?;
        let push = self.spool.push;
        let objects: Vec<NewObject> = self
            .entries
            .iter()
            .map(|e| {
                let (id, kind) = e.resolved.expect("all resolved");
                NewObject {
                    id,
                    kind,
                    offset: e.offset,
                }
            })
            .collect();
        let loose =
            self.count < UNPACK_LIMIT && self.entries.iter().all(|e| e.size <= MAX_LOOSE_OBJECT);
        let stored = if loose {
            self.stage_loose(&objects)?
        } else {
            self.write_idx(&objects, &checksum)?
        };
        let by_id = &self.by_id;
        self.needed.retain(|id| !by_id.contains_key(id));
        Ok(Indexed {
            push,
            stored,
            objects,
            needed: self.needed,
            commits: self.commits,
        })
    }
}
