//! A file's page: its lines numbered and highlighted, an image shown, Markdown rendered
//! (with a plain view), a Git LFS pointer described, and a binary or large file offered
//! for download.

use crate::browse::{blob, read_as, BrowseError};
use crate::format::object::{ObjectId, ObjectType};
use crate::http::api::raw::content_type;
use crate::http::api::read::{rev_and_path, Query};
use crate::http::pages::html::Html;
use crate::http::pages::markdown::is_markdown;
use crate::http::pages::tree::{at_path, crumbs, switcher};
use crate::http::pages::unified::is_binary;
use crate::http::pages::{highlight, markdown_article, Site, Written};
use crate::store::sql::Sql;
use crate::store::ObjectReader;

/// The largest file shown on its page; a larger one is offered raw.
pub const MAX_SHOWN: u64 = 1 << 20;

/// What a Git LFS pointer file starts with.
const LFS_POINTER: &[u8] = b"version https://git-lfs.github.com/spec/v1\n";

/// `-/blob/<rev>/<path>` (`?plain=1` shows Markdown as text); a directory's path shows the
/// directory.
pub fn page<S: Sql>(
    reader: &ObjectReader<S>,
    site: &Site,
    rest: &str,
    query: &Query,
) -> Result<Written, BrowseError> {
    let (rev, root, path) = rev_and_path(reader, rest)?;
    let plain = query.text("plain")?.is_some_and(|v| v == "1");
    at_path(reader, site, (&rev, &root, &path), plain)
}

/// The page of blob `id`, named `name`, at `path` in `rev`.
pub fn file<S: Sql>(
    reader: &ObjectReader<S>,
    site: &Site,
    (rev, path): (&str, &[Vec<u8>]),
    (id, name): (&ObjectId, &[u8]),
    plain: bool,
) -> Result<Written, BrowseError> {
    let joined = path.join(&b'/');
    let mut main = Html::default();
    crumbs(&mut main, site, rev, path);
    switcher(&mut main, reader, site, &joined, "blob")?;
    let raw = site.at("raw", rev, &joined);
    let size = blob::size(reader, id)?.unwrap_or_default();
    main.raw("<p class=\"info\"><span class=\"mono\">")
        .num(size)
        .raw(" bytes</span> · ");
    main.link(&raw, "raw", "Raw");
    main.raw("</p>");
    body(
        &mut main,
        reader,
        site,
        (rev, path, &raw),
        (id, name, size),
        plain,
    )?;
    let title = format!("{} at {rev}", String::from_utf8_lossy(&joined));
    Ok(Written { title, main })
}

/// The file itself, as what it is.
fn body<S: Sql>(
    main: &mut Html,
    reader: &ObjectReader<S>,
    site: &Site,
    (rev, path, raw): (&str, &[Vec<u8>], &str),
    (id, name, size): (&ObjectId, &[u8], u64),
    plain: bool,
) -> Result<(), BrowseError> {
    let media = content_type(name);
    if media.starts_with("image/") {
        main.raw("<img class=\"blob\" alt=\"")
            .bytes(name)
            .raw("\" src=\"")
            .text(raw);
        main.raw("\">");
        return Ok(());
    }
    if size > MAX_SHOWN {
        main.raw("<p class=\"large\">This file is too large to show here: ");
        main.link(raw, "", "download it").raw(".</p>");
        return Ok(());
    }
    let data = read_as(reader, id, ObjectType::Blob)?;
    if let Some((oid, bytes)) = lfs_pointer(&data) {
        main.raw("<p class=\"lfs\">A Git LFS file: <span class=\"mono\">")
            .text(oid);
        main.raw("</span>, ")
            .text(bytes)
            .raw(" bytes, stored beside the repository ");
        main.raw("(<code>git lfs pull</code> fetches it).</p>");
    } else if is_binary(&data) {
        main.raw("<p class=\"binary\">A binary file: ");
        main.link(raw, "", "download it").raw(".</p>");
        return Ok(());
    }
    let text = String::from_utf8_lossy(&data);
    if is_markdown(name) && !plain {
        let here = site.at("blob", rev, &path.join(&b'/'));
        main.raw("<p>")
            .link(&format!("{here}?plain=1"), "", "Show the text")
            .raw("</p>");
        let dir = path.get(..path.len().saturating_sub(1)).unwrap_or_default();
        markdown_article(main, site, (rev, dir), &text);
        return Ok(());
    }
    lines(main, &text, name, raw);
    Ok(())
}

/// The most lines a file's page shows: past them, the raw file has the rest.
const MAX_LINES: usize = 20_000;

/// The lines of a text, numbered, each with its anchor: the first [`MAX_LINES`] of them.
fn lines(main: &mut Html, text: &str, name: &[u8], raw: &str) {
    let shown = match text.match_indices('\n').nth(MAX_LINES - 1) {
        Some((at, _)) => text.get(..=at).unwrap_or(text),
        None => text,
    };
    main.raw("<div class=\"box\"><table class=\"blob\"><tbody>");
    for (at, line) in highlight::lines(shown, name).iter().enumerate() {
        if main.full() {
            break;
        }
        let n = at + 1;
        main.raw("<tr id=\"L")
            .num(n)
            .raw("\"><td class=\"num\"><a href=\"#L")
            .num(n);
        main.raw("\">")
            .num(n)
            .raw("</a></td><td class=\"line\">")
            .raw(line);
        main.raw("</td></tr>");
    }
    main.raw("</tbody></table></div>");
    if shown.len() < text.len() || main.full() {
        main.raw("<p class=\"cut\">The file goes on: ");
        main.link(raw, "", "read it whole").raw(".</p>");
    }
}

/// The object id and size a Git LFS pointer names, if `data` is one.
fn lfs_pointer(data: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(data.strip_prefix(LFS_POINTER)?).ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .map(str::trim)
    };
    Some((field("oid sha256:")?, field("size ")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lfs_pointers() {
        let pointer = b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 12345\n";
        assert_eq!(lfs_pointer(pointer), Some(("4d7a", "12345")));
        assert_eq!(lfs_pointer(b"version 1\n"), None);
    }
}
