//! The protocol v0/v1 front end over stateless HTTP: the advertisement, then one request
//! per negotiation round. Each answer is the negotiation (shallow info, ACK/NAK) and, once
//! the client is done, a pack streamed in side-band frames.

use super::negotiate::Common;
use super::select::{self, Selection};
use super::wants::{self, Fetch, FetchError, Resolved};
use super::Answer;
use std::collections::HashSet;

use crate::format::object::ObjectId;
use crate::format::pktline::{self, Pkt, SideBand};
use crate::limits::{Limits, OverLimit};
use crate::pack_objects::{Options, PackStream};
use crate::protocol::advertise;
use crate::protocol::capabilities::Capabilities;
use crate::protocol::BadRequest;
use crate::rev_walk::{CommitPlan, Walker};
use crate::store::sql::Sql;
use crate::store::{ObjectReader, Store, StoreError};
use crate::AGENT;

/// Capabilities advertised to fetchers (symref, object-format and agent are added).
pub const CAPABILITIES: &str = "multi_ack_detailed no-done side-band-64k side-band ofs-delta thin-pack shallow deepen-since deepen-not deepen-relative include-tag no-progress allow-tip-sha1-in-want allow-reachable-sha1-in-want";

/// The `info/refs?service=git-upload-pack` body: HEAD first, refs sorted, peeled tags.
pub fn advertise<S: Sql>(store: &Store<S>) -> Result<Vec<u8>, StoreError> {
    let refs = store.refs()?;
    let head = store.head_target()?.unwrap_or_default();
    let head_id = refs.iter().find(|r| r.name == head).map(|r| r.id);
    let mut caps = CAPABILITIES.to_string();
    if head_id.is_some() {
        caps.push_str(&format!(" symref=HEAD:{head}"));
    }
    caps.push_str(&format!(" object-format=sha1 agent={AGENT}"));
    let lines = advertise::ref_lines(&refs, head_id, true);
    Ok(advertise::smart_v0("git-upload-pack", &lines, &caps))
}

/// One parsed `POST git-upload-pack` body.
#[derive(Clone, Debug, Default)]
pub struct Request {
    fetch: Fetch,
    /// Wants seen so far: git's upload-pack takes each once however often it is named.
    wanted: HashSet<ObjectId>,
    /// Haves seen so far, likewise.
    had: HashSet<ObjectId>,
    limits: Limits,
    done: bool,
    /// Whether a `have` section was sent at all: a shallow fetch first sends only its wants
    /// and deepen lines, to learn the shallow boundary.
    negotiates: bool,
    caps: Capabilities,
}

fn parse_id(rest: &[u8], line: &[u8]) -> Result<ObjectId, BadRequest> {
    let hex = rest.get(..40).unwrap_or(rest);
    ObjectId::from_hex(hex)
        .ok_or_else(|| BadRequest::MalformedLine(String::from_utf8_lossy(line).trim_end().into()))
}

/// Parses an upload-pack request (already gunzipped), within `limits`.
pub fn parse_request(body: &[u8], limits: &Limits) -> Result<Request, BadRequest> {
    let mut request = Request {
        limits: *limits,
        ..Request::default()
    };
    let mut pos = 0;
    let mut section = 0;
    while let Some((pkt, len)) = pktline::decode(&body[pos..])? {
        pos += len;
        match pkt {
            Pkt::Flush => {
                section += 1;
                request.negotiates |= section > 1;
            }
            Pkt::Data(line) => request.read_line(line, section == 0)?,
            other => return Err(BadRequest::UnexpectedPacket(format!("{other:?}"))),
        }
        if request.done {
            break;
        }
    }
    if pos < body.len() && !request.done {
        return Err(BadRequest::Truncated);
    }
    request.fetch.deepen_relative = request.caps.has("deepen-relative");
    request.fetch.include_tag = request.caps.has("include-tag");
    request.fetch.ofs_delta = request.caps.has("ofs-delta");
    Ok(request)
}

/// The decimal number in a line's argument.
fn number<T: std::str::FromStr>(rest: &[u8]) -> Option<T> {
    std::str::from_utf8(rest).ok()?.trim().parse().ok()
}

/// Adds `id` to `list` the first time it is named (`seen` remembers), refusing more than
/// `limit.0` of them with `limit.1` and the variable `limit.2`.
fn take_once(
    seen: &mut HashSet<ObjectId>,
    list: &mut Vec<ObjectId>,
    id: ObjectId,
    (limit, what, var): (usize, &str, &'static str),
) -> Result<(), OverLimit> {
    if seen.insert(id) {
        list.push(id);
        Limits::check(list.len(), limit, what, var)?;
    }
    Ok(())
}

impl Request {
    /// Takes one line of the request; wants are allowed only in the first section.
    fn read_line(&mut self, line: &[u8], in_wants: bool) -> Result<(), BadRequest> {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let bad = || BadRequest::UnexpectedLine(String::from_utf8_lossy(text).into());
        if let Some(rest) = text.strip_prefix(b"want ") {
            if !in_wants {
                return Err(bad());
            }
            // git reads capabilities after any want, not only the first.
            if let Some(caps) = rest.get(41..) {
                self.caps.add(&String::from_utf8_lossy(caps));
            }
            let id = parse_id(rest, line)?;
            let limit = (self.limits.wants, "too many wants", "MAX_WANTS");
            take_once(&mut self.wanted, &mut self.fetch.wants, id, limit)?;
        } else if let Some(rest) = text.strip_prefix(b"have ") {
            self.negotiates = true;
            let id = parse_id(rest, line)?;
            let limit = (self.limits.haves, "too many haves", "MAX_HAVES");
            take_once(&mut self.had, &mut self.fetch.haves, id, limit)?;
        } else if let Some(rest) = text.strip_prefix(b"shallow ") {
            self.fetch.client_shallow.push(parse_id(rest, line)?);
        } else if let Some(rest) = text.strip_prefix(b"deepen-since ") {
            self.fetch.since = Some(number(rest).ok_or_else(bad)?);
        } else if let Some(rest) = text.strip_prefix(b"deepen-not ") {
            let name = String::from_utf8_lossy(rest).trim().to_string();
            self.fetch.deepen_not.push(name);
        } else if let Some(rest) = text.strip_prefix(b"deepen ") {
            let depth = number::<u32>(rest).filter(|d| *d > 0);
            self.fetch.depth = Some(depth.ok_or_else(bad)?);
        } else if text == b"done" {
            self.done = true;
            self.negotiates = true;
        } else {
            return Err(bad());
        }
        Ok(())
    }
}

/// An `ERR` line, which git shows as `fatal: remote error: <message>`.
pub fn err_line(message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    pktline::write_str(&mut out, &format!("ERR {message}\n"));
    out
}

/// Answers one upload-pack request against the repository in `store`.
pub fn serve<S: Sql>(store: &Store<S>, request: Request) -> Result<Answer<S>, StoreError> {
    if request.fetch.wants.is_empty() {
        return Ok(Answer::Negotiation(Vec::new()));
    }
    let reader = ObjectReader::new(store);
    let resolved = match wants::resolve(&reader, &request.fetch) {
        Ok(resolved) => resolved,
        Err(FetchError::Store(e)) => return Err(e),
        Err(refused) => return Ok(Answer::Negotiation(err_line(&refused.to_string()))),
    };
    let mut walker = Walker::new(&reader);
    let mut out = Vec::new();
    let plan = shallow_info(&mut walker, &resolved, &mut out)?;
    if !request.negotiates || !acknowledge(&mut walker, &request, &resolved, &mut out)? {
        return Ok(Answer::Negotiation(out));
    }
    let Selection { pieces, count } = select::select(
        store,
        &mut walker,
        &resolved,
        plan,
        request.fetch.include_tag,
    )?;
    let options = pack_options(&request.caps);
    Ok(Answer::Pack(
        out,
        Box::new(PackStream::new(reader, pieces, count, options)),
    ))
}

/// For a shallow fetch: the plan, with its `shallow` and `unshallow` lines and a flush
/// written to `out`.
fn shallow_info<S: Sql>(
    walker: &mut Walker<S>,
    resolved: &Resolved,
    out: &mut Vec<u8>,
) -> Result<Option<CommitPlan>, StoreError> {
    if !resolved.deepen.any() {
        return Ok(None);
    }
    let plan = walker.shallow(
        &resolved.want_commits,
        &resolved.common,
        &resolved.deepen,
        &resolved.client_shallow,
    )?;
    for id in &plan.shallow {
        pktline::write_str(out, &format!("shallow {id}\n"));
    }
    for id in &plan.unshallow {
        pktline::write_str(out, &format!("unshallow {id}\n"));
    }
    out.extend_from_slice(pktline::FLUSH);
    Ok(Some(plan))
}

/// What the haves of one round said (git's `get_common_commits` state).
#[derive(Default)]
struct Round {
    common: Common,
    /// The last have the server has.
    last: Option<ObjectId>,
    got_common: bool,
    got_other: bool,
    sent_ready: bool,
}

/// Writes the ACK/NAK lines of this round to `out`, word for word as git's upload-pack
/// (multi_ack_detailed, multi_ack or neither, as the client asked), and says whether the
/// pack follows: after `done`, or once the client is ready and said `no-done`.
fn acknowledge<S: Sql>(
    walker: &mut Walker<S>,
    request: &Request,
    resolved: &Resolved,
    out: &mut Vec<u8>,
) -> Result<bool, StoreError> {
    let caps = &request.caps;
    let detailed = caps.has("multi_ack_detailed");
    let multi_ack = detailed || caps.has("multi_ack");
    let mut round = acknowledge_haves(walker, request, resolved, out)?;
    let last = round.last.map(|id| id.to_string()).unwrap_or_default();
    if request.done {
        match (round.common.haves.is_empty(), multi_ack) {
            (true, _) => pktline::write_str(out, "NAK\n"),
            (false, true) => pktline::write_str(out, &format!("ACK {last}\n")),
            (false, false) => {}
        }
        return Ok(true);
    }
    if detailed
        && round.got_common
        && !round.got_other
        && round.common.enough(walker, &resolved.want_commits)?
    {
        round.sent_ready = true;
        pktline::write_str(out, &format!("ACK {last} ready\n"));
    }
    if round.common.haves.is_empty() || multi_ack {
        pktline::write_str(out, "NAK\n");
    }
    if caps.has("no-done") && round.sent_ready {
        pktline::write_str(out, &format!("ACK {last}\n"));
        return Ok(true);
    }
    Ok(false)
}

/// The ACK lines for each have, in the order sent: those the server has are common; once
/// they are enough, those it lacks are acknowledged too, so the client stops sending them.
fn acknowledge_haves<S: Sql>(
    walker: &mut Walker<S>,
    request: &Request,
    resolved: &Resolved,
    out: &mut Vec<u8>,
) -> Result<Round, StoreError> {
    let detailed = request.caps.has("multi_ack_detailed");
    let multi_ack = detailed || request.caps.has("multi_ack");
    let mut round = Round::default();
    for &have in &request.fetch.haves {
        let Some(&kind) = resolved.have_types.get(&have) else {
            round.got_other = true;
            if multi_ack && round.common.enough(walker, &resolved.want_commits)? {
                round.sent_ready |= detailed;
                let word = if detailed { "ready" } else { "continue" };
                pktline::write_str(out, &format!("ACK {have} {word}\n"));
            }
            continue;
        };
        round.got_common = true;
        round.last = Some(have);
        round.common.add(walker, have, kind)?;
        if detailed {
            pktline::write_str(out, &format!("ACK {have} common\n"));
        } else if multi_ack {
            pktline::write_str(out, &format!("ACK {have} continue\n"));
        } else if round.common.haves.len() == 1 {
            pktline::write_str(out, &format!("ACK {have}\n"));
        }
    }
    Ok(round)
}

/// How the pack is framed and what it may use, from the client's capabilities.
fn pack_options(caps: &Capabilities) -> Options {
    let side_band = caps.side_band().unwrap_or(SideBand::None);
    Options {
        side_band,
        ofs_delta: caps.has("ofs-delta"),
        progress: side_band != SideBand::None && !caps.has("no-progress"),
    }
}
