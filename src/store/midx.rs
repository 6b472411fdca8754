//! The multi-pack index: where every packed object is (pack, offset) with its type, size
//! and delta depth, for every live pack at once, as git's `multi-pack-index` is, stored as
//! pages of records sorted by id. A page is a row keyed by a lower bound of its ids: the
//! page of an id is the one with the greatest key not above it, found with one indexed
//! query. So a push writes a row for each page its objects fall in, not one per object, a
//! lookup of many ids reads each page they fall in once, and a repack rewrites the pages
//! once.

use super::paged::Paged;
use super::{row_id, row_int, StoreError};
use crate::format::object::{ObjectId, ObjectType};
use crate::format::pack::PackId;
use crate::store::sql::Value;

/// Bytes of a record: id (20), type (1), depth (1, 255: unknown), pack (4), offset (8),
/// size (8, all ones: unknown), all big-endian.
const RECORD: usize = 42;

/// A depth this deep or deeper is kept as its cap: deeper chains are never copied as they
/// are, so the exact depth no longer matters.
const DEPTH_CAP: u32 = 254;

/// A packed object's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// The object.
    pub id: ObjectId,
    /// Its type.
    pub kind: ObjectType,
    /// The live pack it is in.
    pub pack: PackId,
    /// Its entry's offset there.
    pub offset: u64,
    /// Its size, if known.
    pub size: Option<u64>,
    /// Deltas between its entry and a whole object, if known.
    pub depth: Option<u32>,
}

/// A pack's row id (one per push, repack or reader's scratch row) past 32 bits does not
/// fit a record: that is refused, not cut.
impl Paged for Record {
    const TABLE: &'static str = "midx_pages";
    const SIZE: usize = RECORD;

    fn id(&self) -> ObjectId {
        self.id
    }

    fn encode(&self, page: &mut Vec<u8>) -> Result<(), StoreError> {
        let pack = u32::try_from(self.pack.0).map_err(|_| StoreError::BadColumn("pack id"))?;
        page.extend_from_slice(&self.id.0);
        page.push(self.kind as u8);
        page.push(self.depth.map_or(255, |d| d.min(DEPTH_CAP) as u8));
        page.extend_from_slice(&pack.to_be_bytes());
        page.extend_from_slice(&self.offset.to_be_bytes());
        page.extend_from_slice(&self.size.unwrap_or(u64::MAX).to_be_bytes());
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Record, StoreError> {
        let bad = || StoreError::BadColumn("index page");
        let id = ObjectId::from_bytes(&bytes[..20]).ok_or_else(bad)?;
        let kind = ObjectType::from_number(bytes[20]).ok_or_else(bad)?;
        let number = |range: std::ops::Range<usize>| {
            let mut be = [0u8; 8];
            be[8 - range.len()..].copy_from_slice(&bytes[range]);
            u64::from_be_bytes(be)
        };
        Ok(Record {
            id,
            kind,
            depth: (bytes[21] != 255).then_some(bytes[21] as u32),
            pack: PackId(number(22..26) as i64),
            offset: number(26..34),
            size: Some(number(34..42)).filter(|&s| s != u64::MAX),
        })
    }
}

/// The record in a row's columns `oid, type, pack, offset, size, depth`.
pub(super) fn record_row(row: &[Value]) -> Result<Record, StoreError> {
    Ok(Record {
        id: row_id(&row[0])?,
        kind: ObjectType::from_number(row_int(&row[1])? as u8)
            .ok_or(StoreError::BadColumn("object type"))?,
        pack: PackId(row_int(&row[2])?),
        offset: row_int(&row[3])? as u64,
        size: row[4].as_i64().map(|n| n as u64),
        depth: row[5].as_i64().map(|n| n as u32),
    })
}

/// A record of a blob whose id starts and ends with `n`, for tests.
#[cfg(test)]
pub(super) fn sample(n: u8) -> Record {
    let mut id = [0u8; 20];
    id[0] = n;
    id[19] = n;
    Record {
        id: ObjectId(id),
        kind: ObjectType::Blob,
        pack: PackId(7),
        offset: 12 + n as u64,
        size: Some(n as u64 * 1000),
        depth: Some(1),
    }
}

#[cfg(test)]
mod tests {
    use super::sample as record;
    use super::*;

    #[test]
    fn a_record_reads_back_as_written_unknowns_included() {
        let mut known = record(9);
        known.offset = 1 << 40;
        let unknown = Record {
            size: None,
            depth: None,
            ..record(3)
        };
        let deep = Record {
            depth: Some(4000),
            ..record(4)
        };
        for (r, back) in [(known, known), (unknown, unknown)].into_iter().chain([(
            deep,
            Record {
                depth: Some(DEPTH_CAP),
                ..deep
            },
        )]) {
            let mut bytes = Vec::new();
            r.encode(&mut bytes).unwrap();
            assert_eq!(bytes.len(), RECORD);
            assert_eq!(Record::decode(&bytes).unwrap(), back);
        }
    }
}
