//! Smart upload-pack (`git clone`/`fetch`, isomorphic-git): one back end behind two protocol
//! front ends, as in git's `upload-pack.c` and `serve.c`. A request is resolved against the
//! repository (wants peeled, haves found, shallow limits read), negotiated by its front end
//! (v0's rounds, or v2's `fetch` command), and answered with a selection of objects streamed
//! as a pack. Protocol v2's other commands, `ls-refs` and `object-info`, are served here too.
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

mod filter;
mod ls_refs;
mod negotiate;
mod request;
mod select;
mod serve;
mod v0;
mod v2;
mod wants;

pub use serve::{advertise_v2, serve_v2, Failure};
pub use v0::{advertise, err_line, parse_request, serve, Request, CAPABILITIES};

use crate::format::object::ObjectId;
use crate::pack_objects::{Options, PackStream};
use crate::rev_walk::{CommitPlan, Walker};
use crate::store::sql::Sql;
use crate::store::{ObjectReader, StoreError};
use select::Selection;
use wants::Resolved;

/// The answer to one request.
pub enum Answer<S: Sql> {
    /// Negotiation only (or an error line): the whole body.
    Negotiation(Vec<u8>),
    /// The negotiation, then the pack.
    Pack(Vec<u8>, Box<PackStream<S>>),
}

/// For a fetch that deepens or sets a depth: which commits are sent and where the client's
/// history is cut.
fn shallow_plan<S: Sql>(
    walker: &mut Walker<S>,
    resolved: &Resolved,
) -> Result<Option<CommitPlan>, StoreError> {
    if !resolved.deepen.any() {
        return Ok(None);
    }
    let tips: Vec<ObjectId> = resolved
        .refs
        .iter()
        .map(|r| r.peeled.unwrap_or(r.id))
        .collect();
    let plan = walker.shallow(
        &resolved.want_commits,
        &resolved.common,
        &resolved.deepen,
        &resolved.client_shallow,
        &tips,
    )?;
    Ok(Some(plan))
}

/// The `shallow` and `unshallow` lines of `plan`.
fn shallow_lines(plan: &CommitPlan) -> Vec<String> {
    let shallow = plan.shallow.iter().map(|id| format!("shallow {id}\n"));
    let unshallow = plan.unshallow.iter().map(|id| format!("unshallow {id}\n"));
    shallow.chain(unshallow).collect()
}

/// The pack of `selection`, read through `reader` and framed as `options` say.
fn pack<S: Sql>(
    reader: ObjectReader<S>,
    selection: Selection,
    options: Options,
) -> Box<PackStream<S>> {
    let Selection { pieces, count } = selection;
    Box::new(PackStream::new(reader, pieces, count, options))
}
