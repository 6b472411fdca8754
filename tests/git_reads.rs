//! Objects and ref names read as git reads them: thousands of generated commits, trees and
//! tags that git stores without complaint (`hash-object --literally`), with headers repeated,
//! missing, out of order or after the message's start, odd spellings of ids and modes, odd
//! bytes in names and identities, tags of tags and trees of every mode; and generated ref
//! names. Each is read by our readers and by git (`rev-list --parents --timestamp`, `ls-tree`,
//! `rev-list --objects`, `check-ref-format`), and any disagreement fails, naming the input.
//!
//! `GIT_READS_SEED` replays a seed; `GIT_READS_SCALE` multiplies the counts (the longer
//! mode: `GIT_READS_SCALE=10 cargo test --test git_reads`); `GIT_READS_CORPUS=DIR` also
//! writes every generated object there (fuzz/seed.sh seeds the `objects` target with them).

#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};

use git_on_durable_objects::format::object::{self, ObjectId, ObjectType, TreeEntryKind};
use git_on_durable_objects::format::{commit, refname, tag};

/// A small deterministic generator (xorshift64*), so a seed replays a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn hex(&mut self) -> String {
        (0..20)
            .map(|_| format!("{:02x}", self.next() as u8))
            .collect()
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn git(dir: &Path, args: &[&str], stdin: &[u8]) -> (bool, Vec<u8>) {
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("git runs");
    // Written from a thread: git answers each line of --stdin-paths as it reads it, and would
    // fill its output pipe while we still write.
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        input.write_all(&stdin).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (out.status.success(), out.stdout)
}

/// Stores `objects` of one type with `hash-object --literally` in one run; their ids.
fn store_all(dir: &Path, kind: &str, objects: &[Vec<u8>]) -> Vec<String> {
    let files = dir.join("generated");
    std::fs::create_dir_all(&files).unwrap();
    let mut paths = String::new();
    for (n, data) in objects.iter().enumerate() {
        let path = files.join(format!("{kind}-{n}"));
        std::fs::write(&path, data).unwrap();
        paths.push_str(&format!("{}\n", path.display()));
    }
    let args = [
        "hash-object",
        "--literally",
        "-t",
        kind,
        "-w",
        "--stdin-paths",
    ];
    let (ok, out) = git(dir, &args, paths.as_bytes());
    assert!(ok, "hash-object of {kind}s");
    let ids: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), objects.len());
    if let Ok(corpus) = std::env::var("GIT_READS_CORPUS") {
        std::fs::create_dir_all(&corpus).unwrap();
        for (id, data) in ids.iter().zip(objects) {
            std::fs::write(Path::new(&corpus).join(format!("{kind}-{id}")), data).unwrap();
        }
    }
    ids
}

const IDENT_DATES: &[&str] = &[
    " 1700000000 +0100",
    " 1700000000 -0130",
    "",
    " -5 +0000",
    " 99999999999999999999 +0000",
    " 18446744073709551615 +0000",
    " abc +0000",
    "  17 +0000",
    " +5 +0000",
    " 0017 +0000",
    " 1700000000 0100",
    " 1700000000",
    "\t42 +0000",
    " 42 +00000",
    " 42 +0a00",
    "> 42 +0000",
    " 42x +0000",
];

fn ident(rng: &mut Rng) -> String {
    let name = rng.pick(&[
        "A U Thor",
        "",
        "Jos\u{e9}",
        " spaced ",
        "a<b",
        "x>y",
        "N",
        "N\0ul",
        "\0",
    ]);
    let email = rng.pick(&["<a@b>", "<>", "<a@b", "a@b>", "<a <b>", "<a@b>>"]);
    let date = rng.pick(IDENT_DATES);
    format!("{name} {email}{date}")
}

fn id_text(rng: &mut Rng, valid: &str) -> String {
    match rng.below(12) {
        0 => valid.to_uppercase(),
        1 => valid[..39].to_string(),
        2 => format!("{valid} "),
        3 => format!(" {valid}"),
        4 => format!("{valid}0"),
        _ => valid.to_string(),
    }
}

fn generated_commit(rng: &mut Rng, trees: &[String]) -> Vec<u8> {
    let tree = rng.pick(trees).clone();
    let mut lines: Vec<String> = Vec::new();
    match rng.below(10) {
        0 => {}
        1 => lines.push(format!("Tree {tree}")),
        2 => lines.push(format!("tree  {tree}")),
        _ => lines.push(format!("tree {}", id_text(rng, &tree))),
    }
    for _ in 0..rng.below(4) {
        let parent = rng.hex();
        lines.push(format!("parent {}", id_text(rng, &parent)));
    }
    if rng.chance(80) {
        lines.push(format!("author {}", ident(rng)));
    }
    if rng.chance(80) {
        lines.push(format!("committer {}", ident(rng)));
    }
    for _ in 0..rng.below(3) {
        let line = match rng.below(7) {
            0 => format!("parent {}", rng.hex()),
            1 => format!("tree {}", rng.pick(trees)),
            2 => format!("author {}", ident(rng)),
            3 => format!("committer {}", ident(rng)),
            4 => "encoding ISO-8859-1".to_string(),
            5 => "gpgsig -----BEGIN PGP SIGNATURE-----\n \n parent x\n -----END PGP SIGNATURE-----"
                .to_string(),
            _ => "x-extra value".to_string(),
        };
        let at = rng.below(lines.len() + 1);
        lines.insert(at, line);
    }
    if rng.chance(10) && lines.len() > 1 {
        let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
        lines.swap(a, b);
    }
    let mut text = lines.join("\n");
    match rng.below(6) {
        0 => {}
        1 => text.push('\n'),
        2 => text.push_str(&format!("\n\nmessage\nparent {}\n", rng.hex())),
        _ => text.push_str("\n\nsubject\n\nbody\n"),
    }
    text.into_bytes()
}

const MODES: &[&str] = &[
    "100644",
    "100755",
    "40000",
    "040000",
    "120000",
    "160000",
    "100664",
    "0",
    "644",
    "1040000",
    "140000",
    "100",
    "",
    "10064a",
    "0100644",
    "177777",
    "77777777777",
];

fn generated_tree(rng: &mut Rng, blobs: &[String], trees: &[String]) -> Vec<u8> {
    let mut data = Vec::new();
    for n in 0..rng.below(5) {
        let mode = rng.pick(MODES);
        let name: Vec<u8> = match rng.below(8) {
            0 => Vec::new(),
            1 => b"with space".to_vec(),
            2 => vec![b'n', 0xff, b'\n', b'x'],
            _ => format!("entry{n}").into_bytes(),
        };
        let target = match mode.starts_with('4') || mode.starts_with("04") {
            true if !trees.is_empty() => rng.pick(trees).clone(),
            _ => rng.pick(blobs).clone(),
        };
        data.extend_from_slice(mode.as_bytes());
        data.push(b' ');
        data.extend_from_slice(&name);
        data.push(0);
        data.extend_from_slice(&hex::decode(&target).unwrap());
    }
    if rng.chance(8) && !data.is_empty() {
        let cut = rng.below(data.len());
        data.truncate(cut);
    }
    data
}

fn generated_tag(rng: &mut Rng, targets: &[(String, &'static str)]) -> Vec<u8> {
    let (target, kind) = rng.pick(targets).clone();
    let mut lines = vec![
        format!("object {}", id_text(rng, &target)),
        format!(
            "type {}",
            match rng.below(10) {
                0 => "Commit",
                1 => "",
                2 => "commit ",
                _ => kind,
            }
        ),
        format!("tag {}", rng.pick(&["v1.0", "", "with space", "t\u{e9}"])),
    ];
    if rng.chance(70) {
        lines.push(format!("tagger {}", ident(rng)));
    }
    if rng.chance(15) {
        let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
        lines.swap(a, b);
    }
    if rng.chance(10) {
        lines.remove(rng.below(lines.len()));
    }
    let mut text = lines.join("\n");
    const ENDS: [&str; 3] = ["", "\n", "\n\nmessage\n"];
    let end: &&str = rng.pick(&ENDS);
    text.push_str(end);
    text.into_bytes()
}

/// What git says of one commit: None when it cannot parse it; else tree, parents, the date
/// history goes by (clamped to ours), and the author's and committer's names, emails and
/// dates (`%aI`, `%cI`).
type GitCommit = Option<(String, Vec<String>, i64, Vec<Vec<u8>>)>;

fn git_commit(dir: &Path, id: &str) -> GitCommit {
    let format = "--format=%T%x00%an%x00%ae%x00%cn%x00%ce%x00%aI%x00%cI%x00";
    let args = [
        "rev-list",
        "--no-walk",
        "--timestamp",
        "--parents",
        format,
        id,
    ];
    let (ok, out) = git(dir, &args, b"");
    if !ok {
        return None;
    }
    let nl = out.iter().position(|&b| b == b'\n').unwrap();
    let first = String::from_utf8(out[..nl].to_vec()).unwrap();
    let mut words = first.split(' ');
    let time = words.next().unwrap().parse::<u64>().unwrap();
    assert_eq!(words.next(), Some("commit"));
    assert_eq!(words.next(), Some(id));
    let parents = words.map(str::to_string).collect();
    let mut fields: Vec<Vec<u8>> = out[nl + 1..]
        .split(|&b| b == 0)
        .map(<[u8]>::to_vec)
        .collect();
    let tree = String::from_utf8(fields.remove(0)).unwrap();
    fields.truncate(6);
    Some((
        tree,
        parents,
        i64::try_from(time).unwrap_or(i64::MAX),
        fields,
    ))
}

/// A date as `git log --format=<placeholder>` prints it: the placeholder itself where the
/// line has none.
fn shown_date(who: &git_on_durable_objects::format::ident::Ident, placeholder: &str) -> Vec<u8> {
    who.date()
        .unwrap_or_else(|| placeholder.into())
        .into_bytes()
}

fn check_commit(dir: &Path, id: &str, data: &[u8]) -> Result<(), String> {
    let ours = object::links(ObjectType::Commit, data);
    let theirs = git_commit(dir, id);
    let (links, (tree, parents, time, names)) = match (ours, theirs) {
        (Err(_), None) => return Ok(()),
        (Ok(links), Some(theirs)) => (links, theirs),
        (ours, theirs) => return Err(format!("ours {ours:?}, git {theirs:?}")),
    };
    let ours_parents: Vec<String> = links.parents.iter().map(ObjectId::to_hex).collect();
    let ours_view = (links.refs[0].id.to_hex(), ours_parents, links.commit_time);
    if ours_view != (tree.clone(), parents.clone(), time) {
        return Err(format!(
            "ours {ours_view:?}, git {:?}",
            (tree, parents, time)
        ));
    }
    // What the API shows of the people, where it can show them.
    if let Ok(parsed) = commit::parse(data) {
        let mut shown: Vec<Vec<u8>> = [
            parsed.author.name,
            parsed.author.email,
            parsed.committer.name,
            parsed.committer.email,
        ]
        .iter()
        .map(|text| commit::decode(text, parsed.encoding).into_bytes())
        .collect();
        shown.push(shown_date(&parsed.author, "%aI"));
        shown.push(shown_date(&parsed.committer, "%cI"));
        if shown != names {
            let text = |v: &Vec<Vec<u8>>| -> Vec<String> {
                v.iter()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .collect()
            };
            return Err(format!(
                "people: ours {:?}, git {:?}",
                text(&shown),
                text(&names)
            ));
        }
    }
    Ok(())
}

fn check_tree(dir: &Path, id: &str, data: &[u8]) -> Result<(), String> {
    let (ok, out) = git(dir, &["ls-tree", "-z", id], b"");
    let ours = object::tree_entries(data);
    let entries = match (ours, ok) {
        (Err(_), false) => return Ok(()),
        (Ok(entries), true) => entries,
        (ours, _) => return Err(format!("ours {ours:?}, git ok: {ok}")),
    };
    let theirs: Vec<Vec<u8>> = out
        .split(|&b| b == 0)
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let mine: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| {
            let kind = match e.kind {
                TreeEntryKind::Tree => "tree",
                TreeEntryKind::Blob => "blob",
                TreeEntryKind::Gitlink => "commit",
            };
            let mut line = format!("{:06o} {kind} {}\t", e.mode, e.id).into_bytes();
            line.extend_from_slice(e.name);
            line
        })
        .collect();
    match mine == theirs {
        true => Ok(()),
        false => Err(format!(
            "ours {:?}, git {:?}",
            mine.iter()
                .map(|l| String::from_utf8_lossy(l))
                .collect::<Vec<_>>(),
            theirs
                .iter()
                .map(|l| String::from_utf8_lossy(l))
                .collect::<Vec<_>>()
        )),
    }
}

fn check_tag(
    dir: &Path,
    id: &str,
    data: &[u8],
    kinds: &HashMap<String, &str>,
) -> Result<(), String> {
    let (ok, _) = git(
        dir,
        &["rev-parse", "--verify", "-q", &format!("{id}^{{}}")],
        b"",
    );
    // git refuses a tag whose type is not its target's: ours reads the same lines, and the
    // push checks the type too (tests/receive_pack.rs); here both halves are compared.
    let ours = tag::head(data).map(|(head, _)| {
        let real = kinds.get(&head.object.to_hex()).copied();
        (head, real == Some(head.kind.name()))
    });
    match (ours, ok) {
        (Err(_), false) | (Ok((_, false)), false) | (Ok((_, true)), true) => Ok(()),
        (ours, _) => Err(format!("ours {ours:?}, git ok: {ok}")),
    }
}

#[test]
fn generated_objects_are_read_as_git_reads_them() {
    let seed = env_number("GIT_READS_SEED", 0x5eed_0b1e);
    let scale = env_number("GIT_READS_SCALE", 1) as usize;
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    assert!(git(dir.path(), &["init", "-q", "--bare", "."], b"").0);

    let blob_data: Vec<Vec<u8>> = (0..20)
        .map(|n| format!("blob {n}\n").into_bytes())
        .collect();
    let blobs = store_all(dir.path(), "blob", &blob_data);
    let mut tree_data = Vec::new();
    let mut trees: Vec<String> = Vec::new();
    for _ in 0..5 * scale {
        let batch: Vec<Vec<u8>> = (0..100)
            .map(|_| generated_tree(&mut rng, &blobs, &trees))
            .collect();
        trees.extend(store_all(dir.path(), "tree", &batch));
        tree_data.extend(batch);
    }
    let commit_data: Vec<Vec<u8>> = (0..1200 * scale)
        .map(|_| generated_commit(&mut rng, &trees))
        .collect();
    let commits = store_all(dir.path(), "commit", &commit_data);

    let mut failures = Vec::new();
    let mut report = |kind: &str, id: &str, data: &[u8], result: Result<(), String>| {
        if let Err(why) = result {
            failures.push(format!(
                "{kind} {id} {:?}: {why}",
                String::from_utf8_lossy(data)
            ));
        }
    };
    for (id, data) in trees.iter().zip(&tree_data) {
        report("tree", id, data, check_tree(dir.path(), id, data));
    }
    let mut valid_trees = Vec::new();
    for (id, data) in trees.iter().zip(&tree_data) {
        if object::tree_entries(data).is_ok() {
            valid_trees.push(id.clone());
        }
    }
    for (id, data) in commits.iter().zip(&commit_data) {
        report("commit", id, data, check_commit(dir.path(), id, data));
    }

    // Tags of blobs, trees, commits git reads, and tags: their targets exist with a type.
    let mut kinds: HashMap<String, &str> = HashMap::new();
    let mut targets: Vec<(String, &'static str)> = Vec::new();
    for id in &blobs {
        targets.push((id.clone(), "blob"));
    }
    for id in valid_trees.iter().take(50) {
        targets.push((id.clone(), "tree"));
    }
    for (id, data) in commits.iter().zip(&commit_data).take(300) {
        if object::links(ObjectType::Commit, data).is_ok() {
            targets.push((id.clone(), "commit"));
        }
    }
    for (id, kind) in &targets {
        kinds.insert(id.clone(), kind);
    }
    let mut tags = 0;
    for _ in 0..4 * scale {
        let batch: Vec<Vec<u8>> = (0..100)
            .map(|_| generated_tag(&mut rng, &targets))
            .collect();
        let ids = store_all(dir.path(), "tag", &batch);
        for (id, data) in ids.iter().zip(&batch) {
            report("tag", id, data, check_tag(dir.path(), id, data, &kinds));
            if tag::head(data)
                .is_ok_and(|(head, _)| kinds.get(&head.object.to_hex()) == Some(&head.kind.name()))
            {
                targets.push((id.clone(), "tag"));
                kinds.insert(id.clone(), "tag");
            }
        }
        tags += batch.len();
    }
    let total = tree_data.len() + commit_data.len() + tags;
    assert!(total >= 2000 * scale, "{total} objects");
    assert!(
        failures.is_empty(),
        "seed {seed:#x}: {} of {total} objects read otherwise than git reads them:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

#[test]
fn generated_ref_names_are_judged_as_git_judges_them() {
    let seed = env_number("GIT_READS_SEED", 0x5eed_0b1e);
    let scale = env_number("GIT_READS_SCALE", 1) as usize;
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let pieces = [
        "heads", "tags", "main", "a", ".", "..", "/", "//", "@", "@{", "{", ".lock", "lock", "*",
        "?", "[", "\\", "^", "~", ":", " ", "\t", "\x7f", "\x01", "é", "-", "_", "x.y", "a.",
    ];
    let mut failures = Vec::new();
    for _ in 0..1000 * scale {
        let name: String = (0..1 + rng.below(5)).map(|_| *rng.pick(&pieces)).collect();
        if name.starts_with('-') {
            continue; // git would take it for an option
        }
        for one_level in [false, true] {
            let mut args = vec!["check-ref-format"];
            if one_level {
                args.push("--allow-onelevel");
            }
            args.push(&name);
            let theirs = git(dir.path(), &args, b"").0;
            let ours = refname::check_ref_format(&name, one_level);
            // What receive-pack applies: the name after `refs/`, two levels unless deleting.
            let pushed = refname::is_valid_push_name(&format!("refs/{name}"), one_level);
            if ours != theirs || pushed != theirs {
                failures.push(format!(
                    "{name:?} (one level: {one_level}): ours {ours}, git {theirs}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "seed {seed:#x}:\n{}",
        failures.join("\n")
    );
}
