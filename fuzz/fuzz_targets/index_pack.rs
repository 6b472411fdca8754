//! Indexing a pack into a native SQLite store: any bytes are indexed or refused, and what
//! is indexed reads back as the objects whose ids it reported.
#![no_main]

#[path = "../../tests/common/mod.rs"]
#[allow(dead_code, unused_imports)]
mod common;

use git_on_durable_objects::format::object;
use git_on_durable_objects::index_pack::{IndexPack, Stored};
use git_on_durable_objects::limits::Limits;
use git_on_durable_objects::store::ObjectReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (store, _db) = common::store(512);
    let push = store.begin_push().unwrap();
    // Inputs of odd length hold their entries in memory, the rest write them to rows.
    let limits = Limits {
        object_bytes: 1 << 20,
        held_entries: if data.len() % 2 == 1 { 1 << 16 } else { 0 },
        ..Limits::default()
    };
    let mut pack = IndexPack::new(&store, push, 1 << 20).within(&limits);
    if data
        .chunks(977)
        .try_for_each(|piece| pack.feed(piece))
        .is_err()
    {
        return;
    }
    let Ok(indexed) = pack.finish() else {
        return;
    };
    let held = indexed.held.as_ref();
    let objects = store.pushed_objects(push, held).unwrap();
    let stored = match &indexed.stored {
        Stored::Pack {
            name,
            size,
            idx_size,
        } => store.accept_pack(push, name, *size, *idx_size, held),
        Stored::Loose => store.accept_loose(push, held),
    };
    stored.unwrap();
    let reader = ObjectReader::new(&store);
    for new in &objects {
        let read = reader.read(&new.id).unwrap().unwrap();
        assert_eq!(object::hash(read.kind, &read.data), new.id);
    }
});
