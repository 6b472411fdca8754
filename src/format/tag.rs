//! Annotated tag objects (git's `tag.c`).
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

use crate::format::commit::headers;
use crate::format::ident::{self, Ident};
use crate::format::object::{BadObject, ObjectId, ObjectType};
use crate::format::split_once;

/// A parsed annotated tag, borrowing from its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag<'a> {
    /// The object it tags.
    pub object: ObjectId,
    /// That object's type, as the tag says.
    pub kind: ObjectType,
    /// Its name (`v1.0`).
    pub name: &'a [u8],
    /// Who made it and when; very old tags have none.
    pub tagger: Option<Ident<'a>>,
    /// The `encoding` header, when the message is not UTF-8.
    pub encoding: Option<&'a [u8]>,
    /// Everything after the headers, a signature included.
    pub message: &'a [u8],
}

/// The three lines every tag starts with, read as git's `parse_tag_buffer` reads them (it
/// refuses a tag without them, in this order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagHead<'a> {
    /// `object <id>`: what it tags.
    pub object: ObjectId,
    /// `type <type>`: the type the tag says that object has.
    pub kind: ObjectType,
    /// `tag <name>`.
    pub name: &'a [u8],
}

/// Reads a tag's `object`, `type` and `tag` lines as git does, refusing a tag git cannot
/// parse: shorter than 64 bytes, lines missing or out of order, an unknown type.
pub fn head(data: &[u8]) -> Result<(TagHead<'_>, &[u8]), BadObject> {
    if data.len() < 64 {
        return Err(BadObject::TagWithoutObject);
    }
    let (hex, rest) = line(data, b"object ").ok_or(BadObject::TagWithoutObject)?;
    let object = ObjectId::from_hex(hex).ok_or(BadObject::HeaderId)?;
    let (kind, rest) = line(rest, b"type ").ok_or(BadObject::TagType)?;
    let kind = ObjectType::from_name(kind).ok_or(BadObject::TagType)?;
    // git wants more than the four bytes of `tag ` before it looks for the line's end.
    let (name, rest) = match rest.len() > 4 {
        true => line(rest, b"tag ").ok_or(BadObject::TagName)?,
        false => return Err(BadObject::TagName),
    };
    Ok((TagHead { object, kind, name }, rest))
}

/// The value of the line starting `key` at the start of `rest`, and what follows that line.
fn line<'a>(rest: &'a [u8], key: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let rest = rest.strip_prefix(key)?;
    split_once(rest, b'\n')
}

/// Parses a tag's content: the lines [`head`] reads, then the optional `tagger` and
/// `encoding` headers and the message.
pub fn parse(data: &[u8]) -> Result<Tag<'_>, BadObject> {
    let (head, rest) = head(data)?;
    let (headers, message) = headers(rest);
    let mut tag = Tag {
        object: head.object,
        kind: head.kind,
        name: head.name,
        tagger: None,
        encoding: None,
        message,
    };
    for header in &headers {
        match header.key {
            b"tagger" if tag.tagger.is_none() => tag.tagger = ident::parse(header.line),
            b"encoding" if tag.encoding.is_none() => tag.encoding = Some(header.line),
            _ => {}
        }
    }
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fixture;

    #[test]
    fn reads_annotated_and_signed_tags() {
        let data = fixture("annotated.tag");
        let tag = parse(&data).unwrap();
        assert_eq!(
            tag.object.to_hex(),
            "6d587b642acc0435b1b85949b6b1d4e867917f41"
        );
        assert_eq!((tag.kind, tag.name), (ObjectType::Commit, &b"v1"[..]));
        assert_eq!(
            tag.tagger.unwrap().date().unwrap(),
            "2023-11-15T03:53:20+05:30"
        );
        assert_eq!(tag.message, b"release\n\nnotes\n");

        let data = fixture("signed.tag");
        let tag = parse(&data).unwrap();
        assert_eq!(tag.name, b"v2");
        assert!(tag
            .message
            .starts_with(b"signed release\n-----BEGIN SSH SIGNATURE-----\n"));
        assert!(tag.message.ends_with(b"-----END SSH SIGNATURE-----\n"));
    }

    #[test]
    fn reads_a_tag_without_tagger_and_refuses_one_without_object() {
        let old = b"object 6d587b642acc0435b1b85949b6b1d4e867917f41\ntype commit\ntag v0\n\nold\n";
        let tag = parse(old).unwrap();
        assert_eq!((tag.tagger, tag.message), (None, &b"old\n"[..]));
        assert_eq!(parse(b"type commit\n\n"), Err(BadObject::TagWithoutObject));
        let short_id = format!("object 12\ntype commit\ntag v\n{}", " ".repeat(60));
        assert_eq!(parse(short_id.as_bytes()), Err(BadObject::HeaderId));
        // git reads the three lines in this order only.
        let swapped = b"type commit\nobject 6d587b642acc0435b1b85949b6b1d4e867917f41\ntag v\n\n";
        assert_eq!(parse(swapped), Err(BadObject::TagWithoutObject));
        let odd_type = b"object 6d587b642acc0435b1b85949b6b1d4e867917f41\ntype Commit\ntag v\n\n";
        assert_eq!(parse(odd_type), Err(BadObject::TagType));
    }
}
