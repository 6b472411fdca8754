//! Smart receive-pack (`git push`): the advertisement, then a sans-IO request handler fed
//! the POST body as it streams in. Ref updates are decided and applied in one synchronous
//! step at the end, after the pack is verified and its connectivity checked.
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

use std::collections::HashMap;

use crate::format::object::{ObjectId, ObjectType};
use crate::format::pktline::{self, Band, Pkt};
use crate::format::split_once;
use crate::hooks;
use crate::index_pack::{IndexError, IndexPack, Indexed, Stored};
use crate::limits::{Limits, OverLimit};
use crate::protocol::advertise;
use crate::protocol::capabilities::Capabilities;
use crate::rev_walk;
use crate::store::sql::Sql;
use crate::store::{ObjectReader, Store, StoreError, DEFAULT_HEAD};
use crate::AGENT;

/// Capabilities advertised to pushers.
pub const CAPABILITIES: &str = "report-status report-status-v2 delete-refs side-band-64k quiet atomic ofs-delta no-thin push-options object-format=sha1";

pub use crate::protocol::BadRequest;

/// The most bytes a push's command lines may take: room for ten thousand updates with
/// names of 300 bytes, and a bound on what is held before the pack arrives.
pub const MAX_COMMAND_BYTES: usize = 4 << 20;
pub use update::{Command, Refusal, Verdict};

/// The most commits walked to tell whether an update of a protected ref fast-forwards.
const FAST_FORWARD_BUDGET: usize = 200_000;

mod update;

/// Why a push's pack is not stored: the reason on the `unpack` line of the report.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The client's `object-format` is not sha1.
    #[error("unsupported object-format {0}: this server stores sha1 repositories")]
    ObjectFormat(String),
    /// The pack does not verify.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The body is larger than the server takes.
    #[error(transparent)]
    OverLimit(OverLimit),
    /// Storage failed while the pack was stored or the refs moved.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A command line, `<old> <new> <name>`: two ids of 40 hex digits and a name, a space
/// between each; None if it is not one.
fn parse_command(line: &[u8]) -> Option<Command> {
    let (old, rest) = line.split_at_checked(40)?;
    let (new, name) = rest.strip_prefix(b" ")?.split_at_checked(40)?;
    let name = name.strip_prefix(b" ").filter(|name| !name.is_empty())?;
    Some(Command {
        old: ObjectId::from_hex(old)?,
        new: ObjectId::from_hex(new)?,
        name: String::from_utf8(name.to_vec()).ok()?,
    })
}

/// The `info/refs?service=git-receive-pack` body: the refs, no HEAD and no peeled lines,
/// as git's receive-pack lists them.
pub fn advertise<S: Sql>(store: &Store<S>) -> Result<Vec<u8>, StoreError> {
    let lines = advertise::ref_lines(&store.refs()?, None, false);
    Ok(advertise::smart_v0(
        "git-receive-pack",
        &lines,
        &format!("{CAPABILITIES} agent={AGENT}"),
    ))
}

enum Phase {
    Commands,
    PushOptions,
    Pack,
}

/// What a push came to: why its pack was refused, if it was, and each command's verdict.
type Applied = (Option<UnpackError>, Vec<Verdict>);

/// A receive-pack request in progress.
pub struct ReceivePack<'s, S: Sql> {
    store: &'s Store<S>,
    limits: Limits,
    /// Body bytes taken so far.
    received: u64,
    /// Bytes of the command lines so far.
    command_bytes: usize,
    phase: Phase,
    buf: Vec<u8>,
    commands: Vec<Command>,
    caps: Capabilities,
    pack: Option<IndexPack<'s, S>>,
    pack_error: Option<UnpackError>,
    /// Who pushes where, for the repository's webhooks: the `push` events are queued in
    /// the push's own transaction.
    origin: Option<hooks::Origin>,
}

impl<'s, S: Sql> ReceivePack<'s, S> {
    /// Starts handling a `POST git-receive-pack` for the repository in `store`, within `limits`.
    pub fn new(store: &'s Store<S>, limits: &Limits) -> Self {
        ReceivePack {
            store,
            limits: *limits,
            received: 0,
            command_bytes: 0,
            phase: Phase::Commands,
            buf: Vec::new(),
            commands: Vec::new(),
            caps: Capabilities::default(),
            pack: None,
            pack_error: None,
            origin: None,
        }
    }

    /// Queues a `push` event for each ref this push moves, for the hooks that asked, as
    /// coming from `origin`.
    pub fn announcing(mut self, origin: hooks::Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Takes the next bytes of the request body. A malformed command section is a
    /// [`BadRequest`]; a bad pack is remembered and reported at the end, as git does.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), BadRequest> {
        self.received += data.len() as u64;
        if self.received > self.limits.push_bytes && self.pack_error.is_none() {
            self.pack_error = Some(UnpackError::OverLimit(OverLimit {
                what: "pack exceeds maximum allowed size".into(),
                limit: self.limits.push_bytes,
                var: "MAX_PUSH_BYTES",
            }));
        }
        if let Phase::Pack = self.phase {
            self.feed_pack(data);
            return Ok(());
        }
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        while !matches!(self.phase, Phase::Pack) {
            // A decoded length is at most the bytes decoded, so `pos` stays within them.
            let Some((pkt, len)) = pktline::decode(self.buf.get(pos..).unwrap_or_default())? else {
                break;
            };
            pos += len;
            match (&self.phase, pkt) {
                (Phase::Commands, Pkt::Data(line)) => {
                    let line = line.to_vec();
                    self.command_line(&line)?;
                }
                (Phase::Commands, Pkt::Flush) => {
                    self.phase = if self.caps.has("push-options") && !self.commands.is_empty() {
                        Phase::PushOptions
                    } else {
                        Phase::Pack
                    };
                }
                (Phase::PushOptions, Pkt::Data(_)) => {}
                (Phase::PushOptions, Pkt::Flush) => self.phase = Phase::Pack,
                (_, other) => return Err(BadRequest::UnexpectedPacket(format!("{other:?}"))),
            }
        }
        let rest = self.buf.split_off(pos);
        self.buf.clear();
        if let Phase::Pack = self.phase {
            self.feed_pack(&rest);
        } else {
            self.buf = rest;
        }
        Ok(())
    }

    fn command_line(&mut self, line: &[u8]) -> Result<(), BadRequest> {
        self.command_bytes += line.len();
        if self.command_bytes > MAX_COMMAND_BYTES {
            return Err(BadRequest::CommandsTooLong(MAX_COMMAND_BYTES));
        }
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let (command, caps) = match split_once(line, 0) {
            Some((command, caps)) => (command, Some(caps)),
            None => (line, None),
        };
        if let Some(caps) = caps {
            if !self.commands.is_empty() {
                return Err(BadRequest::LateCapabilities);
            }
            self.caps = Capabilities::parse(&String::from_utf8_lossy(caps));
        }
        if command.starts_with(b"shallow ") {
            return Ok(());
        }
        let command = parse_command(command)
            .ok_or_else(|| BadRequest::MalformedCommand(String::from_utf8_lossy(command).into()))?;
        self.commands.push(command);
        let limit = self.limits.push_refs;
        Limits::check(
            self.commands.len(),
            limit,
            "too many ref updates",
            "MAX_PUSH_REFS",
        )?;
        Ok(())
    }

    fn feed_pack(&mut self, data: &[u8]) {
        if data.is_empty() || self.pack_error.is_some() {
            return;
        }
        if self.pack.is_none() {
            match self.store.begin_push() {
                Ok(push) => {
                    let max_object = self.limits.object_bytes;
                    let pack = IndexPack::new(self.store, push, max_object);
                    self.pack = Some(pack.within(&self.limits));
                }
                Err(e) => {
                    self.pack_error = Some(e.into());
                    return;
                }
            }
        }
        let pack = self.pack.as_mut().expect("just set");
        if let Err(e) = pack.feed(data) {
            self.pack_error = Some(e.into());
        }
    }

    /// Called when the body ended without being complete (the client went away):
    /// removes whatever the push had written.
    pub fn abort(self) -> Result<(), StoreError> {
        match self.pack {
            Some(pack) => self.store.discard_push(pack.push()),
            None => Ok(()),
        }
    }

    /// The request body has ended: verify, decide, apply, and return the response body
    /// (`application/x-git-receive-pack-result`).
    pub fn finish(mut self) -> Result<Vec<u8>, BadRequest> {
        Ok(match self.apply()? {
            Some((unpack_error, results)) => self.report(unpack_error.as_ref(), &results),
            None => Vec::new(),
        })
    }

    /// Ends a push the server makes itself (an import): Ok if every command was applied,
    /// else why not, as git's report would say it.
    pub fn conclude(mut self) -> Result<(), String> {
        let (unpack_error, results) = match self.apply() {
            Ok(Some(applied)) => applied,
            Ok(None) => return Ok(()),
            Err(bad) => return Err(bad.to_string()),
        };
        if let Some(e) = unpack_error {
            return Err(format!("unpack {e}"));
        }
        let refused = self.commands.iter().zip(&results);
        match refused
            .filter_map(|(c, r)| Some((c, r.as_ref().err()?)))
            .next()
        {
            Some((command, why)) => Err(format!("{} ({why})", command.name)),
            None => Ok(()),
        }
    }

    /// Verifies, decides and applies: whether the pack was refused, and each command's
    /// verdict; None for a request with no commands.
    fn apply(&mut self) -> Result<Option<Applied>, BadRequest> {
        match self.phase {
            Phase::Pack => {}
            // Before the pack section no pack was begun, so there is nothing to abort.
            _ if self.commands.is_empty() && self.buf.is_empty() => return Ok(None),
            _ => return Err(BadRequest::EndedBeforeFlush),
        }
        if self.commands.is_empty() {
            // A pack without commands is dropped. Should dropping fail, its pending row is
            // referred to by nothing, and `Store::open` removes it at the next start.
            if let Some(pack) = self.pack.take() {
                let _ = self.store.discard_push(pack.push());
            }
            return Ok(None);
        }
        let count = self.commands.len();
        let refused = |why| vec![Err(why); count];
        Ok(Some(match self.unpack() {
            Ok(indexed) => {
                let push = indexed.as_ref().map(|i| i.push);
                match self.store.transaction(|| self.update_refs(indexed)) {
                    Ok(results) => (None, results),
                    Err(e) => {
                        // The transaction left nothing; the push's own rows go too. Should
                        // that fail, `Store::open` removes them at the next start.
                        if let Some(push) = push {
                            let _ = self.store.discard_push(push);
                        }
                        (Some(e.into()), refused(Refusal::Storage))
                    }
                }
            }
            Err(e) => (Some(e), refused(Refusal::Unpacker)),
        }))
    }

    /// The pack, verified and indexed (None when every command deletes), or why it is
    /// refused. A refused pack's rows are discarded.
    fn unpack(&mut self) -> Result<Option<Indexed>, UnpackError> {
        let refused = match (self.caps.value("object-format"), self.pack_error.take()) {
            (Some(format), _) if format != "sha1" => Some(UnpackError::ObjectFormat(format.into())),
            (_, error) => error,
        };
        let Some(pack) = self.pack.take() else {
            let needs_pack = self.commands.iter().any(|c| !c.new.is_zero());
            return match refused {
                Some(e) => Err(e),
                None if needs_pack => Err(IndexError::NoData.into()),
                None => Ok(None),
            };
        };
        let push = pack.push();
        let indexed = match refused {
            Some(e) => Err(e),
            None => pack.finish().map_err(UnpackError::from),
        };
        if indexed.is_err() {
            // Should discarding fail, the pending row is referred to by nothing, and
            // `Store::open` removes it at the next start.
            let _ = self.store.discard_push(push);
        }
        indexed.map(Some)
    }

    /// Decides every command, stores the pack if anything is accepted, and moves the refs.
    /// Everything here is synchronous, so concurrent pushes cannot interleave with it, and
    /// runs in one transaction, so a failure leaves nothing behind.
    fn update_refs(&self, indexed: Option<Indexed>) -> Result<Vec<Verdict>, StoreError> {
        let complete = match &indexed {
            Some(indexed) => {
                self.store
                    .push_is_complete(indexed.push, indexed.held.as_ref(), &indexed.links)?
            }
            None => true,
        };
        let results = self.decide(indexed.as_ref(), complete)?;
        let accepted = results.iter().any(Result::is_ok);
        if let Some(indexed) = &indexed {
            self.keep_or_discard(indexed, accepted && complete)?;
        }
        if accepted {
            self.move_refs(&results)?;
            self.fix_head()?;
            self.announce(&results)?;
        }
        Ok(results)
    }

    /// The verdict on every command.
    fn decide(
        &self,
        indexed: Option<&Indexed>,
        complete: bool,
    ) -> Result<Vec<Verdict>, StoreError> {
        // The new values, and the old values of deletes (which must be there if stored).
        let named: Vec<ObjectId> = self
            .commands
            .iter()
            .map(|c| if c.new.is_zero() { c.old } else { c.new })
            .filter(|id| !id.is_zero())
            .collect();
        let stored_types = self.store.object_types(&named)?;
        let mut pushed_types = HashMap::new();
        if let Some(indexed) = indexed {
            for id in &named {
                let held = indexed.held.as_ref();
                if let Some(kind) = self.store.pushed_type(indexed.push, held, id)? {
                    pushed_types.insert(*id, kind);
                }
            }
        }
        let kind_of = |id: &ObjectId| -> Option<(ObjectType, bool)> {
            if let Some(&kind) = pushed_types.get(id) {
                return Some((kind, true));
            }
            stored_types.get(id).map(|&kind| (kind, false))
        };
        let store = self.store;
        let mut rows = |ids: &[ObjectId]| {
            let mut found = store.commits(ids)?;
            if let Some(indexed) = indexed {
                found.extend(store.pushed_commits(indexed.push, indexed.held.as_ref(), ids)?);
            }
            Ok(found)
        };
        let mut fast_forward =
            |old, new| rev_walk::is_ancestor(old, new, &mut rows, FAST_FORWARD_BUDGET);
        let head = store.head_target()?;
        let rules = update::Rules {
            kind_of: &kind_of,
            complete,
            atomic: self.caps.has("atomic"),
            settings: &store.settings()?,
            head: head.as_deref(),
            fast_forward: &mut fast_forward,
        };
        update::decide(store, &self.commands, rules)
    }

    /// Makes the push's objects part of the repository, or drops them when no command was
    /// accepted or the pack needs objects the repository does not have.
    fn keep_or_discard(&self, indexed: &Indexed, keep: bool) -> Result<(), StoreError> {
        let store = self.store;
        if !keep {
            return store.discard_push(indexed.push);
        }
        let held = indexed.held.as_ref();
        match &indexed.stored {
            Stored::Pack {
                name,
                size,
                idx_size,
            } => store.accept_pack(indexed.push, name, *size, *idx_size, held),
            Stored::Loose => store.accept_loose(indexed.push, held),
        }
    }

    /// Applies the accepted commands; a ref to an annotated tag records what it peels to.
    fn move_refs(&self, results: &[Verdict]) -> Result<(), StoreError> {
        let reader = ObjectReader::new(self.store);
        let accepted = self.commands.iter().zip(results).filter(|(_, r)| r.is_ok());
        for (command, _) in accepted {
            if command.new.is_zero() {
                self.store.delete_ref(&command.name)?;
            } else {
                let peeled = reader.peel(command.new)?;
                let peeled = (!peeled.tags.is_empty()).then_some(peeled.target);
                self.store.set_ref(&command.name, &command.new, peeled)?;
            }
        }
        Ok(())
    }

    /// Queues the `push` events of the accepted commands, if the push announces them.
    fn announce(&self, results: &[Verdict]) -> Result<(), StoreError> {
        let Some(origin) = &self.origin else {
            return Ok(());
        };
        let moved: Vec<hooks::Moved> = self
            .commands
            .iter()
            .zip(results)
            .filter(|(_, r)| r.is_ok())
            .map(|(c, _)| hooks::Moved {
                name: &c.name,
                old: c.old,
                new: c.new,
            })
            .collect();
        let count = moved.len().min(hooks::EVENT_REFS);
        hooks::announce(self.store, "push", count, origin, || {
            hooks::push_payloads(self.store, origin, &moved)
        })
    }

    /// Keeps HEAD on an existing branch: main, else master, else the oldest branch.
    fn fix_head(&self) -> Result<(), StoreError> {
        let store = self.store;
        let stored = store.head_target()?;
        let target = stored.clone().unwrap_or_else(|| DEFAULT_HEAD.to_string());
        if store.ref_value(&target)?.is_some() {
            // Written only when it changes: every push passes here, and a row written is billed.
            return match stored == Some(target.clone()) {
                true => Ok(()),
                false => store.set_head_target(&target),
            };
        }
        for candidate in ["refs/heads/main", "refs/heads/master"] {
            if store.ref_value(candidate)?.is_some() {
                return store.set_head_target(candidate);
            }
        }
        let fallback = store.first_branch()?.unwrap_or(target);
        store.set_head_target(&fallback)
    }

    fn report(&self, unpack_error: Option<&UnpackError>, results: &[Verdict]) -> Vec<u8> {
        let mut report = Vec::new();
        let unpack = match unpack_error {
            None => "unpack ok\n".to_string(),
            Some(e) => format!("unpack {}\n", e.to_string().replace('\n', " ")),
        };
        pktline::write_str(&mut report, &unpack);
        for (command, result) in self.commands.iter().zip(results) {
            let line = match result {
                Ok(()) => format!("ok {}\n", command.name),
                Err(reason) => format!("ng {} {reason}\n", command.name),
            };
            pktline::write_str(&mut report, &line);
        }
        report.extend_from_slice(pktline::FLUSH);
        if !self.caps.has("report-status") && !self.caps.has("report-status-v2") {
            report.clear();
        }
        let Some(side_band) = self.caps.side_band() else {
            return report;
        };
        let mut out = Vec::new();
        for (command, result) in self.commands.iter().zip(results) {
            let explained = result.err().and_then(|why| why.explain(command));
            if let Some(line) = explained {
                side_band.write(
                    &mut out,
                    Band::Progress,
                    format!("error: {line}\n").as_bytes(),
                );
            }
        }
        if !self.caps.has("quiet") {
            let done = results.iter().filter(|r| r.is_ok()).count();
            let summary = format!("updated {done} of {} refs\n", results.len());
            side_band.write(&mut out, Band::Progress, summary.as_bytes());
        }
        side_band.write(&mut out, Band::Data, &report);
        out.extend_from_slice(pktline::FLUSH);
        out
    }
}
