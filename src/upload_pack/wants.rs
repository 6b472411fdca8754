//! What a fetch names, resolved against the repository: wants checked and peeled, haves
//! the server knows, `deepen-not` names read as refs.

use std::collections::{HashMap, HashSet};

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
}

/// A fetch resolved against the repository.
pub struct Resolved {
    /// The wants, as sent.
    pub wants: Vec<ObjectId>,
    /// Whether the client reads OFS_DELTA entries.
    pub ofs_delta: bool,
    /// Every ref, sorted.
    pub refs: Vec<Ref>,
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
    /// The repository's storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks and resolves `fetch`: every want must be stored, every `deepen-not` a ref.
pub fn resolve<S: Sql>(reader: &ObjectReader<S>, fetch: &Fetch) -> Result<Resolved, FetchError> {
    let store = reader.store();
    let wanted = store.locate_many(&fetch.wants)?;
    if let Some(missing) = fetch.wants.iter().find(|id| !wanted.contains_key(id)) {
        return Err(FetchError::NotOurRef(*missing));
    }
    let refs = store.refs()?;
    let deepen = Deepen {
        depth: fetch.depth,
        since: fetch.since,
        relative: fetch.deepen_relative && fetch.depth.is_some(),
        not: deepen_not(&refs, &fetch.deepen_not)?,
    };
    let mut resolved = Resolved {
        wants: fetch.wants.clone(),
        ofs_delta: fetch.ofs_delta,
        refs,
        deepen,
        want_commits: Vec::new(),
        want_trees: Vec::new(),
        extra: Vec::new(),
        common: Vec::new(),
        have_types: HashMap::new(),
        client_shallow: fetch.client_shallow.iter().copied().collect(),
    };
    // Wanted tags are sent along with what they tag.
    for id in &fetch.wants {
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

/// The commits `deepen-not` names: a full ref name, or a branch or tag name, peeled.
fn deepen_not(refs: &[Ref], names: &[String]) -> Result<Vec<ObjectId>, FetchError> {
    names
        .iter()
        .map(|name| {
            [
                name.clone(),
                format!("refs/heads/{name}"),
                format!("refs/tags/{name}"),
            ]
            .into_iter()
            .find_map(|full| refs.iter().find(|r| r.name == full))
            .map(|r| r.peeled.unwrap_or(r.id))
            .ok_or_else(|| FetchError::DeepenNotRef(name.clone()))
        })
        .collect()
}
