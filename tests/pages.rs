//! The web pages over the real store schema on SQLite, compared with what git says of the
//! same repository (`ls-tree -l`, `log`, `diff --numstat`, `diff -U3`), and what they do
//! with hostile names and messages, caching, refusals and budgets. Real browsers read them
//! in tests/e2e/pages.sh.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use git_on_durable_objects::http::api::read::Query;
use git_on_durable_objects::http::pages::{self, Request};
use git_on_durable_objects::http::reply::{Body, Caching, Reply};
use git_on_durable_objects::http::route::{self, Endpoint};
use git_on_durable_objects::store::Store;

const CAPS: &str = "report-status delete-refs ofs-delta agent=test";

fn pushed(repo: &Repo) -> (Store<Db>, Db) {
    let (store, db) = store(4096);
    let (report, _) = push_all(&store, repo, CAPS, 4096);
    assert!(report.iter().all(|l| !l.starts_with("ng")), "{report:?}");
    (store, db)
}

/// Answers `GET /o/r/<path>` as a page.
fn get_with(store: &Store<Db>, path_and_query: &str, if_none_match: Option<&str>) -> Reply {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let url = match path {
        "" => "/o/r".to_string(),
        path => format!("/o/r/{path}"),
    };
    let Endpoint::Page(page) = route::parse(&url).unwrap().endpoint else {
        panic!("{url} is not a page")
    };
    let request = Request {
        page: &page,
        repo: "o/r",
        origin: "https://git.example",
        query: Query {
            query,
            private: false,
        },
        if_none_match,
    };
    pages::serve(store, &request).unwrap()
}

/// A page's status and HTML.
fn get(store: &Store<Db>, path_and_query: &str) -> (u16, String) {
    let reply = get_with(store, path_and_query, None);
    let Body::Bytes(bytes) = &reply.body else {
        panic!("bytes")
    };
    (reply.status, String::from_utf8(bytes.clone()).unwrap())
}

/// A page that must be found.
fn page(store: &Store<Db>, path_and_query: &str) -> String {
    let (status, html) = get(store, path_and_query);
    assert_eq!(status, 200, "{path_and_query}: {html}");
    html
}

/// What a browser shows of `html`: tags dropped, entities undone.
fn shown(html: &str) -> String {
    let mut text = String::new();
    let mut inside = false;
    for c in html.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The text of every element that opens with `open` (e.g. `<td class="name">`), up to the
/// `</td>` (or whatever `close` is) that ends it.
fn cells(html: &str, open: &str, close: &str) -> Vec<String> {
    html.split(open)
        .skip(1)
        .map(|rest| shown(rest.split(close).next().unwrap()))
        .collect()
}

#[test]
fn tree_pages_list_what_ls_tree_lists() {
    let repo = history_repo();
    let (store, _db) = pushed(&repo);
    for (path, spec) in [
        ("-/tree/main", "main"),
        ("-/tree/main/dir1", "main:dir1"),
        ("", "HEAD"),
    ] {
        let html = page(&store, path);
        let listed = repo.git(&["ls-tree", "-l", spec]);
        let rows: Vec<String> = listed
            .lines()
            .map(|line| {
                let (meta, name) = line.split_once('\t').unwrap();
                let meta: Vec<&str> = meta.split_whitespace().collect();
                format!("{} {} {} {}", meta[0], meta[1], name, meta[3])
            })
            .collect();
        let modes = cells(&html, "<td class=\"mode\">", "</td>");
        let types = cells(&html, "<td class=\"type\">", "</td>");
        let names = cells(&html, "<td class=\"name\">", "</td>");
        let sizes = cells(&html, "<td class=\"size\">", "</td>");
        let shown: Vec<String> = (0..names.len())
            .map(|i| format!("{} {} {} {}", modes[i], types[i], names[i], sizes[i]))
            .collect();
        assert_eq!(shown, rows, "{path}");
    }
}

#[test]
fn logs_and_diffs_are_gits() {
    let repo = history_repo();
    let (store, _db) = pushed(&repo);
    let log = page(&store, "-/commits/main");
    let ids: Vec<String> = log
        .split("<a class=\"id\" href=\"/o/r/-/commit/")
        .skip(1)
        .map(|rest| rest.get(..40).unwrap().to_string())
        .collect();
    let expected = repo.git(&["log", "--format=%H", "-n", "30", "main"]);
    assert_eq!(ids, expected.lines().collect::<Vec<_>>());
    assert!(log.contains("rel=\"next\""));
    let path_log = page(&store, "-/commits/main?path=dir2");
    let expected = repo.git(&["log", "--format=%h", "main", "--", "dir2"]);
    let shown = cells(&path_log, "<a class=\"id\"", "</a>");
    let shown: Vec<String> = shown
        .iter()
        .map(|s| s.rsplit('>').next().unwrap().to_string())
        .collect();
    assert_eq!(shown.len(), expected.lines().count().min(30));
    for id in expected.lines().take(30) {
        assert!(path_log.contains(&format!(">{id}</a>")), "{id}");
    }
    for rev in ["main~1", "main~20", "main^2"] {
        let parent = format!("{rev}^");
        let html = page(&store, &format!("-/commit/{rev}"));
        let numstat = repo.git(&["diff", "--numstat", &parent, rev]);
        for line in numstat.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let stat = format!("data-path=\"{}\"", fields[2]);
            let at = html.find(&stat).unwrap_or_else(|| panic!("{rev}: {line}"));
            let rest = html.get(at..).unwrap();
            let added = rest
                .split("data-added=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let deleted = rest
                .split("data-deleted=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            assert_eq!((added, deleted), (fields[0], fields[1]), "{rev}: {line}");
        }
        // The hunks, line by line, as git prints them.
        let patch = repo.git(&[
            "diff",
            "--no-color",
            "--no-indent-heuristic",
            "-U3",
            &parent,
            rev,
        ]);
        let expected: Vec<String> = patch
            .lines()
            .filter(|l| {
                l.starts_with(['@', '+', '-', ' '])
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .map(|l| match l.strip_prefix("@@") {
                Some(rest) => format!("@@{}@@", rest.split("@@").next().unwrap()),
                None => l.to_string(),
            })
            .collect();
        let mut rows = Vec::new();
        for row in html.split("<tr class=\"").skip(1) {
            let (class, rest) = row.split_once('"').unwrap();
            let text = |open: &str| {
                cells(rest, open, "</td>")
                    .into_iter()
                    .next()
                    .unwrap_or_default()
            };
            rows.push(match class {
                "hunk" => text("<td colspan=\"3\">"),
                "ctx" => format!(" {}", text("<td class=\"code\">")),
                "add" => format!("+{}", text("<td class=\"code\">")),
                "del" => format!("-{}", text("<td class=\"code\">")),
                _ => continue,
            });
        }
        assert_eq!(rows, expected, "{rev}");
    }
}

#[test]
fn hostile_names_messages_and_readmes_are_text() {
    let repo = Repo::new();
    repo.write(
        "<img src=x onerror=alert(1)>.txt",
        b"<script>alert(2)</script>\n",
    );
    repo.write(
        "README.md",
        b"# Hi\n\n<script>alert(3)</script>\n\n[x](javascript:alert(4)) <b onclick=alert(5)>b</b>\n",
    );
    repo.commit("<script>alert(6)</script>");
    repo.git(&["branch", "x\"onmouseover=alert(7)"]);
    let (store, _db) = pushed(&repo);
    for path in [
        "",
        "-/tree/main",
        "-/commits",
        "-/commit/main",
        "-/refs",
        "-/blob/main/README.md",
        "-/blob/main/README.md?plain=1",
        "-/blob/main/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.txt",
    ] {
        let html = page(&store, path);
        // The names and texts show, as text: no element or attribute of theirs.
        for bad in [
            "<script>",
            "<img src=x",
            "=\"javascript:",
            "<b onclick",
            "\"onmouseover",
        ] {
            assert!(!html.contains(bad), "{path} has {bad}: {html}");
        }
    }
    let tree = page(&store, "-/tree/main");
    assert!(cells(&tree, "<td class=\"name\">", "</td>")
        .contains(&"<img src=x onerror=alert(1)>.txt".to_string()));
    let summary = page(&store, "");
    assert!(
        shown(&summary).contains("<script>alert(3)</script>"),
        "{summary}"
    );
}

#[test]
fn pages_naming_ids_are_immutable_and_others_revalidate() {
    let repo = history_repo();
    let (store, db) = pushed(&repo);
    let before = snapshot(&db);
    let head = repo.git(&["rev-parse", "main"]).trim().to_string();
    let fixed = get_with(&store, &format!("-/commit/{head}"), None);
    assert_eq!(fixed.caching, Caching::Forever);
    assert!(!fixed.headers.iter().any(|(name, _)| *name == "ETag"));
    let named = get_with(&store, "-/tree/main", None);
    assert_eq!(named.caching, Caching::NoCache);
    let etag = named
        .headers
        .iter()
        .find(|(n, _)| *n == "ETag")
        .unwrap()
        .1
        .clone();
    assert_eq!(get_with(&store, "-/tree/main", Some(&etag)).status, 304);
    assert_eq!(
        get_with(&store, "-/tree/main", Some("W/\"other\"")).status,
        200
    );
    for reply in [&fixed, &named] {
        let policy = reply
            .headers
            .iter()
            .find(|(n, _)| *n == "Content-Security-Policy")
            .unwrap();
        assert!(policy.1.contains("script-src 'self'") && !policy.1.contains("unsafe"));
    }
    // Reading pages writes nothing.
    assert_eq!(snapshot(&db), before);
    // A push changes what refs name: the tag changes.
    repo.write("new.txt", b"new\n");
    let new = repo.commit("one more");
    let command = (head.clone(), new.clone(), "refs/heads/main".to_string());
    let pack = repo.pack(&[&new], &[&head]);
    let report =
        report_lines(&run_push(&store, &push_body(&[command], CAPS, &pack), 4096).unwrap());
    assert!(
        report.iter().any(|l| l == "ok refs/heads/main"),
        "{report:?}"
    );
    assert_eq!(get_with(&store, "-/tree/main", Some(&etag)).status, 200);
}

#[test]
fn what_is_not_there_says_so() {
    let repo = history_repo();
    let (store, _db) = pushed(&repo);
    for (path, status, why) in [
        ("-/tree/nope", 404, "unknown revision: nope"),
        ("-/tree/main/nope", 404, "path not found: nope"),
        (
            "-/blob/main/dir1/nope.txt",
            404,
            "path not found: dir1/nope.txt",
        ),
        ("-/commit/main~1000", 404, ""),
        ("-/commits/main?cursor=zz", 400, "bad cursor"),
        (
            "-/compare/main",
            400,
            "expected &lt;base&gt;...&lt;head&gt;",
        ),
    ] {
        let (got, html) = get(&store, path);
        assert_eq!(got, status, "{path}: {html}");
        assert!(html.contains("<p class=\"error\">"), "{path}");
        assert!(html.contains(why), "{path}: {html}");
    }
    let (empty, _db) = store_pair();
    let (status, html) = get(&empty, "");
    assert_eq!(status, 404, "{html}");
}

fn store_pair() -> (Store<Db>, Db) {
    store(4096)
}

#[test]
fn an_empty_repository_says_how_to_push() {
    let (store, _db) = store(4096);
    store.set_head_target("refs/heads/main").unwrap();
    let html = page(&store, "");
    assert!(html.contains("<section class=\"empty\">"), "{html}");
    assert!(
        html.contains("git remote add origin https://git.example/o/r.git"),
        "{html}"
    );
}

#[test]
fn large_diffs_are_cut_with_a_note() {
    let repo = Repo::new();
    let many: String = (0..30_000).map(|n| format!("line {n}\n")).collect();
    // Lines that match everywhere: a diff's worst case, which the page must not run.
    let noise = |seed: u64| {
        let mut rng = Rng(seed);
        (0..30_000)
            .map(|_| if rng.below(2) == 0 { "a\n" } else { "b\n" })
            .collect::<String>()
    };
    repo.write("big.txt", b"start\n");
    repo.write("a-noise.txt", noise(7).as_bytes());
    repo.commit("small");
    repo.write("a-noise.txt", noise(11).as_bytes());
    repo.write("big.txt", many.as_bytes());
    repo.write("after.txt", b"after\n");
    repo.commit("large");
    let (store, _db) = pushed(&repo);
    let html = page(&store, "-/commit/main");
    assert!(
        html.contains("data-added=\"30000\""),
        "the stat counts every line"
    );
    assert!(
        html.contains("<p class=\"cut\">"),
        "the rows stop at the budget"
    );
    assert!(html.matches("<tr class=\"add\">").count() <= 20_000);
    assert!(html.contains("data-path=\"after.txt\""));
    let noise = html.split("data-path=\"a-noise.txt\"").nth(1).unwrap();
    let noise = noise.split("</div></div>").next().unwrap();
    assert!(
        noise.contains("Not shown: the page diffs no more lines."),
        "{noise}"
    );
}

/// `git diff --no-index` of two versions, its hunks only (headers without the function
/// context git may add).
fn git_hunks(dir: &std::path::Path, old: &[u8], new: &[u8]) -> String {
    let (a, b) = (dir.join("a"), dir.join("b"));
    std::fs::write(&a, old).unwrap();
    std::fs::write(&b, new).unwrap();
    let out = std::process::Command::new("git")
        .args(["diff", "--no-index", "--no-color", "-U3", "--"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut hunks = String::new();
    for line in text.lines().skip_while(|l| !l.starts_with("@@")) {
        match line.strip_prefix("@@") {
            Some(rest) => hunks.push_str(&format!("@@{}@@\n", rest.split("@@").next().unwrap())),
            None => hunks.push_str(&format!("{line}\n")),
        }
    }
    hunks
}

/// Our hunks, printed as git prints them.
fn our_hunks(old: &[u8], new: &[u8]) -> String {
    use git_on_durable_objects::http::pages::unified::{diff, Mark};
    let mut out = String::new();
    for hunk in diff(old, new).hunks {
        out.push_str(&hunk.header);
        out.push('\n');
        for line in hunk.lines {
            out.push(match line.mark {
                Mark::Context => ' ',
                Mark::Added => '+',
                Mark::Deleted => '-',
            });
            out.push_str(&String::from_utf8_lossy(line.text));
            out.push('\n');
            if line.no_newline {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

/// A small deterministic generator, so that a failure names its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Source-like text: few distinct lines (so that changes could sit in several places),
/// blank lines and indentation (which git's indent heuristic weighs).
fn source_like(rng: &mut Rng, lines: u64) -> Vec<String> {
    const WORDS: [&str; 8] = [
        "}",
        "{",
        "x();",
        "return y;",
        "if (a) {",
        "",
        "// note",
        "end",
    ];
    (0..lines)
        .map(|_| {
            let indent = " ".repeat(4 * rng.below(3) as usize);
            format!("{indent}{}", WORDS[rng.below(WORDS.len() as u64) as usize])
        })
        .collect()
}

#[test]
fn line_diffs_match_git_diff_on_random_edits() {
    let dir = tempfile::tempdir().unwrap();
    let mut differ = Vec::new();
    for seed in 1..=400u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let count = 1 + rng.below(40);
        let old = source_like(&mut rng, count);
        let mut new = old.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(new.len() as u64 + 1) as usize;
            match rng.below(3) {
                0 if at < new.len() => {
                    new.remove(at);
                }
                1 => {
                    let count = 1 + rng.below(4);
                    let added = source_like(&mut rng, count);
                    new.splice(at..at, added);
                }
                _ => {
                    if let Some(line) = new.get_mut(at) {
                        *line = format!("{line} changed");
                    }
                }
            }
        }
        let join = |lines: &[String], end: bool| {
            let mut text = lines.join("\n");
            if end && !lines.is_empty() {
                text.push('\n');
            }
            text.into_bytes()
        };
        let (old, new) = (join(&old, true), join(&new, seed % 7 != 0));
        let (ours, gits) = (our_hunks(&old, &new), git_hunks(dir.path(), &old, &new));
        if ours == gits {
            continue;
        }
        // Where git's Myers diff chose other lines among equally short diffs, ours must
        // still be as short as git's.
        let counts = |hunks: &str| {
            let count = |c| {
                hunks
                    .lines()
                    .filter(|l| l.starts_with(c) && !l.starts_with("@@"))
                    .count()
            };
            (count('+'), count('-'))
        };
        assert_eq!(counts(&ours), counts(&gits), "seed {seed}:\n{ours}\n{gits}");
        differ.push(seed);
    }
    // Myers' diffs in similar and in git's xdiff break ties between equally short
    // diffs differently, rarely in real files; in these few-word files, about one in two
    // hundred (27 in 400 with neither xdiff's first step nor its compaction, 4 without
    // the first step).
    assert!(
        differ.len() <= 400 / 50,
        "{} of 400 differ from git: {differ:?}",
        differ.len()
    );
}

#[test]
fn a_hostile_repository_cannot_make_a_page_huge() {
    let repo = Repo::new();
    repo.write("lines.txt", &vec![b'\n'; 1 << 20]);
    repo.write("ok.txt", b"ok\n");
    repo.git(&["add", "-A"]);
    repo.git_with(&["commit", "-q", "-F", "-"], "&".repeat(1 << 20).as_bytes());
    let (store, _db) = pushed(&repo);
    let blob = page(&store, "-/blob/main/lines.txt");
    assert!(blob.len() < 4 << 20, "{} bytes", blob.len());
    assert_eq!(blob.matches("<tr id=\"L").count(), 20_000);
    assert!(blob.contains("The file goes on"));
    for path in ["-/commit/main", "-/commits", "", "-/tree/main"] {
        let html = page(&store, path);
        assert!(html.len() < 1 << 20, "{path}: {} bytes", html.len());
    }
}

#[test]
fn a_branch_named_like_an_id_is_not_cached_for_ever() {
    let repo = Repo::new();
    repo.write("a.txt", b"a\n");
    repo.commit("a");
    let named = format!("{}/x", "1".repeat(40));
    repo.git(&["branch", &named]);
    let (store, _db) = pushed(&repo);
    let reply = get_with(&store, &format!("-/tree/{named}"), None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.caching, Caching::NoCache);
    let head = repo.git(&["rev-parse", "main"]).trim().to_string();
    assert_eq!(
        get_with(&store, &format!("-/tree/{head}"), None).caching,
        Caching::Forever
    );
}

#[test]
fn names_that_would_leave_the_directory_are_not_links() {
    let repo = Repo::new();
    repo.write("a.txt", b"a\n");
    let out = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap().trim().to_string();
    let blob = out(repo.git_with(&["hash-object", "-w", "--stdin"], b"x\n"));
    let listing = format!("100644 blob {blob}\t..\n100644 blob {blob}\tfine\n");
    let tree = out(repo.git_with(&["mktree"], listing.as_bytes()));
    let root = format!("040000 tree {tree}\tevil\n");
    let root = out(repo.git_with(&["mktree"], root.as_bytes()));
    let commit = repo
        .git(&["commit-tree", &root, "-m", "evil"])
        .trim()
        .to_string();
    repo.git(&["update-ref", "refs/heads/main", &commit]);
    let (store, _db) = pushed(&repo);
    let html = page(&store, "-/tree/main/evil");
    let names = cells(&html, "<td class=\"name\">", "</td>");
    assert_eq!(names, ["..", "fine"]);
    assert!(!html.contains("evil/..\""), "{html}");
    assert!(html.contains("href=\"/o/r/-/blob/main/evil/fine\""));
    assert!(
        html.contains("<a href=\"/o/r/\">o/r</a>"),
        "the home link ends in /"
    );
}
