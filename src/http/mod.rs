//! HTTP without a runtime (as git's `http-backend.c`): which repository and endpoint a path
//! names, the dumb protocol's files, and replies as plain values the host turns into
//! responses.

pub mod api;
pub mod backend;
pub mod dumb;
pub mod range;
pub mod reply;
pub mod route;
