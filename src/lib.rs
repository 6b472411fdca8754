//! A Git server for Cloudflare Durable Objects: one Durable Object (with its own SQLite
//! database) per repository, serving git's dumb HTTP protocol and smart receive-pack and upload-pack.
//!
//! Layers, bottom up: git's formats (`format`), the storage (`store`, the only SQL), the
//! services (`index_pack`, `receive_pack`, `rev_walk`, `pack_objects`, `upload_pack`,
//! `maintenance`), HTTP
//! as plain values (`http`), and the wasm-only host that adapts the runtime to them.

#![deny(missing_docs)]

pub mod access;
pub mod browse;
pub mod directory;
pub mod fetch_pack;
pub mod format;
pub mod hooks;
pub mod http;
pub mod index_pack;
pub mod lfs;
pub mod limits;
pub mod maintenance;
pub mod pack_objects;
pub mod protocol;
pub mod receive_pack;
pub mod rev_walk;
pub mod store;
pub mod upload_pack;

#[cfg(target_arch = "wasm32")]
mod host;

/// The `agent=` value this server advertises.
pub const AGENT: &str = concat!("git-on-durable-objects/", env!("CARGO_PKG_VERSION"));
