//! Object filters for partial clone (git's `list-objects-filter`): which objects a
//! `filter <spec>` line leaves out of a fetch. As in git, a filter never leaves out an object
//! the client names in a `want`, nor a tag; commits go only for `object:type` of another
//! type.

use crate::format::object::ObjectType;
use crate::format::percent_decode;

/// A parsed filter spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    /// `blob:none`: no blobs.
    BlobNone,
    /// `blob:limit=<n>[kmg]`: only blobs smaller than this many bytes.
    BlobLimit(u64),
    /// `tree:<depth>`: only trees and blobs less than this deep (the root tree is at 0).
    Tree(u32),
    /// `object:type=<type>`: only objects of this type (and tags).
    ObjectType(ObjectType),
    /// `combine:<spec>+<spec>...`: what every one of them keeps.
    Combine(Vec<Filter>),
}

/// Why a filter spec is refused, in git's words (upload-pack sends them as `ERR` lines).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadFilter {
    /// Not a spec git knows.
    #[error("invalid filter-spec '{0}'")]
    Invalid(String),
    /// A spec git knows that this server does not serve.
    #[error("filter '{0}' not supported")]
    NotSupported(&'static str),
    /// `combine:` nested too deep or with too many parts.
    #[error("too many filter-specs in '{0}'")]
    TooMany(String),
}

/// How many specs a `combine:` may hold, all levels counted: each one is asked of every
/// object sent.
const MAX_COMBINED: usize = 16;

impl Filter {
    /// Parses a spec as git's `parse_list_objects_filter` reads it.
    pub fn parse(spec: &str) -> Result<Filter, BadFilter> {
        let mut budget = MAX_COMBINED;
        Filter::parse_within(spec, &mut budget)
    }

    fn parse_within(spec: &str, budget: &mut usize) -> Result<Filter, BadFilter> {
        let invalid = || BadFilter::Invalid(spec.to_string());
        if spec == "blob:none" {
            return Ok(Filter::BlobNone);
        }
        if let Some(limit) = spec.strip_prefix("blob:limit=") {
            return size(limit).map(Filter::BlobLimit).ok_or_else(invalid);
        }
        if let Some(depth) = spec.strip_prefix("tree:") {
            return depth.parse().map(Filter::Tree).map_err(|_| invalid());
        }
        if let Some(name) = spec.strip_prefix("object:type=") {
            return ObjectType::from_name(name.as_bytes())
                .map(Filter::ObjectType)
                .ok_or_else(invalid);
        }
        if spec.starts_with("sparse:oid=") {
            return Err(BadFilter::NotSupported("sparse:oid"));
        }
        if let Some(parts) = spec.strip_prefix("combine:") {
            let mut filters = Vec::new();
            for part in parts.split('+') {
                *budget = budget
                    .checked_sub(1)
                    .ok_or_else(|| BadFilter::TooMany(spec.to_string()))?;
                let decoded = String::from_utf8(percent_decode(part))
                    .map_err(|_| BadFilter::Invalid(part.to_string()))?;
                filters.push(Filter::parse_within(&decoded, budget)?);
            }
            return Ok(Filter::Combine(filters));
        }
        Err(invalid())
    }

    /// The depth from which trees and blobs are left out, when a `tree:<depth>` says so.
    pub fn tree_depth(&self) -> Option<u32> {
        match self {
            Filter::Tree(depth) => Some(*depth),
            // Trees cannot hold commits or tags: their walk is skipped, as git skips it.
            Filter::ObjectType(ObjectType::Commit | ObjectType::Tag) => Some(0),
            Filter::Combine(filters) => filters.iter().filter_map(Filter::tree_depth).min(),
            _ => None,
        }
    }

    /// Whether blob sizes decide anything.
    pub fn needs_sizes(&self) -> bool {
        match self {
            Filter::BlobLimit(_) => true,
            Filter::Combine(filters) => filters.iter().any(Filter::needs_sizes),
            _ => false,
        }
    }

    /// Whether it leaves out every blob the client did not name by the mode of the tree
    /// entry that names it, as git's `blob:none` and `object:type` filters do without
    /// looking the blob up (`blob:limit=0` reads each size, and sends what is not a blob).
    pub fn leaves_out_blobs(&self) -> bool {
        match self {
            Filter::BlobNone => true,
            Filter::ObjectType(kind) => *kind != ObjectType::Blob,
            Filter::Combine(filters) => filters.iter().any(Filter::leaves_out_blobs),
            Filter::BlobLimit(_) | Filter::Tree(_) => false,
        }
    }

    /// Whether an object the client did not name is sent: `size` is the blob's, when known
    /// (a blob of unknown size is sent: an object too many costs bytes, not correctness).
    /// Depth is the walk's business ([`Filter::tree_depth`]).
    pub fn keeps(&self, kind: ObjectType, size: Option<u64>) -> bool {
        match self {
            _ if kind == ObjectType::Tag => true,
            Filter::BlobNone => kind != ObjectType::Blob,
            Filter::BlobLimit(limit) => kind != ObjectType::Blob || size.is_none_or(|s| s < *limit),
            Filter::Tree(_) => true,
            Filter::ObjectType(wanted) => kind == *wanted,
            Filter::Combine(filters) => filters.iter().all(|f| f.keeps(kind, size)),
        }
    }
}

/// A size as git's `git_parse_ulong` reads it: digits and an optional `k`, `m` or `g`.
fn size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.char_indices().last()? {
        // `at` is where the last character starts, a boundary.
        (at, c) if c.is_ascii_alphabetic() => (text.split_at(at).0, c.to_ascii_lowercase()),
        _ => (text, ' '),
    };
    let factor: u64 = match unit {
        ' ' => 1,
        'k' => 1 << 10,
        'm' => 1 << 20,
        'g' => 1 << 30,
        _ => return None,
    };
    // As git's strtoumax: digits, a `+` allowed before them, no `-`.
    digits.parse::<u64>().ok()?.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ObjectType::{Blob, Commit, Tag, Tree};

    #[test]
    fn parses_what_git_sends() {
        assert_eq!(Filter::parse("blob:none"), Ok(Filter::BlobNone));
        assert_eq!(Filter::parse("blob:limit=1k"), Ok(Filter::BlobLimit(1024)));
        assert_eq!(
            Filter::parse("blob:limit=3M"),
            Ok(Filter::BlobLimit(3 << 20))
        );
        assert_eq!(
            Filter::parse("blob:limit=2g"),
            Ok(Filter::BlobLimit(2 << 30))
        );
        assert_eq!(Filter::parse("blob:limit=17"), Ok(Filter::BlobLimit(17)));
        assert_eq!(Filter::parse("blob:limit=+5"), Ok(Filter::BlobLimit(5)));
        assert_eq!(Filter::parse("tree:0"), Ok(Filter::Tree(0)));
        assert_eq!(Filter::parse("tree:3"), Ok(Filter::Tree(3)));
        assert_eq!(
            Filter::parse("object:type=tree"),
            Ok(Filter::ObjectType(Tree))
        );
        assert_eq!(
            Filter::parse("combine:blob:none+tree:2"),
            Ok(Filter::Combine(vec![Filter::BlobNone, Filter::Tree(2)]))
        );
        assert_eq!(
            Filter::parse("combine:blob%3Alimit%3D5+object%3Atype%3Dblob"),
            Ok(Filter::Combine(vec![
                Filter::BlobLimit(5),
                Filter::ObjectType(Blob)
            ]))
        );
    }

    #[test]
    fn refuses_what_git_refuses() {
        for spec in [
            "",
            "blob:some",
            "blob:limit=",
            "blob:limit=k",
            "blob:limit=1x",
            "blob:limit=-1",
            "blob:limit=99999999999999999999",
            "tree:",
            "tree:-1",
            "object:type=thing",
            "combine:blob:none+%zz",
            "combine:blob:none+%4",
            "combine:blob:none+bogus",
        ] {
            assert_eq!(
                Filter::parse(spec),
                Err(BadFilter::Invalid(
                    spec.rsplit('+').next().unwrap_or(spec).into()
                )),
                "{spec}"
            );
        }
        assert_eq!(
            Filter::parse("sparse:oid=main:.sparse"),
            Err(BadFilter::NotSupported("sparse:oid"))
        );
        let many = format!("combine:{}", ["blob:none"; 17].join("+"));
        assert!(matches!(Filter::parse(&many), Err(BadFilter::TooMany(_))));
        let nested = "combine:combine%3Ablob%3Anone%2Btree%3A1+tree:4";
        assert_eq!(Filter::parse(nested).map(|f| f.tree_depth()), Ok(Some(1)));
    }

    #[test]
    fn keeps_what_each_filter_keeps() {
        assert!(!Filter::BlobNone.keeps(Blob, Some(0)));
        assert!(Filter::BlobNone.keeps(Tree, None));
        assert!(Filter::BlobNone.keeps(Commit, None));
        assert!(Filter::Tree(0).keeps(Commit, None));
        assert!(!Filter::ObjectType(Blob).keeps(Commit, None));
        assert!(Filter::ObjectType(Blob).keeps(Tag, None));
        assert!(Filter::ObjectType(Commit).keeps(Commit, None));
        let limit = Filter::BlobLimit(10);
        assert!(limit.keeps(Blob, Some(9)));
        assert!(!limit.keeps(Blob, Some(10)));
        assert!(limit.keeps(Blob, None));
        assert!(limit.keeps(Tree, Some(100)));
        assert!(Filter::ObjectType(Tree).keeps(Tree, None));
        assert!(!Filter::ObjectType(Tree).keeps(Blob, Some(1)));
        let both = Filter::Combine(vec![Filter::BlobLimit(10), Filter::ObjectType(Blob)]);
        assert!(both.keeps(Blob, Some(3)));
        assert!(!both.keeps(Blob, Some(30)));
        assert!(!both.keeps(Tree, None));
        assert!(both.needs_sizes());
        assert!(!Filter::BlobNone.needs_sizes());
        assert_eq!(Filter::Tree(2).tree_depth(), Some(2));
        assert_eq!(Filter::ObjectType(Commit).tree_depth(), Some(0));
        assert_eq!(Filter::ObjectType(Tag).tree_depth(), Some(0));
        assert_eq!(Filter::ObjectType(Blob).tree_depth(), None);
        assert_eq!(Filter::BlobNone.tree_depth(), None);
    }
}
