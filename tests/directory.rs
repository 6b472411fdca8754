//! The directory of repositories on SQLite: entries replaced and removed, listed by name
//! under a prefix taken literally, page by page.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use git_on_durable_objects::access::Visibility;
use git_on_durable_objects::directory::{self, Entry};
use git_on_durable_objects::http::reply::Body;
use serde_json::Value;

fn entry(name: &str, bytes: u64) -> Entry {
    Entry {
        name: name.into(),
        bytes,
        last_push: Some(1_700_000_000),
        visibility: Visibility::Public,
    }
}

fn list(db: &common::Db, query: &str) -> (u16, Value) {
    let reply = directory::list(db, query).unwrap();
    let Body::Bytes(bytes) = reply.body else {
        panic!("not bytes")
    };
    (reply.status, serde_json::from_slice(&bytes).unwrap())
}

fn names(listing: &Value) -> Vec<&str> {
    let repos = listing["repos"].as_array().unwrap();
    repos.iter().map(|r| r["name"].as_str().unwrap()).collect()
}

#[test]
fn lists_by_name_under_a_literal_prefix_a_page_at_a_time() {
    let db = common::db();
    directory::open(&db).unwrap();
    for name in ["b/x", "a_/y", "ab/z", "a/2", "a/1", "a/3"] {
        directory::put(&db, &entry(name, 1)).unwrap();
    }
    directory::put(&db, &entry("a/1", 42)).unwrap();
    let (_, all) = list(&db, "");
    assert_eq!(names(&all), ["a/1", "a/2", "a/3", "a_/y", "ab/z", "b/x"]);
    assert_eq!(all["repos"][0]["bytes"], 42);
    assert_eq!(all["repos"][0]["last_push"], "2023-11-14T22:13:20Z");
    let (_, under) = list(&db, "prefix=a_%2F");
    assert_eq!(names(&under), ["a_/y"]);
    let (_, first) = list(&db, "prefix=a/&limit=2");
    assert_eq!(names(&first), ["a/1", "a/2"]);
    assert_eq!(first["next"], "a/2");
    let (_, second) = list(&db, "prefix=a/&limit=2&cursor=a/2");
    assert_eq!(names(&second), ["a/3"]);
    assert_eq!(second["next"], Value::Null);
    directory::remove(&db, "a/2").unwrap();
    assert_eq!(names(&list(&db, "prefix=a/").1), ["a/1", "a/3"]);
    assert_eq!(list(&db, "limit=0").0, 400);
    assert_eq!(list(&db, "limit=1001").0, 400);
}
