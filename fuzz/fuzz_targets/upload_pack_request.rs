//! The upload-pack request parser and the answer to what it accepts, against a repository
//! with history: any body is answered or refused, never a panic. Forty `m`s (or `n`s) in
//! the input stand for the id of `main` (or `main~3`), so that seeds written by hand can
//! name real objects and the fuzzer reaches negotiation and pack writing. An input that
//! starts with `v` is the rest sent as a protocol v2 request.
#![no_main]

#[path = "../../tests/common/mod.rs"]
#[allow(dead_code, unused_imports)]
mod common;

use std::cell::OnceCell;

use git_on_durable_objects::http::backend;
use git_on_durable_objects::limits::Limits;
use git_on_durable_objects::store::Store;
use git_on_durable_objects::upload_pack::Answer;
use libfuzzer_sys::fuzz_target;

struct Scene {
    store: Store<common::Db>,
    main: String,
    older: String,
}

thread_local! {
    static SCENE: OnceCell<Scene> = const { OnceCell::new() };
}

/// The test suite's history repository, pushed once per process.
fn scene() -> Scene {
    let repo = common::history_repo();
    let (store, _db) = common::store(4096);
    common::push_all(&store, &repo, "report-status", 65536);
    Scene {
        store,
        main: repo.git(&["rev-parse", "main"]),
        older: repo.git(&["rev-parse", "main~3"]),
    }
}

/// `data` with each placeholder replaced by the id it stands for.
fn with_ids(data: &[u8], scene: &Scene) -> Vec<u8> {
    let mut out = data.to_vec();
    for (letter, id) in [(b'm', &scene.main), (b'n', &scene.older)] {
        let placeholder = [letter; 40];
        let mut at = 0;
        while let Some(found) = out[at..].windows(40).position(|w| w == placeholder) {
            out[at + found..at + found + 40].copy_from_slice(id.as_bytes());
            at += found + 40;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        wants: 64,
        haves: 64,
        ..Limits::default()
    };
    SCENE.with(|cell| {
        let scene = cell.get_or_init(scene);
        let (protocol, data) = match data.split_first() {
            Some((b'v', rest)) => (Some("version=2"), rest),
            _ => (None, data),
        };
        let body = with_ids(data, scene);
        let gzipped = body.first() == Some(&0x1f);
        if let Ok(Answer::Pack(_, pack)) =
            backend::upload_pack(&scene.store, body, gzipped, protocol, &limits)
        {
            for piece in *pack {
                piece.unwrap();
            }
        }
    });
});
