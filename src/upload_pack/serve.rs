//! Protocol v2 over HTTP (git's `serve.c`): the capabilities `info/refs` advertises to a
//! client that sent `Git-Protocol: version=2`, and the one command each POST carries:
//! `ls-refs`, `fetch` or `object-info`.

use super::{ls_refs, v2, Answer};
use crate::format::object::ObjectId;
use crate::format::pktline;
use crate::limits::Limits;
use crate::protocol::v2::{self as framing, Args};
use crate::protocol::BadRequest;
use crate::store::sql::Sql;
use crate::store::{ObjectReader, Store, StoreError};
use crate::AGENT;

/// The commands served.
const COMMANDS: &[&str] = &["ls-refs", "fetch", "object-info"];

/// The `fetch` features advertised, in git's order.
const FETCH_FEATURES: &str = "shallow wait-for-done filter ref-in-want sideband-all";

/// Why a v2 request gets no answer of its own.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Not well framed, or over a limit.
    #[error(transparent)]
    Bad(#[from] BadRequest),
    /// Refused in git's words: the client shows them after `remote error:`.
    #[error("{0}")]
    Refused(String),
    /// The repository's storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<framing::Refused> for Failure {
    fn from(refused: framing::Refused) -> Self {
        Failure::Refused(refused.to_string())
    }
}

/// The v2 `info/refs?service=git-upload-pack` body.
pub fn advertise_v2() -> Vec<u8> {
    framing::advertisement(&[
        format!("agent={AGENT}"),
        "ls-refs=unborn".into(),
        format!("fetch={FETCH_FEATURES}"),
        "server-option".into(),
        "object-format=sha1".into(),
        "object-info".into(),
    ])
}

/// Answers one v2 request (already gunzipped) against the repository in `store`.
pub fn serve_v2<S: Sql>(
    store: &Store<S>,
    body: &[u8],
    limits: &Limits,
) -> Result<Answer<S>, Failure> {
    let command = match framing::parse_command(body, COMMANDS) {
        Ok(Some(command)) => command,
        Ok(None) => return Ok(Answer::Negotiation(Vec::new())),
        Err(Ok(refused)) => return Err(refused.into()),
        Err(Err(bad)) => return Err(bad.into()),
    };
    match command.name {
        "ls-refs" => Ok(Answer::Negotiation(ls_refs::ls_refs(
            store,
            command.args(),
        )?)),
        "object-info" => Ok(Answer::Negotiation(object_info(
            store,
            command.args(),
            limits,
        )?)),
        _ => v2::fetch(store, command.args(), limits),
    }
}

/// Answers `object-info` (git's `protocol-caps.c`): with `size`, each named object's size;
/// an object the server lacks gets an empty one.
fn object_info<S: Sql>(store: &Store<S>, args: Args, limits: &Limits) -> Result<Vec<u8>, Failure> {
    let mut size = false;
    let mut ids = Vec::new();
    for arg in args {
        let arg = arg?;
        if arg == b"size" {
            size = true;
            continue;
        }
        let text = String::from_utf8_lossy(arg);
        let Some(hex) = text.strip_prefix("oid ") else {
            return Err(Failure::Refused(format!(
                "object-info: unexpected line: '{text}'"
            )));
        };
        let id = ObjectId::from_hex(hex.as_bytes()).ok_or_else(|| {
            Failure::Refused(format!(
                "object-info: protocol error, expected to get oid, not '{hex}'"
            ))
        })?;
        ids.push(id);
        Limits::check(ids.len(), limits.wants, "too many oids", "MAX_WANTS")
            .map_err(BadRequest::from)?;
    }
    let mut out = Vec::new();
    if !ids.is_empty() && size {
        pktline::write_str(&mut out, "size");
    }
    let sizes = ObjectReader::new(store).sizes(&ids)?;
    for id in ids {
        let line = match sizes.get(&id).copied() {
            None => format!("{id} "),
            Some(bytes) if size => format!("{id} {bytes}"),
            Some(_) => id.to_string(),
        };
        pktline::write_str(&mut out, &line);
    }
    out.extend_from_slice(pktline::FLUSH);
    Ok(out)
}
