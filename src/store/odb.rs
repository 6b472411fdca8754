//! Reading whole objects back, loose or packed, through one cache of delta bases; peeling
//! tags.

use crate::format::pack::PackId;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use super::packs::RecentChunks;
use super::{ChunkFile, Located, Location, PackFile, ScratchRows, Store, StoreError, StoredChunks};
use crate::format::object::{self, BadObject, ObjectId, ObjectType};
use crate::format::pack::{
    self, BaseCache, ChunkPiece, EntryHeader, Object, ObjectSink, PackError, PackObjects,
    BASE_CACHE_BYTES,
};
use crate::format::{ends, idx, loose};
use crate::store::sql::Sql;

/// Where a chain of annotated tags leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peeled {
    /// The tags passed through, the starting object first if it is a tag.
    pub tags: Vec<ObjectId>,
    /// The first object that is not a tag.
    pub target: ObjectId,
    /// Its type, or None when it is not stored.
    pub kind: Option<ObjectType>,
}

/// Locations a reader learns in bulk, at most (about 60 bytes each).
const MAX_KNOWN: usize = 200_000;

/// A shared chunk reader of one stored file.
type Reader<S> = Rc<StoredChunks<S>>;

/// Reads many objects, sharing one cache of delta bases, one chunk reader per pack, and
/// scratch files for large delta bases.
pub struct ObjectReader<S: Sql> {
    store: Store<S>,
    /// One chunk reader per file read, so that consecutive reads share its last rows.
    files: RefCell<HashMap<(PackId, ChunkFile), Reader<S>>>,
    /// Of each pack whose entries were copied: how many its ends file lists (None without
    /// one), and the place of the entry found last.
    ends: RefCell<HashMap<PackId, (Option<u64>, u64)>>,
    /// The rows those readers read last, whichever packs they are of: the instance's (see
    /// [`Store`]). A walk of the trees reads objects scattered through a pack, and their
    /// delta bases further away still; with one row kept, most reads fetched a whole row
    /// again (a clone with `--filter=blob:none` spent two thirds of its time so), with four,
    /// few do.
    recent: Rc<RefCell<RecentChunks>>,
    cache: RefCell<BaseCache>,
    scratch: ScratchRows<S>,
    /// Locations learnt in bulk ([`ObjectReader::learn`]), so reads need no query.
    known: RefCell<HashMap<ObjectId, Located>>,
    /// Steps the walks of this reader's request may still take, and how many they had.
    steps_left: Cell<u64>,
    steps: Cell<u64>,
}

/// Steps one request's walks may take together, unless told otherwise
/// ([`ObjectReader::set_walk_budget`]).
pub const MAX_STEPS: u64 = 100_000;

/// The reader's scratch row goes with it. Should removing it fail, the row is a leftover
/// that `Store::open` removes at the next start.
impl<S: Sql> Drop for ObjectReader<S> {
    fn drop(&mut self) {
        if let Some(owner) = self.scratch.made_owner() {
            let _ = self.store.drop_scratch_row(owner);
        }
    }
}

impl<S: Sql> ObjectReader<S> {
    /// The store it reads.
    pub fn store(&self) -> &Store<S> {
        &self.store
    }

    /// The reader's scratch files.
    pub fn scratch(&self) -> &ScratchRows<S> {
        &self.scratch
    }

    /// A reader over `store`.
    pub fn new(store: &Store<S>) -> Self {
        ObjectReader {
            store: store.clone(),
            files: RefCell::new(HashMap::new()),
            ends: RefCell::new(HashMap::new()),
            recent: store.recent_chunks(),
            cache: RefCell::new(BaseCache::new(BASE_CACHE_BYTES)),
            scratch: ScratchRows::new(store, None),
            known: RefCell::new(HashMap::new()),
            steps_left: Cell::new(MAX_STEPS),
            steps: Cell::new(MAX_STEPS),
        }
    }

    /// Gives the walks of this reader's request `steps` steps in all, from now.
    pub fn set_walk_budget(&self, steps: u64) {
        self.steps.set(steps);
        self.steps_left.set(steps);
    }

    /// Takes one step of a walk (a commit walked, a parent followed, a revision tried, a
    /// tree descended): every walk a request starts shares one budget, so no request can
    /// hold the repository for long whatever it names. Err(the budget) once it is spent.
    pub fn step(&self) -> Result<(), u64> {
        match self.steps_left.get() {
            0 => Err(self.steps.get()),
            left => {
                self.steps_left.set(left - 1);
                Ok(())
            }
        }
    }

    fn chunks(&self, pack: PackId, file: impl Into<ChunkFile>) -> Rc<StoredChunks<S>> {
        let file = file.into();
        self.files
            .borrow_mut()
            .entry((pack, file))
            .or_insert_with(|| {
                Rc::new(StoredChunks::new(&self.store, pack, file).sharing(&self.recent))
            })
            .clone()
    }

    /// Visits where each of `ids` that is stored is, once, looked up in id order: a caller
    /// that builds its own list of them holds no map besides.
    pub fn locate_each(
        &self,
        ids: &[ObjectId],
        mut visit: impl FnMut(ObjectId, Located),
    ) -> Result<(), StoreError> {
        self.store
            .find_each(ids, |id, stored| visit(id, stored.located))
    }

    /// Whether packed objects can be located a few at a time for the price of locating them
    /// all at once: the multi-pack index stays in memory once read (loose ones cost a
    /// statement per lookup that names any).
    pub fn locates_cheaply(&self) -> Result<bool, StoreError> {
        self.store.index_fits_cache()
    }

    /// Empties the caches of delta bases and index pages: after a walk of trees they hold
    /// trees and the pages that found them, and a pack that copies stored entries rarely
    /// reads either again.
    pub fn forget_walk(&self) {
        *self.cache.borrow_mut() = BaseCache::new(BASE_CACHE_BYTES);
        self.store.forget_pages();
    }

    /// Learns where `ids` are in one query, for reads of them about to follow.
    pub fn learn(&self, ids: &[ObjectId]) -> Result<(), StoreError> {
        let unknown: Vec<ObjectId> = {
            let known = self.known.borrow();
            ids.iter()
                .filter(|id| !known.contains_key(id))
                .copied()
                .collect()
        };
        if unknown.is_empty() || self.known.borrow().len() + unknown.len() > MAX_KNOWN {
            return Ok(());
        }
        let found = self.store.locate_many(&unknown)?;
        self.known.borrow_mut().extend(found);
        Ok(())
    }

    /// Where `id` is, if stored.
    pub fn locate(&self, id: &ObjectId) -> Result<Option<Located>, StoreError> {
        match self.known.borrow().get(id) {
            Some(&known) => Ok(Some(known)),
            None => self.store.locate(id),
        }
    }

    /// A whole object, if stored.
    pub fn read(&self, id: &ObjectId) -> Result<Option<Object>, StoreError> {
        match self.locate(id)? {
            None => Ok(None),
            Some(Located { kind, location }) => self.read_at(id, kind, location).map(Some),
        }
    }

    /// A whole object whose location is known.
    pub fn read_at(
        &self,
        id: &ObjectId,
        kind: ObjectType,
        location: Location,
    ) -> Result<Object, StoreError> {
        match location {
            Location::Loose => {
                let file = self.store.loose_object(id)?.ok_or(StoreError::Missing {
                    kind: "loose object",
                    id: *id,
                })?;
                let (_, data) = loose::parse(&file)
                    .filter(|(k, _)| *k == kind)
                    .ok_or(StoreError::CorruptLoose(*id))?;
                Ok(Object {
                    kind,
                    data: Rc::new(data),
                })
            }
            Location::Packed { pack, offset } => Ok(self.object_at(pack, offset)?),
        }
    }

    /// The object whose entry is at `offset` in `pack`.
    pub fn object_at(&self, pack: PackId, offset: u64) -> Result<Object, PackError> {
        self.in_pack(pack, |objects| objects.object_at(offset))
    }

    /// Streams an object whose location is known into `sink`, however large.
    pub fn stream_at<K: ObjectSink>(
        &self,
        id: &ObjectId,
        kind: ObjectType,
        location: Location,
        sink: &mut K,
    ) -> Result<(), K::Error>
    where
        K::Error: From<StoreError>,
    {
        match location {
            Location::Loose => {
                let Object { data, .. } = self.read_at(id, kind, location)?;
                sink.begin(kind, data.len() as u64)?;
                sink.data(&data)
            }
            Location::Packed { pack, offset } => self.stream_entry(pack, offset, sink),
        }
    }

    /// Streams the object whose entry is at `offset` in `pack` into `sink`.
    pub fn stream_entry<K: ObjectSink>(
        &self,
        pack: PackId,
        offset: u64,
        sink: &mut K,
    ) -> Result<(), K::Error>
    where
        K::Error: From<StoreError>,
    {
        self.in_pack(pack, |objects| objects.stream_at(offset, sink))
    }

    /// The sizes of those of `ids` that are stored: as their rows record them, or, for rows
    /// indexed before sizes were recorded, read from their bytes.
    pub fn sizes(&self, ids: &[ObjectId]) -> Result<HashMap<ObjectId, u64>, StoreError> {
        let mut sizes = self.store.object_sizes(ids)?;
        for id in ids {
            if !sizes.contains_key(id) {
                if let Some(size) = self.size_from_bytes(id)? {
                    sizes.insert(*id, size);
                }
            }
        }
        Ok(sizes)
    }

    /// The size of a stored object read from its bytes: streamed, so in bounded memory.
    fn size_from_bytes(&self, id: &ObjectId) -> Result<Option<u64>, StoreError> {
        let Some(Located { kind, location }) = self.locate(id)? else {
            return Ok(None);
        };
        struct Size(u64);
        impl ObjectSink for Size {
            type Error = StoreError;
            fn begin(&mut self, _: ObjectType, size: u64) -> Result<(), StoreError> {
                self.0 = size;
                Ok(())
            }
            fn data(&mut self, _: &[u8]) -> Result<(), StoreError> {
                Ok(())
            }
        }
        let mut size = Size(0);
        self.stream_at(id, kind, location, &mut size)?;
        Ok(Some(size.0))
    }

    /// Runs `read` on a reader of `pack`'s objects.
    fn in_pack<T>(&self, pack: PackId, read: impl FnOnce(&PackObjects) -> T) -> T {
        let source = self.chunks(pack, PackFile::Pack);
        // A REF_DELTA's base is in the same pack. Its object row usually points there; when
        // an older copy holds the row, the pack's own index says where this pack has it.
        let find = |base: &ObjectId| -> Result<Option<u64>, PackError> {
            match self.locate(base)? {
                Some(Located {
                    location: Location::Packed { pack: p, offset },
                    ..
                }) if p == pack => Ok(Some(offset)),
                _ => idx::find(&*self.chunks(pack, PackFile::Idx), base),
            }
        };
        let objects =
            PackObjects::new(pack, &*source, &find, &self.cache).with_scratch(&self.scratch);
        read(&objects)
    }

    /// Follows a chain of annotated tags from `id`.
    pub fn peel(&self, id: ObjectId) -> Result<Peeled, StoreError> {
        let mut tags = Vec::new();
        let mut at = id;
        while tags.len() < 64 {
            match self.store.locate(&at)? {
                Some(Located {
                    kind: ObjectType::Tag,
                    location,
                }) => {
                    let data = self.read_at(&at, ObjectType::Tag, location)?.data;
                    let corrupt = |why| StoreError::Corrupt {
                        kind: ObjectType::Tag,
                        id: at,
                        why,
                    };
                    let target = object::links(ObjectType::Tag, &data)
                        .map_err(corrupt)?
                        .tag_target
                        .ok_or(corrupt(BadObject::TagWithoutObject))?;
                    tags.push(at);
                    at = target;
                }
                found => {
                    return Ok(Peeled {
                        tags,
                        target: at,
                        kind: found.map(|located| located.kind),
                    })
                }
            }
        }
        Err(StoreError::TagChainTooLong(id))
    }

    /// The entry at `offset` in `pack` as stored: its header and where its compressed data
    /// is, which the pack's ends file tells; a pack without one has the entry inflated to
    /// find its end.
    pub fn extent(
        &self,
        pack: PackId,
        offset: u64,
    ) -> Result<(EntryHeader, std::ops::Range<u64>), PackError> {
        let source = self.chunks(pack, PackFile::Pack);
        let Some(end) = self.entry_end(pack, offset)? else {
            return pack::entry_extent(&*source, offset);
        };
        let header = pack::entry_header(&*source, offset)?;
        let start = offset + header.len as u64;
        if end <= start {
            return Err(PackError::BadEnds);
        }
        Ok((header, start..end))
    }

    /// Where the data of the entry at `offset` in `pack` end, from the pack's ends file;
    /// None without one, or if it lists no entry there.
    fn entry_end(&self, pack: PackId, offset: u64) -> Result<Option<u64>, PackError> {
        let source = self.chunks(pack, ChunkFile::Ends);
        let known = self.ends.borrow().get(&pack).copied();
        let (count, hint) = match known {
            Some(known) => known,
            None => match self.store.file_head(pack, ChunkFile::Ends, ends::HEAD)? {
                Some(head) => (Some(ends::count(&head)?), 0),
                None => (None, 0),
            },
        };
        let found = match count {
            Some(count) => ends::end_of(&*source, count, offset, hint)?,
            None => None,
        };
        let hint = found.map_or(hint, |(_, place)| place);
        self.ends.borrow_mut().insert(pack, (count, hint));
        Ok(found.map(|(end, _)| end))
    }

    /// The bytes of `file` from `at` up to `end` that lie in one chunk row, read through the
    /// reader's chunk cache.
    pub fn piece(
        &self,
        pack: PackId,
        file: PackFile,
        at: u64,
        end: u64,
    ) -> Result<ChunkPiece, PackError> {
        pack::piece_at(&*self.chunks(pack, file), at, end)
    }
}
