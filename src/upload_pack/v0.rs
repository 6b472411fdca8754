//! The protocol v0/v1 front end over stateless HTTP: the advertisement, then one request
//! per negotiation round. Each answer is the negotiation (shallow info, ACK/NAK) and, once
//! the client is done, a pack streamed in side-band frames.

use super::negotiate::Common;
use super::request;
use super::select;
use super::wants::{self, FetchError, Resolved};
use super::Answer;

use crate::format::object::ObjectId;
use crate::format::pktline::{self, Pkt, SideBand};
use crate::limits::Limits;
use crate::pack_objects::Options;
use crate::protocol::advertise;
use crate::protocol::capabilities::Capabilities;
use crate::protocol::BadRequest;
use crate::rev_walk::Walker;
use crate::store::sql::Sql;
use crate::store::{ObjectReader, Store, StoreError};
use crate::AGENT;

/// Capabilities advertised to fetchers (symref, object-format and agent are added).
pub const CAPABILITIES: &str = "multi_ack_detailed no-done side-band-64k side-band ofs-delta thin-pack shallow deepen-since deepen-not deepen-relative include-tag no-progress allow-tip-sha1-in-want allow-reachable-sha1-in-want filter";

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
    request: request::Request,
    caps: Capabilities,
}

/// Parses an upload-pack request (already gunzipped), within `limits`.
pub fn parse_request(body: &[u8], limits: &Limits) -> Result<Request, BadRequest> {
    let mut parsed = Request {
        request: request::Request::new(limits),
        caps: Capabilities::default(),
    };
    let mut pos = 0;
    let mut section = 0;
    // A decoded length is at most the bytes decoded, so `pos` stays within them.
    while let Some((pkt, len)) = pktline::decode(body.get(pos..).unwrap_or_default())? {
        pos += len;
        match pkt {
            Pkt::Flush => {
                section += 1;
                parsed.request.negotiates |= section > 1;
            }
            Pkt::Data(line) => parsed.read_line(line, section == 0)?,
            other => return Err(BadRequest::UnexpectedPacket(format!("{other:?}"))),
        }
        if parsed.request.done {
            break;
        }
    }
    if pos < body.len() && !parsed.request.done {
        return Err(BadRequest::Truncated);
    }
    let fetch = &mut parsed.request.fetch;
    fetch.deepen_relative = parsed.caps.has("deepen-relative");
    fetch.include_tag = parsed.caps.has("include-tag");
    fetch.ofs_delta = parsed.caps.has("ofs-delta");
    fetch.thin_pack = parsed.caps.has("thin-pack");
    Ok(parsed)
}

impl Request {
    /// Takes one line of the request; wants are allowed only in the first section.
    fn read_line(&mut self, line: &[u8], in_wants: bool) -> Result<(), BadRequest> {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        if let Some(rest) = text.strip_prefix(b"want ") {
            if !in_wants {
                return Err(request::unexpected(text));
            }
            // git reads capabilities after any want, not only the first.
            if let Some(caps) = rest.get(41..) {
                self.caps.add(&String::from_utf8_lossy(caps));
            }
            return self.request.want(request::parse_id(rest, line)?);
        }
        match self.request.read_shared(text, line)? {
            true => Ok(()),
            false => Err(request::unexpected(text)),
        }
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
    if request.request.fetch.wants.is_empty() {
        return Ok(Answer::Negotiation(Vec::new()));
    }
    let reader = ObjectReader::new(store);
    let resolved = match wants::resolve(&reader, &request.request.fetch) {
        Ok(resolved) => resolved,
        Err(FetchError::Store(e)) => return Err(e),
        Err(refused) => return Ok(Answer::Negotiation(err_line(&refused.to_string()))),
    };
    let mut walker = Walker::new(&reader);
    let mut out = Vec::new();
    let plan = super::shallow_plan(&mut walker, &resolved)?;
    if let Some(plan) = &plan {
        for line in super::shallow_lines(plan) {
            pktline::write_str(&mut out, &line);
        }
        out.extend_from_slice(pktline::FLUSH);
    }
    if !request.request.negotiates || !acknowledge(&mut walker, &request, &resolved, &mut out)? {
        return Ok(Answer::Negotiation(out));
    }
    let selection = select::select(store, &mut walker, &resolved, plan)?;
    let options = pack_options(&request.caps);
    Ok(Answer::Pack(out, super::pack(reader, selection, options)))
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
    if request.request.done {
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
    for &have in &request.request.fetch.haves {
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
