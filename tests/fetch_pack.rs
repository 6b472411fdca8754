//! The import client (fetch_pack) against git's own `upload-pack`, in protocol v2 and v0, and
//! against ours: every ref of the source arrives in a new repository on the real store
//! schema, HEAD's branch is known, and an answer cut short leaves the repository as it was.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use git_on_durable_objects::fetch_pack::{self, Advertised, Choice, Demux, Plan, Protocol};
use git_on_durable_objects::limits::Limits;
use git_on_durable_objects::receive_pack::ReceivePack;
use git_on_durable_objects::store::Store;
use git_on_durable_objects::upload_pack;

/// A server's answers: to the advertisement (None) or to a POST of a body.
type Server<'a> = &'a dyn Fn(Option<&[u8]>) -> Vec<u8>;

/// git's own upload-pack on `repo`, as git http-backend runs it, speaking `protocol`.
fn git_server<'r>(repo: &'r Repo, protocol: &str) -> impl Fn(Option<&[u8]>) -> Vec<u8> + 'r {
    let protocol = protocol.to_string();
    move |post| {
        let env = [("GIT_PROTOCOL", protocol.as_str())];
        match post {
            None => repo.git_env(
                &env,
                &["upload-pack", "--stateless-rpc", "--advertise-refs", "."],
                b"",
            ),
            Some(body) => repo.git_env(&env, &["upload-pack", "--stateless-rpc", "."], body),
        }
    }
}

/// The plan for making the refs of `store` those of `server`.
fn plan(server: Server, store: &Store<Db>) -> (Protocol, Plan) {
    let ours: Vec<_> = store
        .refs()
        .unwrap()
        .into_iter()
        .map(|r| (r.name, r.id))
        .collect();
    let advertised = fetch_pack::parse_advertisement(&server(None), 1000).unwrap();
    let (protocol, listing) = match advertised {
        Advertised::V0(listing) => (Protocol::V0, listing),
        Advertised::V2 { unborn } => {
            let answer = server(Some(&fetch_pack::ls_refs_request(unborn)));
            (
                Protocol::V2,
                fetch_pack::parse_ls_refs(&answer, 1000).unwrap(),
            )
        }
    };
    (protocol, Plan::new(listing, Choice::All, &ours, 1000))
}

/// Fetches from `server` into `store` as the host does, the answer fed in pieces and cut
/// after `keep` bytes.
fn import(server: Server, store: &Store<Db>, keep: usize) -> (Plan, Result<(), String>) {
    let (protocol, plan) = plan(server, store);
    let mut push = ReceivePack::new(store, &Limits::default());
    push.feed(&plan.commands()).unwrap();
    if plan.wants.is_empty() {
        return (plan, push.conclude());
    }
    let answer = server(Some(&plan.fetch_request(protocol)));
    let mut demux = Demux::new(protocol);
    for piece in answer[..keep.min(answer.len())].chunks(7000) {
        push.feed(&demux.feed(piece).unwrap()).unwrap();
    }
    if let Err(e) = demux.finish() {
        push.abort().unwrap();
        return (plan, Err(e.to_string()));
    }
    (plan, push.conclude())
}

fn stored_refs(store: &Store<Db>) -> Vec<(String, String)> {
    let refs = store.refs().unwrap();
    refs.into_iter()
        .map(|r| (r.name, r.id.to_string()))
        .collect()
}

fn imports_every_ref(server: Server, source: &Repo) {
    let (store, _db) = store(4096);
    let (plan, concluded) = import(server, &store, usize::MAX);
    concluded.unwrap();
    assert_eq!(stored_refs(&store), source.refs());
    assert_eq!(plan.head.as_deref(), Some("refs/heads/main"));
}

#[test]
fn imports_from_git_in_v2_and_v0() {
    let source = history_repo();
    imports_every_ref(&git_server(&source, "version=2"), &source);
    imports_every_ref(&git_server(&source, ""), &source);
}

#[test]
fn imports_from_ours() {
    let source = history_repo();
    let (ours, _db) = store(4096);
    push_all(&ours, &source, "report-status", 65536);
    let server = |post: Option<&[u8]>| match post {
        None => upload_pack::advertise_v2(),
        Some(body) => answer_body(upload_pack::serve_v2(&ours, body, &Limits::default()).unwrap()),
    };
    imports_every_ref(&server, &source);
}

#[test]
fn fetches_again_what_changed_as_a_mirror_does() {
    let source = history_repo();
    let (store, _db) = store(4096);
    let server = git_server(&source, "version=2");
    import(&server, &store, usize::MAX).1.unwrap();
    // New commits, a forced move backwards, a new tag, a deleted branch.
    source.write("new.txt", b"new\n");
    source.commit("after the import");
    source.git(&["branch", "-f", "topic", "main~5"]);
    source.git(&["tag", "v2.0"]);
    source.git(&["tag", "-d", "light"]);
    let (plan, concluded) = import(&server, &store, usize::MAX);
    concluded.unwrap();
    assert_eq!(stored_refs(&store), source.refs());
    assert_eq!(plan.updates.len(), 4, "{:?}", plan.updates);
    // Nothing changed: nothing to do.
    let (plan, concluded) = import(&server, &store, usize::MAX);
    concluded.unwrap();
    assert!(plan.updates.is_empty());
    // Only a move to a commit we have: the pack holds nothing.
    source.git(&["branch", "-f", "topic", "main~7"]);
    let (plan, concluded) = import(&server, &store, usize::MAX);
    concluded.unwrap();
    assert_eq!(plan.wants.len(), 1);
    assert_eq!(stored_refs(&store), source.refs());
    // Only a deletion: no fetch at all.
    source.git(&["tag", "-d", "v2.0"]);
    let (plan, concluded) = import(&server, &store, usize::MAX);
    concluded.unwrap();
    assert!(plan.wants.is_empty());
    assert_eq!(stored_refs(&store), source.refs());
}

#[test]
fn a_cut_answer_leaves_the_repository_as_it_was() {
    let source = history_repo();
    let (store, db) = store(4096);
    let before = snapshot(&db);
    let server = git_server(&source, "version=2");
    let (_, concluded) = import(&server, &store, 3000);
    assert!(concluded.unwrap_err().contains("early EOF"));
    assert_eq!(snapshot(&db), before);
}
