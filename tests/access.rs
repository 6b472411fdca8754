//! Access control over the real store schema on SQLite: the Worker's and the repository's
//! halves of the decision, the token and settings endpoints, and protected refs refusing
//! pushes in git's words while taking fast-forwards.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use git_on_durable_objects::access::{Grant, ServerAccess};
use git_on_durable_objects::http::api::{self, Context};
use git_on_durable_objects::http::backend::{self, Asked, Dispatch, Method};
use git_on_durable_objects::http::reply::{Body, Caching, Reply};
use git_on_durable_objects::http::route::{Api, Endpoint};
use git_on_durable_objects::maintenance::Host;
use git_on_durable_objects::store::{PackFile, Store};
use serde_json::Value as Json;

const ADMIN: &str = "admin-s3cret";

fn body(reply: &Reply) -> String {
    match &reply.body {
        Body::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        other => panic!("bytes, not {other:?}"),
    }
}

fn json(reply: &Reply) -> Json {
    assert_eq!(reply.content_type, "application/json");
    serde_json::from_str(&body(reply)).unwrap()
}

fn call(store: &Store<Db>, method: Method, endpoint: Api, request: &str, now: i64) -> Reply {
    let now_ms = move || now * 1000;
    let context = Context {
        now,
        // Tokens made at different times differ.
        random: [now as u8; 40],
        host: Host {
            now_ms: &now_ms,
            memory: &|| None,
        },
        grace: 0,
        repo: "o/r",
        mirror_interval: 60,
        base_url: "https://git.example",
    };
    let request = api::Request {
        method,
        api: &endpoint,
        body: request.as_bytes(),
        query: Default::default(),
        conditions: Default::default(),
    };
    api::serve(store, &request, &context).unwrap()
}

/// A new token of `scope` made by the admin: (id, token).
fn make_token(store: &Store<Db>, scope: &str, now: i64, extra: &str) -> (String, String) {
    let request = format!("{{\"scope\": \"{scope}\"{extra}}}");
    let made = call(store, Method::Post, Api::Tokens, &request, now);
    assert_eq!(made.status, 201, "{}", body(&made));
    let made = json(&made);
    let field = |name: &str| made[name].as_str().unwrap().to_string();
    (field("id"), field("token"))
}

/// The repository's verdict: None, or (status, body, WWW-Authenticate).
fn verdict(
    store: &Store<Db>,
    endpoint: Endpoint,
    service: Option<&str>,
    credential: Option<&str>,
    now: i64,
) -> Option<(u16, String, Option<String>)> {
    verdict_on(store, Method::Get, endpoint, service, credential, now)
}

/// [`verdict`] on a request of `method`.
fn verdict_on(
    store: &Store<Db>,
    method: Method,
    endpoint: Endpoint,
    service: Option<&str>,
    credential: Option<&str>,
    now: i64,
) -> Option<(u16, String, Option<String>)> {
    let asked = Asked {
        method,
        endpoint: &endpoint,
        service,
    };
    let visibility = store.settings().unwrap().visibility;
    let reply =
        backend::authorize(store, asked, Grant::Nothing, credential, visibility, now).unwrap()?;
    let challenge = reply
        .headers
        .iter()
        .find(|(name, _)| *name == "WWW-Authenticate")
        .map(|(_, value)| value.clone());
    Some((reply.status, body(&reply), challenge))
}

#[test]
fn the_worker_refuses_what_no_repository_could_allow() {
    let push = Asked {
        method: Method::Post,
        endpoint: &Endpoint::ReceivePack,
        service: None,
    };
    let closed = ServerAccess::default();
    let refusal = backend::admit(&closed, push, None).unwrap_err();
    assert_eq!(refusal.status, 403);
    assert_eq!(
        body(&refusal),
        "pushing is disabled: this server has no admin token. Set one with `npx wrangler secret put ADMIN_TOKEN`, or let anyone push with ANONYMOUS_PUSH = \"true\" under [vars] in wrangler.toml\n"
    );
    let server = ServerAccess {
        admin_token: Some(ADMIN.into()),
        anonymous_push: false,
    };
    let anonymous = backend::admit(&server, push, None).unwrap_err();
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.headers,
        vec![(
            "WWW-Authenticate",
            "Basic realm=\"git-on-durable-objects\"".to_string()
        )]
    );
    assert_eq!(backend::admit(&server, push, Some(ADMIN)), Ok(Grant::Admin));
    assert_eq!(
        backend::admit(&server, push, Some("other")),
        Ok(Grant::Nothing)
    );
    let tokens = Asked {
        method: Method::Get,
        endpoint: &Endpoint::Api(Api::Tokens),
        service: None,
    };
    let anonymous = backend::admit(&server, tokens, None).unwrap_err();
    assert_eq!(
        (anonymous.status, json(&anonymous)["error"].as_str().unwrap()),
        (401, "authentication required: send a token as the password (HTTP Basic) or as a Bearer token")
    );
    // Whether another credential is a token of the repository (403) or not (401) is the
    // repository's to say.
    assert_eq!(
        backend::admit(&server, tokens, Some("other")),
        Ok(Grant::Nothing)
    );
    let clone = Asked {
        method: Method::Get,
        endpoint: &Endpoint::InfoRefs,
        service: Some("git-upload-pack"),
    };
    assert_eq!(backend::admit(&server, clone, None), Ok(Grant::Nothing));
}

#[test]
fn tokens_are_made_listed_used_and_revoked_through_the_api() {
    let (store, _db) = store(4096);
    let refused = call(&store, Method::Post, Api::Tokens, r#"{"scope":"read"}"#, 0);
    assert_eq!(
        (refused.status, json(&refused)["error"].as_str()),
        (404, Some("repository not found"))
    );
    let created = call(&store, Method::Put, Api::Repo, "", 0);
    assert_eq!(created.status, 201);
    assert_eq!(json(&created)["head"], "refs/heads/main");
    assert_eq!(call(&store, Method::Put, Api::Repo, "", 0).status, 200);

    let now = 1_800_000_000;
    let (write_id, write) = make_token(&store, "write", now, "");
    let (_, read) = make_token(&store, "read", now + 1, ", \"expires_in\": 60");
    let push_advert = |credential, at| {
        verdict(
            &store,
            Endpoint::InfoRefs,
            Some("git-receive-pack"),
            credential,
            at,
        )
    };
    assert_eq!(push_advert(Some(write.as_str()), now), None);
    let read_only = push_advert(Some(read.as_str()), now).unwrap();
    assert_eq!(
        (read_only.0, read_only.1.as_str()),
        (
            403,
            "this token can only read: pushing needs a write token\n"
        )
    );
    assert_eq!(
        verdict(&store, Endpoint::Head, None, Some(&read), now + 60),
        None
    );
    let expired = verdict(&store, Endpoint::Head, None, Some(&read), now + 61).unwrap();
    assert_eq!(
        expired,
        (
            401,
            "invalid token: it is unknown, revoked or expired\n".into(),
            Some("Basic realm=\"git-on-durable-objects\"".into())
        )
    );
    let anonymous = push_advert(None, now).unwrap();
    assert_eq!(anonymous.0, 401);

    let listed = json(&call(&store, Method::Get, Api::Tokens, "", now));
    let listed = listed["tokens"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["id"], write_id.as_str());
    assert_eq!(listed[0]["scope"], "write");
    assert_eq!(listed[0]["expires"], Json::Null);
    assert_eq!(listed[1]["expires"], "2027-01-15T08:01:01Z");
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains(&write[8..]) && !text.contains(&read[8..]));

    // Expired tokens are dropped when another is made, and stop counting toward the limit.
    let (later_id, _) = make_token(&store, "read", now + 61, "");
    let listed = json(&call(&store, Method::Get, Api::Tokens, "", now + 61));
    let ids: Vec<&str> = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [write_id.as_str(), later_id.as_str()]);
    let revoke = Api::Token(write_id.clone());
    assert_eq!(
        call(&store, Method::Delete, revoke.clone(), "", now).status,
        204
    );
    assert_eq!(push_advert(Some(write.as_str()), now).unwrap().0, 401);
    assert_eq!(call(&store, Method::Delete, revoke, "", now).status, 404);
    let longest = r#"{"scope":"read","expires_in":3153600000}"#;
    assert_eq!(
        call(&store, Method::Post, Api::Tokens, longest, now).status,
        201
    );
    for bad in [
        r#"{"scope":"admin"}"#,
        r#"{"scope":"read","expires_in":0}"#,
        r#"{"scope":"read","expires_in":3153600001}"#,
        r#"{"scope":"read","colour":1}"#,
        "not json",
    ] {
        let refused = call(&store, Method::Post, Api::Tokens, bad, now);
        assert_eq!(refused.status, 400, "{bad}: {}", body(&refused));
        assert!(json(&refused)["error"]
            .as_str()
            .unwrap()
            .starts_with("bad token request: "));
    }
    // A token of another repository is unknown here.
    let (other, _db) = common::store(4096);
    call(&other, Method::Put, Api::Repo, "", now);
    let (_, elsewhere) = make_token(&other, "write", now + 100, "");
    assert_eq!(
        verdict(&store, Endpoint::Head, None, Some(&elsewhere), now)
            .unwrap()
            .0,
        401
    );
}

#[test]
fn a_private_repository_answers_anonymous_reads_with_401_and_nothing_else() {
    let repo = history_repo();
    let (store, _db) = store(4096);
    push_all(&store, &repo, "report-status", 65536);
    let now = 1_800_000_000;
    let (_, read) = make_token(&store, "read", now, "");
    assert_eq!(verdict(&store, Endpoint::InfoRefs, None, None, now), None);
    let private = call(
        &store,
        Method::Patch,
        Api::Settings,
        r#"{"visibility":"private"}"#,
        now,
    );
    assert_eq!(
        json(&private),
        serde_json::json!({"visibility": "private", "default_branch": "main", "protect": []})
    );
    for (endpoint, service) in [
        (Endpoint::InfoRefs, None),
        (Endpoint::InfoRefs, Some("git-upload-pack")),
        (Endpoint::Head, None),
        (Endpoint::UploadPack, None),
        (Endpoint::InfoPacks, None),
        (Endpoint::Api(Api::Settings), None),
    ] {
        let (status, text, challenge) =
            verdict(&store, endpoint.clone(), service, None, now).unwrap();
        assert_eq!(status, 401, "{endpoint:?}");
        assert!(!text.contains("refs/"), "{text}");
        assert!(challenge.is_some());
        assert_eq!(verdict(&store, endpoint, service, Some(&read), now), None);
    }
    // Its content-addressed files may be cached by the client only.
    let pack = Endpoint::PackFile(store.packs().unwrap()[0].name.clone(), PackFile::Idx);
    let caching = |store: &Store<Db>| {
        let asked = Asked {
            method: Method::Get,
            endpoint: &pack,
            service: None,
        };
        let visibility = store.settings().unwrap().visibility;
        match backend::dispatch(store, asked, Default::default(), visibility).unwrap() {
            Dispatch::Reply(reply) => reply.caching,
            other => panic!("a reply, not {other:?}"),
        }
    };
    assert_eq!(caching(&store), Caching::PrivateForever);
    call(
        &store,
        Method::Patch,
        Api::Settings,
        r#"{"visibility":"public"}"#,
        now,
    );
    assert_eq!(verdict(&store, Endpoint::Head, None, None, now), None);
    assert_eq!(caching(&store), Caching::Forever);
}

#[test]
fn what_each_request_needs() {
    let (store, _db) = store(4096);
    call(&store, Method::Put, Api::Repo, "", 0);
    let (_, write) = make_token(&store, "write", 0, "");
    let ask = |method, endpoint| verdict_on(&store, method, endpoint, None, Some(&write), 0);
    for (method, endpoint) in [
        (Method::Patch, Endpoint::Api(Api::Settings)),
        (Method::Get, Endpoint::Api(Api::Tokens)),
        (Method::Post, Endpoint::Api(Api::Tokens)),
        (
            Method::Delete,
            Endpoint::Api(Api::Token("0123456789abcdef".into())),
        ),
    ] {
        let refused = ask(method, endpoint.clone()).map(|(status, text, _)| (status, text));
        let expected = "{\"error\":\"only the admin token can manage tokens and settings\"}\n";
        assert_eq!(
            refused,
            Some((403, expected.into())),
            "{method:?} {endpoint:?}"
        );
    }
    for (method, endpoint) in [
        (Method::Get, Endpoint::Api(Api::Settings)),
        (Method::Put, Endpoint::Api(Api::Repo)),
        (Method::Post, Endpoint::ReceivePack),
        (Method::Post, Endpoint::UploadPack),
        (Method::Post, Endpoint::Api(Api::Maintenance)),
        (Method::Post, Endpoint::Api(Api::Purge)),
    ] {
        assert_eq!(
            ask(method, endpoint.clone()),
            None,
            "{method:?} {endpoint:?}"
        );
    }
    let (_, read) = make_token(&store, "read", 1, "");
    for endpoint in [Api::Maintenance, Api::Purge] {
        let refused = verdict_on(
            &store,
            Method::Post,
            Endpoint::Api(endpoint),
            None,
            Some(&read),
            0,
        );
        assert_eq!(refused.map(|v| v.0), Some(403));
    }
    let anonymous_put = verdict_on(&store, Method::Put, Endpoint::Api(Api::Repo), None, None, 0);
    assert_eq!(anonymous_put.map(|v| v.0), Some(401));
}

#[test]
fn settings_are_checked_and_the_default_branch_must_exist() {
    let repo = history_repo();
    let (store, _db) = store(4096);
    push_all(&store, &repo, "report-status", 65536);
    let patch = |request: &str| call(&store, Method::Patch, Api::Settings, request, 0);
    let missing = patch(r#"{"default_branch":"nope"}"#);
    assert_eq!(
        (missing.status, json(&missing)["error"].as_str().unwrap()),
        (
            400,
            "bad settings: default_branch refs/heads/nope does not exist"
        )
    );
    let moved = patch(r#"{"default_branch":"topic","protect":[{"pattern":"refs/heads/*"}]}"#);
    assert_eq!(json(&moved)["default_branch"], "topic");
    assert_eq!(json(&moved)["protect"][0]["deny_force"], true);
    assert_eq!(
        store.head_target().unwrap().as_deref(),
        Some("refs/heads/topic")
    );
    assert_eq!(patch(r#"{"protect":[{"pattern":"main"}]}"#).status, 400);
    assert_eq!(patch(r#"{"visibility":"hidden"}"#).status, 400);
    let shown = json(&call(&store, Method::Get, Api::Settings, "", 0));
    assert_eq!(shown["protect"][0]["pattern"], "refs/heads/*");
    assert_eq!(
        call(&store, Method::Delete, Api::Settings, "", 0).status,
        405
    );
    // The reads answer GET and HEAD only.
    let main = "main".to_string();
    let reads = [
        Api::Repo,
        Api::Refs,
        Api::Commits,
        Api::Commit(main.clone()),
        Api::Tree(main.clone()),
        Api::Compare(format!("{main}...{main}")),
        Api::Raw(format!("{main}/a.txt")),
    ];
    for api in reads {
        for method in [Method::Post, Method::Delete, Method::Patch] {
            let reply = call(&store, method, api.clone(), "", 0);
            assert_eq!(
                (reply.status, json(&reply)["error"].as_str()),
                (405, Some("method not allowed")),
                "{method:?} {api:?}"
            );
        }
    }
}

#[test]
fn protected_refs_refuse_force_pushes_and_deletion_in_git_words() {
    let repo = history_repo();
    let (store, _db) = store(4096);
    push_all(&store, &repo, "report-status", 65536);
    let main = repo.git(&["rev-parse", "main"]);
    let topic = repo.git(&["rev-parse", "topic"]);
    let protect = r#"{"protect":[
        {"pattern":"refs/heads/main","deny_force":true,"deny_delete":true},
        {"pattern":"refs/tags/*","deny_force":false,"deny_delete":true}]}"#;
    assert_eq!(
        call(&store, Method::Patch, Api::Settings, protect, 0).status,
        200
    );
    let push = |commands: &[(&str, &str, &str)], caps: &str, pack: &[u8]| {
        let commands: Vec<_> = commands
            .iter()
            .map(|(o, n, r)| (o.to_string(), n.to_string(), r.to_string()))
            .collect();
        report_lines(&run_push(&store, &push_body(&commands, caps, pack), 4096).unwrap())
    };
    // Back to topic: not a fast-forward. Deleting main, or a tag: prohibited.
    let tag = repo.git(&["rev-parse", "refs/tags/v1.0"]);
    assert_eq!(
        push(
            &[
                (&main, &topic, "refs/heads/main"),
                (&main, ZERO, "refs/heads/main"),
                (&tag, ZERO, "refs/tags/v1.0"),
                (&topic, &main, "refs/heads/topic"),
            ],
            "report-status delete-refs",
            &repo.pack(&[], &[])
        ),
        vec![
            "unpack ok",
            "ng refs/heads/main non-fast-forward",
            "ng refs/heads/main deletion prohibited",
            "ng refs/tags/v1.0 deletion prohibited",
            "ok refs/heads/topic",
        ]
    );
    assert_eq!(
        store
            .ref_value("refs/heads/main")
            .unwrap()
            .unwrap()
            .to_string(),
        main
    );
    // A fast-forward whose commits come in the same push is taken.
    repo.git(&["checkout", "-q", "main"]);
    repo.write("next.txt", b"next\n");
    let next = repo.commit("next");
    let pack = repo.pack(&[&next], &[&main]);
    assert_eq!(
        push(&[(&main, &next, "refs/heads/main")], "report-status", &pack),
        vec!["unpack ok", "ok refs/heads/main"]
    );
    // The same when the push's entries and commits went to rows, as a large push's do.
    repo.write("after.txt", b"after\n");
    let after = repo.commit("after");
    let command = (next.clone(), after.clone(), "refs/heads/main".to_string());
    let body = push_body(&[command], "report-status", &repo.pack(&[&after], &[&next]));
    assert_eq!(
        report_lines(&run_push_within(&store, &body, 4096, &holding(1)).unwrap()),
        vec!["unpack ok", "ok refs/heads/main"]
    );
    let main = next;
    let next = after;
    // As git, the fast-forward is judged from the old value the client names, before the
    // ref's value is: from a stale main, topic is no fast-forward (not a failed lock).
    assert_eq!(
        push(
            &[(&main, &topic, "refs/heads/main")],
            "report-status",
            &repo.pack(&[], &[])
        ),
        vec!["unpack ok", "ng refs/heads/main non-fast-forward"]
    );
    // Atomic: the refusal keeps its words, the rest fail with it.
    assert_eq!(
        push(
            &[
                (&next, &topic, "refs/heads/main"),
                (&main, &topic, "refs/heads/topic")
            ],
            "report-status atomic",
            &repo.pack(&[], &[])
        ),
        vec![
            "unpack ok",
            "ng refs/heads/main non-fast-forward",
            "ng refs/heads/topic atomic push failure",
        ]
    );
    // A tag protected from deletion only may be moved.
    assert_eq!(
        push(
            &[(&tag, &topic, "refs/tags/v1.0")],
            "report-status",
            &repo.pack(&[], &[])
        ),
        vec!["unpack ok", "ok refs/tags/v1.0"]
    );
    // A root commit with a `parent` line after its committer: git reads no parent there, so
    // it is no descendant of main, whatever the line names.
    let tree = repo.git(&["rev-parse", "main^{tree}"]);
    let crafted = format!(
        "tree {tree}\nauthor A <a@b> 1700000000 +0000\ncommitter A <a@b> 1700000000 +0000\n\
         parent {next}\n\nnot a fast-forward\n"
    );
    let root = repo.git_with(
        &["hash-object", "-t", "commit", "-w", "--stdin"],
        crafted.as_bytes(),
    );
    let root = String::from_utf8(root).unwrap().trim().to_string();
    assert_eq!(repo.git(&["rev-list", "--parents", "-1", &root]), root);
    assert_eq!(
        push(
            &[(&next, &root, "refs/heads/main")],
            "report-status",
            &repo.pack(&[&root], &[&next])
        ),
        vec!["unpack ok", "ng refs/heads/main non-fast-forward"]
    );
}

#[test]
fn the_summary_counts_what_is_stored_and_a_purge_reports_what_it_dropped() {
    let (store, _db) = store(4096);
    let repo = history_repo();
    push_all(&store, &repo, "report-status", 65536);
    let summary = json(&call(&store, Method::Get, Api::Repo, "", 100));
    assert_eq!(summary["head"], "refs/heads/main");
    assert_eq!(summary["refs"], repo.refs().len());
    assert_eq!(
        (summary["packs"].as_u64(), summary["loose"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(summary["bytes"].as_u64().unwrap() > 10_000);
    assert_eq!(summary["maintenance"]["last_run"], Json::Null);

    let tag = repo
        .refs()
        .into_iter()
        .find(|(name, _)| name == "refs/tags/v1.0")
        .unwrap();
    let body = push_body(
        &[(tag.1, ZERO.into(), tag.0)],
        "report-status delete-refs",
        &[],
    );
    run_push(&store, &body, 4096).unwrap();
    let purged = call(&store, Method::Post, Api::Purge, "", 1_795_489_199);
    assert_eq!(purged.status, 200);
    let purged = json(&purged);
    assert_eq!(purged["pruned"], 1, "the annotated tag object: {purged}");
    assert_eq!(purged["finished_at"], "2026-11-24T02:59:59Z");
    let summary = json(&call(&store, Method::Get, Api::Repo, "", 1_795_489_200));
    assert_eq!(summary["maintenance"]["last_run"]["pruned"], 1);
    assert_eq!(summary["maintenance"]["in_progress"], false);
    assert_eq!(summary["objects"], purged["objects"]);

    let started = call(&store, Method::Post, Api::Maintenance, "", 1_795_489_300);
    assert_eq!(
        (started.status, json(&started)["started"].as_bool()),
        (202, Some(true))
    );
    let summary = json(&call(&store, Method::Get, Api::Repo, "", 1_795_489_300));
    assert_eq!(summary["maintenance"]["in_progress"], true);
}
