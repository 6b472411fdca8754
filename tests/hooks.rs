//! Webhooks on the real store schema: a hook's ping, the `push` events a push queues in its
//! own transaction (GitHub's payload, checked against git), and what attempts make of a
//! delivery: retried with doubling waits, delivered on a 2xx, given up after a day.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use git_on_durable_objects::hooks::{self, deliver, Origin};
use git_on_durable_objects::limits::Limits;
use git_on_durable_objects::receive_pack::ReceivePack;
use git_on_durable_objects::store::sql::Sql;
use git_on_durable_objects::store::Store;
use serde_json::Value;

const NOW: i64 = 1_700_000_000;

/// The server's URL as the request that made the hooks named it.
const BASE: &str = "https://git.example:8443";

fn origin() -> Origin {
    Origin {
        repo: "alice/demo".into(),
        pusher: "admin".into(),
        now: NOW,
    }
}

/// Pushes `body`, announcing its events.
fn push(store: &Store<Db>, body: &[u8]) -> Vec<String> {
    let mut push = ReceivePack::new(store, &Limits::default()).announcing(origin());
    push.feed(body).unwrap();
    report_lines(&push.finish().unwrap())
}

/// The payloads due now, by event.
fn due(store: &Store<Db>, event: &str) -> Vec<Value> {
    let due = deliver::due(store, NOW + 1_000_000).unwrap();
    due.iter()
        .filter(|d| d.row.event == event)
        .map(|d| serde_json::from_str(&d.payload).unwrap())
        .collect()
}

fn hook(store: &Store<Db>, body: &str) -> Value {
    let random = [store.hooks().unwrap().len() as u8; 40];
    let reply = hooks::create(store, body.as_bytes(), &random, &origin(), BASE).unwrap();
    assert_eq!(reply.status, 201);
    let git_on_durable_objects::http::reply::Body::Bytes(bytes) = reply.body else {
        panic!("not bytes");
    };
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn a_push_queues_githubs_push_events() {
    let repo = history_repo();
    let (store, _db) = store(4096);
    let made = hook(&store, r#"{"url": "https://example.com/h", "secret": "s"}"#);
    assert_eq!(made["events"], serde_json::json!(["push"]));
    assert_eq!(made.get("secret"), None);
    assert_eq!(due(&store, "ping").len(), 1);
    let (lines, _) = push_all_announcing(&store, &repo);
    assert_eq!(lines[0], "unpack ok");
    let events = due(&store, "push");
    assert_eq!(events.len(), repo.refs().len());
    let main = events
        .iter()
        .find(|e| e["ref"] == "refs/heads/main")
        .unwrap();
    let tip = repo.git(&["rev-parse", "main"]);
    assert_eq!(main["after"], tip);
    assert_eq!(main["created"], true);
    assert_eq!(main["forced"], false);
    assert_eq!(main["head_commit"]["id"], tip);
    let repository = serde_json::json!({
        "name": "demo",
        "full_name": "alice/demo",
        "owner": { "login": "alice", "name": "alice", "username": "alice" },
        "private": false,
        "default_branch": "main",
        "html_url": "https://git.example:8443/alice/demo",
        "url": "https://git.example:8443/alice/demo",
        "clone_url": "https://git.example:8443/alice/demo.git",
    });
    assert_eq!(main["repository"], repository);
    // An annotated tag's event names the commit it tags, as GitHub's does.
    let tag = events
        .iter()
        .find(|e| e["ref"] == "refs/tags/v1.0")
        .unwrap();
    let tagged = repo.git(&["rev-parse", "v1.0^{commit}"]);
    assert_eq!(tag["head_commit"]["id"], tagged);
    assert_eq!(tag["commits"], serde_json::json!([]));
    // Up to 20 commits, oldest first, along the first parents, as git lists them.
    let listed: Vec<&str> = main["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let log = repo.git(&[
        "log",
        "--first-parent",
        "--reverse",
        "--format=%H",
        "-20",
        "main",
    ]);
    let first_parents: Vec<&str> = log.lines().collect();
    assert_eq!(listed, first_parents);
    let message = repo.git(&["log", "-1", "--format=%B", "main"]);
    assert_eq!(
        main["head_commit"]["message"].as_str().unwrap().trim_end(),
        message
    );

    // A forced move backwards, and a deletion.
    let back = repo.git(&["rev-parse", "main~3"]);
    let commands = [
        (tip.clone(), back.clone(), "refs/heads/main".to_string()),
        (
            repo.git(&["rev-parse", "topic"]),
            ZERO.to_string(),
            "refs/heads/topic".to_string(),
        ),
    ];
    // As git does, an empty pack comes with updates that need no object.
    let lines = push(
        &store,
        &push_body(&commands, "report-status", &raw_pack(&[])),
    );
    assert_eq!(
        lines,
        ["unpack ok", "ok refs/heads/main", "ok refs/heads/topic"]
    );
    let events = due(&store, "push");
    let forced = events.iter().find(|e| e["after"] == back).unwrap();
    assert_eq!(forced["forced"], true);
    let deleted = events.iter().find(|e| e["deleted"] == true).unwrap();
    assert_eq!(deleted["ref"], "refs/heads/topic");
    assert_eq!(deleted["head_commit"], Value::Null);
}

/// Pushes every branch and tag of `repo`, announcing.
fn push_all_announcing(store: &Store<Db>, repo: &Repo) -> (Vec<String>, Vec<u8>) {
    let commands: Vec<_> = repo
        .refs()
        .into_iter()
        .map(|(name, id)| (ZERO.to_string(), id, name))
        .collect();
    let pack = repo.pack(&["--all"], &[]);
    (
        push(store, &push_body(&commands, "report-status", &pack)),
        pack,
    )
}

#[test]
fn deliveries_are_retried_then_delivered_or_given_up() {
    let (store, _db) = store(4096);
    hook(&store, r#"{"url": "https://example.com/h", "secret": "s"}"#);
    let sending = deliver::due(&store, NOW).unwrap().pop().unwrap();
    let names: Vec<&str> = sending.headers.iter().map(|(n, _)| *n).collect();
    for name in ["X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256"] {
        assert!(names.contains(&name), "{name}");
    }
    // 10 s, then 20 s, then 40 s after each failure.
    let mut at = NOW;
    for wait in [10, 20, 40] {
        let row = deliver::due(&store, at).unwrap().pop().unwrap().row;
        deliver::attempted(&store, &row, at, Some(500), "down", 10).unwrap();
        assert!(deliver::due(&store, at + wait - 1).unwrap().is_empty());
        assert_eq!(store.next_delivery_at().unwrap(), Some(at + wait));
        at += wait;
    }
    let row = deliver::due(&store, at).unwrap().pop().unwrap().row;
    deliver::attempted(&store, &row, at, Some(204), "", 10).unwrap();
    assert_eq!(store.next_delivery_at().unwrap(), None);
    let kept = store.deliveries(&row.hook, 10).unwrap();
    assert_eq!(kept[0].state, "delivered");
    // Another, never taken: given up a day after it was queued.
    hook(&store, r#"{"url": "https://example.com/other"}"#);
    let mut tries = 0;
    while let Some(sending) = deliver::due(&store, i64::MAX).unwrap().pop() {
        let now = sending.row.next_at.unwrap();
        deliver::attempted(&store, &sending.row, now, None, "unreachable", 10).unwrap();
        tries += 1;
        assert!(tries < 100);
    }
    let hooks = store.hooks().unwrap();
    let last = store.deliveries(&hooks[1].id, 10).unwrap();
    assert_eq!(last[0].state, "failed");
    assert!(tries > 20, "{tries} tries in a day");
}

#[test]
fn an_event_is_kept_once_and_a_hook_waits_for_at_most_a_thousand() {
    let (store, db) = store(4096);
    let count = |table: &str| {
        let rows = db
            .exec(&format!("SELECT COUNT(*) FROM {table}"), vec![])
            .unwrap();
        rows[0][0].as_i64().unwrap()
    };
    let a = hook(
        &store,
        r#"{"url": "https://a.example/h", "events": ["import"]}"#,
    );
    hook(
        &store,
        r#"{"url": "https://b.example/h", "events": ["import"]}"#,
    );
    let event = |n: usize| {
        hooks::announce(&store, "import", n, &origin(), || {
            Ok(vec![serde_json::json!({}); n])
        })
    };
    event(1).unwrap();
    // Two pings, and one event for both hooks: its body once.
    assert_eq!((count("hook_events"), count("deliveries")), (3, 4));
    event(1_200).unwrap();
    let waiting = hooks::MAX_WAITING;
    for hook in store.hooks().unwrap() {
        assert_eq!(store.waiting_deliveries(&hook.id).unwrap(), waiting);
        // Its ping and the first event waited: 998 of the 1,200 found room.
        assert_eq!(hook.dropped, 202);
    }
    assert_eq!(count("hook_events"), waiting + 1);
    // Deleting a hook keeps the bodies the other one still sends.
    hooks::delete(&store, a["id"].as_str().unwrap()).unwrap();
    assert_eq!(
        (count("hook_events"), count("deliveries")),
        (waiting, waiting)
    );
    // Delivered, the last 100 are kept, with their bodies.
    while let Some(sending) = deliver::due(&store, NOW).unwrap().pop() {
        deliver::attempted(&store, &sending.row, NOW, Some(200), "", 10).unwrap();
    }
    assert_eq!((count("hook_events"), count("deliveries")), (100, 100));
}

#[test]
fn a_payload_carries_names_and_messages_cut_short() {
    let repo = Repo::new();
    let name = "n".repeat(20_000);
    let message = "m".repeat(1 << 20);
    let config = format!("user.name={name}");
    let commit = ["-c", &config, "commit", "-q", "--allow-empty", "-F", "-"];
    repo.git_with(&commit, message.as_bytes());
    let (store, _db) = store(4096);
    hook(&store, r#"{"url": "https://example.com/h"}"#);
    push_all_announcing(&store, &repo);
    let events = due(&store, "push");
    let head = &events[0]["head_commit"];
    assert_eq!(head["author"]["name"].as_str().unwrap().len(), 256);
    assert_eq!(head["message"].as_str().unwrap().len(), 8 << 10);
}

#[test]
fn a_push_of_large_commits_reads_and_lists_within_its_budgets() {
    let repo = Repo::new();
    let message = "m".repeat(1 << 20);
    for i in 0..40 {
        let commit = ["commit", "-q", "--allow-empty", "-F", "-"];
        repo.git_with(&commit, message.as_bytes());
        repo.git(&["branch", &format!("b{i:02}")]);
    }
    let (store, _db) = store(4096);
    hook(&store, r#"{"url": "https://example.com/h"}"#);
    push_all_announcing(&store, &repo);
    let waiting = store.due_deliveries(NOW + 1_000_000, 1_000).unwrap();
    let events: Vec<Value> = waiting
        .iter()
        .filter(|(row, _)| row.event == "push")
        .map(|(_, payload)| serde_json::from_str(payload).unwrap())
        .collect();
    assert_eq!(events.len(), 41);
    // 41 heads of 1 MiB each, most listing 20 of them: past 32 MiB read, heads by id alone.
    let total: usize = events.iter().map(|e| e.to_string().len()).sum();
    assert!(total < 1 << 20, "{total} bytes of payloads");
    let last = events.last().unwrap();
    let tip = repo.git(&["rev-parse", "main"]);
    assert_eq!(last["head_commit"], serde_json::json!({ "id": tip }));
}

#[test]
fn deliveries_kept_as_the_first_version_kept_them_are_made_anew() {
    let (_, db) = store(4096);
    for statement in [
        "DROP TABLE deliveries",
        "CREATE TABLE deliveries (id TEXT PRIMARY KEY, hook TEXT NOT NULL, \
         event TEXT NOT NULL, payload TEXT NOT NULL, created INTEGER NOT NULL, \
         next_at INTEGER, state TEXT NOT NULL)",
    ] {
        db.exec(statement, vec![]).unwrap();
    }
    let store = Store::with_chunk_size(db.clone(), 4096);
    store.open().unwrap();
    hook(&store, r#"{"url": "https://example.com/h"}"#);
    assert_eq!(due(&store, "ping").len(), 1);
}
