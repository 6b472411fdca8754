//! Git's formats, as pure functions over bytes: no SQL, no HTTP. Everything above reads and
//! writes git's data through these.

pub mod checksum;
pub mod commit;
pub mod date;
pub mod delta;
pub mod diff_delta;
pub mod ident;
pub mod idx;
pub mod loose;
pub mod object;
pub mod pack;
pub mod pktline;
pub mod refname;
pub mod tag;
pub mod zlib;

/// An object made by real git, for the unit tests (tests/fixtures/objects/make.sh).
#[cfg(test)]
fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/objects/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).unwrap()
}
