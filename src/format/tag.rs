//! Annotated tag objects (git's `tag.c`).

use crate::format::commit::headers;
use crate::format::ident::{self, Ident};
use crate::format::object::{BadObject, ObjectId, ObjectType};

/// A parsed annotated tag, borrowing from its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag<'a> {
    /// The object it tags.
    pub object: ObjectId,
    /// That object's type, as the tag says.
    pub kind: Option<ObjectType>,
    /// Its name (`v1.0`).
    pub name: &'a [u8],
    /// Who made it and when; very old tags have none.
    pub tagger: Option<Ident<'a>>,
    /// The `encoding` header, when the message is not UTF-8.
    pub encoding: Option<&'a [u8]>,
    /// Everything after the headers, a signature included.
    pub message: &'a [u8],
}

/// Parses a tag's content: it needs an `object` line; the rest is read as far as it goes.
pub fn parse(data: &[u8]) -> Result<Tag<'_>, BadObject> {
    let (headers, message) = headers(data);
    let mut tag = Tag {
        object: ObjectId::ZERO,
        kind: None,
        name: b"",
        tagger: None,
        encoding: None,
        message,
    };
    let mut object = None;
    for header in &headers {
        let line = header.line;
        match header.key {
            b"object" if object.is_none() => {
                object = Some(ObjectId::from_hex(line).ok_or(BadObject::HeaderId)?)
            }
            b"type" => tag.kind = ObjectType::from_name(line),
            b"tag" => tag.name = line,
            b"tagger" => tag.tagger = ident::parse(line),
            b"encoding" => tag.encoding = Some(line),
            _ => {}
        }
    }
    tag.object = object.ok_or(BadObject::TagWithoutObject)?;
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
        assert_eq!((tag.kind, tag.name), (Some(ObjectType::Commit), &b"v1"[..]));
        assert_eq!(tag.tagger.unwrap().date(), "2023-11-15T03:53:20+05:30");
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
        assert_eq!(parse(b"object 12\n"), Err(BadObject::HeaderId));
    }
}
