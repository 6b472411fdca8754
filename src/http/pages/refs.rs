//! The refs page: branches and tags, each with its commit and that commit's date.

use std::collections::HashMap;

use crate::browse::BrowseError;
use crate::format::date::rfc3339_utc;
use crate::format::object::ObjectId;
use crate::http::pages::html::Html;
use crate::http::pages::{short, time, Site, Written};
use crate::store::sql::Sql;
use crate::store::{CommitInfo, ObjectReader, Ref};

/// The most refs of each kind listed.
const MAX_LISTED: usize = 1000;

/// `-/refs`.
pub fn page<S: Sql>(reader: &ObjectReader<S>, site: &Site) -> Result<Written, BrowseError> {
    let refs = reader.store().refs()?;
    let mut main = Html::default();
    for (kind, prefix, title) in [
        ("branches", "refs/heads/", "Branches"),
        ("tags", "refs/tags/", "Tags"),
    ] {
        let listed: Vec<&Ref> = refs.iter().filter(|r| r.name.starts_with(prefix)).collect();
        main.raw("<h2>")
            .raw(title)
            .raw(" (")
            .num(listed.len())
            .raw(")</h2>");
        let shown = listed
            .get(..listed.len().min(MAX_LISTED))
            .unwrap_or_default();
        table(&mut main, reader, site, kind, prefix, shown)?;
        if listed.len() > MAX_LISTED {
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
    refs: &[&Ref],
) -> Result<(), BrowseError> {
    let target = |r: &Ref| r.peeled.unwrap_or(r.id);
    let ids: Vec<ObjectId> = refs.iter().map(|r| target(r)).collect();
    let commits: HashMap<ObjectId, CommitInfo> = reader.store().commits(&ids)?;
    main.raw("<div class=\"box\"><table class=\"refs\" id=\"")
        .raw(kind)
        .raw("\"><tbody>");
    for found in refs {
        let id = target(found);
        let name = found.name.strip_prefix(prefix).unwrap_or(&found.name);
        main.raw("<tr><td class=\"name\">");
        main.link(&site.at("tree", name, b""), "", name);
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
