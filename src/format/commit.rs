//! Commit objects (git's `commit.c`): the header lines, the headers git carries through
//! (`encoding`, `gpgsig`, `mergetag`) and the message.
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

use crate::format::ident::{self, Ident};
use crate::format::object::{BadObject, ObjectId};
use crate::format::{rsplit_once, split_once, split_while};

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
        let (line, after) = split_once(rest, b'\n').unwrap_or((rest, &[]));
        rest = after;
        if line.is_empty() {
            return (headers, rest);
        }
        match (line.strip_prefix(b" "), headers.last_mut()) {
            (Some(more), Some(last)) => last.more.push(more),
            _ => {
                let (key, line) = split_once(line, b' ').unwrap_or((line, &[]));
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

/// What git's `parse_commit_buffer` reads of a commit, the only fields history walks,
/// connectivity and fast-forward checks go by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lineage {
    /// The tree: the first line must be `tree <id>`.
    pub tree: ObjectId,
    /// The `parent <id>` lines right after it; a `parent` line anywhere else is no parent.
    pub parents: Vec<ObjectId>,
    /// The date git orders history by (`parse_commit_date`): from a `committer` line only
    /// right after an `author` line right after the parents, else 0; past `i64::MAX`, that.
    pub time: i64,
}

/// `tree ` or `parent `, 40 hex digits and a newline.
const TREE_LINE: usize = 46;
const PARENT_LINE: usize = 48;

/// Reads a commit's tree, parents and date exactly as git's `parse_commit_buffer` does, and
/// refuses what it refuses ("bogus commit object", "bad parents").
pub fn lineage(data: &[u8]) -> Result<Lineage, BadObject> {
    let line_id = |line: &[u8], key: &[u8]| -> Result<ObjectId, BadObject> {
        match line
            .strip_prefix(key)
            .and_then(|rest| rest.strip_suffix(b"\n"))
        {
            Some(hex) => id(hex),
            None => Err(BadObject::HeaderId),
        }
    };
    if data.len() <= TREE_LINE {
        return Err(BadObject::CommitWithoutTree);
    }
    let (first, mut rest) = data.split_at(TREE_LINE);
    if !first.starts_with(b"tree ") || !first.ends_with(b"\n") {
        return Err(BadObject::CommitWithoutTree);
    }
    let tree = line_id(first, b"tree ")?;
    let mut parents = Vec::new();
    while rest.len() >= PARENT_LINE && rest.starts_with(b"parent ") {
        if rest.len() == PARENT_LINE {
            return Err(BadObject::HeaderId);
        }
        let (line, after) = rest.split_at(PARENT_LINE);
        parents.push(line_id(line, b"parent ")?);
        rest = after;
    }
    Ok(Lineage {
        tree,
        parents,
        time: commit_date(rest),
    })
}

/// git's `parse_commit_date` over what follows the parents.
fn commit_date(rest: &[u8]) -> i64 {
    if rest.len() <= 6 || !rest.starts_with(b"author") {
        return 0;
    }
    let after_author = split_once(rest, b'\n').map_or(&[][..], |(_, after)| after);
    if after_author.len() <= 9 || !after_author.starts_with(b"committer") {
        return 0;
    }
    let Some((line, _)) = split_once(after_author, b'\n') else {
        return 0;
    };
    let Some((_, date)) = rsplit_once(line, b'>') else {
        return 0;
    };
    timestamp(split_while(date, ident::space).1)
}

/// C's `strtoumax(text, NULL, 10)` as git reads a commit date, which must start with a digit
/// or a `-`; clamped to `i64::MAX` (a negative number wraps around to a huge one there).
fn timestamp(text: &[u8]) -> i64 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let digits = split_while(digits, u8::is_ascii_digit).0;
    if digits.is_empty() {
        return 0;
    }
    let value = digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    match (value, negative) {
        (Some(0), _) => 0,
        (Some(n), false) => i64::try_from(n).unwrap_or(i64::MAX),
        // Wrapped below zero, or past u64: both are huge unsigned dates in git.
        (Some(_), true) | (None, _) => i64::MAX,
    }
}

/// Parses a commit's content for showing it: its tree and parents as git's history reads
/// them ([`lineage`]); its author and committer as `git log` shows them (the last such
/// header line wins); other headers kept as they are. A commit without an author or
/// committer line is refused.
pub fn parse(data: &[u8]) -> Result<Commit<'_>, BadObject> {
    let Lineage { tree, parents, .. } = lineage(data)?;
    let (headers, message) = headers(data);
    let (mut author, mut committer, mut encoding) = (None, None, None);
    let mut extra = Vec::new();
    // The tree and parent lines are one header each, first.
    for header in headers.into_iter().skip(1 + parents.len()) {
        let line = header.line;
        match header.key {
            b"author" => author = Some(line),
            b"committer" => committer = Some(line),
            b"encoding" if encoding.is_none() => encoding = Some(line),
            _ => extra.push(header),
        }
    }
    Ok(Commit {
        tree,
        parents,
        author: author
            .and_then(ident::parse)
            .ok_or(BadObject::Ident("author"))?,
        committer: committer
            .and_then(ident::parse)
            .ok_or(BadObject::Ident("committer"))?,
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
        assert_eq!(commit.author.date().unwrap(), "2023-11-14T20:43:20-01:30");
        assert_eq!(
            commit.committer.date().unwrap(),
            "2023-11-15T03:53:20+05:30"
        );
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
        assert_eq!(commit.committer.when.unwrap().zone, 530);
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
