//! The import client (fetch_pack) against git's own `upload-pack`, in protocol v2 and v0, and
//! against ours: every ref of the source arrives in a new repository on the real store
//! schema, HEAD's branch is known, and an answer cut short leaves the repository as it was.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use git_on_durable_objects::fetch_pack::{self, Advertised, Choice, Demux, Plan, Protocol};
use git_on_durable_objects::format::object::ObjectId;
use git_on_durable_objects::http::api::import::{self, Asked, Mirror, Source};
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
    let ours: Vec<_> = store
        .refs()
        .unwrap()
        .into_iter()
        .map(|r| (r.name, r.id))
        .collect();
    let (protocol, plan) = plan(server, store);
    let asked = Asked {
        source: Source::Url {
            url: "https://git.example/source.git".into(),
            token: None,
        },
        choice: Choice::All,
        mirror: Some(Mirror { interval: 60 }),
        // A mirror's later fetches; the first comes into a repository with no refs.
        refetch: !ours.is_empty(),
    };
    if let Some(why) = import::refused(&asked, &ours) {
        return (plan, Err(why.to_string()));
    }
    let next_head = import::next_head(store, &asked, &plan, &ours).unwrap();
    let mut push = ReceivePack::new(store, &Limits::default());
    push.feed(&plan.commands()).unwrap();
    if plan.wants.is_empty() {
        return (plan, import::apply(store, push, next_head).unwrap());
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
    (plan, import::apply(store, push, next_head).unwrap())
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
fn an_import_goes_only_into_a_repository_without_refs() {
    let asked = Asked {
        source: Source::Repository("o/other".into()),
        choice: Choice::All,
        mirror: None,
        refetch: false,
    };
    let ours = [("refs/heads/main".to_string(), ObjectId::ZERO)];
    assert_eq!(import::refused(&asked, &[]), None);
    let refused = import::refused(&asked, &ours);
    assert!(refused.unwrap().starts_with("the repository has refs"));
    // A mirror's later fetches go into the refs its earlier ones made.
    let refetch = Asked {
        refetch: true,
        ..asked
    };
    assert_eq!(import::refused(&refetch, &ours), None);
}

#[test]
fn a_mirror_follows_its_source_off_the_branch_head_names() {
    let source = history_repo();
    let (store, _db) = store(4096);
    let server = git_server(&source, "version=2");
    import(&server, &store, usize::MAX).1.unwrap();
    store.set_head_target("refs/heads/main").unwrap();
    let head = || store.head_target().unwrap();
    // The source renames its HEAD's branch: ours is deleted, which is refused as the
    // deletion of the current branch unless HEAD moves first.
    source.git(&["branch", "-m", "main", "trunk"]);
    import(&server, &store, usize::MAX).1.unwrap();
    assert_eq!(stored_refs(&store), source.refs());
    assert_eq!(head().as_deref(), Some("refs/heads/trunk"));
    // Again, with a commit to fetch: HEAD moves with the refs, not before the pack has come.
    let before = stored_refs(&store);
    source.git(&["branch", "-m", "trunk", "stem"]);
    source.commit("on stem");
    assert!(import(&server, &store, 200).1.is_err());
    assert_eq!(stored_refs(&store), before);
    assert_eq!(head().as_deref(), Some("refs/heads/trunk"));
    import(&server, &store, usize::MAX).1.unwrap();
    assert_eq!(stored_refs(&store), source.refs());
    assert_eq!(head().as_deref(), Some("refs/heads/stem"));
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

#[test]
fn a_mirror_fetches_on_its_clock_and_syncs_no_faster() {
    let (store, _db) = store(4096);
    let body = br#"{"url": "https://git.example/s.git", "mirror": {"interval": 600}}"#;
    let asked = import::parse(body, 60).unwrap();
    import::begin(&store, &asked).unwrap();
    assert_eq!(import::next_fetch(&store).unwrap(), Some(0));
    let first = import::pending(&store, 1_000).unwrap().unwrap();
    assert!(!first.refetch);
    let mut account = import::Account::running(&first);
    account.state = import::State::Done;
    import::record(&store, &account, 1_010).unwrap();
    // An interval after the fetch began.
    assert_eq!(import::next_fetch(&store).unwrap(), Some(1_600));
    // A sync fetches as soon as the shortest interval allows, however often it is asked.
    for now in [1_020, 1_030] {
        let reply = import::sync(&store, now, 60).unwrap();
        assert_eq!(reply.status, 202);
        assert_eq!(import::next_fetch(&store).unwrap(), Some(1_060));
    }
    assert!(import::pending(&store, 1_059).unwrap().is_none());
    let again = import::pending(&store, 1_060).unwrap().unwrap();
    assert!(again.refetch);
    // Stopped while a sync waits: nothing is left to fetch.
    import::sync(&store, 1_100, 60).unwrap();
    assert_eq!(import::stop_mirroring(&store).unwrap().status, 200);
    assert_eq!(import::next_fetch(&store).unwrap(), None);
    let stopped = import::account(&store).unwrap().unwrap();
    assert_eq!(stopped.state, import::State::Done);
    import::begin(&store, &asked).unwrap();
    import::pending(&store, 1_200).unwrap().unwrap();
    // Stopped while a fetch runs: its end does not make the repository a mirror again.
    assert_eq!(import::stop_mirroring(&store).unwrap().status, 200);
    import::record(&store, &account, 1_070).unwrap();
    assert_eq!(import::mirrored_from(&store).unwrap(), None);
    assert_eq!(import::next_fetch(&store).unwrap(), None);
}
