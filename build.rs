//! Names the build by its sources: `SOURCE_HASH`, a hash of every file under `src/`, so that
//! what a page's entity tag promises changes with the code that draws it (the package's
//! version stays the same from one deploy to the next).

use std::path::{Path, PathBuf};

fn files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, found);
        } else {
            found.push(path);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=src");
    let mut found = Vec::new();
    files(Path::new("src"), &mut found);
    found.sort();
    // FNV-1a: stable, and enough to tell builds apart.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for path in &found {
        let bytes = path.to_string_lossy().into_owned().into_bytes();
        for b in bytes.iter().chain(&std::fs::read(path).unwrap_or_default()) {
            hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=SOURCE_HASH={hash:016x}");
}
