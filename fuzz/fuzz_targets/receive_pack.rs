//! A whole push request (commands, then a pack) into a native SQLite store: any body is
//! answered, and a push whose every command is refused leaves every table as it was.
#![no_main]

#[path = "../../tests/common/mod.rs"]
#[allow(dead_code, unused_imports)]
mod common;

use git_on_durable_objects::limits::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (store, db) = common::store(512);
    let before = common::snapshot(&db);
    let limits = Limits {
        object_bytes: 1 << 20,
        ..Limits::default()
    };
    // Fed in pieces of a size the input chooses, as a network would cut it.
    let piece = data.first().map_or(1, |&b| b as usize + 1);
    let Ok(response) =
        common::run_push_within(&store, data.get(1..).unwrap_or_default(), piece, &limits)
    else {
        assert_eq!(
            common::snapshot(&db),
            before,
            "a refused request changed the tables"
        );
        return;
    };
    // Without report-status the client asked for no report, and nothing tells what was
    // refused.
    let lines = common::report_lines(&response);
    if !lines.is_empty() && !lines.iter().any(|l| l.starts_with("ok ")) {
        assert_eq!(
            common::snapshot(&db),
            before,
            "a refused push changed the tables: {lines:?}"
        );
    }
});
