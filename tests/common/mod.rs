//! Shared test support: the store on native SQLite, real git repositories, push requests.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;

use git_on_durable_objects::format::object::ObjectType;
use git_on_durable_objects::format::pack::PackId;
use git_on_durable_objects::format::pack::{self, EntryKind};
use git_on_durable_objects::format::pktline::{self, Pkt};
use git_on_durable_objects::format::zlib;
use git_on_durable_objects::limits::Limits;
use git_on_durable_objects::maintenance;
use git_on_durable_objects::receive_pack::{BadRequest, ReceivePack};
use git_on_durable_objects::store::sql::{RowCounter, Rows, Sql, SqlError, Value, MAX_PARAMS};
use git_on_durable_objects::store::{ChunkFile, Store};
use git_on_durable_objects::upload_pack::{self, Answer};
use rusqlite::types::{ToSqlOutput, ValueRef};

/// A shared SQLite connection, so a test can inspect the tables the store writes, and a
/// count of the commit-graph rows read through it, so a test can see how far a walk went.
#[derive(Clone)]
pub struct Db {
    connection: Rc<rusqlite::Connection>,
    fail_write: Rc<std::cell::Cell<Option<usize>>>,
    counter: RowCounter,
    chunk_rows: Rc<std::cell::Cell<u64>>,
}

impl Db {
    /// Makes the write statement after the next `n` fail, once: storage breaking at that
    /// point of whatever runs next.
    pub fn fail_write_after(&self, n: usize) {
        self.fail_write.set(Some(n));
    }

    /// Rows of stored files (`pack_chunks`) read through this connection so far.
    pub fn chunk_rows_read(&self) -> u64 {
        self.chunk_rows.get()
    }

    /// Whether a write failure set by [`Db::fail_write_after`] is still to come.
    pub fn failure_pending(&self) -> bool {
        self.fail_write.get().is_some()
    }

    /// Counts down to the injected failure of a write statement.
    fn injected_failure(&self, query: &str) -> Result<(), SqlError> {
        let write = ["INSERT", "UPDATE", "DELETE"]
            .iter()
            .any(|verb| query.trim_start().starts_with(verb));
        match self.fail_write.get() {
            Some(0) if write => {
                self.fail_write.set(None);
                Err(SqlError("injected failure".into()))
            }
            Some(n) if write => {
                self.fail_write.set(Some(n - 1));
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

struct Param<'a>(&'a Value);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Integer(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

impl Sql for Db {
    fn exec(&self, query: &str, params: Vec<Value>) -> Result<Vec<Vec<Value>>, SqlError> {
        let err = |e: rusqlite::Error| SqlError(e.to_string());
        self.injected_failure(query)?;
        assert!(
            params.len() <= MAX_PARAMS,
            "more than {MAX_PARAMS} bound parameters"
        );
        let changes = self.connection.total_changes();
        let mut stmt = self.connection.prepare(query).map_err(err)?;
        let columns = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter().map(Param)))
            .map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i).map_err(err)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Integer(n),
                    ValueRef::Real(f) => Value::Integer(f as i64),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(values);
        }
        drop(rows);
        if query.contains("FROM pack_chunks") {
            self.chunk_rows
                .set(self.chunk_rows.get() + out.len() as u64);
        }
        // rusqlite has no count of the rows a statement visits, as the runtime's cursors
        // have: the rows returned and the steps of full scans are a floor of it.
        let scanned = stmt.get_status(rusqlite::StatementStatus::FullscanStep);
        self.counter.add(Rows {
            read: out.len() as u64 + u64::try_from(scanned).unwrap_or(0),
            written: self.connection.total_changes() - changes,
        });
        Ok(out)
    }

    fn rows(&self) -> Rows {
        self.counter.own()
    }

    fn counting(&self) -> Db {
        Db {
            counter: self.counter.fork(),
            ..self.clone()
        }
    }

    fn transaction(&self, work: &mut dyn FnMut() -> bool) -> Result<(), SqlError> {
        let run = |sql: &str| {
            self.connection
                .execute_batch(sql)
                .map_err(|e| SqlError(e.to_string()))
        };
        run("SAVEPOINT tx")?;
        if work() {
            run("RELEASE tx")
        } else {
            run("ROLLBACK TO tx; RELEASE tx")
        }
    }
}

/// A fresh in-memory database.
pub fn db() -> Db {
    Db {
        connection: Rc::new(rusqlite::Connection::open_in_memory().unwrap()),
        fail_write: Rc::default(),
        counter: RowCounter::default(),
        chunk_rows: Rc::default(),
    }
}

/// A fresh, opened store with small chunks (so reads cross chunk boundaries), and its database.
pub fn store(chunk_size: u64) -> (Store<Db>, Db) {
    let db = db();
    let store = Store::with_chunk_size(db.clone(), chunk_size);
    store.open().unwrap();
    (store, db)
}

/// Every row of every table, for "nothing changed" assertions: the tables are read from
/// the schema, so that a table added later is never left out.
pub fn snapshot(db: &Db) -> Vec<String> {
    let tables = db
        .exec(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
            vec![],
        )
        .unwrap();
    let mut rows = Vec::new();
    for table in tables.iter().filter_map(|t| t[0].as_str()) {
        for row in db.exec(&format!("SELECT * FROM {table}"), vec![]).unwrap() {
            rows.push(format!("{table}: {row:?}"));
        }
    }
    rows.sort();
    rows
}

/// A git working repository in a temporary directory, driven by the real git CLI.
pub struct Repo {
    pub dir: tempfile::TempDir,
    tick: std::cell::Cell<u32>,
}

impl Repo {
    pub fn new() -> Repo {
        Repo::new_in(&std::env::temp_dir())
    }

    /// A new repository in a temporary directory under `parent`.
    pub fn new_in(parent: &Path) -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir_in(parent).unwrap(),
            tick: 0.into(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs git with `stdin`, returns stdout; panics on failure.
    pub fn git_with(&self, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        self.git_env(&[], args, stdin)
    }

    /// Runs git with `stdin` and the environment variables `env`, returns stdout; panics on
    /// failure.
    pub fn git_env(&self, env: &[(&str, &str)], args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let out = self.run(env, args, stdin);
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Runs git and returns its trimmed stdout, or None if it failed.
    pub fn try_git(&self, args: &[&str]) -> Option<String> {
        let out = self.run(&[], args, b"");
        let said = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
        out.status.success().then_some(said)
    }

    /// Runs git in the repository, isolated from the machine's configuration, with dates
    /// that advance a minute a call.
    fn run(&self, env: &[(&str, &str)], args: &[&str], stdin: &[u8]) -> std::process::Output {
        let tick = self.tick.get() + 1;
        self.tick.set(tick);
        let date = format!("{} +0000", 1_700_000_000 + tick * 60);
        let mut child = Command::new("git")
            .args([
                "-c",
                "user.name=Tester",
                "-c",
                "user.email=t@example.com",
                "-c",
                "core.autocrlf=false",
            ])
            .args(args)
            .current_dir(self.path())
            // The machine's own git configuration (a `commit.gpgsign`, a hook path) must not
            // change what the tests build.
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let stdin = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let _ = input.write_all(&stdin);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    }

    pub fn git(&self, args: &[&str]) -> String {
        String::from_utf8(self.git_with(args, b""))
            .unwrap()
            .trim_end()
            .to_string()
    }

    pub fn write(&self, name: &str, contents: &[u8]) {
        let path: PathBuf = self.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// A pack of everything reachable from `include` and not from `exclude`. One thread,
    /// so that the same objects always make the same pack (threads race in the delta search).
    pub fn pack(&self, include: &[&str], exclude: &[&str]) -> Vec<u8> {
        let mut args = vec![
            "pack-objects",
            "--revs",
            "--stdout",
            "--delta-base-offset",
            "--threads=1",
            "-q",
        ];
        let mut revs = String::new();
        for rev in include {
            if rev.starts_with("--") {
                args.push(rev);
            } else {
                revs.push_str(&format!("{rev}\n"));
            }
        }
        for rev in exclude {
            revs.push_str(&format!("^{rev}\n"));
        }
        self.git_with(&args, revs.as_bytes())
    }

    /// `refname -> oid` for every branch and tag.
    pub fn refs(&self) -> Vec<(String, String)> {
        self.git(&["for-each-ref", "--format=%(refname) %(objectname)"])
            .lines()
            .map(|l| {
                let (name, id) = l.split_once(' ').unwrap();
                (name.to_string(), id.to_string())
            })
            .collect()
    }
}

/// A repository with history: 40 commits over several files, a branch merged back,
/// an annotated and a lightweight tag, a binary file. Its pack has well over 100 objects.
/// Built once per version of this file and copied for each test: it takes ~150 git runs.
pub fn history_repo() -> Repo {
    let template = history_template();
    let repo = Repo {
        dir: tempfile::tempdir().unwrap(),
        tick: 0.into(),
    };
    let status = Command::new("cp")
        .arg("-a")
        .arg(template.join("."))
        .arg(repo.path())
        .status()
        .unwrap();
    assert!(status.success(), "copying the history fixture");
    let tick = std::fs::read_to_string(template.join(".git/fixture-tick")).unwrap();
    repo.tick.set(tick.trim().parse().unwrap());
    repo
}

/// The directory of the history fixture, built on first use. Its name carries a hash of
/// this file, so a changed fixture is built anew; the build goes to a private directory that
/// is then renamed into place, so test processes running at once never see half of it.
fn history_template() -> PathBuf {
    static TEMPLATE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            use sha1::Digest;
            let version = hex::encode(&sha1::Sha1::digest(include_str!("mod.rs"))[..6]);
            // Integration tests have a target tmp directory; the fuzz targets, which share
            // this file, use the system's.
            let root = option_env!("CARGO_TARGET_TMPDIR")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            let root = root.as_path();
            let dir = root.join(format!("history-{version}"));
            if !dir.join(".git/fixture-tick").exists() {
                std::fs::create_dir_all(root).unwrap();
                let repo = build_history_repo(Repo::new_in(root));
                std::fs::write(
                    repo.path().join(".git/fixture-tick"),
                    repo.tick.get().to_string(),
                )
                .unwrap();
                let built = repo.dir.keep();
                if std::fs::rename(&built, &dir).is_err() {
                    // Another test process got there first.
                    std::fs::remove_dir_all(&built).unwrap();
                }
            }
            dir
        })
        .clone()
}

fn build_history_repo(repo: Repo) -> Repo {
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!(
            "line {i}: the quick brown fox jumps over the lazy dog\n"
        ));
        repo.write("notes.txt", text.as_bytes());
        repo.write(
            &format!("dir{}/file{i}.txt", i % 4),
            format!("file {i}\n").as_bytes(),
        );
        repo.commit(&format!("commit {i}"));
        if i == 10 {
            repo.git(&["tag", "-a", "v1.0", "-m", "release 1.0"]);
            repo.git(&["tag", "light"]);
        }
    }
    repo.git(&["checkout", "-q", "-b", "topic"]);
    repo.write(
        "topic.bin",
        &(0..=255u8).cycle().take(10_000).collect::<Vec<_>>(),
    );
    repo.commit("binary on topic");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("main-only.txt", b"main\n");
    repo.commit("main moves on");
    repo.git(&["merge", "-q", "--no-edit", "topic"]);
    repo
}

/// A receive-pack request body: commands (first with capabilities), flush, pack.
pub fn push_body(commands: &[(String, String, String)], caps: &str, pack: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (i, (old, new, name)) in commands.iter().enumerate() {
        let line = if i == 0 {
            format!("{old} {new} {name}\0{caps}")
        } else {
            format!("{old} {new} {name}")
        };
        pktline::write_str(&mut body, &line);
    }
    body.extend_from_slice(pktline::FLUSH);
    body.extend_from_slice(pack);
    body
}

pub const ZERO: &str = "0000000000000000000000000000000000000000";

/// A pack entry: its header for an entry at pack offset `at` (which an OFS_DELTA's base
/// distance is counted from), then `data` deflated.
pub fn pack_entry(kind: EntryKind, data: &[u8], at: u64) -> Vec<u8> {
    let mut entry = pack::encode_entry_header(kind, data.len() as u64, at);
    entry.extend_from_slice(&zlib::deflate(data));
    entry
}

/// A whole object's pack entry.
pub fn whole_entry(kind: ObjectType, data: &[u8]) -> Vec<u8> {
    pack_entry(EntryKind::Whole(kind), data, 0)
}

/// Recomputes a pack's trailing checksum after the test tampered with its body.
pub fn reseal(mut pack: Vec<u8>) -> Vec<u8> {
    use sha1::Digest;
    let len = pack.len() - 20;
    let sum: [u8; 20] = sha1::Sha1::digest(&pack[..len]).into();
    pack[len..].copy_from_slice(&sum);
    pack
}

/// A pack made of raw entries.
pub fn raw_pack(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut pack = pack::header(entries.len() as u32).to_vec();
    for entry in entries {
        pack.extend_from_slice(entry);
    }
    pack.extend_from_slice(&[0; 20]);
    reseal(pack)
}

/// Feeds `body` in pieces of `piece` bytes and returns the response body.
pub fn run_push(store: &Store<Db>, body: &[u8], piece: usize) -> Result<Vec<u8>, BadRequest> {
    run_push_within(store, body, piece, &Limits::default())
}

/// The default limits, but a push of more than `entries` objects writes its entries to rows
/// (the path of large pushes, taken by small test pushes).
pub fn holding(entries: usize) -> Limits {
    Limits {
        held_entries: entries,
        ..Limits::default()
    }
}

/// [`run_push`] within `limits`.
pub fn run_push_within(
    store: &Store<Db>,
    body: &[u8],
    piece: usize,
    limits: &Limits,
) -> Result<Vec<u8>, BadRequest> {
    let mut push = ReceivePack::new(store, limits);
    for part in body.chunks(piece) {
        if let Err(e) = push.feed(part) {
            push.abort().unwrap();
            return Err(e);
        }
    }
    push.finish()
}

/// The report-status lines of a response, side-band or not.
pub fn report_lines(response: &[u8]) -> Vec<String> {
    let packets = |bytes: &[u8]| -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some((pkt, len)) = pktline::decode(&bytes[pos..]).unwrap() {
            pos += len;
            if let Pkt::Data(d) = pkt {
                out.push(d.to_vec());
            }
        }
        out
    };
    let outer = packets(response);
    let banded = outer.first().is_some_and(|d| matches!(d[0], 1..=3));
    let report = if banded {
        outer
            .iter()
            .filter(|d| d[0] == 1)
            .flat_map(|d| d[1..].to_vec())
            .collect()
    } else {
        response.to_vec()
    };
    packets(&report)
        .iter()
        .map(|d| String::from_utf8_lossy(d).trim_end().to_string())
        .collect()
}

/// Pushes every branch and tag of `repo` into `store` as a new repository.
pub fn push_all(
    store: &Store<Db>,
    repo: &Repo,
    caps: &str,
    piece: usize,
) -> (Vec<String>, Vec<u8>) {
    let refs = repo.refs();
    let commands: Vec<_> = refs
        .iter()
        .map(|(name, id)| (ZERO.to_string(), id.clone(), name.clone()))
        .collect();
    let pack = repo.pack(&["--all"], &[]);
    let lines = report_lines(&run_push(store, &push_body(&commands, caps, &pack), piece).unwrap());
    (lines, pack)
}

/// An upload-pack request: `want`s (capabilities on the first), extra lines, flush, `have`s,
/// then `done` or a flush (another negotiation round).
pub fn upload_request(
    wants: &[String],
    caps: &str,
    extra: &[String],
    haves: &[String],
    done: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, id) in wants.iter().enumerate() {
        let line = if i == 0 {
            format!("want {id} {caps}\n")
        } else {
            format!("want {id}\n")
        };
        pktline::write_str(&mut out, &line);
    }
    for line in extra {
        pktline::write_str(&mut out, &format!("{line}\n"));
    }
    out.extend_from_slice(pktline::FLUSH);
    for id in haves {
        pktline::write_str(&mut out, &format!("have {id}\n"));
    }
    if done {
        pktline::write_str(&mut out, "done\n");
    } else {
        out.extend_from_slice(pktline::FLUSH);
    }
    out
}

/// Splits an upload-pack response into its negotiation lines and the pack on band 1;
/// a band-3 message is an error.
pub fn split_response(body: &[u8]) -> Result<(Vec<String>, Vec<u8>), String> {
    let mut lines = Vec::new();
    let mut pack = Vec::new();
    let mut pos = 0;
    while let Some((pkt, len)) = pktline::decode(&body[pos..]).map_err(|e| e.to_string())? {
        pos += len;
        if let Pkt::Data(data) = pkt {
            match data.first() {
                Some(1) => pack.extend_from_slice(&data[1..]),
                Some(2) => {}
                Some(3) => return Err(String::from_utf8_lossy(&data[1..]).into_owned()),
                _ => lines.push(String::from_utf8_lossy(data).trim_end().to_string()),
            }
        }
    }
    Ok((lines, pack))
}

/// The body of an upload-pack answer, negotiation and pack, as sent.
pub fn answer_body(answer: Answer<Db>) -> Vec<u8> {
    match answer {
        Answer::Negotiation(bytes) => bytes,
        Answer::Pack(mut response, pack) => {
            for piece in *pack {
                response.extend_from_slice(&piece.unwrap());
            }
            response
        }
    }
}

/// Indexes `pack` into the bare repository `into` with git: the (offset, id) of each entry.
pub fn show_index(into: &Repo, pack: &[u8]) -> Vec<(u64, String)> {
    let name = into.git_with(&["index-pack", "--stdin"], pack);
    let name = String::from_utf8(name).unwrap();
    let idx = into.path().join(".git/objects/pack").join(format!(
        "pack-{}.idx",
        name.trim().trim_start_matches("pack\t")
    ));
    let listing = into.git_with(&["show-index"], &std::fs::read(idx).unwrap());
    String::from_utf8(listing)
        .unwrap()
        .lines()
        .map(|l| {
            let mut fields = l.split(' ');
            let offset = fields.next().unwrap().parse().unwrap();
            (offset, fields.next().unwrap().to_string())
        })
        .collect()
}

/// The ends file of `pack` as git's index tells it: the count of its entries, where each
/// starts in pack order, and where its trailer starts, 8 bytes big-endian each.
pub fn ends_file_of(pack: &[u8]) -> Vec<u8> {
    let mut starts: Vec<u64> = show_index(&Repo::new(), pack)
        .into_iter()
        .map(|(offset, _)| offset)
        .collect();
    starts.sort_unstable();
    [starts.len() as u64]
        .into_iter()
        .chain(starts)
        .chain([pack.len() as u64 - 20])
        .flat_map(u64::to_be_bytes)
        .collect()
}

/// Runs one request and returns (negotiation lines, pack bytes).
pub fn fetch(store: &Store<Db>, body: &[u8]) -> (Vec<String>, Vec<u8>) {
    split_response(&answer_bytes(store, body)).unwrap()
}

/// The body of one request's answer, negotiation and pack, as sent.
pub fn answer_bytes(store: &Store<Db>, body: &[u8]) -> Vec<u8> {
    let request = upload_pack::parse_request(body, &Limits::default()).unwrap();
    answer_body(upload_pack::serve(store, request).unwrap())
}

/// Indexes `pack` into the bare repository `into` with git and returns the ids it holds.
pub fn index(into: &Repo, pack: &[u8]) -> BTreeSet<String> {
    show_index(into, pack)
        .into_iter()
        .map(|(_, id)| id)
        .collect()
}

/// A stored file's bytes, all its rows in order.
pub fn stored_file(store: &Store<Db>, pack: PackId, file: impl Into<ChunkFile>) -> Vec<u8> {
    let file = file.into();
    let mut out = Vec::new();
    let mut seq = 0;
    while let Some(chunk) = store.read_chunk(pack, file, seq).unwrap() {
        out.extend_from_slice(&chunk);
        seq += 1;
    }
    out
}

/// Runs maintenance to its end at `now` (seconds), with `grace` seconds for unreachable
/// objects and small slices, so that every phase takes several; returns its account.
pub fn maintain(store: &Store<Db>, now: i64, grace: i64) -> maintenance::Report {
    maintain_in(store, now, grace, &SMALL_SLICES)
}

/// [`maintain`] in slices of `slice`.
pub fn maintain_in(
    store: &Store<Db>,
    now: i64,
    grace: i64,
    slice: &maintenance::Slice,
) -> maintenance::Report {
    let now_ms = move || now * 1000;
    let host = maintenance::Host {
        now_ms: &now_ms,
        memory: &|| None,
    };
    maintenance::start(store, &host, grace).unwrap();
    loop {
        match maintenance::step(store, &host, slice).unwrap() {
            maintenance::Step::Done(report) => return *report,
            maintenance::Step::Working => {}
            maintenance::Step::Idle => panic!("no repack in progress"),
        }
    }
}

/// Slices small enough that a test repository takes several of each phase.
pub const SMALL_SLICES: maintenance::Slice = maintenance::Slice {
    walk: 7,
    objects: 5,
    anew: 3,
    bytes: 4096,
    seal: 1,
    settle: 0,
    in_memory: maintenance::WALK_IN_MEMORY,
    write_in_memory: maintenance::WRITE_IN_MEMORY,
    take_in: 1,
};

/// [`SMALL_SLICES`] whose walk goes on in rows after its first slice.
pub const SMALL_SLICES_IN_ROWS: maintenance::Slice = maintenance::Slice {
    in_memory: 0,
    ..SMALL_SLICES
};
