//! What both smart services share on the wire (as gitprotocol-pack and gitprotocol-capabilities
//! describe it): the capability list a client sends, and the ref advertisement.
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

pub mod advertise;
pub mod capabilities;
pub mod v2;

use crate::format::pktline::PktError;
use crate::limits::OverLimit;

/// Why a request is not well formed: HTTP answers it with 400 and this one-line reason.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadRequest {
    /// The body is not a sequence of pkt-lines.
    #[error(transparent)]
    Pkt(#[from] PktError),
    /// The body is gzipped, and the gzip does not decode (or inflates past the limit).
    #[error("request body is not valid gzip")]
    Gzip,
    /// A delimiter or special packet where the section allows none (its debug form).
    #[error("unexpected packet {0}")]
    UnexpectedPacket(String),
    /// A line the section does not allow, or whose argument does not parse.
    #[error("unexpected line {0:?}")]
    UnexpectedLine(String),
    /// A line whose object id does not parse.
    #[error("malformed line {0:?}")]
    MalformedLine(String),
    /// A push command that is not `<old> <new> <ref>`.
    #[error("malformed command {0:?}")]
    MalformedCommand(String),
    /// A push's capabilities after a NUL on a command other than the first.
    #[error("capabilities after the first command")]
    LateCapabilities,
    /// A push whose command lines take more bytes than the server holds.
    #[error("push commands take more than {0} bytes")]
    CommandsTooLong(usize),
    /// A push's commands not ended by a flush packet.
    #[error("request ended before the flush packet")]
    EndedBeforeFlush,
    /// A request that asks for more than the server's limits allow: HTTP answers it with
    /// 413, or upload-pack with an `ERR` line.
    #[error(transparent)]
    OverLimit(#[from] OverLimit),
    /// A fetch whose last pkt-line is cut short.
    #[error("truncated pkt-line at the end of the request")]
    Truncated,
}
