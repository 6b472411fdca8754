//! HTTP without a runtime (as git's `http-backend.c`): which repository and endpoint a path
//! names, the dumb protocol's files, and replies as plain values the host turns into
//! responses.
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

pub mod api;
pub mod backend;
pub mod dumb;
pub mod pages;
pub mod range;
pub mod reply;
pub mod route;
