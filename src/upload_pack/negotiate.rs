//! What the client's haves tell the server, whatever the protocol: which of them it has,
//! and whether they say enough for the pack to be cut (git's `ok_to_give_up`).

use std::collections::HashSet;

use crate::format::object::{ObjectId, ObjectType};
use crate::rev_walk::Walker;
use crate::store::sql::Sql;
use crate::store::StoreError;

/// The haves the server has, as git's upload-pack tracks them.
#[derive(Default)]
pub struct Common {
    /// Commits the client has: its have commits and their parents (git's `THEY_HAVE`).
    they_have: HashSet<ObjectId>,
    /// Haves the server has, in the order sent; a commit already known is not counted
    /// again (git's `have_obj`).
    pub haves: Vec<ObjectId>,
    /// The last answer of [`Common::enough`], and the size of `they_have` it was given for.
    enough: Option<(usize, bool)>,
    /// Wants known to reach `they_have`: it only grows, so they are not walked again.
    satisfied: HashSet<ObjectId>,
    /// Walks [`Common::enough`] has made for this request.
    walks: usize,
}

/// Walks (each of at most 4,096 commits) that [`Common::enough`] may make for one request.
/// A v0 client may interleave 100,000 haves the server has with ones it lacks, each asking
/// again; past this the answer stays no, which only means the pack is not cut early.
const MAX_WALKS: usize = 64;

impl Common {
    /// Records a have the server stores, of type `kind`.
    pub fn add<S: Sql>(
        &mut self,
        walker: &mut Walker<S>,
        id: ObjectId,
        kind: ObjectType,
    ) -> Result<(), StoreError> {
        let mut known = false;
        if kind == ObjectType::Commit {
            known = !self.they_have.insert(id);
            self.they_have.extend(walker.parents(&id)?);
        }
        if !known {
            self.haves.push(id);
        }
        Ok(())
    }

    /// Whether every wanted commit reaches a commit the client has: then the pack can be
    /// cut. Asked again only when the client has said more.
    pub fn enough<S: Sql>(
        &mut self,
        walker: &mut Walker<S>,
        wants: &[ObjectId],
    ) -> Result<bool, StoreError> {
        if self.haves.is_empty() {
            return Ok(false);
        }
        if let Some((size, answer)) = self.enough {
            if size == self.they_have.len() {
                return Ok(answer);
            }
        }
        let mut answer = true;
        for want in wants {
            if self.satisfied.contains(want) {
                continue;
            }
            if self.walks >= MAX_WALKS {
                answer = false;
                break;
            }
            self.walks += 1;
            if !walker.reaches(*want, &self.they_have)? {
                answer = false;
                break;
            }
            self.satisfied.insert(*want);
        }
        self.enough = Some((self.they_have.len(), answer));
        Ok(answer)
    }
}
