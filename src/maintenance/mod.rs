//! Maintenance (git's `gc --auto`): a repack of everything the refs reach into one pack
//! with a delta search, the pruning of what they have not reached for a grace period, and
//! the deletion of what the repack replaced once no reader can hold it.
//!
//! A repack runs in slices, each a bounded piece of work in one transaction that also
//! records where the next one starts: a failure or a restart at any point loses at most
//! the slice, and the repository stays as it was until the last slice swaps the new pack
//! in. The phases: walk (`mark`), write (`write`), seal (the pack's checksum and idx), swap.

use serde::{Deserialize, Serialize};

use crate::format::checksum::Checksum;
use crate::format::ends;
use crate::format::object::ObjectId;
use crate::format::pack::{self, PackId, HEADER_LEN};
use crate::index_pack::{write_idx, IdxEntries};
use crate::store::sql::{Rows, Sql};
use crate::store::{
    ChunkFile, ChunkWriter, Footprint, IdxSource, ObjectReader, PackFile, Store, StoreError,
    SwapReport, TakeIn, Unsaved, Walk,
};

pub mod mark;
pub mod write;

use write::{PackWriter, Tally};

/// Loose objects that make a repack due at once: each costs a dumb client a request and a
/// smart clone a deflate, where a packed one costs neither.
pub const LOOSE_LIMIT: u64 = 256;
/// Live packs that make a repack due at once: each costs a dumb client an idx.
pub const PACK_LIMIT: u64 = 8;
/// How long after the last push a repository with anything new is repacked (seconds).
pub const QUIET: i64 = 600;
/// How long unreachable objects are kept by default (git's `gc.pruneExpire`, two weeks).
pub const GRACE: i64 = 14 * 86_400;
/// How long what a repack replaced is still served to readers that listed it (seconds).
pub const READER_GRACE: i64 = 3600;
/// The shortest wait before the alarm comes back for what was retired, or to try again
/// after a failed run (seconds), unless [`Timing`] makes those shorter.
pub const MIN_WAIT: i64 = 60;

/// When maintenance's timed jobs come, each set by a `[vars]` entry (see [`crate::limits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// `MAINTENANCE_QUIET_SECONDS`: how long after the last change a repack comes.
    pub quiet: i64,
    /// `PRUNE_GRACE_SECONDS`: how long an unreachable object is kept.
    pub grace: i64,
    /// `RETIRED_SWEEP_SECONDS`: how long what a repack replaced is still served to readers
    /// that listed it, before the alarm deletes it.
    pub sweep: i64,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            quiet: QUIET,
            grace: GRACE,
            sweep: READER_GRACE,
        }
    }
}

impl Timing {
    /// The default timing with another grace for unreachable objects.
    pub fn with_grace(grace: i64) -> Timing {
        Timing {
            grace,
            ..Timing::default()
        }
    }

    /// How long the alarm waits before it tries again after a failed run.
    pub fn retry(&self) -> i64 {
        MIN_WAIT.min(self.quiet).max(1)
    }
}

/// The `meta` key of the time of the last accepted push, in seconds, which the host records.
pub const LAST_PUSH: &str = "last_push";

/// Seconds without a push after which an alarm's repack takes in what pushes brought once
/// its pack is sealed (see [`Slice::settle`]).
pub const SETTLE_SECONDS: i64 = 2;

/// Seconds a sealed pack waits for pushes to stop at most: a repository pushed to without
/// pause is still maintained.
const MAX_SETTLE_SECONDS: i64 = 60;

/// Objects a repack's walk holds in memory at most (about 13 MiB: each of its sixteen maps
/// of 2^15 slots holds 7/8 of a sixteenth of that without growing); past it, the walk goes
/// on in rows.
pub const WALK_IN_MEMORY: usize = 458_752;

/// Objects a repack writes a pack for from memory at most: as many as its walk holds, each
/// with its place, where it is and where it went in 72 bytes (31.5 MiB for this many, beside
/// the walk's map while they move out of it); a repack of more orders and records its
/// objects in rows.
pub const WRITE_IN_MEMORY: usize = WALK_IN_MEMORY;

/// Pages of the index a slice takes in of the exact pack (about 50,000 objects): a few
/// milliseconds, where git/git's whole index in one turn would hold a request up for the
/// tenth of a second.
const TAKE_IN_PAGES: usize = 64;

/// Slices that fail in a row before a repack is given up.
const MAX_FAILURES: i64 = 3;

/// How much one slice does at most.
#[derive(Clone, Copy, Debug)]
pub struct Slice {
    /// Objects the walk reads.
    pub walk: usize,
    /// Objects written.
    pub objects: usize,
    /// Objects written anew at most, a delta searched for or the object rebuilt whole (past
    /// it, the slice ends after the current object): each costs tens of copies of a stored
    /// entry.
    pub anew: usize,
    /// Bytes read while writing them (past it, the slice ends after the current object).
    pub bytes: u64,
    /// Bytes of the new pack hashed.
    pub seal: u64,
    /// Seconds a sealed pack waits for pushes to stop before it takes in what they brought
    /// (0: at once). Taking them in rewrites the pack's order, checksum and idx, so during a
    /// burst of pushes it is done once at the end, not after each.
    pub settle: i64,
    /// Objects the walk holds in memory before it goes on in rows (see
    /// [`crate::store::Walk`]).
    pub in_memory: usize,
    /// Objects a pack is written for from memory at most (see [`WRITE_IN_MEMORY`]).
    pub write_in_memory: usize,
    /// Pages of the index (about 800 objects each) of the exact pack a walk takes in whole
    /// (see [`Store::walk_in_memory`]).
    pub take_in: usize,
}

impl Default for Slice {
    /// Each well under a second of CPU on go-git's history (see the note): for a
    /// repack run to its end within one request (a purge).
    fn default() -> Slice {
        Slice {
            walk: 2000,
            objects: 5000,
            anew: 5000,
            bytes: 32 << 20,
            seal: 64 << 20,
            settle: 0,
            in_memory: WALK_IN_MEMORY,
            write_in_memory: WRITE_IN_MEMORY,
            take_in: TAKE_IN_PAGES,
        }
    }
}

impl Slice {
    /// One turn of the alarm: what a request that arrives meanwhile waits for at most, since
    /// the alarm gives the object back after each. Under `wrangler dev` on go-git's history
    /// (all its refs), turns of 400 objects walked took 1 to 16 ms, 4 on average; of 500
    /// written, 3 to 8 ms when all were copies, 10 to 23 ms with about 30 written anew; and
    /// each turn waited about 7 ms for the alarm to come back, more than it worked. So turns
    /// walk twice as many, with at most 64 objects written anew. Since copies find their
    /// entries' ends in the packs' ends files, turns of 2,000 copies of git/git's history
    /// (8 MiB) take 3 to 17 ms: a turn still well under the 50 ms a request should wait at
    /// most, and half the turns (git/git's repack after a commit: 524 turns, 7.1 s, then
    /// 268, 5.3 s).
    pub fn turn() -> Slice {
        Slice {
            walk: 800,
            objects: 2000,
            anew: 64,
            bytes: 8 << 20,
            seal: 8 << 20,
            settle: SETTLE_SECONDS,
            in_memory: WALK_IN_MEMORY,
            write_in_memory: WRITE_IN_MEMORY,
            take_in: TAKE_IN_PAGES,
        }
    }
}

/// What the host tells maintenance: the time, and how much memory it holds.
pub struct Host<'a> {
    /// Milliseconds since the epoch.
    pub now_ms: &'a dyn Fn() -> i64,
    /// Bytes of memory the host holds (wasm's linear memory), if it can tell.
    pub memory: &'a dyn Fn() -> Option<u64>,
}

impl Host<'_> {
    fn now(&self) -> i64 {
        (self.now_ms)() / 1000
    }
}

/// Where a repack is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Phase {
    /// Walking from the refs.
    Mark,
    /// Writing the objects in order.
    Write,
    /// Hashing the pack, then writing its trailer and idx.
    Seal,
    /// Written and indexed, to be swapped in.
    Swap {
        name: String,
        size: u64,
        idx_size: u64,
    },
}

/// A repack in progress, kept in `meta` between slices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Progress {
    started_ms: i64,
    busy_ms: i64,
    slices: u32,
    /// Unreachable objects older than this many seconds are pruned.
    grace: i64,
    /// The refs' version when it started, and the one whose tips were walked last.
    first_version: i64,
    version: i64,
    before: Before,
    phase: Phase,
    pack: Option<i64>,
    /// The place of the last object written, the bytes of entries, the objects written.
    cursor: i64,
    written: u64,
    count: u64,
    sealed: u64,
    checksum: Option<String>,
    tally: Tally,
    /// The rows its slices read and wrote so far.
    #[serde(default)]
    rows: Rows,
    /// Once sealed with the refs moved: since when, and until when, it waits for pushes to
    /// stop (see [`Slice::settle`]).
    #[serde(default)]
    settling: Option<(i64, i64)>,
    /// Whether the walk is in memory (see [`crate::store::Walk`]); a progress saved by
    /// earlier code has its walk in rows.
    #[serde(default)]
    in_memory: bool,
}

impl Progress {
    /// A run started at `started_ms`, at refs version `version`, with nothing done yet and
    /// its walk in rows.
    fn new(started_ms: i64, grace: i64, version: i64, before: Before) -> Progress {
        Progress {
            started_ms,
            busy_ms: 0,
            slices: 0,
            grace,
            first_version: version,
            version,
            before,
            phase: Phase::Mark,
            pack: None,
            cursor: 0,
            written: 0,
            count: 0,
            sealed: 0,
            checksum: None,
            tally: Tally::default(),
            rows: Rows::default(),
            settling: None,
            in_memory: false,
        }
    }

    /// The pack being written, which every phase after the walk has.
    fn pack(&self) -> Result<PackId, StoreError> {
        self.pack.map(PackId).ok_or(StoreError::BadColumn("repack"))
    }
}

/// What the repository held when the repack started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Before {
    packs: u64,
    loose: u64,
    bytes: u64,
}

/// The account of a maintenance run, kept for the repository's summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// When it started and finished, seconds since the epoch.
    pub started: i64,
    /// When it finished.
    pub finished: i64,
    /// Milliseconds from start to finish, and of them, spent working in slices.
    pub took_ms: i64,
    /// Milliseconds spent in slices.
    pub busy_ms: i64,
    /// Slices it took.
    pub slices: u32,
    /// Objects the refs reach, now in one pack.
    pub objects: u64,
    /// The pack they are in (its name), if any.
    pub pack: Option<String>,
    /// Bytes of that pack.
    pub pack_bytes: u64,
    /// Packs, loose objects and bytes before and after.
    pub packs_before: u64,
    /// Loose objects before.
    pub loose_before: u64,
    /// Bytes stored before.
    pub bytes_before: u64,
    /// Live packs after.
    pub packs_after: u64,
    /// Loose objects after (unreachable ones kept).
    pub loose_after: u64,
    /// Stored entries reused, deltas among them, deltas made, objects rebuilt whole.
    pub tally: Tally,
    /// Objects pruned, and unreachable ones kept for their grace period.
    pub pruned: u64,
    /// Unreachable objects kept.
    pub kept_unreachable: u64,
    /// Packs retired.
    pub retired_packs: u64,
    /// The grace period unreachable objects had, in seconds.
    pub grace: i64,
    /// The refs' version it made the pack for.
    pub refs_version: i64,
    /// The host's memory when it finished (wasm memory never shrinks: its peak).
    pub memory: Option<u64>,
    /// Why it was given up, if it was.
    pub error: Option<String>,
    /// Rows its slices read, as the platform bills them (see [`Rows`]).
    #[serde(default)]
    pub rows_read: u64,
    /// Rows its slices wrote.
    #[serde(default)]
    pub rows_written: u64,
}

impl Report {
    /// The account of `progress`'s run as it ends now: its times, slices, grace and the
    /// host's memory; the rest left empty for what the run did.
    fn of_run(progress: &Progress, host: &Host) -> Report {
        Report {
            started: progress.started_ms / 1000,
            finished: host.now(),
            took_ms: (host.now_ms)() - progress.started_ms,
            busy_ms: progress.busy_ms,
            slices: progress.slices,
            grace: progress.grace,
            memory: (host.memory)(),
            rows_read: progress.rows.read,
            rows_written: progress.rows.written,
            ..Report::default()
        }
    }
}

impl Due {
    /// How many milliseconds from `now_ms` the alarm is set for `self`, or None for no alarm:
    /// never less than one. Inside an alarm handler the clock stands still at the handler's
    /// start, which can be the very millisecond the alarm was set for; the runtime takes an
    /// alarm set to the time it is running as no change and deletes it when the handler
    /// returns, which would leave a repack in progress with no alarm to finish it.
    pub fn alarm_delay(self, now_ms: i64) -> Option<i64> {
        match self {
            Due::Now => Some(1),
            Due::At(at) => Some(at.saturating_mul(1000).saturating_sub(now_ms).max(1)),
            Due::Never => None,
        }
    }
}

/// What one call of [`step`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// No repack is in progress.
    Idle,
    /// A slice was done; more are needed.
    Working,
    /// The repack is done.
    Done(Box<Report>),
}

/// When maintenance should run next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Now: a repack is in progress, or the repository is past a threshold.
    Now,
    /// At this time (seconds since the epoch).
    At(i64),
    /// Nothing to do.
    Never,
}

impl Due {
    /// The earlier of the two.
    pub fn sooner(self, other: Due) -> Due {
        match (self, other) {
            (Due::Now, _) | (_, Due::Now) => Due::Now,
            (Due::At(a), Due::At(b)) => Due::At(a.min(b)),
            (Due::At(at), Due::Never) | (Due::Never, Due::At(at)) => Due::At(at),
            (Due::Never, Due::Never) => Due::Never,
        }
    }
}

const PROGRESS: &str = "repack";
const REPORT: &str = "maintenance";
const FAILURES: &str = "repack_failures";

fn json_error(e: serde_json::Error) -> StoreError {
    StoreError::Sql(crate::store::sql::SqlError(format!(
        "bad maintenance state: {e}"
    )))
}

/// The value kept as JSON under `key`, if any.
fn read_json<S: Sql, T: serde::de::DeserializeOwned>(
    store: &Store<S>,
    key: &str,
) -> Result<Option<T>, StoreError> {
    store
        .meta(key)?
        .map(|text| serde_json::from_str(&text).map_err(json_error))
        .transpose()
}

/// Keeps `value` as JSON under `key`.
fn write_json<S: Sql>(
    store: &Store<S>,
    key: &str,
    value: &impl Serialize,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(value).map_err(json_error)?;
    store.set_meta(key, Some(&text))
}

fn load<S: Sql>(store: &Store<S>) -> Result<Option<Progress>, StoreError> {
    read_json(store, PROGRESS)
}

fn save<S: Sql>(store: &Store<S>, progress: &Progress) -> Result<(), StoreError> {
    write_json(store, PROGRESS, progress)
}

/// The last maintenance run's account, if there was one.
pub fn last_report<S: Sql>(store: &Store<S>) -> Result<Option<Report>, StoreError> {
    read_json(store, REPORT)
}

/// Whether a repack is in progress.
pub fn in_progress<S: Sql>(store: &Store<S>) -> Result<bool, StoreError> {
    Ok(store.meta(PROGRESS)?.is_some())
}

/// When a repack is due: now past [`LOOSE_LIMIT`] or [`PACK_LIMIT`]; if anything changed
/// since the last repack, the quiet time after the last push or the last run, whichever came
/// later (so a run that failed is tried again a quiet time after it, not at once); else when
/// an unreachable object's grace ends.
pub fn due<S: Sql>(store: &Store<S>, now: i64, timing: &Timing) -> Result<Due, StoreError> {
    if let Some(progress) = load(store)? {
        return Ok(match progress.settling {
            Some((_, until)) if until > now => Due::At(until),
            _ => Due::Now,
        });
    }
    let backlog = store.backlog()?;
    if backlog.loose >= LOOSE_LIMIT || backlog.packs >= PACK_LIMIT {
        return Ok(Due::Now);
    }
    let last = last_report(store)?;
    let changed = match &last {
        Some(last) if last.error.is_none() => {
            backlog.loose > last.loose_after
                || backlog.packs > last.packs_after
                || store.refs_version()? != last.refs_version
        }
        _ => backlog.loose > 0 || backlog.packs > 0,
    };
    if changed {
        let pushed = store.meta(LAST_PUSH)?.and_then(|t| t.parse::<i64>().ok());
        let since = pushed.unwrap_or(0).max(last.map_or(0, |run| run.finished));
        return Ok(Due::At(since.saturating_add(timing.quiet).max(now)));
    }
    Ok(match store.unreachable_expiry(timing.grace)? {
        Some(at) => Due::At(at.max(now)),
        None => Due::Never,
    })
}

/// When the alarm should next wake: when a repack is `due`, or when what was retired may be
/// swept, but not before [`MIN_WAIT`] (or the sweep's delay, if shorter) from `now` for that
/// (a reader in flight may hold it).
pub fn next_alarm<S: Sql>(
    store: &Store<S>,
    now: i64,
    due: Due,
    timing: &Timing,
) -> Result<Due, StoreError> {
    let sweep = store
        .retired_expiry(timing.sweep)?
        .map(|at| at.max(now + MIN_WAIT.min(timing.sweep)));
    Ok(due.sooner(sweep.map_or(Due::Never, Due::At)))
}

/// Starts a repack that prunes what has been unreachable for `grace` seconds, unless one is
/// in progress: then it only lowers that one's grace to `grace`, if lower (the alarm calls
/// this every turn, so it writes nothing otherwise).
pub fn start<S: Sql>(store: &Store<S>, host: &Host, grace: i64) -> Result<(), StoreError> {
    let rows_before = store.rows();
    let walk = store.transaction(|| {
        if let Some(mut progress) = load(store)? {
            if grace < progress.grace {
                progress.grace = grace;
                save(store, &progress)?;
            }
            return Ok(None);
        }
        let started_ms = (host.now_ms)();
        store.clear_repack(None)?;
        let walk = store.walk_in_memory(started_ms, WALK_IN_MEMORY, true)?;
        let version = store.refs_version()?;
        let Footprint {
            packs,
            loose,
            bytes,
        } = store.footprint()?;
        let before = Before {
            packs,
            loose,
            bytes,
        };
        store.set_meta(FAILURES, None)?;
        save(
            store,
            &Progress {
                rows: store.rows().since(rows_before),
                in_memory: matches!(walk, Walk::Memory(_)),
                ..Progress::new(started_ms, grace, version, before)
            },
        )?;
        Ok(Some(walk))
    })?;
    // Kept once the run is recorded: a failed start leaves no walk behind.
    if let Some(Walk::Memory(walk)) = walk {
        store.keep_walk(walk);
    }
    Ok(())
}

/// Does one slice of the repack in progress, in one transaction. A slice that fails leaves
/// nothing behind and is tried again by the next call; after [`MAX_FAILURES`] in a row the
/// repack is given up and the failure reported.
pub fn step<S: Sql>(store: &Store<S>, host: &Host, slice: &Slice) -> Result<Step, StoreError> {
    let Some(mut progress) = load(store)? else {
        return Ok(Step::Idle);
    };
    if let Some(unsaved) = store.unsaved(progress.started_ms) {
        progress.slices = unsaved.slices;
        progress.busy_ms = unsaved.busy_ms;
        progress.rows = unsaved.rows;
    }
    let loaded = progress.clone();
    let begun = (host.now_ms)();
    let rows_before = store.rows();
    let outcome = store.transaction(|| {
        let done = run_slice(store, &mut progress, slice, host)?;
        progress.slices += 1;
        progress.busy_ms += (host.now_ms)() - begun;
        progress.rows += store.rows().since(rows_before);
        match done {
            None => {
                if !(only_counted(&loaded, &progress) && keep_counts(store, &progress)) {
                    save(store, &progress)?;
                    store.set_unsaved(progress.started_ms, None);
                }
                Ok(Step::Working)
            }
            Some(swapped) => {
                let report = finish(store, &progress, swapped, host)?;
                Ok(Step::Done(Box::new(report)))
            }
        }
    });
    match outcome {
        Ok(step) => {
            store.set_meta(FAILURES, None)?;
            Ok(step)
        }
        Err(e) => {
            // What the slice changed of a walk in memory is not in the rows it rolled back.
            store.take_walk(progress.started_ms);
            // The slice's own error is the answer; should counting it fail too, the count
            // is only lower and the next slice tries again.
            let failures = store.meta(FAILURES).ok().flatten();
            let failures = failures.and_then(|n| n.parse().ok()).unwrap_or(0) + 1;
            let _ = match failures >= MAX_FAILURES {
                // As it was before the slice: what the slice changed of it was rolled back
                // (a lost walk's restart forgets the pack that the rows still hold).
                true => give_up(store, &loaded, host, &e),
                false => store.set_meta(FAILURES, Some(&failures.to_string())),
            };
            Err(e)
        }
    }
}

/// Whether a slice changed nothing of `before` but its counts (a slice of a walk in memory
/// that refs did not move under).
fn only_counted(before: &Progress, after: &Progress) -> bool {
    let uncounted = |p: &Progress| Progress {
        slices: 0,
        busy_ms: 0,
        rows: Rows::default(),
        ..p.clone()
    };
    after.in_memory && uncounted(before) == uncounted(after)
}

/// Keeps a run's counts with its walk in memory instead of writing its progress; false if
/// the walk is not there to hold them.
fn keep_counts<S: Sql>(store: &Store<S>, progress: &Progress) -> bool {
    let unsaved = Unsaved {
        slices: progress.slices,
        busy_ms: progress.busy_ms,
        rows: progress.rows,
    };
    store.set_unsaved(progress.started_ms, Some(unsaved))
}

/// Runs slices until the repack is done or `budget_ms` has passed; returns whether it is
/// done (or none was in progress).
pub fn run<S: Sql>(
    store: &Store<S>,
    host: &Host,
    slice: &Slice,
    budget_ms: i64,
) -> Result<bool, StoreError> {
    let begun = (host.now_ms)();
    loop {
        match step(store, host, slice)? {
            Step::Idle | Step::Done(_) => return Ok(true),
            Step::Working if (host.now_ms)() - begun >= budget_ms => return Ok(false),
            Step::Working => {}
        }
    }
}

/// A slice of the current phase; `Some` once the repack is swapped in. The walk is taken
/// for the slice and kept for the next (a failed slice loses it: see [`resume_walk`]).
fn run_slice<S: Sql>(
    store: &Store<S>,
    progress: &mut Progress,
    slice: &Slice,
    host: &Host,
) -> Result<Option<(Option<PackId>, SwapReport)>, StoreError> {
    let mut walk = resume_walk(store, progress)?;
    let swapped = match progress.phase.clone() {
        Phase::Mark => mark_slice(store, progress, &mut walk, slice, host)?,
        Phase::Write => write_slice(store, progress, &mut walk, slice).map(|()| None)?,
        Phase::Seal => seal_slice(store, progress, &walk, slice).map(|()| None)?,
        Phase::Swap {
            name,
            size,
            idx_size,
        } => {
            if store.refs_version()? != progress.version {
                if settled(store, progress, slice, host)? {
                    refs_moved(store, progress, &mut walk)?;
                    reopen(store, progress)?;
                }
                None
            } else {
                let pack = progress.pack()?;
                let pack = store.seal_repack(pack, &name, size, idx_size)?;
                Some(swap(store, progress, Some(pack), true, &walk, host)?)
            }
        }
    };
    if swapped.is_none() {
        keep_walk(store, progress, walk);
    }
    Ok(swapped)
}

/// Whether the refs changed since their tips were last walked; if they did, the new tips
/// join the walk.
fn refs_moved<S: Sql>(
    store: &Store<S>,
    progress: &mut Progress,
    walk: &mut Walk,
) -> Result<bool, StoreError> {
    let version = store.refs_version()?;
    if version == progress.version {
        return Ok(false);
    }
    store.repack_add_tips(walk)?;
    progress.version = version;
    Ok(true)
}

fn mark_slice<S: Sql>(
    store: &Store<S>,
    progress: &mut Progress,
    walk: &mut Walk,
    slice: &Slice,
    host: &Host,
) -> Result<Option<(Option<PackId>, SwapReport)>, StoreError> {
    if let Walk::Memory(memory) = walk {
        // Once a pack is being written, the walk holds where its objects went as well.
        memory.set_budget(match progress.pack {
            Some(_) => slice.write_in_memory,
            None => slice.in_memory,
        });
    }
    // As at its start: a failure to take the pack in makes the walk read everything.
    match store.take_in(walk, slice.take_in).unwrap_or(TakeIn::Failed) {
        TakeIn::Done => {}
        TakeIn::Pending => return Ok(None),
        TakeIn::Failed => return walk_everything(store, progress, walk, slice).map(|()| None),
    }
    let reader = ObjectReader::new(store);
    // A call may walk fewer than asked (the queue run out before what trees named is looked
    // up): the slice calls again until it has its count, or its links pass `MAX_LINKS`
    // (trees of many entries: what a turn reads is bounded by them, not by its count).
    let (mut walked, mut links) = (0, 0);
    while walked < slice.walk && links < mark::MAX_LINKS {
        let marked = mark::walk(store, &reader, walk, slice.walk - walked)?;
        if marked.walked == 0 {
            break;
        }
        walked += marked.walked;
        links += marked.links;
    }
    if walked > 0 || refs_moved(store, progress, walk)? {
        return Ok(None);
    }
    // Showing a tip reachable only spares work: a failure to read the history on the way
    // leaves the tips unproven, and the walk reads everything.
    let _ = mark::prove_by_history(store, walk);
    if !walk.proven() {
        // The pack it took in whole may hold what no ref reaches now (a branch deleted or
        // rewound since).
        return walk_everything(store, progress, walk, slice).map(|()| None);
    }
    if progress.pack.is_none() {
        if store.repack_is_empty(walk)? {
            return swap(store, progress, None, false, walk, host).map(Some);
        }
        if let Some(pack) = store.repack_matching_pack(walk)? {
            return swap(store, progress, Some(pack), false, walk, host).map(Some);
        }
        if store.repack_count(walk)? > slice.write_in_memory as u64 {
            store.spill_walk(walk)?;
        }
        if let Walk::Memory(memory) = walk {
            // From now on it holds where its objects went as well: tips that join it
            // before the next walk's slice are held to that budget too.
            memory.set_budget(slice.write_in_memory);
        }
        let pack = store.begin_repack()?;
        let mut out = ChunkWriter::new(store, pack, PackFile::Pack);
        out.append(&pack::header(0))?;
        out.save()?;
        progress.pack = Some(pack.0);
        progress.written = HEADER_LEN as u64;
    }
    store.repack_order(walk, write::SEARCHED)?;
    progress.phase = Phase::Write;
    Ok(None)
}

/// Starts the walk again from the refs, in memory, reading everything: its memory goes
/// before the new walk takes its own.
fn walk_everything<S: Sql>(
    store: &Store<S>,
    progress: &Progress,
    walk: &mut Walk,
    slice: &Slice,
) -> Result<(), StoreError> {
    *walk = Walk::Rows;
    *walk = store.walk_in_memory(progress.started_ms, slice.in_memory, false)?;
    Ok(())
}

/// The walk of the repack in progress: in rows, or in memory if this instance still holds
/// it. A walk in memory that was lost (the instance restarted, or a slice failed after
/// taking it) takes with it where the objects written so far went: the run starts again
/// from the refs in rows, which a restart keeps, so it ends, and the pack it had begun goes.
fn resume_walk<S: Sql>(store: &Store<S>, progress: &mut Progress) -> Result<Walk, StoreError> {
    if !progress.in_memory {
        return Ok(Walk::Rows);
    }
    if let Some(walk) = store.take_walk(progress.started_ms) {
        return Ok(Walk::Memory(walk));
    }
    store.clear_repack(progress.pack.map(PackId))?;
    let version = store.refs_version()?;
    *progress = Progress {
        busy_ms: progress.busy_ms,
        slices: progress.slices,
        first_version: progress.first_version,
        rows: progress.rows,
        ..Progress::new(
            progress.started_ms,
            progress.grace,
            version,
            progress.before,
        )
    };
    let mut walk = Walk::Rows;
    store.repack_add_tips(&mut walk)?;
    Ok(walk)
}

/// Keeps a walk in memory for the next slice, and records in `progress` whether it is (it
/// may have moved to the rows).
fn keep_walk<S: Sql>(store: &Store<S>, progress: &mut Progress, walk: Walk) {
    progress.in_memory = matches!(walk, Walk::Memory(_));
    if let Walk::Memory(walk) = walk {
        store.keep_walk(walk);
    }
}

fn write_slice<S: Sql>(
    store: &Store<S>,
    progress: &mut Progress,
    walk: &mut Walk,
    slice: &Slice,
) -> Result<(), StoreError> {
    let pack = progress.pack()?;
    let rows = store.repack_rows(walk, progress.cursor, slice.objects)?;
    if rows.is_empty() {
        progress.phase = match refs_moved(store, progress, walk)? {
            true => Phase::Mark,
            false => Phase::Seal,
        };
        return Ok(());
    }
    let mut writer = PackWriter::resume(store, walk, pack, progress.written, progress.cursor)?;
    for row in &rows {
        writer.write(row)?;
        progress.cursor = row.seq;
        let anew = writer.tally.new_deltas + writer.tally.rebuilt;
        if writer.read >= slice.bytes || anew >= slice.anew as u64 {
            break;
        }
    }
    progress.written = writer.written();
    let tally = writer.tally;
    progress.count += writer.finish()? as u64;
    let sum = &mut progress.tally;
    sum.reused += tally.reused;
    sum.reused_deltas += tally.reused_deltas;
    sum.new_deltas += tally.new_deltas;
    sum.rebuilt += tally.rebuilt;
    Ok(())
}

/// Hashes the next rows of the pack (its header first set to the final count); at the end,
/// writes the trailer and the idx.
fn seal_slice<S: Sql>(
    store: &Store<S>,
    progress: &mut Progress,
    walk: &Walk,
    slice: &Slice,
) -> Result<(), StoreError> {
    let pack = progress.pack()?;
    let row = store.chunk_size();
    // A saved state means hashing has begun; none, that it starts (again) from the header.
    let mut checksum = match &progress.checksum {
        Some(text) => Checksum::resume(text).ok_or(StoreError::BadColumn("repack checksum"))?,
        None => {
            let mut first = store
                .read_chunk(pack, PackFile::Pack, 0)?
                .unwrap_or_default();
            let count =
                u32::try_from(progress.count).map_err(|_| StoreError::BadColumn("count"))?;
            first
                .get_mut(..HEADER_LEN)
                .ok_or(StoreError::PackTooShort(pack))?
                .copy_from_slice(&pack::header(count));
            store.write_chunk(pack, PackFile::Pack.into(), 0, &first)?;
            progress.sealed = 0;
            Checksum::default()
        }
    };
    let stop = progress.written.min(progress.sealed + slice.seal.max(row));
    while progress.sealed < stop {
        let seq = progress.sealed / row;
        let data = store
            .read_chunk(pack, PackFile::Pack, seq)?
            .unwrap_or_default();
        let upto = ((progress.written - seq * row) as usize).min(data.len());
        if upto == 0 {
            return Err(StoreError::PackTooShort(pack));
        }
        checksum.update(&data[..upto]);
        progress.sealed = seq * row + upto as u64;
    }
    if progress.sealed < progress.written {
        progress.checksum = Some(checksum.save());
        return Ok(());
    }
    let trailer = checksum.finish();
    let mut out = ChunkWriter::resume(store, pack, PackFile::Pack, progress.written)?;
    out.append(&trailer)?;
    out.flush()?;
    let id = ObjectId(trailer);
    let entries = match walk {
        Walk::Memory(memory) => IdxEntries::Walk(memory),
        Walk::Rows => IdxEntries::Stored(IdxSource::Repack),
    };
    let idx_size = write_idx(store, pack, entries, &id)?;
    if let Walk::Memory(memory) = walk {
        write_ends(store, pack, memory.starts(), progress)?;
    }
    progress.checksum = None;
    progress.phase = Phase::Swap {
        name: id.to_hex(),
        size: progress.written + 20,
        idx_size,
    };
    Ok(())
}

/// Writes the pack's ends file from where its entries start, in the order the walk placed
/// them, which is the order they were written in. Should they not rise, or not add up to
/// the pack's count, no file is kept: a pack without one has its entries inflated to find
/// their ends. A walk in rows writes none either (it would read a row per object again).
fn write_ends<S: Sql>(
    store: &Store<S>,
    pack: PackId,
    starts: impl Iterator<Item = u64>,
    progress: &Progress,
) -> Result<(), StoreError> {
    let mut out = ChunkWriter::new(store, pack, ChunkFile::Ends);
    out.append(&ends::encode(progress.count))?;
    let (mut last, mut count) = (0, 0);
    for start in starts {
        if start <= last {
            return store.truncate_file(pack, ChunkFile::Ends, 0);
        }
        out.append(&ends::encode(start))?;
        (last, count) = (start, count + 1);
    }
    if count != progress.count {
        return store.truncate_file(pack, ChunkFile::Ends, 0);
    }
    out.append(&ends::encode(progress.written))?;
    out.flush()
}

/// Whether a sealed pack whose refs moved may take in what the pushes brought now: once no
/// push came for `slice.settle` seconds, or it has waited [`MAX_SETTLE_SECONDS`]. Until then
/// it records until when it waits, which [`due`] tells the alarm.
fn settled<S: Sql>(
    store: &Store<S>,
    progress: &mut Progress,
    slice: &Slice,
    host: &Host,
) -> Result<bool, StoreError> {
    let now = host.now();
    let pushed = store.meta(LAST_PUSH)?.and_then(|t| t.parse::<i64>().ok());
    let since = progress.settling.map_or(now, |(since, _)| since);
    let until = pushed.unwrap_or(0).saturating_add(slice.settle);
    if slice.settle <= 0 || until <= now || now - since >= MAX_SETTLE_SECONDS {
        progress.settling = None;
        return Ok(true);
    }
    progress.settling = Some((since, until.min(since + MAX_SETTLE_SECONDS)));
    Ok(false)
}

/// Takes a written pack back to writing, for objects the refs reach since: its trailer and
/// idx go, and it is hashed again once they are written.
fn reopen<S: Sql>(store: &Store<S>, progress: &mut Progress) -> Result<(), StoreError> {
    let pack = progress.pack()?;
    store.truncate_file(pack, PackFile::Pack, progress.written)?;
    store.truncate_file(pack, PackFile::Idx, 0)?;
    store.truncate_file(pack, ChunkFile::Ends, 0)?;
    progress.sealed = 0;
    progress.checksum = None;
    progress.phase = Phase::Mark;
    Ok(())
}

/// Swaps the repack in: see [`Store::repack_swap`].
fn swap<S: Sql>(
    store: &Store<S>,
    progress: &Progress,
    pack: Option<PackId>,
    moved: bool,
    walk: &Walk,
    host: &Host,
) -> Result<(Option<PackId>, SwapReport), StoreError> {
    let now = host.now();
    let report = store.repack_swap(pack, moved, walk, now, now - progress.grace)?;
    match pack.filter(|_| progress.version == progress.first_version) {
        Some(pack) => {
            let tips = walk.tips().filter(|t| !t.is_empty());
            if tips.is_some() {
                store.keep_name_hashes(pack, walk)?;
            }
            store.set_exact_pack(pack, progress.version, tips)?
        }
        None => store.set_meta("exact_pack", None)?,
    }
    Ok((pack, report))
}

/// Writes the account of a finished repack and forgets its progress.
fn finish<S: Sql>(
    store: &Store<S>,
    progress: &Progress,
    (pack, swapped): (Option<PackId>, SwapReport),
    host: &Host,
) -> Result<Report, StoreError> {
    let packs = store.packs()?;
    let new = pack.and_then(|id| packs.iter().find(|p| p.id == id));
    let after = store.footprint()?;
    let report = Report {
        objects: swapped.objects,
        pack: new.map(|p| p.name.clone()),
        pack_bytes: new.map_or(0, |p| p.size),
        packs_before: progress.before.packs,
        loose_before: progress.before.loose,
        bytes_before: progress.before.bytes,
        packs_after: after.packs,
        loose_after: after.loose,
        tally: progress.tally,
        pruned: swapped.pruned,
        kept_unreachable: swapped.kept,
        retired_packs: swapped.retired,
        refs_version: progress.version,
        ..Report::of_run(progress, host)
    };
    write_json(store, REPORT, &report)?;
    store.set_meta(PROGRESS, None)?;
    Ok(report)
}

/// Gives a repack up after repeated failures: its rows go, the repository is as before,
/// and the report says why.
fn give_up<S: Sql>(
    store: &Store<S>,
    progress: &Progress,
    host: &Host,
    error: &StoreError,
) -> Result<(), StoreError> {
    store.take_walk(progress.started_ms);
    store.transaction(|| {
        store.clear_repack(progress.pack.map(PackId))?;
        store.set_meta(PROGRESS, None)?;
        store.set_meta(FAILURES, None)?;
        let report = Report {
            error: Some(error.to_string()),
            ..Report::of_run(progress, host)
        };
        write_json(store, REPORT, &report)
    })
}

/// Abandons the run in progress if a ref moved since it began: its walk keeps what the refs
/// reached then (a branch deleted since, say), which a purge must drop. Only a purge does
/// this: it runs to its end within its request, while a run the alarm drives would start
/// again after every push and might never end.
fn abandon_if_refs_moved<S: Sql>(store: &Store<S>) -> Result<(), StoreError> {
    let Some(progress) = load(store)? else {
        return Ok(());
    };
    if store.refs_version()? == progress.first_version {
        return Ok(());
    }
    store.take_walk(progress.started_ms);
    store.clear_repack(progress.pack.map(PackId))?;
    store.set_meta(PROGRESS, None)
}

/// Deletes what repacks retired longer than `reader_grace` seconds before `now` and no
/// reader in flight can hold; returns how many packs went.
pub fn sweep<S: Sql>(store: &Store<S>, now: i64, reader_grace: i64) -> Result<u64, StoreError> {
    store.transaction(|| store.sweep(now - reader_grace))
}

/// Drops at once everything no ref reaches (an owner's purge of a leaked object): a repack
/// with no grace, run to its end, then the deletion of what it retired that no reader in
/// flight holds. Returns its account.
pub fn purge<S: Sql>(store: &Store<S>, host: &Host) -> Result<Report, StoreError> {
    store.transaction(|| abandon_if_refs_moved(store))?;
    start(store, host, 0)?;
    let slice = Slice::default();
    let report = loop {
        match step(store, host, &slice)? {
            Step::Done(report) => break *report,
            Step::Working => {}
            Step::Idle => break last_report(store)?.unwrap_or_default(),
        }
    };
    sweep(store, host.now(), 0)?;
    Ok(report)
}
