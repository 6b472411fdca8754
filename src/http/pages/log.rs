//! The history page: `git log <rev> [-- <path>]`, thirty commits a page, newest first.

use crate::browse::BrowseError;
use crate::format::object::ObjectId;
use crate::http::api::read::{cursor, log_page, text, Query};
use crate::http::pages::html::{url_path, url_query, Html};
use crate::http::pages::{commit_line, read_commit, Site, Written};
use crate::http::route::query_value;
use crate::store::sql::Sql;
use crate::store::ObjectReader;

/// Commits a page shows.
const PER_PAGE: usize = 30;

/// `-/commits/<rev>?path=&cursor=`.
pub fn page<S: Sql>(
    reader: &ObjectReader<S>,
    site: &Site,
    rev: &str,
    query: &Query,
) -> Result<Written, BrowseError> {
    let rev = match rev {
        "" => "HEAD".to_string(),
        rev => text(rev)?,
    };
    let at = query.text("cursor")?;
    let path = query_value(query.query, "path").unwrap_or_default();
    let (start, page) = log_page(reader, &rev, at.as_deref(), &path, PER_PAGE)?;
    let mut main = Html::default();
    main.raw("<h2>History of ");
    if !path.is_empty() {
        main.raw("<code>").bytes(&path).raw("</code> at ");
    }
    main.text(&rev).raw("</h2>");
    let ids: Vec<ObjectId> = page.commits.iter().map(|(id, _)| *id).collect();
    list(&mut main, reader, site, &ids)?;
    if let Some(walked) = page.next {
        let mut next = site.page("commits", &url_path(rev.as_bytes()));
        next.push_str("?cursor=");
        next.push_str(&cursor(&start, walked));
        if !path.is_empty() {
            next.push_str("&path=");
            next.push_str(&url_query(&path));
        }
        main.raw("<p><a rel=\"next\" href=\"")
            .text(&next)
            .raw("\">Older</a></p>");
    }
    let title = format!("History of {rev}");
    Ok(Written { title, main })
}

/// The commits `ids` as a log, in order.
pub fn list<S: Sql>(
    main: &mut Html,
    reader: &ObjectReader<S>,
    site: &Site,
    ids: &[ObjectId],
) -> Result<(), BrowseError> {
    reader.learn(ids)?;
    main.raw("<ol class=\"log\">");
    for id in ids {
        commit_line(main, site, &read_commit(reader, id)?);
    }
    main.raw("</ol>");
    Ok(())
}
