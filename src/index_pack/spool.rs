//! The bytes of a file being written into chunk rows: a pushed pack, spooled as it arrives
//! and read back while it is indexed, and the `.idx` written for it.

use std::rc::Rc;

use crate::format::pack::{ChunkSource, PackError, PackId};
use crate::store::sql::Sql;
use crate::store::{ChunkWriter, PackFile, Store, StoreError, StoredChunks};

/// Rows of the pack a push keeps once read back: a delta's base is most often a little
/// before it, and a walk down a chain reads an entry header in each row it passes.
const RECENT_ROWS: usize = 4;

/// The pack's bytes as they are written into chunk rows; earlier bytes read back from them.
pub struct Spool<'s, S: Sql> {
    writer: ChunkWriter<'s, S>,
    stored: StoredChunks<S>,
}

impl<'s, S: Sql> Spool<'s, S> {
    /// The spool of the pending row `push`.
    pub fn new(store: &'s Store<S>, push: PackId) -> Self {
        Spool {
            writer: ChunkWriter::new(store, push, PackFile::Pack),
            stored: StoredChunks::new(store, push, PackFile::Pack).keeping(RECENT_ROWS),
        }
    }

    /// The store written to.
    pub fn store(&self) -> &'s Store<S> {
        self.writer.store()
    }

    /// The pending row the pack belongs to.
    pub fn push(&self) -> PackId {
        self.writer.owner()
    }

    /// Takes the next bytes of the pack.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.writer.append(bytes)
    }

    /// Writes the last row.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.writer.flush()
    }
}

impl<S: Sql> ChunkSource for Spool<'_, S> {
    fn chunk_size(&self) -> u64 {
        self.stored.chunk_size()
    }

    fn chunk(&self, seq: u64) -> Result<Rc<Vec<u8>>, PackError> {
        let flushed = self.writer.flushed();
        if seq < flushed {
            return self.stored.chunk(seq);
        }
        if seq > flushed {
            return Ok(Rc::default());
        }
        Ok(self.writer.tail())
    }
}
