//! `GET api/raw/<rev>/<path>`: a file's bytes, as `git cat-file blob <rev>:<path>` gives
//! them, with a content type from its name, the blob's id as its ETag, and ranges.

use crate::browse::tree_walk::Entry;
use crate::browse::{blob, BrowseError};
use crate::format::object::TreeEntryKind;
use crate::http::api::read::{entry_at, rev_and_path, Query};
use crate::http::range::ranged;
use crate::http::reply::{Body, Reply};
use crate::store::sql::Sql;
use crate::store::{ObjectReader, Store};

/// The request headers a raw file's answer depends on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Conditions<'a> {
    /// Range.
    pub range: Option<&'a str>,
    /// If-None-Match.
    pub if_none_match: Option<&'a str>,
}

/// Answers a raw file, streamed (see [`Body::Blob`]).
pub fn raw<S: Sql>(
    store: &Store<S>,
    rest: &str,
    query: &Query,
    conditions: Conditions,
) -> Result<Reply, BrowseError> {
    let reader = ObjectReader::new(store);
    let (rev, tree, path) = rev_and_path(&reader, rest)?;
    let entry = match &path[..] {
        [] => return Err(BrowseError::Bad("no path: name a file".into())),
        path => entry_at(&reader, &tree, path)?,
    };
    let Entry {
        kind: TreeEntryKind::Blob,
        id,
        name,
        ..
    } = entry
    else {
        return Err(BrowseError::Bad(
            "not a file: the path names a tree or submodule".into(),
        ));
    };
    let size = blob::size(&reader, &id)?
        .ok_or_else(|| BrowseError::NotFound(format!("blob {id} not found")))?;
    let etag = format!("\"{id}\"");
    let caching = query.caching(&reader, &[&rev])?;
    let mut headers = vec![
        ("ETag", etag.clone()),
        ("X-Content-Type-Options", "nosniff".into()),
        // A file is data: were it HTML or SVG, a browser must not run it as this origin's page.
        (
            "Content-Security-Policy",
            "default-src 'none'; sandbox".into(),
        ),
    ];
    if matches(conditions.if_none_match, &etag) {
        let mut reply = Reply::empty(304);
        reply.caching = caching;
        reply.headers = headers;
        return Ok(reply);
    }
    let content_type = content_type(&name);
    let body = |start, end| Body::Blob {
        id,
        size,
        start,
        end,
    };
    let mut reply = ranged(size, conditions.range, content_type, caching, body);
    reply.headers.append(&mut headers);
    Ok(reply)
}

/// Whether an If-None-Match header names `etag` (or is `*`).
fn matches(if_none_match: Option<&str>, etag: &str) -> bool {
    if_none_match.is_some_and(|tags| {
        tags.split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == etag || tag == "*")
    })
}

/// Types by extension; any other file is text when it has an extension or name that text
/// files have, else bytes. Markup and scripts are served as text: the raw endpoint shows
/// files, it does not host pages.
const TYPES: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("ico", "image/x-icon"),
    ("bmp", "image/bmp"),
    ("svg", "image/svg+xml"),
    ("pdf", "application/pdf"),
    ("json", "application/json"),
    ("wasm", "application/wasm"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tgz", "application/gzip"),
    ("tar", "application/x-tar"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("wav", "audio/wav"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
];

/// Extensions of files that are text.
const TEXT: &[&str] = &[
    "txt",
    "md",
    "markdown",
    "rst",
    "adoc",
    "org",
    "tex",
    "csv",
    "tsv",
    "log",
    "rs",
    "c",
    "h",
    "cc",
    "cpp",
    "hpp",
    "cxx",
    "go",
    "py",
    "rb",
    "pl",
    "pm",
    "php",
    "java",
    "kt",
    "kts",
    "scala",
    "swift",
    "m",
    "mm",
    "cs",
    "fs",
    "js",
    "mjs",
    "cjs",
    "ts",
    "tsx",
    "jsx",
    "vue",
    "svelte",
    "html",
    "htm",
    "css",
    "scss",
    "sass",
    "less",
    "xml",
    "xsl",
    "yml",
    "yaml",
    "toml",
    "ini",
    "cfg",
    "conf",
    "properties",
    "env",
    "sh",
    "bash",
    "zsh",
    "fish",
    "ps1",
    "bat",
    "cmd",
    "sql",
    "graphql",
    "proto",
    "lua",
    "r",
    "jl",
    "hs",
    "ml",
    "mli",
    "ex",
    "exs",
    "erl",
    "clj",
    "lisp",
    "el",
    "vim",
    "dart",
    "zig",
    "nim",
    "d",
    "asm",
    "s",
    "cmake",
    "mk",
    "gradle",
    "diff",
    "patch",
    "lock",
    "gitignore",
    "gitattributes",
    "gitmodules",
    "editorconfig",
    "dockerfile",
    "tf",
    "nix",
];

/// Names of files without an extension that are text.
const TEXT_NAMES: &[&str] = &[
    "readme",
    "license",
    "licence",
    "copying",
    "authors",
    "contributors",
    "changelog",
    "news",
    "notice",
    "makefile",
    "dockerfile",
    "gemfile",
    "rakefile",
    "procfile",
    "vagrantfile",
    "jenkinsfile",
    "codeowners",
    "version",
    "todo",
    "install",
];

/// The content type of a file named `name`.
pub(crate) fn content_type(name: &[u8]) -> &'static str {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, extension)) => (stem, extension),
        None => (name.as_str(), ""),
    };
    if let Some((_, known)) = TYPES.iter().find(|(ext, _)| *ext == extension) {
        return known;
    }
    let text = TEXT.contains(&extension)
        || TEXT_NAMES.contains(&stem)
        || (extension.is_empty() && TEXT_NAMES.contains(&name.as_str()));
    match text {
        true => "text/plain; charset=utf-8",
        false => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_files_by_name() {
        assert_eq!(content_type(b"README"), "text/plain; charset=utf-8");
        assert_eq!(content_type(b"README.md"), "text/plain; charset=utf-8");
        assert_eq!(content_type(b"COPYING.LIB"), "text/plain; charset=utf-8");
        assert_eq!(content_type(b".gitignore"), "text/plain; charset=utf-8");
        assert_eq!(content_type(b"index.HTML"), "text/plain; charset=utf-8");
        assert_eq!(content_type(b"logo.PNG"), "image/png");
        assert_eq!(content_type(b"data.json"), "application/json");
        assert_eq!(content_type(b"blob.bin"), "application/octet-stream");
        assert_eq!(content_type(b"noextension"), "application/octet-stream");
    }

    #[test]
    fn matches_entity_tags() {
        let etag = "\"abc\"";
        assert!(matches(Some("\"abc\""), etag));
        assert!(matches(Some("\"x\", W/\"abc\""), etag));
        assert!(matches(Some("*"), etag));
        assert!(!matches(Some("\"abcd\""), etag));
        assert!(!matches(None, etag));
    }
}
