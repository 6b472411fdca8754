//! receive-pack and the dumb protocol over the real store schema on SQLite, with packs
//! made by the real git: what is pushed reads back byte for byte, and every rejected
//! push leaves the repository exactly as it was.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use git_on_durable_objects::format::object::{ObjectId, ObjectType};
use git_on_durable_objects::format::pack::{self, EntryKind};
use git_on_durable_objects::format::pktline;
use git_on_durable_objects::format::zlib;
use git_on_durable_objects::http::dumb;
use git_on_durable_objects::http::reply::Body;
use git_on_durable_objects::http::route::Endpoint;
use git_on_durable_objects::limits::Limits;
use git_on_durable_objects::receive_pack::{self, advertise};
use git_on_durable_objects::store::sql::Sql;
use git_on_durable_objects::store::{ChunkFile, PackFile, Store};

const CAPS: &str = "report-status side-band-64k agent=test";

fn id(hex: &str) -> ObjectId {
    ObjectId::from_hex(hex.as_bytes()).unwrap()
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
        let object = store.read_object(&id(hex)).unwrap().expect(hex);
        assert_eq!(object.kind.name(), kind);
        assert!(
            *object.data == expected,
            "{hex} reads back different content"
        );
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
        // Its ends file lists where git's index says each entry starts, in pack order.
        let ends = stored_file(&store, packs[0].id, ChunkFile::Ends);
        assert!(
            ends == ends_file_of(&stored_pack),
            "the ends file is not git's"
        );
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
    let bytes = |reply: git_on_durable_objects::http::reply::Reply| match reply.body {
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
    // Each range names exactly the bytes asked for (the host streams that slice of the rows).
    let size = pack.size;
    for (range, start, end) in [
        ("bytes=100-", 100, size),
        ("bytes=100-199", 100, 200),
        ("bytes=0-0", 0, 1),
        ("bytes=-50", size - 50, size),
        (&format!("bytes=10-{}", size + 1000), 10, size),
        (&format!("bytes={}-{}", size - 1, size - 1), size - 1, size),
    ] {
        let reply = get(
            Endpoint::PackFile(pack.name.clone(), PackFile::Pack),
            Some(range),
        );
        assert_eq!(reply.status, 206, "{range}");
        assert!(
            reply
                .headers
                .contains(&("Content-Range", format!("bytes {start}-{}/{size}", end - 1))),
            "{range}: {:?}",
            reply.headers
        );
        assert_eq!(
            reply.body,
            Body::Chunks {
                pack: pack.id,
                file: PackFile::Pack,
                start,
                end
            },
            "{range}"
        );
    }
    // Several ranges, or none we understand: the whole file.
    for range in ["bytes=0-1,5-6", "items=0-1", "bytes=5"] {
        let reply = get(
            Endpoint::PackFile(pack.name.clone(), PackFile::Pack),
            Some(range),
        );
        assert_eq!(reply.status, 200, "{range}");
    }
    let idx = get(
        Endpoint::PackFile(pack.name.clone(), PackFile::Idx),
        Some("bytes=8-11"),
    );
    assert_eq!(
        idx.body,
        Body::Chunks {
            pack: pack.id,
            file: PackFile::Idx,
            start: 8,
            end: 12
        }
    );
    assert!(idx
        .headers
        .contains(&("Content-Range", format!("bytes 8-11/{}", pack.idx_size))));
    let past = get(
        Endpoint::PackFile(pack.name.clone(), PackFile::Pack),
        Some(&format!("bytes={}-", pack.size)),
    );
    assert_eq!(past.status, 416);
    assert!(past
        .headers
        .contains(&("Content-Range", format!("bytes */{size}"))));
    let backwards = get(
        Endpoint::PackFile(pack.name.clone(), PackFile::Pack),
        Some("bytes=200-100"),
    );
    assert_eq!(backwards.status, 416);
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
    // Rows a small push need not write (each billed): its pack's one chunk, which it reads
    // from memory and drops, its one page of links, which the connectivity check reads from
    // memory, and HEAD, which does not change.
    for statement in [
        "CREATE TEMP TABLE needless (what TEXT)",
        "CREATE TEMP TRIGGER chunk_written AFTER INSERT ON pack_chunks \
         BEGIN INSERT INTO needless VALUES ('a chunk'); END",
        "CREATE TEMP TRIGGER links_written AFTER INSERT ON push_link_pages \
         BEGIN INSERT INTO needless VALUES ('a page of links'); END",
        "CREATE TEMP TRIGGER head_written AFTER UPDATE ON meta WHEN new.key = 'HEAD' \
         BEGIN INSERT INTO needless VALUES ('HEAD'); END",
    ] {
        db.exec(statement, vec![]).unwrap();
    }
    let lines = report_lines(&run_push(&store, &body, 100).unwrap());
    assert_eq!(
        lines,
        vec!["unpack ok".to_string(), "ok refs/heads/main".into()]
    );
    let needless = db.exec("SELECT what FROM needless", vec![]).unwrap();
    assert!(needless.is_empty(), "{needless:?}");
    assert_eq!(store.packs().unwrap().len(), 1, "small pushes add no pack");
    let loose = db.exec("SELECT count(*) FROM loose", vec![]).unwrap()[0][0]
        .as_i64()
        .unwrap();
    assert_eq!(loose, 9, "3 commits, 3 trees, 3 blobs");
    // A file is one row: the table has no rowid beside its key's index.
    assert!(db.exec("SELECT rowid FROM loose LIMIT 0", vec![]).is_err());
    let file = match dumb::get(&store, &Endpoint::LooseObject(id(&new)), None)
        .unwrap()
        .body
    {
        Body::Bytes(b) => b,
        other => panic!("{other:?}"),
    };
    let mut raw = Vec::new();
    let (used, done) = zlib::Inflater::new()
        .feed(&file, &mut |c| {
            raw.extend_from_slice(c);
            std::ops::ControlFlow::Continue(())
        })
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
fn deletes_force_pushes_and_refuses_to_delete_the_current_branch() {
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
    // Deleting main, the branch HEAD names, is refused as git's receive.denyDeleteCurrent
    // refuses it, with git's error line on the progress band.
    let delete_main = push_body(
        &[(topic.clone(), ZERO.into(), "refs/heads/main".into())],
        "report-status side-band-64k quiet",
        b"",
    );
    let response = run_push(&store, &delete_main, 4096).unwrap();
    assert_eq!(
        report_lines(&response),
        vec![
            "unpack ok",
            "ng refs/heads/main deletion of the current branch prohibited"
        ]
    );
    let error = b"\x02error: refusing to delete the current branch: refs/heads/main\n";
    assert!(response.windows(error.len()).any(|w| w == error));
    assert_eq!(
        store.ref_value("refs/heads/main").unwrap(),
        Some(id(&topic))
    );
    // Once HEAD names another branch (PATCH api/settings default_branch), main may go.
    let body = push_body(
        &[(ZERO.into(), topic.clone(), "refs/heads/dev".into())],
        "report-status",
        &repo.pack(&[], &[]),
    );
    assert_eq!(
        report_lines(&run_push(&store, &body, 4096).unwrap())[1],
        "ok refs/heads/dev"
    );
    store.set_head_target("refs/heads/dev").unwrap();
    assert_eq!(
        report_lines(&run_push(&store, &delete_main, 4096).unwrap()),
        vec!["unpack ok", "ok refs/heads/main"]
    );
    assert_eq!(
        store.head_target().unwrap().as_deref(),
        Some("refs/heads/dev")
    );
    // Nor with no old value named, which git lets through; the deletion of HEAD's branch
    // when it is already gone succeeds, as git's.
    let no_old = |name: &str| {
        let body = push_body(
            &[(ZERO.into(), ZERO.into(), name.into())],
            "report-status",
            b"",
        );
        report_lines(&run_push(&store, &body, 4096).unwrap())
    };
    assert_eq!(
        no_old("refs/heads/dev"),
        vec![
            "unpack ok",
            "ng refs/heads/dev deletion of the current branch prohibited"
        ]
    );
    store.set_head_target("refs/heads/gone").unwrap();
    assert_eq!(
        no_old("refs/heads/gone"),
        vec!["unpack ok", "ok refs/heads/gone"]
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
    // Every ref with its exact id, sorted by name, capabilities on the first; no peeled lines.
    let mut expected = "001f# service=git-receive-pack\n0000".to_string();
    for (i, (name, id)) in repo.refs().iter().enumerate() {
        let caps = if i == 0 {
            format!(
                "\0{} agent={}",
                receive_pack::CAPABILITIES,
                git_on_durable_objects::AGENT
            )
        } else {
            String::new()
        };
        let line = format!("{id} {name}{caps}\n");
        expected.push_str(&format!("{:04x}{line}", line.len() + 4));
    }
    expected.push_str("0000");
    assert_eq!(full, expected);
    assert!(full.contains(&format!(
        "{} refs/heads/main\0report-status ",
        repo.git(&["rev-parse", "main"])
    )));
}

#[test]
fn probe_and_empty_requests_answer_empty() {
    let (store, db) = store(4096);
    let before = snapshot(&db);
    assert_eq!(run_push(&store, b"0000", 4096).unwrap(), Vec::<u8>::new());
    assert_eq!(run_push(&store, b"", 4096).unwrap(), Vec::<u8>::new());
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
        self.rejected_in_pieces(body, 333)
    }

    /// [`Scene::rejected`], with the body fed `piece` bytes at a time; the same whether the
    /// push's entries are held in memory or written to rows.
    fn rejected_in_pieces(&self, body: &[u8], piece: usize) -> Vec<String> {
        let held = self.rejected_within(body, piece, &Limits::default());
        let rows = self.rejected_within(body, piece, &holding(0));
        assert_eq!(held, rows, "held in memory, then written to rows");
        held
    }

    /// [`Scene::rejected_in_pieces`], within `limits`.
    fn rejected_within(&self, body: &[u8], piece: usize, limits: &Limits) -> Vec<String> {
        let before = snapshot(&self.db);
        let lines = report_lines(&run_push_within(&self.store, body, piece, limits).unwrap());
        assert_eq!(
            snapshot(&self.db),
            before,
            "the repository changed: {lines:?}"
        );
        lines
    }
}

/// Pushes `pack` creating `name` at `id`, fed `piece` bytes at a time, and asserts both the
/// pack and the ref are accepted.
fn create_accepted(store: &Store<Db>, name: &str, id: ObjectId, pack: &[u8], piece: usize) {
    let body = push_body(
        &[(ZERO.into(), id.to_hex(), name.into())],
        "report-status",
        pack,
    );
    assert_eq!(
        report_lines(&run_push(store, &body, piece).unwrap()),
        vec!["unpack ok".to_string(), format!("ok {name}")]
    );
}

fn assert_unpack_error(lines: &[String], reason: &str) {
    assert_eq!(
        lines,
        vec![
            format!("unpack {reason}"),
            "ng refs/heads/main unpacker error".to_string()
        ]
    );
}

#[test]
fn rejects_a_wrong_trailing_checksum() {
    let s = scene();
    let mut pack = s.next_pack();
    *pack.last_mut().unwrap() ^= 1;
    assert_unpack_error(
        &s.rejected(&s.update_main(&pack)),
        "pack checksum mismatch (pack is corrupted)",
    );
}

#[test]
fn rejects_corrupt_zlib() {
    let s = scene();
    let mut entry = pack::encode_entry_header(EntryKind::Whole(ObjectType::Blob), 5, 0);
    entry.extend_from_slice(&[0x78, 0x9c, 0xff, 0xff, 0xff, 0xff, 0x00, 0x11]);
    let pack = raw_pack(&[entry]);
    assert_unpack_error(
        &s.rejected(&s.update_main(&pack)),
        "corrupt zlib data in entry at offset 12",
    );
}

#[test]
fn rejects_a_delta_whose_base_is_missing() {
    let s = scene();
    let mut entry = pack::encode_entry_header(EntryKind::RefDelta(ObjectId([0xab; 20])), 4, 12);
    entry.extend_from_slice(&zlib::deflate(&[1, 2, 1, b'x']));
    let pack = raw_pack(&[whole_entry(ObjectType::Blob, b"a"), entry]);
    assert_unpack_error(
        &s.rejected(&s.update_main(&pack)),
        "pack has 1 unresolved delta (missing delta base)",
    );
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
    assert_unpack_error(
        &s.rejected(&s.update_main(&pack)),
        "corrupt delta at offset 26: delta copies out of bounds",
    );
}

#[test]
fn rejects_a_truncated_pack_and_cleans_up_an_aborted_one_and_scratch_files() {
    let s = scene();
    let pack = s.next_pack();
    let body = s.update_main(&pack[..pack.len() / 2]);
    assert_unpack_error(&s.rejected(&body), "pack is truncated at offset 220");

    // The client goes away mid-body: the host aborts the push.
    let before = snapshot(&s.db);
    let mut push =
        git_on_durable_objects::receive_pack::ReceivePack::new(&s.store, &Default::default());
    push.feed(&body).unwrap();
    push.abort().unwrap();
    assert_eq!(snapshot(&s.db), before);

    // The object was evicted mid-push: the next start removes the leftovers.
    let mut push =
        git_on_durable_objects::receive_pack::ReceivePack::new(&s.store, &Default::default());
    push.feed(&body).unwrap();
    drop(push);
    // ...and a fetch was cut short with a large object's scratch file written.
    let scratch = git_on_durable_objects::store::ScratchRows::new(&s.store, None);
    let mut file = scratch.create_file(0).unwrap();
    file.append(&[7; 3000]).unwrap();
    file.flush().unwrap();
    assert_ne!(snapshot(&s.db), before);
    s.store.open().unwrap();
    assert_eq!(snapshot(&s.db), before);
}

#[test]
fn rejects_trailing_garbage() {
    let s = scene();
    let mut pack = s.next_pack();
    pack.extend_from_slice(b"garbage");
    // Whole, and in pieces that split the trailer and end with garbage.
    for piece in [333, 7, 1] {
        assert_unpack_error(
            &s.rejected_in_pieces(&s.update_main(&pack), piece),
            "pack has trailing garbage after offset 441",
        );
    }
}

#[test]
fn rejects_malformed_and_oversized_pkt_lines() {
    let s = scene();
    for (body, reason) in [
        (&b"zzzz0000"[..], "malformed pkt-line length \"zzzz\""),
        (b"fff0", "request ended before the flush packet"),
        (b"0003", "malformed pkt-line length 0003"),
        (b"00100123456789ab", "malformed command \"0123456789ab\""),
        (b"0009short", "malformed command \"short\""),
    ] {
        let before = snapshot(&s.db);
        let err = run_push(&s.store, body, 3).unwrap_err();
        assert_eq!(err.to_string(), reason);
        assert_eq!(snapshot(&s.db), before);
    }
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
        vec!["unpack ok", "ng refs/heads/main failed to update ref"]
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
fn rejects_sha256_and_takes_sha1_named() {
    let s = scene();
    let body = |format: &str| {
        push_body(
            &[(s.main.clone(), s.next.clone(), "refs/heads/main".into())],
            &format!("report-status object-format={format}"),
            &s.next_pack(),
        )
    };
    assert_unpack_error(
        &s.rejected(&body("sha256")),
        "unsupported object-format sha256: this server stores sha1 repositories",
    );
    // git names the format it pushes in whenever the server advertises it.
    assert_eq!(
        report_lines(&run_push(&s.store, &body("sha1"), 1000).unwrap()),
        vec!["unpack ok", "ok refs/heads/main"]
    );
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
            "ng refs/heads/main atomic push failure",
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

// ---- compare-and-swap, connectivity and ref-kind rules, with git's wording ----

impl Scene {
    /// Writes an object into the scene's repository (not into the store) and returns its id.
    fn hash(&self, kind: &str, content: &[u8]) -> String {
        let out = self
            .repo
            .git_with(&["hash-object", "-w", "-t", kind, "--stdin"], content);
        String::from_utf8(out).unwrap().trim().to_string()
    }

    fn mktree(&self, listing: &str) -> String {
        let out = self.repo.git_with(&["mktree"], listing.as_bytes());
        String::from_utf8(out).unwrap().trim().to_string()
    }

    /// A pack entry holding the object `id` of the scene's repository, whole.
    fn entry(&self, kind: ObjectType, id: &str) -> Vec<u8> {
        whole_entry(
            kind,
            &self.repo.git_with(&["cat-file", kind.name(), id], b""),
        )
    }

    /// One command, with report-status and delete-refs.
    fn command(&self, old: &str, new: &str, name: &str, pack: &[u8]) -> Vec<u8> {
        push_body(
            &[(old.into(), new.into(), name.into())],
            "report-status delete-refs",
            pack,
        )
    }
}

#[test]
fn refuses_to_create_a_ref_that_exists() {
    let s = scene();
    // An all-zero old value means "the ref must not exist", never "whatever it is".
    let body = s.command(ZERO, &s.next, "refs/heads/main", &s.next_pack());
    assert_eq!(
        s.rejected(&body),
        vec!["unpack ok", "ng refs/heads/main failed to update ref"]
    );
}

#[test]
fn refuses_a_delete_with_a_stale_old_value() {
    let s = scene();
    let topic = s.repo.git(&["rev-parse", "topic"]);
    let stale = s.repo.git(&["rev-parse", "main~3"]);
    let body = s.command(&stale, ZERO, "refs/heads/topic", b"");
    assert_eq!(
        s.rejected(&body),
        vec!["unpack ok", "ng refs/heads/topic failed to update ref"]
    );
    // HEAD's branch is refused before its old value is looked at, in git's order.
    let body = s.command(&stale, ZERO, "refs/heads/main", b"");
    assert_eq!(
        s.rejected(&body),
        vec![
            "unpack ok",
            "ng refs/heads/main deletion of the current branch prohibited"
        ]
    );
    // With the right old value the same delete goes through.
    let body = s.command(&topic, ZERO, "refs/heads/topic", b"");
    assert_eq!(
        report_lines(&run_push(&s.store, &body, 4096).unwrap()),
        vec!["unpack ok", "ok refs/heads/topic"]
    );
    assert_eq!(s.store.ref_value("refs/heads/topic").unwrap(), None);
}

#[test]
fn refuses_trees_and_tags_whose_links_are_missing() {
    let s = scene();
    // main + a commit adding sub/deep.txt: a new root tree, a new subtree, a new blob.
    let blob = s.hash("blob", b"deep\n");
    let sub = s.mktree(&format!("100644 blob {blob}\tdeep.txt\n"));
    let listing = s.repo.git(&["ls-tree", &s.main]);
    let root = s.mktree(&format!("{listing}\n040000 tree {sub}\tsub\n"));
    let commit = s
        .repo
        .git(&["commit-tree", &root, "-p", &s.main, "-m", "deep"]);
    let commit_entry = s.entry(ObjectType::Commit, &commit);
    let root_entry = s.entry(ObjectType::Tree, &root);
    let missing = vec!["unpack ok", "ng refs/heads/main missing necessary objects"];

    let no_blob = raw_pack(&[
        commit_entry.clone(),
        root_entry.clone(),
        s.entry(ObjectType::Tree, &sub),
    ]);
    let body = s.command(&s.main, &commit, "refs/heads/main", &no_blob);
    assert_eq!(s.rejected(&body), missing, "a tree's blob is missing");

    let no_subtree = raw_pack(&[
        commit_entry.clone(),
        root_entry.clone(),
        s.entry(ObjectType::Blob, &blob),
    ]);
    let body = s.command(&s.main, &commit, "refs/heads/main", &no_subtree);
    assert_eq!(s.rejected(&body), missing, "a tree's subtree is missing");

    let tag = s.hash(
        "tag",
        format!(
            "object {commit}\ntype commit\ntag deep\ntagger T <t@example.com> 1700000000 +0000\n\ndeep\n"
        )
        .as_bytes(),
    );
    let only_tag = raw_pack(&[s.entry(ObjectType::Tag, &tag)]);
    let body = s.command(ZERO, &tag, "refs/tags/deep", &only_tag);
    assert_eq!(
        s.rejected(&body),
        vec!["unpack ok", "ng refs/tags/deep missing necessary objects"]
    );

    // All of it together is accepted.
    let whole = raw_pack(&[
        commit_entry,
        root_entry,
        s.entry(ObjectType::Tree, &sub),
        s.entry(ObjectType::Blob, &blob),
        s.entry(ObjectType::Tag, &tag),
    ]);
    let body = push_body(
        &[
            (s.main.clone(), commit.clone(), "refs/heads/main".into()),
            (ZERO.into(), tag.clone(), "refs/tags/deep".into()),
        ],
        "report-status",
        &whole,
    );
    assert_eq!(
        report_lines(&run_push(&s.store, &body, 4096).unwrap()),
        vec!["unpack ok", "ok refs/heads/main", "ok refs/tags/deep"]
    );
}

#[test]
fn a_link_beyond_the_first_page_of_links_is_checked() {
    use git_on_durable_objects::format::object::hash;
    use git_on_durable_objects::store::LINK_PAGE;
    let s = scene();
    // One tree of more files than a page of links holds: its last files' links are on the
    // second page, and one of them is left out of the pack.
    let files = LINK_PAGE + 10;
    let blobs: Vec<Vec<u8>> = (0..files).map(|i| format!("{i}\n").into_bytes()).collect();
    let mut tree = Vec::new();
    for (i, blob) in blobs.iter().enumerate() {
        tree.extend_from_slice(format!("100644 f{i:06}\0").as_bytes());
        tree.extend_from_slice(&hash(ObjectType::Blob, blob).0);
    }
    let commit = format!(
        "tree {}\nparent {}\nauthor A <a@example.com> 1700000000 +0000\n\
         committer A <a@example.com> 1700000000 +0000\n\nwide\n",
        hash(ObjectType::Tree, &tree),
        s.main
    );
    let id = hash(ObjectType::Commit, commit.as_bytes()).to_hex();
    let pack = |left_out: Option<usize>| {
        let mut entries = vec![
            whole_entry(ObjectType::Commit, commit.as_bytes()),
            whole_entry(ObjectType::Tree, &tree),
        ];
        entries.extend(
            (0..files)
                .filter(|&i| Some(i) != left_out)
                .map(|i| whole_entry(ObjectType::Blob, &blobs[i])),
        );
        raw_pack(&entries)
    };
    let body = s.command(&s.main, &id, "refs/heads/main", &pack(Some(files - 2)));
    for held in [files + 2, 100] {
        assert_eq!(
            s.rejected_within(&body, 1 << 16, &holding(held)),
            vec!["unpack ok", "ng refs/heads/main missing necessary objects"]
        );
    }
    let body = s.command(&s.main, &id, "refs/heads/main", &pack(None));
    assert_eq!(
        report_lines(&run_push(&s.store, &body, 1 << 16).unwrap()),
        vec!["unpack ok", "ok refs/heads/main"]
    );
}

#[test]
fn refuses_to_point_a_branch_at_anything_but_a_commit() {
    let s = scene();
    let blob = s.repo.git(&["rev-parse", "main:notes.txt"]);
    let tag = s.repo.git(&["rev-parse", "v1.0"]);
    let empty = s.repo.pack(&[], &[]);
    // As git's ref transaction: "failed to update ref", and its error line.
    for (id, kind) in [(&blob, "blob"), (&tag, "tag")] {
        let body = s.command(ZERO, id, "refs/heads/odd", &empty);
        assert_eq!(
            s.rejected(&body),
            vec!["unpack ok", "ng refs/heads/odd failed to update ref"],
            "a stored {kind}"
        );
    }
    let banded = push_body(
        &[(ZERO.into(), tag.clone(), "refs/heads/odd".into())],
        "report-status side-band-64k",
        &empty,
    );
    let response = run_push(&s.store, &banded, 4096).unwrap();
    let error = format!(
        "\x02error: cannot update ref 'refs/heads/odd': trying to write non-commit object {tag} to branch 'refs/heads/odd'\n"
    );
    let error = error.as_bytes();
    assert!(response.windows(error.len()).any(|w| w == error));
    // A tree that arrives in the pushed pack.
    let tree = s.repo.git(&["rev-parse", &format!("{}^{{tree}}", s.next)]);
    let pack = s.repo.pack(&[&s.next], &[&s.main]);
    let body = s.command(ZERO, &tree, "refs/heads/odd", &pack);
    assert_eq!(
        s.rejected(&body),
        vec!["unpack ok", "ng refs/heads/odd failed to update ref"]
    );
    // Outside refs/heads/ any object may be named.
    let body = s.command(ZERO, &blob, "refs/tags/a-blob", &empty);
    assert_eq!(
        report_lines(&run_push(&s.store, &body, 4096).unwrap()),
        vec!["unpack ok", "ok refs/tags/a-blob"]
    );
    assert_eq!(
        s.store.ref_value("refs/tags/a-blob").unwrap(),
        Some(id(&blob))
    );
}

#[test]
fn a_create_without_pack_data_is_an_unpacker_error() {
    let s = scene();
    // Even a commit the repository has needs the (empty) pack git always sends.
    let body = s.command(ZERO, &s.main, "refs/heads/copy", b"");
    assert_eq!(
        s.rejected(&body),
        vec![
            "unpack no pack data received",
            "ng refs/heads/copy unpacker error"
        ]
    );
}

#[test]
fn a_pack_without_commands_is_discarded() {
    let s = scene();
    let mut body = b"0000".to_vec();
    body.extend_from_slice(&s.next_pack());
    let before = snapshot(&s.db);
    assert_eq!(run_push(&s.store, &body, 100).unwrap(), Vec::<u8>::new());
    assert_eq!(snapshot(&s.db), before);
}

/// The exact response for one accepted create of `refs/heads/new`, for these capabilities.
fn create_response(s: &Scene, caps: &str) -> Vec<u8> {
    let body = push_body(
        &[(ZERO.into(), s.main.clone(), "refs/heads/new".into())],
        caps,
        &s.repo.pack(&[], &[]),
    );
    let response = run_push(&s.store, &body, 4096).unwrap();
    s.store.delete_ref("refs/heads/new").unwrap();
    response
}

#[test]
fn the_report_follows_the_capabilities() {
    let s = scene();
    let mut report = Vec::new();
    pktline::write_str(&mut report, "unpack ok\n");
    pktline::write_str(&mut report, "ok refs/heads/new\n");
    report.extend_from_slice(pktline::FLUSH);
    let banded = |progress: bool, report: &[u8]| {
        let mut out = Vec::new();
        if progress {
            out.extend_from_slice(b"0019\x02updated 1 of 1 refs\n");
        }
        if !report.is_empty() {
            out.extend_from_slice(format!("{:04x}\x01", report.len() + 5).as_bytes());
            out.extend_from_slice(report);
        }
        out.extend_from_slice(pktline::FLUSH);
        out
    };
    assert_eq!(create_response(&s, "report-status"), report);
    assert_eq!(create_response(&s, "report-status-v2"), report);
    assert_eq!(
        create_response(&s, "report-status side-band-64k"),
        banded(true, &report)
    );
    assert_eq!(
        create_response(&s, "report-status-v2 side-band-64k quiet"),
        banded(false, &report)
    );
    assert_eq!(
        create_response(&s, "report-status side-band quiet"),
        banded(false, &report)
    );
    // Without report-status the client asked for no report at all.
    assert_eq!(create_response(&s, "agent=x"), Vec::<u8>::new());
    assert_eq!(create_response(&s, "side-band-64k"), banded(true, &[]));
}

#[test]
fn side_band_frames_a_long_report_in_1000_byte_frames() {
    let s = scene();
    let names: Vec<String> = (0..40)
        .map(|i| format!("refs/heads/{i:02}-{}", "x".repeat(40)))
        .collect();
    let commands: Vec<_> = names
        .iter()
        .map(|n| (ZERO.to_string(), s.main.clone(), n.clone()))
        .collect();
    for (caps, max) in [
        ("report-status side-band", 1000),
        ("report-status side-band-64k", 65520),
    ] {
        let response = run_push(
            &s.store,
            &push_body(&commands, caps, &s.repo.pack(&[], &[])),
            4096,
        )
        .unwrap();
        let mut sizes = Vec::new();
        let mut pos = 0;
        while let Some((pkt, len)) = pktline::decode(&response[pos..]).unwrap() {
            pos += len;
            if let pktline::Pkt::Data(d) = pkt {
                if d[0] == 1 {
                    sizes.push(len);
                }
            }
        }
        assert!(sizes.iter().all(|&n| n <= max), "{caps}: {sizes:?}");
        assert_eq!(
            sizes.len(),
            if max == 1000 { 3 } else { 1 },
            "{caps}: {sizes:?}"
        );
        let lines = report_lines(&response);
        assert_eq!(lines.len(), 41);
        assert!(lines[1..].iter().all(|l| l.starts_with("ok ")), "{lines:?}");
        for name in &names {
            s.store.delete_ref(name).unwrap();
        }
    }
}

#[test]
fn push_options_and_shallow_lines_are_read_and_skipped() {
    let s = scene();
    let mut body = Vec::new();
    pktline::write_str(&mut body, &format!("shallow {}\n", s.main));
    pktline::write_str(
        &mut body,
        &format!(
            "{} {} refs/heads/main\0report-status push-options\n",
            s.main, s.next
        ),
    );
    body.extend_from_slice(pktline::FLUSH);
    pktline::write_str(&mut body, "ci.skip\n");
    pktline::write_str(&mut body, "merge_request.create\n");
    body.extend_from_slice(pktline::FLUSH);
    body.extend_from_slice(&s.next_pack());
    assert_eq!(
        report_lines(&run_push(&s.store, &body, 7).unwrap()),
        vec!["unpack ok", "ok refs/heads/main"]
    );
    assert_eq!(
        s.store.ref_value("refs/heads/main").unwrap(),
        Some(id(&s.next))
    );
}

#[test]
fn malformed_command_sections_are_bad_requests_that_change_nothing() {
    let s = scene();
    let command = format!("{} {} refs/heads/main", s.main, s.next);
    let cases: Vec<(Vec<u8>, String)> = vec![
        (
            {
                let mut b = Vec::new();
                pktline::write_str(&mut b, &format!("{command}\0report-status\n"));
                pktline::write_str(&mut b, &format!("{command}\0report-status\n"));
                b
            },
            "capabilities after the first command".into(),
        ),
        (
            {
                let mut b = Vec::new();
                pktline::write_str(&mut b, &format!("{command}\n"));
                b.extend_from_slice(b"0001");
                b
            },
            "unexpected packet Delim".into(),
        ),
        (
            {
                let mut b = Vec::new();
                pktline::write_str(&mut b, &format!("{command}\n"));
                b
            },
            "request ended before the flush packet".into(),
        ),
        (
            {
                let mut b = Vec::new();
                pktline::write_str(&mut b, &format!("{}x{}", &command[..40], &command[41..]));
                b
            },
            format!(
                "malformed command {:?}",
                format!("{}x{}", &command[..40], &command[41..])
            ),
        ),
    ];
    for (body, reason) in cases {
        let before = snapshot(&s.db);
        let err = run_push(&s.store, &body, 5).unwrap_err();
        assert_eq!(err.to_string(), reason);
        assert_eq!(snapshot(&s.db), before);
    }
}

#[test]
fn a_ref_delta_before_its_base_is_resolved_and_reads_back_loose_or_packed() {
    // 0 fillers: two objects, stored loose; 98: a hundred, kept as a pack, where reading the
    // delta finds its base's offset in the same pack.
    for (fillers, loose_rows) in [(0, 2), (98, 0)] {
        // Tiny chunks, so by the time the base arrives the delta's bytes are in flushed rows.
        let (store, db) = store(64);
        let base: Vec<u8> = (0..200u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut target = base[..100].to_vec();
        target.extend_from_slice(b"XYZ");
        let base_id = git_on_durable_objects::format::object::hash(ObjectType::Blob, &base);
        let target_id = git_on_durable_objects::format::object::hash(ObjectType::Blob, &target);
        // base 200 (varint c8 01), result 103: copy 100 bytes at 0, insert "XYZ"
        let delta = [0xc8, 0x01, 103, 0x90, 100, 3, b'X', b'Y', b'Z'];
        let mut entry =
            pack::encode_entry_header(EntryKind::RefDelta(base_id), delta.len() as u64, 12);
        entry.extend_from_slice(&zlib::deflate(&delta));
        let mut entries = vec![entry, whole_entry(ObjectType::Blob, &base)];
        for n in 0..fillers {
            entries.push(whole_entry(
                ObjectType::Blob,
                format!("filler {n}").as_bytes(),
            ));
        }
        let pack = raw_pack(&entries);
        assert!(pack.len() > 3 * 64);
        create_accepted(&store, "refs/tags/t", target_id, &pack, 10);
        let object = store.read_object(&target_id).unwrap().unwrap();
        assert_eq!(
            (object.kind, object.data.to_vec()),
            (ObjectType::Blob, target)
        );
        assert!(store.read_object(&base_id).unwrap().is_some());
        assert_eq!(
            db.exec("SELECT count(*) FROM loose", vec![]).unwrap()[0][0].as_i64(),
            Some(loose_rows)
        );
    }
}

#[test]
fn index_pack_refusals_name_the_fault() {
    let s = scene();
    let blob = |data: &[u8], declared: u64| {
        let mut entry = pack::encode_entry_header(EntryKind::Whole(ObjectType::Blob), declared, 0);
        entry.extend_from_slice(&zlib::deflate(data));
        entry
    };
    let ofs_delta = |distance: u64, at: u64| {
        let delta = [1u8, 1, 1, b'x'];
        let mut entry =
            pack::encode_entry_header(EntryKind::OfsDelta(at - distance), delta.len() as u64, at);
        entry.extend_from_slice(&zlib::deflate(&delta));
        entry
    };
    let missing = |n: u8| {
        let mut entry = pack::encode_entry_header(EntryKind::RefDelta(ObjectId([n; 20])), 4, 0);
        entry.extend_from_slice(&zlib::deflate(&[1, 1, 1, b'x']));
        entry
    };
    let first = blob(b"a", 1);
    let mut bad_version = raw_pack(std::slice::from_ref(&first));
    bad_version[7] = 4;
    let bad_version = reseal(bad_version);
    let mut not_a_pack = raw_pack(std::slice::from_ref(&first));
    not_a_pack[0] = b'Q';
    let cases: Vec<(Vec<u8>, String)> = vec![
        (
            raw_pack(&[blob(b"hello world", 5)]),
            "entry at offset 12 inflates to more than its declared size".into(),
        ),
        (
            raw_pack(&[blob(b"hello", 10)]),
            "entry at offset 12 inflates to 5 bytes, not the declared 10".into(),
        ),
        (
            // An offset that lands inside the first entry, not at its start.
            raw_pack(&[
                first.clone(),
                ofs_delta(first.len() as u64 - 1, 12 + first.len() as u64),
            ]),
            format!(
                "delta at offset {} names no entry as its base",
                12 + first.len()
            ),
        ),
        (
            // A distance back to offset 0, the pack header.
            raw_pack(&[
                first.clone(),
                ofs_delta(12 + first.len() as u64, 12 + first.len() as u64),
            ]),
            format!(
                "delta at offset {} names no entry as its base",
                12 + first.len()
            ),
        ),
        (
            raw_pack(&[missing(1), missing(2), first.clone()]),
            "pack has 2 unresolved deltas (missing delta base)".into(),
        ),
        (
            raw_pack(&[whole_entry(ObjectType::Commit, b"tree nonsense\n")]),
            format!(
                "bad commit {}: bogus commit object: it does not start with a tree line",
                git_on_durable_objects::format::object::hash(
                    ObjectType::Commit,
                    b"tree nonsense\n"
                )
            ),
        ),
        (bad_version, "unsupported pack version 4".into()),
        (not_a_pack, "not a pack: bad signature".into()),
        (
            raw_pack(&[vec![
                0x80 | 0x30,
                0x80,
                0x80,
                0x80,
                0x80,
                0x80,
                0x80,
                0x80,
                0x80,
                0x01,
            ]]),
            "bad entry header at offset 12: size overflows".into(),
        ),
        (
            raw_pack(&[vec![0x50, 0x78]]),
            "bad entry header at offset 12: unknown type".into(),
        ),
    ];
    for (pack, reason) in cases {
        for piece in [333, 1] {
            assert_unpack_error(&s.rejected_in_pieces(&s.update_main(&pack), piece), &reason);
        }
    }
}

/// Blobs `0..n` as a raw pack, and the id of the first.
fn blobs_pack(n: usize, size: usize) -> (Vec<u8>, ObjectId) {
    let data = |i: usize| {
        let mut d = format!("blob {i}\n").into_bytes();
        d.resize(size.max(d.len()), b'.');
        d
    };
    let entries: Vec<Vec<u8>> = (0..n)
        .map(|i| whole_entry(ObjectType::Blob, &data(i)))
        .collect();
    (
        raw_pack(&entries),
        git_on_durable_objects::format::object::hash(ObjectType::Blob, &data(0)),
    )
}

#[test]
fn pushes_of_fewer_than_100_small_objects_are_stored_loose() {
    let count = |db: &Db, table: &str| {
        db.exec(&format!("SELECT count(*) FROM {table}"), vec![])
            .unwrap()[0][0]
            .as_i64()
            .unwrap()
    };
    for (n, size, loose) in [
        (99, 10, true),
        (100, 10, false),
        (1, 1 << 20, true),
        (1, (1 << 20) + 1, false),
    ] {
        let (store, db) = store(1 << 16);
        let (pack, first) = blobs_pack(n, size);
        create_accepted(&store, "refs/tags/blob", first, &pack, 65536);
        let expected = if loose { (n as i64, 0) } else { (0, 1) };
        assert_eq!(
            (count(&db, "loose"), store.packs().unwrap().len() as i64),
            expected,
            "{n} objects of {size} bytes"
        );
        assert_eq!(
            store.count_objects().unwrap(),
            (n as u64, if loose { n as u64 } else { 0 })
        );
    }
}

#[test]
fn a_store_keeps_pack_files_in_rows_of_one_mebibyte() {
    // The platform allows 2 MB a row: the production store cuts packs at 1 MiB.
    let db = db();
    let store = Store::new(db.clone());
    store.open().unwrap();
    // 1.5 MiB that zlib cannot shrink (an xorshift sequence).
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let data: Vec<u8> = (0..3 << 19)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let pack = raw_pack(&[whole_entry(ObjectType::Blob, &data)]);
    let blob = git_on_durable_objects::format::object::hash(ObjectType::Blob, &data);
    create_accepted(&store, "refs/tags/blob", blob, &pack, 65536);
    let rows = db
        .exec(
            "SELECT max(length(data)), count(*), sum(length(data)) FROM pack_chunks WHERE kind = 0",
            vec![],
        )
        .unwrap();
    let (largest, count, total) = (
        rows[0][0].as_i64().unwrap(),
        rows[0][1].as_i64().unwrap(),
        rows[0][2].as_i64().unwrap(),
    );
    assert_eq!((largest, count), (1 << 20, 2));
    assert_eq!(total as u64, store.packs().unwrap()[0].size);
}

#[test]
fn a_pack_cut_inside_its_header_is_truncated_and_no_bytes_are_no_pack() {
    let s = scene();
    let pack = s.next_pack();
    assert_unpack_error(
        &s.rejected(&s.update_main(&pack[..5])),
        "pack is truncated at offset 5",
    );
    let push = s.store.begin_push().unwrap();
    let nothing =
        git_on_durable_objects::index_pack::IndexPack::new(&s.store, push, u64::MAX).finish();
    assert_eq!(
        nothing.err().map(|e| e.to_string()).as_deref(),
        Some("no pack data received")
    );
    s.store.discard_push(push).unwrap();
}

#[test]
fn the_shortest_command_is_parsed_and_its_name_judged() {
    let s = scene();
    // 40 + 1 + 40 + 1 + one character: the shortest well-formed command line.
    let body = s.command(ZERO, &s.main, "x", &s.repo.pack(&[], &[]));
    assert_eq!(s.rejected(&body), vec!["unpack ok", "ng x funny refname"]);
}

#[test]
fn a_tag_chain_is_followed_up_to_sixty_three_tags() {
    // A budget against hostile input: no repository git makes has 64 tags in a row.
    let (store, _db) = store(4096);
    let blob = b"tagged\n".to_vec();
    let blob_id = git_on_durable_objects::format::object::hash(ObjectType::Blob, &blob);
    let mut entries = vec![whole_entry(ObjectType::Blob, &blob)];
    let mut chain = vec![blob_id];
    for n in 1..=64 {
        let kind = if n == 1 { "blob" } else { "tag" };
        let tag = format!(
            "object {}\ntype {kind}\ntag t{n}\ntagger A <a@example.com> 0 +0000\n\nt{n}\n",
            chain.last().unwrap()
        );
        chain.push(git_on_durable_objects::format::object::hash(
            ObjectType::Tag,
            tag.as_bytes(),
        ));
        entries.push(whole_entry(ObjectType::Tag, tag.as_bytes()));
    }
    create_accepted(&store, "refs/tags/blob", blob_id, &raw_pack(&entries), 4096);
    let reader = git_on_durable_objects::store::ObjectReader::new(&store);
    let peeled = reader.peel(chain[63]).unwrap();
    assert_eq!((peeled.tags.len(), peeled.target), (63, blob_id));
    assert_eq!(
        reader.peel(chain[64]).unwrap_err().to_string(),
        format!("tag chain from {} is too long", chain[64])
    );
}

// ---- ref transactions, decided beside git's own receive-pack ----

/// The report git's own receive-pack gives for `body`, run on the bare repository `bare`.
fn git_receive_pack(bare: &std::path::Path, body: &[u8]) -> Vec<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("git")
        .arg("receive-pack")
        .arg(bare)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap().stdout;
    // The advertisement comes first and ends at its flush.
    let mut pos = 0;
    while let Some((packet, len)) = pktline::decode(&out[pos..]).unwrap() {
        pos += len;
        if packet == pktline::Pkt::Flush {
            break;
        }
    }
    report_lines(&out[pos..])
}

#[test]
fn ref_transactions_are_decided_as_git_decides_them() {
    let repo = history_repo();
    let (store, _db) = store(4096);
    push_all(&store, &repo, CAPS, 65536);
    let bare = tempfile::tempdir().unwrap();
    let bare = bare.path().join("bare.git");
    repo.git(&["clone", "-q", "--mirror", ".", bare.to_str().unwrap()]);
    let refs_of_git = || {
        let listing = repo.git(&["--git-dir", bare.to_str().unwrap(), "for-each-ref"]);
        let mut refs: Vec<(String, String)> = listing
            .lines()
            .map(|l| {
                let (id, name) = l.split_once('\t').unwrap();
                (name.to_string(), id[..40].to_string())
            })
            .collect();
        refs.sort();
        refs
    };
    let refs_of_ours = || {
        let refs = store.refs().unwrap();
        refs.iter()
            .map(|r| (r.name.clone(), r.id.to_hex()))
            .collect::<Vec<_>>()
    };
    assert_eq!(refs_of_ours(), refs_of_git());
    let m = repo.git(&["rev-parse", "main"]);
    let o = repo.git(&["rev-parse", "main~1"]);
    let z = ZERO.to_string();
    let id_of_nothing = "1".repeat(40);
    let empty_pack = raw_pack(&[]);
    // Names git's ref transaction cannot lock on a filesystem: a component past NAME_MAX, a
    // path past PATH_MAX; and one long but within both.
    let long_component = format!("refs/heads/{}", "x".repeat(300));
    let long_path = format!("refs/heads/{}", vec!["y".repeat(200); 22].join("/"));
    let long_but_fine = format!("refs/heads/{}", vec!["w".repeat(200); 15].join("/"));
    type Commands<'a> = &'a [(&'a str, &'a str, &'a str)];
    let cases: &[(&str, Commands)] = &[
        ("", &[(&z, &m, "refs/heads/main/sub")]),
        ("", &[(&z, &m, "refs/heads/a"), (&z, &m, "refs/heads/a/b")]),
        ("", &[(&z, &m, "refs/heads/c/d"), (&z, &m, "refs/heads/c")]),
        (
            "",
            &[(&z, &m, "refs/heads/dup"), (&z, &m, "refs/heads/dup")],
        ),
        ("", &[(&z, &m, "refs/heads/e"), (&m, &o, "refs/heads/e")]),
        (
            "atomic",
            &[(&z, &m, "refs/heads/f"), (&z, &m, "refs/heads/f")],
        ),
        (
            "atomic",
            &[(&z, &m, "refs/heads/g"), (&z, &m, "refs/heads/g/h")],
        ),
        ("atomic", &[(&z, &m, "refs/heads/main/x")]),
        ("", &[(&m, &z, "refs/heads/a"), (&z, &m, "refs/heads/a/b")]),
        ("", &[(&o, &m, "refs/heads/main")]),
        ("", &[(&z, &m, "refs/heads/main")]),
        ("", &[(&m, &z, "refs/heads/e")]),
        (
            "atomic",
            &[(&o, &m, "refs/heads/main"), (&z, &m, "refs/heads/k")],
        ),
        (
            "atomic",
            &[
                (&m, &m, "refs/heads/main"),
                (&z, &m, "refs/heads/bad..name"),
            ],
        ),
        (
            "atomic",
            &[(&z, &m, "refs/heads/l"), (&z, &m, "refs/heads/l")],
        ),
        (
            "",
            &[
                (&z, &m, "refs/heads/n/o/p"),
                (&m, &z, "refs/heads/n/o/p"),
                (&z, &m, "refs/heads/n"),
            ],
        ),
        (
            "atomic",
            &[(&m, &z, "refs/heads/n"), (&z, &m, "refs/heads/n/q")],
        ),
        ("", &[(&m, &z, "refs/heads/nope")]),
        ("", &[(&z, &z, "refs/heads/nope")]),
        ("", &[(&id_of_nothing, &z, "refs/heads/nope")]),
        ("", &[(&z, &m, &long_component), (&z, &m, "refs/heads/r")]),
        ("", &[(&z, &m, &long_path)]),
        ("", &[(&z, &m, &long_but_fine)]),
        (
            "atomic",
            &[(&z, &m, "refs/heads/s"), (&z, &m, &long_component)],
        ),
    ];
    for (caps, commands) in cases {
        let commands: Vec<(String, String, String)> = commands
            .iter()
            .map(|(old, new, name)| (old.to_string(), new.to_string(), name.to_string()))
            .collect();
        let creates = commands.iter().any(|(_, new, _)| *new != z);
        let pack: &[u8] = if creates { &empty_pack } else { b"" };
        let body = push_body(
            &commands,
            &format!("report-status delete-refs {caps}"),
            pack,
        );
        let ours = report_lines(&run_push(&store, &body, 4096).unwrap());
        assert_eq!(ours, git_receive_pack(&bare, &body), "{commands:?} {caps}");
        assert_eq!(refs_of_ours(), refs_of_git(), "{commands:?} {caps}");
    }
}

#[test]
fn a_storage_failure_at_any_write_leaves_every_table_as_it_was() {
    let forms = [
        (3, "loose", 1000),
        (120, "pack", 1000),
        (120, "pack from rows", 10),
    ];
    for (n, form, held) in forms {
        let (store, db) = store(1 << 12);
        create_accepted(
            &store,
            "refs/tags/first",
            blobs_pack(1, 10).1,
            &blobs_pack(1, 10).0,
            4096,
        );
        let (pack, blob) = blobs_pack(n, 100);
        let body = push_body(
            &[
                (ZERO.into(), blob.to_hex(), "refs/tags/a".into()),
                (ZERO.into(), blob.to_hex(), "refs/tags/b".into()),
                (
                    blobs_pack(1, 10).1.to_hex(),
                    ZERO.into(),
                    "refs/tags/first".into(),
                ),
            ],
            "report-status",
            &pack,
        );
        let mut failures = 0;
        loop {
            let before = snapshot(&db);
            db.fail_write_after(failures);
            let lines =
                report_lines(&run_push_within(&store, &body, 1000, &holding(held)).unwrap());
            if !db.failure_pending() && lines[0] == "unpack ok" && lines[1] == "ok refs/tags/a" {
                panic!("{form}: the write that failed went unnoticed: {lines:?}");
            }
            if db.failure_pending() {
                assert_eq!(
                    lines[1..],
                    ["ok refs/tags/a", "ok refs/tags/b", "ok refs/tags/first"]
                );
                break;
            }
            assert_eq!(
                snapshot(&db),
                before,
                "{form}: write {failures} failed: {lines:?}"
            );
            failures += 1;
        }
        assert!(failures > 5, "{form}: only {failures} writes");
        // The summary's count of objects, kept as they come, is what a count finds.
        assert_eq!(
            store.summary().unwrap().objects,
            store.count_objects().unwrap().0,
            "{form}"
        );
    }
}

// ---- hostile packs: duplicates, long and reversed chains ----

/// A delta that ignores its base (of `base_len` bytes) and inserts `result`.
fn insert_delta(base_len: usize, result: &[u8]) -> Vec<u8> {
    let varint = |mut n: usize, out: &mut Vec<u8>| loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    };
    let mut delta = Vec::new();
    varint(base_len, &mut delta);
    varint(result.len(), &mut delta);
    for piece in result.chunks(127) {
        delta.push(piece.len() as u8);
        delta.extend_from_slice(piece);
    }
    delta
}

/// `n` distinct small blobs, whole, to make a pack large enough to be kept as a pack.
fn fillers(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| whole_entry(ObjectType::Blob, format!("filler {i}\n").as_bytes()))
        .collect()
}

#[test]
fn a_pack_holding_an_object_twice_is_refused_and_poisons_nothing() {
    let s = scene();
    let blob = |data: &[u8]| git_on_durable_objects::format::object::hash(ObjectType::Blob, data);
    for x in [&b""[..], b"x\n"] {
        let y = b"y\n";
        let (x_id, y_id) = (blob(x), blob(y));
        // X as a delta on Y, Y as a delta on X, then X whole: without the check, X's row
        // pointed at the delta, whose chain leads back to X.
        let mut entries = vec![
            pack_entry(EntryKind::RefDelta(y_id), &insert_delta(y.len(), x), 0),
            pack_entry(EntryKind::RefDelta(x_id), &insert_delta(x.len(), y), 0),
            whole_entry(ObjectType::Blob, x),
        ];
        entries.extend(fillers(100));
        let body = push_body(
            &[(ZERO.into(), x_id.to_hex(), "refs/tags/x".into())],
            "report-status",
            &raw_pack(&entries),
        );
        for held in [1000, 1] {
            assert_eq!(
                s.rejected_within(&body, 333, &holding(held)),
                vec![
                    format!("unpack the same object {x_id} appears twice in the pack"),
                    "ng refs/tags/x unpacker error".into()
                ]
            );
        }
        // The same object whole twice is refused as well.
        let twice = raw_pack(&[
            whole_entry(ObjectType::Blob, x),
            whole_entry(ObjectType::Blob, x),
        ]);
        let body = push_body(
            &[(ZERO.into(), x_id.to_hex(), "refs/tags/x".into())],
            "report-status",
            &twice,
        );
        assert_eq!(
            s.rejected(&body)[0],
            format!("unpack the same object {x_id} appears twice in the pack")
        );
    }
}

#[test]
fn a_ref_delta_chain_in_reverse_order_is_resolved_from_its_base() {
    // Blob i is a REF_DELTA on blob i-1; the entries come last first, the whole blob at the
    // end. Resolving one delta per pass over the pack took 13 s for 2,000 entries.
    for held in [1 << 16, 10] {
        reverse_chain(&holding(held));
    }
}

fn reverse_chain(limits: &Limits) {
    let (store, _db) = store(1 << 16);
    let data = |i: usize| format!("version {i}\n").into_bytes();
    let id = |i: usize| git_on_durable_objects::format::object::hash(ObjectType::Blob, &data(i));
    let n = 5000;
    let mut entries: Vec<Vec<u8>> = (1..n)
        .rev()
        .map(|i| {
            pack_entry(
                EntryKind::RefDelta(id(i - 1)),
                &insert_delta(data(i - 1).len(), &data(i)),
                0,
            )
        })
        .collect();
    entries.push(whole_entry(ObjectType::Blob, &data(0)));
    let body = push_body(
        &[(ZERO.into(), id(n - 1).to_hex(), "refs/tags/last".into())],
        "report-status",
        &raw_pack(&entries),
    );
    assert_eq!(
        report_lines(&run_push_within(&store, &body, 65536, limits).unwrap()),
        vec!["unpack ok", "ok refs/tags/last"]
    );
    for i in [0, 1, n / 2, n - 1] {
        assert_eq!(
            store.read_object(&id(i)).unwrap().unwrap().data.to_vec(),
            data(i)
        );
    }
}

#[test]
fn a_delta_chain_longer_than_what_is_read_back_is_refused() {
    let s = scene();
    // Entry i holds the text of i: a whole object, then deltas each on the one before.
    let text = |i: usize| i.to_string().into_bytes();
    let chain = |links: usize| {
        let mut pack = pack::header(links as u32 + 1).to_vec();
        let mut at = pack.len() as u64;
        let first = whole_entry(ObjectType::Blob, &text(0));
        pack.extend_from_slice(&first);
        let mut offsets = vec![at];
        at += first.len() as u64;
        for i in 1..=links {
            let delta = insert_delta(text(i - 1).len(), &text(i));
            let base = *offsets.last().unwrap();
            let entry = pack_entry(EntryKind::OfsDelta(base), &delta, at);
            pack.extend_from_slice(&entry);
            offsets.push(at);
            at += entry.len() as u64;
        }
        pack.extend_from_slice(&[0; 20]);
        (reseal(pack), *offsets.last().unwrap())
    };
    let x = git_on_durable_objects::format::object::hash(ObjectType::Blob, &text(0));
    let (too_long, last) = chain(pack::MAX_CHAIN + 1);
    let body = push_body(
        &[(ZERO.into(), x.to_hex(), "refs/tags/x".into())],
        "report-status",
        &too_long,
    );
    assert_eq!(
        s.rejected_in_pieces(&body, 65536)[0],
        format!("unpack delta chain too long at offset {last}")
    );
    // The longest chain that is read back is taken.
    let (longest, _) = chain(pack::MAX_CHAIN);
    let body = push_body(
        &[(ZERO.into(), x.to_hex(), "refs/tags/x".into())],
        "report-status",
        &longest,
    );
    assert_eq!(
        report_lines(&run_push(&s.store, &body, 65536).unwrap()),
        vec!["unpack ok", "ok refs/tags/x"]
    );
}

#[test]
fn a_ref_delta_reads_its_base_from_its_own_pack_when_an_older_copy_holds_the_row() {
    let (store, _db) = store(1 << 12);
    let y = b"the base, pushed twice\n".to_vec();
    let x = b"the delta's result\n".to_vec();
    let hash = |d: &[u8]| git_on_durable_objects::format::object::hash(ObjectType::Blob, d);
    let mut first = vec![whole_entry(ObjectType::Blob, &y)];
    first.extend(fillers(100));
    create_accepted(&store, "refs/tags/y", hash(&y), &raw_pack(&first), 4096);
    let mut second = vec![
        pack_entry(EntryKind::RefDelta(hash(&y)), &insert_delta(y.len(), &x), 0),
        whole_entry(ObjectType::Blob, &y),
    ];
    second
        .extend((0..100).map(|i| whole_entry(ObjectType::Blob, format!("more {i}\n").as_bytes())));
    create_accepted(&store, "refs/tags/x", hash(&x), &raw_pack(&second), 4096);
    assert_eq!(store.packs().unwrap().len(), 2);
    assert_eq!(
        store.read_object(&hash(&x)).unwrap().unwrap().data.to_vec(),
        x
    );
}

// ---- limits: named in the refusal, and nothing changes ----

#[test]
fn a_push_over_a_limit_is_refused_naming_it() {
    let s = scene();
    let limits = Limits::default();
    let refused = |body: &[u8], limits: &Limits| {
        let before = snapshot(&s.db);
        let result = run_push_within(&s.store, body, 1000, limits);
        assert_eq!(snapshot(&s.db), before);
        result
    };
    // The body: the pack stops being read at the limit.
    let body = s.update_main(&s.next_pack());
    let small = Limits {
        push_bytes: body.len() as u64 - 1,
        ..limits
    };
    let lines = report_lines(&refused(&body, &small).unwrap());
    assert_eq!(
        lines,
        vec![
            format!(
                "unpack pack exceeds maximum allowed size: over the limit of {} (MAX_PUSH_BYTES)",
                body.len() - 1
            ),
            "ng refs/heads/main unpacker error".into()
        ]
    );
    // Links: a commit's tree and parent are two, its tree's files more.
    let two = Limits {
        push_links: 2,
        ..limits
    };
    let lines = report_lines(&refused(&s.update_main(&s.next_pack()), &two).unwrap());
    assert_eq!(
        lines,
        vec![
            "unpack the pack's trees, commits and tags make too many links: \
             over the limit of 2 (MAX_PUSH_LINKS)",
            "ng refs/heads/main unpacker error"
        ]
    );
    // Ref updates.
    let commands: Vec<(String, String, String)> = (0..4)
        .map(|i| (ZERO.into(), s.main.clone(), format!("refs/tags/t{i}")))
        .collect();
    let body = push_body(&commands, "report-status", b"");
    let three = Limits {
        push_refs: 3,
        ..limits
    };
    assert_eq!(
        refused(&body, &three).unwrap_err().to_string(),
        "too many ref updates: over the limit of 3 (MAX_PUSH_REFS)"
    );
    // Command lines, however few.
    let long = format!("refs/heads/{}", "a".repeat(60_000));
    let commands: Vec<(String, String, String)> = (0..80)
        .map(|i| (ZERO.into(), s.main.clone(), format!("{long}{i}")))
        .collect();
    assert_eq!(
        refused(&push_body(&commands, "report-status", b""), &limits)
            .unwrap_err()
            .to_string(),
        "push commands take more than 4194304 bytes"
    );
}

#[test]
fn an_object_over_the_size_limit_is_refused_before_it_is_built() {
    let s = scene();
    // 157 bytes that would build 256 MiB: a 64 KiB zero blob, then a delta of 4,096 copies
    // of all of it.
    let base = vec![0u8; 1 << 16];
    let mut delta = vec![0x80, 0x80, 0x04]; // base size 65,536
    delta.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x02]); // result size 512 MiB
    delta.extend(std::iter::repeat_n(0x80, 8192)); // copy 0x10000 bytes at 0
    let mut bomb = vec![whole_entry(ObjectType::Blob, &base)];
    let at = 12 + bomb[0].len() as u64;
    bomb.push(pack_entry(EntryKind::OfsDelta(12), &delta, at));
    let pack = raw_pack(&bomb);
    assert!(pack.len() < 200, "{} bytes", pack.len());
    let body = push_body(
        &[(
            ZERO.into(),
            ObjectId([1; 20]).to_hex(),
            "refs/tags/bomb".into(),
        )],
        "report-status",
        &pack,
    );
    assert_eq!(
        s.rejected(&body)[0],
        format!(
            "unpack object at offset {at} is 536870912 bytes: over the limit of 268435456 \
             (MAX_OBJECT_BYTES)"
        )
    );
    // A whole object over a lower limit.
    let limits = Limits {
        object_bytes: 1000,
        ..Limits::default()
    };
    let pack = raw_pack(&[whole_entry(ObjectType::Blob, &[7; 1001])]);
    let body = push_body(
        &[(
            ZERO.into(),
            ObjectId([1; 20]).to_hex(),
            "refs/tags/big".into(),
        )],
        "report-status",
        &pack,
    );
    let before = snapshot(&s.db);
    let lines = report_lines(&run_push_within(&s.store, &body, 100, &limits).unwrap());
    assert_eq!(snapshot(&s.db), before);
    assert_eq!(
        lines[0],
        "unpack object at offset 12 is 1001 bytes: over the limit of 1000 (MAX_OBJECT_BYTES)"
    );
}

#[test]
fn refuses_links_to_objects_of_another_type_as_git_does() {
    let s = scene();
    let missing = |name: &str| {
        vec![
            "unpack ok".to_string(),
            format!("ng {name} missing necessary objects"),
        ]
    };
    let literally = |kind: &str, content: &[u8]| {
        let out = s.repo.git_with(
            &["hash-object", "--literally", "-w", "-t", kind, "--stdin"],
            content,
        );
        String::from_utf8(out).unwrap().trim().to_string()
    };
    let blob = s.hash("blob", b"a file\n");
    let main_tree = s.repo.git(&["rev-parse", "main^{tree}"]);
    // A tag that says it tags a commit, of a blob: git's walk finds a blob, not a commit.
    let tag = literally(
        "tag",
        format!("object {blob}\ntype commit\ntag odd\ntagger T <t@b> 1700000000 +0000\n\nodd\n")
            .as_bytes(),
    );
    let pack = raw_pack(&[
        s.entry(ObjectType::Tag, &tag),
        s.entry(ObjectType::Blob, &blob),
    ]);
    let body = s.command(ZERO, &tag, "refs/tags/odd", &pack);
    assert_eq!(s.rejected(&body), missing("refs/tags/odd"));
    // A commit whose tree is a blob, or whose parent is a stored tree.
    let ident = "A <a@b> 1700000000 +0000";
    for content in [
        format!("tree {blob}\nauthor {ident}\ncommitter {ident}\n\nx\n"),
        format!("tree {main_tree}\nparent {main_tree}\nauthor {ident}\ncommitter {ident}\n\nx\n"),
    ] {
        let commit = literally("commit", content.as_bytes());
        let pack = raw_pack(&[
            s.entry(ObjectType::Commit, &commit),
            s.entry(ObjectType::Blob, &blob),
        ]);
        let body = s.command(&s.main, &commit, "refs/heads/main", &pack);
        assert_eq!(s.rejected(&body), missing("refs/heads/main"), "{content}");
    }
    // A subdirectory that is a blob, and the same object linked as a file and a directory.
    for listing in [
        format!("040000 tree {blob}\tdir\n"),
        format!("040000 tree {blob}\tdir\n100644 blob {blob}\tfile\n"),
    ] {
        let mut tree = Vec::new();
        for line in listing.lines() {
            let (head, name) = line.split_once('\t').unwrap();
            let mut fields = head.split(' ');
            let mode = fields.next().unwrap().trim_start_matches('0');
            let id = fields.nth(1).unwrap();
            tree.extend_from_slice(format!("{mode} {name}\0").as_bytes());
            tree.extend_from_slice(&hex::decode(id).unwrap());
        }
        let tree_id = literally("tree", &tree);
        let content = format!(
            "tree {tree_id}\nparent {}\nauthor {ident}\ncommitter {ident}\n\nx\n",
            s.main
        );
        let commit = literally("commit", content.as_bytes());
        let pack = raw_pack(&[
            s.entry(ObjectType::Commit, &commit),
            s.entry(ObjectType::Tree, &tree_id),
            s.entry(ObjectType::Blob, &blob),
        ]);
        let body = s.command(&s.main, &commit, "refs/heads/main", &pack);
        assert_eq!(s.rejected(&body), missing("refs/heads/main"), "{listing}");
    }
    // The same tag, saying blob, is taken.
    let tag = literally(
        "tag",
        format!("object {blob}\ntype blob\ntag fine\ntagger T <t@b> 1700000000 +0000\n\nfine\n")
            .as_bytes(),
    );
    let pack = raw_pack(&[
        s.entry(ObjectType::Tag, &tag),
        s.entry(ObjectType::Blob, &blob),
    ]);
    let body = s.command(ZERO, &tag, "refs/tags/fine", &pack);
    assert_eq!(
        report_lines(&run_push(&s.store, &body, 4096).unwrap()),
        vec!["unpack ok", "ok refs/tags/fine"]
    );
}
