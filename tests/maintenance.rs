//! Maintenance over the real store schema on SQLite, checked with real git: the repacked
//! pack and its idx are what git makes of them, clones before, during and after a repack
//! are complete, a repack killed at any point resumes to the same pack, pushes during a
//! repack are kept, and unreachable objects go after their grace period or a purge.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeSet;

use common::*;
use git_on_durable_objects::format::object::{hash, ObjectId, ObjectType};
use git_on_durable_objects::maintenance::{self, write, Due, Host, Slice, Step, Timing};
use git_on_durable_objects::store::sql::{Sql, Value};
use git_on_durable_objects::store::{ChunkFile, Location, PackFile, PackInfo, Store, Walk};
use git_on_durable_objects::upload_pack;

const CAPS: &str = "multi_ack_detailed no-done side-band-64k ofs-delta agent=test";

/// Pushes `new` to `name` (from `old`, or creating it) with the objects in between.
fn push_update(store: &Store<Db>, repo: &Repo, old: Option<&str>, new: &str, name: &str) {
    let exclude: Vec<&str> = old.into_iter().collect();
    let pack = repo.pack(&[new], &exclude);
    let command = (
        old.unwrap_or(ZERO).to_string(),
        new.to_string(),
        name.to_string(),
    );
    let body = push_body(&[command], "report-status", &pack);
    let report = report_lines(&run_push(store, &body, 4096).unwrap());
    assert_eq!(report[1], format!("ok {name}"), "{report:?}");
}

/// Deletes ref `name`, which is at `old`.
fn push_delete(store: &Store<Db>, old: &str, name: &str) {
    let command = (old.to_string(), ZERO.to_string(), name.to_string());
    let body = push_body(&[command], "report-status delete-refs", &[]);
    let report = report_lines(&run_push(store, &body, 4096).unwrap());
    assert_eq!(report[1], format!("ok {name}"), "{report:?}");
}

/// A text file of `lines` lines, line `edited` changed to say `version`.
fn text(lines: usize, edited: usize, version: usize) -> Vec<u8> {
    (0..lines)
        .map(|i| match i == edited {
            true => format!("line {i} edited in version {version}\n"),
            false => format!("line {i} of a long text that changes one line at a time\n"),
        })
        .collect::<String>()
        .into_bytes()
}

/// A repository pushed one one-line edit at a time (each push small, so stored loose),
/// after a first push of a few commits (stored as a pack). Returns it and its last commit.
fn edited_one_line_at_a_time(store: &Store<Db>, edits: usize) -> (Repo, String) {
    let repo = history_repo();
    push_all(store, &repo, "report-status", 65536);
    let mut last = repo.git(&["rev-parse", "main"]);
    for version in 0..edits {
        repo.write("big.txt", &text(2000, version * 7 % 2000, version));
        let commit = repo.commit(&format!("edit {version}"));
        push_update(store, &repo, Some(&last), &commit, "refs/heads/main");
        last = commit;
    }
    (repo, last)
}

/// A full clone from `store`: wants every ref, indexes the pack with git, sets the refs,
/// passes `fsck`; returns the ids it holds.
fn clone_all(store: &Store<Db>) -> BTreeSet<String> {
    let refs = store.refs().unwrap();
    let wants: Vec<String> = refs.iter().map(|r| r.id.to_hex()).collect();
    let (_, pack) = fetch(store, &upload_request(&wants, CAPS, &[], &[], true));
    let clone = Repo::new();
    let ids = index(&clone, &pack);
    for r in &refs {
        clone.git(&["update-ref", &r.name, &r.id.to_hex()]);
    }
    clone.git(&["fsck", "--full", "--strict", "--no-dangling"]);
    ids
}

/// What `repo`'s refs reach.
fn reachable(repo: &Repo) -> BTreeSet<String> {
    repo.git(&["rev-list", "--objects", "--all"])
        .lines()
        .map(|l| l[..40].to_string())
        .collect()
}

/// Checks a live pack with git: `index-pack` of its bytes writes exactly its stored idx,
/// its ends file, if it has one, lists where git's index says its entries start,
/// `verify-pack` passes, and no delta chain is longer than the repack makes them. Returns
/// the ids it holds.
fn git_checks(store: &Store<Db>, pack: &PackInfo) -> BTreeSet<String> {
    let bytes = stored_file(store, pack.id, PackFile::Pack);
    let idx = stored_file(store, pack.id, PackFile::Idx);
    assert_eq!(bytes.len() as u64, pack.size);
    assert_eq!(idx.len() as u64, pack.idx_size);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("pack-{}.pack", pack.name));
    std::fs::write(&path, &bytes).unwrap();
    let repo = Repo::new();
    repo.git(&["index-pack", path.to_str().unwrap()]);
    let made = std::fs::read(path.with_extension("idx")).unwrap();
    assert!(made == idx, "the stored idx is not git's");
    let ends = stored_file(store, pack.id, ChunkFile::Ends);
    assert!(
        ends.is_empty() || ends == ends_file_of(&bytes),
        "the ends file is not git's"
    );
    let verified = repo.git(&["verify-pack", "-v", path.to_str().unwrap()]);
    let longest = verified
        .lines()
        .filter_map(|l| l.strip_prefix("chain length = "))
        .filter_map(|l| l.split(':').next()?.parse::<u32>().ok())
        .max();
    assert!(longest.unwrap_or(0) <= write::MAX_DEPTH, "{longest:?}");
    index(&Repo::new(), &bytes)
}

/// The one live pack of `store`, checked with git to hold what `repo`'s refs reach, which a
/// clone of `store` holds too.
fn one_pack_of_what_it_reaches(store: &Store<Db>, repo: &Repo) -> PackInfo {
    let packs = store.packs().unwrap();
    assert_eq!(packs.len(), 1);
    assert_eq!(git_checks(store, &packs[0]), reachable(repo));
    assert_eq!(clone_all(store), reachable(repo));
    packs.into_iter().next().unwrap()
}

/// The bytes of the pack `git gc` makes of `repo`.
fn gc_pack_bytes(repo: &Repo) -> u64 {
    repo.git(&["gc", "-q", "--prune=now"]);
    let packs = repo.path().join(".git/objects/pack");
    std::fs::read_dir(packs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pack"))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

#[test]
fn versions_of_a_file_pushed_whole_become_deltas_as_git_gc_makes_them() {
    // A file over the loose limit arrives whole in a pack of its own with every push (git
    // sends no delta for it); the repack must still find the deltas between its versions,
    // and find them again as later versions join a pack that holds it as deltas already.
    let (store, _db) = store(65536);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    let mut last = repo.git(&["rev-parse", "main"]);
    let mut version = 0;
    for round in 0..2 {
        for _ in 0..12 {
            repo.write("big.txt", &text(20_000, version * 613 % 20_000, version));
            let commit = repo.commit(&format!("edit {version}"));
            push_update(&store, &repo, Some(&last), &commit, "refs/heads/main");
            last = commit;
            version += 1;
        }
        let report = maintain_in(&store, 1000 * (round + 1), 0, &Slice::default());
        assert!(report.tally.new_deltas >= 11, "{report:?}");
        one_pack_of_what_it_reaches(&store, &repo);
        let gc = gc_pack_bytes(&repo);
        assert!(
            report.pack_bytes * 10 <= gc * 12,
            "round {round}: {} bytes, git gc {gc}: {report:?}",
            report.pack_bytes
        );
    }
}

/// The objects a pack (at `path`, indexed) holds as deltas, as `verify-pack -v` lists them.
fn deltas_in(path: &std::path::Path) -> BTreeSet<String> {
    let verified = Repo::new().git(&["verify-pack", "-v", path.to_str().unwrap()]);
    let fields = verified
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>());
    // A delta's line ends with its depth and base.
    let deltas = fields.filter(|f| f.len() == 7);
    deltas.map(|f| f[0].to_string()).collect()
}

/// The objects the one pack of `twin` (a repository of git's) holds as deltas after
/// `git repack -a -d`.
fn deltas_git_repacks(twin: &Repo) -> BTreeSet<String> {
    twin.git(&["repack", "-a", "-d", "-q"]);
    let packs = std::fs::read_dir(twin.path().join(".git/objects/pack")).unwrap();
    let mut packs = packs.map(|e| e.unwrap().path());
    deltas_in(
        &packs
            .find(|p| p.extension().is_some_and(|x| x == "pack"))
            .unwrap(),
    )
}

/// The objects the store's one pack holds as deltas.
fn deltas_stored(store: &Store<Db>) -> BTreeSet<String> {
    let packs = store.packs().unwrap();
    assert_eq!(packs.len(), 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pack-stored.pack");
    std::fs::write(&path, stored_file(store, packs[0].id, PackFile::Pack)).unwrap();
    Repo::new().git(&["index-pack", path.to_str().unwrap()]);
    deltas_in(&path)
}

#[test]
fn objects_stored_whole_in_one_pack_are_not_tried_against_each_other_as_git_leaves_them() {
    // git's `try_delta`, reusing deltas, does not try an object stored whole against the
    // others of its pack (the search that made the pack left it whole). Versions of a file
    // sent whole in one push stay whole through a repack, in git as here; with a version
    // pushed after them, in a pack of its own, the versions become deltas again.
    let (store, _db) = store(65536);
    let repo = history_repo();
    let twin = Repo::new();
    let push = |include: &[&str], exclude: &[&str], old: Option<&str>| {
        let refs = repo.refs();
        let (name, new) = refs
            .iter()
            .find(|(name, _)| name == "refs/heads/main")
            .unwrap();
        let pack = repo.pack(include, exclude);
        let command = (old.unwrap_or(ZERO).to_string(), new.clone(), name.clone());
        let response = run_push(
            &store,
            &push_body(&[command], "report-status", &pack),
            65536,
        );
        assert_eq!(report_lines(&response.unwrap())[0], "unpack ok");
        twin.git_with(&["index-pack", "--stdin"], &pack);
        twin.git(&["update-ref", name, new]);
        new.clone()
    };
    let first = push(&["main"], &[], None);
    let mut versions = Vec::new();
    for version in 0..4 {
        repo.write("big.txt", &text(20_000, version * 613, version));
        versions.push(repo.commit(&format!("edit {version}")));
    }
    let last = push(&["main", "--window=0"], &[&first], Some(&first));
    let blobs: BTreeSet<String> = (versions.iter())
        .map(|c| repo.git(&["rev-parse", &format!("{c}:big.txt")]))
        .collect();
    maintain_in(&store, 1000, 0, &Slice::default());
    let ours = &deltas_stored(&store) & &blobs;
    assert_eq!(ours, BTreeSet::new());
    assert_eq!(ours, &deltas_git_repacks(&twin) & &blobs);
    repo.write("big.txt", &text(20_000, 99, 99));
    let after = repo.commit("after");
    push(&["main"], &[&last], Some(&last));
    let mut blobs = blobs;
    blobs.insert(repo.git(&["rev-parse", &format!("{after}:big.txt")]));
    maintain_in(&store, 2000, 0, &Slice::default());
    let ours = &deltas_stored(&store) & &blobs;
    let gits = &deltas_git_repacks(&twin) & &blobs;
    assert!(
        !ours.is_empty() && !gits.is_empty(),
        "ours {ours:?}, git's {gits:?}"
    );
    let main = repo.git(&["rev-list", "--objects", "main"]);
    let main: BTreeSet<String> = main.lines().map(|l| l[..40].to_string()).collect();
    assert_eq!(clone_all(&store), main);
}

#[test]
fn a_delta_chain_deeper_than_the_repack_makes_is_cut() {
    // A pushed pack may chain deltas as deep as its sender chose (here 69, one version of a
    // file a delta of the last); the repack copies them only down to its own depth. A
    // larger version pushed later puts the chain's whole base itself in the delta search.
    let (store, _db) = store(4096);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    let first = repo.git(&["rev-parse", "main"]);
    // Each version slides five lines further along: like only to its neighbours, so git
    // chains each on the next.
    let sliding = |version: usize| -> Vec<u8> {
        (version * 5..version * 5 + 100)
            .map(|i| format!("line {i} says {:08x}\n", i.wrapping_mul(2_654_435_761)))
            .collect::<String>()
            .into_bytes()
    };
    for version in 0..70 {
        repo.write("chain.txt", &sliding(version));
        repo.commit(&format!("version {version}"));
    }
    let tip = repo.git(&["rev-parse", "main"]);
    let pack = repo.pack(&["--depth=100", &tip], &[&first]);
    let command = (first.clone(), tip.clone(), "refs/heads/main".to_string());
    let body = push_body(&[command], "report-status", &pack);
    let report = report_lines(&run_push(&store, &body, 4096).unwrap());
    assert_eq!(report[1], "ok refs/heads/main", "{report:?}");
    let mut tip = tip;
    for round in 1..=2 {
        let report = maintain(&store, 1000 * round as i64, 0);
        assert!(report.tally.reused_deltas > 0, "{report:?}");
        let packs = store.packs().unwrap();
        assert_eq!(git_checks(&store, &packs[0]), reachable(&repo));
        assert_eq!(clone_all(&store), reachable(&repo));
        repo.write("chain.txt", &sliding(69 + round));
        let next = repo.commit("a larger version");
        push_update(&store, &repo, Some(&tip), &next, "refs/heads/main");
        tip = next;
    }
}

#[test]
fn a_repack_makes_one_pack_of_what_the_refs_reach_that_git_verifies() {
    let (store, _db) = store(4096);
    let (repo, _) = edited_one_line_at_a_time(&store, 12);
    let summary = store.summary().unwrap();
    assert!(summary.packs == 1 && summary.loose >= 36, "{summary:?}");
    let before = clone_all(&store);
    assert_eq!(before, reachable(&repo));

    let report = maintain(&store, 1000, 0);
    let packs = store.packs().unwrap();
    assert_eq!(packs.len(), 1);
    assert_eq!(git_checks(&store, &packs[0]), reachable(&repo));
    assert_eq!(
        (report.objects, report.packs_after, report.loose_after),
        (before.len() as u64, 1, 0)
    );
    assert!(
        report.tally.reused > 0,
        "the pushed pack's entries reused: {report:?}"
    );
    assert!(
        report.tally.new_deltas >= 11,
        "the edits deltified: {report:?}"
    );
    let tally = report.tally;
    assert!(tally.reused_deltas > 0 && tally.rebuilt > 0, "{report:?}");
    assert_eq!(
        tally.reused + tally.new_deltas + tally.rebuilt,
        report.objects
    );
    assert!(report.slices > 10, "small slices: {report:?}");
    // Twelve versions of a 100 KB file: about one whole copy and eleven small deltas.
    assert!(report.pack_bytes < 60_000, "{report:?}");

    // The loose files and the old pack are retired, still served to readers that listed
    // them, until the sweep after their grace.
    let summary = store.summary().unwrap();
    assert_eq!(
        (summary.packs, summary.loose, summary.retired_packs),
        (1, 0, 1)
    );
    let edit = repo.git(&["rev-parse", "main:big.txt"]);
    let id = git_on_durable_objects::format::object::ObjectId::from_hex(edit.as_bytes()).unwrap();
    assert!(store.loose_object(&id).unwrap().is_some());
    // When they may go is kept, not read from every loose file (a push asks it too).
    let read = store.rows().read;
    assert_eq!(store.retired_expiry(60).unwrap(), Some(1000 + 60));
    assert!(store.rows().read - read < 10, "read every loose file");
    assert_eq!(maintenance::sweep(&store, 1000 + 10, 60).unwrap(), 0);
    assert!(store.loose_object(&id).unwrap().is_some());
    assert_eq!(maintenance::sweep(&store, 1000 + 60, 60).unwrap(), 1);
    assert!(store.loose_object(&id).unwrap().is_none());
    assert_eq!(store.retired_expiry(60).unwrap(), None);
    assert_eq!(store.summary().unwrap().retired_packs, 0);

    // A full clone now copies the one pack as it is, walking no history.
    let walked = store.commits_read();
    assert_eq!(clone_all(&store), before);
    assert_eq!(store.commits_read(), walked);
}

/// The packs an unbroken repack makes of `edits` one-line edits, and a store that holds the
/// same pushes, not repacked yet.
fn repacked_and_not(edits: usize) -> (Vec<PackInfo>, Store<Db>, Db, Repo) {
    let (clean, _) = store(4096);
    edited_one_line_at_a_time(&clean, edits);
    maintain(&clean, 1000, 0);
    let (store, db) = store(4096);
    let (repo, _) = edited_one_line_at_a_time(&store, edits);
    (clean.packs().unwrap(), store, db, repo)
}

#[test]
fn a_repack_killed_at_any_point_resumes_to_the_same_pack() {
    let (want, store, db, repo) = repacked_and_not(6);
    let now_ms = || 1_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    maintenance::start(&store, &host, 0).unwrap();
    let mut store = store;
    let mut failures = 0;
    for round in 0.. {
        assert!(round < 10_000, "the repack does not end");
        // Every other slice breaks, at a write that moves through the slice.
        let inject = round % 2 == 0;
        if inject {
            db.fail_write_after(round / 2 % 23);
        }
        let step = maintenance::step(&store, &host, &SMALL_SLICES);
        db.fail_write_after(usize::MAX);
        match step {
            Ok(Step::Done(_)) => break,
            Ok(_) => {}
            Err(e) => {
                assert!(inject && e.to_string().contains("injected failure"), "{e}");
                failures += 1;
            }
        }
        // The object restarts between slices, and the repository reads as it was.
        store = Store::with_chunk_size(db.clone(), 4096);
        store.open().unwrap();
        if round % 9 == 0 {
            assert_eq!(clone_all(&store), reachable(&repo));
        }
    }
    assert!(failures > 5, "only {failures} slices broke");
    let packs = store.packs().unwrap();
    assert_eq!(packs.len(), 1);
    assert_eq!(
        packs[0].name, want[0].name,
        "not the pack an unbroken repack makes"
    );
    assert_eq!(git_checks(&store, &packs[0]), reachable(&repo));
    assert_eq!(clone_all(&store), reachable(&repo));
}

#[test]
fn pushes_during_a_repack_are_kept_and_a_clone_across_it_completes() {
    let (store, _db) = store(4096);
    let (repo, last) = edited_one_line_at_a_time(&store, 8);
    let now_ms = || 5_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    // A clone chooses what to send before the repack and streams it after the swap and the
    // sweep, with a reader's lease held.
    let lease = store.begin_read(4000);
    let wants: Vec<String> = store
        .refs()
        .unwrap()
        .iter()
        .map(|r| r.id.to_hex())
        .collect();
    let request = upload_pack::parse_request(
        &upload_request(&wants, CAPS, &[], &[], true),
        &git_on_durable_objects::limits::Limits::default(),
    )
    .unwrap();
    let answer = upload_pack::serve(&store, request).unwrap();

    maintenance::start(&store, &host, 0).unwrap();
    for _ in 0..20 {
        maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
    }
    assert!(maintenance::in_progress(&store).unwrap());
    repo.write("during.txt", b"pushed while the repack runs\n");
    let during = repo.commit("during the repack");
    push_update(&store, &repo, Some(&last), &during, "refs/heads/main");
    repo.git(&["branch", "side", &during]);
    push_update(&store, &repo, None, &during, "refs/heads/side");
    let report = loop {
        if let Step::Done(report) = maintenance::step(&store, &host, &SMALL_SLICES).unwrap() {
            break *report;
        }
    };
    assert_eq!(report.pruned, 0, "{report:?}");
    assert_eq!(
        maintenance::sweep(&store, 5000, 0).unwrap(),
        0,
        "a reader holds them"
    );
    let (_, pack) = split_response(&answer_body(answer)).unwrap();
    let streamed = index(&Repo::new(), &pack);
    assert!(streamed.len() > 30);
    drop(lease);
    // The pack it replaced, and the (empty) pack of the push during the repack: what that
    // push brought, the repack holds too.
    assert_eq!(maintenance::sweep(&store, 5000, 0).unwrap(), 2);

    assert_eq!(clone_all(&store), reachable(&repo));
    let packs = store.packs().unwrap();
    assert_eq!(packs.len(), 1);
    let repacked = packs.iter().find(|p| Some(&p.name) == report.pack.as_ref());
    assert!(git_checks(&store, repacked.unwrap()) == reachable(&repo));
    // The refs moved during the repack, so the pack is not known to be exact.
    assert!(store.exact_pack().unwrap().is_none());
}

#[test]
fn unreachable_objects_go_after_their_grace_and_a_purge_drops_them_at_once() {
    let (store, db) = store(4096);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    let main = repo.git(&["rev-parse", "main"]);
    repo.git(&["checkout", "-q", "-b", "leak"]);
    repo.write("secret.txt", b"password = hunter2\n");
    let leak = repo.commit("oops");
    push_update(&store, &repo, None, &leak, "refs/heads/leak");
    let secret = repo.git(&["rev-parse", "leak:secret.txt"]);
    push_delete(&store, &leak, "refs/heads/leak");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["branch", "-D", "leak"]);

    // A clone never sends what no ref reaches, even before maintenance.
    let cloned = clone_all(&store);
    assert!(!cloned.contains(&secret));
    assert_eq!(cloned, reachable(&repo));

    // Within its grace the secret is kept (a fetch by id still finds it); after, pruned.
    let report = maintain(&store, 10_000, 100);
    assert_eq!(
        (report.pruned, report.kept_unreachable),
        (0, 3),
        "{report:?}"
    );
    let by_id = |id: &str| {
        let request = upload_request(&[id.to_string()], CAPS, &[], &[], true);
        let request = upload_pack::parse_request(&request, &Default::default()).unwrap();
        let answer = answer_body(upload_pack::serve(&store, request).unwrap());
        let refused = format!("ERR upload-pack: not our ref {id}");
        !String::from_utf8_lossy(&answer).contains(&refused)
    };
    assert!(by_id(&secret));
    let report = maintain(&store, 10_050, 100);
    assert_eq!(
        (report.pruned, report.kept_unreachable),
        (0, 3),
        "{report:?}"
    );
    let report = maintain(&store, 10_100, 100);
    assert_eq!(
        (report.pruned, report.kept_unreachable),
        (3, 0),
        "{report:?}"
    );
    assert!(!by_id(&secret));
    assert_eq!(clone_all(&store), reachable(&repo));
    let counted = |store: &Store<Db>| store.count_objects().unwrap().0;
    assert_eq!(store.summary().unwrap().objects, counted(&store));

    // Again with a purge: the leak is gone from every table at once.
    push_update(&store, &repo, Some(&main), &leak, "refs/heads/main");
    push_update(&store, &repo, Some(&leak), &main, "refs/heads/main");
    maintain(&store, 20_000, 100);
    let now_ms = || 20_010_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    let report = maintenance::purge(&store, &host).unwrap();
    assert_eq!(report.pruned, 3, "{report:?}");
    assert!(!by_id(&secret) && !by_id(&leak));
    for table in [
        "objects",
        "loose",
        "commits",
        "unreachable",
        "repack_objects",
    ] {
        for id in [&secret, &leak] {
            let query = format!("SELECT count(*) FROM {table} WHERE oid = unhex(?)");
            let rows = db.exec(&query, vec![id.as_str().into()]).unwrap();
            assert_eq!(rows[0][0].as_i64(), Some(0), "{id} is still in {table}");
        }
    }
    let leak_id = ObjectId::from_hex(leak.as_bytes()).unwrap();
    assert!(
        store.commits(&[leak_id]).unwrap().is_empty(),
        "{leak} is still in the graph"
    );
    assert_eq!(store.summary().unwrap().objects, counted(&store));
    assert_eq!(store.summary().unwrap().retired_packs, 0);
    for pack in store.packs().unwrap() {
        assert!(!git_checks(&store, &pack).contains(&secret));
    }
    assert_eq!(clone_all(&store), reachable(&repo));
}

/// No pack holds `secret` after a purge, and the repository clones as `repo` does once its
/// branch `leak` is gone.
fn assert_purged(store: &Store<Db>, repo: &Repo, secret: &str) {
    for pack in store.packs().unwrap() {
        assert!(
            !git_checks(store, &pack).contains(secret),
            "pack {} still holds the secret",
            pack.name
        );
    }
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["branch", "-D", "leak"]);
    assert_eq!(clone_all(store), reachable(repo));
}

#[test]
fn a_purge_while_a_repack_runs_drops_what_was_pushed_and_deleted_meanwhile() {
    let (store, _db) = store(4096);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    let now_ms = || 30_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    // A repack is under way (its walk begun) when a pack with a secret is pushed on a
    // branch that is deleted at once.
    maintenance::start(&store, &host, 1000).unwrap();
    maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
    repo.git(&["checkout", "-q", "-b", "leak"]);
    for n in 0..120 {
        repo.write(&format!("leak/{n}.txt"), format!("secret {n}\n").as_bytes());
    }
    let leak = repo.commit("a pack of secrets");
    let secret = repo.git(&["rev-parse", "leak:leak/7.txt"]);
    push_update(&store, &repo, None, &leak, "refs/heads/leak");
    assert!(
        store.packs().unwrap().len() >= 2,
        "the secret came as a pack"
    );
    push_delete(&store, &leak, "refs/heads/leak");
    // The purge joins the repack in progress, and still drops everything no ref reaches.
    let report = maintenance::purge(&store, &host).unwrap();
    assert!(report.pruned >= 122, "{report:?}");
    assert_purged(&store, &repo, &secret);
}

#[test]
fn an_object_pushed_again_is_freshened_and_a_want_no_ref_names_is_sent() {
    let (store, _db) = store(4096);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    let main = repo.git(&["rev-parse", "main"]);
    repo.git(&["checkout", "-q", "-b", "old"]);
    repo.write("kept.txt", b"a blob two branches share\n");
    let old = repo.commit("old");
    let blob = repo.git(&["rev-parse", "old:kept.txt"]);
    push_update(&store, &repo, None, &old, "refs/heads/old");
    push_delete(&store, &old, "refs/heads/old");
    // The repack finds the blob unreachable at 1000; a new commit needing it comes at 1050
    // (the client sends the blob again, as no ref reaches it), and its branch goes too.
    maintain(&store, 1000, 100);
    repo.git(&["checkout", "-q", "-b", "again", &main]);
    repo.git(&["checkout", "-q", "old", "--", "kept.txt"]);
    let again = repo.commit("again");
    let pack = repo.pack(&[&again], &[&main]);
    assert!(index(&Repo::new(), &pack).contains(&blob));
    let body = push_body(
        &[(ZERO.into(), again.clone(), "refs/heads/again".into())],
        "report-status",
        &pack,
    );
    assert_eq!(
        report_lines(&run_push(&store, &body, 4096).unwrap())[1],
        "ok refs/heads/again"
    );
    push_delete(&store, &again, "refs/heads/again");
    // Past the blob's first grace, not the new commit's: both stay, as in git.
    let report = maintain(&store, 1101, 100);
    assert_eq!(
        (report.pruned, report.kept_unreachable),
        (1, 3),
        "only the old commit goes (its tree, the same as the new one's, came again too): {report:?}"
    );
    // A fetch that also wants the commit no ref reaches gets it whole.
    let request = upload_request(&[main.clone(), again.clone()], CAPS, &[], &[], true);
    let (_, pack) = fetch(&store, &request);
    let sent = index(&Repo::new(), &pack);
    assert!(sent.contains(&again) && sent.contains(&blob), "{sent:?}");
}

#[test]
fn a_repository_whose_refs_reach_nothing_repacks_to_no_pack() {
    let (store, _db) = store(4096);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    // A push cannot delete the branch HEAD names; that one goes behind its back.
    let head = store.head_target().unwrap().unwrap();
    for r in store.refs().unwrap() {
        match r.name == head {
            true => store.delete_ref(&r.name).unwrap(),
            false => push_delete(&store, &r.id.to_hex(), &r.name),
        }
    }
    let report = maintain(&store, 1000, 0);
    assert_eq!(
        (report.objects, report.packs_after, report.pack),
        (0, 0, None)
    );
    assert!(report.pruned > 30);
    assert_eq!(store.summary().unwrap().objects, 0);
}

/// Records a push at `now`, as the host does after each.
fn pushed_at(store: &Store<Db>, now: i64) {
    store
        .set_meta(maintenance::LAST_PUSH, Some(&now.to_string()))
        .unwrap();
}

/// An alarm handler's clock stands at its start, which can be the millisecond its alarm
/// was set for; an alarm set to that same time is lost (the runtime sees no change and
/// deletes the alarm that ran), so no delay the host sets is ever zero. Seen as a repack left
/// in progress for good in a random session, after a turn whose alarm fired in the same
/// millisecond it was set.
#[test]
fn the_alarm_is_never_set_for_the_time_it_runs_at() {
    let now_ms = 1_796_247_618_000;
    assert_eq!(maintenance::Due::Now.alarm_delay(now_ms), Some(1));
    assert_eq!(
        maintenance::Due::At(1_796_247_618).alarm_delay(now_ms),
        Some(1)
    );
    assert_eq!(maintenance::Due::At(0).alarm_delay(now_ms), Some(1));
    assert_eq!(
        maintenance::Due::At(1_796_247_620).alarm_delay(now_ms + 500),
        Some(1500)
    );
    assert_eq!(
        maintenance::Due::At(i64::MAX).alarm_delay(now_ms),
        Some(i64::MAX - now_ms)
    );
    assert_eq!(maintenance::Due::Never.alarm_delay(now_ms), None);
}

#[test]
fn maintenance_is_due_past_its_thresholds_and_after_a_quiet_spell() {
    let (store, _db) = store(4096);
    assert_eq!(
        maintenance::due(&store, 100, &Timing::with_grace(0)).unwrap(),
        maintenance::Due::Never
    );
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    pushed_at(&store, 100);
    let quiet = maintenance::Due::At(100 + maintenance::QUIET);
    // The quiet time runs from the last push, not from whenever the question is asked: the
    // alarm that wakes for it finds it due.
    assert_eq!(
        maintenance::due(&store, 150, &Timing::with_grace(0)).unwrap(),
        quiet
    );
    let at_the_alarm = 100 + maintenance::QUIET;
    assert_eq!(
        maintenance::due(&store, at_the_alarm, &Timing::with_grace(0)).unwrap(),
        maintenance::Due::At(at_the_alarm)
    );
    assert_eq!(
        maintenance::due(&store, 100, &Timing::with_grace(0)).unwrap(),
        quiet
    );
    maintain(&store, 100, 0);
    assert_eq!(
        maintenance::due(&store, 200, &Timing::with_grace(0)).unwrap(),
        maintenance::Due::Never
    );
    // Nothing was retired (the pushed pack was adopted as it is): no sweep to wake for.
    let next =
        maintenance::next_alarm(&store, 200, maintenance::Due::Never, &Timing::default()).unwrap();
    assert_eq!(next, maintenance::Due::Never);

    // A branch deleted and a commit on main: a repack retires the pack, and the objects only
    // the branch reached are unreachable; the alarm wakes for the sweep an hour on (or a minute from now, once
    // that has passed), and for the prune when their grace ends.
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("side.txt", b"only on side\n");
    let side = repo.commit("side");
    push_update(&store, &repo, None, &side, "refs/heads/side");
    push_delete(&store, &side, "refs/heads/side");
    repo.git(&["checkout", "-q", "main"]);
    let main = repo.git(&["rev-parse", "main"]);
    repo.write("main.txt", b"more on main\n");
    let more = repo.commit("more");
    push_update(&store, &repo, Some(&main), &more, "refs/heads/main");
    pushed_at(&store, 300);
    let quiet = maintenance::Due::At(300 + maintenance::QUIET);
    assert_eq!(
        maintenance::due(&store, 300, &Timing::with_grace(1000)).unwrap(),
        quiet
    );
    maintain(&store, 1000, 5000);
    let due = maintenance::due(&store, 1000, &Timing::with_grace(5000)).unwrap();
    assert_eq!(due, maintenance::Due::At(6000));
    let hour = 1000 + maintenance::READER_GRACE;
    let next = maintenance::next_alarm(&store, 1000, due, &Timing::default()).unwrap();
    assert_eq!(next, maintenance::Due::At(hour));
    let late = maintenance::next_alarm(
        &store,
        hour + 10,
        maintenance::Due::Never,
        &Timing::default(),
    )
    .unwrap();
    assert_eq!(late, maintenance::Due::At(hour + 70));
    assert_eq!(
        maintenance::next_alarm(&store, 0, maintenance::Due::Now, &Timing::default()).unwrap(),
        maintenance::Due::Now
    );
    let slice = Slice::default();
    assert!(slice.objects > SMALL_SLICES.objects);
}

#[test]
fn after_a_repack_a_fetch_of_the_next_edit_is_a_delta() {
    let (store, _db) = store(4096);
    let (repo, last) = edited_one_line_at_a_time(&store, 5);
    maintain(&store, 1000, 0);
    repo.write("big.txt", &text(2000, 1999, 99));
    let next = repo.commit("the next edit");
    push_update(&store, &repo, Some(&last), &next, "refs/heads/main");
    let caps = format!("{CAPS} thin-pack");
    let request = upload_request(&[next], &caps, &[], &[last], true);
    let (_, pack) = fetch(&store, &request);
    assert!(
        pack.len() < 2000,
        "{} bytes for a one-line edit",
        pack.len()
    );
}

#[test]
fn thresholds_and_changes_since_the_last_run_decide_when_maintenance_is_due() {
    let (store, db) = store(4096);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    maintain(&store, 100, 0);
    let never = maintenance::Due::Never;
    let quiet = maintenance::Due::At(200 + maintenance::QUIET);
    assert_eq!(
        maintenance::due(&store, 200, &Timing::with_grace(0)).unwrap(),
        never
    );
    let exec = |query: &str| db.exec(query, vec![]).unwrap();
    // A loose object is a row of objects without a pack and its file in loose.
    let fake_loose = |n: u64| {
        exec(&format!(
            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}) \
             INSERT INTO loose (oid, push, data) SELECT randomblob(20), -1, x'' FROM k"
        ));
        exec(
            "INSERT INTO objects (oid, type, pack) SELECT oid, 3, NULL FROM loose \
             WHERE push = -1 AND oid NOT IN (SELECT oid FROM objects)",
        )
    };
    let drop_loose = || {
        exec("DELETE FROM objects WHERE pack IS NULL");
        exec("DELETE FROM loose WHERE push = -1")
    };
    // Each change since the last run alone makes it due after a quiet spell.
    pushed_at(&store, 200);
    fake_loose(1);
    assert_eq!(
        maintenance::due(&store, 200, &Timing::with_grace(0)).unwrap(),
        quiet
    );
    drop_loose();
    exec("INSERT INTO packs (state, name) VALUES ('live', 'x')");
    assert_eq!(
        maintenance::due(&store, 200, &Timing::with_grace(0)).unwrap(),
        quiet
    );
    exec("DELETE FROM packs WHERE name = 'x'");
    assert_eq!(
        maintenance::due(&store, 200, &Timing::with_grace(0)).unwrap(),
        never
    );
    let main = store.find_ref("refs/heads/main").unwrap().unwrap();
    store.set_ref("refs/heads/main", &main.id, None).unwrap();
    assert_eq!(
        maintenance::due(&store, 200, &Timing::with_grace(0)).unwrap(),
        quiet
    );
    maintain(&store, 300, 0);
    assert_eq!(
        maintenance::due(&store, 400, &Timing::with_grace(0)).unwrap(),
        never
    );
    pushed_at(&store, 400);

    // Past a threshold it is due at once.
    fake_loose(maintenance::LOOSE_LIMIT - 1);
    assert_eq!(
        maintenance::due(&store, 400, &Timing::with_grace(0)).unwrap(),
        maintenance::Due::At(400 + maintenance::QUIET)
    );
    fake_loose(1);
    assert_eq!(
        maintenance::due(&store, 400, &Timing::with_grace(0)).unwrap(),
        maintenance::Due::Now
    );
    drop_loose();
    for i in 1..maintenance::PACK_LIMIT {
        exec(&format!(
            "INSERT INTO packs (state, name) VALUES ('live', 'x{i}')"
        ));
    }
    assert_eq!(
        maintenance::due(&store, 400, &Timing::with_grace(0)).unwrap(),
        maintenance::Due::Now
    );
    exec("DELETE FROM packs WHERE name = 'x1'");
    assert_eq!(
        maintenance::due(&store, 400, &Timing::with_grace(0)).unwrap(),
        maintenance::Due::At(400 + maintenance::QUIET)
    );
    exec("DELETE FROM packs WHERE name LIKE 'x%'");

    // A run that failed counts as none: anything stored makes it due.
    let failed = r#"{"started":0,"finished":0,"took_ms":0,"busy_ms":0,"slices":0,"objects":0,
        "pack":null,"pack_bytes":0,"packs_before":0,"loose_before":0,"bytes_before":0,
        "packs_after":9,"loose_after":9,"tally":{"reused":0,"reused_deltas":0,"new_deltas":0,
        "rebuilt":0},"pruned":0,"kept_unreachable":0,"retired_packs":0,"grace":0,
        "refs_version":0,"memory":null,"error":"broken"}"#;
    store.set_meta("maintenance", Some(failed)).unwrap();
    assert_eq!(
        maintenance::last_report(&store)
            .unwrap()
            .unwrap()
            .error
            .as_deref(),
        Some("broken")
    );
    assert_eq!(
        maintenance::due(&store, 400, &Timing::with_grace(0)).unwrap(),
        maintenance::Due::At(400 + maintenance::QUIET)
    );
}

#[test]
fn a_run_reports_the_time_its_slices_took() {
    let (store, _db) = store(4096);
    edited_one_line_at_a_time(&store, 3);
    let clock = std::cell::Cell::new(1_000_000);
    // Every reading of the clock is 7 ms after the last.
    let now_ms = || {
        clock.set(clock.get() + 7);
        clock.get()
    };
    let host = Host {
        now_ms: &now_ms,
        memory: &|| Some(42),
    };
    let rows_before = store.rows();
    maintenance::start(&store, &host, 0).unwrap();
    // In rows, each slice writes its progress (a walk in memory keeps its counts with it).
    let report = loop {
        if let Step::Done(report) = maintenance::step(&store, &host, &SMALL_SLICES_IN_ROWS).unwrap()
        {
            break *report;
        }
    };
    let spent = store.rows().since(rows_before);
    assert!(report.slices > 3);
    // Its rows are all the run wrote but each slice's note of where the next one starts and
    // the account itself (the report, and the progress it replaces); the reads leave out
    // what loads the progress before each slice and the account's own.
    assert_eq!(
        spent.written,
        report.rows_written + u64::from(report.slices) + 2,
        "{report:?}"
    );
    assert!(report.rows_written > report.objects, "{report:?}");
    assert!(report.rows_read > report.objects, "{report:?}");
    assert!(report.rows_read < spent.read, "{report:?}");
    // Each slice reads the clock at its start and its end (the last one a few times more,
    // for the swap and the account).
    let slices = report.slices as i64;
    assert!(
        (7 * slices..=7 * (slices + 4)).contains(&report.busy_ms),
        "{report:?}"
    );
    assert!(report.took_ms > report.busy_ms, "{report:?}");
    assert_eq!(report.memory, Some(42));
    assert_eq!(report.started, 1000);
    assert!(report.finished > report.started);
}

#[test]
fn a_repack_that_keeps_failing_is_given_up_after_three_tries_and_says_why() {
    given_up_after(&SMALL_SLICES_IN_ROWS, 3);
    // The first failure loses the walk in memory, and the run starts again in rows.
    given_up_after(&SMALL_SLICES, 4);
}

fn given_up_after(slice: &Slice, tries: usize) {
    let (store, db) = store(4096);
    let (repo, _) = edited_one_line_at_a_time(&store, 2);
    let blob = repo.git(&["rev-parse", "main:big.txt"]);
    db.exec(
        "DELETE FROM loose WHERE oid = unhex(?)",
        vec![blob.as_str().into()],
    )
    .unwrap();
    let before = snapshot(&db);
    let now_ms = || 7_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    maintenance::start(&store, &host, 0).unwrap();
    let mut failures = 0;
    for _ in 0..1000 {
        match maintenance::step(&store, &host, slice) {
            Ok(Step::Idle) => break,
            Ok(Step::Done(report)) => panic!("done without an object: {report:?}"),
            Ok(Step::Working) => {}
            Err(e) => {
                assert!(e.to_string().contains(&blob), "{e}");
                failures += 1;
            }
        }
    }
    assert_eq!(failures, tries);
    let report = maintenance::last_report(&store).unwrap().unwrap();
    assert!(report.error.unwrap().contains(&blob));
    assert_eq!(report.started, 7000);
    // Nothing of the repack is left: the repository is as it was, with the account.
    let after: Vec<String> = snapshot(&db)
        .into_iter()
        .filter(|row| !row.starts_with("meta: [Text(\"maintenance\")"))
        .collect();
    assert_eq!(after, before);
}

#[test]
fn an_alarm_runs_slices_for_its_budget_and_then_gives_the_object_back() {
    let (store, _db) = store(4096);
    edited_one_line_at_a_time(&store, 3);
    let clock = std::cell::Cell::new(0);
    // Every reading of the clock is 10 ms after the last.
    let now_ms = || {
        clock.set(clock.get() + 10);
        clock.get()
    };
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    assert!(
        maintenance::run(&store, &host, &SMALL_SLICES, 0).unwrap(),
        "none in progress"
    );
    maintenance::start(&store, &host, 0).unwrap();
    // A budget of 45 ms: the run's own reading, then a slice (two readings) and the check
    // after it (one), 30 ms each: two slices.
    let begun = clock.get();
    assert!(!maintenance::run(&store, &host, &SMALL_SLICES, 45).unwrap());
    let spent = clock.get() - begun;
    assert!((60..=80).contains(&spent), "{spent} ms");
    assert!(maintenance::in_progress(&store).unwrap());
    assert!(maintenance::run(&store, &host, &SMALL_SLICES, i64::MAX).unwrap());
    assert!(!maintenance::in_progress(&store).unwrap());
    assert!(maintenance::last_report(&store).unwrap().unwrap().slices > 2);
}

#[test]
fn each_slice_of_the_walk_and_of_the_writing_keeps_to_its_budget() {
    let (store, db) = store(4096);
    edited_one_line_at_a_time(&store, 3);
    let now_ms = || 1_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    maintenance::start(&store, &host, 0).unwrap();
    let walked = || {
        let rows = db
            .exec(
                "SELECT count(*) FROM repack_objects WHERE walked = 1",
                vec![],
            )
            .unwrap();
        rows[0][0].as_i64().unwrap()
    };
    let blobs = || {
        let rows = db
            .exec(
                "SELECT count(*) FROM repack_objects WHERE walked = 1 AND type = 3",
                vec![],
            )
            .unwrap();
        rows[0][0].as_i64().unwrap()
    };
    let mut steps = Vec::new();
    while store.meta("repack").unwrap().unwrap().contains("\"Mark\"") {
        // Blobs are walked as they are found: only the objects read count.
        let before = walked() - blobs();
        maintenance::step(&store, &host, &SMALL_SLICES_IN_ROWS).unwrap();
        steps.push(walked() - blobs() - before);
    }
    let (last, full) = steps.split_last().unwrap();
    assert!(full.len() > 5, "{steps:?}");
    assert!(
        full.iter()
            .all(|&n| n == SMALL_SLICES.walk as i64 || n == 0),
        "{steps:?}"
    );
    assert!(*last <= SMALL_SLICES.walk as i64);

    // Writing: at most its count of objects, and it stops after the object that takes it
    // past its bytes (a version of the 100 KB file).
    let written = || {
        let rows = db
            .exec(
                "SELECT count(*) FROM repack_objects WHERE offset IS NOT NULL",
                vec![],
            )
            .unwrap();
        rows[0][0].as_i64().unwrap()
    };
    let mut steps = Vec::new();
    while store.meta("repack").unwrap().unwrap().contains("\"Write\"") {
        let before = written();
        maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
        steps.push(written() - before);
    }
    let most = SMALL_SLICES.objects as i64;
    assert!(steps.iter().all(|&n| n <= most), "{steps:?}");
    assert!(
        steps.iter().filter(|&&n| n == most).count() > 5,
        "{steps:?}"
    );
    assert!(steps.iter().any(|&n| n > 0 && n < most), "{steps:?}");
}

#[test]
fn a_ref_moved_after_the_pack_is_sealed_reopens_it_and_it_is_sealed_again() {
    let (store, _db) = store(4096);
    let (repo, last) = edited_one_line_at_a_time(&store, 3);
    let now_ms = || 2_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    maintenance::start(&store, &host, 0).unwrap();
    while !store.meta("repack").unwrap().unwrap().contains("\"Swap\"") {
        maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
    }
    // A new branch at a commit the pack has: the refs move, no object comes.
    repo.git(&["branch", "again", &last]);
    push_update(&store, &repo, None, &last, "refs/heads/again");
    let report = loop {
        if let Step::Done(report) = maintenance::step(&store, &host, &SMALL_SLICES).unwrap() {
            break *report;
        }
    };
    let packs = store.packs().unwrap();
    let repacked = packs.iter().find(|p| Some(&p.name) == report.pack.as_ref());
    assert_eq!(git_checks(&store, repacked.unwrap()), reachable(&repo));
    assert_eq!(clone_all(&store), reachable(&repo));
}

#[test]
fn a_sealed_pack_takes_in_a_burst_of_pushes_once_they_stop() {
    let (store, _db) = store(4096);
    let (repo, last) = edited_one_line_at_a_time(&store, 3);
    let clock = std::cell::Cell::new(2_000_i64);
    let now_ms = || clock.get() * 1000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    let settling = Slice {
        settle: 2,
        ..SMALL_SLICES
    };
    let phase = || store.meta("repack").unwrap().unwrap_or_default();
    let due = |at: i64| maintenance::due(&store, at, &Timing::with_grace(0)).unwrap();
    maintenance::start(&store, &host, 0).unwrap();
    while !phase().contains("\"Swap\"") {
        maintenance::step(&store, &host, &settling).unwrap();
    }
    // Pushes a second apart: the sealed pack waits two seconds past the last one.
    for (i, at) in (2_000..2_070).enumerate() {
        clock.set(at);
        let name = format!("refs/heads/burst-{i}");
        push_update(&store, &repo, None, &last, &name);
        pushed_at(&store, at);
        assert!(matches!(
            maintenance::step(&store, &host, &settling).unwrap(),
            Step::Working
        ));
        if at < 2_060 {
            assert!(phase().contains("\"Swap\""), "{at}: {}", phase());
            assert_eq!(due(at), Due::At((at + 2).min(2_060)), "{at}");
        } else {
            // Pushed to without pause, it waits a minute at most.
            assert!(!phase().contains("\"Swap\""), "{at}: {}", phase());
            break;
        }
    }
    clock.set(2_100);
    let report = loop {
        if let Step::Done(report) = maintenance::step(&store, &host, &settling).unwrap() {
            break *report;
        }
    };
    let packs = store.packs().unwrap();
    let repacked = packs.iter().find(|p| Some(&p.name) == report.pack.as_ref());
    assert_eq!(git_checks(&store, repacked.unwrap()), reachable(&repo));
    assert_eq!(clone_all(&store), reachable(&repo));
    assert_eq!(store.exact_pack().unwrap(), None);

    // Once pushes stop, it waits out the two seconds and takes them in.
    repo.write("big.txt", &text(2000, 5, 1000));
    let next = repo.commit("one more edit");
    push_update(&store, &repo, Some(&last), &next, "refs/heads/main");
    maintenance::start(&store, &host, 0).unwrap();
    while !phase().contains("\"Swap\"") {
        maintenance::step(&store, &host, &settling).unwrap();
    }
    push_update(&store, &repo, None, &next, "refs/heads/late");
    pushed_at(&store, 2_100);
    maintenance::step(&store, &host, &settling).unwrap();
    assert_eq!(due(2_101), Due::At(2_102));
    clock.set(2_102);
    maintenance::step(&store, &host, &settling).unwrap();
    assert!(phase().contains("\"Mark\""), "{}", phase());
}

#[test]
fn one_call_of_the_walk_reads_as_many_objects_as_it_may() {
    let (store, db) = store(4096);
    edited_one_line_at_a_time(&store, 2);
    let now_ms = || 1_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    maintenance::start(&store, &host, 0).unwrap();
    let mut walk = Walk::Memory(store.take_walk(1_000_000).unwrap());
    store.spill_walk(&mut walk).unwrap();
    let reader = git_on_durable_objects::store::ObjectReader::new(&store);
    let queued = |db: &Db| {
        let rows = db
            .exec(
                "SELECT count(*) FROM repack_objects WHERE walked = 0",
                vec![],
            )
            .unwrap();
        rows[0][0].as_i64().unwrap() as usize
    };
    // The refs' tips first, then the next level of the walk, all read in one call each.
    for _ in 0..3 {
        let waiting = queued(&db);
        assert!(waiting > 1);
        assert_eq!(
            maintenance::mark::walk(&store, &reader, &mut walk, 10_000)
                .unwrap()
                .walked,
            waiting
        );
    }
}

/// A repository of one commit of `files` files: more objects than a page of the
/// multi-pack index holds.
fn wide_repo(files: usize) -> Repo {
    let repo = Repo::new();
    for i in 0..files {
        repo.write(&format!("d{}/f{i}", i % 7), format!("{i}\n").as_bytes());
    }
    repo.commit("wide");
    repo
}

/// Every object `repo`'s refs reach, as ids.
fn reachable_ids(repo: &Repo) -> Vec<ObjectId> {
    let hex = reachable(repo);
    hex.iter()
        .map(|h| ObjectId::from_hex(h.as_bytes()).unwrap())
        .collect()
}

#[test]
fn rows_of_packed_objects_kept_by_earlier_code_move_into_the_index_when_the_object_starts() {
    let (store, db) = store(4096);
    let repo = wide_repo(3000);
    push_all(&store, &repo, "report-status", 65536);
    let ids = reachable_ids(&repo);
    let located = store.locate_many(&ids).unwrap();
    let sizes = store.object_sizes(&ids).unwrap();
    assert_eq!((located.len(), sizes.len()), (ids.len(), ids.len()));
    // As code before the index kept them: a row each in objects, none in pages.
    db.exec("DELETE FROM midx_pages", vec![]).unwrap();
    db.exec("DELETE FROM meta WHERE key = 'midx'", vec![])
        .unwrap();
    for (id, found) in &located {
        let Location::Packed { pack, offset } = found.location else {
            panic!("{id} is loose")
        };
        db.exec(
            "INSERT INTO objects (oid, type, pack, offset, size, depth) \
             VALUES (?, ?, ?, ?, ?, 0)",
            vec![
                Value::Blob(id.0.to_vec()),
                (found.kind as i64).into(),
                pack.into(),
                (offset as i64).into(),
                (sizes[id] as i64).into(),
            ],
        )
        .unwrap();
    }
    // And its commits as a row each in commits, none in pages.
    let graph = store.commits(&ids).unwrap();
    assert_eq!(graph.len(), 1);
    db.exec("DELETE FROM commit_pages", vec![]).unwrap();
    db.exec("DELETE FROM meta WHERE key = 'commit_graph'", vec![])
        .unwrap();
    for commit in graph.values() {
        let parents: Vec<u8> = commit.parents.iter().flat_map(|p| p.0).collect();
        db.exec(
            "INSERT INTO commits (oid, time, parents) VALUES (?, ?, ?)",
            vec![
                Value::Blob(commit.id.0.to_vec()),
                commit.time.into(),
                Value::Blob(parents),
            ],
        )
        .unwrap();
    }
    store.open().unwrap();
    assert_eq!(store.commits(&ids).unwrap(), graph);
    assert_eq!(store.locate_many(&ids).unwrap(), located);
    assert_eq!(store.object_sizes(&ids).unwrap(), sizes);
    let rows = |table: &str| {
        db.exec(&format!("SELECT count(*) FROM {table}"), vec![])
            .unwrap()[0][0]
            .as_i64()
    };
    assert_eq!(rows("objects"), Some(0));
    assert_eq!(rows("commits"), Some(0));
    // Pages of at most 1024 records of 42 bytes, cut in two when they grow past.
    assert!(rows("midx_pages").unwrap() >= 3, "{:?}", rows("midx_pages"));
    assert_eq!(store.count_objects().unwrap(), (ids.len() as u64, 0));
    assert_eq!(clone_all(&store), reachable(&repo));
    maintain(&store, 100, 0);
    assert_eq!(store.locate_many(&ids).unwrap().len(), ids.len());
    assert_eq!(clone_all(&store), reachable(&repo));
}

#[test]
fn objects_of_many_pages_are_repacked_pruned_and_counted_as_git_counts_them() {
    let (store, _db) = store(4096);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    let kept = reachable_ids(&repo);
    let wide = wide_repo(2500);
    let tip = wide.git(&["rev-parse", "HEAD"]);
    let pack = wide.pack(&["--all"], &[]);
    let body = push_body(
        &[(ZERO.to_string(), tip.clone(), "refs/heads/wide".to_string())],
        CAPS,
        &pack,
    );
    run_push(&store, &body, 1 << 16).unwrap();
    let gone: Vec<ObjectId> = reachable_ids(&wide)
        .into_iter()
        .filter(|id| !kept.contains(id))
        .collect();
    let counted = |store: &Store<Db>| store.count_objects().unwrap().0;
    assert_eq!(counted(&store), (kept.len() + gone.len()) as u64);
    assert_eq!(store.summary().unwrap().objects, counted(&store));
    maintain(&store, 100, 1000);
    assert_eq!(store.locate_many(&gone).unwrap().len(), gone.len());
    push_delete(&store, &tip, "refs/heads/wide");
    let report = maintain(&store, 200, 1000);
    assert_eq!(report.kept_unreachable, gone.len() as u64, "{report:?}");
    assert_eq!(store.locate_many(&gone).unwrap().len(), gone.len());
    let report = maintain(&store, 2000, 1000);
    assert_eq!(report.pruned, gone.len() as u64, "{report:?}");
    assert!(store.locate_many(&gone).unwrap().is_empty());
    assert_eq!(store.locate_many(&kept).unwrap().len(), kept.len());
    assert_eq!(counted(&store), kept.len() as u64);
    assert_eq!(store.summary().unwrap().objects, kept.len() as u64);
    assert_eq!(store.packs().unwrap().len(), 1);
    assert_eq!(clone_all(&store), reachable(&repo));
}

#[test]
fn a_loose_object_below_every_page_is_packed_by_the_repack_not_lost() {
    let (store, db) = store(4096);
    let repo = wide_repo(1500);
    push_all(&store, &repo, "report-status", 65536);
    // The lowest page keyed by its first id: as when the page below it was emptied by a
    // prune and dropped.
    db.exec(
        "UPDATE midx_pages SET first = substr(data, 1, 20) WHERE first = x''",
        vec![],
    )
    .unwrap();
    let lowest = db
        .exec("SELECT min(first) FROM midx_pages", vec![])
        .unwrap()[0][0]
        .as_bytes()
        .unwrap()
        .to_vec();
    store.open().unwrap();
    let below = (0..)
        .map(|i| format!("probe {i}\n").into_bytes())
        .find(|b| hash(ObjectType::Blob, b).0[..] < lowest[..])
        .unwrap();
    let id = hash(ObjectType::Blob, &below);
    let old = repo.git(&["rev-parse", "HEAD"]);
    repo.write("probe.txt", &below);
    let new = repo.commit("below every page");
    push_update(&store, &repo, Some(&old), &new, "refs/heads/main");
    assert_eq!(store.count_objects().unwrap().1, 3, "pushed loose");
    maintain(&store, 100, 0);
    maintain(&store, 100_000, 0);
    let located = store.locate(&id).unwrap().expect("the object is kept");
    assert!(matches!(located.location, Location::Packed { .. }));
    assert_eq!(
        store.count_objects().unwrap(),
        (reachable(&repo).len() as u64, 0)
    );
    assert_eq!(clone_all(&store), reachable(&repo));
}

#[test]
fn an_octopus_merge_keeps_its_parents_in_the_graph_through_push_fetch_and_repack() {
    let (store, db) = store(4096);
    let repo = history_repo();
    let main = repo.git(&["rev-parse", "main"]);
    for branch in ["a", "b", "c"] {
        repo.git(&["checkout", "-q", "-b", branch, &main]);
        repo.write(&format!("{branch}.txt"), branch.as_bytes());
        repo.commit(branch);
    }
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "-q", "--no-edit", "a", "b", "c"]);
    let octopus = repo.git(&["rev-parse", "main"]);
    push_all(&store, &repo, "report-status", 65536);
    let id = ObjectId::from_hex(octopus.as_bytes()).unwrap();
    let parents: Vec<String> = repo
        .git(&["rev-list", "--parents", "-n", "1", &octopus])
        .split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect();
    let graph = |store: &Store<Db>| {
        let info = store.commits(&[id]).unwrap().remove(&id).unwrap();
        info.parents.iter().map(|p| p.to_hex()).collect::<Vec<_>>()
    };
    assert_eq!(graph(&store), parents);
    let rows = db.exec("SELECT count(*) FROM commits", vec![]).unwrap();
    assert_eq!(rows[0][0].as_i64(), Some(1), "the octopus keeps a row");
    let old = repo.git(&["rev-parse", "main^1"]);
    let request = upload_request(
        std::slice::from_ref(&octopus),
        CAPS,
        &[],
        std::slice::from_ref(&old),
        true,
    );
    let (_, pack) = fetch(&store, &request);
    let expected: BTreeSet<String> = repo
        .git(&["rev-list", "--objects", &octopus, &format!("^{old}")])
        .lines()
        .map(|l| l[..40].to_string())
        .collect();
    assert_eq!(index(&Repo::new(), &pack), expected);
    maintain(&store, 100, 0);
    assert_eq!(graph(&store), parents);
    assert_eq!(clone_all(&store), reachable(&repo));
}

fn repack_rows(db: &Db) -> i64 {
    let rows = db
        .exec("SELECT count(*) FROM repack_objects", vec![])
        .unwrap();
    rows[0][0].as_i64().unwrap()
}

#[test]
fn a_repository_at_rest_is_walked_in_memory_and_writes_nothing_but_its_notes() {
    let at_rest = || {
        let (store, db) = store(4096);
        let repo = history_repo();
        push_all(&store, &repo, "report-status", 65536);
        let pushed = store.packs().unwrap();
        assert_eq!(pushed.len(), 1);
        (store, db, repo, pushed)
    };
    let (store, db, repo, pushed) = at_rest();
    let rows_before = store.rows();
    let now_ms = || 1_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    // As the alarm runs it: start (which joins the run in progress), then a slice.
    let report = loop {
        maintenance::start(&store, &host, 0).unwrap();
        if let Step::Done(report) = maintenance::step(&store, &host, &SMALL_SLICES).unwrap() {
            break *report;
        }
    };
    // The pushed pack holds exactly what the refs reach: it stays, and the run writes only
    // the note that says so and, the first time, the name hashes of its objects (a row per
    // MiB, for a later run to take the pack in whole); besides, its progress when it starts
    // and ends, and its account (the slices between keep their counts with the walk).
    assert_eq!(store.packs().unwrap(), pushed);
    assert_eq!(report.tally, write::Tally::default());
    assert_eq!(report.rows_written, 2, "{report:?}");
    assert!(report.slices > 3, "{report:?}");
    assert_eq!(store.rows().since(rows_before).written, 5, "{report:?}");
    let rows_before = store.rows();
    let again = maintain(&store, 2000, 0);
    assert_eq!(again.rows_written, 1, "{again:?}");
    assert_eq!(store.rows().since(rows_before).written, 4, "{again:?}");
    assert_eq!(repack_rows(&db), 0);
    assert_eq!(clone_all(&store), reachable(&repo));

    // The same walk in rows writes rows for every object.
    let (store, _db, _repo, pushed) = at_rest();
    let report = maintain_in(&store, 1000, 0, &SMALL_SLICES_IN_ROWS);
    assert_eq!(store.packs().unwrap(), pushed);
    assert!(report.rows_written > report.objects, "{report:?}");
}

#[test]
fn a_walk_lost_with_its_instance_starts_again_in_rows_and_makes_the_same_pack() {
    let (want, store, db, repo) = repacked_and_not(4);
    let now_ms = || 1_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    maintenance::start(&store, &host, 0).unwrap();
    maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
    assert_eq!(repack_rows(&db), 0, "the walk is in memory");
    let store = Store::with_chunk_size(db.clone(), 4096);
    store.open().unwrap();
    maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
    assert!(repack_rows(&db) > 0, "the walk starts again in rows");
    assert!(maintenance::run(&store, &host, &SMALL_SLICES, i64::MAX).unwrap());
    let packs = store.packs().unwrap();
    assert_eq!(packs.len(), 1);
    assert_eq!(packs[0].name, want[0].name);
    assert_eq!(git_checks(&store, &packs[0]), reachable(&repo));
}

#[test]
fn a_walk_past_its_budget_goes_on_in_rows_and_makes_the_same_pack() {
    let (want, store, db, repo) = repacked_and_not(4);
    let slice = Slice {
        in_memory: 20,
        ..SMALL_SLICES
    };
    let now_ms = || 1_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    maintenance::start(&store, &host, 0).unwrap();
    let mut in_memory = 0;
    while repack_rows(&db) == 0 {
        maintenance::step(&store, &host, &slice).unwrap();
        in_memory += 1;
    }
    assert!(
        store.meta("repack").unwrap().unwrap().contains("\"Mark\""),
        "it spilled while walking"
    );
    assert!(in_memory >= 2, "{in_memory}");
    assert!(maintenance::run(&store, &host, &slice, i64::MAX).unwrap());
    let packs = store.packs().unwrap();
    assert_eq!(packs[0].name, want[0].name);
    assert_eq!(git_checks(&store, &packs[0]), reachable(&repo));
}

#[test]
fn a_purge_starts_again_a_run_that_walked_a_branch_deleted_since() {
    let (store, _db) = store(4096);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    repo.git(&["checkout", "-q", "-b", "leak"]);
    repo.write("leak.txt", b"a secret\n");
    let leak = repo.commit("a secret");
    let secret = repo.git(&["rev-parse", "leak:leak.txt"]);
    push_update(&store, &repo, None, &leak, "refs/heads/leak");
    let now_ms = || 30_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    // The walk takes the branch in, and only then is the branch deleted.
    maintenance::start(&store, &host, 1000).unwrap();
    while store.meta("repack").unwrap().unwrap().contains("\"Mark\"") {
        maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
    }
    push_delete(&store, &leak, "refs/heads/leak");
    let report = maintenance::purge(&store, &host).unwrap();
    assert!(report.pruned >= 3, "{report:?}");
    assert!(store
        .read_object(&ObjectId::from_hex(secret.as_bytes()).unwrap())
        .unwrap()
        .is_none());
    assert_purged(&store, &repo, &secret);
}

#[test]
fn a_walk_that_reaches_its_budget_when_a_ref_moves_goes_on_in_rows() {
    let (store, db) = store(4096);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    let now_ms = || 1_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    // Room for exactly what the refs reach when it starts; the tips of the refs that moved
    // join the walk once it has walked everything, and take it past its budget.
    let slice = Slice {
        in_memory: reachable(&repo).len(),
        ..SMALL_SLICES
    };
    maintenance::start(&store, &host, 0).unwrap();
    maintenance::step(&store, &host, &slice).unwrap();
    let main = repo.git(&["rev-parse", "main"]);
    repo.write("moved.txt", b"a ref moves\n");
    let moved = repo.commit("moved");
    push_update(&store, &repo, Some(&main), &moved, "refs/heads/main");
    while repack_rows(&db) == 0 {
        maintenance::step(&store, &host, &slice).unwrap();
    }
    let progress = store.meta("repack").unwrap().unwrap();
    assert!(progress.contains("\"Mark\""), "{progress}");
    assert!(progress.contains("\"in_memory\":false"), "{progress}");
    assert!(maintenance::run(&store, &host, &slice, i64::MAX).unwrap());
    assert_eq!(clone_all(&store), reachable(&repo));
}

#[test]
fn the_alarm_joins_a_run_whose_refs_moved_rather_than_start_it_again() {
    let (store, _db) = store(4096);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    let clock = std::cell::Cell::new(1_000_000);
    let now_ms = || {
        clock.set(clock.get() + 1000);
        clock.get()
    };
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    let started = || {
        let progress = store.meta("repack").unwrap().unwrap();
        progress.split(',').next().unwrap().to_string()
    };
    maintenance::start(&store, &host, 0).unwrap();
    maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
    let first = started();
    let main = repo.git(&["rev-parse", "main"]);
    repo.write("moved.txt", b"a ref moves\n");
    let moved = repo.commit("moved");
    push_update(&store, &repo, Some(&main), &moved, "refs/heads/main");
    // With no grace (PRUNE_GRACE_SECONDS=0), each turn's start joins the run: started
    // again after every push, a run on a repository pushed to often would never end.
    maintenance::start(&store, &host, 0).unwrap();
    maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
    assert_eq!(started(), first);
    assert!(maintenance::run(&store, &host, &SMALL_SLICES, i64::MAX).unwrap());
    assert_eq!(clone_all(&store), reachable(&repo));
}

#[test]
fn an_object_both_loose_and_in_the_exact_pack_is_kept_by_a_prune_without_grace() {
    let (store, db) = store(4096);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    // The root tree stored loose as well (a push that sent it again small): the walk finds
    // it in the pack, which stays exact, and its loose copy is not taken for unreachable.
    let hex = repo.git(&["rev-parse", "main^{tree}"]);
    let id = ObjectId::from_hex(hex.as_bytes()).unwrap();
    let data = repo.git_with(&["cat-file", "tree", &hex], b"");
    let file = git_on_durable_objects::format::loose::encode(ObjectType::Tree, &data);
    for (statement, params) in [
        (
            "INSERT INTO loose (oid, push, data) VALUES (?, 0, ?)",
            vec![Value::Blob(id.0.to_vec()), Value::Blob(file)],
        ),
        (
            "INSERT INTO objects (oid, type, size) VALUES (?, 2, ?)",
            vec![
                Value::Blob(id.0.to_vec()),
                Value::Integer(data.len() as i64),
            ],
        ),
    ] {
        db.exec(statement, params).unwrap();
    }
    store.open().unwrap();
    let pushed = store.packs().unwrap();
    let report = maintain(&store, 1000, 0);
    assert_eq!(store.packs().unwrap(), pushed, "{report:?}");
    assert_eq!(report.pruned, 0, "{report:?}");
    assert!(store.locate(&id).unwrap().is_some());
    assert_eq!(clone_all(&store), reachable(&repo));
}

/// A store holding the bench's shape in small: the history in one pack, then a commit
/// pushed on top, loose (so the repack has a pack to write).
fn history_and_a_push() -> (Store<Db>, Db, Repo) {
    let (store, db) = store(4096);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    let main = repo.git(&["rev-parse", "main"]);
    repo.write("on-top.txt", b"pushed after the history\n");
    let top = repo.commit("on top");
    push_update(&store, &repo, Some(&main), &top, "refs/heads/main");
    assert!(store.summary().unwrap().loose > 0);
    (store, db, repo)
}

#[test]
fn a_pack_written_from_memory_is_the_pack_written_in_rows_without_a_row_per_object() {
    let in_rows = Slice {
        in_memory: 0,
        ..Slice::default()
    };
    let (store, _db, repo) = history_and_a_push();
    let rows = maintain_in(&store, 1000, 0, &in_rows);
    let want = store.packs().unwrap();
    // A walk in rows writes no ends file (it would read a row per object again).
    assert!(!store.has_file(want[0].id, ChunkFile::Ends).unwrap());
    let (store, db, _) = history_and_a_push();
    let memory = maintain_in(&store, 1000, 0, &Slice::default());
    let packs = store.packs().unwrap();
    assert_eq!(packs.len(), 1);
    assert_eq!(packs[0].name, want[0].name);
    assert_eq!(git_checks(&store, &packs[0]), reachable(&repo));
    assert_eq!((memory.objects, memory.tally), (rows.objects, rows.tally));
    assert_eq!(repack_rows(&db), 0);
    // In rows, each object costs several; from memory, the run writes the chunks of the
    // pack, its idx and its ends file (of 4 KiB here), a progress per slice, the loose
    // objects it packed (their file retired, their row gone), and a few more: the index
    // page, the two packs' states, its account.
    let ends = stored_file(&store, packs[0].id, ChunkFile::Ends).len() as u64;
    assert_eq!(ends, 8 * (memory.objects + 2));
    let files = [packs[0].size, packs[0].idx_size, ends];
    let chunks: u64 = files.iter().map(|bytes| bytes.div_ceil(4096)).sum();
    assert!(rows.rows_written > 3 * rows.objects, "{rows:?}");
    let bytes_and_slices = chunks + u64::from(memory.slices) + 2 * memory.loose_before;
    assert!(
        memory.rows_written <= bytes_and_slices + 4,
        "{memory:?} {chunks}"
    );
}

#[test]
fn a_walk_lost_while_its_pack_is_written_starts_again_in_rows_and_drops_that_pack() {
    for phase in ["\"Write\"", "\"Seal\"", "\"Swap\""] {
        let (want, store, db, repo) = repacked_and_not(6);
        let now_ms = || 1_000_000;
        let host = Host {
            now_ms: &now_ms,
            memory: &|| None,
        };
        maintenance::start(&store, &host, 0).unwrap();
        while !store.meta("repack").unwrap().unwrap().contains(phase) {
            maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
        }
        if phase == "\"Write\"" {
            maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
        }
        assert_eq!(repack_rows(&db), 0, "{phase}: written from memory");
        let store = Store::with_chunk_size(db.clone(), 4096);
        store.open().unwrap();
        maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
        let progress = store.meta("repack").unwrap().unwrap();
        assert!(progress.contains("\"Mark\""), "{phase}: {progress}");
        assert!(progress.contains("\"pack\":null"), "{phase}: {progress}");
        assert!(
            repack_rows(&db) > 0,
            "{phase}: the walk starts again in rows"
        );
        assert!(maintenance::run(&store, &host, &SMALL_SLICES, i64::MAX).unwrap());
        let packs = store.packs().unwrap();
        assert_eq!(packs.len(), 1);
        assert_eq!(packs[0].name, want[0].name, "{phase}");
        assert_eq!(git_checks(&store, &packs[0]), reachable(&repo));
        let begun = db
            .exec("SELECT count(*) FROM packs WHERE state = 'repack'", vec![])
            .unwrap();
        assert_eq!(begun[0][0].as_i64(), Some(0), "{phase}");
    }
}

#[test]
fn a_pack_written_from_memory_goes_on_in_rows_when_a_ref_moved_takes_it_past_its_budget() {
    let (store, db, repo) = history_and_a_push();
    let now_ms = || 1_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    // Room for exactly what the refs reach when the writing starts.
    let slice = Slice {
        write_in_memory: reachable(&repo).len(),
        ..SMALL_SLICES
    };
    maintenance::start(&store, &host, 0).unwrap();
    while !store.meta("repack").unwrap().unwrap().contains("\"Write\"") {
        maintenance::step(&store, &host, &slice).unwrap();
    }
    for _ in 0..3 {
        maintenance::step(&store, &host, &slice).unwrap();
    }
    assert_eq!(repack_rows(&db), 0);
    let main = repo.git(&["rev-parse", "main"]);
    repo.write("moved.txt", b"a ref moves while the pack is written\n");
    let moved = repo.commit("moved");
    push_update(&store, &repo, Some(&main), &moved, "refs/heads/main");
    while repack_rows(&db) == 0 {
        maintenance::step(&store, &host, &slice).unwrap();
    }
    let placed = db
        .exec(
            "SELECT count(*) FROM repack_objects WHERE offset IS NOT NULL",
            vec![],
        )
        .unwrap();
    assert!(
        placed[0][0].as_i64().unwrap() > 0,
        "where they went moves too"
    );
    assert!(maintenance::run(&store, &host, &slice, i64::MAX).unwrap());
    one_pack_of_what_it_reaches(&store, &repo);
}

#[test]
fn a_loose_table_made_with_a_rowid_serves_until_it_is_empty_and_is_then_made_without() {
    let (store, db) = store(4096);
    // As an earlier version made it.
    for statement in [
        "DROP TABLE loose",
        "CREATE TABLE loose (oid BLOB PRIMARY KEY, push INTEGER NOT NULL, \
         data BLOB NOT NULL, retired INTEGER)",
    ] {
        db.exec(statement, vec![]).unwrap();
    }
    let with_rowid = || db.exec("SELECT rowid FROM loose LIMIT 0", vec![]).is_ok();
    let (repo, _) = edited_one_line_at_a_time(&store, 2);
    let loose = || store.summary().unwrap().loose;
    assert!(loose() > 0);
    let reopened = || {
        let store = Store::with_chunk_size(db.clone(), 4096);
        store.open().unwrap();
        store
    };
    let store = reopened();
    assert!(with_rowid(), "kept while it holds files");
    assert_eq!(clone_all(&store), reachable(&repo));
    maintain(&store, 1000, 0);
    assert_eq!(loose(), 0);
    let store = reopened();
    assert!(
        with_rowid(),
        "the packed objects' files are kept for readers until swept"
    );
    maintenance::sweep(&store, 5000, 0).unwrap();
    let store = reopened();
    assert!(!with_rowid());
    assert_eq!(clone_all(&store), reachable(&repo));
    let main = repo.git(&["rev-parse", "main"]);
    repo.write("after.txt", b"pushed loose into the new table\n");
    let after = repo.commit("after");
    push_update(&store, &repo, Some(&main), &after, "refs/heads/main");
    assert!(store.summary().unwrap().loose > 0);
    assert_eq!(clone_all(&store), reachable(&repo));
}

#[test]
fn a_run_given_up_after_its_walk_was_lost_drops_the_pack_it_had_begun() {
    let (_, store, db, _) = repacked_and_not(4);
    let now_ms = || 1_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    maintenance::start(&store, &host, 0).unwrap();
    while !store.meta("repack").unwrap().unwrap().contains("\"Write\"") {
        maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
    }
    maintenance::step(&store, &host, &SMALL_SLICES).unwrap();
    // The first failure loses the walk in memory; the slices that would start the run
    // again in rows fail too, once they have dropped the pack (two writes) and forgotten it.
    for after in [0, 2, 2] {
        db.fail_write_after(after);
        assert!(maintenance::step(&store, &host, &SMALL_SLICES).is_err());
    }
    assert_eq!(store.meta("repack").unwrap(), None, "given up");
    let report = maintenance::last_report(&store).unwrap().unwrap();
    assert!(report.error.is_some(), "{report:?}");
    let left = db
        .exec(
            "SELECT (SELECT count(*) FROM packs WHERE state = 'repack'), \
             (SELECT count(*) FROM pack_chunks WHERE pack NOT IN (SELECT id FROM packs))",
            vec![],
        )
        .unwrap();
    assert_eq!(left[0], vec![Value::Integer(0), Value::Integer(0)]);
}

#[test]
fn a_walk_in_memory_reads_a_pack_in_the_order_it_is_stored() {
    // Chunks of 256 bytes: the history's pack takes far more rows than the reader keeps.
    let (store, db) = store(256);
    let repo = history_repo();
    let (_, pack) = push_all(&store, &repo, "report-status", 65536);
    let chunks = pack.len().div_ceil(256) as u64;
    let before = db.chunk_rows_read();
    let report = maintain_in(&store, 1000, 0, &SMALL_SLICES);
    let read = db.chunk_rows_read() - before;
    // It found the pack exact, having read every commit and tree in it: the commits first,
    // then each tree after the tree or commit that names it, as git wrote them, each chunk
    // about once (breadth first, with a lookup of each object walked, 123 rows).
    assert_eq!(report.pack_bytes, pack.len() as u64, "{report:?}");
    assert_eq!(report.tally, write::Tally::default());
    assert!(
        read <= chunks + chunks / 2,
        "{read} rows for {chunks} chunks"
    );
}

/// A turn writes few objects anew (each a delta search or a deflate), however many copies
/// it may write: the same repack in turns that allow two such objects takes a turn for
/// every two, and makes the same pack.
#[test]
fn a_slice_writes_few_objects_anew_however_many_it_copies() {
    let (store_a, _) = store(4096);
    edited_one_line_at_a_time(&store_a, 12);
    let many = maintain_in(&store_a, 1000, 0, &Slice::default());
    let (store_b, _) = store(4096);
    edited_one_line_at_a_time(&store_b, 12);
    let few = Slice {
        anew: 2,
        ..Slice::default()
    };
    let two_at_a_time = maintain_in(&store_b, 1000, 0, &few);
    let anew = many.tally.new_deltas + many.tally.rebuilt;
    assert!(anew >= 12, "{many:?}");
    assert_eq!(
        (two_at_a_time.pack.as_deref(), two_at_a_time.tally),
        (many.pack.as_deref(), many.tally)
    );
    assert!(
        u64::from(two_at_a_time.slices) >= u64::from(many.slices) + anew / 2 - 1,
        "{many:?} {two_at_a_time:?}"
    );
}

/// How many objects the walk of the run `maintenance::start` begins at `now` holds after
/// each of its first `slices` slices (of [`SMALL_SLICES`]: a page of the index taken in
/// whole, or 7 objects walked, each).
fn held_after_slices(store: &Store<Db>, now: i64, slices: usize) -> Vec<usize> {
    let now_ms = move || now * 1000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    maintenance::start(store, &host, 0).unwrap();
    (0..slices)
        .map(|_| {
            maintenance::step(store, &host, &SMALL_SLICES).unwrap();
            let walk = store.take_walk(now * 1000).expect("a walk in memory");
            let held = walk.len();
            store.keep_walk(walk);
            held
        })
        .collect()
}

/// The history pushed and repacked (its pack recorded exact), then three commits pushed on
/// main; returns the store and the pack's object count.
fn repacked_then_pushed(repo: &Repo) -> (Store<Db>, Db, u64) {
    let (store, db) = store(4096);
    push_all(&store, repo, "report-status", 65536);
    maintain(&store, 1000, 0);
    let exact = store
        .exact_pack()
        .unwrap()
        .expect("the pushed pack is exact");
    let count = store.pack_object_count(exact.id).unwrap();
    let mut last = repo.git(&["rev-parse", "main"]);
    for n in 0..3 {
        repo.write("README", format!("pushed on top {n}\n").as_bytes());
        let commit = repo.commit(&format!("on top {n}"));
        push_update(&store, repo, Some(&last), &commit, "refs/heads/main");
        last = commit;
    }
    (store, db, count)
}

#[test]
fn a_repack_takes_the_exact_pack_in_whole_and_walks_only_what_pushes_brought_since() {
    let repo = history_repo();
    let (store, _db, count) = repacked_then_pushed(&repo);
    let held = held_after_slices(&store, 2000, 1)[0];
    assert!(held as u64 > count, "{held} held of {count}");
    let taken_in = maintain(&store, 2000, 0);
    let pack = one_pack_of_what_it_reaches(&store, &repo);

    // The same repack walking everything, its pack recorded without the refs it was made
    // for: the pack is the same, byte for byte, as the name hashes kept with the exact pack
    // give its objects their places in the delta search.
    let twin = history_repo();
    let (store, _db, count) = repacked_then_pushed(&twin);
    let exact = store.meta("exact_pack").unwrap().unwrap();
    let untipped: Vec<&str> = exact.split(' ').take(2).collect();
    store
        .set_meta("exact_pack", Some(&untipped.join(" ")))
        .unwrap();
    let held = held_after_slices(&store, 2000, 1)[0];
    assert!(
        (held as u64) < count / 2,
        "only what 7 objects link to: {held}"
    );
    let walked = maintain(&store, 2000, 0);
    assert_eq!(store.packs().unwrap()[0].name, pack.name);
    assert_eq!(
        (walked.objects, walked.tally),
        (taken_in.objects, taken_in.tally)
    );
    assert!(walked.slices > taken_in.slices, "{walked:?} {taken_in:?}");
}

#[test]
fn an_exact_pack_of_many_pages_is_taken_in_a_page_a_slice() {
    let (store, _db) = store(4096);
    let repo = wide_repo(3000);
    push_all(&store, &repo, "report-status", 65536);
    maintain(&store, 1000, 0);
    let exact = store
        .exact_pack()
        .unwrap()
        .expect("the pushed pack is exact");
    let count = store.pack_object_count(exact.id).unwrap() as usize;
    let main = repo.git(&["rev-parse", "main"]);
    repo.write("d0/f0", b"changed\n");
    let commit = repo.commit("one file changed");
    push_update(&store, &repo, Some(&main), &commit, "refs/heads/main");
    // A page (about 512 records here) a slice, where a walk of everything holds them all
    // after its second.
    let held = held_after_slices(&store, 2000, 8);
    let taking = held.iter().take_while(|&&n| n < count).count();
    assert!(taking >= 3, "{held:?} of {count}");
    assert!(held.windows(2).all(|w| w[0] <= w[1]), "{held:?}");
    assert!(maintenance::run(
        &store,
        &Host {
            now_ms: &|| 2_000_000,
            memory: &|| None,
        },
        &SMALL_SLICES,
        i64::MAX
    )
    .unwrap());
    one_pack_of_what_it_reaches(&store, &repo);
}

#[test]
fn a_branch_deleted_or_rewound_since_the_exact_pack_is_walked_whole_and_what_it_left_goes() {
    for slice in [
        SMALL_SLICES,
        Slice {
            in_memory: 20,
            ..SMALL_SLICES
        },
    ] {
        let repo = history_repo();
        let (store, _db, _) = repacked_then_pushed(&repo);
        let main = repo.git(&["rev-parse", "main"]);
        repo.git(&["checkout", "-q", "-b", "leak"]);
        repo.write("secret.txt", b"password = hunter2\n");
        let leak = repo.commit("oops");
        let secret = repo.git(&["rev-parse", "leak:secret.txt"]);
        push_update(&store, &repo, None, &leak, "refs/heads/leak");
        maintain(&store, 2000, 0);
        assert!(store.exact_pack().unwrap().is_some());

        // Deleted: its commit, tree and blob are in the exact pack, which no ref reaches;
        // main moves on meanwhile (so that, in slices of a small budget, the walk of what
        // it brought goes on in rows before the deleted tip is found unmet).
        push_delete(&store, &leak, "refs/heads/leak");
        repo.git(&["checkout", "-q", "main"]);
        repo.git(&["branch", "-D", "leak"]);
        repo.write("README", b"main moves on\n");
        let next = repo.commit("main moves on");
        push_update(&store, &repo, Some(&main), &next, "refs/heads/main");
        let main = next;
        let report = maintain_in(&store, 3000, 0, &slice);
        assert_eq!(report.pruned, 3, "{report:?}");
        assert_purged_of(&store, &repo, &secret);

        // Rewound: main forward to a commit, repacked, then back.
        repo.write("secret.txt", b"password = hunter3\n");
        let ahead = repo.commit("oops again");
        let secret = repo.git(&["rev-parse", "main:secret.txt"]);
        push_update(&store, &repo, Some(&main), &ahead, "refs/heads/main");
        maintain(&store, 4000, 0);
        push_update(&store, &repo, Some(&ahead), &main, "refs/heads/main");
        repo.git(&["reset", "-q", "--hard", &main]);
        let report = maintain_in(&store, 5000, 0, &slice);
        assert_eq!(report.pruned, 3, "{report:?}");
        assert_purged_of(&store, &repo, &secret);
    }
}

/// No pack holds `secret`, and the repository clones as `repo` does.
fn assert_purged_of(store: &Store<Db>, repo: &Repo, secret: &str) {
    for pack in store.packs().unwrap() {
        assert!(!git_checks(store, &pack).contains(secret));
    }
    assert!(store
        .locate(&ObjectId::from_hex(secret.as_bytes()).unwrap())
        .unwrap()
        .is_none());
    assert_eq!(clone_all(store), reachable(repo));
}

#[test]
fn a_repack_that_remakes_a_pack_retired_and_not_yet_swept_makes_it_live() {
    // A tag pushed, repacked, then deleted and purged: the purge's pack is byte for byte
    // the one the first repack made.
    let (store, _db) = store(4096);
    let repo = Repo::new();
    repo.write("a.txt", b"a\n");
    let first = repo.commit("a");
    push_update(&store, &repo, None, &first, "refs/heads/main");
    repo.write("b.txt", b"b\n");
    let second = repo.commit("b");
    push_update(&store, &repo, Some(&first), &second, "refs/heads/main");
    maintain(&store, 1000, 0);
    let retired = store.packs().unwrap();
    repo.git(&["tag", "-a", "-m", "v1", "v1", "main"]);
    let tag = repo.git(&["rev-parse", "v1"]);
    push_update(&store, &repo, None, &tag, "refs/tags/v1");
    maintain(&store, 2000, 0);
    push_delete(&store, &tag, "refs/tags/v1");
    repo.git(&["tag", "-d", "v1"]);
    let now_ms = || 3_000_000;
    let host = Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    let report = maintenance::purge(&store, &host).unwrap();
    assert_eq!(report.pruned, 1, "{report:?}");
    assert_eq!(store.packs().unwrap()[0].name, retired[0].name);
    assert_eq!(clone_all(&store), reachable(&repo));
}

#[test]
fn a_push_of_the_bytes_of_a_pack_retired_and_not_yet_swept_goes_live() {
    // A branch pushed as a pack, repacked away, deleted, pruned, and pushed again: git
    // makes the same pack of it. HEAD names another branch, which cannot be deleted.
    let (store, _db) = store(4096);
    let repo = wide_repo(150);
    let wide = repo.git(&["rev-parse", "main"]);
    repo.git(&["checkout", "-q", "--orphan", "side"]);
    repo.git(&["rm", "-rqf", "."]);
    repo.write("other.txt", b"the branch HEAD names\n");
    let other = repo.commit("other");
    push_update(&store, &repo, None, &other, "refs/heads/main");
    push_update(&store, &repo, None, &wide, "refs/heads/side");
    let named =
        |store: &Store<Db>, name: &str| store.packs().unwrap().iter().any(|p| p.name == name);
    let pushed = store.packs().unwrap().pop().unwrap().name;
    repo.git(&["reset", "-q", "--hard", &wide]);
    repo.write("c.txt", b"c\n");
    let next = repo.commit("c");
    push_update(&store, &repo, Some(&wide), &next, "refs/heads/side");
    maintain(&store, 1000, 100_000);
    assert!(!named(&store, &pushed), "the pushed pack is retired");
    push_delete(&store, &next, "refs/heads/side");
    let report = maintain(&store, 2000, 0);
    assert!(report.pruned > 150, "{report:?}");
    push_update(&store, &repo, None, &wide, "refs/heads/side");
    assert!(named(&store, &pushed), "the same pack is live again");
    repo.git(&["reset", "-q", "--hard", &wide]);
    repo.git(&["update-ref", "refs/heads/main", &other]);
    assert_eq!(clone_all(&store), reachable(&repo));
}

#[test]
fn a_branch_merged_then_deleted_is_found_in_the_history_and_the_exact_pack_stays() {
    let run = |prove: bool| {
        let (store, _db) = store(4096);
        let repo = history_repo();
        push_all(&store, &repo, "report-status", 65536);
        let main = repo.git(&["rev-parse", "main"]);
        repo.git(&["checkout", "-q", "-b", "feature"]);
        repo.write("feature.txt", b"a feature\n");
        let feature = repo.commit("a feature");
        push_update(&store, &repo, None, &feature, "refs/heads/feature");
        repo.git(&["checkout", "-q", "main"]);
        repo.write("main.txt", b"main moves on\n");
        repo.commit("main moves on");
        repo.git(&["merge", "-q", "--no-ff", "-m", "merge", "feature"]);
        // A commit after the merge: the walk of the tips, which reads what the refs name,
        // meets the merge as a parent, not the branch.
        repo.write("main.txt", b"main moves on after the merge\n");
        let merge = repo.commit("after the merge");
        push_update(&store, &repo, Some(&main), &merge, "refs/heads/main");
        maintain(&store, 1000, 0);
        let packs = store.packs().unwrap();
        push_delete(&store, &feature, "refs/heads/feature");
        repo.git(&["branch", "-D", "feature"]);
        if !prove {
            // A tip the history cannot show, not being a commit (as a deleted tag's is not).
            let exact = store.meta("exact_pack").unwrap().unwrap();
            let mut parts: Vec<String> = exact.split(' ').map(String::from).collect();
            parts[2] = parts[2].replace(&feature, &"f".repeat(40));
            store
                .set_meta("exact_pack", Some(&parts.join(" ")))
                .unwrap();
        }
        let report = maintain(&store, 2000, 0);
        assert_eq!(store.packs().unwrap(), packs, "{report:?}");
        assert_eq!((report.pruned, report.tally), (0, write::Tally::default()));
        assert_eq!(clone_all(&store), reachable(&repo));
        report.slices
    };
    let (proven, walked) = (run(true), run(false));
    assert!(
        proven * 4 < walked,
        "{proven} slices, {walked} walking everything"
    );
}
