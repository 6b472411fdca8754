//! The directory of repositories. Durable Objects cannot be listed, so one more object,
//! with a SQLite database of its own, keeps a row per repository: the repositories tell it
//! when they are created, pushed to, imported into, changed or deleted, and `GET
//! /api/repos` lists it by name, a page at a time. Should its storage be lost, each
//! repository is listed again at its next such change (each knows its own name).
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

use serde::{Deserialize, Serialize};

use crate::access::Visibility;
use crate::format::date::rfc3339_utc;
use crate::http::reply::Reply;
use crate::http::route::query_value;
use crate::store::sql::{Sql, SqlError, Value};

/// The directory's one table.
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS repos (
    name TEXT PRIMARY KEY,
    bytes INTEGER NOT NULL,
    last_push INTEGER,
    visibility TEXT NOT NULL
)";

/// Repositories one page lists unless `limit` says fewer; and at most.
const PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// What the directory knows of a repository, as a repository tells it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Entry {
    /// `owner/repo`.
    pub name: String,
    /// Bytes stored (packs and loose objects).
    pub bytes: u64,
    /// When it was last pushed to (seconds since the epoch).
    pub last_push: Option<i64>,
    /// Who may read it.
    pub visibility: Visibility,
}

/// An entry as `GET /api/repos` shows it.
#[derive(Serialize)]
struct EntryView {
    name: String,
    bytes: u64,
    last_push: Option<String>,
    visibility: Visibility,
}

/// Makes the table, if it is not there.
pub fn open(sql: &impl Sql) -> Result<(), SqlError> {
    sql.exec(SCHEMA, vec![]).map(drop)
}

/// Records `entry`, replacing what was known of it.
pub fn put(sql: &impl Sql, entry: &Entry) -> Result<(), SqlError> {
    let visibility = match entry.visibility {
        Visibility::Public => "public",
        Visibility::Private => "private",
    };
    sql.exec(
        "INSERT INTO repos (name, bytes, last_push, visibility) VALUES (?, ?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes, \
         last_push = excluded.last_push, visibility = excluded.visibility",
        vec![
            entry.name.as_str().into(),
            i64::try_from(entry.bytes).unwrap_or(i64::MAX).into(),
            entry.last_push.map_or(Value::Null, Value::Integer),
            visibility.into(),
        ],
    )
    .map(drop)
}

/// Forgets the repository `name`.
pub fn remove(sql: &impl Sql, name: &str) -> Result<(), SqlError> {
    sql.exec("DELETE FROM repos WHERE name = ?", vec![name.into()])
        .map(drop)
}

/// `GET /api/repos?prefix=&cursor=&limit=`: the repositories whose names start with
/// `prefix`, by name, after `cursor` (the last name of the page before):
/// `{"repos": [...], "next": <cursor or null>}`.
pub fn list(sql: &impl Sql, query: &str) -> Result<Reply, SqlError> {
    let value = |key| {
        let value = query_value(query, key).unwrap_or_default();
        String::from_utf8_lossy(&value).into_owned()
    };
    let (prefix, cursor) = (value("prefix"), value("cursor"));
    let limit = match value("limit").as_str() {
        "" => PAGE,
        text => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                let why = format!("limit must be from 1 to {MAX_PAGE}");
                return Ok(Reply::json_error(400, &why));
            }
        },
    };
    // Names that start with the prefix sort from it to the prefix and the last character
    // (names are ASCII), so that only they are read; substr compares the start exactly
    // (LIKE would read % and _ in the prefix as patterns).
    let rows = sql.exec(
        "SELECT name, bytes, last_push, visibility FROM repos \
         WHERE name >= ?1 AND name < ?4 AND name > ?2 AND substr(name, 1, length(?1)) = ?1 \
         ORDER BY name LIMIT ?3",
        vec![
            prefix.as_str().into(),
            cursor.as_str().into(),
            i64::try_from(limit + 1).unwrap_or(i64::MAX).into(),
            format!("{prefix}{}", char::MAX).into(),
        ],
    )?;
    let mut repos: Vec<EntryView> = rows.iter().filter_map(|row| view(row)).collect();
    let next = match repos.len() > limit {
        true => {
            repos.truncate(limit);
            repos.last().map(|r| r.name.clone())
        }
        false => None,
    };
    Ok(Reply::json(
        200,
        &serde_json::json!({ "repos": repos, "next": next }),
    ))
}

fn view(row: &[Value]) -> Option<EntryView> {
    let visibility = match row.get(3)?.as_str()? {
        "private" => Visibility::Private,
        _ => Visibility::Public,
    };
    Some(EntryView {
        name: row.first()?.as_str()?.to_string(),
        bytes: u64::try_from(row.get(1)?.as_i64()?).unwrap_or_default(),
        last_push: row.get(2)?.as_i64().map(rfc3339_utc),
        visibility,
    })
}
