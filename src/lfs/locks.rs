//! The Locks API (`info/lfs/locks`), as git-lfs's `docs/api/locking.md` describes it: a
//! lock per path, owned by the token that took it; only its owner unlocks it, or the admin
//! with `force`.

use serde::{Deserialize, Serialize};

use super::{reply, LfsError};
use crate::format::date::rfc3339_utc;
use crate::http::reply::Reply;
use crate::http::route::query_value;
use crate::store::sql::Sql;
use crate::store::{LfsLock, Store, StoreError};

/// Locks a page lists unless asked for fewer.
const PAGE: usize = 100;

/// The most a page lists.
const MAX_PAGE: usize = 1000;

/// The most locks a repository holds: each is a row written, and a lock is a promise
/// people keep by hand, so more than this is a client gone wrong.
pub const MAX_LOCKS: u64 = 10_000;

/// The longest path a lock may name.
const MAX_PATH: usize = 4096;

/// Who calls: what owns the locks it takes, and whether it is the admin (who may force).
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    /// The owner's name: a token id, `admin` or `anonymous`.
    pub owner: &'a str,
    /// Whether the caller holds the admin token.
    pub admin: bool,
}

#[derive(Serialize)]
struct Owner<'a> {
    name: &'a str,
}

/// A lock as the API shows it.
#[derive(Serialize)]
struct LockView<'a> {
    id: String,
    path: &'a str,
    locked_at: String,
    owner: Owner<'a>,
}

fn view(lock: &LfsLock) -> LockView<'_> {
    LockView {
        id: lock.id.to_string(),
        path: &lock.path,
        locked_at: rfc3339_utc(lock.locked_at),
        owner: Owner { name: &lock.owner },
    }
}

#[derive(Deserialize)]
struct Create {
    path: String,
}

#[derive(Deserialize, Default)]
struct Page {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

#[derive(Deserialize, Default)]
struct Unlock {
    #[serde(default)]
    force: bool,
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, LfsError> {
    serde_json::from_slice(body).map_err(|e| LfsError::new(422, format!("invalid request: {e}")))
}

/// A cursor or id as sent: the decimal id of a lock.
fn lock_id(text: &str) -> Result<i64, LfsError> {
    text.parse()
        .ok()
        .filter(|id| *id >= 0)
        .ok_or_else(|| LfsError::new(422, format!("invalid lock id {text:?}")))
}

fn answered(result: Result<Reply, LfsError>) -> Result<Reply, StoreError> {
    Ok(result.unwrap_or_else(Reply::from))
}

/// `POST locks`: locks a path, or answers 409 with the lock that holds it.
pub fn create<S: Sql>(
    store: &Store<S>,
    caller: Caller,
    body: &[u8],
    now: i64,
) -> Result<Reply, StoreError> {
    let asked: Create = match parse(body) {
        Ok(asked) => asked,
        Err(e) => return answered(Err(e)),
    };
    if asked.path.is_empty() || asked.path.len() > MAX_PATH {
        return answered(Err(LfsError::new(422, "a lock needs a path")));
    }
    if store.lfs_lock_count()? >= MAX_LOCKS {
        let why =
            format!("this repository holds {MAX_LOCKS} locks, the most it may: unlock some first");
        return answered(Err(LfsError::new(403, why)));
    }
    Ok(match store.add_lfs_lock(&asked.path, caller.owner, now)? {
        Ok(lock) => reply(201, &serde_json::json!({ "lock": view(&lock) })),
        Err(held) => reply(
            409,
            &serde_json::json!({ "lock": view(&held), "message": "already created lock" }),
        ),
    })
}

/// A page of locks and the cursor of the next page (None at the end).
type Listed = (Vec<LfsLock>, Option<String>);

/// The page after `cursor`, of `limit` locks, and the cursor of the next (None at the end).
fn page<S: Sql>(
    store: &Store<S>,
    cursor: Option<&str>,
    limit: Option<usize>,
    path: Option<&str>,
    id: Option<i64>,
) -> Result<Result<Listed, LfsError>, StoreError> {
    let after = match cursor.filter(|c| !c.is_empty()).map(lock_id).transpose() {
        Ok(after) => after.unwrap_or(0),
        Err(e) => return Ok(Err(e)),
    };
    let limit = limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let mut locks = store.lfs_locks(after, limit + 1, path, id)?;
    let next = (locks.len() > limit).then(|| locks.get(limit - 1).map(|l| l.id.to_string()));
    locks.truncate(limit);
    Ok(Ok((locks, next.flatten())))
}

/// `GET locks?path=&id=&cursor=&limit=`: the locks, by id.
pub fn list<S: Sql>(store: &Store<S>, query: &str) -> Result<Reply, StoreError> {
    let text = |key| query_value(query, key).map(|v| String::from_utf8_lossy(&v).into_owned());
    let id = match text("id").map(|id| lock_id(&id)).transpose() {
        Ok(id) => id,
        Err(e) => return answered(Err(e)),
    };
    let limit = text("limit").and_then(|l| l.parse().ok());
    let path = text("path");
    let listed = page(store, text("cursor").as_deref(), limit, path.as_deref(), id)?;
    answered(listed.map(|(locks, next)| {
        let locks: Vec<LockView> = locks.iter().map(view).collect();
        reply(
            200,
            &serde_json::json!({ "locks": locks, "next_cursor": next }),
        )
    }))
}

/// `POST locks/verify`: the locks, split into the caller's and everyone else's.
pub fn verify<S: Sql>(store: &Store<S>, caller: Caller, body: &[u8]) -> Result<Reply, StoreError> {
    let asked: Page = match parse(body) {
        Ok(asked) => asked,
        Err(e) => return answered(Err(e)),
    };
    let listed = page(store, asked.cursor.as_deref(), asked.limit, None, None)?;
    answered(listed.map(|(locks, next)| {
        let (ours, theirs): (Vec<&LfsLock>, Vec<&LfsLock>) =
            locks.iter().partition(|l| l.owner == caller.owner);
        let ours: Vec<LockView> = ours.into_iter().map(view).collect();
        let theirs: Vec<LockView> = theirs.into_iter().map(view).collect();
        let answer = serde_json::json!({ "ours": ours, "theirs": theirs, "next_cursor": next });
        reply(200, &answer)
    }))
}

/// `POST locks/<id>/unlock`: removes a lock its owner holds, or anyone's with `force` from
/// the admin.
pub fn unlock<S: Sql>(
    store: &Store<S>,
    caller: Caller,
    id: &str,
    body: &[u8],
) -> Result<Reply, StoreError> {
    let asked: Unlock = match body.is_empty() {
        true => Unlock::default(),
        false => match parse(body) {
            Ok(asked) => asked,
            Err(e) => return answered(Err(e)),
        },
    };
    let id = match lock_id(id) {
        Ok(id) => id,
        Err(e) => return answered(Err(e)),
    };
    let Some(lock) = store.lfs_locks(id - 1, 1, None, Some(id))?.pop() else {
        return answered(Err(LfsError::new(404, "lock not found")));
    };
    if lock.owner != caller.owner && !(asked.force && caller.admin) {
        let why = match asked.force {
            true => "only the admin token can force an unlock",
            false => {
                "this lock belongs to someone else: unlocking it needs --force and the admin token"
            }
        };
        return answered(Err(LfsError::new(403, why)));
    }
    store.remove_lfs_lock(id)?;
    Ok(reply(200, &serde_json::json!({ "lock": view(&lock) })))
}
