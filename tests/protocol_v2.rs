//! Protocol v2 (`ls-refs`, `fetch`, `object-info`) and partial clone filters over the real
//! store schema on SQLite, each answer compared with what git's own `upload-pack` answers to
//! the same request from the same repository.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeSet;

use common::*;
use git_on_durable_objects::format::pktline::{self, Pkt};
use git_on_durable_objects::limits::Limits;
use git_on_durable_objects::store::Store;
use git_on_durable_objects::upload_pack;

/// What git's upload-pack needs to serve what we advertise.
const GIT_CONFIG: &[&str] = &[
    "-c",
    "uploadpack.allowFilter=true",
    "-c",
    "uploadpack.allowRefInWant=true",
    "-c",
    "uploadpack.allowSidebandAll=true",
    "-c",
    "transfer.advertiseObjectInfo=true",
];

fn pushed() -> (Repo, Store<Db>) {
    let repo = history_repo();
    let (store, _db) = store(4096);
    let (lines, _) = push_all(&store, &repo, "report-status", 65536);
    assert_eq!(lines[0], "unpack ok");
    (repo, store)
}

/// A v2 request: `command=<command>`, the client's capabilities, a delimiter, `args`, a flush.
fn request(command: &str, args: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    pktline::write_str(&mut out, &format!("command={command}\n"));
    pktline::write_str(&mut out, "agent=git/2.47.3\n");
    pktline::write_str(&mut out, "object-format=sha1\n");
    out.extend_from_slice(b"0001");
    for arg in args {
        pktline::write_str(&mut out, &format!("{arg}\n"));
    }
    out.extend_from_slice(pktline::FLUSH);
    out
}

/// Our answer to `body`, negotiation and pack, as sent.
fn ours(store: &Store<Db>, body: &[u8]) -> Vec<u8> {
    answer_body(upload_pack::serve_v2(store, body, &Limits::default()).unwrap())
}

/// What git's own upload-pack answers to `body` in protocol v2 over stateless HTTP.
fn theirs(repo: &Repo, body: &[u8]) -> Vec<u8> {
    let mut args = GIT_CONFIG.to_vec();
    args.extend(["upload-pack", "--stateless-rpc", "."]);
    repo.git_env(&[("GIT_PROTOCOL", "version=2")], &args, body)
}

/// The response's packets: text lines (newline and any side-band 1 prefix dropped), `0001`
/// and `0000`; the pack and progress are left out.
fn packets(body: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some((pkt, len)) = pktline::decode(&body[pos..]).unwrap() {
        pos += len;
        match pkt {
            Pkt::Flush => out.push("0000".into()),
            Pkt::Delim => out.push("0001".into()),
            Pkt::ResponseEnd => out.push("0002".into()),
            Pkt::Data(data) => match data.first() {
                Some(1)
                    if !data[1..].starts_with(b"PACK")
                        && out.last().map(String::as_str) != Some("packfile") =>
                {
                    out.push(String::from_utf8_lossy(&data[1..]).trim_end().into())
                }
                Some(1..=3) => {}
                _ => out.push(String::from_utf8_lossy(data).trim_end().into()),
            },
        }
    }
    out
}

/// The pack in a response: side-band 1 after the `packfile` line.
fn pack_of(body: &[u8]) -> Vec<u8> {
    let mut pack = Vec::new();
    let mut in_pack = false;
    let mut pos = 0;
    while let Some((pkt, len)) = pktline::decode(&body[pos..]).unwrap() {
        pos += len;
        if let Pkt::Data(data) = pkt {
            let line = data
                .strip_prefix(b"\x01")
                .filter(|_| !in_pack)
                .unwrap_or(data);
            match line {
                b"packfile\n" => in_pack = true,
                [1, rest @ ..] if in_pack => pack.extend_from_slice(rest),
                [3, rest @ ..] => panic!("{}", String::from_utf8_lossy(rest)),
                _ => {}
            }
        }
    }
    pack
}

/// The objects of the pack in a response, as git indexes them.
fn pack_objects(body: &[u8]) -> BTreeSet<String> {
    let pack = pack_of(body);
    if pack.is_empty() {
        return BTreeSet::new();
    }
    let indexed = show_index(&Repo::new(), &pack);
    indexed.into_iter().map(|(_, id)| id).collect()
}

#[test]
fn the_advertisement_is_gits_but_for_the_agent() {
    let repo = history_repo();
    let mut args = GIT_CONFIG.to_vec();
    args.extend(["upload-pack", "--advertise-refs", "--stateless-rpc", "."]);
    let theirs = repo.git_env(&[("GIT_PROTOCOL", "version=2")], &args, b"");
    let without_agent = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .filter(|l| !l.starts_with("agent="))
            .collect()
    };
    assert_eq!(
        without_agent(packets(&upload_pack::advertise_v2())),
        without_agent(packets(&theirs))
    );
    assert!(packets(&upload_pack::advertise_v2())
        .contains(&format!("agent={}", git_on_durable_objects::AGENT)));
}

#[test]
fn ls_refs_answers_as_git_does() {
    let (repo, store) = pushed();
    for args in [
        &[][..],
        &["peel", "symrefs"],
        &[
            "symrefs",
            "peel",
            "unborn",
            "ref-prefix HEAD",
            "ref-prefix refs/heads/",
            "ref-prefix refs/tags/",
        ],
        &["ref-prefix refs/heads/"],
        &["peel", "ref-prefix refs/tags/"],
        &[
            "ref-prefix refs/heads/ma",
            "ref-prefix refs/heads/main",
            "ref-prefix refs/tags/v1",
        ],
        &["ref-prefix refs/nothing/"],
        &[
            "ref-prefix main",
            "ref-prefix refs/main",
            "ref-prefix refs/tags/main",
            "ref-prefix refs/heads/main",
        ],
    ] {
        let body = request("ls-refs", args);
        assert_eq!(
            packets(&ours(&store, &body)),
            packets(&theirs(&repo, &body)),
            "{args:?}"
        );
    }
    // HEAD naming a branch that does not exist: `unborn` with `symrefs` says where it points.
    store.set_head_target("refs/heads/none").unwrap();
    repo.git(&["symbolic-ref", "HEAD", "refs/heads/none"]);
    for args in [&["symrefs", "unborn"][..], &["unborn"], &["symrefs"]] {
        let body = request("ls-refs", args);
        assert_eq!(
            packets(&ours(&store, &body)),
            packets(&theirs(&repo, &body)),
            "{args:?}"
        );
    }
}

/// The packets of a `fetch` answer, the lines of `wanted-refs` sorted: git lists them in the
/// order of a hash map.
fn fetch_packets(body: &[u8]) -> Vec<String> {
    let mut packets = packets(body);
    if let Some(start) = packets.iter().position(|p| p == "wanted-refs") {
        let end = start + packets[start..].iter().position(|p| p == "0001").unwrap();
        packets[start + 1..end].sort();
    }
    packets
}

/// Our answer and git's to a fetch with `args`: the same packets and the same objects.
fn same_fetch(repo: &Repo, store: &Store<Db>, args: &[&str]) -> BTreeSet<String> {
    let body = request("fetch", args);
    let (ours, theirs) = (ours(store, &body), theirs(repo, &body));
    assert_eq!(fetch_packets(&ours), fetch_packets(&theirs), "{args:?}");
    let objects = pack_objects(&ours);
    assert_eq!(objects, pack_objects(&theirs), "{args:?}");
    objects
}

#[test]
fn fetch_negotiates_as_git_does() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let old = repo.git(&["rev-parse", "main~3"]);
    let older = repo.git(&["rev-parse", "main~5"]);
    let unknown = "1111111111111111111111111111111111111111";
    let want = format!("want {main}");
    let (have_old, have_older) = (format!("have {old}"), format!("have {older}"));
    let have_unknown = format!("have {unknown}");
    // Nothing in common: NAK and a flush.
    same_fetch(&repo, &store, &[&want, &have_unknown]);
    // Enough in common: ACKs, ready, and the pack.
    same_fetch(
        &repo,
        &store,
        &[&want, &have_unknown, &have_old, &have_older, "ofs-delta"],
    );
    // The client waits for done: ACKs without ready.
    same_fetch(&repo, &store, &[&want, &have_old, "wait-for-done"]);
    // done: no acknowledgments, straight to the pack.
    same_fetch(&repo, &store, &[&want, &have_old, "done", "ofs-delta"]);
    // Every line in side-band 1.
    same_fetch(
        &repo,
        &store,
        &[&want, &have_old, "sideband-all", "no-progress"],
    );
    // No want: no answer at all.
    same_fetch(&repo, &store, &["done"]);
    same_fetch(&repo, &store, &[&have_old]);
}

#[test]
fn fetch_sends_what_git_sends() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let topic = repo.git(&["rev-parse", "topic"]);
    let old = repo.git(&["rev-parse", "main~3"]);
    let (want_main, want_topic) = (format!("want {main}"), format!("want {topic}"));
    let have_old = format!("have {old}");
    let full = same_fetch(
        &repo,
        &store,
        &[&want_main, &want_topic, "done", "ofs-delta"],
    );
    assert!(full.len() > 100);
    same_fetch(&repo, &store, &[&want_main, &have_old, "done"]);
    same_fetch(
        &repo,
        &store,
        &["want-ref refs/heads/topic", "want-ref HEAD", "done"],
    );
    same_fetch(
        &repo,
        &store,
        &[&want_main, "deepen 1", "done", "no-progress"],
    );
    same_fetch(
        &repo,
        &store,
        &[&want_main, "deepen 3", "deepen-relative", "done"],
    );
    same_fetch(&repo, &store, &[&want_main, "deepen-not v1.0", "done"]);
    same_fetch(
        &repo,
        &store,
        &[&want_main, "include-tag", "deepen 40", "done"],
    );
}

#[test]
fn filters_leave_out_what_git_leaves_out() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let want = format!("want {main}");
    let full = same_fetch(&repo, &store, &[&want, "done"]);
    let mut sizes = Vec::new();
    for spec in [
        "blob:none",
        "blob:limit=100",
        "blob:limit=1k",
        "tree:0",
        "tree:1",
        "tree:2",
        "object:type=blob",
        "object:type=tree",
        "object:type=commit",
        "combine:blob:none+tree:2",
        "combine:blob%3Alimit%3D200+object%3Atype%3Dblob",
    ] {
        let filter = format!("filter {spec}");
        let objects = same_fetch(&repo, &store, &[&want, &filter, "done"]);
        assert!(objects.len() < full.len(), "{spec}");
        sizes.push(objects.len());
    }
    assert!(
        sizes.iter().collect::<BTreeSet<_>>().len() > 6,
        "filters differ: {sizes:?}"
    );
    // What a lazy fetch after `clone --filter=blob:none` asks: blobs by id, no filter. A
    // filter never leaves out what is named in a want.
    let blobs: Vec<String> = repo
        .git(&["ls-tree", "-r", "--format=%(objectname)", "main"])
        .lines()
        .take(5)
        .map(|id| format!("want {id}"))
        .collect();
    let mut args: Vec<&str> = blobs.iter().map(String::as_str).collect();
    args.extend(["filter blob:none", "done"]);
    assert_eq!(same_fetch(&repo, &store, &args).len(), 5);
}

#[test]
fn refusals_are_err_lines_in_gits_words() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let want = format!("want {main}");
    let refused = |body: Vec<u8>| match upload_pack::serve_v2(&store, &body, &Limits::default()) {
        Err(upload_pack::Failure::Refused(message)) => message,
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("an answer"),
    };
    assert_eq!(
        refused(request("fetch", &["want-ref refs/heads/nothing", "done"])),
        "unknown ref refs/heads/nothing"
    );
    assert_eq!(
        refused(request(
            "fetch",
            &["want-ref HEAD", "want-ref HEAD", "done"]
        )),
        "duplicate want-ref HEAD"
    );
    assert_eq!(
        refused(request("fetch", &[&want, "filter blob:nothing", "done"])),
        "invalid filter-spec 'blob:nothing'"
    );
    assert_eq!(
        refused(request(
            "fetch",
            &[&want, "filter sparse:oid=main:.sparse", "done"]
        )),
        "filter 'sparse:oid' not supported"
    );
    assert_eq!(
        refused(request("fetch", &[&want, "packfile-uris https", "done"])),
        "unexpected line: 'packfile-uris https'"
    );
    assert_eq!(
        refused(request(
            "fetch",
            &["want 1111111111111111111111111111111111111111", "done"]
        )),
        "upload-pack: not our ref 1111111111111111111111111111111111111111"
    );
    assert_eq!(refused(request("push", &[])), "invalid command 'push'");
    assert_eq!(
        refused(request("ls-refs", &["bogus"])),
        "unexpected line: 'bogus'"
    );
    // A flush alone ends a session: no answer.
    assert!(ours(&store, pktline::FLUSH).is_empty());
}

#[test]
fn object_info_answers_as_git_does() {
    let (repo, store) = pushed();
    let blob = repo.git(&["rev-parse", "main:notes.txt"]);
    let tree = repo.git(&["rev-parse", "main^{tree}"]);
    let (blob, tree) = (format!("oid {blob}"), format!("oid {tree}"));
    let unknown = "oid 1111111111111111111111111111111111111111";
    for args in [&["size", &blob, &tree, unknown][..], &[&blob], &["size"]] {
        let body = request("object-info", args);
        assert_eq!(
            packets(&ours(&store, &body)),
            packets(&theirs(&repo, &body)),
            "{args:?}"
        );
    }
}

#[test]
fn filters_work_in_protocol_v0_too() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    for spec in ["blob:none", "tree:1", "blob:limit=1k"] {
        let filter = format!("filter {spec}");
        let body = upload_request(
            std::slice::from_ref(&main),
            "side-band-64k ofs-delta filter",
            &[filter],
            &[],
            true,
        );
        let request = upload_pack::parse_request(&body, &Limits::default()).unwrap();
        let response = answer_body(upload_pack::serve(&store, request).unwrap());
        let mut args = GIT_CONFIG.to_vec();
        args.extend(["upload-pack", "--stateless-rpc", "."]);
        let theirs = repo.git_with(&args, &body);
        let objects = |body: &[u8]| pack_objects_v0(&split_response(body).unwrap().1);
        assert_eq!(objects(&response), objects(&theirs), "{spec}");
    }
}

fn pack_objects_v0(pack: &[u8]) -> BTreeSet<String> {
    let mut framed = Vec::new();
    pktline::write_str(&mut framed, "packfile\n");
    for piece in pack.chunks(60000) {
        pktline::write(&mut framed, &[&[1u8][..], piece].concat());
    }
    pack_objects(&framed)
}

#[test]
fn a_thin_fetch_of_a_one_line_change_sends_a_delta_as_git_does() {
    let repo = Repo::new();
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!("line {i:05} of a large text file, long enough\n"));
    }
    repo.write("large.txt", text.as_bytes());
    let old = repo.commit("a 1 MB file");
    repo.write(
        "large.txt",
        text.replace("line 12345 ", "line 12345 changed ")
            .as_bytes(),
    );
    let new = repo.commit("one line changed");
    let (store, _db) = store(1 << 20);
    let (lines, _) = push_all(&store, &repo, "report-status", 1 << 20);
    assert_eq!(lines[0], "unpack ok");
    let (want, have) = (format!("want {new}"), format!("have {old}"));
    let body = request("fetch", &[&want, &have, "thin-pack", "ofs-delta", "done"]);
    let (thin, gits) = (
        pack_of(&ours(&store, &body)),
        pack_of(&theirs(&repo, &body)),
    );
    println!("thin pack: ours {} bytes, git's {}", thin.len(), gits.len());
    assert!(thin.len() < 1000, "a thin pack of {} bytes", thin.len());
    assert!(
        thin.len() < gits.len() * 2,
        "ours {} bytes, git's {}",
        thin.len(),
        gits.len()
    );
    // The client completes it with the base it has.
    let client = Repo::new();
    client.git_with(&["index-pack", "--stdin"], &repo.pack(&[&old], &[]));
    client.git_with(&["index-pack", "--stdin", "--fix-thin"], &thin);
    client.git(&["update-ref", "refs/heads/main", &new]);
    client.git(&["fsck", "--full", "--strict"]);
    // Without thin-pack, the new version goes whole.
    let body = request("fetch", &[&want, &have, "ofs-delta", "done"]);
    let whole = pack_of(&ours(&store, &body));
    assert!(whole.len() > 20 * thin.len(), "{} bytes", whole.len());
    // A size filter leaves the new version out, thin delta or not, as git does.
    let filtered = [
        &want[..],
        &have,
        "thin-pack",
        "filter blob:limit=1k",
        "done",
    ];
    let objects = same_fetch(&repo, &store, &filtered);
    let blob = repo.git(&["rev-parse", &format!("{new}:large.txt")]);
    assert!(
        !objects.is_empty() && !objects.contains(&blob),
        "{objects:?}"
    );
    // A filter that sends no blob reads nothing to find a blob's base: with thin-pack or
    // without, the same rows (each fetch on a store of its own, so no cache is shared).
    let rows = |args: &[&str]| {
        let (store, _db) = common::store(1 << 20);
        push_all(&store, &repo, "report-status", 1 << 20);
        let before = store.rows();
        ours(&store, &request("fetch", args));
        store.rows().since(before).read
    };
    assert_eq!(
        rows(&[&want, &have, "thin-pack", "filter blob:none", "done"]),
        rows(&[&want, &have, "filter blob:none", "done"])
    );
}

/// The progress text (side-band 2) of a response.
fn progress(body: &[u8]) -> String {
    let mut text = String::new();
    let mut pos = 0;
    while let Some((pkt, len)) = pktline::decode(&body[pos..]).unwrap() {
        pos += len;
        if let Pkt::Data([2, rest @ ..]) = pkt {
            text.push_str(&String::from_utf8_lossy(rest));
        }
    }
    text
}

#[test]
fn progress_is_shown_as_git_shows_it_unless_asked_not_to() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let old = repo.git(&["rev-parse", "main~3"]);
    let (want, have) = (format!("want {main}"), format!("have {old}"));
    let body = request("fetch", &[&want, &have, "done", "ofs-delta"]);
    let count = pack_objects(&ours(&store, &body)).len();
    let shown = progress(&ours(&store, &body));
    assert!(
        shown.starts_with(&format!(
            "Enumerating objects: {count}, done.\nCounting objects: 100% ({count}/{count}), done.\n"
        )),
        "{shown}"
    );
    assert!(shown.contains(&format!("Total {count} (delta ")), "{shown}");
    let body = request("fetch", &[&want, &have, "done", "no-progress"]);
    assert_eq!(progress(&ours(&store, &body)), "");
}

#[test]
fn shallow_info_comes_before_wanted_refs_as_git_fetch_pack_reads_them() {
    let (_, store) = pushed();
    let body = request("fetch", &["want-ref refs/heads/main", "deepen 1", "done"]);
    let answer = packets(&ours(&store, &body));
    let at = |name: &str| answer.iter().position(|p| p == name).unwrap();
    assert_eq!(answer[0], "shallow-info");
    assert!(at("shallow-info") < at("wanted-refs") && at("wanted-refs") < at("packfile"));
    assert_eq!(answer[at("wanted-refs") - 1], "0001");
    assert_eq!(answer[at("packfile") - 1], "0001");
}

#[test]
fn a_clone_of_a_long_history_learns_locations_in_bulk_and_sends_what_git_sends() {
    // Past 256 commits a walk without haves learns every object's location in one scan
    // (about a row each, where a query per object would read the same rows again); what it
    // sends must not change.
    let repo = Repo::new();
    let mut stream = String::new();
    for i in 0..300 {
        let text = format!("version {i}\n");
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{}\ncommitter T <t@example.com> {} +0000\ndata 2\nc\nM 100644 inline dir{}/f{}.txt\ndata {}\n{text}\n",
            i + 1,
            1_700_000_000 + i * 60,
            i % 3,
            i % 10,
            text.len()
        ));
    }
    repo.git_with(&["fast-import", "--quiet"], stream.as_bytes());
    let (store, _db) = store(4096);
    let (lines, _) = push_all(&store, &repo, "report-status", 65536);
    assert_eq!(lines[0], "unpack ok");
    let main = repo.git(&["rev-parse", "main"]);
    let want = format!("want {main}");
    let before = store.rows();
    let full = same_fetch(&repo, &store, &[&want, "done"]);
    let read = store.rows().since(before).read;
    assert!(full.len() > 900, "{}", full.len());
    assert!(
        read < full.len() as u64 * 3 / 2,
        "{read} rows read for {}",
        full.len()
    );
    same_fetch(&repo, &store, &[&want, "filter blob:none", "done"]);
}

#[test]
fn ls_refs_lists_thousands_of_refs_as_git_does() {
    // More refs than one page of the store's listing.
    let repo = history_repo();
    let main = repo.git(&["rev-parse", "main"]);
    let tag = repo.git(&["rev-parse", "v1.0"]);
    let mut commands = String::new();
    for i in 0..9000 {
        let id = if i % 7 == 0 { &tag } else { &main };
        let kind = if i % 7 == 0 { "tags" } else { "heads" };
        commands.push_str(&format!("create refs/{kind}/many/{:x}/{i} {id}\n", i % 16));
    }
    repo.git_with(&["update-ref", "--stdin"], commands.as_bytes());
    let (store, _db) = store(1 << 16);
    let (lines, _) = push_all(&store, &repo, "report-status", 1 << 16);
    assert_eq!(lines[0], "unpack ok");
    for args in [
        &["peel", "symrefs"][..],
        &["ref-prefix refs/heads/many/a/"],
        &["ref-prefix refs/tags/"],
    ] {
        let body = request("ls-refs", args);
        let ours = packets(&ours(&store, &body));
        assert_eq!(ours, packets(&theirs(&repo, &body)), "{args:?}");
    }
    assert!(packets(&ours(&store, &request("ls-refs", &[]))).len() > 9000);
}

#[test]
fn a_fetch_with_haves_among_thousands_of_branches_reads_only_the_tags_and_sends_what_git_sends() {
    // Such a fetch reads the tags only (maintenance.sh counts its rows under wrangler dev):
    // what include-tag sends must not change.
    let repo = history_repo();
    repo.git(&["tag", "-a", "-m", "new", "v-new", "main~1"]);
    let main = repo.git(&["rev-parse", "main"]);
    let old = repo.git(&["rev-parse", "main~3"]);
    let tag = repo.git(&["rev-parse", "v-new"]);
    let commands: String = (0..5000)
        .map(|i| format!("create refs/heads/many/{i} {old}\n"))
        .collect();
    repo.git_with(&["update-ref", "--stdin"], commands.as_bytes());
    let (store, _db) = store(1 << 16);
    let (lines, _) = push_all(&store, &repo, "report-status", 1 << 16);
    assert_eq!(lines[0], "unpack ok");
    let (want, have) = (format!("want {main}"), format!("have {old}"));
    let objects = same_fetch(
        &repo,
        &store,
        &[&want, &have, "done", "ofs-delta", "include-tag"],
    );
    assert!(objects.iter().any(|o| o.starts_with(&tag)), "{objects:?}");
    // want-ref: a few are looked up one by one, more among all the refs read at once.
    for count in [1, 65] {
        let mut args = vec!["want-ref refs/heads/main".to_string(), have.clone()];
        args.extend((0..count - 1).map(|i| format!("want-ref refs/heads/many/{i}")));
        args.extend(["done", "ofs-delta", "include-tag"].map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(
            same_fetch(&repo, &store, &args),
            objects,
            "{count} want-refs"
        );
    }
    // Without a have it may be a clone, which reads every ref, as git does; with a filter
    // it is not one of everything, and reads the tags.
    same_fetch(&repo, &store, &[&want, "done", "ofs-delta", "include-tag"]);
    let filtered = [
        &want,
        "filter blob:none",
        "done",
        "ofs-delta",
        "include-tag",
    ];
    same_fetch(&repo, &store, &filtered);
}

#[test]
fn past_too_many_prefixes_ls_refs_lists_every_ref_as_git_does_past_its_own() {
    let (repo, store) = pushed();
    // One more than the 256 taken.
    let many: Vec<String> = (0..257)
        .map(|i| format!("ref-prefix refs/none/{i}"))
        .collect();
    let mut args: Vec<&str> = many.iter().map(String::as_str).collect();
    let every = packets(&ours(&store, &request("ls-refs", &[])));
    assert_eq!(packets(&ours(&store, &request("ls-refs", &args))), every);
    // Up to the limit, the prefixes hold.
    args.truncate(256);
    assert_eq!(packets(&ours(&store, &request("ls-refs", &args))), ["0000"]);
    assert_eq!(
        packets(&theirs(&repo, &request("ls-refs", &args))),
        ["0000"]
    );
}

#[test]
fn lines_past_a_limit_are_refused_with_an_err_line() {
    let (repo, store) = pushed();
    let main = repo.git(&["rev-parse", "main"]);
    let limits = Limits {
        wants: 2,
        haves: 2,
        ..Limits::default()
    };
    let answer = |args: &[&str]| {
        let body = request(
            if args[0].starts_with("oid") {
                "object-info"
            } else {
                "fetch"
            },
            args,
        );
        match git_on_durable_objects::http::backend::upload_pack(
            &store,
            body,
            false,
            Some("version=2"),
            &limits,
        ) {
            Ok(answer) => String::from_utf8_lossy(&answer_body(answer)).into_owned(),
            Err(reply) => panic!("{}", reply.status),
        }
    };
    let want = format!("want {main}");
    let ids: Vec<String> = ["main", "main~1", "main~2"]
        .iter()
        .map(|rev| repo.git(&["rev-parse", rev]))
        .collect();
    let each =
        |prefix: &str| -> Vec<String> { ids.iter().map(|id| format!("{prefix} {id}")).collect() };
    let refs = ["refs/heads/main", "refs/heads/topic", "refs/tags/v1.0"];
    for (lines, what, var) in [
        (
            vec!["deepen-not v1.0".to_string(); 3],
            "too many deepen-not",
            "MAX_WANTS",
        ),
        (
            refs.iter().map(|r| format!("want-ref {r}")).collect(),
            "too many want-refs",
            "MAX_WANTS",
        ),
        (each("shallow"), "too many shallow lines", "MAX_HAVES"),
        (each("oid"), "too many oids", "MAX_WANTS"),
    ] {
        let refused = format!("ERR upload-pack: {what}: over the limit of 2 ({var})");
        let mut args: Vec<&str> = lines.iter().map(String::as_str).collect();
        if !args[0].starts_with("oid") {
            args.insert(0, &want);
        }
        assert!(answer(&args).contains(&refused), "{what}");
        args.pop();
        assert!(!answer(&args).contains("ERR"), "{what}");
    }
}

#[test]
fn include_tag_sends_a_tag_only_with_its_target_as_git_does() {
    // git's include-tag adds a tag whose target is in the pack: under `blob:none`, a tag of a
    // blob the trees name is left out with its blob, and a tag of a tree still comes (ours
    // sent the tag of the blob without the blob).
    let repo = Repo::new();
    repo.write("dir/file", b"tagged\n");
    repo.commit("one");
    repo.git(&["tag", "-a", "-m", "a blob", "blob-tag", "HEAD:dir/file"]);
    repo.git(&["tag", "-a", "-m", "a tree", "tree-tag", "HEAD:dir"]);
    repo.git(&["tag", "-a", "-m", "a commit", "commit-tag", "HEAD"]);
    let (store, _db) = store(4096);
    let (lines, _) = push_all(&store, &repo, "report-status", 65536);
    assert_eq!(lines[0], "unpack ok");
    let main = repo.git(&["rev-parse", "main"]);
    let want = format!("want {main}");
    let tag = |name: &str| repo.git(&["rev-parse", name]);
    let all = same_fetch(&repo, &store, &[&want, "include-tag", "done"]);
    assert!(all.contains(&tag("blob-tag")) && all.contains(&tag("tree-tag")));
    for filter in [
        "filter blob:none",
        "filter blob:limit=0",
        "filter object:type=tree",
    ] {
        let filtered = same_fetch(&repo, &store, &[&want, "include-tag", filter, "done"]);
        assert!(!filtered.contains(&tag("blob-tag")), "{filter}");
    }
    // A wanted commit is sent whatever the filter, and its tag with it; a blob the size
    // filter keeps, with its tag.
    same_fetch(
        &repo,
        &store,
        &[&want, "include-tag", "filter object:type=blob", "done"],
    );
    let small = same_fetch(
        &repo,
        &store,
        &[&want, "include-tag", "filter blob:limit=1k", "done"],
    );
    assert!(small.contains(&tag("blob-tag")));
    let trees = same_fetch(
        &repo,
        &store,
        &[&want, "include-tag", "filter blob:none", "done"],
    );
    assert!(trees.contains(&tag("tree-tag")));
}
