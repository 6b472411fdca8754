//! The bytes of a file being written into chunk rows: a pushed pack, spooled as it arrives
//! and read back while it is indexed, and the `.idx` written for it.

use std::cell::RefCell;
use std::rc::Rc;

use crate::format::pack::{ChunkSource, PackError, PackId};
use crate::store::sql::Sql;
use crate::store::{PackFile, Store, StoreError, StoredChunks};

/// Appends to one file of a pending pack row, one full chunk row at a time.
pub struct ChunkWriter<'s, S: Sql> {
    store: &'s Store<S>,
    push: PackId,
    file: PackFile,
    tail: Vec<u8>,
    /// Chunk rows written so far.
    flushed: u64,
    /// Bytes taken so far.
    written: u64,
}

impl<'s, S: Sql> ChunkWriter<'s, S> {
    /// A writer of `file` of the pending row `push`.
    pub fn new(store: &'s Store<S>, push: PackId, file: PackFile) -> Self {
        ChunkWriter {
            store,
            push,
            file,
            tail: Vec::new(),
            flushed: 0,
            written: 0,
        }
    }

    /// Takes the next bytes of the file.
    pub fn append(&mut self, mut bytes: &[u8]) -> Result<(), StoreError> {
        let size = self.store.chunk_size() as usize;
        self.written += bytes.len() as u64;
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

    /// Writes what is left as the last row.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        if !self.tail.is_empty() {
            self.store
                .write_chunk(self.push, self.file, self.flushed, &self.tail)?;
            self.flushed += 1;
            self.tail.clear();
        }
        Ok(())
    }

    /// Bytes taken so far.
    pub fn written(&self) -> u64 {
        self.written
    }
}

/// The pack's bytes as they are written into chunk rows; earlier bytes read back from them.
pub struct Spool<'s, S: Sql> {
    writer: ChunkWriter<'s, S>,
    stored: StoredChunks<S>,
    /// The unwritten tail as last read, shared until the next append changes it.
    tail_read: RefCell<Option<Rc<Vec<u8>>>>,
}

impl<'s, S: Sql> Spool<'s, S> {
    /// The spool of the pending row `push`.
    pub fn new(store: &'s Store<S>, push: PackId) -> Self {
        Spool {
            writer: ChunkWriter::new(store, push, PackFile::Pack),
            stored: StoredChunks::new(store, push, PackFile::Pack),
            tail_read: RefCell::new(None),
        }
    }

    /// The store written to.
    pub fn store(&self) -> &'s Store<S> {
        self.writer.store
    }

    /// The pending row the pack belongs to.
    pub fn push(&self) -> PackId {
        self.writer.push
    }

    /// Takes the next bytes of the pack.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.tail_read.take();
        self.writer.append(bytes)
    }

    /// Writes the last row.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.tail_read.take();
        self.writer.flush()
    }
}

impl<S: Sql> ChunkSource for Spool<'_, S> {
    fn chunk_size(&self) -> u64 {
        self.writer.store.chunk_size()
    }

    fn chunk(&self, seq: u64) -> Result<Rc<Vec<u8>>, PackError> {
        let flushed = self.writer.flushed;
        if seq < flushed {
            return self.stored.chunk(seq);
        }
        if seq > flushed {
            return Ok(Rc::default());
        }
        let mut tail = self.tail_read.borrow_mut();
        Ok(tail
            .get_or_insert_with(|| Rc::new(self.writer.tail.clone()))
            .clone())
    }
}
