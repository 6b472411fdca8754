//! What both smart services share on the wire (as gitprotocol-pack and gitprotocol-capabilities
//! describe it): the capability list a client sends, and the ref advertisement.

pub mod advertise;
pub mod capabilities;

use crate::format::pktline::PktError;

/// A request that is not well formed: answered with HTTP 400 and this one-line reason.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRequest(pub String);

impl From<PktError> for BadRequest {
    fn from(e: PktError) -> Self {
        BadRequest(e.0)
    }
}
