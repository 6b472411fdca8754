//! What a fetch names, resolved against the repository: wants checked and peeled, haves
//! the server knows, `deepen-not` names read as refs.

use std::collections::{HashMap, HashSet};

use super::filter::{BadFilter, Filter};
use crate::format::object::{ObjectId, ObjectType};
use crate::rev_walk::Deepen;
use crate::store::sql::Sql;
use crate::store::{ObjectReader, Ref, StoreError};

/// What a fetch asks for, whatever protocol carried it.
#[derive(Clone, Debug, Default)]
pub struct Fetch {
    /// `want` ids.
    pub wants: Vec<ObjectId>,
    /// `have` ids, in the order sent.
    pub haves: Vec<ObjectId>,
    /// The client's shallow commits.
    pub client_shallow: Vec<ObjectId>,
    /// `deepen <depth>`.
    pub depth: Option<u32>,
    /// `deepen-since <time>`.
    pub since: Option<i64>,
    /// `deepen-not <ref>` names, as sent.
    pub deepen_not: Vec<String>,
    /// `deepen-relative`.
    pub deepen_relative: bool,
    /// `include-tag`: also send the tags of what is sent.
    pub include_tag: bool,
    /// `ofs-delta`: the client reads deltas that name their base by offset, as stored
    /// packs hold them.
    pub ofs_delta: bool,
    /// `thin-pack`: deltas may name bases the client has instead of the pack.
    pub thin_pack: bool,
    /// `filter <spec>`, as sent.
    pub filter: Option<String>,
    /// `want-ref <name>` (protocol v2), in the order sent.
    pub want_refs: Vec<String>,
}

/// A fetch resolved against the repository.
pub struct Resolved {
    /// The wants, as sent.
    pub wants: Vec<ObjectId>,
    /// Whether the client reads OFS_DELTA entries.
    pub ofs_delta: bool,
    /// The refs the fetch reads, sorted: every ref when it may be a clone of everything the
    /// refs reach (no `have`, filter or shallow, commits and tags wanted), deepens, or names
    /// refs by `deepen-not` or by more `want-ref`s than are looked up one at a time; else
    /// the tags, for `include-tag`, or none. A fetch into a repository of 40,000 branches
    /// read each of them, a row each, to send a few commits.
    pub refs: Vec<Ref>,
    /// Whether `refs` holds every ref.
    pub every_ref: bool,
    /// How far back a shallow fetch goes.
    pub deepen: Deepen,
    /// Wanted commits, and the commits wanted tags lead to.
    pub want_commits: Vec<ObjectId>,
    /// Wanted trees (through tags too): sent with everything in them.
    pub want_trees: Vec<ObjectId>,
    /// Objects sent as they are: the tags passed through while peeling, wanted blobs.
    pub extra: Vec<ObjectId>,
    /// The haves that are commits here, in the order sent.
    pub common: Vec<ObjectId>,
    /// The types of the haves the server has.
    pub have_types: HashMap<ObjectId, ObjectType>,
    /// The client's shallow commits.
    pub client_shallow: HashSet<ObjectId>,
    /// What a partial clone leaves out.
    pub filter: Option<Filter>,
    /// The refs `want-ref` named, with their values, in the order named.
    pub wanted_refs: Vec<(String, ObjectId)>,
    /// Whether the tags of what is sent are sent too.
    pub include_tag: bool,
    /// Whether deltas may name bases the client has.
    pub thin_pack: bool,
}

/// Why a fetch is not answered with a pack: refusals are worded as git's upload-pack words
/// them and sent to the client as an `ERR` line; a storage failure is the server's.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A want that is not stored.
    #[error("upload-pack: not our ref {0}")]
    NotOurRef(ObjectId),
    /// A `deepen-not` that names no ref.
    #[error("upload-pack: deepen-not is not a ref: {0}")]
    DeepenNotRef(String),
    /// A `want-ref` that names no ref.
    #[error("unknown ref {0}")]
    UnknownRef(String),
    /// A `want-ref` named twice.
    #[error("duplicate want-ref {0}")]
    DuplicateWantRef(String),
    /// A filter spec that is refused.
    #[error(transparent)]
    Filter(#[from] BadFilter),
    /// The repository's storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `want-ref`s looked up one at a time at most: past this many, every ref is read at once.
const WANT_REFS_LOOKED_UP: usize = 64;

/// Checks and resolves `fetch`: every want must be stored, every `deepen-not` a ref.
pub fn resolve<S: Sql>(reader: &ObjectReader<S>, fetch: &Fetch) -> Result<Resolved, FetchError> {
    let store = reader.store();
    let wanted = store.locate_many(&fetch.wants)?;
    if let Some(missing) = fetch.wants.iter().find(|id| !wanted.contains_key(id)) {
        return Err(FetchError::NotOurRef(*missing));
    }
    let filter = fetch.filter.as_deref().map(Filter::parse).transpose()?;
    // Only a fetch that may want exactly what the refs reach (see `select::is_everything`)
    // needs them all to tell, besides one that deepens or names refs.
    let may_be_everything = fetch.haves.is_empty()
        && filter.is_none()
        && fetch.ofs_delta
        && fetch.client_shallow.is_empty()
        && wanted
            .values()
            .all(|w| matches!(w.kind, ObjectType::Commit | ObjectType::Tag));
    let every_ref = may_be_everything
        || fetch.depth.is_some()
        || fetch.since.is_some()
        || !fetch.deepen_not.is_empty()
        || fetch.want_refs.len() > WANT_REFS_LOOKED_UP;
    let refs = match (every_ref, fetch.include_tag) {
        (true, _) => store.refs()?,
        (false, true) => store.refs_with_prefix("refs/tags/")?,
        (false, false) => Vec::new(),
    };
    let head = match fetch.want_refs.iter().any(|name| name == "HEAD") {
        true => store.head_target()?,
        false => None,
    };
    let find = |name: &str| match every_ref {
        true => Ok(find_in(&refs, name)),
        false => store.ref_value(name),
    };
    let wanted_refs = want_refs(find, head.as_deref(), &fetch.want_refs)?;
    let mut wants = fetch.wants.clone();
    let mut named: HashSet<ObjectId> = wants.iter().copied().collect();
    wants.extend(
        wanted_refs
            .iter()
            .map(|(_, id)| *id)
            .filter(|id| named.insert(*id)),
    );
    let deepen = Deepen {
        depth: fetch.depth,
        since: fetch.since,
        relative: fetch.deepen_relative && fetch.depth.is_some(),
        not: deepen_not(&refs, &fetch.deepen_not)?,
    };
    let mut resolved = Resolved {
        wants,
        ofs_delta: fetch.ofs_delta,
        refs,
        every_ref,
        deepen,
        want_commits: Vec::new(),
        want_trees: Vec::new(),
        extra: Vec::new(),
        common: Vec::new(),
        have_types: HashMap::new(),
        client_shallow: fetch.client_shallow.iter().copied().collect(),
        filter,
        wanted_refs,
        include_tag: fetch.include_tag,
        thin_pack: fetch.thin_pack,
    };
    // Wanted tags are sent along with what they tag.
    for id in &resolved.wants {
        let peeled = reader.peel(*id)?;
        resolved.extra.extend(peeled.tags);
        match peeled.kind {
            Some(ObjectType::Commit) => resolved.want_commits.push(peeled.target),
            Some(ObjectType::Tree) => resolved.want_trees.push(peeled.target),
            _ => resolved.extra.push(peeled.target),
        }
    }
    resolved.have_types = store.object_types(&fetch.haves)?;
    resolved.common = fetch
        .haves
        .iter()
        .filter(|id| resolved.have_types.get(id) == Some(&ObjectType::Commit))
        .copied()
        .collect();
    Ok(resolved)
}

/// The values of the refs `want-ref` names, each named once; `HEAD` is the ref it points at,
/// `head`.
fn want_refs(
    mut find: impl FnMut(&str) -> Result<Option<ObjectId>, StoreError>,
    head: Option<&str>,
    names: &[String],
) -> Result<Vec<(String, ObjectId)>, FetchError> {
    let mut wanted: Vec<(String, ObjectId)> = Vec::with_capacity(names.len());
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(FetchError::DuplicateWantRef(name.clone()));
        }
        let full = match name.as_str() {
            "HEAD" => head.unwrap_or_default(),
            name => name,
        };
        let found = find(full)?.ok_or_else(|| FetchError::UnknownRef(name.clone()))?;
        wanted.push((name.clone(), found));
    }
    Ok(wanted)
}

/// The ref named `name` in `refs` (sorted), if there is one.
fn find_in(refs: &[Ref], name: &str) -> Option<ObjectId> {
    let at = refs
        .binary_search_by(|r| r.name.as_bytes().cmp(name.as_bytes()))
        .ok()?;
    refs.get(at).map(|r| r.id)
}

/// The commits `deepen-not` names: a full ref name, or a branch or tag name, peeled. The
/// refs are indexed by name once, so each name costs three lookups however many refs.
fn deepen_not(refs: &[Ref], names: &[String]) -> Result<Vec<ObjectId>, FetchError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let by_name: HashMap<&str, &Ref> = refs.iter().map(|r| (r.name.as_str(), r)).collect();
    names
        .iter()
        .map(|name| {
            [
                name.clone(),
                format!("refs/heads/{name}"),
                format!("refs/tags/{name}"),
            ]
            .into_iter()
            .find_map(|full| by_name.get(full.as_str()).copied())
            .map(|r| r.peeled.unwrap_or(r.id))
            .ok_or_else(|| FetchError::DeepenNotRef(name.clone()))
        })
        .collect()
}
