//! What hostile and large pushes cost in memory, measured with a counting allocator: the
//! peak of live heap bytes while the push runs, above what was live before it.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use git_on_durable_objects::format::object::{self, ObjectId, ObjectType};
use git_on_durable_objects::format::pack::EntryKind;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The peak of live heap bytes while `work` runs, above those live when it starts.
fn peak_of(work: impl FnOnce()) -> usize {
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    work();
    PEAK.load(Ordering::SeqCst) - before
}

const MIB: usize = 1 << 20;

/// One test, so that no other test's allocations are counted in its peaks.
#[test]
fn hostile_and_large_pushes_stay_within_their_memory() {
    let (store, _db) = store(1 << 20);
    let push = |pack: &[u8], id: ObjectId, name: &str| {
        let body = push_body(
            &[(ZERO.into(), id.to_hex(), name.into())],
            "report-status",
            pack,
        );
        let mut lines = Vec::new();
        let peak = peak_of(|| lines = report_lines(&run_push(&store, &body, 65536).unwrap()));
        (lines, peak)
    };
    // A 157-byte pack that would build a 256 MiB object.
    let base = vec![0u8; 1 << 16];
    let mut delta = vec![0x80, 0x80, 0x04, 0x80, 0x80, 0x80, 0x80, 0x01];
    delta.extend(std::iter::repeat_n(0x80, 4096));
    let first = pack_entry(EntryKind::Whole(ObjectType::Blob), &base, 12);
    let at = 12 + first.len() as u64;
    let bomb = raw_pack(&[first, pack_entry(EntryKind::OfsDelta(12), &delta, at)]);
    let (lines, peak) = push(&bomb, ObjectId([1; 20]), "refs/tags/bomb");
    assert!(lines[0].contains("MAX_OBJECT_BYTES"), "{lines:?}");
    eprintln!("the 157-byte pack: peak {peak} bytes");
    assert!(peak < 4 * MIB, "the 157-byte pack peaked at {peak} bytes");
    // A 24 MiB incompressible blob is hashed as it streams, never held.
    let mut data = vec![0u8; 24 * MIB];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for byte in data.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    let blob = raw_pack(&[pack_entry(EntryKind::Whole(ObjectType::Blob), &data, 12)]);
    let id = object::hash(ObjectType::Blob, &data);
    drop(data);
    let (lines, peak) = push(&blob, id, "refs/tags/big");
    assert_eq!(lines, vec!["unpack ok", "ok refs/tags/big"]);
    eprintln!("a 24 MiB blob: peak {peak} bytes");
    assert!(peak < 8 * MIB, "a 24 MiB blob peaked at {peak} bytes");
}

/// A real repository's pack (e.g. git/git's: 849,014 objects, 500 MB), pushed whole:
/// `LARGE_PACK=path/to/pack-X.pack cargo test --release --test memory -- --ignored`.
#[test]
#[ignore = "needs LARGE_PACK, a large pack made by git"]
fn a_large_real_pack_is_indexed_within_its_memory() {
    let Ok(path) = std::env::var("LARGE_PACK") else {
        return;
    };
    let pack = std::fs::read(&path).unwrap();
    let (store, _db) = store(1 << 20);
    let body = push_body(
        &[(ZERO.into(), "1".repeat(40), "refs/heads/x".into())],
        "report-status",
        &[],
    );
    let mut push = git_on_durable_objects::receive_pack::ReceivePack::new(
        &store,
        &git_on_durable_objects::limits::Limits {
            push_bytes: u64::MAX,
            ..Default::default()
        },
    );
    let started = std::time::Instant::now();
    let mut lines = Vec::new();
    let peak = peak_of(|| {
        push.feed(&body).unwrap();
        for piece in pack.chunks(65536) {
            push.feed(piece).unwrap();
        }
        lines = report_lines(&push.finish().unwrap());
    });
    eprintln!(
        "{} bytes: {lines:?}, peak {} MiB in {:?}",
        pack.len(),
        peak >> 20,
        started.elapsed()
    );
}
