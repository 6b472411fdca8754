//! Git objects: ids, types, loose-object encoding and the links between objects.

use std::fmt;

use sha1::{Digest, Sha1};

use crate::format::ident;

/// A SHA-1 object id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; 20]);

impl ObjectId {
    /// The all-zero id git uses for "no object" in ref updates.
    pub const ZERO: ObjectId = ObjectId([0; 20]);

    /// Parses 40 hex digits.
    pub fn from_hex(hex_str: &[u8]) -> Option<ObjectId> {
        let mut id = [0u8; 20];
        if hex_str.len() != 40 || hex::decode_to_slice(hex_str, &mut id).is_err() {
            return None;
        }
        Some(ObjectId(id))
    }

    /// Takes 20 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<ObjectId> {
        Some(ObjectId(bytes.try_into().ok()?))
    }

    /// Lower-case hex, as git prints ids.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Whether this is the all-zero id.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 20]
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// In JSON, an id is its hex.
impl serde::Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The four object types, numbered as in a pack entry header.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum ObjectType {
    /// A commit.
    Commit = 1,
    /// A tree.
    Tree = 2,
    /// A blob.
    Blob = 3,
    /// An annotated tag.
    Tag = 4,
}

impl ObjectType {
    /// The type from its pack number (1-4).
    pub fn from_number(n: u8) -> Option<ObjectType> {
        match n {
            1 => Some(ObjectType::Commit),
            2 => Some(ObjectType::Tree),
            3 => Some(ObjectType::Blob),
            4 => Some(ObjectType::Tag),
            _ => None,
        }
    }

    /// The name used in object headers ("commit", "tree", ...).
    pub fn name(self) -> &'static str {
        match self {
            ObjectType::Commit => "commit",
            ObjectType::Tree => "tree",
            ObjectType::Blob => "blob",
            ObjectType::Tag => "tag",
        }
    }

    /// The type from its header name.
    pub fn from_name(name: &[u8]) -> Option<ObjectType> {
        match name {
            b"commit" => Some(ObjectType::Commit),
            b"tree" => Some(ObjectType::Tree),
            b"blob" => Some(ObjectType::Blob),
            b"tag" => Some(ObjectType::Tag),
            _ => None,
        }
    }
}

/// The `"<type> <size>\0"` header that is hashed and stored before an object's data.
pub fn header(kind: ObjectType, size: u64) -> Vec<u8> {
    format!("{} {}\0", kind.name(), size).into_bytes()
}

/// Incremental object-id computation, for objects that arrive in pieces.
pub struct ObjectHasher(Sha1);

impl ObjectHasher {
    /// Starts hashing an object of the given type and size.
    pub fn new(kind: ObjectType, size: u64) -> ObjectHasher {
        let mut sha = Sha1::new();
        sha.update(header(kind, size));
        ObjectHasher(sha)
    }

    /// Feeds more of the object's data.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The object id.
    pub fn finish(self) -> ObjectId {
        ObjectId(self.0.finalize().into())
    }
}

/// The id of a whole object.
pub fn hash(kind: ObjectType, data: &[u8]) -> ObjectId {
    let mut hasher = ObjectHasher::new(kind, data.len() as u64);
    hasher.update(data);
    hasher.finish()
}

/// What the connectivity check and the commit graph need from one object.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Links {
    /// Objects this one refers to and which must therefore exist.
    pub refs: Vec<ObjectId>,
    /// For commits: the parents, in order.
    pub parents: Vec<ObjectId>,
    /// For commits: the committer time (seconds since the epoch).
    pub commit_time: i64,
    /// For tags: the tagged object.
    pub tag_target: Option<ObjectId>,
}

/// Why an object's content could not be parsed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadObject {
    /// A `tree`, `parent` or `object` header line without a valid id.
    #[error("bad object id in header")]
    HeaderId,
    /// A commit without a `tree` line.
    #[error("commit without tree")]
    CommitWithoutTree,
    /// A tag without an `object` line.
    #[error("tag without object")]
    TagWithoutObject,
    /// A tree entry whose mode is not followed by a space.
    #[error("bad tree entry mode")]
    TreeEntryMode,
    /// A tree entry whose name is not ended by a NUL.
    #[error("bad tree entry name")]
    TreeEntryName,
    /// A tree entry cut inside its id.
    #[error("truncated tree entry")]
    TreeEntryTruncated,
    /// A commit without this identity line, or one without an email.
    #[error("commit without a valid {0} line")]
    Ident(&'static str),
}

/// Reads the links out of an object's content. Blobs have none; gitlinks (submodule
/// commits) are not followed because they live in another repository.
pub fn links(kind: ObjectType, data: &[u8]) -> Result<Links, BadObject> {
    match kind {
        ObjectType::Blob => Ok(Links::default()),
        ObjectType::Tree => tree_links(data),
        ObjectType::Commit => commit_links(data),
        ObjectType::Tag => tag_links(data),
    }
}

fn header_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let end = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(data.len(), |p| p + 1);
    data[..end]
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
}

fn header_id(line: &[u8], key: &[u8]) -> Option<Result<ObjectId, BadObject>> {
    let rest = line.strip_prefix(key)?.strip_prefix(b" ")?;
    Some(ObjectId::from_hex(rest).ok_or(BadObject::HeaderId))
}

fn commit_links(data: &[u8]) -> Result<Links, BadObject> {
    let mut links = Links::default();
    let mut tree = None;
    for line in header_lines(data) {
        if let Some(id) = header_id(line, b"tree") {
            tree = Some(id?);
        } else if let Some(id) = header_id(line, b"parent") {
            links.parents.push(id?);
        } else if let Some(rest) = line.strip_prefix(b"committer ") {
            links.commit_time = ident::parse(rest).map_or(0, |ident| ident.time);
        }
    }
    let tree = tree.ok_or(BadObject::CommitWithoutTree)?;
    links.refs.push(tree);
    links.refs.extend_from_slice(&links.parents);
    Ok(links)
}

fn tag_links(data: &[u8]) -> Result<Links, BadObject> {
    for line in header_lines(data) {
        if let Some(id) = header_id(line, b"object") {
            let id = id?;
            return Ok(Links {
                refs: vec![id],
                tag_target: Some(id),
                ..Links::default()
            });
        }
    }
    Err(BadObject::TagWithoutObject)
}

/// What a tree entry points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeEntryKind {
    /// A subdirectory.
    Tree,
    /// A file or symlink.
    Blob,
    /// A submodule commit, which lives in another repository.
    Gitlink,
}

/// One entry of a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeEntry<'a> {
    /// What it points at.
    pub kind: TreeEntryKind,
    /// Its mode, e.g. `0o100644` (0 when its digits are not octal).
    pub mode: u32,
    /// Its name within the tree.
    pub name: &'a [u8],
    /// The object it names.
    pub id: ObjectId,
}

/// The entries of a tree, in order.
pub fn tree_entries(mut data: &[u8]) -> Result<Vec<TreeEntry<'_>>, BadObject> {
    let mut entries = Vec::new();
    while !data.is_empty() {
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or(BadObject::TreeEntryMode)?;
        let nul = data[space..]
            .iter()
            .position(|&b| b == 0)
            .ok_or(BadObject::TreeEntryName)?
            + space;
        let id = data
            .get(nul + 1..nul + 21)
            .and_then(ObjectId::from_bytes)
            .ok_or(BadObject::TreeEntryTruncated)?;
        let kind = match &data[..space] {
            b"40000" | b"040000" => TreeEntryKind::Tree,
            b"160000" => TreeEntryKind::Gitlink,
            _ => TreeEntryKind::Blob,
        };
        entries.push(TreeEntry {
            kind,
            mode: octal(&data[..space]),
            name: &data[space + 1..nul],
            id,
        });
        data = &data[nul + 21..];
    }
    Ok(entries)
}

/// A mode's octal digits as a number; 0 for anything else, which git would not write.
fn octal(digits: &[u8]) -> u32 {
    digits
        .iter()
        .try_fold(0u32, |mode, &d| match d {
            b'0'..=b'7' if mode < 1 << 24 => Some(mode * 8 + u32::from(d - b'0')),
            _ => None,
        })
        .unwrap_or(0)
}

fn tree_links(data: &[u8]) -> Result<Links, BadObject> {
    Ok(Links {
        refs: tree_entries(data)?
            .into_iter()
            .filter(|entry| entry.kind != TreeEntryKind::Gitlink)
            .map(|entry| entry.id)
            .collect(),
        ..Links::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_like_git() {
        assert_eq!(
            hash(ObjectType::Blob, b"").to_hex(),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
        assert_eq!(
            hash(ObjectType::Blob, b"hello\n").to_hex(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn reads_commit_links_and_time() {
        let tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
        let parent = "ce013625030ba8dba906f756967f9e9ca394464a";
        let commit = format!(
            "tree {tree}\nparent {parent}\nauthor A <a@b> 1 +0000\ncommitter C <c@d> 1700000000 +0100\n\nmsg\nparent {tree}\n"
        );
        let links = links(ObjectType::Commit, commit.as_bytes()).unwrap();
        assert_eq!(links.commit_time, 1_700_000_000);
        assert_eq!(
            links.parents,
            vec![ObjectId::from_hex(parent.as_bytes()).unwrap()]
        );
        assert_eq!(links.refs.len(), 2);
    }

    #[test]
    fn tree_links_skip_gitlinks_and_reject_truncation() {
        let mut tree = b"100644 a\0".to_vec();
        tree.extend_from_slice(&[1; 20]);
        tree.extend_from_slice(b"160000 sub\0");
        tree.extend_from_slice(&[2; 20]);
        assert_eq!(
            links(ObjectType::Tree, &tree).unwrap().refs,
            vec![ObjectId([1; 20])]
        );
        assert!(links(ObjectType::Tree, &tree[..tree.len() - 1]).is_err());
        assert!(links(ObjectType::Commit, b"author x\n").is_err());
    }
}
