//! The directory's Durable Object (see [`crate::directory`]): `PUT /entry` and `DELETE
//! /entry?name=` from the repositories' objects, `GET /repos` from the Worker.
#![deny(clippy::indexing_slicing, clippy::string_slice)]

use worker::{durable_object, Env, Method, Request, Response, Result, State};

use super::{respond, whole_body, DoSql};
use crate::directory::{self, Entry};
use crate::http::reply::Reply;
use crate::store::sql::SqlError;

/// The name of the directory's one object.
pub const NAME: &str = "directory";

/// The directory of repositories.
#[durable_object]
pub struct Directory {
    sql: DoSql,
    broken: Option<String>,
}

impl worker::DurableObject for Directory {
    fn new(state: State, _env: Env) -> Self {
        let sql = DoSql::new(&state);
        let broken = directory::open(&sql).err().map(|e| e.to_string());
        Directory { sql, broken }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        if let Some(why) = &self.broken {
            return respond(Reply::json_error(500, why), None);
        }
        let url = req.url()?;
        let done = |result: std::result::Result<(), SqlError>| match result {
            Ok(()) => Reply::empty(204),
            Err(e) => Reply::json_error(500, &e.to_string()),
        };
        let reply = match (req.method(), url.path()) {
            (Method::Get, "/repos") => directory::list(&self.sql, url.query().unwrap_or_default())
                .unwrap_or_else(|e| Reply::json_error(500, &e.to_string())),
            (Method::Put, "/entry") => {
                let body = whole_body(&req, 64 << 10).await?.unwrap_or_default();
                match serde_json::from_slice::<Entry>(&body) {
                    Ok(entry) => done(directory::put(&self.sql, &entry)),
                    Err(e) => Reply::json_error(400, &e.to_string()),
                }
            }
            (Method::Delete, "/entry") => {
                let name = url.query_pairs().find(|(k, _)| k == "name");
                match name {
                    Some((_, name)) => done(directory::remove(&self.sql, &name)),
                    None => Reply::json_error(400, "name missing"),
                }
            }
            _ => Reply::json_error(404, "not found"),
        };
        respond(reply, None)
    }
}
