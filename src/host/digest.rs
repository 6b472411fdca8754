//! The runtime's SHA-1 (`node:crypto`, BoringSSL underneath) as the engine long inputs are
//! hashed with (see `format::sha1`).

use wasm_bindgen::prelude::wasm_bindgen;

use crate::format::sha1::{self, Engine};

#[wasm_bindgen(inline_js = "
import { createHash } from 'node:crypto';
export function sha1_start() { return createHash('sha1'); }
export function sha1_update(hash, bytes) { hash.update(bytes); }
export function sha1_finish(hash, out) { out.set(hash.digest()); }
")]
extern "C" {
    /// A `node:crypto` `Hash`.
    type NodeHash;
    fn sha1_start() -> NodeHash;
    fn sha1_update(hash: &NodeHash, bytes: &[u8]);
    fn sha1_finish(hash: &NodeHash, out: &mut [u8]);
}

impl Engine for NodeHash {
    fn update(&mut self, bytes: &[u8]) {
        sha1_update(self, bytes);
    }

    fn finish(self: Box<Self>) -> [u8; 20] {
        let mut out = [0; 20];
        sha1_finish(&self, &mut out);
        out
    }
}

/// Makes the runtime's SHA-1 the engine of long inputs.
pub fn install() {
    sha1::install(|| Box::new(sha1_start()));
}
