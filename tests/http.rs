//! The HTTP dispatch without a runtime: which service answers a request, and the refusals
//! that come before one runs, as the host will send them.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::io::Write;

use common::*;
use git_on_durable_objects::access::Visibility;
use git_on_durable_objects::http::backend::{self, Dispatch, Method};
use git_on_durable_objects::http::reply::{Body, Reply};
use git_on_durable_objects::http::route::{self, Api, Endpoint};
use git_on_durable_objects::limits::OverLimit;
use git_on_durable_objects::protocol::BadRequest;
use git_on_durable_objects::store::Store;
use git_on_durable_objects::upload_pack::Answer;

fn dispatch(
    store: &Store<Db>,
    method: Method,
    endpoint: Endpoint,
    service: Option<&str>,
) -> Dispatch {
    let asked = backend::Asked {
        method,
        endpoint: &endpoint,
        service,
    };
    let content_type = match endpoint {
        Endpoint::ReceivePack => "application/x-git-receive-pack-request",
        Endpoint::UploadPack => "application/x-git-upload-pack-request",
        _ => "application/json; charset=utf-8",
    };
    let headers = backend::Headers {
        range: None,
        content_type: Some(content_type),
        git_protocol: None,
    };
    backend::dispatch(store, asked, headers, Visibility::Public).unwrap()
}

fn reply(dispatch: Dispatch) -> Reply {
    match dispatch {
        Dispatch::Reply(reply) => reply,
        other => panic!("a reply, not {other:?}"),
    }
}

fn text(reply: &Reply) -> String {
    match &reply.body {
        Body::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        other => panic!("bytes, not {other:?}"),
    }
}

fn pushed() -> Store<Db> {
    let repo = history_repo();
    let (store, _db) = store(4096);
    let (lines, _) = push_all(&store, &repo, "report-status", 65536);
    assert_eq!(lines[0], "unpack ok");
    store
}

#[test]
fn services_and_refusals_are_dispatched_as_git_http_backend_does() {
    let (empty, _db) = store(4096);
    let get = |store: &Store<Db>, endpoint, service| {
        reply(dispatch(store, Method::Get, endpoint, service))
    };
    // A push may create a repository; a fetch needs one.
    let advert = get(&empty, Endpoint::InfoRefs, Some("git-receive-pack"));
    assert_eq!(
        (advert.status, advert.content_type),
        (200, "application/x-git-receive-pack-advertisement")
    );
    let missing = get(&empty, Endpoint::InfoRefs, Some("git-upload-pack"));
    assert_eq!(
        (missing.status, text(&missing)),
        (404, "repository not found\n".into())
    );
    let store = pushed();
    let advert = get(&store, Endpoint::InfoRefs, Some("git-upload-pack"));
    assert_eq!(
        (advert.status, advert.content_type),
        (200, "application/x-git-upload-pack-advertisement")
    );
    // Without a known service, info/refs is the dumb file.
    for service in [None, Some("git-other")] {
        let dumb = get(&store, Endpoint::InfoRefs, service);
        assert_eq!((dumb.status, dumb.content_type), (200, "text/plain"));
    }
    assert_eq!(
        dispatch(&store, Method::Post, Endpoint::ReceivePack, None),
        Dispatch::ReceivePack
    );
    assert_eq!(
        dispatch(&store, Method::Post, Endpoint::UploadPack, None),
        Dispatch::UploadPack
    );
    let get_post = get(&store, Endpoint::UploadPack, None);
    assert_eq!(
        (get_post.status, text(&get_post)),
        (405, "use POST\n".into())
    );
    for method in [Method::Get, Method::Put, Method::Patch, Method::Delete] {
        assert_eq!(
            dispatch(&store, method, Endpoint::Api(Api::Settings), None),
            Dispatch::Api(Api::Settings)
        );
    }
    for (method, endpoint) in [
        (Method::Other, Endpoint::InfoRefs),
        (Method::Post, Endpoint::Head),
    ] {
        let refused = reply(dispatch(&store, method, endpoint, None));
        assert_eq!(
            (refused.status, text(&refused)),
            (405, "method not allowed\n".into())
        );
    }
}

#[test]
fn a_body_of_another_type_is_refused_with_415() {
    let (store, _db) = store(4096);
    let refused = |method, endpoint: Endpoint, content_type| {
        let asked = backend::Asked {
            method,
            endpoint: &endpoint,
            service: None,
        };
        let headers = backend::Headers {
            range: None,
            content_type,
            git_protocol: None,
        };
        match backend::dispatch(&store, asked, headers, Visibility::Public).unwrap() {
            Dispatch::Reply(reply) => (reply.status, text(&reply)),
            other => panic!("a refusal, not {other:?}"),
        }
    };
    // A form's or plain text's type is what a web page may send without a preflight.
    assert_eq!(
        refused(Method::Post, Endpoint::ReceivePack, Some("text/plain")),
        (
            415,
            "unsupported media type \"text/plain\": expected application/x-git-receive-pack-request\n".into()
        )
    );
    assert_eq!(refused(Method::Post, Endpoint::UploadPack, None).0, 415);
    let api = refused(
        Method::Post,
        Endpoint::Api(Api::Tokens),
        Some("application/x-www-form-urlencoded"),
    );
    assert_eq!(
        api,
        (
            415,
            "{\"error\":\"unsupported media type \\\"application/x-www-form-urlencoded\\\": expected application/json\"}\n".into()
        )
    );
    assert_eq!(
        refused(Method::Patch, Endpoint::Api(Api::Settings), None).0,
        415
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn upload_pack_bodies_are_gunzipped_parsed_and_checked_in_that_order() {
    let store = pushed();
    let main = store
        .ref_value("refs/heads/main")
        .unwrap()
        .unwrap()
        .to_string();
    let body = upload_request(&[main], "side-band-64k ofs-delta", &[], &[], true);
    let refused = |store: &Store<Db>, body: Vec<u8>, gzipped| match backend::upload_pack(
        store,
        body,
        gzipped,
        None,
        &Default::default(),
    ) {
        Ok(_) => panic!("refused"),
        Err(reply) => (reply.status, text(&reply)),
    };
    assert_eq!(
        refused(&store, body.clone(), true),
        (400, "request body is not valid gzip\n".into())
    );
    assert_eq!(
        refused(&store, gzip(b"zzzz"), true),
        (400, "malformed pkt-line length \"zzzz\"\n".into())
    );
    let (empty, _db) = common::store(4096);
    assert_eq!(
        refused(&empty, gzip(&body), true),
        (404, "repository not found\n".into())
    );
    for (bytes, gzipped) in [(gzip(&body), true), (body, false)] {
        match backend::upload_pack(&store, bytes, gzipped, None, &Default::default()) {
            Ok(Answer::Pack(negotiation, _)) => assert_eq!(negotiation, b"0008NAK\n"),
            _ => panic!("a pack"),
        }
    }
}

#[test]
fn a_push_is_answered_with_its_report_or_refused_with_400_or_413() {
    let ok = backend::receive_pack_reply(Ok(b"0000".to_vec()));
    assert_eq!(
        (ok.status, ok.content_type, text(&ok)),
        (200, "application/x-git-receive-pack-result", "0000".into())
    );
    let bad = backend::receive_pack_reply(Err(BadRequest::LateCapabilities));
    assert_eq!(
        (bad.status, text(&bad)),
        (400, "capabilities after the first command\n".into())
    );
    // Over a limit: 413, the request is too large.
    let long = backend::receive_pack_reply(Err(BadRequest::CommandsTooLong(65536)));
    assert_eq!(long.status, 413);
    let over = OverLimit {
        what: "too many refs".into(),
        limit: 2,
        var: "MAX_PUSH_REFS",
    };
    let over = backend::receive_pack_reply(Err(BadRequest::OverLimit(over)));
    assert_eq!(over.status, 413);
}

#[test]
fn a_path_that_is_not_a_git_endpoint_is_a_404_that_says_why() {
    let not_found = Reply::from(route::parse("/a/b.git/info/other").unwrap_err());
    assert_eq!(
        (not_found.status, text(&not_found)),
        (
            404,
            "not found: /a/b.git/info/other is not a git endpoint (expected /<owner>/<repo>.git/info/refs and the like)\n".into()
        )
    );
    let bad_name = Reply::from(route::parse("/a/b c/info/refs").unwrap_err());
    assert_eq!(
        (bad_name.status, text(&bad_name)),
        (
            404,
            "invalid repository name: use letters, digits, '.', '_' and '-'\n".into()
        )
    );
}
