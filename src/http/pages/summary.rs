//! A repository's front page: how to clone it, its branch and tag counts, its latest
//! commit, its root directory and its README; or, before its first push, how to push.

use crate::browse::rev_parse::tree_of;
use crate::browse::tree_walk::{read_tree, Entry};
use crate::browse::{read_as, rev_parse, BrowseError};
use crate::format::object::{ObjectType, TreeEntryKind};
use crate::http::pages::blob::MAX_SHOWN;
use crate::http::pages::html::{url_path, Html};
use crate::http::pages::markdown::{self, Place};
use crate::http::pages::tree::{latest, listing};
use crate::http::pages::{Site, Written};
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
    latest(&mut main, reader, site, &rev, &[])?;
    let tree = tree_of(reader, &head)?;
    listing(&mut main, reader, site, &rev, b"", &tree)?;
    readme(&mut main, reader, &rev, site, &tree).map(|()| Written { title, main })
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

/// The README of the root tree, rendered.
fn readme<S: Sql>(
    main: &mut Html,
    reader: &ObjectReader<S>,
    rev: &str,
    site: &Site,
    tree: &crate::format::object::ObjectId,
) -> Result<(), BrowseError> {
    let entries = read_tree(reader, tree)?;
    let found = READMES.iter().find_map(|name| {
        entries
            .iter()
            .find(|e| e.kind == TreeEntryKind::Blob && e.name.eq_ignore_ascii_case(name.as_bytes()))
    });
    let Some(Entry { id, name, .. }) = found else {
        return Ok(());
    };
    let size = reader.sizes(std::slice::from_ref(id))?.get(id).copied();
    if size.is_none_or(|size| size > MAX_SHOWN) {
        return Ok(());
    }
    let data = read_as(reader, id, ObjectType::Blob)?;
    let text = String::from_utf8_lossy(&data);
    main.raw("<section class=\"readme\" aria-label=\"README\"><h2>")
        .bytes(name);
    main.raw("</h2>");
    if name.to_ascii_lowercase().ends_with(b".md")
        || name.to_ascii_lowercase().ends_with(b".markdown")
    {
        let pages = format!("/{}/-", site.repo);
        let place = Place {
            pages: &pages,
            rev: &url_path(rev.as_bytes()),
            dir: &[],
        };
        main.raw("<article class=\"markdown\">")
            .raw(&markdown::render(&text, &place));
        main.raw("</article>");
    } else {
        main.raw("<pre>").text(&text).raw("</pre>");
    }
    main.raw("</section>");
    Ok(())
}
