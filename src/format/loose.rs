//! Loose object files: a zlib stream of `<type> <size>\0<data>`.

use crate::format::object::{self, ObjectType};
use crate::format::zlib;

/// Splits a loose object file into its type and data, checking the header's size.
pub fn parse(file: &[u8]) -> Option<(ObjectType, Vec<u8>)> {
    let mut raw = Vec::new();
    let (_, done) = zlib::with_inflater(|inflater| {
        inflater.feed(file, &mut |c| {
            raw.extend_from_slice(c);
            std::ops::ControlFlow::Continue(())
        })
    })
    .ok()?;
    if !done {
        return None;
    }
    let nul = raw.iter().position(|&b| b == 0)?;
    let (kind, size) = std::str::from_utf8(&raw[..nul]).ok()?.split_once(' ')?;
    let kind = ObjectType::from_name(kind.as_bytes())?;
    let size: usize = size.parse().ok()?;
    let data = raw.split_off(nul + 1);
    (data.len() == size).then_some((kind, data))
}

/// Encodes a loose object file.
pub fn encode(kind: ObjectType, data: &[u8]) -> Vec<u8> {
    let mut raw = object::header(kind, data.len() as u64);
    raw.extend_from_slice(data);
    zlib::deflate(&raw)
}
