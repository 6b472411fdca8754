//! Writing a pack's `.idx` straight from its entry rows (a push's, or a repack's), page by
//! page in id order, or from a small push's entries held in memory, into chunk rows: the
//! index of a pack of any size is never held whole.

use crate::format::idx;
use crate::format::object::ObjectId;
use crate::format::pack::PackId;
use crate::format::sha1::Sha1;
use crate::store::sql::Sql;
use crate::store::ChunkWriter;
use crate::store::{Held, IdxRow, IdxSource, PackFile, Store, StoreError, WalkInMemory};

/// Entry rows read per page.
const PAGE: usize = 10_000;

/// An idx file being written, hashed as it goes.
struct IdxFile<'s, S: Sql> {
    writer: ChunkWriter<'s, S>,
    sha: Sha1,
}

impl<S: Sql> IdxFile<'_, S> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.sha.update(bytes);
        self.writer.append(bytes)
    }
}

/// Where the rows of an idx come from.
pub enum IdxEntries<'a> {
    /// Rows of the store, read a page at a time.
    Stored(IdxSource),
    /// A push's entries held in memory, which lists them in id order.
    Held(&'a Held),
    /// A repack's walk in memory, which lists them in id order where it holds them: a
    /// copy would take 32 bytes an object more at the repack's peak.
    Walk(&'a WalkInMemory),
}

impl IdxEntries<'_> {
    /// How many of the pack's objects start with each byte: the idx's fanout, not summed.
    fn first_bytes<S: Sql>(&self, store: &Store<S>) -> Result<[u32; 256], StoreError> {
        if let IdxEntries::Stored(source) = self {
            return store.idx_first_bytes(*source);
        }
        let mut counts = [0u32; 256];
        for (id, _, _) in self.in_memory() {
            counts[usize::from(id.0[0])] += 1;
        }
        Ok(counts)
    }

    /// The rows held in memory, in id order (none for rows of the store).
    fn in_memory(&self) -> Box<dyn Iterator<Item = IdxRow> + '_> {
        match self {
            IdxEntries::Stored(_) => Box::new(std::iter::empty()),
            IdxEntries::Held(held) => Box::new(held.idx_rows()),
            IdxEntries::Walk(walk) => Box::new(walk.idx_rows()),
        }
    }
}

/// Calls `each` on every object of the pack in id order.
fn in_id_order<S: Sql>(
    store: &Store<S>,
    entries: &IdxEntries,
    mut each: impl FnMut(&IdxRow) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let IdxEntries::Stored(source) = *entries else {
        return entries.in_memory().try_for_each(|row| each(&row));
    };
    let mut after: Option<ObjectId> = None;
    loop {
        let page = store.idx_rows(source, after, PAGE)?;
        for row in &page {
            each(row)?;
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(last.0),
            _ => return Ok(()),
        }
    }
}

/// Writes the version 2 idx of the pack of row `owner`, whose entries `source` lists and
/// whose trailer is `checksum`, exactly as `git index-pack` lays it out; returns its size.
pub fn write_idx<S: Sql>(
    store: &Store<S>,
    owner: PackId,
    source: IdxEntries,
    checksum: &ObjectId,
) -> Result<u64, StoreError> {
    let mut file = IdxFile {
        writer: ChunkWriter::new(store, owner, PackFile::Idx),
        sha: Sha1::long(),
    };
    file.write(&idx::header(&source.first_bytes(store)?))?;
    in_id_order(store, &source, |(id, _, _)| file.write(&id.0))?;
    in_id_order(store, &source, |(_, _, crc)| file.write(&crc.to_be_bytes()))?;
    let mut large = Vec::new();
    in_id_order(store, &source, |(_, offset, _)| {
        file.write(&idx::offset_word(*offset, &mut large))
    })?;
    file.write(&large)?;
    file.write(&checksum.0)?;
    let sum = std::mem::take(&mut file.sha).finish();
    file.writer.append(&sum)?;
    file.writer.flush()?;
    Ok(file.writer.written())
}
