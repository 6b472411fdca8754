//! Reading a repository as `git rev-parse`, `log`, `ls-tree`, `diff-tree` and `cat-file`
//! read it, for the JSON API: bounded walks over the stored objects, answering with ids
//! and parsed objects that the HTTP layer shows.
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

pub mod blob;
pub mod diff_tree;
pub mod log;
pub mod rev_parse;
pub mod tree_walk;

use std::collections::HashMap;
use std::rc::Rc;

use crate::format::object::{BadObject, ObjectId, ObjectType};
use crate::store::sql::Sql;
use crate::store::{CommitInfo, ObjectReader, StoreError};

/// Why a read could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum BrowseError {
    /// What was asked for does not exist (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// A parameter that cannot be read, or names the wrong kind of thing (HTTP 400).
    #[error("{0}")]
    Bad(String),
    /// The storage failed, or holds a corrupt object.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The content of object `id`, which must be of type `kind`.
pub fn read_as<S: Sql>(
    reader: &ObjectReader<S>,
    id: &ObjectId,
    kind: ObjectType,
) -> Result<Rc<Vec<u8>>, BrowseError> {
    match reader.read(id)? {
        None => Err(BrowseError::NotFound(format!("object {id} not found"))),
        Some(object) if object.kind == kind => Ok(object.data),
        Some(object) => Err(BrowseError::Bad(format!(
            "object {id} is a {}, not a {}",
            object.kind.name(),
            kind.name()
        ))),
    }
}

/// Graph rows fetched with each missing one: its line of history, as a walk goes down it.
const PREFETCH: usize = 256;

/// The graph row of commit `id` from `graph`, the rows fetched so far; a missing one is
/// fetched with its line of history, so a walk down first parents costs a query per
/// [`PREFETCH`] commits. Returns the rows it fetched too (empty when none was missing).
pub fn line_of_history<S: Sql>(
    reader: &ObjectReader<S>,
    graph: &mut HashMap<ObjectId, CommitInfo>,
    id: &ObjectId,
) -> Result<Vec<ObjectId>, StoreError> {
    if graph.contains_key(id) {
        return Ok(Vec::new());
    }
    let rows = reader.store().linear_history(id, PREFETCH)?;
    let fetched = rows.keys().copied().collect();
    graph.extend(rows);
    Ok(fetched)
}

/// Takes one step of `what`, a walk of the request's: a 400 naming the budget once the
/// request's walks have taken all of it ([`ObjectReader::step`]).
pub fn step<S: Sql>(reader: &ObjectReader<S>, what: &str) -> Result<(), BrowseError> {
    reader.step().map_err(|budget| {
        BrowseError::Bad(format!(
            "{what} walks more than {budget} steps (commits, parents, revisions and trees, \
             for the whole request): read it with git"
        ))
    })
}

/// The error of a stored object that does not parse.
pub fn corrupt(kind: ObjectType, id: ObjectId) -> impl FnOnce(BadObject) -> BrowseError {
    move |why| BrowseError::Store(StoreError::Corrupt { kind, id, why })
}
