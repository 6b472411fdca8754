//! Smart upload-pack (`git clone`/`fetch`, isomorphic-git): one back end behind the protocol
//! front ends (v0 today), as in git's `upload-pack.c`. A request is resolved against the
//! repository (wants peeled, haves found, shallow limits read), negotiated by its front end,
//! and answered with a selection of objects streamed as a pack.

mod negotiate;
mod select;
mod v0;
mod wants;

pub use v0::{advertise, err_line, parse_request, serve, Request, CAPABILITIES};

use crate::pack_objects::PackStream;
use crate::store::sql::Sql;

/// The answer to one request.
pub enum Answer<S: Sql> {
    /// Negotiation only (or an error line): the whole body.
    Negotiation(Vec<u8>),
    /// The negotiation, then the pack.
    Pack(Vec<u8>, Box<PackStream<S>>),
}
