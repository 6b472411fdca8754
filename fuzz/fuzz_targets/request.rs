//! Whole requests through the repository's dispatch, as the host runs them (route, access,
//! dispatch, then the dumb reads, upload-pack, receive-pack, the JSON API or Git LFS (its
//! batch, locks and verify, with grants and presigned URLs signed), with every
//! streamed body read to its end), over a native store holding a real repository (branches,
//! tags, a merge; public, or private with a protected branch). Whatever the method, path,
//! query, headers and body, nothing panics.
//!
//! The input: a byte choosing the method, the grant and the repository; then up to five
//! lines (path and query, Range, Content-Type, Git-Protocol, Authorization); then the body.
#![no_main]

#[path = "../../tests/common/mod.rs"]
#[allow(dead_code, unused_imports)]
mod common;

use git_on_durable_objects::access::{credential, Grant, Visibility};
use git_on_durable_objects::browse::blob;
use git_on_durable_objects::http::api::{self, raw, read, Context};
use git_on_durable_objects::http::pages;
use git_on_durable_objects::http::backend::{self, Asked, Dispatch, Headers, Method};
use git_on_durable_objects::http::reply::{Body, Reply};
use git_on_durable_objects::http::route::{self, query_value};
use git_on_durable_objects::lfs::{self, batch::Signer, locks::Caller, presign::Bucket};
use git_on_durable_objects::limits::Limits;
use git_on_durable_objects::maintenance::Host;
use git_on_durable_objects::store::Store;
use libfuzzer_sys::fuzz_target;

thread_local! {
    /// The two repositories, made once per process: each input may change them (a push,
    /// a setting), as requests change a live one.
    static STORES: [(Store<common::Db>, common::Db); 2] = [repository(false), repository(true)];
}

fn repository(private: bool) -> (Store<common::Db>, common::Db) {
    let repo = common::history_repo();
    let (store, db) = common::store(4096);
    common::push_all(&store, &repo, "report-status delete-refs ofs-delta", 65536);
    if private {
        let settings = br#"{"visibility": "private",
            "protect": [{"pattern": "refs/heads/main", "deny_force": true}]}"#;
        serve_api(
            &store,
            Method::Patch,
            &route::Api::Settings,
            settings,
            "",
            None,
        );
    }
    (store, db)
}

const METHODS: [Method; 7] = [
    Method::Get,
    Method::Head,
    Method::Post,
    Method::Put,
    Method::Patch,
    Method::Delete,
    Method::Other,
];

fn serve_api(
    store: &Store<common::Db>,
    method: Method,
    endpoint: &route::Api,
    body: &[u8],
    query: &str,
    range: Option<&str>,
) -> Reply {
    let context = Context {
        now: 1_700_000_000,
        random: [7; 40],
        host: Host {
            now_ms: &|| 1_700_000_000_000,
            memory: &|| None,
        },
        grace: 0,
        repo: "o/r",
        mirror_interval: 60,
        base_url: "https://git.example",
    };
    let request = api::Request {
        method,
        api: endpoint,
        body,
        query: read::Query {
            query,
            private: false,
        },
        conditions: raw::Conditions {
            range,
            if_none_match: None,
        },
    };
    api::serve(store, &request, &context).unwrap_or_else(|e| Reply::from(e))
}

/// Reads a reply's body to its end, as the host streams it.
fn drain(store: &Store<common::Db>, reply: Reply) {
    match reply.body {
        Body::Bytes(_) => {}
        Body::Chunks { pack, file, .. } => {
            common::stored_file(store, pack, file);
        }
        Body::Blob {
            id,
            size,
            start,
            end,
        } => {
            if let Ok(pieces) = blob::pieces(store, &id, size, start..end) {
                pieces.for_each(drop);
            }
        }
    }
}

fn one(store: &Store<common::Db>, method: Method, grant: Grant, data: &[u8]) {
    let mut lines = data.splitn(6, |&b| b == b'\n');
    let mut line = || {
        lines
            .next()
            .map(|l| String::from_utf8_lossy(l).into_owned())
    };
    let target = line().unwrap_or_default();
    let (range, content_type, git_protocol, authorization) = (line(), line(), line(), line());
    let body = lines.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let Ok(route) = route::parse(path) else {
        return;
    };
    let service = query_value(query, "service").map(|v| String::from_utf8_lossy(&v).into_owned());
    let asked = Asked {
        method,
        endpoint: &route.endpoint,
        service: service.as_deref(),
    };
    let credential = credential(authorization.as_deref());
    let visibility = store
        .settings()
        .map_or(Visibility::Public, |s| s.visibility);
    let now = 1_700_000_000;
    match backend::authorize(store, asked, grant, credential.as_deref(), visibility, now) {
        Ok(None) => {}
        _ => return,
    }
    let headers = Headers {
        range: range.as_deref(),
        content_type: content_type.as_deref(),
        git_protocol: git_protocol.as_deref(),
    };
    let limits = Limits {
        object_bytes: 1 << 20,
        ..Limits::default()
    };
    match backend::dispatch(store, asked, headers, visibility) {
        Ok(Dispatch::Reply(reply)) => drain(store, reply),
        Ok(Dispatch::ReceivePack) => {
            let _ = common::run_push_within(store, body, 4096, &limits);
        }
        Ok(Dispatch::UploadPack) => {
            let gzipped = body.starts_with(&[0x1f, 0x8b]);
            if let Ok(answer) = backend::upload_pack(
                store,
                body.to_vec(),
                gzipped,
                git_protocol.as_deref(),
                &limits,
            ) {
                common::answer_body(answer);
            }
        }
        // The host answers these two itself: it reads the body as here, then fetches.
        Ok(Dispatch::Api(route::Api::Import)) if method == Method::Post => {
            if let Ok(asked) = api::import::parse(body, 1) {
                if let Ok(None) = api::import::refusal(store) {
                    let _ = api::import::begin(store, &asked);
                }
            }
        }
        Ok(Dispatch::Api(route::Api::Fork)) if method == Method::Post => {
            let _ = api::import::parse_fork(body, &route.repo);
        }
        Ok(Dispatch::Api(endpoint)) => {
            let reply = serve_api(store, method, &endpoint, body, query, range.as_deref());
            drain(store, reply);
        }
        Ok(Dispatch::Page(page)) => {
            let request = pages::Request {
                page: &page,
                repo: &route.repo,
                origin: "https://git.example",
                query: read::Query {
                    query,
                    private: visibility == Visibility::Private,
                },
                if_none_match: range.as_deref(),
            };
            if let Ok(reply) = pages::serve(store, &request) {
                drain(store, reply);
            }
        }
        Ok(Dispatch::Lfs(endpoint)) => {
            let request = LfsRequest {
                method,
                endpoint: &endpoint,
                repo: &route.repo,
                body,
                query,
                credential: credential.as_deref(),
                admin: grant == Grant::Admin,
            };
            serve_lfs(store, &request);
        }
        Err(_) => {}
    }
}

/// An LFS request as the fuzz target read it.
struct LfsRequest<'a> {
    method: Method,
    endpoint: &'a route::Lfs,
    repo: &'a str,
    body: &'a [u8],
    query: &'a str,
    credential: Option<&'a str>,
    admin: bool,
}

/// Serves an LFS request as the repository's object does: a verify's body and grant
/// checked, anything else through `lfs::serve`, with transfers presigned when the body's
/// length is odd.
fn serve_lfs(store: &Store<common::Db>, asked: &LfsRequest) {
    const KEY: &[u8] = b"fuzz-lfs-secret-of-thirty-two-bytes";
    let now = 1_700_000_000;
    if *asked.endpoint == route::Lfs::Verify {
        if let Ok(verify) = lfs::parse_verify(asked.body) {
            if lfs::check_verify_grant(KEY, asked.repo, &verify, asked.credential, now).is_ok() {
                let _ = store.record_lfs(&verify.oid, verify.size, now);
            }
        }
        return;
    }
    let bucket = Bucket::r2("id", "secret", "account", "git-lfs");
    let request = lfs::Request {
        method: asked.method,
        lfs: asked.endpoint,
        body: asked.body,
        query: asked.query,
        caller: Caller {
            owner: asked.credential.unwrap_or("anonymous"),
            admin: asked.admin,
        },
        write_denied: None,
        signer: Some(Signer {
            key: KEY,
            repo: asked.repo,
            base: "https://h/o/r.git/info/lfs",
            now,
            max_size: 1 << 20,
            bucket: (asked.body.len() % 2 == 1).then_some(&bucket),
            lifetime: 3600,
        }),
        now,
    };
    let _ = lfs::serve(store, &request);
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let method = METHODS[usize::from(choice & 7) % METHODS.len()];
    let grant = match (choice >> 3) & 3 {
        0 => Grant::Admin,
        1 => Grant::OpenPush,
        _ => Grant::Nothing,
    };
    STORES.with(|stores| {
        let (store, _) = &stores[usize::from(choice >> 7)];
        one(store, method, grant, rest);
    });
});
