//! Fetching a whole repository from another Git server over smart HTTP, as
//! `git clone --mirror` does (git's `fetch-pack.c` and `connect.c`), without doing any I/O:
//! this reads the ref advertisement (protocol v2, or v0 from a server that only speaks v0),
//! writes the requests, and takes the pack out of the answer's side-band. The host sends
//! and receives; what the pack holds goes into the same indexing and checks as a push.
// What a remote server sends is indexed and sliced only through checked calls, so no
// answer can panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

mod demux;

pub use demux::Demux;

use std::collections::{HashMap, HashSet};

use crate::format::object::ObjectId;
use crate::format::pktline::{self, Pkt, PktError};
use crate::protocol::v2::DELIM;
use crate::AGENT;

/// The longest ref advertisement or `ls-refs` answer read: 10,000 refs (`MAX_PUSH_REFS`'s
/// default) take about 1 MiB.
pub const MAX_LISTING: usize = 8 << 20;

/// The longest ref name taken (git's own limit is the file system's, about 4 KiB).
const MAX_NAME: usize = 4096;

/// The content type of an upload-pack request.
pub const UPLOAD_PACK_REQUEST: &str = "application/x-git-upload-pack-request";

/// Why fetching failed, in git's words where git has them.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The answer is not what the protocol allows.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The answer is not framed in pkt-lines.
    #[error("protocol error: {0}")]
    Pkt(#[from] PktError),
    /// The server refused, on its error band or with an `ERR` line.
    #[error("remote error: {0}")]
    Remote(String),
    /// The answer ended before the pack did.
    #[error("early EOF: the remote end hung up unexpectedly")]
    EarlyEof,
    /// More refs than one push may update.
    #[error("the source has more than {0} refs (MAX_PUSH_REFS)")]
    TooManyRefs(usize),
}

/// The protocol a server answered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Protocol v2: `ls-refs`, then `fetch`.
    V2,
    /// The original protocol: the refs come with the advertisement.
    V0,
}

/// One ref of the remote repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteRef {
    /// What it points at.
    pub id: ObjectId,
    /// Its full name (`refs/heads/main`).
    pub name: String,
}

/// The remote repository's refs and the branch its HEAD names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Its refs under `refs/`, as the server listed them.
    pub refs: Vec<RemoteRef>,
    /// The ref HEAD names, if HEAD is a symbolic ref.
    pub head: Option<String>,
}

/// What `info/refs?service=git-upload-pack` told.
#[derive(Debug, PartialEq, Eq)]
pub enum Advertised {
    /// A v2 server: the refs come from `ls-refs`, which tells an unborn HEAD's branch when
    /// the server says so (`ls-refs=unborn`).
    V2 {
        /// Whether `ls-refs` takes `unborn`.
        unborn: bool,
    },
    /// A v0 server, with its refs.
    V0(Listing),
}

/// Which refs to take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Every ref under `refs/`, as `git clone --mirror` takes them.
    All,
    /// Only the branch HEAD names.
    Default,
}

/// The pkt-lines of `body`, up to the flush that ends them (or the end of `body`).
fn lines(mut body: &[u8]) -> impl Iterator<Item = Result<Pkt<'_>, FetchError>> {
    std::iter::from_fn(move || match pktline::decode(body) {
        Ok(Some((pkt, len))) => {
            body = body.get(len..).unwrap_or_default();
            Some(Ok(pkt))
        }
        Ok(None) if body.is_empty() => None,
        Ok(None) => {
            body = &[];
            Some(Err(FetchError::EarlyEof))
        }
        Err(e) => {
            body = &[];
            Some(Err(e.into()))
        }
    })
}

/// A data line's text without its newline.
fn text(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// Reads the answer to `GET info/refs?service=git-upload-pack` sent with
/// `Git-Protocol: version=2`, which lists at most `max_refs` refs.
pub fn parse_advertisement(body: &[u8], max_refs: usize) -> Result<Advertised, FetchError> {
    let mut pkts = lines(body).peekable();
    // Smart HTTP begins with `# service=git-upload-pack` and a flush.
    if let Some(Ok(Pkt::Data(line))) = pkts.peek() {
        if line.starts_with(b"# service=") {
            pkts.next();
            if !matches!(pkts.next(), Some(Ok(Pkt::Flush))) {
                return Err(protocol("no flush after the service line"));
            }
        }
    }
    let mut listing = Listing::default();
    let mut first = true;
    while let Some(pkt) = pkts.next() {
        let line = match pkt? {
            Pkt::Flush => return Ok(Advertised::V0(listing)),
            Pkt::Data(line) => text(line),
            other => return Err(protocol(&format!("unexpected {other:?}"))),
        };
        if first && line == b"version 2" {
            return v2_capabilities(&mut pkts);
        }
        if let Some(message) = line.strip_prefix(b"ERR ") {
            return Err(FetchError::Remote(lossy(message)));
        }
        let (line, capabilities) = match (first, split(line, 0)) {
            (true, Some((line, capabilities))) => (line, Some(capabilities)),
            _ => (line, None),
        };
        first = false;
        if let Some(head) = capabilities.and_then(head_symref) {
            listing.head = Some(head);
        }
        let (id, name) = id_and_rest(line)?;
        if name != b"capabilities^{}" {
            keep(&mut listing, id, name, max_refs)?;
        }
    }
    Err(FetchError::EarlyEof)
}

/// The rest of a v2 advertisement: its capabilities, up to the flush.
fn v2_capabilities<'a>(
    pkts: impl Iterator<Item = Result<Pkt<'a>, FetchError>>,
) -> Result<Advertised, FetchError> {
    let mut unborn = false;
    for pkt in pkts {
        match pkt? {
            Pkt::Flush => return Ok(Advertised::V2 { unborn }),
            Pkt::Data(line) => {
                let ls_refs = text(line).strip_prefix(b"ls-refs=");
                unborn |= ls_refs
                    .is_some_and(|features| features.split(|&b| b == b' ').any(|f| f == b"unborn"));
            }
            other => return Err(protocol(&format!("unexpected {other:?}"))),
        }
    }
    Err(FetchError::EarlyEof)
}

/// The target of `symref=HEAD:<target>` in a v0 capability list.
fn head_symref(capabilities: &[u8]) -> Option<String> {
    capabilities
        .split(|&b| b == b' ')
        .find_map(|cap| cap.strip_prefix(b"symref=HEAD:"))
        .map(lossy)
}

/// Adds a listed ref under `refs/` (not a peeled `^{}` line) to `listing`, which holds at
/// most `max_refs`.
fn keep(
    listing: &mut Listing,
    id: ObjectId,
    name: &[u8],
    max_refs: usize,
) -> Result<(), FetchError> {
    if !name.starts_with(b"refs/") || name.ends_with(b"^{}") {
        return Ok(());
    }
    if name.len() > MAX_NAME {
        return Err(protocol(&format!("a ref name over {MAX_NAME} bytes")));
    }
    if listing.refs.len() >= max_refs {
        return Err(FetchError::TooManyRefs(max_refs));
    }
    listing.refs.push(RemoteRef {
        id,
        name: lossy(name),
    });
    Ok(())
}

/// The v2 `ls-refs` request for every ref, with HEAD's target (also an unborn one's, when
/// the server takes `unborn`).
pub fn ls_refs_request(unborn: bool) -> Vec<u8> {
    let mut out = Vec::new();
    pktline::write_str(&mut out, "command=ls-refs\n");
    pktline::write_str(&mut out, &format!("agent={AGENT}\n"));
    out.extend_from_slice(DELIM);
    let unborn = if unborn { "unborn\n" } else { "" };
    for arg in [
        "symrefs\n",
        unborn,
        "ref-prefix HEAD\n",
        "ref-prefix refs/\n",
    ] {
        if !arg.is_empty() {
            pktline::write_str(&mut out, arg);
        }
    }
    out.extend_from_slice(pktline::FLUSH);
    out
}

/// Reads the answer to [`ls_refs_request`], which lists at most `max_refs` refs.
pub fn parse_ls_refs(body: &[u8], max_refs: usize) -> Result<Listing, FetchError> {
    let mut listing = Listing::default();
    for pkt in lines(body) {
        let line = match pkt? {
            Pkt::Flush => return Ok(listing),
            Pkt::Data(line) => text(line),
            other => return Err(protocol(&format!("unexpected {other:?} in ls-refs"))),
        };
        if let Some(message) = line.strip_prefix(b"ERR ") {
            return Err(FetchError::Remote(lossy(message)));
        }
        let mut words = line.split(|&b| b == b' ');
        let (id, name) = match (words.next(), words.next()) {
            (Some(id), Some(name)) => (id, name),
            _ => return Err(protocol(&format!("bad ls-refs line '{}'", lossy(line)))),
        };
        if name == b"HEAD" {
            let target = words.find_map(|w| w.strip_prefix(b"symref-target:"));
            listing.head = target.map(lossy);
            continue;
        }
        let id = ObjectId::from_hex(id)
            .ok_or_else(|| protocol(&format!("bad ls-refs line '{}'", lossy(line))))?;
        keep(&mut listing, id, name, max_refs)?;
    }
    Err(FetchError::EarlyEof)
}

/// One ref to create, move or delete: a push command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The ref's full name.
    pub name: String,
    /// What it points at here (zero: it does not exist here).
    pub old: ObjectId,
    /// What it points at there (zero: it is to go).
    pub new: ObjectId,
}

/// What to ask for and what to make of it: the ref updates that make ours the source's,
/// the objects to want and the ones to say we have.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// The updates, in the order the source listed its refs, then the deletions.
    pub updates: Vec<Update>,
    /// The branch HEAD should name, if the source has it.
    pub head: Option<String>,
    /// The distinct objects the updated refs point at.
    pub wants: Vec<ObjectId>,
    /// The distinct objects our refs point at, up to a limit: the server leaves out what
    /// they reach.
    pub haves: Vec<ObjectId>,
}

impl Plan {
    /// The plan for making `ours` (our refs, with what they point at) `choice` of
    /// `listing`, as `git fetch --prune` of a mirror does: refs the source lacks go, when
    /// every ref is taken. At most `max_haves` of our objects are named.
    pub fn new(
        listing: Listing,
        choice: Choice,
        ours: &[(String, ObjectId)],
        max_haves: usize,
    ) -> Plan {
        let mut seen = HashSet::new();
        let head = listing.head;
        let theirs: Vec<RemoteRef> = listing
            .refs
            .into_iter()
            .filter(|r| choice == Choice::All || Some(&r.name) == head.as_ref())
            .filter(|r| seen.insert(r.name.clone()))
            .collect();
        let ours_by_name: HashMap<&str, ObjectId> =
            ours.iter().map(|(name, id)| (name.as_str(), *id)).collect();
        let mut updates: Vec<Update> = theirs
            .iter()
            .map(|r| Update {
                name: r.name.clone(),
                old: ours_by_name
                    .get(r.name.as_str())
                    .copied()
                    .unwrap_or(ObjectId::ZERO),
                new: r.id,
            })
            .filter(|u| u.old != u.new)
            .collect();
        if choice == Choice::All {
            let gone = ours.iter().filter(|(name, _)| !seen.contains(name));
            updates.extend(gone.map(|(name, id)| Update {
                name: name.clone(),
                old: *id,
                new: ObjectId::ZERO,
            }));
        }
        let head = head.filter(|h| theirs.iter().any(|r| &r.name == h));
        let mut wanted = HashSet::new();
        let wants = updates
            .iter()
            .map(|u| u.new)
            .filter(|id| !id.is_zero() && wanted.insert(*id))
            .collect();
        let mut had = HashSet::new();
        let haves = ours
            .iter()
            .map(|(_, id)| *id)
            .filter(|id| had.insert(*id))
            .take(max_haves)
            .collect();
        Plan {
            updates,
            head,
            wants,
            haves,
        }
    }

    /// The command section of a push that makes every update, atomically: what a
    /// receive-pack is fed before the pack.
    pub fn commands(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, u) in self.updates.iter().enumerate() {
            let mut line = format!("{} {} {}", u.old, u.new, u.name);
            if i == 0 {
                line.push_str("\0report-status atomic object-format=sha1");
            }
            line.push('\n');
            pktline::write_str(&mut out, &line);
        }
        out.extend_from_slice(pktline::FLUSH);
        out
    }

    /// The upload-pack request for every wanted object, naming what we have, with `done`:
    /// one pack, without progress, its deltas against offsets and never against objects
    /// it does not hold (no thin pack).
    pub fn fetch_request(&self, protocol: Protocol) -> Vec<u8> {
        let mut out = Vec::new();
        let haves = |out: &mut Vec<u8>| {
            for id in &self.haves {
                pktline::write_str(out, &format!("have {id}\n"));
            }
            pktline::write_str(out, "done\n");
        };
        match protocol {
            Protocol::V2 => {
                pktline::write_str(&mut out, "command=fetch\n");
                pktline::write_str(&mut out, &format!("agent={AGENT}\n"));
                out.extend_from_slice(DELIM);
                pktline::write_str(&mut out, "ofs-delta\n");
                pktline::write_str(&mut out, "no-progress\n");
                for id in &self.wants {
                    pktline::write_str(&mut out, &format!("want {id}\n"));
                }
                haves(&mut out);
                out.extend_from_slice(pktline::FLUSH);
            }
            Protocol::V0 => {
                for (i, id) in self.wants.iter().enumerate() {
                    let caps = match i {
                        0 => format!(" side-band-64k ofs-delta no-progress agent={AGENT}"),
                        _ => String::new(),
                    };
                    pktline::write_str(&mut out, &format!("want {id}{caps}\n"));
                }
                out.extend_from_slice(pktline::FLUSH);
                haves(&mut out);
            }
        }
        out
    }
}

/// Splits `line` at the first `at`.
fn split(line: &[u8], at: u8) -> Option<(&[u8], &[u8])> {
    let i = line.iter().position(|&b| b == at)?;
    Some((line.get(..i)?, line.get(i + 1..)?))
}

/// The id and the rest of `<id> <rest>`.
fn id_and_rest(line: &[u8]) -> Result<(ObjectId, &[u8]), FetchError> {
    split(line, b' ')
        .and_then(|(id, rest)| Some((ObjectId::from_hex(id)?, rest)))
        .ok_or_else(|| protocol(&format!("bad advertisement line '{}'", lossy(line))))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn protocol(what: &str) -> FetchError {
    FetchError::Protocol(what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkts(lines: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in lines {
            match *line {
                "0000" => out.extend_from_slice(pktline::FLUSH),
                line => pktline::write_str(&mut out, line),
            }
        }
        out
    }

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    #[test]
    fn reads_a_v2_advertisement() {
        let body = pkts(&["# service=git-upload-pack\n", "0000", "version 2\n", "0000"]);
        assert_eq!(
            parse_advertisement(&body, 10),
            Ok(Advertised::V2 { unborn: false })
        );
        let body = pkts(&["version 2\n", "agent=git/2\n", "ls-refs=unborn\n", "0000"]);
        assert_eq!(
            parse_advertisement(&body, 10),
            Ok(Advertised::V2 { unborn: true })
        );
    }

    #[test]
    fn reads_a_v0_advertisement_with_head_and_peeled_tags() {
        let first = format!("{A} HEAD\0multi_ack symref=HEAD:refs/heads/dev agent=git/2\n");
        let body = pkts(&[
            "# service=git-upload-pack\n",
            "0000",
            &first,
            &format!("{A} refs/heads/dev\n"),
            &format!("{B} refs/tags/v1\n"),
            &format!("{A} refs/tags/v1^{{}}\n"),
            "0000",
        ]);
        let Ok(Advertised::V0(listing)) = parse_advertisement(&body, 10) else {
            panic!("not v0");
        };
        assert_eq!(listing.head.as_deref(), Some("refs/heads/dev"));
        let names: Vec<&str> = listing.refs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["refs/heads/dev", "refs/tags/v1"]);
        assert_eq!(
            parse_advertisement(&body, 1),
            Err(FetchError::TooManyRefs(1))
        );
    }

    #[test]
    fn reads_an_empty_v0_repository_and_refuses_garbage() {
        let empty = format!("{} capabilities^{{}}\0agent=git/2\n", ObjectId::ZERO);
        let body = pkts(&[&empty, "0000"]);
        assert_eq!(
            parse_advertisement(&body, 10),
            Ok(Advertised::V0(Listing::default()))
        );
        assert!(parse_advertisement(b"<html>", 10).is_err());
        assert!(parse_advertisement(&pkts(&["nonsense\n", "0000"]), 10).is_err());
        assert_eq!(
            parse_advertisement(&pkts(&[&format!("{A} refs/heads/x\n")]), 10),
            Err(FetchError::EarlyEof)
        );
        let long = format!("{A} refs/heads/{}\n", "x".repeat(MAX_NAME));
        assert!(parse_advertisement(&pkts(&[&long, "0000"]), 10).is_err());
    }

    #[test]
    fn reads_ls_refs_with_head_and_unborn() {
        let body = pkts(&[
            &format!("{A} HEAD symref-target:refs/heads/main\n"),
            &format!("{A} refs/heads/main\n"),
            &format!("{B} refs/tags/v1\n"),
            "0000",
        ]);
        let listing = parse_ls_refs(&body, 10).unwrap();
        assert_eq!(listing.head.as_deref(), Some("refs/heads/main"));
        assert_eq!(listing.refs.len(), 2);
        let unborn = pkts(&["unborn HEAD symref-target:refs/heads/trunk\n", "0000"]);
        let listing = parse_ls_refs(&unborn, 10).unwrap();
        assert_eq!(listing.head.as_deref(), Some("refs/heads/trunk"));
        assert!(listing.refs.is_empty());
    }

    #[test]
    fn plans_every_ref_or_the_default_branch() {
        let id = |hex: &str| ObjectId::from_hex(hex.as_bytes()).unwrap();
        let listing = Listing {
            refs: vec![
                RemoteRef {
                    id: id(A),
                    name: "refs/heads/main".into(),
                },
                RemoteRef {
                    id: id(A),
                    name: "refs/heads/copy".into(),
                },
                RemoteRef {
                    id: id(B),
                    name: "refs/tags/v1".into(),
                },
            ],
            head: Some("refs/heads/main".into()),
        };
        let all = Plan::new(listing.clone(), Choice::All, &[], 10);
        assert_eq!(all.updates.len(), 3);
        assert_eq!(all.wants, [id(A), id(B)]);
        let default = Plan::new(listing.clone(), Choice::Default, &[], 10);
        assert_eq!(default.updates.len(), 1);
        assert_eq!(default.head.as_deref(), Some("refs/heads/main"));
        let commands = String::from_utf8(default.commands()).unwrap();
        assert!(commands.contains("refs/heads/main\0report-status atomic"));
        let v0 = String::from_utf8(default.fetch_request(Protocol::V0)).unwrap();
        assert!(v0.contains(&format!("want {A} side-band-64k ofs-delta no-progress")));
        assert!(v0.ends_with("00000009done\n"));
        // Against refs of ours: only what differs moves, what the source lacks goes.
        let ours = [
            ("refs/heads/main".to_string(), id(A)),
            ("refs/heads/copy".to_string(), id(B)),
            ("refs/heads/gone".to_string(), id(B)),
        ];
        let sync = Plan::new(listing, Choice::All, &ours, 10);
        let moves: Vec<(&str, ObjectId, ObjectId)> = sync
            .updates
            .iter()
            .map(|u| (u.name.as_str(), u.old, u.new))
            .collect();
        assert_eq!(
            moves,
            [
                ("refs/heads/copy", id(B), id(A)),
                ("refs/tags/v1", ObjectId::ZERO, id(B)),
                ("refs/heads/gone", id(B), ObjectId::ZERO),
            ]
        );
        assert_eq!(sync.haves, [id(A), id(B)]);
        let v2 = String::from_utf8(sync.fetch_request(Protocol::V2)).unwrap();
        assert!(v2.contains(&format!("have {B}\n0009done\n0000")));
    }
}
