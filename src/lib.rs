//! A Git server for Cloudflare Durable Objects: one Durable Object (with its own SQLite
//! database) per repository, serving git's dumb HTTP protocol and smart receive-pack.
//!
//! Layers, bottom up: git formats (`object`, `pktline`, `zlib`, `delta`, `pack`, `idx`,
//! `refname`), the store (`sql`, `store`), the services (`index_pack`, `receive_pack`,
//! `dumb`, with `route` and `reply`), and the wasm-only host that adapts HTTP to them.

pub mod delta;
pub mod dumb;
pub mod idx;
pub mod index_pack;
pub mod object;
pub mod pack;
pub mod pack_objects;
pub mod pktline;
pub mod receive_pack;
pub mod refname;
pub mod reply;
pub mod rev_walk;
pub mod route;
pub mod sql;
pub mod store;
pub mod upload_pack;
pub mod zlib;

#[cfg(target_arch = "wasm32")]
mod host;

/// The `agent=` value this server advertises.
pub const AGENT: &str = concat!("git-on-durable-objects/", env!("CARGO_PKG_VERSION"));
