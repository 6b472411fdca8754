//! A repository's front page: how to clone it, its branch and tag counts, its latest
//! commit, its root directory and its README; or, before its first push, how to push.

use crate::browse::tree_walk::Entry;
use crate::browse::{read_as, rev_parse, BrowseError};
use crate::format::object::{ObjectType, TreeEntryKind};
use crate::http::api::read::Listing;
use crate::http::pages::blob::MAX_SHOWN;
use crate::http::pages::html::Html;
use crate::http::pages::markdown::is_markdown;
use crate::http::pages::tree::{latest, listing};
use crate::http::pages::{markdown_article, read_commit, Site, Written};
use crate::store::sql::Sql;
use crate::store::ObjectReader;

/// The README's names, in the order looked for (case does not matter).
const READMES: [&str; 4] = ["readme.md", "readme", "readme.markdown", "readme.txt"];

/// The repository's own path.
pub fn page<S: Sql>(reader: &ObjectReader<S>, site: &Site) -> Result<Written, BrowseError> {
    let store = reader.store();
    let url = format!("{}/{}.git", site.origin, site.repo);
    let mut main = Html::default();
    main.raw("<div class=\"clone\"><label for=\"clone-url\">Clone</label>");
    main.raw("<input id=\"clone-url\" readonly value=\"")
        .text(&url)
        .raw("\">");
    main.raw("<button id=\"copy\" type=\"button\">Copy</button></div>");
    let title = "Summary".to_string();
    let (branches, tags, all) = (
        store.count_refs("refs/heads/")?,
        store.count_refs("refs/tags/")?,
        store.count_refs("")?,
    );
    if all == 0 {
        empty(&mut main, &url);
        return Ok(Written { title, main });
    }
    main.raw("<p class=\"counts\"><span class=\"branches\">")
        .num(branches);
    main.raw("</span> branches · <span class=\"tags\">")
        .num(tags);
    main.raw("</span> tags</p>");
    let head = match rev_parse::commit(reader, "HEAD") {
        Ok(head) => head,
        Err(BrowseError::NotFound(_)) => {
            main.raw("<p class=\"error\">HEAD names no branch that exists: see the ");
            main.link(&site.page("refs", ""), "", "branches")
                .raw(".</p>");
            return Ok(Written { title, main });
        }
        Err(e) => return Err(e),
    };
    let rev = branch(reader, &head)?;
    let commit = read_commit(reader, &head)?;
    latest(&mut main, site, &commit, &rev, &[]);
    let root = listing(&mut main, reader, site, &rev, b"", &commit.tree)?;
    readme(&mut main, reader, site, &rev, &root)?;
    Ok(Written { title, main })
}

/// What the links of the front page name: HEAD's branch, when its name alone reaches it.
fn branch<S: Sql>(
    reader: &ObjectReader<S>,
    head: &crate::format::object::ObjectId,
) -> Result<String, BrowseError> {
    let target = reader.store().head_target()?.unwrap_or_default();
    let short = target.strip_prefix("refs/heads/").unwrap_or("HEAD");
    Ok(match rev_parse::commit(reader, short) {
        Ok(id) if id == *head => short.to_string(),
        _ => "HEAD".to_string(),
    })
}

/// How to push to an empty repository.
fn empty(main: &mut Html, url: &str) {
    main.raw("<section class=\"empty\"><h2>This repository is empty</h2>");
    main.raw("<p>Push an existing repository to it:</p><pre>git remote add origin ");
    main.text(url)
        .raw("\ngit push -u origin main</pre></section>");
}

/// The README among the root's entries (`root`, as listed), rendered.
fn readme<S: Sql>(
    main: &mut Html,
    reader: &ObjectReader<S>,
    site: &Site,
    rev: &str,
    root: &Listing,
) -> Result<(), BrowseError> {
    let found = READMES.iter().find_map(|name| {
        root.entries
            .iter()
            .find(|e| e.kind == TreeEntryKind::Blob && e.name.eq_ignore_ascii_case(name.as_bytes()))
    });
    let Some(Entry { id, name, .. }) = found else {
        return Ok(());
    };
    if root.sizes.get(id).is_none_or(|&size| size > MAX_SHOWN) {
        return Ok(());
    }
    let data = read_as(reader, id, ObjectType::Blob)?;
    let text = String::from_utf8_lossy(&data);
    main.raw("<section class=\"readme\" aria-label=\"README\"><h2>");
    main.bytes(name).raw("</h2>");
    match is_markdown(name) {
        true => markdown_article(main, site, (rev, &[]), &text),
        false => {
            main.raw("<pre>").text(&text).raw("</pre>");
        }
    }
    main.raw("</section>");
    Ok(())
}
