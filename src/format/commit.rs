//! Commit objects (git's `commit.c`): the header lines, the headers git carries through
//! (`encoding`, `gpgsig`, `mergetag`) and the message.

use crate::format::ident::{self, Ident};
use crate::format::object::{BadObject, ObjectId};

/// A parsed commit, borrowing from its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit<'a> {
    /// Its tree.
    pub tree: ObjectId,
    /// Its parents, in order.
    pub parents: Vec<ObjectId>,
    /// Who wrote the change.
    pub author: Ident<'a>,
    /// Who made the commit.
    pub committer: Ident<'a>,
    /// The `encoding` header: what the names and message are written in, when not UTF-8.
    pub encoding: Option<&'a [u8]>,
    /// The other headers, in order, with continuation lines joined (`gpgsig`, `mergetag`).
    pub extra: Vec<Header<'a>>,
    /// Everything after the blank line that ends the headers, exactly as stored.
    pub message: &'a [u8],
}

/// A header line and its continuation lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// Its key, e.g. `gpgsig`.
    pub key: &'a [u8],
    /// The rest of its first line.
    pub line: &'a [u8],
    /// Its continuation lines, each without its leading space.
    pub more: Vec<&'a [u8]>,
}

impl Header<'_> {
    /// The whole value: its lines joined by newlines.
    pub fn value(&self) -> Vec<u8> {
        let mut value = self.line.to_vec();
        for line in &self.more {
            value.push(b'\n');
            value.extend_from_slice(line);
        }
        value
    }
}

/// Splits an object's content into its headers and its message, as git reads commits and
/// tags: the headers end at the first empty line; a line starting with a space continues
/// the header before it.
pub fn headers(data: &[u8]) -> (Vec<Header<'_>>, &[u8]) {
    let mut headers: Vec<Header> = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (line, after) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (&rest[..end], &rest[end + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = after;
        if line.is_empty() {
            return (headers, rest);
        }
        match (line.strip_prefix(b" "), headers.last_mut()) {
            (Some(more), Some(last)) => last.more.push(more),
            _ => {
                let (key, line) = match line.iter().position(|&b| b == b' ') {
                    Some(space) => (&line[..space], &line[space + 1..]),
                    None => (line, &line[line.len()..]),
                };
                headers.push(Header {
                    key,
                    line,
                    more: Vec::new(),
                });
            }
        }
    }
    (headers, rest)
}

/// Parses a commit's content. A missing or bad `tree`, a bad `parent`, or a missing
/// author or committer is an error; other headers are kept as they are.
pub fn parse(data: &[u8]) -> Result<Commit<'_>, BadObject> {
    let (headers, message) = headers(data);
    let mut tree = None;
    let mut parents = Vec::new();
    let (mut author, mut committer, mut encoding) = (None, None, None);
    let mut extra = Vec::new();
    for (at, header) in headers.into_iter().enumerate() {
        let line = header.line;
        match header.key {
            b"tree" if at == 0 => tree = Some(id(line)?),
            b"parent" => parents.push(id(line)?),
            b"author" if author.is_none() => author = ident::parse(line),
            b"committer" if committer.is_none() => committer = ident::parse(line),
            b"encoding" if encoding.is_none() => encoding = Some(line),
            _ => extra.push(header),
        }
    }
    Ok(Commit {
        tree: tree.ok_or(BadObject::CommitWithoutTree)?,
        parents,
        author: author.ok_or(BadObject::Ident("author"))?,
        committer: committer.ok_or(BadObject::Ident("committer"))?,
        encoding,
        extra,
        message,
    })
}

fn id(hex: &[u8]) -> Result<ObjectId, BadObject> {
    ObjectId::from_hex(hex).ok_or(BadObject::HeaderId)
}

/// Text in `encoding` (a commit's or tag's `encoding` header) as UTF-8, as `git log`
/// re-encodes it: ISO-8859-1 exactly, anything else read as UTF-8 with invalid bytes
/// replaced.
pub fn decode(text: &[u8], encoding: Option<&[u8]>) -> String {
    let latin1 = encoding.is_some_and(|name| {
        let name = name.to_ascii_lowercase();
        matches!(
            &name[..],
            b"iso-8859-1" | b"iso8859-1" | b"latin1" | b"latin-1" | b"l1" | b"iso_8859-1"
        )
    });
    match latin1 {
        true => text.iter().map(|&b| char::from(b)).collect(),
        false => String::from_utf8_lossy(text).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fixture;

    const TREE: &str = "693a3de402bb23897ed5c931273e53c78eff0495";

    #[test]
    fn reads_a_plain_commit() {
        let data = fixture("plain.commit");
        let commit = parse(&data).unwrap();
        assert_eq!(commit.tree.to_hex(), TREE);
        assert!(commit.parents.is_empty());
        assert_eq!(commit.author.name, b"A U Thor");
        assert_eq!(commit.author.date(), "2023-11-14T20:43:20-01:30");
        assert_eq!(commit.committer.date(), "2023-11-15T03:53:20+05:30");
        assert_eq!(commit.message, b"subject line\n\nBody paragraph.\n");
        assert_eq!((commit.encoding, commit.extra.len()), (None, 0));
    }

    #[test]
    fn decodes_a_latin1_commit() {
        let data = fixture("latin1.commit");
        let commit = parse(&data).unwrap();
        assert_eq!(commit.encoding, Some(&b"ISO-8859-1"[..]));
        assert_eq!(commit.author.name, b"Jos\xe9");
        assert_eq!(decode(commit.author.name, commit.encoding), "José");
        assert_eq!(decode(commit.message, commit.encoding), "café crème\n");
        assert_eq!(commit.parents.len(), 1);
    }

    #[test]
    fn keeps_signatures_and_merge_tags_whole() {
        let data = fixture("signed.commit");
        let commit = parse(&data).unwrap();
        let [sig] = &commit.extra[..] else {
            panic!("{:?}", commit.extra)
        };
        assert_eq!(sig.key, b"gpgsig");
        assert!(sig
            .value()
            .starts_with(b"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH"));
        assert!(sig.value().ends_with(b"\n-----END SSH SIGNATURE-----"));
        assert_eq!(commit.message, b"signed\n");

        let data = fixture("mergetag.commit");
        let commit = parse(&data).unwrap();
        assert_eq!(commit.parents.len(), 2);
        let [tag] = &commit.extra[..] else {
            panic!("{:?}", commit.extra)
        };
        assert_eq!(tag.key, b"mergetag");
        // The embedded tag's own blank line is a continuation line of one space.
        let value = tag.value();
        let embedded = crate::format::tag::parse(&value).unwrap();
        assert_eq!(embedded.object, commit.parents[1]);
        assert_eq!(embedded.name, b"v2");
        assert!(embedded
            .message
            .starts_with(b"signed release\n-----BEGIN SSH"));
        assert_eq!(commit.message, b"merge signed tag\n");
    }

    #[test]
    fn keeps_a_message_without_final_newline_and_an_empty_one() {
        let data = fixture("no-newline.commit");
        assert_eq!(parse(&data).unwrap().message, b"no final newline");
        let data = fixture("empty.commit");
        let commit = parse(&data).unwrap();
        assert_eq!(commit.message, b"");
        assert_eq!(commit.committer.offset, 330);
    }

    #[test]
    fn refuses_commits_git_would_not_read() {
        let ident = "a <b> 1 +0000";
        let no_tree = format!("author {ident}\ncommitter {ident}\n\nm");
        assert_eq!(parse(no_tree.as_bytes()), Err(BadObject::CommitWithoutTree));
        let bad_parent = format!("tree {TREE}\nparent 12\nauthor {ident}\ncommitter {ident}\n");
        assert_eq!(parse(bad_parent.as_bytes()), Err(BadObject::HeaderId));
        let no_author = format!("tree {TREE}\ncommitter {ident}\n\n");
        assert_eq!(parse(no_author.as_bytes()), Err(BadObject::Ident("author")));
        // Headers only, not even a blank line: an empty message.
        let bare = format!("tree {TREE}\nauthor {ident}\ncommitter {ident}");
        assert_eq!(parse(bare.as_bytes()).unwrap().message, b"");
    }
}
