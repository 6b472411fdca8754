//! Naming objects as `git rev-parse` does: a full or abbreviated id, `HEAD`, or a ref by
//! its full or short name; and peeling what is named to the commit or tree wanted.

use std::collections::HashMap;

use crate::browse::{corrupt, line_of_history, read_as, step, BrowseError};
use crate::format::commit;
use crate::format::object::{ObjectId, ObjectType};
use crate::store::sql::Sql;
use crate::store::{CommitInfo, ObjectReader};

/// Where git looks for a short ref name, in order (git's `ref_rev_parse_rules`).
const RULES: [(&str, &str); 6] = [
    ("", ""),
    ("refs/", ""),
    ("refs/tags/", ""),
    ("refs/heads/", ""),
    ("refs/remotes/", ""),
    ("refs/remotes/", "/HEAD"),
];

/// The fewest hex digits an abbreviated id may have, as in git.
const MIN_ABBREV: usize = 4;

/// The object `name` names, or why none: a full id of a stored object, `HEAD`, a ref by
/// the rules above, else an abbreviated id that only one object has; then the ancestors
/// its `~<n>` and `^<n>` suffixes lead to, as git's `get_oid` does. Each parent followed
/// is a step of the request's walk budget.
pub fn resolve<S: Sql>(reader: &ObjectReader<S>, name: &str) -> Result<ObjectId, BrowseError> {
    // No ref name has a `~` or `^`: what follows the first is a path through ancestors.
    let Some(at) = name.find(['~', '^']) else {
        return resolve_name(reader, name);
    };
    let bad = || BrowseError::Bad(format!("bad revision {name}"));
    // `find` stops at an ASCII byte, a character boundary.
    let (start, steps) = name.split_at(at);
    let mut id = resolve_name(reader, start)?;
    let mut graph = HashMap::new();
    let mut steps = steps.as_bytes();
    while let Some((&op, rest)) = steps.split_first() {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let (count, after) = rest.split_at(digits);
        steps = after;
        let n: u64 = match count {
            [] => 1,
            count => std::str::from_utf8(count)
                .ok()
                .and_then(|count| count.parse().ok())
                .ok_or_else(bad)?,
        };
        id = commit_of(reader, id, name)?;
        id = match op {
            b'^' if n == 0 => id,
            b'^' => {
                step(reader, "the revision")?;
                let nth = usize::try_from(n - 1).unwrap_or(usize::MAX);
                nth_parent(reader, &mut graph, &id, nth, name)?
            }
            b'~' => {
                for _ in 0..n {
                    step(reader, "the revision")?;
                    id = nth_parent(reader, &mut graph, &id, 0, name)?;
                }
                id
            }
            _ => return Err(bad()),
        };
    }
    Ok(id)
}

/// The commit `id` peels to, or a refusal naming `name`.
fn commit_of<S: Sql>(
    reader: &ObjectReader<S>,
    id: ObjectId,
    name: &str,
) -> Result<ObjectId, BrowseError> {
    match peel(reader, id)? {
        (id, Some(ObjectType::Commit)) => Ok(id),
        _ => Err(BrowseError::Bad(format!(
            "bad revision {name}: not a commit"
        ))),
    }
}

/// Parent `n` (from 0) of commit `id`, through `graph`, the rows fetched so far (see
/// [`line_of_history`]).
fn nth_parent<S: Sql>(
    reader: &ObjectReader<S>,
    graph: &mut HashMap<ObjectId, CommitInfo>,
    id: &ObjectId,
    n: usize,
    name: &str,
) -> Result<ObjectId, BrowseError> {
    line_of_history(reader, graph, id)?;
    graph
        .get(id)
        .and_then(|info| info.parents.get(n))
        .copied()
        .ok_or_else(|| BrowseError::NotFound(format!("unknown revision: {name}")))
}

/// The object a name without suffixes names.
fn resolve_name<S: Sql>(reader: &ObjectReader<S>, name: &str) -> Result<ObjectId, BrowseError> {
    let store = reader.store();
    let unknown = || BrowseError::NotFound(format!("unknown revision: {name}"));
    if let Some(id) = ObjectId::from_hex(name.as_bytes()) {
        return match store.locate(&id)? {
            Some(_) => Ok(id),
            None => Err(unknown()),
        };
    }
    if name == "HEAD" {
        let head = store.head_target()?.unwrap_or_default();
        return store.ref_value(&head)?.ok_or_else(unknown);
    }
    if !name.is_empty() && !name.contains("..") && name.len() <= 1024 {
        for (before, after) in RULES {
            if let Some(id) = store.ref_value(&format!("{before}{name}{after}"))? {
                return Ok(id);
            }
        }
    }
    let hex = name.len() >= MIN_ABBREV && name.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex {
        return Err(unknown());
    }
    match &store.ids_with_prefix(&name.to_ascii_lowercase(), 2)?[..] {
        [id] => Ok(*id),
        [] => Err(unknown()),
        _ => Err(BrowseError::Bad(format!(
            "short object id {name} is ambiguous"
        ))),
    }
}

/// Follows annotated tags from `id` to what they tag, and its type (None when it is not
/// stored): the type comes with the peeling, so no read is needed to check it.
fn peel<S: Sql>(
    reader: &ObjectReader<S>,
    id: ObjectId,
) -> Result<(ObjectId, Option<ObjectType>), BrowseError> {
    let peeled = reader.peel(id)?;
    Ok((peeled.target, peeled.kind))
}

/// The commit `name` names, through tags (`<name>^{commit}`).
pub fn commit<S: Sql>(reader: &ObjectReader<S>, name: &str) -> Result<ObjectId, BrowseError> {
    match peel(reader, resolve(reader, name)?)? {
        (id, Some(ObjectType::Commit)) => Ok(id),
        (id, Some(other)) => Err(BrowseError::Bad(format!(
            "object {id} is a {}, not a commit",
            other.name()
        ))),
        (id, None) => Err(BrowseError::NotFound(format!("object {id} not found"))),
    }
}

/// The tree `name` names, through tags and commits (`<name>^{tree}`).
pub fn tree<S: Sql>(reader: &ObjectReader<S>, name: &str) -> Result<ObjectId, BrowseError> {
    match peel(reader, resolve(reader, name)?)? {
        (id, Some(ObjectType::Tree)) => Ok(id),
        (id, Some(ObjectType::Commit)) => tree_of(reader, &id),
        (_, Some(other)) => Err(BrowseError::Bad(format!(
            "{name} is a {}, not a tree",
            other.name()
        ))),
        (_, None) => Err(BrowseError::NotFound(format!("unknown revision: {name}"))),
    }
}

/// The tree of commit `id`.
pub fn tree_of<S: Sql>(reader: &ObjectReader<S>, id: &ObjectId) -> Result<ObjectId, BrowseError> {
    let data = read_as(reader, id, ObjectType::Commit)?;
    let parsed = commit::parse(&data).map_err(corrupt(ObjectType::Commit, *id))?;
    Ok(parsed.tree)
}
