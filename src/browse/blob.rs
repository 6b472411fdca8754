//! A blob's bytes as an HTTP body (git's `cat-file blob`): a range of them, in pieces,
//! within the memory budget however large the blob. A blob small enough is held whole; a
//! larger one is first written, as it inflates, to a scratch file of its reader's, which
//! the pieces are then read from and which goes with the reader.

use std::ops::Range;
use std::rc::Rc;

use crate::format::object::{ObjectId, ObjectType};
use crate::format::pack::{ObjectSink, MAX_HELD};
use crate::store::sql::Sql;
use crate::store::{
    ChunkFile, ChunkWriter, Located, ObjectReader, Store, StoreError, StoredChunks,
};

/// The scratch file a large blob is written to: chains of deltas use the first two.
const SLOT: u8 = 2;

/// The most bytes one piece of a held blob carries.
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
    match reader
        .store()
        .object_sizes(std::slice::from_ref(id))?
        .get(id)
    {
        Some(&size) => Ok(Some(size)),
        None => reader.size_from_bytes(id),
    }
}

/// The bytes of a blob still to send.
enum Content<S: Sql> {
    Held(Rc<Vec<u8>>),
    Kept(StoredChunks<S>),
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
    let reader = ObjectReader::new(store);
    let located = reader.store().locate(id)?.ok_or(StoreError::Missing {
        kind: "blob",
        id: *id,
    })?;
    let content = if size <= MAX_HELD {
        Content::Held(reader.read_at(id, located.kind, located.location)?.data)
    } else {
        let writer = reader.scratch().create_file(SLOT)?;
        let owner = writer.owner();
        let mut sink = ScratchSink(writer);
        reader.stream_at(id, located.kind, located.location, &mut sink)?;
        sink.0.flush()?;
        Content::Kept(StoredChunks::new(store, owner, ChunkFile::Scratch(SLOT)))
    };
    Ok(Pieces {
        _reader: reader,
        content,
        at: range.start,
        end: range.end.min(size),
    })
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
        let piece = match &self.content {
            Content::Held(data) => {
                let start = self.at as usize;
                let end = (self.end as usize).min(start + PIECE).min(data.len());
                data[start.min(end)..end].to_vec()
            }
            Content::Kept(chunks) => match crate::format::pack::piece_at(chunks, self.at, self.end)
            {
                Ok(piece) => piece.bytes().to_vec(),
                Err(e) => return Some(Err(e.into())),
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
