//! Smart upload-pack, protocol v0/v1 over stateless HTTP (`git clone`/`fetch`, isomorphic-git):
//! the advertisement, then one request per negotiation round. Each answer is the
//! negotiation (shallow info, ACK/NAK) and, once the client is done, a pack streamed in
//! side-band frames.

use std::collections::HashSet;

use crate::object::{ObjectId, ObjectType};
use crate::pack_objects::{Options, PackStream, Piece};
use crate::pktline::{self, Pkt, SideBand};
use crate::reply::BadRequest;
use crate::rev_walk::{Deepen, Walker};
use crate::sql::Sql;
use crate::store::{Location, ObjectReader, Store, StoreError};
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
    let mut lines = Vec::new();
    if let Some(id) = head_id {
        lines.push(format!("{id} HEAD"));
    }
    for r in &refs {
        lines.push(format!("{} {}", r.id, r.name));
        if let Some(peeled) = r.peeled {
            lines.push(format!("{peeled} {}^{{}}", r.name));
        }
    }
    if lines.is_empty() {
        lines.push(format!("{} capabilities^{{}}", ObjectId::ZERO));
    }
    let mut out = Vec::new();
    pktline::write_str(&mut out, "# service=git-upload-pack\n");
    out.extend_from_slice(pktline::FLUSH);
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            pktline::write_str(&mut out, &format!("{line}\0{caps}\n"));
        } else {
            pktline::write_str(&mut out, &format!("{line}\n"));
        }
    }
    out.extend_from_slice(pktline::FLUSH);
    Ok(out)
}

/// The capabilities a fetch request asked for.
#[derive(Clone, Debug, Default)]
pub struct Capabilities {
    multi_ack_detailed: bool,
    multi_ack: bool,
    no_done: bool,
    side_band: Option<SideBand>,
    ofs_delta: bool,
    no_progress: bool,
    include_tag: bool,
    deepen_relative: bool,
}

/// One parsed `POST git-upload-pack` body.
#[derive(Clone, Debug, Default)]
pub struct Request {
    wants: Vec<ObjectId>,
    haves: Vec<ObjectId>,
    client_shallow: Vec<ObjectId>,
    depth: Option<u32>,
    since: Option<i64>,
    deepen_not: Vec<String>,
    done: bool,
    /// Whether a `have` section was sent at all: a shallow fetch first sends only its wants
    /// and deepen lines, to learn the shallow boundary.
    negotiates: bool,
    caps: Capabilities,
}

fn parse_id(rest: &[u8], line: &[u8]) -> Result<ObjectId, BadRequest> {
    let hex = rest.get(..40).unwrap_or(rest);
    ObjectId::from_hex(hex).ok_or_else(|| {
        BadRequest(format!(
            "malformed line {:?}",
            String::from_utf8_lossy(line).trim_end()
        ))
    })
}

/// Parses an upload-pack request (already gunzipped).
pub fn parse_request(body: &[u8]) -> Result<Request, BadRequest> {
    let mut request = Request::default();
    let mut pos = 0;
    let mut section = 0;
    while let Some((pkt, len)) = pktline::decode(&body[pos..])? {
        pos += len;
        let line = match pkt {
            Pkt::Flush => {
                section += 1;
                request.negotiates |= section > 1;
                continue;
            }
            Pkt::Data(line) => line,
            other => return Err(BadRequest(format!("unexpected packet {other:?}"))),
        };
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let bad = || {
            BadRequest(format!(
                "unexpected line {:?}",
                String::from_utf8_lossy(text)
            ))
        };
        if let Some(rest) = text.strip_prefix(b"want ") {
            if section > 0 {
                return Err(bad());
            }
            if request.wants.is_empty() && rest.len() > 41 {
                request.caps = parse_capabilities(&String::from_utf8_lossy(&rest[41..]));
            }
            request.wants.push(parse_id(rest, line)?);
        } else if let Some(rest) = text.strip_prefix(b"have ") {
            request.negotiates = true;
            request.haves.push(parse_id(rest, line)?);
        } else if let Some(rest) = text.strip_prefix(b"shallow ") {
            request.client_shallow.push(parse_id(rest, line)?);
        } else if let Some(rest) = text.strip_prefix(b"deepen-since ") {
            let since = std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            request.since = Some(since.ok_or_else(bad)?);
        } else if let Some(rest) = text.strip_prefix(b"deepen-not ") {
            request
                .deepen_not
                .push(String::from_utf8_lossy(rest).trim().to_string());
        } else if let Some(rest) = text.strip_prefix(b"deepen ") {
            let depth = std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            request.depth = Some(depth.filter(|d| *d > 0).ok_or_else(bad)?);
        } else if text == b"done" {
            request.done = true;
            request.negotiates = true;
            break;
        } else {
            return Err(bad());
        }
    }
    if pos < body.len() && !request.done {
        return Err(BadRequest(
            "truncated pkt-line at the end of the request".into(),
        ));
    }
    Ok(request)
}

fn parse_capabilities(list: &str) -> Capabilities {
    let mut caps = Capabilities::default();
    for cap in list.split_ascii_whitespace() {
        match cap {
            "multi_ack_detailed" => caps.multi_ack_detailed = true,
            "multi_ack" => caps.multi_ack = true,
            "no-done" => caps.no_done = true,
            "side-band-64k" => caps.side_band = Some(SideBand::Large),
            "side-band" => caps.side_band = caps.side_band.or(Some(SideBand::Small)),
            "ofs-delta" => caps.ofs_delta = true,
            "no-progress" => caps.no_progress = true,
            "include-tag" => caps.include_tag = true,
            "deepen-relative" => caps.deepen_relative = true,
            _ => {}
        }
    }
    caps
}

/// The answer to one request.
pub enum Answer<S: Sql> {
    /// Negotiation only (or an error line): the whole body.
    Negotiation(Vec<u8>),
    /// The negotiation, then the pack.
    Pack(Vec<u8>, Box<PackStream<S>>),
}

fn err_line(message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    pktline::write_str(&mut out, &format!("ERR {message}\n"));
    out
}

/// Answers one upload-pack request against the repository in `store`.
pub fn serve<S: Sql>(store: &Store<S>, request: Request) -> Result<Answer<S>, StoreError> {
    if request.wants.is_empty() {
        return Ok(Answer::Negotiation(Vec::new()));
    }
    let reader = ObjectReader::new(store);
    let wanted = store.locate_many(&request.wants)?;
    if let Some(missing) = request.wants.iter().find(|id| !wanted.contains_key(id)) {
        return Ok(Answer::Negotiation(err_line(&format!(
            "upload-pack: not our ref {missing}"
        ))));
    }
    let refs = store.refs()?;
    let mut deepen = Deepen {
        depth: request.depth,
        since: request.since,
        relative: request.caps.deepen_relative && request.depth.is_some(),
        ..Deepen::default()
    };
    for name in &request.deepen_not {
        let found = [
            name.clone(),
            format!("refs/heads/{name}"),
            format!("refs/tags/{name}"),
        ]
        .into_iter()
        .find_map(|full| refs.iter().find(|r| r.name == full));
        match found {
            Some(r) => deepen.not.push(r.peeled.unwrap_or(r.id)),
            None => {
                return Ok(Answer::Negotiation(err_line(&format!(
                    "upload-pack: deepen-not is not a ref: {name}"
                ))))
            }
        }
    }

    // Wanted tags are sent along with what they tag.
    let mut extra: Vec<ObjectId> = Vec::new();
    let mut want_commits: Vec<ObjectId> = Vec::new();
    let mut want_trees: Vec<ObjectId> = Vec::new();
    for id in &request.wants {
        let peeled = reader.peel(*id)?;
        extra.extend(peeled.tags);
        match peeled.kind {
            Some(ObjectType::Commit) => want_commits.push(peeled.target),
            Some(ObjectType::Tree) => want_trees.push(peeled.target),
            _ => extra.push(peeled.target),
        }
    }

    let mut walker = Walker::new(&reader);
    let client_shallow: HashSet<ObjectId> = request.client_shallow.iter().copied().collect();
    let have_types = store.object_types(&request.haves)?;
    let common: Vec<ObjectId> = request
        .haves
        .iter()
        .filter(|id| have_types.get(id) == Some(&ObjectType::Commit))
        .copied()
        .collect();

    let mut out = Vec::new();
    let plan = if deepen.any() {
        let plan = walker.shallow(&want_commits, &common, &deepen, &client_shallow)?;
        for id in &plan.shallow {
            pktline::write_str(&mut out, &format!("shallow {id}\n"));
        }
        for id in &plan.unshallow {
            pktline::write_str(&mut out, &format!("unshallow {id}\n"));
        }
        out.extend_from_slice(pktline::FLUSH);
        Some(plan)
    } else {
        None
    };

    if !request.negotiates {
        return Ok(Answer::Negotiation(out));
    }
    let caps = &request.caps;
    let multi_ack = caps.multi_ack_detailed || caps.multi_ack;
    if caps.multi_ack_detailed {
        for id in &common {
            pktline::write_str(&mut out, &format!("ACK {id} common\n"));
        }
    } else if caps.multi_ack {
        for id in &common {
            pktline::write_str(&mut out, &format!("ACK {id} continue\n"));
        }
    }
    let last = common.last().copied();
    if !request.done {
        let common_set: HashSet<ObjectId> = common.iter().copied().collect();
        let ready = caps.multi_ack_detailed
            && !common.is_empty()
            && walker.all_reach(&want_commits, &common_set)?;
        if let (true, Some(last)) = (ready, last) {
            pktline::write_str(&mut out, &format!("ACK {last} ready\n"));
        }
        pktline::write_str(&mut out, "NAK\n");
        match (ready && caps.no_done, last) {
            (true, Some(last)) => pktline::write_str(&mut out, &format!("ACK {last}\n")),
            _ => return Ok(Answer::Negotiation(out)),
        }
    } else {
        match last {
            Some(last) if multi_ack || common.len() == 1 => {
                pktline::write_str(&mut out, &format!("ACK {last}\n"))
            }
            _ => pktline::write_str(&mut out, "NAK\n"),
        }
    }

    let side_band = caps.side_band.unwrap_or(SideBand::None);
    let options = Options {
        side_band,
        ofs_delta: caps.ofs_delta,
        progress: side_band != SideBand::None && !caps.no_progress,
    };
    let everything = plan.is_none()
        && common.is_empty()
        && client_shallow.is_empty()
        && refs.iter().all(|r| request.wants.contains(&r.id));
    if everything {
        if let Some((pieces, count)) = whole_store(store)? {
            return Ok(Answer::Pack(
                out,
                Box::new(PackStream::new(reader, pieces, count, options)),
            ));
        }
    }

    let plan = match plan {
        Some(plan) => plan,
        None => walker.difference(&want_commits, &common, &client_shallow)?,
    };
    let mut skip: HashSet<ObjectId> = HashSet::new();
    let mut objects: Vec<ObjectId> = Vec::new();
    // When the client has some history, each commit's tree is compared with its parents'
    // (those the client has and those being sent) so only what changed is read; a clone
    // walks each tree once instead.
    let known: HashSet<ObjectId> = plan.commits.iter().chain(&plan.edges).copied().collect();
    for commit in &plan.commits {
        if skip.insert(*commit) {
            objects.push(*commit);
        }
        let mut bases = Vec::new();
        if !plan.edges.is_empty() {
            for parent in walker.parents(commit)? {
                if known.contains(&parent) {
                    bases.push(walker.tree_of(&parent)?);
                }
            }
        }
        let tree = walker.tree_of(commit)?;
        walker.tree_objects(tree, &bases, &mut skip, &mut objects)?;
    }
    for tree in want_trees {
        walker.tree_objects(tree, &[], &mut skip, &mut objects)?;
    }
    for id in extra {
        if skip.insert(id) {
            objects.push(id);
        }
    }
    if caps.include_tag {
        let sent: HashSet<ObjectId> = objects.iter().copied().collect();
        for r in refs.iter().filter(|r| r.name.starts_with("refs/tags/")) {
            if r.peeled.is_some_and(|p| sent.contains(&p))
                && !sent.contains(&r.id)
                && skip.insert(r.id)
            {
                objects.push(r.id);
            }
        }
    }
    let pieces = plan_pieces(store, &objects)?;
    let count = pieces.len() as u32;
    Ok(Answer::Pack(
        out,
        Box::new(PackStream::new(reader, pieces, count, options)),
    ))
}

/// Every stored object, as whole stored packs copied verbatim plus the loose objects; None
/// when packs overlap (an object stored twice), which would put duplicates in the pack.
fn whole_store<S: Sql>(store: &Store<S>) -> Result<Option<(Vec<Piece>, u32)>, StoreError> {
    let (total, loose) = store.count_objects()?;
    let mut pieces = Vec::new();
    let mut in_packs = 0;
    for pack in store.packs()? {
        in_packs += store.pack_object_count(pack.id)?;
        pieces.push(Piece::Entries {
            pack: pack.id,
            start: crate::pack::HEADER_LEN as u64,
            end: pack.size - 20,
        });
    }
    if in_packs + loose != total {
        return Ok(None);
    }
    let ids = store.loose_ids()?;
    let located = store.locate_many(&ids)?;
    for id in ids {
        if let Some(&(kind, location)) = located.get(&id) {
            pieces.push(Piece::Object { id, kind, location });
        }
    }
    Ok(Some((pieces, total as u32)))
}

/// The objects as pieces in storage order, so stored delta bases come before their deltas.
fn plan_pieces<S: Sql>(store: &Store<S>, objects: &[ObjectId]) -> Result<Vec<Piece>, StoreError> {
    let located = store.locate_many(objects)?;
    let mut pieces: Vec<(ObjectId, ObjectType, Location)> = Vec::with_capacity(objects.len());
    for id in objects {
        let &(kind, location) = located
            .get(id)
            .ok_or_else(|| StoreError(format!("object {id} is missing")))?;
        pieces.push((*id, kind, location));
    }
    let order = |location: &Location| match location {
        Location::Packed { pack, offset } => (0, *pack, *offset),
        Location::Loose => (1, 0, 0),
    };
    pieces.sort_by_key(|(_, _, location)| order(location));
    Ok(pieces
        .into_iter()
        .map(|(id, kind, location)| Piece::Object { id, kind, location })
        .collect())
}
