//! The read endpoints over the real store schema on SQLite, each compared with what git says
//! of the same repository: `for-each-ref`, `log` (with and without a path, through the
//! cursor's pages), `ls-tree -l`, `diff --raw` and `cat-file`. The history has what git's
//! walk is particular about: merges, commits made in the same second, a committer clock
//! that went back, changes of type and mode, and a file that becomes a directory.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use git_on_durable_objects::browse::log::{Log, Window};
use git_on_durable_objects::browse::{blob, rev_parse, BrowseError};
use git_on_durable_objects::format::object::{self, ObjectId, ObjectType};
use git_on_durable_objects::http::api::{self, raw, read, Context, Request};
use git_on_durable_objects::http::backend::Method;
use git_on_durable_objects::http::reply::{Body, Caching, Reply};
use git_on_durable_objects::http::route::{self, Endpoint};
use git_on_durable_objects::maintenance::Host;
use git_on_durable_objects::store::{Store, MAX_STEPS};
use serde_json::Value as Json;

const CAPS: &str = "report-status delete-refs ofs-delta agent=test";

/// Answers `GET <path>` (under a repository, query included) with these request headers.
fn get_with(store: &Store<Db>, path_and_query: &str, conditions: raw::Conditions) -> Reply {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let Endpoint::Api(api) = route::parse(&format!("/o/r.git/{path}")).unwrap().endpoint else {
        panic!("{path} is not an API endpoint")
    };
    let now_ms = || 0;
    let context = Context {
        now: 0,
        random: [0; 40],
        host: Host {
            now_ms: &now_ms,
            memory: &|| None,
        },
        grace: 0,
        repo: "o/r",
        mirror_interval: 60,
        base_url: "https://git.example",
    };
    let request = Request {
        method: Method::Get,
        api: &api,
        body: b"",
        query: read::Query {
            query,
            private: false,
        },
        conditions,
    };
    api::serve(store, &request, &context).unwrap()
}

fn get(store: &Store<Db>, path_and_query: &str) -> Reply {
    get_with(store, path_and_query, raw::Conditions::default())
}

/// A JSON answer of status 200.
fn json(store: &Store<Db>, path_and_query: &str) -> Json {
    let reply = get(store, path_and_query);
    let Body::Bytes(bytes) = &reply.body else {
        panic!("bytes, not {:?}", reply.body)
    };
    assert_eq!(
        reply.status,
        200,
        "{path_and_query}: {}",
        String::from_utf8_lossy(bytes)
    );
    assert_eq!(reply.content_type, "application/json");
    serde_json::from_slice(bytes).unwrap()
}

/// A refusal: its status and its `error`.
fn refusal(store: &Store<Db>, path_and_query: &str) -> (u16, String) {
    let reply = get(store, path_and_query);
    let Body::Bytes(bytes) = &reply.body else {
        panic!("bytes")
    };
    let error: Json = serde_json::from_slice(bytes).unwrap();
    (reply.status, error["error"].as_str().unwrap().to_string())
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

/// Runs git at a fixed time (commits made at one time tie in git's walk).
fn git_at(repo: &Repo, time: u32, args: &[&str]) -> String {
    let date = format!("{time} +0100");
    let env = [
        ("GIT_AUTHOR_DATE", date.as_str()),
        ("GIT_COMMITTER_DATE", date.as_str()),
    ];
    String::from_utf8(repo.git_env(&env, args, b""))
        .unwrap()
        .trim_end()
        .to_string()
}

fn commit_at(repo: &Repo, time: u32, message: &str) -> String {
    repo.git(&["add", "-A"]);
    git_at(
        repo,
        time,
        &["commit", "-q", "--allow-empty", "-m", message],
    );
    repo.git(&["rev-parse", "HEAD"])
}

/// A history with everything git's log and diff are particular about.
fn tangled() -> Repo {
    let repo = Repo::new();
    const T: u32 = 1_700_000_000;
    repo.write("a.txt", b"a\n");
    repo.write("dir/b.txt", b"b\n");
    repo.write("dir/sub/c.txt", b"c\n");
    repo.write("exe", b"#!/bin/sh\n");
    repo.write("gone", b"soon a directory\n");
    commit_at(&repo, T, "root");
    // Three commits in the same second on main, two on a side branch made in it too.
    repo.write("a.txt", b"a2\n");
    commit_at(&repo, T + 10, "main one");
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("dir/b.txt", b"b on side\n");
    commit_at(&repo, T + 10, "side one");
    repo.write("side.txt", b"side\n");
    commit_at(&repo, T + 10, "side two");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("dir/sub/c.txt", b"c2\n");
    commit_at(&repo, T + 10, "main two");
    git_at(
        &repo,
        T + 20,
        &["merge", "-q", "--no-ff", "-m", "merge side", "side"],
    );
    // A branch that does not touch dir/b.txt, merged: TREESAME for that path.
    repo.git(&["checkout", "-q", "-b", "other", "HEAD~1"]);
    repo.write("other.txt", b"other\n");
    commit_at(&repo, T + 30, "other");
    repo.git(&["checkout", "-q", "main"]);
    git_at(
        &repo,
        T + 40,
        &["merge", "-q", "--no-ff", "-m", "merge other", "other"],
    );
    // A committer clock that went back, a mode change, a file that becomes a symlink and one
    // that becomes a directory.
    std::fs::set_permissions(
        repo.path().join("exe"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    commit_at(&repo, T + 5, "skewed clock, executable");
    std::fs::remove_file(repo.path().join("a.txt")).unwrap();
    std::os::unix::fs::symlink("dir/b.txt", repo.path().join("a.txt")).unwrap();
    std::fs::remove_file(repo.path().join("gone")).unwrap();
    repo.write("gone/inside.txt", b"now a directory\n");
    repo.write("dir/b.txt", b"b again\n");
    commit_at(&repo, T + 50, "types change");
    git_at(&repo, T + 60, &["tag", "-a", "-m", "release", "v1"]);
    // The last entry of the root goes: a diff ends on a deletion.
    std::fs::remove_file(repo.path().join("side.txt")).unwrap();
    commit_at(&repo, T + 70, "the last entry goes");
    repo.git(&["tag", "light", "side"]);
    repo
}

fn pushed(repo: &Repo) -> Store<Db> {
    let (store, _db) = store(4096);
    let (report, _) = push_all(&store, repo, CAPS, 4096);
    assert!(report.iter().all(|l| !l.starts_with("ng")), "{report:?}");
    store
}

fn oids(commits: &Json) -> Vec<String> {
    commits
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["oid"].as_str().unwrap().to_string())
        .collect()
}

/// Every commit of `api/commits` for `query`, page by page.
fn all_pages(store: &Store<Db>, query: &str) -> Vec<String> {
    let mut shown = Vec::new();
    let mut page = json(store, &format!("api/commits?{query}"));
    loop {
        shown.extend(oids(&page["commits"]));
        let Some(next) = page["next"].as_str() else {
            return shown;
        };
        page = json(store, &format!("api/commits?{query}&cursor={next}"));
    }
}

#[test]
fn refs_are_what_for_each_ref_says() {
    let repo = tangled();
    let store = pushed(&repo);
    let expected = repo.git(&[
        "for-each-ref",
        "--format=%(refname) %(objectname) %(*objectname)",
    ]);
    let listed = json(&store, "api/refs");
    assert_eq!(listed["head"], "refs/heads/main");
    let shown: Vec<String> = listed["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let peeled = r["peeled"].as_str().unwrap_or("");
            let line = format!(
                "{} {} {peeled}",
                r["name"].as_str().unwrap(),
                r["oid"].as_str().unwrap()
            );
            line.trim_end().to_string()
        })
        .collect();
    let expected: Vec<&str> = expected.lines().map(str::trim_end).collect();
    assert_eq!(shown, expected);
    let tags = json(&store, "api/refs?prefix=refs%2Ftags%2F");
    assert_eq!(tags["refs"].as_array().unwrap().len(), 2);
}

#[test]
fn commits_are_git_logs_order_through_every_page() {
    let repo = tangled();
    let store = pushed(&repo);
    for rev in ["main", "side", "other", "v1", "HEAD"] {
        let expected = lines(&repo.git(&["log", "--format=%H", rev]));
        assert_eq!(
            all_pages(&store, &format!("ref={rev}&limit=1000")),
            expected,
            "{rev}"
        );
        assert_eq!(
            all_pages(&store, &format!("ref={rev}&limit=2")),
            expected,
            "{rev}"
        );
    }
    for path in [
        "dir/b.txt",
        "dir",
        "dir/sub/c.txt",
        "a.txt",
        "gone",
        "gone/inside.txt",
        "exe",
        "nothing",
    ] {
        let expected = lines(&repo.git(&["log", "--format=%H", "main", "--", path]));
        let query = format!("ref=main&path={path}");
        assert_eq!(
            all_pages(&store, &format!("{query}&limit=1000")),
            expected,
            "{path}"
        );
        assert_eq!(
            all_pages(&store, &format!("{query}&limit=1")),
            expected,
            "{path}"
        );
    }
}

#[test]
fn a_commit_is_what_git_shows() {
    let repo = tangled();
    let store = pushed(&repo);
    for rev in ["main", "main~1", "main~2", "main~3", "side", "side~2"] {
        let id = repo.git(&["rev-parse", rev]);
        let shown = json(&store, &format!("api/commit/{id}"));
        let format = "%H%n%T%n%P%n%an%n%ae%n%aI%n%cn%n%ce%n%cI";
        let fields = lines(&repo.git(&["log", "-1", &format!("--format={format}"), &id]));
        let parents: Vec<&str> = shown["parents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        let actual = [
            shown["oid"].as_str().unwrap().to_string(),
            shown["tree"].as_str().unwrap().to_string(),
            parents.join(" "),
            shown["author"]["name"].as_str().unwrap().to_string(),
            shown["author"]["email"].as_str().unwrap().to_string(),
            shown["author"]["date"].as_str().unwrap().to_string(),
            shown["committer"]["name"].as_str().unwrap().to_string(),
            shown["committer"]["email"].as_str().unwrap().to_string(),
            shown["committer"]["date"].as_str().unwrap().to_string(),
        ];
        assert_eq!(actual.to_vec(), fields, "{rev}");
        let object = repo.git_with(&["cat-file", "commit", &id], b"");
        let message = &object[object.windows(2).position(|w| w == b"\n\n").unwrap() + 2..];
        assert_eq!(shown["message"].as_str().unwrap().as_bytes(), message);
        // Its files: what it changed from its first parent.
        let base = match parents.first() {
            Some(parent) => parent.to_string(),
            None => "4b825dc642cb6eb9a060e54bf8d69288fbee4904".to_string(),
        };
        assert_eq!(files(&shown["files"]), raw_diff(&repo, &base, &id), "{rev}");
    }
    // Any revision names a commit; full ids are cached for ever.
    assert_eq!(
        json(&store, "api/commit/v1")["oid"],
        repo.git(&["rev-parse", "v1^{commit}"])
    );
    let full = repo.git(&["rev-parse", "main"]);
    assert_eq!(
        get(&store, &format!("api/commit/{full}")).caching,
        Caching::Forever
    );
    assert_eq!(get(&store, "api/commit/main").caching, Caching::NoCache);
}

/// `files` as the lines of `git diff --raw --no-abbrev`.
fn files(files: &Json) -> Vec<String> {
    files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let field = |name: &str| f[name].as_str().unwrap().to_string();
            format!(
                ":{} {} {} {} {}\t{}",
                field("old_mode"),
                field("new_mode"),
                field("old_oid"),
                field("new_oid"),
                field("status"),
                field("path")
            )
        })
        .collect()
}

fn raw_diff(repo: &Repo, from: &str, to: &str) -> Vec<String> {
    let diff = repo.git(&["diff", "--raw", "--no-abbrev", "--no-renames", from, to]);
    lines(&diff)
}

#[test]
fn compare_is_git_diff_and_git_log() {
    let repo = tangled();
    let store = pushed(&repo);
    for (base, head) in [
        ("side", "main"),
        ("main~3", "main"),
        ("other", "side"),
        ("main", "side"),
        ("v1", "main"),
    ] {
        let shown = json(&store, &format!("api/compare/{base}...{head}"));
        let expected = lines(&repo.git(&["log", "--format=%H", &format!("{base}..{head}")]));
        assert_eq!(oids(&shown["commits"]), expected, "{base}..{head}");
        let diff = repo.git(&[
            "diff",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            &format!("{base}...{head}"),
        ]);
        assert_eq!(files(&shown["files"]), lines(&diff), "{base}...{head}");
        let merge_base = repo.git(&["merge-base", base, head]);
        assert_eq!(shown["merge_base"], merge_base.as_str());
        assert_eq!(shown["truncated"], false);
    }
    let (status, error) = refusal(&store, "api/compare/main..side");
    assert_eq!(
        (status, error.as_str()),
        (
            400,
            "bad comparison \"main..side\": expected <base>...<head>"
        )
    );
}

#[test]
fn trees_are_what_ls_tree_lists() {
    let repo = tangled();
    let store = pushed(&repo);
    for (rev, path) in [
        ("main", ""),
        ("main", "dir"),
        ("main", "dir/sub/"),
        ("side", "dir"),
        ("v1", "gone"),
    ] {
        let spec = match path {
            "" => rev.to_string(),
            path => format!("{rev}:{}", path.trim_end_matches('/')),
        };
        let expected = repo.git(&["ls-tree", "-l", "--full-tree", &spec]);
        let shown = json(&store, &format!("api/tree/{rev}/{path}"));
        let listed: Vec<String> = shown["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let size = e["size"]
                    .as_u64()
                    .map_or("-".to_string(), |s| s.to_string());
                format!(
                    "{} {} {} {size:>7}\t{}",
                    e["mode"].as_str().unwrap(),
                    e["type"].as_str().unwrap(),
                    e["oid"].as_str().unwrap(),
                    e["name"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(listed, lines(&expected), "{rev} {path}");
        let tree = match path {
            "" => format!("{rev}^{{tree}}"),
            _ => spec,
        };
        assert_eq!(shown["oid"], repo.git(&["rev-parse", &tree]).as_str());
    }
    // A ref with a slash in its name.
    repo.git(&["branch", "feature/x", "side"]);
    let store = pushed(&repo);
    let shown = json(&store, "api/tree/feature/x/dir");
    assert_eq!(shown["oid"], repo.git(&["rev-parse", "side:dir"]).as_str());
    assert_eq!(
        refusal(&store, "api/tree/main/nothing"),
        (404, "path not found: nothing".into())
    );
    assert_eq!(
        refusal(&store, "api/tree/nothing/dir"),
        (404, "unknown revision: nothing".into())
    );
    assert_eq!(refusal(&store, "api/tree/main/exe").0, 400);
}

/// The bytes of a raw answer, read as the host streams them.
fn raw_bytes(store: &Store<Db>, reply: &Reply) -> Vec<u8> {
    let Body::Blob {
        id,
        size,
        start,
        end,
    } = reply.body
    else {
        panic!("a blob, not {:?}", reply.body)
    };
    let pieces = blob::pieces(store, &id, size, start..end).unwrap();
    pieces.map(Result::unwrap).collect::<Vec<_>>().concat()
}

#[test]
fn raw_files_are_byte_identical_in_whole_and_in_part() {
    let repo = tangled();
    // Larger than is held in memory: streamed through a scratch file.
    let big: Vec<u8> = (0..9_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    repo.write("big.bin", &big);
    repo.write("docs/read me.md", b"# spaces\n");
    commit_at(&repo, 1_700_001_000, "big");
    let mut edited = big.clone();
    edited[4_000_000..4_000_010].copy_from_slice(b"an edit...");
    repo.write("big.bin", &edited);
    commit_at(&repo, 1_700_002_000, "big, edited");
    let store = pushed(&repo);
    // One of the versions is stored as a delta: read back through a scratch file, not
    // inflated as it streams.
    let pack = repo.pack(&["--all"], &[]);
    std::fs::write(repo.path().join("all.pack"), &pack).unwrap();
    repo.git(&["index-pack", "all.pack"]);
    let listed = repo.git(&["verify-pack", "-v", "all.idx"]);
    let versions = [
        repo.git(&["rev-parse", "main~1:big.bin"]),
        repo.git(&["rev-parse", "main:big.bin"]),
    ];
    let deltas = listed
        .lines()
        .filter(|line| versions.iter().any(|v| line.starts_with(v.as_str())))
        .filter(|line| line.split_whitespace().count() == 7)
        .count();
    assert_eq!(deltas, 1, "{listed}");
    let older = get(&store, "api/raw/main~1/big.bin");
    assert_eq!(raw_bytes(&store, &older), big);
    let newer = get(&store, "api/raw/main/big.bin");
    assert_eq!(raw_bytes(&store, &newer), edited);
    let (big, older_content) = (edited, big);
    let id = repo.git(&["rev-parse", "main:big.bin"]);
    let reply = get(&store, "api/raw/main/big.bin");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "application/octet-stream");
    assert!(reply.headers.contains(&("ETag", format!("\"{id}\""))));
    assert_eq!(raw_bytes(&store, &reply), big);
    // A range of each version, one inflated as it streams, the other read back in rows.
    for (rev, content) in [("main", &big), ("main~1", &older_content)] {
        let ranged = get_with(
            &store,
            &format!("api/raw/{rev}/big.bin"),
            raw::Conditions {
                range: Some("bytes=3999990-8388700"),
                if_none_match: None,
            },
        );
        assert_eq!(ranged.status, 206);
        assert_eq!(raw_bytes(&store, &ranged), &content[3_999_990..=8_388_700]);
    }
    // Each version streams in pieces of about 256 KiB (the last zlib output past that
    // included), never all at once.
    for content in [&big, &older_content] {
        let id = object::hash(ObjectType::Blob, content);
        let size = content.len() as u64;
        let pieces: Vec<Vec<u8>> = blob::pieces(&store, &id, size, 0..size)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(pieces.concat(), *content);
        let largest = pieces.iter().map(Vec::len).max().unwrap();
        assert!(
            pieces.len() >= 27 && largest <= 320 << 10,
            "{} pieces, {largest}",
            pieces.len()
        );
    }
    // Small files are held; names are %-decoded; text is typed as text.
    let readme = get(&store, "api/raw/main/docs/read%20me.md");
    assert_eq!(readme.content_type, "text/plain; charset=utf-8");
    assert_eq!(raw_bytes(&store, &readme), b"# spaces\n");
    let symlink = get(&store, "api/raw/main/a.txt");
    assert_eq!(
        raw_bytes(&store, &symlink),
        repo.git_with(&["cat-file", "blob", "main:a.txt"], b"")
    );
    // Revalidation, and caching by the kind of revision named.
    let unchanged = get_with(
        &store,
        "api/raw/main/big.bin",
        raw::Conditions {
            range: None,
            if_none_match: Some(&format!("\"{id}\"")),
        },
    );
    assert_eq!(unchanged.status, 304);
    assert_eq!(reply.caching, Caching::NoCache);
    let full = repo.git(&["rev-parse", "main"]);
    assert_eq!(
        get(&store, &format!("api/raw/{full}/big.bin")).caching,
        Caching::Forever
    );
    assert_eq!(refusal(&store, "api/raw/main/dir").0, 400);
    assert_eq!(refusal(&store, "api/raw/main/none").0, 404);
}

#[test]
fn refusals_say_why() {
    let repo = tangled();
    let store = pushed(&repo);
    assert_eq!(
        refusal(&store, "api/commits?ref=nope"),
        (404, "unknown revision: nope".into())
    );
    assert_eq!(refusal(&store, "api/commits?limit=0").0, 400);
    assert_eq!(refusal(&store, "api/commits?limit=x").0, 400);
    assert_eq!(refusal(&store, "api/commits?cursor=zz").0, 400);
    let tree = repo.git(&["rev-parse", "main^{tree}"]);
    assert_eq!(
        refusal(&store, &format!("api/commits?ref={tree}")),
        (400, format!("object {tree} is a tree, not a commit"))
    );
    // Abbreviated ids work as in git.
    let id = repo.git(&["rev-parse", "side"]);
    assert_eq!(
        json(&store, &format!("api/commit/{}", &id[..10]))["oid"],
        id.as_str()
    );
    assert_eq!(ObjectId::from_hex(id.as_bytes()).unwrap().to_hex(), id);
}

#[test]
fn answers_keep_to_their_budgets() {
    let repo = Repo::new();
    // Messages of 3 MB: a page ends once 8 MiB of them are in it, with a cursor to the rest.
    let message = "m".repeat(3 << 20);
    for n in 0..5 {
        repo.write("n.txt", n.to_string().as_bytes());
        repo.git(&["add", "-A"]);
        repo.git_with(&["commit", "-q", "-F", "-"], message.as_bytes());
    }
    // A directory of more entries than one answer lists.
    let blob = repo.git_with(&["hash-object", "-w", "--stdin"], b"same\n");
    let blob = String::from_utf8(blob).unwrap();
    // A directory of 10,001 files, and one of exactly the 10,000 a listing holds.
    let tree_of = |files: usize| {
        let listing: String = (0..files)
            .map(|n| format!("100644 blob {}\tf{n:05}\n", blob.trim()))
            .collect();
        let tree = repo.git_with(&["mktree"], listing.as_bytes());
        String::from_utf8(tree).unwrap().trim().to_string()
    };
    let (wide, full) = (tree_of(10_001), tree_of(10_000));
    let root = repo.git_with(
        &["mktree"],
        format!("040000 tree {full}\tfull\n040000 tree {wide}\twide\n").as_bytes(),
    );
    let root = String::from_utf8(root).unwrap();
    let head = repo.git(&["commit-tree", root.trim(), "-p", "HEAD", "-m", "wide"]);
    repo.git(&["update-ref", "refs/heads/main", &head]);
    let store = pushed(&repo);

    let first = json(&store, "api/commits?ref=main~1&limit=10");
    assert_eq!(first["commits"].as_array().unwrap().len(), 3);
    assert!(first["next"].is_string());
    let expected = lines(&repo.git(&["log", "--format=%H", "main~1"]));
    assert_eq!(all_pages(&store, "ref=main~1&limit=10"), expected);
    // main~5..main: the wide commit's short message, then three of the four long ones.
    let compare = json(&store, "api/compare/main~5...main");
    assert_eq!(compare["truncated"], true);
    assert_eq!(compare["commits"].as_array().unwrap().len(), 4);
    // main~5..main~1: cut by its messages alone (one file changed, four commits).
    let by_messages = json(&store, "api/compare/main~5...main~1");
    assert_eq!(by_messages["files"].as_array().unwrap().len(), 1);
    assert_eq!(by_messages["commits"].as_array().unwrap().len(), 3);
    assert_eq!(by_messages["truncated"], true);

    let tree = json(&store, "api/tree/main/wide");
    assert_eq!(tree["entries"].as_array().unwrap().len(), 10_000);
    assert_eq!(tree["truncated"], true);
    let exact = json(&store, "api/tree/main/full");
    assert_eq!(exact["entries"].as_array().unwrap().len(), 10_000);
    assert_eq!(exact["truncated"], false);
    assert_eq!(json(&store, "api/tree/main")["truncated"], false);
    let commit = json(&store, "api/commit/main");
    assert_eq!(commit["files"].as_array().unwrap().len(), 10_000);
    assert_eq!(commit["truncated"], true);
}

#[test]
fn pages_hold_limit_commits_and_comparisons_say_when_cut() {
    let repo = tangled();
    let store = pushed(&repo);
    let expected = lines(&repo.git(&["log", "--format=%H", "main"]));
    let mut query = "api/commits?ref=main&limit=3".to_string();
    let pages: Vec<&[String]> = expected.chunks(3).collect();
    for (at, page) in pages.iter().enumerate() {
        let shown = json(&store, &query);
        assert_eq!(oids(&shown["commits"]), *page);
        // Every page but the last names the next; the last names none.
        match shown["next"].as_str() {
            Some(next) if at + 1 < pages.len() => {
                query = format!("api/commits?ref=main&limit=3&cursor={next}")
            }
            next => assert_eq!((next, at + 1), (None, pages.len())),
        }
    }
    let range = lines(&repo.git(&["log", "--format=%H", "side~2..main"]));
    let n = range.len();
    let whole = json(&store, &format!("api/compare/side~2...main?limit={n}"));
    assert_eq!(
        (oids(&whole["commits"]), &whole["truncated"]),
        (range.clone(), &Json::Bool(false))
    );
    let cut = json(
        &store,
        &format!("api/compare/side~2...main?limit={}", n - 1),
    );
    assert_eq!(
        (oids(&cut["commits"]), &cut["truncated"]),
        (range[..n - 1].to_vec(), &Json::Bool(true))
    );
}

#[test]
fn revisions_resolve_as_git_rev_parse_resolves_them() {
    let repo = tangled();
    let store = pushed(&repo);
    let reader = git_on_durable_objects::store::ObjectReader::new(&store);
    let full = repo.git(&["rev-parse", "main~3"]);
    let short = full.split_at(10).0.to_string();
    let revs = [
        "HEAD",
        "main",
        "main^",
        "main^0",
        "main^1",
        "main^2",
        "main~3^2",
        "main~3^2~1",
        "main~3^^2",
        "main~1^^",
        "v1",
        "v1^0",
        "v1~1",
        "light",
        "light^",
        "side~1",
        "tags/v1",
        "heads/side",
        "refs/heads/other",
        &full,
        &short,
        "main~100",
        "main^3",
        "nosuch",
        "deadbeef",
    ];
    for rev in revs {
        let theirs = repo.try_git(&["rev-parse", "--verify", "-q", rev]);
        let ours = rev_parse::resolve(&reader, rev);
        match (theirs, ours) {
            (Some(theirs), Ok(ours)) => assert_eq!(ours.to_string(), theirs, "{rev}"),
            (None, Err(_)) => {}
            (theirs, ours) => panic!("{rev}: git {theirs:?}, ours {ours:?}"),
        }
    }
    // An abbreviation no object has is unknown, not ambiguous.
    assert!(matches!(
        rev_parse::resolve(&reader, "deadbeef"),
        Err(BrowseError::NotFound(_))
    ));
}

#[test]
fn walks_keep_to_their_budget() {
    let repo = tangled();
    let store = pushed(&repo);
    let reader = git_on_durable_objects::store::ObjectReader::new(&store);
    let main = rev_parse::commit(&reader, "main").unwrap();
    let side = rev_parse::commit(&reader, "side~2").unwrap();
    let all = repo
        .git(&["rev-list", "--count", "main"])
        .parse::<u64>()
        .unwrap();
    let window = Window {
        skip: 0,
        limit: 1000,
    };
    // The whole history fits a budget of its size, not one less.
    assert_eq!(
        Log::new(&reader)
            .within(all)
            .log(main, None, window)
            .unwrap()
            .commits
            .len() as u64,
        all
    );
    let over = Log::new(&reader).within(all - 1).log(main, None, window);
    assert!(matches!(over, Err(BrowseError::Bad(why)) if why.contains("walks more than")));
    // The budget is the request's (the reader's): spent, it stays spent for every walk.
    assert!(matches!(
        rev_parse::commit(&reader, "main~1"),
        Err(BrowseError::Bad(why)) if why.contains("walks more than")
    ));
    let (shown, _) = Log::new(&reader)
        .within(MAX_STEPS)
        .range(side, main, 1000)
        .unwrap();
    assert!(matches!(
        Log::new(&reader).within(2).range(side, main, 1000),
        Err(BrowseError::Bad(_))
    ));
    assert!(!shown.is_empty());
    assert!(Log::new(&reader)
        .within(MAX_STEPS)
        .merge_base(side, main)
        .unwrap()
        .is_some());
    assert!(matches!(
        Log::new(&reader).within(1).merge_base(side, main),
        Err(BrowseError::Bad(_))
    ));

    // A branch of two commits off a trunk of 60: the range and the merge base stop at the
    // trunk's tip, a few commits in, instead of walking the trunk.
    let repo = Repo::new();
    for n in 0..60 {
        commit_at(&repo, 1_700_000_000 + n, &format!("trunk {n}"));
    }
    let trunk = repo.git(&["rev-parse", "HEAD"]);
    repo.git(&["checkout", "-q", "-b", "topic"]);
    commit_at(&repo, 1_700_001_000, "topic 1");
    let topic = commit_at(&repo, 1_700_001_001, "topic 2");
    let store = pushed(&repo);
    let reader = git_on_durable_objects::store::ObjectReader::new(&store);
    let id = |hex: &str| ObjectId::from_hex(hex.as_bytes()).unwrap();
    let (shown, more) = Log::new(&reader)
        .within(8)
        .range(id(&trunk), id(&topic), 10)
        .unwrap();
    assert_eq!((shown.len(), more), (2, false));
    let base = Log::new(&reader)
        .within(8)
        .merge_base(id(&trunk), id(&topic))
        .unwrap();
    assert_eq!(base, Some(id(&trunk)));
}

#[test]
fn diffs_stop_at_the_depth_limit() {
    let repo = Repo::new();
    let blob = repo.git_with(&["hash-object", "-w", "--stdin"], b"deep\n");
    let mut tree = repo.git_with(
        &["mktree"],
        format!(
            "100644 blob {}\tf\n",
            String::from_utf8(blob).unwrap().trim()
        )
        .as_bytes(),
    );
    let mut tips = Vec::new();
    for depth in 1..=513 {
        let listing = format!(
            "040000 tree {}\td\n",
            String::from_utf8(tree).unwrap().trim()
        );
        tree = repo.git_with(&["mktree"], listing.as_bytes());
        if depth >= 512 {
            let id = String::from_utf8(tree.clone()).unwrap();
            tips.push(repo.git(&["commit-tree", id.trim(), "-m", &format!("{depth} deep")]));
        }
    }
    repo.git(&["update-ref", "refs/heads/main", &tips[0]]);
    repo.git(&["update-ref", "refs/heads/deeper", &tips[1]]);
    let store = pushed(&repo);
    // 512 directories over the file: listed; 513: refused.
    let shown = json(&store, "api/commit/main");
    assert_eq!(shown["files"].as_array().unwrap().len(), 1);
    let (status, why) = refusal(&store, "api/commit/deeper");
    assert_eq!(
        (status, why.as_str()),
        (400, "trees nested deeper than 512 levels")
    );
}

#[test]
fn odd_revisions_are_refused_and_no_request_outwalks_its_budget() {
    let repo = tangled();
    let store = pushed(&repo);
    // A suffix that is no `~` or `^`, even one of several bytes, is a bad revision.
    for rev in [
        "HEAD%5E0%C3%A9",
        "HEAD~1%C3%A9",
        "main^x",
        "HEAD~99999999999999999999",
    ] {
        let (status, why) = refusal(&store, &format!("api/commit/{rev}"));
        assert_eq!(status, 400, "{rev}: {why}");
        assert!(why.starts_with("bad revision"), "{rev}: {why}");
    }
    // Ancestors far past the history's start, through every split of a long path: one
    // budget for the whole request, answered at once.
    let segments = vec!["d"; 32].join("/");
    let started = std::time::Instant::now();
    let (status, why) = refusal(&store, &format!("api/tree/HEAD~4000000000/{segments}"));
    assert_eq!(status, 404, "{why}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let long = repo.git(&["rev-list", "--count", "main"]);
    let (status, why) = refusal(&store, &format!("api/commit/main~{long}"));
    assert_eq!(
        (status, why),
        (404, format!("unknown revision: main~{long}"))
    );
    // A history longer than the budget refuses a walk down it, naming the budget.
    let chain = Repo::new();
    for n in 0..40 {
        commit_at(&chain, 1_700_000_000 + n, &format!("c{n}"));
    }
    let long_store = pushed(&chain);
    let reader = git_on_durable_objects::store::ObjectReader::new(&long_store);
    reader.set_walk_budget(30);
    let over = rev_parse::commit(&reader, "HEAD~35");
    assert!(
        matches!(&over, Err(BrowseError::Bad(why)) if why.contains("walks more than 30 steps")),
        "{over:?}"
    );
    reader.set_walk_budget(30);
    assert_eq!(
        rev_parse::commit(&reader, "HEAD~29").unwrap().to_string(),
        chain.git(&["rev-parse", "HEAD~29"])
    );
}
