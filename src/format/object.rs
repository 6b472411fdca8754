//! Git objects: ids, types, loose-object encoding and the links between objects.
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

use std::fmt;

use crate::format::sha1::Sha1;
use crate::format::{commit, split_once, split_while, tag};

/// A SHA-1 object id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; 20]);

/// An id hashes as its bytes, without the length a slice adds first, so that [`IdHasher`]
/// sees them whole.
impl std::hash::Hash for ObjectId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

/// Hashes ids for the maps of a walk, which look up an id for every entry of every tree of a
/// history (tens of millions for git/git's): an id is already a SHA-1 digest, so eight of
/// its bytes serve as the hash, where SipHash cost more than the rest of each lookup. It
/// is no weaker against crafted ids than SipHash is here: on wasm32-unknown-unknown, std's
/// `RandomState` has no source of randomness and its keys are predictable, so either hash's
/// buckets can be filled only by searching SHA-1 for ids that share bits. The bytes taken
/// are not the first, which maps split by ([`crate::store`]'s walk shards by the first).
#[derive(Clone, Copy, Debug)]
pub struct IdHasher(u64);

/// Starts from FNV's offset basis, so that bytes that are not an id hash as FNV-1a.
impl Default for IdHasher {
    fn default() -> IdHasher {
        IdHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let word = <&[u8; 20]>::try_from(bytes)
            .ok()
            .and_then(|id| <[u8; 8]>::try_from(id.get(8..16)?).ok());
        match word {
            Some(word) => self.0 ^= u64::from_le_bytes(word),
            // Not an id: mixed in a byte at a time, as FNV-1a does.
            None => {
                for &b in bytes {
                    self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
                }
            }
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`IdHasher`]s: for `HashMap<ObjectId, _, IdHashing>` and `HashSet`s of ids.
pub type IdHashing = std::hash::BuildHasherDefault<IdHasher>;

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

    /// Lower-case hex, as git prints ids, without allocating: for long listings.
    pub fn hex_digits(&self) -> [u8; 40] {
        let mut hex = [0u8; 40];
        // Cannot fail: 20 bytes fill 40 digits exactly.
        let _ = hex::encode_to_slice(self.0, &mut hex);
        hex
    }

    /// Whether this is the all-zero id.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 20]
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.hex_digits();
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
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
        fmt::Display::fmt(self, f)
    }
}

/// The four object types, numbered as in a pack entry header.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
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
        let mut sha = Sha1::for_len(size);
        sha.update(&header(kind, size));
        ObjectHasher(sha)
    }

    /// Feeds more of the object's data.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The object id.
    pub fn finish(self) -> ObjectId {
        ObjectId(self.0.finish())
    }
}

/// The id of a whole object.
pub fn hash(kind: ObjectType, data: &[u8]) -> ObjectId {
    let mut hasher = ObjectHasher::new(kind, data.len() as u64);
    hasher.update(data);
    hasher.finish()
}

/// An object that another names, and the type git takes it to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Link {
    /// The object named.
    pub id: ObjectId,
    /// The type git parses it as when it walks there, refusing an object of another type: a
    /// commit's tree and parents, a tree's subtrees, a tag's target as its `type` line says.
    /// None where git only needs it to exist (a file of a tree).
    pub kind: Option<ObjectType>,
}

impl Link {
    fn of(id: ObjectId, kind: ObjectType) -> Link {
        Link {
            id,
            kind: Some(kind),
        }
    }
}

/// What the connectivity check and the commit graph need from one object.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Links {
    /// Objects this one refers to and which must therefore exist, with their types.
    pub refs: Vec<Link>,
    /// For commits: the parents, in order.
    pub parents: Vec<ObjectId>,
    /// For commits: the committer time (seconds since the epoch).
    pub commit_time: i64,
    /// For tags: the tagged object.
    pub tag_target: Option<ObjectId>,
}

/// Why an object's content could not be parsed, in the words of git's own readers.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadObject {
    /// A `tree`, `parent` or `object` line without a valid id, or a `parent` line that
    /// ends the commit.
    #[error("bad object id in header")]
    HeaderId,
    /// A commit whose first line is not `tree <id>` (git: "bogus commit object").
    #[error("bogus commit object: it does not start with a tree line")]
    CommitWithoutTree,
    /// A tag that does not start with an `object` line, or is shorter than git reads.
    #[error("tag without object")]
    TagWithoutObject,
    /// A tag whose second line is not `type` and one of the four types.
    #[error("tag without a valid type line")]
    TagType,
    /// A tag whose third line is not `tag <name>`.
    #[error("tag without a tag line")]
    TagName,
    /// A tree whose last entry is not a NUL and an id (git: "too-short tree object").
    #[error("too-short tree object")]
    TreeTooShort,
    /// A tree entry whose mode is not octal digits ended by a space.
    #[error("malformed mode in tree entry")]
    TreeEntryMode,
    /// A tree entry with an empty name.
    #[error("empty filename in tree entry")]
    TreeEntryName,
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

fn commit_links(data: &[u8]) -> Result<Links, BadObject> {
    let commit::Lineage {
        tree,
        parents,
        time,
    } = commit::lineage(data)?;
    let mut refs = vec![Link::of(tree, ObjectType::Tree)];
    refs.extend(parents.iter().map(|&id| Link::of(id, ObjectType::Commit)));
    Ok(Links {
        refs,
        parents,
        commit_time: time,
        tag_target: None,
    })
}

fn tag_links(data: &[u8]) -> Result<Links, BadObject> {
    let (head, _) = tag::head(data)?;
    Ok(Links {
        refs: vec![Link::of(head.object, head.kind)],
        tag_target: Some(head.object),
        ..Links::default()
    })
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

impl TreeEntryKind {
    /// The type `git ls-tree` shows: `tree`, `blob`, or `commit` for a submodule.
    pub fn name(self) -> &'static str {
        match self {
            TreeEntryKind::Tree => "tree",
            TreeEntryKind::Blob => "blob",
            TreeEntryKind::Gitlink => "commit",
        }
    }
}

/// One entry of a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeEntry<'a> {
    /// What it points at.
    pub kind: TreeEntryKind,
    /// Its mode as git reads it (`canon_mode`): `0o100644`, `0o100755`, `0o120000`,
    /// `0o40000` or `0o160000`.
    pub mode: u32,
    /// Its name within the tree.
    pub name: &'a [u8],
    /// The object it names.
    pub id: ObjectId,
}

/// The entries of a tree, in order, read as git's `decode_tree_entry` reads them: each a
/// mode of octal digits (kept to 16 bits, as git keeps it), a space, a non-empty name, a NUL
/// and 20 bytes of id, with the tree's last 21 bytes a NUL and an id.
pub fn tree_entries(mut data: &[u8]) -> Result<Vec<TreeEntry<'_>>, BadObject> {
    let mut entries = Vec::new();
    while !data.is_empty() {
        // git wants the last 21 bytes to be a NUL and an id: the NUL ends every name's
        // search within the tree.
        if data.len() < 23 || data.get(data.len() - 21) != Some(&0) {
            return Err(BadObject::TreeTooShort);
        }
        let (digits, after) = split_while(data, |b| (b'0'..=b'7').contains(b));
        let with_name = match after.split_first() {
            Some((b' ', with_name)) if !digits.is_empty() => with_name,
            _ => return Err(BadObject::TreeEntryMode),
        };
        let (name, with_id) = split_once(with_name, 0).ok_or(BadObject::TreeTooShort)?;
        if name.is_empty() {
            return Err(BadObject::TreeEntryName);
        }
        let (id, rest) = with_id
            .split_at_checked(20)
            .ok_or(BadObject::TreeTooShort)?;
        let id = ObjectId::from_bytes(id).ok_or(BadObject::TreeTooShort)?;
        let mode = canon_mode(octal(digits));
        entries.push(TreeEntry {
            kind: match mode {
                0o40000 => TreeEntryKind::Tree,
                0o160000 => TreeEntryKind::Gitlink,
                _ => TreeEntryKind::Blob,
            },
            mode,
            name,
            id,
        });
        data = rest;
    }
    Ok(entries)
}

/// A mode's octal digits as git's `parse_mode` reads them into 16 bits: the value wraps.
fn octal(digits: &[u8]) -> u32 {
    let mode = digits.iter().fold(0u32, |mode, &d| {
        mode.wrapping_shl(3).wrapping_add(u32::from(d - b'0'))
    });
    mode & 0xffff
}

/// git's `canon_mode`: a regular file is 644 or 755 by its owner's execute bit; a symlink,
/// a directory; anything else a gitlink.
fn canon_mode(mode: u32) -> u32 {
    match mode & 0o170000 {
        0o100000 if mode & 0o100 != 0 => 0o100755,
        0o100000 => 0o100644,
        0o120000 => 0o120000,
        0o040000 => 0o40000,
        _ => 0o160000,
    }
}

fn tree_links(data: &[u8]) -> Result<Links, BadObject> {
    Ok(Links {
        refs: tree_entries(data)?
            .into_iter()
            .filter_map(|entry| match entry.kind {
                TreeEntryKind::Tree => Some(Link::of(entry.id, ObjectType::Tree)),
                TreeEntryKind::Blob => Some(Link {
                    id: entry.id,
                    kind: None,
                }),
                TreeEntryKind::Gitlink => None,
            })
            .collect(),
        ..Links::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_hash_by_eight_bytes_past_the_first_eight() {
        use std::hash::BuildHasher;
        let mut bytes = [0u8; 20];
        bytes[8..16].copy_from_slice(&0x0123_4567_89ab_cdefu64.to_le_bytes());
        let id = ObjectId(bytes);
        let basis = 0xcbf2_9ce4_8422_2325;
        assert_eq!(
            IdHashing::default().hash_one(id),
            basis ^ 0x0123_4567_89ab_cdef
        );
        // Ids alike in those bytes are still told apart by the map.
        let mut other = bytes;
        other[0] = 1;
        let map: std::collections::HashMap<ObjectId, u8, IdHashing> =
            [(id, 1), (ObjectId(other), 2)].into_iter().collect();
        assert_eq!((map[&id], map[&ObjectId(other)]), (1, 2));
        // What is not an id is hashed whole.
        let hash = |key: &[u8]| IdHashing::default().hash_one(key);
        assert_ne!(hash(b"ab"), hash(b"ba"));
    }

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
            vec![Link {
                id: ObjectId([1; 20]),
                kind: None
            }]
        );
        assert!(links(ObjectType::Tree, &tree[..tree.len() - 1]).is_err());
        assert!(links(ObjectType::Commit, b"author x\n").is_err());
    }
}
