//! One fetch request as both front ends parse it: the lines v0's request and v2's `fetch`
//! arguments share (`want`, `have`, `shallow`, `deepen*`, `filter`, `done`), read within the
//! server's limits, each want and have taken once however often it is named.

use std::collections::HashSet;

use super::wants::Fetch;
use crate::format::object::ObjectId;
use crate::limits::{Limits, OverLimit};
use crate::protocol::BadRequest;

/// A fetch request being read.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// What it asks for.
    pub fetch: Fetch,
    /// Wants seen so far: git's upload-pack takes each once however often it is named.
    wanted: HashSet<ObjectId>,
    /// Haves seen so far, likewise.
    had: HashSet<ObjectId>,
    limits: Limits,
    /// `done`: no more negotiation, send the pack.
    pub done: bool,
    /// Whether haves were sent (in v0, a have section at all: a shallow fetch first sends
    /// only its wants and deepen lines, to learn the shallow boundary).
    pub negotiates: bool,
}

/// The object id at the start of a line's argument.
pub fn parse_id(rest: &[u8], line: &[u8]) -> Result<ObjectId, BadRequest> {
    let hex = rest.get(..40).unwrap_or(rest);
    ObjectId::from_hex(hex)
        .ok_or_else(|| BadRequest::MalformedLine(String::from_utf8_lossy(line).trim_end().into()))
}

/// The decimal number in a line's argument.
fn number<T: std::str::FromStr>(rest: &[u8]) -> Option<T> {
    std::str::from_utf8(rest).ok()?.trim().parse().ok()
}

/// How many lines of a kind a request may hold, what refusing one more says, and the
/// variable that sets the number.
type Limit<'a> = (usize, &'a str, &'static str);

/// Adds `item` to `list`, refusing more than `limit.0` items with `limit.1` and the
/// variable `limit.2`.
fn take<T>(list: &mut Vec<T>, item: T, (limit, what, var): Limit) -> Result<(), OverLimit> {
    list.push(item);
    Limits::check(list.len(), limit, what, var)
}

/// Adds `id` to `list` as [`take`] does, the first time it is named (`seen` remembers).
fn take_once(
    seen: &mut HashSet<ObjectId>,
    list: &mut Vec<ObjectId>,
    id: ObjectId,
    limit: Limit,
) -> Result<(), OverLimit> {
    if seen.insert(id) {
        take(list, id, limit)?;
    }
    Ok(())
}

/// The error for a line the request does not allow.
pub fn unexpected(text: &[u8]) -> BadRequest {
    BadRequest::UnexpectedLine(String::from_utf8_lossy(text).into())
}

impl Request {
    /// An empty request read within `limits`.
    pub fn new(limits: &Limits) -> Request {
        Request {
            limits: *limits,
            ..Request::default()
        }
    }

    /// Takes a wanted object.
    pub fn want(&mut self, id: ObjectId) -> Result<(), BadRequest> {
        let limit = (self.limits.wants, "too many wants", "MAX_WANTS");
        Ok(take_once(
            &mut self.wanted,
            &mut self.fetch.wants,
            id,
            limit,
        )?)
    }

    /// Takes a `want-ref` (protocol v2).
    pub fn want_ref(&mut self, name: String) -> Result<(), BadRequest> {
        let limit = (self.limits.wants, "too many want-refs", "MAX_WANTS");
        Ok(take(&mut self.fetch.want_refs, name, limit)?)
    }

    /// Takes a line both protocols share (without its newline); false if it is none of them.
    pub fn read_shared(&mut self, text: &[u8], line: &[u8]) -> Result<bool, BadRequest> {
        let bad = || unexpected(text);
        if let Some(rest) = text.strip_prefix(b"have ") {
            self.negotiates = true;
            let id = parse_id(rest, line)?;
            let limit = (self.limits.haves, "too many haves", "MAX_HAVES");
            take_once(&mut self.had, &mut self.fetch.haves, id, limit)?;
        } else if let Some(rest) = text.strip_prefix(b"shallow ") {
            let limit = (self.limits.haves, "too many shallow lines", "MAX_HAVES");
            take(&mut self.fetch.client_shallow, parse_id(rest, line)?, limit)?;
        } else if let Some(rest) = text.strip_prefix(b"deepen-since ") {
            self.fetch.since = Some(number(rest).ok_or_else(bad)?);
        } else if let Some(rest) = text.strip_prefix(b"deepen-not ") {
            let name = String::from_utf8_lossy(rest).trim().to_string();
            let limit = (self.limits.wants, "too many deepen-not", "MAX_WANTS");
            take(&mut self.fetch.deepen_not, name, limit)?;
        } else if let Some(rest) = text.strip_prefix(b"deepen ") {
            let depth = number::<u32>(rest).filter(|d| *d > 0);
            self.fetch.depth = Some(depth.ok_or_else(bad)?);
        } else if let Some(rest) = text.strip_prefix(b"filter ") {
            self.fetch.filter = Some(String::from_utf8_lossy(rest).into_owned());
        } else if text == b"done" {
            self.done = true;
            self.negotiates = true;
        } else {
            return Ok(false);
        }
        Ok(true)
    }
}
