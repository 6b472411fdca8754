//! Git LFS on the store: the Batch API's answers follow what the repository records as
//! held, a record counts once, the Locks API's rules hold across pages, and every refused
//! request leaves every table as it was.

mod common;

use common::*;
use git_on_durable_objects::access::Denied;
use git_on_durable_objects::http::backend::Method;
use git_on_durable_objects::http::reply::{Body, Reply};
use git_on_durable_objects::http::route::Lfs;
use git_on_durable_objects::lfs::{self, batch::Signer, locks::Caller};
use git_on_durable_objects::store::sql::Sql;
use git_on_durable_objects::store::Store;
use serde_json::{json, Value as Json};

const A: &str = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393";
const B: &str = "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c";

const ALICE: Caller = Caller {
    owner: "alice",
    admin: false,
};
const BOB: Caller = Caller {
    owner: "bob",
    admin: false,
};
const ADMIN: Caller = Caller {
    owner: "admin",
    admin: true,
};

fn signer() -> Signer<'static> {
    Signer {
        key: b"key",
        repo: "o/r",
        base: "http://h/o/r.git/info/lfs",
        now: 1_000,
        max_size: 1 << 20,
        bucket: None,
        lifetime: 3600,
    }
}

/// What the store answers to `lfs` with `body`, as status and JSON.
fn ask(store: &Store<Db>, method: Method, lfs: Lfs, body: Json, caller: Caller) -> (u16, Json) {
    let body = match body {
        Json::Null => Vec::new(),
        body => serde_json::to_vec(&body).unwrap(),
    };
    ask_with(store, method, &lfs, &body, caller, None, Some(signer()), "")
}

#[allow(clippy::too_many_arguments)]
fn ask_with(
    store: &Store<Db>,
    method: Method,
    lfs: &Lfs,
    body: &[u8],
    caller: Caller,
    write_denied: Option<Denied>,
    signer: Option<Signer>,
    query: &str,
) -> (u16, Json) {
    let request = lfs::Request {
        method,
        lfs,
        body,
        query,
        caller,
        write_denied,
        signer,
        now: 1_000,
    };
    let Reply { status, body, .. } = lfs::serve(store, &request).unwrap();
    let Body::Bytes(bytes) = body else {
        panic!("an LFS answer is whole")
    };
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn upload(objects: &[(&str, u64)]) -> Json {
    let objects: Vec<Json> = objects
        .iter()
        .map(|(oid, size)| json!({"oid": oid, "size": size}))
        .collect();
    json!({"operation": "upload", "transfers": ["basic"], "objects": objects})
}

#[test]
fn a_batch_asks_to_upload_only_what_is_not_recorded_and_a_record_counts_once() {
    let (store, db) = store(1 << 20);
    let (status, answer) = ask(&store, Method::Post, Lfs::Batch, upload(&[(A, 5)]), ALICE);
    assert_eq!(status, 200);
    let actions = &answer["objects"][0]["actions"];
    assert!(actions["upload"]["header"]["Authorization"].is_string());
    assert_eq!(actions["verify"]["header"], actions["upload"]["header"]);

    let before = db.rows().written;
    store.record_lfs(A, 5, 1_000).unwrap();
    assert_eq!(db.rows().written - before, 1, "one row per object recorded");
    store.record_lfs(A, 5, 2_000).unwrap();
    store.record_lfs(B, 7, 2_000).unwrap();
    assert_eq!(store.lfs_totals().unwrap(), (2, 12));

    let asked = upload(&[(A, 5), (B, 8)]);
    let (_, answer) = ask(&store, Method::Post, Lfs::Batch, asked, ALICE);
    assert!(answer["objects"][0].get("actions").is_none());
    assert!(answer["objects"][1]["actions"]["upload"].is_object());

    let download = json!({"operation": "download", "objects": [{"oid": A, "size": 0}, {"oid": "a".repeat(64), "size": 1}]});
    let (_, answer) = ask(&store, Method::Post, Lfs::Batch, download, BOB);
    assert_eq!(answer["objects"][0]["size"], 5);
    assert!(answer["objects"][0]["actions"]["download"]["href"]
        .as_str()
        .unwrap()
        .ends_with(A));
    assert_eq!(answer["objects"][1]["error"]["code"], 404);
}

#[test]
fn refused_batches_change_nothing_and_say_why() {
    let (store, db) = store(1 << 20);
    let before = snapshot(&db);
    let body = serde_json::to_vec(&upload(&[(A, 5)])).unwrap();
    let batch = |denied, signer| {
        let read_only = Caller {
            owner: "reader",
            admin: false,
        };
        ask_with(
            &store,
            Method::Post,
            &Lfs::Batch,
            &body,
            read_only,
            denied,
            signer,
            "",
        )
    };
    let (status, answer) = batch(Some(Denied::ReadOnly), Some(signer()));
    assert_eq!(status, 403);
    assert_eq!(answer["message"], Denied::ReadOnly.to_string());
    let (status, answer) = batch(None, None);
    assert_eq!(status, 501);
    assert_eq!(answer["message"], lfs::NO_KEY);
    for bad in [
        &b"{"[..],
        b"[]",
        b"{\"operation\": \"upload\"}",
        b"{\"operation\": \"x\", \"objects\": []}",
    ] {
        let (status, _) = ask_with(
            &store,
            Method::Post,
            &Lfs::Batch,
            bad,
            ALICE,
            None,
            Some(signer()),
            "",
        );
        assert_eq!(status, 422, "{}", String::from_utf8_lossy(bad));
    }
    assert_eq!(snapshot(&db), before);
}

fn lock(store: &Store<Db>, path: &str, caller: Caller) -> (u16, Json) {
    ask(
        store,
        Method::Post,
        Lfs::Locks,
        json!({"path": path, "ref": {"name": "refs/heads/main"}}),
        caller,
    )
}

fn list(store: &Store<Db>, query: &str) -> (u16, Json) {
    ask_with(
        store,
        Method::Get,
        &Lfs::Locks,
        b"",
        ALICE,
        None,
        None,
        query,
    )
}

#[test]
fn locks_are_listed_by_page_and_split_into_ours_and_theirs() {
    let (store, _db) = store(1 << 20);
    for i in 0..5 {
        let caller = if i % 2 == 0 { ALICE } else { BOB };
        let (status, answer) = lock(&store, &format!("f{i}.bin"), caller);
        assert_eq!(status, 201);
        assert_eq!(answer["lock"]["owner"]["name"], caller.owner);
    }
    let mut paths = Vec::new();
    let mut query = "limit=2".to_string();
    loop {
        let (status, answer) = list(&store, &query);
        assert_eq!(status, 200);
        for lock in answer["locks"].as_array().unwrap() {
            paths.push(lock["path"].as_str().unwrap().to_string());
        }
        match answer["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(paths, ["f0.bin", "f1.bin", "f2.bin", "f3.bin", "f4.bin"]);
    let (_, answer) = list(&store, "path=f3.bin");
    assert_eq!(answer["locks"][0]["owner"]["name"], "bob");
    assert_eq!(answer["locks"].as_array().unwrap().len(), 1);

    let (status, answer) = ask(&store, Method::Post, Lfs::LocksVerify, json!({}), BOB);
    assert_eq!(status, 200);
    assert_eq!(answer["ours"].as_array().unwrap().len(), 2);
    assert_eq!(answer["theirs"].as_array().unwrap().len(), 3);
    let (status, _) = list(&store, "cursor=x");
    assert_eq!(status, 422);
}

#[test]
fn a_lock_is_taken_once_and_released_by_its_owner_or_the_admin_s_force() {
    let (store, db) = store(1 << 20);
    let (_, taken) = lock(&store, "a.psd", ALICE);
    let id = taken["lock"]["id"].as_str().unwrap().to_string();
    let before = snapshot(&db);
    let (status, answer) = lock(&store, "a.psd", BOB);
    assert_eq!(status, 409);
    assert_eq!(answer["message"], "already created lock");
    assert_eq!(answer["lock"]["id"], id.as_str());
    let unlock = |caller, force| {
        let lfs = Lfs::Unlock(id.clone());
        ask(&store, Method::Post, lfs, json!({"force": force}), caller)
    };
    assert_eq!(unlock(BOB, false).0, 403);
    assert_eq!(unlock(BOB, true).0, 403);
    assert_eq!(unlock(ADMIN, false).0, 403);
    assert_eq!(snapshot(&db), before);
    let (status, answer) = unlock(ADMIN, true);
    assert_eq!(status, 200);
    assert_eq!(answer["lock"]["path"], "a.psd");
    assert_eq!(unlock(ALICE, false).0, 404);
    let (_, again) = lock(&store, "a.psd", BOB);
    let lfs = Lfs::Unlock(again["lock"]["id"].as_str().unwrap().to_string());
    assert_eq!(ask(&store, Method::Post, lfs, Json::Null, BOB).0, 200);
    assert_eq!(list(&store, "").1["locks"], json!([]));
}

#[test]
fn a_repository_holds_at_most_max_locks() {
    let (store, db) = store(1 << 20);
    for i in 0..lfs::locks::MAX_LOCKS {
        store
            .add_lfs_lock(&format!("{i}"), "alice", 1)
            .unwrap()
            .unwrap();
    }
    let before = snapshot(&db);
    let (status, answer) = lock(&store, "one.more", ALICE);
    assert_eq!(status, 403);
    assert_eq!(
        answer["message"],
        "this repository holds 10000 locks, the most it may: unlock some first"
    );
    assert_eq!(snapshot(&db), before);
}
