//! What another Git server answers an import: its ref advertisement, its `ls-refs` answer,
//! and a fetch's answer fed to the demultiplexer in pieces of any size. Nothing panics, and
//! the pack bytes taken out are never more than the answer's.
#![no_main]

use git_on_durable_objects::fetch_pack::{self, Choice, Demux, Plan, Protocol};
use git_on_durable_objects::format::object::ObjectId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&choice, answer)) = data.split_first() else {
        return;
    };
    if let Ok(fetch_pack::Advertised::V0(listing)) = fetch_pack::parse_advertisement(answer, 1000) {
        let plan = Plan::new(listing, Choice::All, &[], 100);
        let _ = plan.commands();
    }
    if let Ok(listing) = fetch_pack::parse_ls_refs(answer, 1000) {
        let ours = [("refs/heads/main".to_string(), ObjectId::ZERO)];
        let plan = Plan::new(listing, Choice::Default, &ours, 100);
        let _ = plan.fetch_request(Protocol::V2);
    }
    let protocol = match choice & 1 {
        0 => Protocol::V2,
        _ => Protocol::V0,
    };
    let piece = usize::from(choice >> 1).max(1);
    let mut demux = Demux::new(protocol);
    let mut taken = 0;
    for chunk in answer.chunks(piece) {
        match demux.feed(chunk) {
            Ok(pack) => taken += pack.len(),
            Err(_) => break,
        }
    }
    assert!(taken <= answer.len());
    assert_eq!(demux.bytes(), taken as u64);
    let _ = demux.finish();
});
