//! The refs page: branches and tags, each with its commit and that commit's date.

use std::collections::HashMap;

use crate::browse::BrowseError;
use crate::format::date::rfc3339_utc;
use crate::format::object::ObjectId;
use crate::http::pages::html::{clip, Html};
use crate::http::pages::{short, time, Site, Written, MAX_NAME};
use crate::store::sql::Sql;
use crate::store::{CommitInfo, ObjectReader, Ref};

/// The most refs of each kind listed.
const MAX_LISTED: usize = 1000;

/// `-/refs`.
pub fn page<S: Sql>(reader: &ObjectReader<S>, site: &Site) -> Result<Written, BrowseError> {
    let store = reader.store();
    let mut main = Html::default();
    for (kind, prefix, title) in [
        ("branches", "refs/heads/", "Branches"),
        ("tags", "refs/tags/", "Tags"),
    ] {
        let count = store.count_refs(prefix)?;
        main.raw("<h2>")
            .raw(title)
            .raw(" (")
            .num(count)
            .raw(")</h2>");
        let shown = store.first_refs(prefix, MAX_LISTED)?;
        table(&mut main, reader, site, kind, prefix, &shown)?;
        if count > MAX_LISTED as u64 {
            main.raw("<p class=\"cut\">Only the first ").num(MAX_LISTED);
            main.raw(" are listed: list the rest with <code>git ls-remote</code>.</p>");
        }
    }
    Ok(Written {
        title: "Branches and tags".into(),
        main,
    })
}

fn table<S: Sql>(
    main: &mut Html,
    reader: &ObjectReader<S>,
    site: &Site,
    kind: &str,
    prefix: &str,
    refs: &[Ref],
) -> Result<(), BrowseError> {
    let target = |r: &Ref| r.peeled.unwrap_or(r.id);
    let ids: Vec<ObjectId> = refs.iter().map(target).collect();
    let commits: HashMap<ObjectId, CommitInfo> = reader.store().commits(&ids)?;
    main.raw("<div class=\"box\"><table class=\"refs\" id=\"")
        .raw(kind)
        .raw("\"><tbody>");
    for found in refs {
        let id = target(found);
        let name = found.name.strip_prefix(prefix).unwrap_or(&found.name);
        main.raw("<tr><td class=\"name\">");
        match name.len() <= MAX_NAME {
            true => main.link(&site.at("tree", name, b""), "", name),
            false => main.text(&clip(name, MAX_NAME)),
        };
        main.raw("</td><td class=\"id\">");
        main.link(&site.commit(&id), "", &short(&id));
        main.raw("</td><td class=\"date\">");
        let date = commits.get(&id).map(|c| rfc3339_utc(c.time));
        time(main, date.as_deref());
        main.raw("</td></tr>");
    }
    main.raw("</tbody></table></div>");
    Ok(())
}
