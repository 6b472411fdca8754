//! receive-pack and the dumb protocol over the real store schema on SQLite, with packs
//! made by the real git: what is pushed reads back byte for byte, and every rejected
//! push leaves the repository exactly as it was.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use git_on_durable_objects::dumb;
use git_on_durable_objects::object::{ObjectId, ObjectType};
use git_on_durable_objects::pack::{self, EntryKind};
use git_on_durable_objects::receive_pack::advertise;
use git_on_durable_objects::reply::Body;
use git_on_durable_objects::route::Endpoint;
use git_on_durable_objects::sql::Sql;
use git_on_durable_objects::store::{PackFile, Store};
use git_on_durable_objects::zlib;
use sha1::{Digest, Sha1};

const CAPS: &str = "report-status side-band-64k agent=test";

fn id(hex: &str) -> ObjectId {
    ObjectId::from_hex(hex.as_bytes()).unwrap()
}

fn stored_file(store: &Store<Db>, pack: i64, file: PackFile) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seq = 0;
    while let Some(chunk) = store.read_chunk(pack, file, seq).unwrap() {
        out.extend_from_slice(&chunk);
        seq += 1;
    }
    out
}

/// Every object of `repo` reads back from `store` with the same type and content.
fn assert_objects_equal(store: &Store<Db>, repo: &Repo) {
    let list = repo.git(&[
        "cat-file",
        "--batch-all-objects",
        "--batch-check=%(objectname) %(objecttype)",
    ]);
    let mut count = 0;
    for line in list.lines() {
        let (hex, kind) = line.split_once(' ').unwrap();
        let expected = repo.git_with(&["cat-file", kind, hex], b"");
        let (stored_kind, data) = store.read_object(&id(hex)).unwrap().expect(hex);
        assert_eq!(stored_kind.name(), kind);
        assert!(*data == expected, "{hex} reads back different content");
        count += 1;
    }
    assert!(
        count > 100,
        "history should have over 100 objects, has {count}"
    );
}

#[test]
fn full_push_is_stored_as_a_pack_that_matches_git() {
    let repo = history_repo();
    for (chunk_size, piece) in [(4096, 1000), (1 << 20, 65536), (777, 7)] {
        let (store, _db) = store(chunk_size);
        let (lines, pushed) = push_all(&store, &repo, CAPS, piece);
        assert_eq!(lines[0], "unpack ok");
        assert!(lines[1..].iter().all(|l| l.starts_with("ok ")), "{lines:?}");
        assert_eq!(lines.len(), 1 + repo.refs().len());

        // info/refs is byte-identical to git update-server-info's.
        repo.git(&["update-server-info"]);
        let expected = std::fs::read(repo.path().join(".git/info/refs")).unwrap();
        assert_eq!(
            String::from_utf8(dumb::info_refs(&store).unwrap()).unwrap(),
            String::from_utf8(expected).unwrap()
        );

        // The stored pack is the pushed pack, and its idx is git index-pack's.
        let packs = store.packs().unwrap();
        assert_eq!(packs.len(), 1);
        let stored_pack = stored_file(&store, packs[0].id, PackFile::Pack);
        assert!(
            stored_pack == pushed,
            "the stored pack differs from the pushed one"
        );
        let dir = tempfile::tempdir().unwrap();
        let pack_path = dir.path().join("p.pack");
        std::fs::write(&pack_path, &stored_pack).unwrap();
        repo.git(&[
            "index-pack",
            "-o",
            dir.path().join("p.idx").to_str().unwrap(),
            pack_path.to_str().unwrap(),
        ]);
        let git_idx = std::fs::read(dir.path().join("p.idx")).unwrap();
        assert!(
            stored_file(&store, packs[0].id, PackFile::Idx) == git_idx,
            "idx differs from git's"
        );
        assert_eq!(packs[0].idx_size, git_idx.len() as u64);
        assert_eq!(format!("pack-{}.pack", packs[0].name), {
            let name = repo.git(&["index-pack", pack_path.to_str().unwrap()]);
            format!("pack-{name}.pack")
        });

        assert_objects_equal(&store, &repo);
        assert_eq!(
            store.head_target().unwrap().as_deref(),
            Some("refs/heads/main")
        );
    }
}

#[test]
fn dumb_endpoints_serve_refs_head_packs_and_ranges() {
    let repo = history_repo();
    let (store, _db) = store(4096);
    push_all(&store, &repo, CAPS, 4096);
    let get =
        |endpoint: Endpoint, range: Option<&str>| dumb::get(&store, &endpoint, range).unwrap();
    let bytes = |reply: git_on_durable_objects::reply::Reply| match reply.body {
        Body::Bytes(b) => b,
        other => panic!("expected bytes, got {other:?}"),
    };
    assert_eq!(bytes(get(Endpoint::Head, None)), b"ref: refs/heads/main\n");
    let pack = &store.packs().unwrap()[0];
    assert_eq!(
        String::from_utf8(bytes(get(Endpoint::InfoPacks, None))).unwrap(),
        format!("P pack-{}.pack\n\n", pack.name)
    );
    let whole = get(Endpoint::PackFile(pack.name.clone(), PackFile::Pack), None);
    assert_eq!(whole.status, 200);
    assert_eq!(
        whole.body,
        Body::Chunks {
            pack: pack.id,
            file: PackFile::Pack,
            start: 0,
            end: pack.size
        }
    );
    let part = get(
        Endpoint::PackFile(pack.name.clone(), PackFile::Pack),
        Some("bytes=100-"),
    );
    assert_eq!(part.status, 206);
    assert!(part.headers.contains(&(
        "Content-Range",
        format!("bytes 100-{}/{}", pack.size - 1, pack.size)
    )));
    let past = get(
        Endpoint::PackFile(pack.name.clone(), PackFile::Pack),
        Some(&format!("bytes={}-", pack.size)),
    );
    assert_eq!(past.status, 416);
    // Packed objects are not served loose: the client must fetch the pack.
    let main = id(&repo.git(&["rev-parse", "main"]));
    assert_eq!(get(Endpoint::LooseObject(main), None).status, 404);
    assert_eq!(get(Endpoint::Alternates, None).status, 404);

    let (empty, _) = common::store(4096);
    let missing = dumb::get(&empty, &Endpoint::InfoRefs, None).unwrap();
    assert_eq!(
        (missing.status, bytes(missing)),
        (404, b"repository not found\n".to_vec())
    );
}

#[test]
fn small_push_is_stored_loose_and_served_byte_for_byte() {
    let repo = history_repo();
    let (store, db) = store(4096);
    push_all(&store, &repo, CAPS, 4096);
    let old = repo.git(&["rev-parse", "main"]);
    for i in 0..3 {
        repo.write("notes.txt", format!("rewritten {i}\n").as_bytes());
        repo.commit(&format!("small {i}"));
    }
    let new = repo.git(&["rev-parse", "main"]);
    let pack = repo.pack(&["main"], &[&old]);
    let body = push_body(
        &[(old.clone(), new.clone(), "refs/heads/main".into())],
        "report-status",
        &pack,
    );
    let lines = report_lines(&run_push(&store, &body, 100).unwrap());
    assert_eq!(
        lines,
        vec!["unpack ok".to_string(), "ok refs/heads/main".into()]
    );
    assert_eq!(store.packs().unwrap().len(), 1, "small pushes add no pack");
    let loose = db.exec("SELECT count(*) FROM loose", vec![]).unwrap()[0][0]
        .as_i64()
        .unwrap();
    assert_eq!(loose, 9, "3 commits, 3 trees, 3 blobs");
    let file = match dumb::get(&store, &Endpoint::LooseObject(id(&new)), None)
        .unwrap()
        .body
    {
        Body::Bytes(b) => b,
        other => panic!("{other:?}"),
    };
    let mut raw = Vec::new();
    let (used, done) = zlib::Inflater::new()
        .feed(&file, &mut |c| raw.extend_from_slice(c))
        .unwrap();
    assert!(done && used == file.len(), "one whole zlib stream");
    let content = repo.git_with(&["cat-file", "commit", &new], b"");
    let mut expected = format!("commit {}\0", content.len()).into_bytes();
    expected.extend_from_slice(&content);
    assert!(raw == expected, "loose object file differs");
    assert_eq!(store.ref_value("refs/heads/main").unwrap(), Some(id(&new)));
    assert_objects_equal(&store, &repo);
}

#[test]
fn deletes_force_pushes_and_moves_head_off_a_deleted_branch() {
    let repo = history_repo();
    let (store, _db) = store(4096);
    push_all(&store, &repo, "report-status-v2 side-band-64k quiet", 4096);
    let main = repo.git(&["rev-parse", "main"]);
    let topic = repo.git(&["rev-parse", "topic"]);
    // Force-push main back to topic (not a fast-forward), delete topic, in one request.
    let body = push_body(
        &[
            (main.clone(), topic.clone(), "refs/heads/main".into()),
            (topic.clone(), ZERO.into(), "refs/heads/topic".into()),
        ],
        "report-status delete-refs",
        &repo.pack(&[], &[]),
    );
    let lines = report_lines(&run_push(&store, &body, 4096).unwrap());
    assert_eq!(
        lines,
        vec!["unpack ok", "ok refs/heads/main", "ok refs/heads/topic"]
    );
    assert_eq!(
        store.ref_value("refs/heads/main").unwrap(),
        Some(id(&topic))
    );
    assert_eq!(store.ref_value("refs/heads/topic").unwrap(), None);
    // Deleting main (no pack at all) moves HEAD to the oldest remaining branch... none left
    // but tags, so HEAD stays; create "dev" first, then delete main.
    let body = push_body(
        &[(ZERO.into(), topic.clone(), "refs/heads/dev".into())],
        "report-status",
        &repo.pack(&[], &[]),
    );
    assert_eq!(
        report_lines(&run_push(&store, &body, 4096).unwrap())[1],
        "ok refs/heads/dev"
    );
    let body = push_body(
        &[(topic.clone(), ZERO.into(), "refs/heads/main".into())],
        "report-status",
        b"",
    );
    assert_eq!(
        report_lines(&run_push(&store, &body, 4096).unwrap()),
        vec!["unpack ok", "ok refs/heads/main"]
    );
    assert_eq!(
        store.head_target().unwrap().as_deref(),
        Some("refs/heads/dev")
    );
}

#[test]
fn advertisement_lists_refs_or_the_empty_capabilities_line() {
    let (store, _db) = store(4096);
    let empty = String::from_utf8(advertise(&store).unwrap()).unwrap();
    assert!(empty.starts_with("001f# service=git-receive-pack\n0000"));
    assert!(empty.contains(&format!(
        "{ZERO} capabilities^{{}}\0report-status report-status-v2 delete-refs"
    )));
    assert!(empty.contains("no-thin") && empty.ends_with("\n0000"));
    let repo = history_repo();
    push_all(&store, &repo, CAPS, 65536);
    let full = String::from_utf8(advertise(&store).unwrap()).unwrap();
    assert!(
        full.contains(&format!(
            "{} refs/heads/main\0",
            repo.git(&["rev-parse", "main"])
        )) || full.contains(" refs/heads/main\n")
    );
    assert!(!full.contains("capabilities^{}"));
}

#[test]
fn probe_and_empty_requests_answer_empty() {
    let (store, db) = store(4096);
    let before = snapshot(&db);
    assert_eq!(run_push(&store, b"0000", 4096).unwrap(), Vec::<u8>::new());
    assert_eq!(snapshot(&db), before);
}

// ---- rejected pushes: the reason is reported and nothing changes ----

/// A pushed repository plus a follow-up commit, for building bad requests.
struct Scene {
    repo: Repo,
    store: Store<Db>,
    db: Db,
    main: String,
    next: String,
}

fn scene() -> Scene {
    let repo = history_repo();
    let (store, db) = store(4096);
    push_all(&store, &repo, CAPS, 65536);
    let main = repo.git(&["rev-parse", "main"]);
    repo.write("extra.txt", b"extra\n");
    let next = repo.commit("next");
    Scene {
        repo,
        store,
        db,
        main,
        next,
    }
}

impl Scene {
    fn next_pack(&self) -> Vec<u8> {
        self.repo.pack(&[&self.next], &[&self.main])
    }

    fn update_main(&self, pack: &[u8]) -> Vec<u8> {
        push_body(
            &[(
                self.main.clone(),
                self.next.clone(),
                "refs/heads/main".into(),
            )],
            CAPS,
            pack,
        )
    }

    /// Pushes `body`, asserts nothing changed, returns the report lines.
    fn rejected(&self, body: &[u8]) -> Vec<String> {
        let before = snapshot(&self.db);
        let lines = report_lines(&run_push(&self.store, body, 333).unwrap());
        assert_eq!(
            snapshot(&self.db),
            before,
            "the repository changed: {lines:?}"
        );
        lines
    }
}

/// Recomputes a pack's trailing checksum after the test tampered with its body.
fn reseal(mut pack: Vec<u8>) -> Vec<u8> {
    let len = pack.len() - 20;
    let sum: [u8; 20] = Sha1::digest(&pack[..len]).into();
    pack[len..].copy_from_slice(&sum);
    pack
}

/// A pack made of raw entries.
fn raw_pack(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut pack = pack::header(entries.len() as u32).to_vec();
    for entry in entries {
        pack.extend_from_slice(entry);
    }
    pack.extend_from_slice(&[0; 20]);
    reseal(pack)
}

fn whole_entry(kind: ObjectType, data: &[u8]) -> Vec<u8> {
    let mut entry = pack::encode_entry_header(EntryKind::Whole(kind), data.len() as u64, 0);
    entry.extend_from_slice(&zlib::deflate(data));
    entry
}

fn assert_unpack_error(lines: &[String], needle: &str) {
    assert!(
        lines[0].starts_with("unpack ") && lines[0] != "unpack ok",
        "{lines:?}"
    );
    assert!(
        lines[0].contains(needle),
        "{lines:?} should mention {needle:?}"
    );
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.starts_with("ng ") && l.ends_with(" unpacker error")),
        "{lines:?}"
    );
}

#[test]
fn rejects_a_wrong_trailing_checksum() {
    let s = scene();
    let mut pack = s.next_pack();
    *pack.last_mut().unwrap() ^= 1;
    assert_unpack_error(&s.rejected(&s.update_main(&pack)), "checksum mismatch");
}

#[test]
fn rejects_corrupt_zlib() {
    let s = scene();
    let mut entry = pack::encode_entry_header(EntryKind::Whole(ObjectType::Blob), 5, 0);
    entry.extend_from_slice(&[0x78, 0x9c, 0xff, 0xff, 0xff, 0xff, 0x00, 0x11]);
    let pack = raw_pack(&[entry]);
    assert_unpack_error(&s.rejected(&s.update_main(&pack)), "corrupt zlib");
}

#[test]
fn rejects_a_delta_whose_base_is_missing() {
    let s = scene();
    let mut entry = pack::encode_entry_header(EntryKind::RefDelta(ObjectId([0xab; 20])), 4, 12);
    entry.extend_from_slice(&zlib::deflate(&[1, 2, 1, b'x']));
    let pack = raw_pack(&[whole_entry(ObjectType::Blob, b"a"), entry]);
    assert_unpack_error(&s.rejected(&s.update_main(&pack)), "unresolved delta");
}

#[test]
fn rejects_a_delta_that_reads_out_of_bounds() {
    let s = scene();
    let base = whole_entry(ObjectType::Blob, b"hello");
    // copy 16 bytes from offset 0 of a 5-byte base
    let delta = [5u8, 16, 0x91, 0, 16];
    let mut entry = pack::encode_entry_header(
        EntryKind::OfsDelta(12),
        delta.len() as u64,
        12 + base.len() as u64,
    );
    entry.extend_from_slice(&zlib::deflate(&delta));
    let pack = raw_pack(&[base, entry]);
    assert_unpack_error(&s.rejected(&s.update_main(&pack)), "corrupt delta");
}

#[test]
fn rejects_a_truncated_pack_and_cleans_up_an_aborted_one() {
    let s = scene();
    let pack = s.next_pack();
    let body = s.update_main(&pack[..pack.len() / 2]);
    assert_unpack_error(&s.rejected(&body), "truncated");

    // The client goes away mid-body: the host aborts the push.
    let before = snapshot(&s.db);
    let mut push = git_on_durable_objects::receive_pack::ReceivePack::new(&s.store);
    push.feed(&body).unwrap();
    push.abort().unwrap();
    assert_eq!(snapshot(&s.db), before);

    // The object was evicted mid-push: the next start removes the leftovers.
    let mut push = git_on_durable_objects::receive_pack::ReceivePack::new(&s.store);
    push.feed(&body).unwrap();
    drop(push);
    assert_ne!(snapshot(&s.db), before);
    s.store.open().unwrap();
    assert_eq!(snapshot(&s.db), before);
}

#[test]
fn rejects_trailing_garbage() {
    let s = scene();
    let mut pack = s.next_pack();
    pack.extend_from_slice(b"garbage");
    assert_unpack_error(&s.rejected(&s.update_main(&pack)), "trailing garbage");
}

#[test]
fn rejects_malformed_and_oversized_pkt_lines() {
    let s = scene();
    for body in [&b"zzzz0000"[..], b"fff0", b"0003", b"00100123456789ab"] {
        let before = snapshot(&s.db);
        let err = run_push(&s.store, body, 3).unwrap_err();
        assert!(!err.0.is_empty());
        assert_eq!(snapshot(&s.db), before);
    }
    let err = run_push(&s.store, b"0009short", 100).unwrap_err();
    assert!(err.0.contains("malformed command"), "{err:?}");
}

#[test]
fn rejects_invalid_ref_names() {
    let s = scene();
    let body = push_body(
        &[(ZERO.into(), s.main.clone(), "refs/heads/bad..name".into())],
        CAPS,
        &s.repo.pack(&[], &[]),
    );
    assert_eq!(
        s.rejected(&body),
        vec!["unpack ok", "ng refs/heads/bad..name funny refname"]
    );
}

#[test]
fn rejects_a_stale_old_value() {
    let s = scene();
    let stale = s.repo.git(&["rev-parse", "main~3"]);
    let body = push_body(
        &[(stale, s.next.clone(), "refs/heads/main".into())],
        CAPS,
        &s.next_pack(),
    );
    assert_eq!(
        s.rejected(&body),
        vec!["unpack ok", "ng refs/heads/main fetch first"]
    );
}

#[test]
fn rejects_missing_objects() {
    let s = scene();
    // The new commit is neither in the (empty) pack nor stored.
    let body = s.update_main(&s.repo.pack(&[], &[]));
    assert_eq!(
        s.rejected(&body),
        vec!["unpack ok", "ng refs/heads/main missing necessary objects"]
    );
    // The commit is sent but its tree is not.
    let commit = s.repo.git_with(&["cat-file", "commit", &s.next], b"");
    let pack = raw_pack(&[whole_entry(ObjectType::Commit, &commit)]);
    let lines = s.rejected(&s.update_main(&pack));
    assert_eq!(
        lines,
        vec!["unpack ok", "ng refs/heads/main missing necessary objects"]
    );
}

#[test]
fn rejects_sha256() {
    let s = scene();
    let body = push_body(
        &[(s.main.clone(), s.next.clone(), "refs/heads/main".into())],
        "report-status object-format=sha256",
        &s.next_pack(),
    );
    assert_unpack_error(&s.rejected(&body), "sha256");
}

#[test]
fn atomic_pushes_are_all_or_nothing() {
    let s = scene();
    let body = push_body(
        &[
            (s.main.clone(), s.next.clone(), "refs/heads/main".into()),
            (ZERO.into(), s.next.clone(), "refs/heads/bad..name".into()),
        ],
        "report-status atomic",
        &s.next_pack(),
    );
    assert_eq!(
        s.rejected(&body),
        vec![
            "unpack ok",
            "ng refs/heads/main atomic push failed",
            "ng refs/heads/bad..name funny refname"
        ]
    );
    // Without atomic, the good update goes through.
    let body = push_body(
        &[
            (s.main.clone(), s.next.clone(), "refs/heads/main".into()),
            (ZERO.into(), s.next.clone(), "refs/heads/bad..name".into()),
        ],
        "report-status",
        &s.next_pack(),
    );
    let lines = report_lines(&run_push(&s.store, &body, 4096).unwrap());
    assert_eq!(
        lines,
        vec![
            "unpack ok",
            "ok refs/heads/main",
            "ng refs/heads/bad..name funny refname"
        ]
    );
}
