//! Protocol v2's `fetch` command (git's `upload_pack_v2`): one request names the wants, the
//! haves and the options as arguments. Until the haves are enough, the answer is an
//! `acknowledgments` section alone; then come the sections that end in the pack:
//! `acknowledgments` with `ready` (unless the client said `done`), `shallow-info`,
//! `wanted-refs` and `packfile`, each after a delimiter.

use super::negotiate::Common;
use super::request::{self, Request};
use super::serve::Failure;
use super::wants::{self, FetchError, Resolved};
use super::{pack, select, shallow_lines, shallow_plan, Answer};
use crate::format::pktline::{self, SideBand};
use crate::limits::Limits;
use crate::pack_objects::Options;
use crate::protocol::v2::{Args, Refused, DELIM};
use crate::protocol::BadRequest;
use crate::rev_walk::{CommitPlan, Walker};
use crate::store::sql::Sql;
use crate::store::{ObjectReader, Store};

/// One `fetch` request.
#[derive(Default)]
struct Fetch {
    request: Request,
    no_progress: bool,
    wait_for_done: bool,
    /// Every line of the answer goes in side-band 1, not only the pack.
    sideband_all: bool,
}

/// Reads the arguments, within `limits`.
fn read_args(args: Args, limits: &Limits) -> Result<Fetch, Failure> {
    let mut fetch = Fetch {
        request: Request::new(limits),
        ..Fetch::default()
    };
    for line in args {
        let line = line?;
        let options = &mut fetch.request.fetch;
        match line {
            b"thin-pack" => options.thin_pack = true,
            b"ofs-delta" => options.ofs_delta = true,
            b"include-tag" => options.include_tag = true,
            b"deepen-relative" => options.deepen_relative = true,
            b"no-progress" => fetch.no_progress = true,
            b"wait-for-done" => fetch.wait_for_done = true,
            b"sideband-all" => fetch.sideband_all = true,
            _ => read_arg(&mut fetch.request, line)?,
        }
    }
    Ok(fetch)
}

/// Reads an argument that has a value.
fn read_arg(request: &mut Request, line: &[u8]) -> Result<(), Failure> {
    if let Some(rest) = line.strip_prefix(b"want ") {
        if rest.len() != 40 {
            let text = String::from_utf8_lossy(line).into_owned();
            return Err(BadRequest::MalformedLine(text).into());
        }
        request.want(request::parse_id(rest, line)?)?;
    } else if let Some(name) = line.strip_prefix(b"want-ref ") {
        request.want_ref(String::from_utf8_lossy(name).into_owned())?;
    } else if !request.read_shared(line, line)? {
        let text = String::from_utf8_lossy(line).into_owned();
        return Err(Refused::UnexpectedLine(text).into());
    }
    Ok(())
}

/// Writes the answer's lines: in side-band 1 when the client asked for `sideband-all`.
struct Writer {
    out: Vec<u8>,
    sideband_all: bool,
}

impl Writer {
    fn line(&mut self, text: &str) {
        match self.sideband_all {
            true => pktline::write(&mut self.out, &[b"\x01", text.as_bytes()].concat()),
            false => pktline::write_str(&mut self.out, text),
        }
    }

    fn delim(&mut self) {
        self.out.extend_from_slice(DELIM);
    }
}

/// Answers `fetch` with `args` from the repository in `store`.
pub fn fetch<S: Sql>(store: &Store<S>, args: Args, limits: &Limits) -> Result<Answer<S>, Failure> {
    let fetch = read_args(args, limits)?;
    let asked = &fetch.request.fetch;
    if asked.wants.is_empty() && asked.want_refs.is_empty() && !fetch.wait_for_done {
        return Ok(Answer::Negotiation(Vec::new()));
    }
    let reader = ObjectReader::new(store);
    let resolved = match wants::resolve(&reader, asked) {
        Ok(resolved) => resolved,
        Err(FetchError::Store(e)) => return Err(e.into()),
        Err(refused) => return Err(Failure::Refused(refused.to_string())),
    };
    let mut walker = Walker::new(&reader);
    let mut writer = Writer {
        out: Vec::new(),
        sideband_all: fetch.sideband_all,
    };
    if !asked.haves.is_empty()
        && !fetch.request.done
        && !acknowledge(&mut walker, &fetch, &resolved, &mut writer)?
    {
        return Ok(Answer::Negotiation(writer.out));
    }
    let plan = shallow_plan(&mut walker, &resolved)?;
    sections_before_pack(&mut writer, &resolved, plan.as_ref());
    writer.line("packfile\n");
    let selection = select::select(store, &mut walker, &resolved, plan)?;
    let options = Options {
        side_band: SideBand::Large,
        ofs_delta: asked.ofs_delta,
        progress: !fetch.no_progress,
    };
    Ok(Answer::Pack(writer.out, pack(reader, selection, options)))
}

/// Writes `shallow-info` for a shallow fetch and `wanted-refs` for `want-ref`s. gitprotocol-v2
/// and git's fetch-pack read them in this order (git's upload-pack writes them the other way
/// round, which its own client refuses).
fn sections_before_pack(writer: &mut Writer, resolved: &Resolved, plan: Option<&CommitPlan>) {
    if resolved.deepen.any() || !resolved.client_shallow.is_empty() {
        writer.line("shallow-info\n");
        for line in plan.into_iter().flat_map(shallow_lines) {
            writer.line(&line);
        }
        writer.delim();
    }
    if !resolved.wanted_refs.is_empty() {
        writer.line("wanted-refs\n");
        for (name, id) in &resolved.wanted_refs {
            writer.line(&format!("{id} {name}\n"));
        }
        writer.delim();
    }
}

/// Writes the `acknowledgments` section: an ACK for each have the server has (once each,
/// as git counts them), or NAK for none; then `ready` and a delimiter if they are enough
/// for the pack (and the client did not ask to wait for `done`), else a flush that ends the
/// answer. Says whether the pack follows.
fn acknowledge<S: Sql>(
    walker: &mut Walker<S>,
    fetch: &Fetch,
    resolved: &Resolved,
    writer: &mut Writer,
) -> Result<bool, Failure> {
    let mut common = Common::default();
    for have in &fetch.request.fetch.haves {
        if let Some(&kind) = resolved.have_types.get(have) {
            common.add(walker, *have, kind)?;
        }
    }
    writer.line("acknowledgments\n");
    if common.haves.is_empty() {
        writer.line("NAK\n");
    }
    for have in &common.haves {
        writer.line(&format!("ACK {have}\n"));
    }
    if !fetch.wait_for_done && common.enough(walker, &resolved.want_commits)? {
        writer.line("ready\n");
        writer.delim();
        return Ok(true);
    }
    writer.out.extend_from_slice(pktline::FLUSH);
    Ok(false)
}
