//! Commits, tags, identities and trees as the API reads them: whatever the bytes, parsing
//! returns or refuses, and what parses prints (dates, re-encoded text, joined headers).
#![no_main]

use git_on_durable_objects::format::{commit, ident, object, tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = commit::parse(data) {
        for who in [parsed.author, parsed.committer] {
            assert!(who.date().is_none_or(|date| date.contains('T')));
            commit::decode(who.name, parsed.encoding);
        }
        commit::decode(parsed.message, parsed.encoding);
        for header in &parsed.extra {
            assert!(header.value().len() >= header.line.len() + header.more.len());
        }
    }
    if let Ok(parsed) = tag::parse(data) {
        if let Some(tagger) = parsed.tagger {
            assert!(tagger.date().is_none_or(|date| date.contains('T')));
        }
    }
    if let Some(who) = ident::parse(data) {
        assert!(who.date().is_none_or(|date| date.contains('T')));
    }
    if let Ok(entries) = object::tree_entries(data) {
        assert!(entries.len() * 22 <= data.len());
    }
});
