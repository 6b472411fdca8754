//! upload-pack over the real store schema on SQLite, checked with real git: packs index and
//! fsck, hold exactly what a fetch needs, and negotiation answers as git's upload-pack does.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeSet;

use common::*;
use git_on_durable_objects::format::object::ObjectType;
use git_on_durable_objects::limits::Limits;
use git_on_durable_objects::store::sql::Sql;
use git_on_durable_objects::store::Store;
use git_on_durable_objects::upload_pack::{self, Answer};

const CAPS: &str = "multi_ack_detailed no-done side-band-64k ofs-delta agent=test";

fn objects_between(repo: &Repo, include: &str, exclude: Option<&str>) -> BTreeSet<String> {
    let mut args = vec!["rev-list", "--objects", include];
    let negated;
    if let Some(exclude) = exclude {
        negated = format!("^{exclude}");
        args.push(&negated);
    }
    repo.git(&args)
        .lines()
        .map(|l| l[..40].to_string())
        .collect()
}

fn pushed() -> (Repo, Store<Db>) {
    let repo = history_repo();
    let (store, _db) = store(4096);
    let (lines, _) = push_all(&store, &repo, "report-status", 65536);
    assert_eq!(lines[0], "unpack ok");
    (repo, store)
}

fn all_ref_ids(repo: &Repo) -> Vec<String> {
    repo.refs().into_iter().map(|(_, id)| id).collect()
}

#[test]
fn full_clone_copies_the_stored_pack_and_fscks() {
    let repo = history_repo();
    let (store, _db) = store(4096);
    let (lines, pushed) = push_all(&store, &repo, "report-status", 65536);
    assert_eq!(lines[0], "unpack ok");
    let request = upload_request(&all_ref_ids(&repo), CAPS, &[], &[], true);
    // Until maintenance has seen that the pack holds exactly what the refs reach, a clone
    // walks the history to find out.
    let before = store.commits_read();
    let (_, walked) = fetch(&store, &request);
    assert!(store.commits_read() > before);
    let report = maintain(&store, 1000, 0);
    assert_eq!(
        (report.packs_after, report.tally.reused),
        (1, 0),
        "adopted as it is"
    );
    let before = store.commits_read();
    let (lines, pack) = fetch(&store, &request);
    assert_eq!(lines, vec!["NAK"]);
    assert_eq!(
        store.commits_read(),
        before,
        "a full clone walks no history"
    );
    assert_eq!(
        index(&Repo::new(), &walked),
        index(&Repo::new(), &pack),
        "the walk found the same objects"
    );
    // The stored pack's entries, byte for byte: nothing is inflated or recompressed.
    assert_eq!(pack[..12], pushed[..12]);
    assert!(pack[12..pack.len() - 20] == pushed[12..pushed.len() - 20]);
    let clone = Repo::new();
    let got = index(&clone, &pack);
    let expected: BTreeSet<String> = repo
        .git(&[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname)",
        ])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(got, expected);
    for (name, id) in repo.refs() {
        clone.git(&["update-ref", &name, &id]);
    }
    clone.git(&["fsck", "--full", "--strict"]);
}

/// A clone of a pushed pack and a clone without its blobs: the entries are copied to their
/// ends as the pack's ends file tells, which give the same packs as the inflating of each
/// entry to find its end does for a pack without the file; an ends file cut short fails
/// the clone rather than send another pack.
#[test]
fn entries_are_copied_to_the_ends_their_file_tells() {
    let repo = history_repo();
    let (store, db) = store(4096);
    let (lines, _) = push_all(&store, &repo, "report-status", 65536);
    assert_eq!(lines[0], "unpack ok");
    let wants = all_ref_ids(&repo);
    let full = upload_request(&wants, CAPS, &[], &[], true);
    let partial = upload_request(&wants, CAPS, &["filter blob:none".into()], &[], true);
    let clones = |store: &Store<Db>| (fetch(store, &full).1, fetch(store, &partial).1);
    let with_ends = clones(&store);
    // The store's handle keeps rows it read: each change below is seen through a new one.
    let changed = |sql: &str| {
        db.exec(sql, vec![]).unwrap();
        Store::with_chunk_size(db.clone(), 4096)
    };
    let cut = changed("UPDATE pack_chunks SET data = substr(data, 1, 100) WHERE kind = -2");
    let failed = split_response(&answer_bytes(&cut, &full));
    assert!(
        failed.as_ref().is_err_and(|e| e.contains("ends file")),
        "{failed:?}"
    );
    let without = clones(&changed("DELETE FROM pack_chunks WHERE kind = -2"));
    assert!(with_ends.0 == without.0, "the clones differ");
    assert!(with_ends.1 == without.1, "the clones without blobs differ");
    let all = objects_between(&repo, "--all", None);
    assert_eq!(index(&Repo::new(), &with_ends.0), all);
}

#[test]
fn incremental_fetch_sends_exactly_what_is_missing() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let old = repo.git(&["rev-parse", "main~3"]);
    let unknown = "1111111111111111111111111111111111111111".to_string();
    let body = upload_request(
        std::slice::from_ref(&main),
        CAPS,
        &[],
        &[unknown, old.clone()],
        true,
    );
    let (lines, pack) = fetch(&store, &body);
    assert_eq!(
        lines,
        vec![format!("ACK {old} common"), format!("ACK {old}")]
    );
    let client = Repo::new();
    assert_eq!(
        index(&client, &pack),
        objects_between(&repo, &main, Some(&old))
    );
}

#[test]
fn negotiation_rounds_ack_common_and_ready() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let old = repo.git(&["rev-parse", "main~2"]);
    let unknown = "2222222222222222222222222222222222222222".to_string();
    let caps = "multi_ack_detailed side-band-64k ofs-delta";
    let body = upload_request(
        std::slice::from_ref(&main),
        caps,
        &[],
        &[unknown.clone(), old.clone()],
        false,
    );
    let (lines, pack) = fetch(&store, &body);
    // A round with a have the server lacks is not "ready" (git's got_other).
    assert_eq!(lines, vec![format!("ACK {old} common"), "NAK".into()]);
    assert_eq!(payloads(&git_upload_pack(&repo, &body)), lines);
    assert!(pack.is_empty(), "no pack before done");
    let body = upload_request(
        std::slice::from_ref(&main),
        caps,
        &[],
        std::slice::from_ref(&old),
        false,
    );
    let (lines, _) = fetch(&store, &body);
    assert_eq!(
        lines,
        vec![
            format!("ACK {old} common"),
            format!("ACK {old} ready"),
            "NAK".into()
        ]
    );
    assert_eq!(payloads(&git_upload_pack(&repo, &body)), lines);
    // Once ready, a have the server lacks is acknowledged as ready too; with no-done, the
    // pack follows.
    for (caps, pack_follows) in [(caps, false), (CAPS, true)] {
        let body = upload_request(
            std::slice::from_ref(&main),
            caps,
            &[],
            &[old.clone(), unknown.clone()],
            false,
        );
        let (lines, pack) = fetch(&store, &body);
        let mut expected = vec![
            format!("ACK {old} common"),
            format!("ACK {unknown} ready"),
            "NAK".into(),
        ];
        if pack_follows {
            expected.push(format!("ACK {old}"));
        }
        assert_eq!(lines, expected);
        assert_eq!(pack.starts_with(b"PACK"), pack_follows);
        assert_eq!(payloads(&git_upload_pack(&repo, &body)), lines);
    }
    let (lines, pack) = fetch(
        &store,
        &upload_request(std::slice::from_ref(&main), caps, &[], &[unknown], false),
    );
    assert_eq!(lines, vec!["NAK"]);
    assert!(pack.is_empty());
    // With no-done, "ready" is followed by the pack at once.
    let (lines, pack) = fetch(
        &store,
        &upload_request(&[main], CAPS, &[], std::slice::from_ref(&old), false),
    );
    assert_eq!(lines.last().unwrap(), &format!("ACK {old}"));
    assert!(pack.starts_with(b"PACK"));
}

#[test]
fn shallow_clone_stops_at_the_depth() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    // The first request of a shallow fetch carries only wants and deepen: the answer is the
    // shallow list alone.
    let mut first = Vec::new();
    git_on_durable_objects::format::pktline::write_str(
        &mut first,
        &format!("want {main} {CAPS}\n"),
    );
    git_on_durable_objects::format::pktline::write_str(&mut first, "deepen 1\n");
    first.extend_from_slice(b"0000");
    let (lines, pack) = fetch(&store, &first);
    assert_eq!(lines, vec![format!("shallow {main}")]);
    assert!(pack.is_empty());

    let (lines, pack) = fetch(
        &store,
        &upload_request(
            std::slice::from_ref(&main),
            CAPS,
            &["deepen 1".into()],
            &[],
            true,
        ),
    );
    assert_eq!(lines, vec![format!("shallow {main}"), "NAK".to_string()]);
    let client = Repo::new();
    let tree = repo.git(&["rev-parse", "main^{tree}"]);
    let mut expected = objects_between(&repo, &tree, None);
    expected.insert(main.clone());
    assert_eq!(index(&client, &pack), expected);

    // Deepening by 2 from that boundary unshallows it.
    let body = upload_request(
        std::slice::from_ref(&main),
        &format!("{CAPS} deepen-relative"),
        &[format!("shallow {main}"), "deepen 2".into()],
        std::slice::from_ref(&main),
        true,
    );
    let (lines, _) = fetch(&store, &body);
    let grandparent = repo.git(&["rev-parse", "main^1~1"]);
    assert!(lines.contains(&format!("unshallow {main}")), "{lines:?}");
    assert!(
        lines.contains(&format!("shallow {grandparent}")),
        "{lines:?}"
    );
}

#[test]
fn deepen_since_and_not_draw_the_boundary() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let time: i64 = repo
        .git(&["log", "-1", "--format=%ct", "main~5"])
        .parse()
        .unwrap();
    let body = upload_request(
        std::slice::from_ref(&main),
        CAPS,
        &[format!("deepen-since {time}")],
        &[],
        true,
    );
    let (lines, _) = fetch(&store, &body);
    assert!(lines.iter().any(|l| l.starts_with("shallow ")), "{lines:?}");
    assert!(!lines.contains(&format!("shallow {main}")), "{lines:?}");

    let body = upload_request(
        std::slice::from_ref(&main),
        CAPS,
        &["deepen-not v1.0".into()],
        &[],
        true,
    );
    let (lines, pack) = fetch(&store, &body);
    assert!(lines.iter().any(|l| l.starts_with("shallow ")), "{lines:?}");
    let client = Repo::new();
    let got = index(&client, &pack);
    assert!(!got.contains(&repo.git(&["rev-parse", "v1.0^{commit}"])));

    let body = upload_request(&[main], CAPS, &["deepen-not no-such-ref".into()], &[], true);
    let (lines, _) = fetch(&store, &body);
    assert_eq!(
        lines,
        vec!["ERR upload-pack: deepen-not is not a ref: no-such-ref"]
    );
}

#[test]
fn unknown_wants_are_refused() {
    let (_repo, store) = pushed();
    let bogus = "3333333333333333333333333333333333333333".to_string();
    let (lines, pack) = fetch(
        &store,
        &upload_request(std::slice::from_ref(&bogus), CAPS, &[], &[], true),
    );
    assert_eq!(lines, vec![format!("ERR upload-pack: not our ref {bogus}")]);
    assert!(pack.is_empty());
}

#[test]
fn a_want_after_the_want_section_is_refused() {
    let want = format!("want {}\n", "a".repeat(40));
    let mut body = Vec::new();
    git_on_durable_objects::format::pktline::write_str(&mut body, &want);
    body.extend_from_slice(b"0000");
    git_on_durable_objects::format::pktline::write_str(&mut body, &want);
    let err = upload_pack::parse_request(&body, &Limits::default())
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        format!("unexpected line {:?}", want.trim_end())
    );
}

#[test]
fn deepen_zero_is_refused() {
    let body = upload_request(&["a".repeat(40)], CAPS, &["deepen 0".into()], &[], true);
    let err = upload_pack::parse_request(&body, &Limits::default())
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "unexpected line \"deepen 0\"");
}

#[test]
fn malformed_requests_are_bad_requests() {
    for body in [
        &b"zzzz"[..],
        b"0010want 1234\n",
        b"0009have\n0000",
        b"000bbogus x\n",
    ] {
        assert!(
            upload_pack::parse_request(body, &Limits::default()).is_err(),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn a_repository_of_many_small_pushes_clones_and_wanted_tags_come_along() {
    let repo = history_repo();
    let (store, _db) = store(4096);
    let log: Vec<String> = repo
        .git(&["rev-list", "--reverse", "main"])
        .lines()
        .map(str::to_string)
        .collect();
    let mut previous: Option<String> = None;
    // One large push (a pack), then small ones (loose objects).
    let steps = std::iter::once(&log[25])
        .chain(log[26..].iter().step_by(3))
        .chain(log.last());
    for commit in steps {
        let exclude: Vec<&str> = previous.iter().map(String::as_str).collect();
        let pack = repo.pack(&[commit], &exclude);
        let old = previous.clone().unwrap_or_else(|| ZERO.to_string());
        let body = push_body(
            &[(old, commit.clone(), "refs/heads/main".into())],
            "report-status",
            &pack,
        );
        assert_eq!(
            report_lines(&run_push(&store, &body, 4096).unwrap())[1],
            "ok refs/heads/main"
        );
        previous = Some(commit.clone());
    }
    let tag = repo.git(&["rev-parse", "v1.0"]);
    let body = push_body(
        &[(ZERO.into(), tag.clone(), "refs/tags/v1.0".into())],
        "report-status",
        &repo.pack(&["v1.0"], &["main"]),
    );
    assert_eq!(
        report_lines(&run_push(&store, &body, 4096).unwrap())[1],
        "ok refs/tags/v1.0"
    );
    let (_, loose) = store.count_objects().unwrap();
    assert!(
        !store.packs().unwrap().is_empty() && loose > 0,
        "both packs and loose objects"
    );

    // Wanting the tag object brings the tag and everything it points at. Every ref is
    // wanted: before maintenance the history is walked; after it, its one pack is sent as
    // it is, walking no history.
    let main = repo.git(&["rev-parse", "main"]);
    let request = upload_request(&[main.clone(), tag.clone()], CAPS, &[], &[], true);
    let mut expected = objects_between(&repo, "main", None);
    expected.insert(tag.clone());
    for maintained in [false, true] {
        if maintained {
            let report = maintain(&store, 1000, 0);
            assert_eq!((report.packs_after, report.loose_after), (1, 0));
            assert!(report.tally.new_deltas > 0, "loose objects deltified");
        }
        let before = store.commits_read();
        let (lines, pack) = fetch(&store, &request);
        assert_eq!(lines, vec!["NAK"]);
        assert_eq!(store.commits_read() == before, maintained);
        let clone = Repo::new();
        assert_eq!(index(&clone, &pack), expected);
        clone.git(&["update-ref", "refs/heads/main", &main]);
        clone.git(&["update-ref", "refs/tags/v1.0", &tag]);
        clone.git(&["fsck", "--full", "--strict"]);
    }
}

#[test]
fn incremental_fetch_across_reverts_renames_and_merges_leaves_the_client_complete() {
    let repo = Repo::new();
    repo.write("a/x.txt", b"one\n");
    repo.write("a/y.txt", b"why\n");
    repo.write("b/z.txt", b"zed\n");
    let base = repo.commit("base");
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("b/z.txt", b"zed on side\n");
    let side = repo.commit("side");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("a/x.txt", b"two\n");
    repo.commit("change x");
    repo.write("a/x.txt", b"one\n");
    repo.commit("revert x");
    repo.git(&["mv", "a", "renamed"]);
    repo.commit("rename a");
    repo.git(&["merge", "-q", "--no-edit", "side"]);
    let main = repo.git(&["rev-parse", "main"]);

    let (store, _db) = store(4096);
    let body = push_body(
        &[
            (ZERO.into(), main.clone(), "refs/heads/main".into()),
            (ZERO.into(), side.clone(), "refs/heads/side".into()),
        ],
        "report-status",
        &repo.pack(&["--all"], &[]),
    );
    assert_eq!(
        report_lines(&run_push(&store, &body, 4096).unwrap())[0],
        "unpack ok"
    );

    // The client has base and side; it fetches main.
    let client = Repo::new();
    index(&client, &repo.pack(&[&base, &side], &[]));
    let body = upload_request(
        std::slice::from_ref(&main),
        CAPS,
        &[],
        &[base.clone(), side.clone()],
        true,
    );
    let (lines, pack) = fetch(&store, &body);
    assert_eq!(lines.last().unwrap(), &format!("ACK {side}"));
    index(&client, &pack);
    client.git(&["update-ref", "refs/heads/main", &main]);
    client.git(&["fsck", "--full", "--strict", "--no-dangling"]);
    let missing = client.git_with(&["rev-list", "--objects", "--missing=print", "main"], b"");
    assert!(!String::from_utf8(missing).unwrap().contains('?'));
}

// ---- shallow boundaries and object sets, compared with git's own upload-pack ----

/// The ids of every object in the git directory `dir`.
fn all_objects(repo: &Repo, dir: &str) -> BTreeSet<String> {
    repo.git(&[
        "-C",
        dir,
        "cat-file",
        "--batch-all-objects",
        "--batch-check=%(objectname)",
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

/// What git's own upload-pack (over file://) gives `git clone --bare --single-branch
/// --no-tags <clone>` of main, then `git fetch <fetch>` if given: the shallow list and the
/// object set the client ends with.
fn oracle(
    repo: &Repo,
    clone: &[&str],
    fetch: Option<&[&str]>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().join("oracle.git");
    let dir = dir.to_str().unwrap();
    let url = format!("file://{}", repo.path().display());
    let mut args = vec![
        "clone",
        "-q",
        "--bare",
        "--no-local",
        "--single-branch",
        "--branch",
        "main",
        "--no-tags",
    ];
    args.extend_from_slice(clone);
    args.extend_from_slice(&[&url, dir]);
    repo.git(&args);
    if let Some(fetch) = fetch {
        let mut args = vec!["-C", dir, "fetch", "-q", "origin"];
        args.extend_from_slice(fetch);
        repo.git(&args);
    }
    let shallow = std::fs::read_to_string(format!("{dir}/shallow")).unwrap_or_default();
    let shallow = shallow.lines().map(str::to_string).collect();
    (shallow, all_objects(repo, dir))
}

/// The ids on the lines of an answer that start with `prefix` (`shallow ` or `unshallow `).
fn shallow_lines(lines: &[String], prefix: &str) -> BTreeSet<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(str::to_string)
        .collect()
}

/// One shallow clone of main from our upload-pack: (shallow list, object set).
fn shallow_clone(
    store: &Store<Db>,
    main: &str,
    deepen: &str,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let body = upload_request(&[main.to_string()], CAPS, &[deepen.to_string()], &[], true);
    let (lines, pack) = fetch(store, &body);
    assert_eq!(lines.last().map(String::as_str), Some("NAK"), "{lines:?}");
    (
        shallow_lines(&lines, "shallow "),
        index(&Repo::new(), &pack),
    )
}

#[test]
fn shallow_clones_match_git_upload_pack() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    // The boundary commit's own time: git keeps a commit whose date equals deepen-since.
    let since = repo.git(&["log", "-1", "--format=%ct", "main~5"]);
    let after = (since.parse::<i64>().unwrap() + 1).to_string();
    let cases = [
        ("deepen 3".to_string(), "--depth=3".to_string()),
        (
            format!("deepen-since {since}"),
            format!("--shallow-since={since}"),
        ),
        (
            format!("deepen-since {after}"),
            format!("--shallow-since={after}"),
        ),
        ("deepen-not v1.0".into(), "--shallow-exclude=v1.0".into()),
        ("deepen-not topic".into(), "--shallow-exclude=topic".into()),
    ];
    for (deepen, clone_arg) in &cases {
        let ours = shallow_clone(&store, &main, deepen);
        let theirs = oracle(&repo, &[clone_arg], None);
        assert!(!theirs.0.is_empty(), "{clone_arg} is shallow");
        assert_eq!(ours.0, theirs.0, "shallow list for {deepen}");
        assert_eq!(ours.1, theirs.1, "objects for {deepen}");
    }
}

#[test]
fn deepen_relative_matches_git_upload_pack() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let (shallow, mut objects) = shallow_clone(&store, &main, "deepen 1");
    assert_eq!(shallow, BTreeSet::from([main.clone()]));
    let client_shallow: Vec<String> = shallow.iter().map(|id| format!("shallow {id}")).collect();
    let mut extra = client_shallow.clone();
    extra.push("deepen 2".into());
    let body = upload_request(
        std::slice::from_ref(&main),
        &format!("{CAPS} deepen-relative"),
        &extra,
        std::slice::from_ref(&main),
        true,
    );
    let (lines, pack) = fetch(&store, &body);
    let mut now = shallow.clone();
    for id in shallow_lines(&lines, "unshallow ") {
        assert!(now.remove(&id), "unshallows {id}, which was not shallow");
    }
    now.extend(shallow_lines(&lines, "shallow "));
    let client = Repo::new();
    index(&client, &repo.pack(&[&main], &[&format!("{main}~1")]));
    objects.extend(index(&client, &pack));
    let theirs = oracle(&repo, &["--depth=1"], Some(&["--deepen=2"]));
    assert_eq!(now, theirs.0, "shallow list after --deepen 2");
    assert_eq!(objects, theirs.1, "objects after --deepen 2");
}

#[test]
fn include_tag_sends_the_tags_of_what_is_sent() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let tag = repo.git(&["rev-parse", "v1.0"]);
    let mut expected = objects_between(&repo, &main, None);
    for (caps, with_tag) in [
        (format!("{CAPS} include-tag"), true),
        (CAPS.to_string(), false),
    ] {
        let body = upload_request(std::slice::from_ref(&main), &caps, &[], &[], true);
        let (_, pack) = fetch(&store, &body);
        if with_tag {
            expected.insert(tag.clone());
        } else {
            expected.remove(&tag);
        }
        assert_eq!(index(&Repo::new(), &pack), expected, "{caps}");
    }
    // A fetch of history that stops before the tagged commit gets no tag.
    let old = repo.git(&["rev-parse", "main~25"]);
    let body = upload_request(
        std::slice::from_ref(&main),
        &format!("{CAPS} include-tag"),
        &[],
        std::slice::from_ref(&old),
        true,
    );
    let (_, pack) = fetch(&store, &body);
    let got = index(&Repo::new(), &pack);
    assert_eq!(got, objects_between(&repo, &main, Some(&old)));
    assert!(!got.contains(&tag));
}

/// Fetches main with the single have `rev` from a fresh store of the history, checks the
/// pack holds exactly what `rev` lacks, and returns the have's id, the negotiation lines and
/// how many commit-graph rows the fetch read.
fn fetch_main_over(rev: &str) -> (String, Vec<String>, u64) {
    let repo = history_repo();
    let (store, _db) = store(4096);
    let (lines, _) = push_all(&store, &repo, "report-status", 65536);
    assert_eq!(lines[0], "unpack ok");
    let main = repo.git(&["rev-parse", "main"]);
    let have = repo.git(&["rev-parse", rev]);
    let before = store.commits_read();
    let body = upload_request(
        std::slice::from_ref(&main),
        CAPS,
        &[],
        std::slice::from_ref(&have),
        true,
    );
    let (lines, pack) = fetch(&store, &body);
    assert_eq!(
        index(&Repo::new(), &pack),
        objects_between(&repo, &main, Some(&have))
    );
    (have, lines, store.commits_read() - before)
}

#[test]
fn a_have_on_a_merged_branch_marks_shared_history_it_reaches_later() {
    // The merge's first-parent side reaches commit 39 before the have (topic) does, so
    // commit 39 is queued as wanted and must be marked as the client's when topic gets there;
    // then nothing wanted is left and the walk stops there, having read the graph rows of
    // main, topic, main^1 and commit 39.
    let (topic, lines, rows) = fetch_main_over("topic");
    assert_eq!(
        lines,
        vec![format!("ACK {topic} common"), format!("ACK {topic}")]
    );
    assert_eq!(rows, 4);
}

// ---- negotiation that must not stop early, and walks that must stop early ----

/// Negotiation caps without `no-done`: a ready client gets `ACK ready`, then `NAK`.
const NEGOTIATE: &str = "multi_ack_detailed side-band-64k ofs-delta";

#[test]
fn ready_only_when_every_want_reaches_what_the_client_has() {
    // The client has a have commit and its parents (as git's upload-pack counts them): with
    // y (and x) every want that reaches x is covered, w is not; with x, w reaches r too.
    let repo = dated_history(&[
        ("r", 100, &[]),
        ("x", 200, &["r"]),
        ("y", 300, &["x"]),
        ("w", 400, &["r"]),
    ]);
    let (store, _db) = store(4096);
    let (lines, _) = push_all(&store, &repo, "report-status", 65536);
    assert_eq!(lines[0], "unpack ok");
    let id = |name: &str| repo.git(&["rev-parse", name]);
    for (wants, have, ready) in [
        (vec![id("w")], id("y"), false),
        (vec![id("y"), id("w")], id("y"), false),
        (vec![id("w")], id("x"), true),
        (vec![id("y"), id("w")], id("x"), true),
    ] {
        let body = upload_request(&wants, NEGOTIATE, &[], std::slice::from_ref(&have), false);
        let (lines, _) = fetch(&store, &body);
        let mut expected = vec![format!("ACK {have} common")];
        if ready {
            expected.push(format!("ACK {have} ready"));
        }
        expected.push("NAK".into());
        assert_eq!(lines, expected);
        assert_eq!(payloads(&git_upload_pack(&repo, &body)), lines);
    }
    // Not enough after y, enough after w: the unknown have before w is not acknowledged,
    // the one after is.
    let unknown = |n: char| n.to_string().repeat(40);
    let haves = [id("y"), unknown('5'), id("w"), unknown('6')];
    let body = upload_request(&[id("y"), id("w")], NEGOTIATE, &[], &haves, false);
    let (lines, _) = fetch(&store, &body);
    assert_eq!(
        lines,
        vec![
            format!("ACK {} common", id("y")),
            format!("ACK {} common", id("w")),
            format!("ACK {} ready", unknown('6')),
            "NAK".into()
        ]
    );
    assert_eq!(payloads(&git_upload_pack(&repo, &body)), lines);
}

/// A repository whose main is a line of `n` empty commits, built with fast-import.
fn long_line(n: usize) -> Repo {
    let repo = Repo::new();
    let mut stream = String::new();
    for i in 1..=n {
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{i}\ncommitter T <t@example.com> {} +0000\ndata 0\n",
            1_700_000_000 + i
        ));
        if i > 1 {
            stream.push_str(&format!("from :{}\n", i - 1));
        }
        stream.push('\n');
    }
    repo.git_with(&["fast-import", "--quiet"], stream.as_bytes());
    repo
}

#[test]
fn ready_looks_at_most_4097_generations_back() {
    // The walk that decides `ready` is bounded: a common commit 4,097 generations below the
    // want is found, one 4,098 below is not (the client goes on negotiating; no harm done).
    let repo = long_line(4100);
    let (store, _db) = store(1 << 20);
    let (lines, _) = push_all(&store, &repo, "report-status", 1 << 20);
    assert_eq!(lines[0], "unpack ok");
    let tip = repo.git(&["rev-parse", "main"]);
    for (back, ready) in [(4097, true), (4098, false)] {
        let common = repo.git(&["rev-parse", &format!("main~{back}")]);
        let (lines, _) = fetch(
            &store,
            &upload_request(
                std::slice::from_ref(&tip),
                NEGOTIATE,
                &[],
                std::slice::from_ref(&common),
                false,
            ),
        );
        let mut expected = vec![format!("ACK {common} common")];
        if ready {
            expected.push(format!("ACK {common} ready"));
        }
        expected.push("NAK".into());
        assert_eq!(lines, expected, "{back} generations back");
    }
}

#[test]
fn a_shallow_client_without_deepen_gets_history_down_to_its_boundary() {
    // The client is shallow at commit 39 (main~2, below both sides of the merge) and sends
    // no haves: it gets the commits above its boundary and the whole tree of each, as git's
    // upload-pack does (it grafts the boundary as parentless), so nothing is missing.
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let boundary = repo.git(&["rev-parse", "main~2"]);
    let below = repo.git(&["rev-parse", "main~3"]);
    let body = upload_request(
        std::slice::from_ref(&main),
        CAPS,
        &[format!("shallow {boundary}")],
        &[],
        true,
    );
    let (lines, pack) = fetch(&store, &body);
    assert_eq!(lines, vec!["NAK"]);
    std::fs::write(repo.path().join(".git/shallow"), format!("{boundary}\n")).unwrap();
    let expected = objects_between(&repo, &main, None);
    assert_eq!(index(&Repo::new(), &pack), expected);
    assert!(!expected.contains(&below), "git reads the shallow file");
}

#[test]
fn a_shallower_deepen_leaves_deeper_shallow_commits_alone() {
    // A client cloned with depth 6 fetches with depth 2 (not relative): its old boundary
    // is not reached, so it stays shallow, as with git's own upload-pack.
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let (shallow, mut objects) = shallow_clone(&store, &main, "deepen 6");
    let mut extra: Vec<String> = shallow.iter().map(|id| format!("shallow {id}")).collect();
    extra.push("deepen 2".into());
    let body = upload_request(
        std::slice::from_ref(&main),
        CAPS,
        &extra,
        std::slice::from_ref(&main),
        true,
    );
    let (lines, pack) = fetch(&store, &body);
    assert!(shallow_lines(&lines, "unshallow ").is_empty(), "{lines:?}");
    let mut now = shallow.clone();
    now.extend(shallow_lines(&lines, "shallow "));
    objects.extend(index(&Repo::new(), &pack));
    let theirs = oracle(&repo, &["--depth=6"], Some(&["--depth=2"]));
    assert_eq!(now, theirs.0, "shallow list after --depth=2");
    assert_eq!(objects, theirs.1, "objects after --depth=2");
}

#[test]
fn an_incremental_fetch_walks_only_the_new_history() {
    // The walk stops once only the client's commits are left: fetching the last merge over
    // "main moves on" reads the graph rows of four commits, not of all 43.
    let (_, _, rows) = fetch_main_over("main^1");
    assert_eq!(rows, 4, "graph rows of main, main^1, topic and commit 39");
}

/// A repository of commits `(name, committer time, parents)`, made in that order by
/// fast-import, each adding a file of its own and kept as branch `name`.
fn dated_history(commits: &[(&str, i64, &[&str])]) -> Repo {
    let repo = Repo::new();
    let mark = |name: &str| 1 + commits.iter().position(|c| c.0 == name).unwrap();
    let mut stream = String::new();
    for (name, time, parents) in commits {
        stream.push_str(&format!(
            "commit refs/heads/{name}\nmark :{}\ncommitter T <t@example.com> {time} +0000\ndata 0\n",
            mark(name)
        ));
        for (i, parent) in parents.iter().enumerate() {
            let verb = if i == 0 { "from" } else { "merge" };
            stream.push_str(&format!("{verb} :{}\n", mark(parent)));
        }
        stream.push_str(&format!(
            "M 644 inline {name}.txt\ndata {}\n{name}\n\n",
            name.len() + 1
        ));
    }
    repo.git_with(&["fast-import", "--quiet"], stream.as_bytes());
    repo
}

#[test]
fn the_walk_sends_everything_missing_whatever_the_commit_dates() {
    // Each history has a second root, b, older than all else, which the client lacks: the
    // walk must not stop before it, whether the client's commit h is reached after a wanted
    // commit it shares (r) was queued, or (with a parent dated after its child, clock skew)
    // after one it shares (a) was already sent.
    let queued_then_shared: &[(&str, i64, &[&str])] = &[
        ("r", 100, &[]),
        ("h", 300, &["r"]),
        ("b", 50, &[]),
        ("w", 400, &["r", "b"]),
    ];
    let skewed: &[(&str, i64, &[&str])] = &[
        ("r", 100, &[]),
        ("a", 500, &["r"]),
        ("h", 200, &["a"]),
        ("b", 50, &[]),
        ("w", 300, &["a", "b"]),
    ];
    for history in [queued_then_shared, skewed] {
        let repo = dated_history(history);
        let (store, _db) = store(4096);
        let (lines, _) = push_all(&store, &repo, "report-status", 65536);
        assert_eq!(lines[0], "unpack ok");
        let w = repo.git(&["rev-parse", "w"]);
        let h = repo.git(&["rev-parse", "h"]);
        let client = Repo::new();
        index(&client, &repo.pack(&["h"], &[]));
        let body = upload_request(std::slice::from_ref(&w), CAPS, &[], &[h], true);
        let (_, pack) = fetch(&store, &body);
        index(&client, &pack);
        client.git(&["update-ref", "refs/heads/w", &w]);
        let missing = client.git(&["rev-list", "--objects", "--missing=print", "w"]);
        assert!(!missing.contains('?'), "missing objects:\n{missing}");
        client.git(&["fsck", "--full", "--strict"]);
    }
}

#[test]
fn a_commit_that_keeps_its_parents_tree_is_sent_alone() {
    // An empty commit has its parent's tree: a client that has the parent gets the commit
    // and nothing else.
    let repo = Repo::new();
    repo.write("a/x.txt", b"x\n");
    let parent = repo.commit("files");
    let empty = repo.commit("nothing changed");
    let (store, _db) = store(4096);
    let (lines, _) = push_all(&store, &repo, "report-status", 65536);
    assert_eq!(lines[0], "unpack ok");
    let body = upload_request(
        std::slice::from_ref(&empty),
        CAPS,
        &[],
        std::slice::from_ref(&parent),
        true,
    );
    let (_, pack) = fetch(&store, &body);
    assert_eq!(index(&Repo::new(), &pack), BTreeSet::from([empty]));
}

/// What git's own upload-pack answers to `body` over stateless HTTP, from `repo`.
fn git_upload_pack(repo: &Repo, body: &[u8]) -> Vec<u8> {
    repo.git_with(&["upload-pack", "--stateless-rpc", "."], body)
}

/// The pkt-line payloads of `body`, without their newlines.
fn payloads(body: &[u8]) -> Vec<String> {
    split_response(body).unwrap().0
}

#[test]
fn the_advertisement_lists_what_git_upload_pack_lists() {
    let (repo, store) = pushed();
    let ours = payloads(&upload_pack::advertise(&store).unwrap());
    let theirs = payloads(&repo.git_with(
        &["upload-pack", "--advertise-refs", "--stateless-rpc", "."],
        b"",
    ));
    assert_eq!(ours[0], "# service=git-upload-pack");
    let refs = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| l.split('\0').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(refs(&ours[1..]), refs(&theirs));
    let main = repo.git(&["rev-parse", "main"]);
    assert_eq!(
        ours[1],
        format!(
            "{main} HEAD\0{} symref=HEAD:refs/heads/main object-format=sha1 agent={}",
            upload_pack::CAPABILITIES,
            git_on_durable_objects::AGENT
        )
    );
    assert!(ours[2..].iter().all(|l| !l.contains('\0')));

    let (empty, _db) = common::store(4096);
    assert_eq!(
        payloads(&upload_pack::advertise(&empty).unwrap()),
        vec![
            "# service=git-upload-pack".to_string(),
            format!(
                "{ZERO} capabilities^{{}}\0{} object-format=sha1 agent={}",
                upload_pack::CAPABILITIES,
                git_on_durable_objects::AGENT
            )
        ]
    );
}

#[test]
fn an_empty_have_round_is_answered_nak_as_git_does() {
    // wants, a flush, then a have section with no haves: a negotiation round, not a
    // shallow-info request.
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let body = upload_request(std::slice::from_ref(&main), CAPS, &[], &[], false);
    let (lines, pack) = fetch(&store, &body);
    assert_eq!(lines, vec!["NAK"]);
    assert!(pack.is_empty());
    assert_eq!(payloads(&git_upload_pack(&repo, &body)), lines);
}

/// The pkt-lines of an answer as (length, first byte) pairs.
fn frames(body: &[u8]) -> Vec<(usize, u8)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some((pkt, len)) =
        git_on_durable_objects::format::pktline::decode(&body[pos..]).unwrap()
    {
        pos += len;
        if let git_on_durable_objects::format::pktline::Pkt::Data(data) = pkt {
            out.push((len, data[0]));
        }
    }
    out
}

#[test]
fn side_band_frames_and_progress_follow_the_capabilities() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let old = repo.git(&["rev-parse", "main~30"]);
    let ask = |caps: &str| {
        let body = upload_request(
            std::slice::from_ref(&main),
            caps,
            &[],
            std::slice::from_ref(&old),
            true,
        );
        answer_bytes(&store, &body)
    };
    let large = ask("side-band-64k ofs-delta");
    let small = ask("side-band ofs-delta");
    let quiet = ask("side-band-64k ofs-delta no-progress");
    assert_eq!(split_response(&small), split_response(&large));
    assert!(frames(&small).iter().all(|(len, _)| *len <= 1000));
    assert!(frames(&large).iter().any(|(len, _)| *len > 1000));
    let progress = |body: &[u8]| frames(body).iter().filter(|(_, band)| *band == 2).count();
    assert!(progress(&large) > 0, "progress on band 2");
    assert_eq!(progress(&quiet), 0, "no-progress");
    assert_eq!(split_response(&quiet), split_response(&large));
}

#[test]
fn a_wanted_tree_comes_with_everything_in_it() {
    let (repo, store) = pushed();
    let tree = repo.git(&["rev-parse", "main~5^{tree}"]);
    let body = upload_request(std::slice::from_ref(&tree), CAPS, &[], &[], true);
    let (_, pack) = fetch(&store, &body);
    let ours = index(&Repo::new(), &pack);
    assert_eq!(ours, objects_between(&repo, &tree, None));
    let theirs = repo.git_with(
        &[
            "-c",
            "uploadpack.allowAnySHA1InWant=true",
            "upload-pack",
            "--stateless-rpc",
            ".",
        ],
        &body,
    );
    assert_eq!(
        ours,
        index(&Repo::new(), &split_response(&theirs).unwrap().1)
    );
}
#[test]
fn multi_ack_rounds_answer_as_git_does() {
    // Plain multi_ack (no _detailed): each common have is acknowledged with "continue", and
    // once they are enough, the unknown ones too; after done, the last common one alone.
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let old = repo.git(&["rev-parse", "main~3"]);
    let older = repo.git(&["rev-parse", "main~4"]);
    let unknown = "4444444444444444444444444444444444444444".to_string();
    let haves = [old, unknown, older];
    // Without multi_ack, only the first common have is acknowledged, and nothing after done.
    for caps in [
        "multi_ack side-band-64k ofs-delta",
        "side-band-64k ofs-delta",
    ] {
        for done in [false, true] {
            let body = upload_request(std::slice::from_ref(&main), caps, &[], &haves, done);
            let (lines, _) = fetch(&store, &body);
            let theirs = split_response(&git_upload_pack(&repo, &body)).unwrap().0;
            assert_eq!(lines, theirs, "{caps}, done: {done}");
        }
    }
}

/// The kinds of the entries of `pack`, found through the index git writes for it.
fn entry_kinds(pack: &[u8]) -> Vec<git_on_durable_objects::format::pack::EntryKind> {
    use git_on_durable_objects::format::pack;
    show_index(&Repo::new(), pack)
        .into_iter()
        .map(|(offset, _)| {
            pack::parse_entry_header(&pack[offset as usize..], offset)
                .unwrap()
                .unwrap()
                .kind
        })
        .collect()
}

#[test]
fn without_ofs_delta_no_entry_names_its_base_by_offset() {
    // Stored packs hold OFS_DELTA entries; a client that did not ask for ofs-delta gets
    // them as REF_DELTA, in a full clone (no verbatim copy of stored packs) as in a fetch.
    use git_on_durable_objects::format::pack::EntryKind;
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let old = repo.git(&["rev-parse", "main~30"]);
    let is_ofs = |kind: &EntryKind| matches!(kind, EntryKind::OfsDelta(_));
    for (wants, haves) in [(all_ref_ids(&repo), vec![]), (vec![main], vec![old])] {
        for (caps, ofs) in [("side-band-64k ofs-delta", true), ("side-band-64k", false)] {
            let body = upload_request(&wants, caps, &[], &haves, true);
            let (_, pack) = fetch(&store, &body);
            let kinds = entry_kinds(&pack);
            assert_eq!(kinds.iter().any(is_ofs), ofs, "{caps}, haves {haves:?}");
            assert!(kinds.iter().any(|k| !matches!(k, EntryKind::Whole(_))));
        }
    }
}

#[test]
fn stored_ref_deltas_stay_deltas_on_bases_written_before_them() {
    // A client that pushes REF_DELTA entries (pack-objects without --delta-base-offset): a
    // clone walks the history and finds each written base again by where it is stored.
    use git_on_durable_objects::format::pack::EntryKind;
    let repo = history_repo();
    let (store, _db) = store(4096);
    let mut revs = String::new();
    for (_, id) in repo.refs() {
        revs.push_str(&format!("{id}\n"));
    }
    let pack = repo.git_with(
        &["pack-objects", "--revs", "--stdout", "--threads=1", "-q"],
        revs.as_bytes(),
    );
    assert!(entry_kinds(&pack)
        .iter()
        .any(|k| matches!(k, EntryKind::RefDelta(_))));
    let commands: Vec<(String, String, String)> = repo
        .refs()
        .into_iter()
        .map(|(name, id)| (ZERO.into(), id, name))
        .collect();
    let body = push_body(&commands, "report-status", &pack);
    assert_eq!(
        report_lines(&run_push(&store, &body, 65536).unwrap())[0],
        "unpack ok"
    );
    for (caps, ofs) in [(CAPS, true), ("side-band-64k", false)] {
        let (_, sent) = fetch(
            &store,
            &upload_request(&all_ref_ids(&repo), caps, &[], &[], true),
        );
        let kinds = entry_kinds(&sent);
        let deltas = kinds.iter().filter(|k| !matches!(k, EntryKind::Whole(_)));
        assert!(deltas.count() * 4 > kinds.len(), "{caps}: most stay deltas");
        let is_ofs = |k: &EntryKind| matches!(k, EntryKind::OfsDelta(_));
        assert_eq!(kinds.iter().any(is_ofs), ofs, "{caps}");
        let got = index(&Repo::new(), &sent);
        assert_eq!(got, objects_between(&repo, "--all", None), "{caps}");
    }
}

#[test]
fn a_full_clone_of_packs_that_overlap_sends_each_object_once() {
    // The second push sends a whole pack of objects already stored, with one new commit:
    // two stored packs hold the same objects, so they cannot be copied whole.
    let repo = history_repo();
    let (store, _db) = store(4096);
    let (lines, _) = push_all(&store, &repo, "report-status", 65536);
    assert_eq!(lines[0], "unpack ok");
    repo.git(&["checkout", "-q", "-b", "again"]);
    let again = repo.commit("again");
    let body = push_body(
        &[(ZERO.into(), again.clone(), "refs/heads/again".into())],
        "report-status",
        &repo.pack(&["again"], &[]),
    );
    assert_eq!(
        report_lines(&run_push(&store, &body, 65536).unwrap())[1],
        "ok refs/heads/again"
    );
    assert_eq!(store.packs().unwrap().len(), 2);
    let (_, pack) = fetch(
        &store,
        &upload_request(&all_ref_ids(&repo), CAPS, &[], &[], true),
    );
    let count = u32::from_be_bytes(pack[8..12].try_into().unwrap()) as usize;
    let got = index(&Repo::new(), &pack);
    assert_eq!(count, got.len(), "each object once");
    assert_eq!(got, objects_between(&repo, "--all", None));
}

#[test]
fn capabilities_on_a_later_want_count_as_git_counts_them() {
    // include-tag on the second want line only: git reads it there too.
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let topic = repo.git(&["rev-parse", "topic"]);
    let mut body = Vec::new();
    git_on_durable_objects::format::pktline::write_str(
        &mut body,
        &format!("want {main} multi_ack_detailed side-band-64k ofs-delta\n"),
    );
    git_on_durable_objects::format::pktline::write_str(
        &mut body,
        &format!("want {topic} include-tag\n"),
    );
    body.extend_from_slice(b"0000");
    git_on_durable_objects::format::pktline::write_str(&mut body, "done\n");
    let (_, pack) = fetch(&store, &body);
    let ours = index(&Repo::new(), &pack);
    assert!(
        ours.contains(&repo.git(&["rev-parse", "v1.0"])),
        "the tag came along"
    );
    let theirs = split_response(&git_upload_pack(&repo, &body)).unwrap().1;
    assert_eq!(ours, index(&Repo::new(), &theirs));
}

#[test]
fn wants_and_haves_are_taken_once_and_bounded() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let older = repo.git(&["rev-parse", "main~5"]);
    // A want named 10,000 times, and a have named as often, cost what one of each does.
    let body = upload_request(
        &vec![main.clone(); 10_000],
        CAPS,
        &[],
        &vec![older.clone(); 10_000],
        true,
    );
    let once = upload_request(
        std::slice::from_ref(&main),
        CAPS,
        &[],
        std::slice::from_ref(&older),
        true,
    );
    assert_eq!(fetch(&store, &body), fetch(&store, &once));
    // Over a limit, git's ERR line names it.
    let refusal = |limits: Limits| match git_on_durable_objects::http::backend::upload_pack(
        &store,
        body.clone(),
        false,
        None,
        &limits,
    ) {
        Ok(Answer::Negotiation(bytes)) => String::from_utf8(bytes).unwrap(),
        _ => panic!("not refused"),
    };
    let err = |text: &str| format!("{:04x}ERR upload-pack: {text}\n", text.len() + 22);
    let few_wants = Limits {
        wants: 0,
        ..Limits::default()
    };
    assert_eq!(
        refusal(few_wants),
        err("too many wants: over the limit of 0 (MAX_WANTS)")
    );
    let no_haves = Limits {
        haves: 0,
        ..Limits::default()
    };
    assert_eq!(
        refusal(no_haves),
        err("too many haves: over the limit of 0 (MAX_HAVES)")
    );
}

#[test]
fn a_root_at_the_depth_limit_is_shallow_and_deepening_skips_what_no_ref_reaches() {
    // One commit: `--depth 1` names it shallow, as git's get_shallow_commits does.
    let repo = Repo::new();
    repo.write("a.txt", b"one\n");
    let root = repo.commit("root");
    let (one, _db) = store(4096);
    push_all(&one, &repo, "report-status", 65536);
    let body = upload_request(
        std::slice::from_ref(&root),
        CAPS,
        &["deepen 1".into()],
        &[],
        true,
    );
    let (lines, _) = fetch(&one, &body);
    assert_eq!(
        shallow_lines(&lines, "shallow "),
        BTreeSet::from([root.clone()])
    );
    // Deepened, that root is shallow no more (git's NOT_SHALLOW), though it has no parent.
    let body = upload_request(
        std::slice::from_ref(&root),
        &format!("{CAPS} deepen-relative"),
        &[format!("shallow {root}"), "deepen 1".into()],
        std::slice::from_ref(&root),
        true,
    );
    let (lines, _) = fetch(&one, &body);
    assert_eq!(shallow_lines(&lines, "unshallow "), BTreeSet::from([root]));

    // c1..c4 on main, side forks at c2; the client is shallow at c4 and s1; side is then
    // deleted, and a deepen by 1 goes on below c4 only (git: shallow c3 and s1).
    let repo = Repo::new();
    let mut main = Vec::new();
    for n in 1..=4 {
        repo.write("m.txt", format!("{n}\n").as_bytes());
        main.push(repo.commit(&format!("c{n}")));
        if n == 2 {
            repo.git(&["branch", "side"]);
        }
    }
    repo.git(&["checkout", "-q", "side"]);
    repo.write("s.txt", b"side\n");
    let s1 = repo.commit("s1");
    let (store, _db) = store(4096);
    push_all(&store, &repo, "report-status delete-refs", 65536);
    let delete = push_body(
        &[(s1.clone(), ZERO.into(), "refs/heads/side".into())],
        "report-status delete-refs",
        &[],
    );
    run_push(&store, &delete, 4096).unwrap();
    let body = upload_request(
        std::slice::from_ref(&main[3]),
        &format!("{CAPS} deepen-relative"),
        &[
            format!("shallow {}", main[3]),
            format!("shallow {s1}"),
            "deepen 1".into(),
        ],
        &[main[3].clone(), s1.clone()],
        true,
    );
    let (lines, _) = fetch(&store, &body);
    assert_eq!(
        shallow_lines(&lines, "shallow "),
        BTreeSet::from([main[2].clone()])
    );
    // A client shallow at c4 that fetches a branch forked below it gets the branch's whole
    // history: what lies below its boundary is not taken as had.
    let push_side = push_body(
        &[(ZERO.into(), s1.clone(), "refs/heads/side".into())],
        "report-status",
        &repo.pack(&[&s1], &[]),
    );
    run_push(&store, &push_side, 4096).unwrap();
    let body = upload_request(
        std::slice::from_ref(&s1),
        CAPS,
        &[format!("shallow {}", main[3])],
        std::slice::from_ref(&main[3]),
        true,
    );
    let (_, pack) = fetch(&store, &body);
    let sent = index(&Repo::new(), &pack);
    for id in [&s1, &main[1], &main[0]] {
        assert!(sent.contains(id), "{id} not sent: {sent:?}");
    }
    assert_eq!(
        shallow_lines(&lines, "unshallow "),
        BTreeSet::from([main[3].clone()])
    );
}

#[test]
fn a_clone_reads_its_trees_in_the_order_stored_and_locates_them_together() {
    // Chunks of 256 bytes: the history's pack takes far more rows than the reader keeps.
    let (store, db) = store(256);
    let repo = history_repo();
    let (_, pack) = push_all(&store, &repo, "report-status", 65536);
    let chunks = pack.len().div_ceil(256) as u64;
    let body = upload_request(&all_ref_ids(&repo), CAPS, &[], &[], true);
    let request = upload_pack::parse_request(&body, &Limits::default()).unwrap();
    let (rows, chunks_before) = (db.rows().read, db.chunk_rows_read());
    let answer = upload_pack::serve(&store, request).unwrap();
    let read = db.chunk_rows_read() - chunks_before;
    let other = db.rows().read - rows - read;
    let (_, sent) = split_response(&answer_body(answer)).unwrap();
    assert_eq!(index(&Repo::new(), &sent), index(&Repo::new(), &pack));
    // Choosing what to send located the trees many at a time, reading each page of the
    // index once for all of them (a lookup per tree read 137 rows besides the chunks),
    // and read the commits and trees in the order stored, a pass over them per level of
    // trees (in rows of 1 MiB, git/git's history: 1,139 reads of its 303 rows, where a
    // walk tree by tree read 28,977).
    assert!(other <= 30, "{other} rows besides the pack's");
    assert!(read <= 2 * chunks, "{read} rows for {chunks} chunks");
}

/// A history of one file in a directory, pushed (as loose objects), and that directory's
/// tree.
fn pushed_directory() -> (Repo, Store<Db>, Db, String) {
    let repo = Repo::new();
    repo.write("dir/file", b"in a directory\n");
    repo.commit("one");
    let (store, db) = store(4096);
    push_all(&store, &repo, "report-status", 65536);
    let subtree = repo.git(&["rev-parse", "HEAD:dir"]);
    (repo, store, db, subtree)
}

/// What a clone of every ref of `repo` from `store` fails with.
fn clone_error(store: &Store<Db>, repo: &Repo) -> String {
    let body = upload_request(&all_ref_ids(repo), CAPS, &[], &[], true);
    let request = upload_pack::parse_request(&body, &Limits::default()).unwrap();
    let answer = upload_pack::serve(store, request);
    answer.err().unwrap().to_string()
}

#[test]
fn a_clone_of_a_store_that_lost_a_tree_says_which() {
    let (repo, store, db, subtree) = pushed_directory();
    for table in ["loose", "objects"] {
        let query = format!("DELETE FROM {table} WHERE oid = unhex(?)");
        db.exec(&query, vec![subtree.as_str().into()]).unwrap();
    }
    let error = clone_error(&store, &repo);
    assert!(error.contains(&format!("tree {subtree}")), "{error}");
}

#[test]
fn a_clone_of_a_store_whose_index_calls_a_tree_a_blob_says_so() {
    let (repo, store, db, subtree) = pushed_directory();
    // A push refuses a directory entry that names a blob (its links are checked by type),
    // so only a damaged store holds one.
    let query = "UPDATE objects SET type = ? WHERE oid = unhex(?)";
    let blob = (ObjectType::Blob as i64).into();
    db.exec(query, vec![blob, subtree.as_str().into()]).unwrap();
    assert_eq!(
        clone_error(&store, &repo),
        format!("{subtree} is not a tree")
    );
}

#[test]
fn a_blob_none_clone_of_deep_directories_reads_each_pack_row_about_once() {
    // Thousands of commits, each changing a file six directories down: more trees than a
    // walk locates at once, spread through the pack between the blobs.
    let repo = Repo::new();
    let mut stream = String::new();
    let mut seed = 1u64;
    for i in 0..3000u64 {
        let text: String = (0..40)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!("{:016x}", seed >> 1)
            })
            .collect();
        let path = format!(
            "a{}/b{}/c{}/d{}/e{}/g{}/f{}",
            i % 2,
            i % 3,
            i % 5,
            i % 7,
            i % 11,
            i % 13,
            i % 17
        );
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{}\ncommitter T <t@example.com> {} +0000\ndata 2\nc\nM 100644 inline {path}\ndata {}\n{text}\n",
            i + 1,
            1_700_000_000 + i * 60,
            text.len()
        ));
    }
    repo.git_with(&["fast-import", "--quiet"], stream.as_bytes());
    let (store, db) = store(32768);
    let (_, pack) = push_all(&store, &repo, "report-status", 65536);
    let chunks = pack.len().div_ceil(32768) as u64;
    let main = repo.git(&["rev-parse", "main"]);
    let body = upload_request(
        std::slice::from_ref(&main),
        CAPS,
        &["filter blob:none".into()],
        &[],
        true,
    );
    let request = upload_pack::parse_request(&body, &Limits::default()).unwrap();
    let before = db.chunk_rows_read();
    let answer = upload_pack::serve(&store, request).unwrap();
    let read = db.chunk_rows_read() - before;
    let (_, sent) = split_response(&answer_body(answer)).unwrap();
    let git = repo.git(&["rev-list", "--objects", "--filter=blob:none", "main"]);
    let expected: BTreeSet<String> = git.lines().map(|l| l[..40].to_string()).collect();
    assert_eq!(index(&Repo::new(), &sent), expected);
    // Choosing what to send located the trees the walk found before it left the row it
    // read, and read them while the rows that hold them were still kept: a pass over the
    // pack (75 reads of its 75 rows), where locating them only once the queue ran out took a
    // pass per level of directories (253 reads).
    assert!(
        read <= chunks + chunks / 4,
        "{read} rows for {chunks} chunks"
    );
}

/// A pack of more than `LONG_PACK` objects (a clone's) lets go of the pack rows the instance
/// kept once its last byte is made: a read after it fetches its row again. A fetch's short
/// pack leaves them to the requests that follow.
#[test]
fn a_long_pack_lets_go_of_the_rows_the_instance_kept_and_a_short_one_does_not() {
    use git_on_durable_objects::format::object::ObjectId;
    use git_on_durable_objects::pack_objects::LONG_PACK;
    let repo = Repo::new();
    let mut script = String::new();
    for n in 0..=LONG_PACK {
        let data = format!("blob {n}\n");
        script += &format!("blob\nmark :{}\ndata {}\n{data}\n", n + 1, data.len());
    }
    script += "commit refs/heads/main\ncommitter A <a@example.com> 1 +0000\ndata 3\none\n";
    for n in 0..=LONG_PACK {
        script += &format!("M 100644 :{} f{n}\n", n + 1);
    }
    script += "\ncommit refs/heads/main\ncommitter A <a@example.com> 2 +0000\ndata 3\ntwo\n";
    script += "M 100644 inline f0\ndata 4\nnew\n\n";
    repo.git_with(&["fast-import", "--quiet"], script.as_bytes());
    let (store, _db) = store(1 << 20);
    let (lines, _) = push_all(&store, &repo, "report-status", 65536);
    assert_eq!(lines[0], "unpack ok");
    let [tip, base] =
        ["main", "main~1"].map(|rev| repo.git(&["rev-parse", rev]).trim().to_string());
    let id = ObjectId::from_hex(tip.as_bytes()).unwrap();
    let read = || {
        let before = store.rows().read;
        let reader = git_on_durable_objects::store::ObjectReader::new(&store);
        let object = reader.read(&id).unwrap().expect("stored");
        assert_eq!(object.kind, ObjectType::Commit);
        store.rows().read - before
    };
    let fresh = read();
    let kept = read();
    assert!(
        kept < fresh,
        "the instance keeps its rows: {kept} read, {fresh} at first"
    );
    let (_, short) = fetch(
        &store,
        &upload_request(std::slice::from_ref(&tip), CAPS, &[], &[base], true),
    );
    assert_eq!(
        index(&repo, &short).len(),
        3,
        "the last commit, its tree and one blob"
    );
    assert_eq!(read(), kept, "a short pack leaves them");
    let (_, long) = fetch(&store, &upload_request(&[tip], CAPS, &[], &[], true));
    assert_eq!(index(&repo, &long).len() as u32, LONG_PACK + 6);
    assert_eq!(read(), fresh, "a long pack lets them go");
}
