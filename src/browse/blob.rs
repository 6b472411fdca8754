//! A blob's bytes as an HTTP body (git's `cat-file blob`): a range of them, in pieces,
//! within the memory budget however large the blob. A blob small enough is held whole; a
//! larger one stored whole in a pack is inflated piece by piece as the body is read; any
//! other (a delta) is first written, as it inflates, to a scratch file of its reader's,
//! which the pieces are then read from and which goes with the reader.

use std::ops::{ControlFlow, Range};
use std::rc::Rc;

use crate::format::object::{ObjectId, ObjectType};
use crate::format::pack::{entry_header, piece_at, EntryKind, ObjectSink, PackError, MAX_HELD};
use crate::format::zlib::Inflater;
use crate::store::sql::Sql;
use crate::store::{
    ChunkFile, ChunkWriter, FileRange, Located, Location, ObjectReader, PackFile, Store,
    StoreError, StoredChunks,
};

/// The scratch file a large blob is written to: chains of deltas use the first two.
const SLOT: u8 = 2;

/// About the most bytes one piece carries.
const PIECE: usize = 256 << 10;

/// The size of blob `id`, or None when no blob has that id.
pub fn size<S: Sql>(reader: &ObjectReader<S>, id: &ObjectId) -> Result<Option<u64>, StoreError> {
    match reader.store().locate(id)? {
        Some(Located {
            kind: ObjectType::Blob,
            ..
        }) => {}
        _ => return Ok(None),
    }
    Ok(reader.sizes(std::slice::from_ref(id))?.get(id).copied())
}

/// The bytes of a blob still to send.
enum Content<S: Sql> {
    Held(Rc<Vec<u8>>),
    Kept(FileRange<S>),
    Inflating(Inflating<S>),
}

/// A whole pack entry being inflated as it is sent.
struct Inflating<S: Sql> {
    pack: StoredChunks<S>,
    inflater: Inflater,
    /// Where the compressed data goes on in the pack.
    at: u64,
    /// How many bytes of the blob have been inflated.
    inflated: u64,
}

/// The pieces of a range of a blob, as an iterator for a streamed body.
pub struct Pieces<S: Sql> {
    /// Owns the scratch file, if the blob is kept in one: it is dropped with the reader.
    _reader: ObjectReader<S>,
    content: Content<S>,
    at: u64,
    end: u64,
}

/// The bytes `range` of blob `id` (of `size` bytes, which [`size`] gave), in pieces.
pub fn pieces<S: Sql>(
    store: &Store<S>,
    id: &ObjectId,
    size: u64,
    range: Range<u64>,
) -> Result<Pieces<S>, StoreError> {
    let range = range.start..range.end.min(size);
    let reader = ObjectReader::new(store);
    let located = reader.store().locate(id)?.ok_or(StoreError::Missing {
        kind: "blob",
        id: *id,
    })?;
    let content = if size <= MAX_HELD {
        Content::Held(reader.read_at(id, located.kind, located.location)?.data)
    } else if let Some(inflating) = whole_entry(store, located.location)? {
        Content::Inflating(inflating)
    } else {
        let writer = reader.scratch().create_file(SLOT)?;
        let owner = writer.owner();
        let mut sink = ScratchSink(writer);
        reader.stream_at(id, located.kind, located.location, &mut sink)?;
        sink.0.flush()?;
        Content::Kept(store.file_range(owner, ChunkFile::Scratch(SLOT), range.clone()))
    };
    Ok(Pieces {
        _reader: reader,
        content,
        at: range.start,
        end: range.end,
    })
}

/// The inflation of the entry at `location`, if it is a whole entry of a pack.
fn whole_entry<S: Sql>(
    store: &Store<S>,
    location: Location,
) -> Result<Option<Inflating<S>>, StoreError> {
    let Location::Packed { pack, offset } = location else {
        return Ok(None);
    };
    let chunks = StoredChunks::new(store, pack, PackFile::Pack);
    let header = entry_header(&chunks, offset)?;
    Ok(match header.kind {
        EntryKind::Whole(_) => Some(Inflating {
            pack: chunks,
            inflater: Inflater::new(),
            at: offset + header.len as u64,
            inflated: 0,
        }),
        _ => None,
    })
}

impl<S: Sql> Inflating<S> {
    /// The next bytes of the blob that lie within `range`, at least one unless it has
    /// ended, at most about [`PIECE`].
    fn next_piece(&mut self, range: Range<u64>) -> Result<Vec<u8>, StoreError> {
        let mut piece = Vec::new();
        while piece.is_empty() && self.inflated < range.end {
            let input = piece_at(&self.pack, self.at, u64::MAX)?;
            let inflated = &mut self.inflated;
            let (used, done) = self
                .inflater
                .feed(input.bytes(), &mut |bytes| {
                    let from = *inflated;
                    *inflated += bytes.len() as u64;
                    let (low, high) = (from.max(range.start), (*inflated).min(range.end));
                    if low < high {
                        let wanted = (low - from) as usize..(high - from) as usize;
                        piece.extend_from_slice(bytes.get(wanted).unwrap_or_default());
                    }
                    match piece.len() >= PIECE || *inflated >= range.end {
                        true => ControlFlow::Break(()),
                        false => ControlFlow::Continue(()),
                    }
                })
                .map_err(|_| PackError::Zlib(self.at))?;
            self.at += used as u64;
            if (done || input.bytes().is_empty()) && self.inflated < range.end {
                return Err(PackError::Zlib(self.at).into());
            }
        }
        Ok(piece)
    }
}

/// Writes an object into a scratch file as it inflates.
struct ScratchSink<'s, S: Sql>(ChunkWriter<'s, S>);

impl<S: Sql> ObjectSink for ScratchSink<'_, S> {
    type Error = StoreError;

    fn begin(&mut self, _: ObjectType, _: u64) -> Result<(), StoreError> {
        Ok(())
    }

    fn data(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.0.append(bytes)
    }
}

impl<S: Sql> Iterator for Pieces<S> {
    type Item = Result<Vec<u8>, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.end {
            return None;
        }
        let piece = match &mut self.content {
            Content::Held(data) => {
                let start = self.at as usize;
                let end = (self.end as usize).min(start + PIECE).min(data.len());
                data.get(start..end).unwrap_or_default().to_vec()
            }
            Content::Kept(range) => return range.next(),
            Content::Inflating(inflating) => match inflating.next_piece(self.at..self.end) {
                Ok(piece) => piece,
                Err(e) => return Some(Err(e)),
            },
        };
        // Bytes that are not there end the body where they end.
        self.at = match piece.is_empty() {
            true => self.end,
            false => self.at + piece.len() as u64,
        };
        Some(Ok(piece))
    }
}
