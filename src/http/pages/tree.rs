//! A directory's page: its entries as `git ls-tree -l` lists them, the path's breadcrumbs,
//! the branches to switch to, and the commit shown with a link to the directory's history.

use crate::browse::rev_parse;
use crate::browse::tree_walk::Entry;
use crate::browse::BrowseError;
use crate::format::object::{ObjectId, TreeEntryKind};
use crate::http::api::read::{entry_at, rev_and_path, Listing, MAX_ENTRIES};
use crate::http::pages::html::{clip, url_path, url_query, Html};
use crate::http::pages::{commit_parts, page_full, read_commit, Shown, Site, Written, MAX_NAME};
use crate::store::sql::Sql;
use crate::store::ObjectReader;

/// The most refs the switcher lists.
const MAX_SWITCH: usize = 200;

/// `-/tree/<rev>/<path>`.
pub fn page<S: Sql>(
    reader: &ObjectReader<S>,
    site: &Site,
    rest: &str,
) -> Result<Written, BrowseError> {
    let (rev, root, path) = rev_and_path(reader, rest)?;
    at_path(reader, site, (&rev, &root, &path), false)
}

/// The page of what `path` names under the tree `root` of `rev`: a directory's page or a
/// file's (`plain` showing Markdown as text).
pub fn at_path<S: Sql>(
    reader: &ObjectReader<S>,
    site: &Site,
    (rev, root, path): (&str, &ObjectId, &[Vec<u8>]),
    plain: bool,
) -> Result<Written, BrowseError> {
    let id = match path.is_empty() {
        true => *root,
        false => match entry_at(reader, root, path)? {
            Entry {
                kind: TreeEntryKind::Tree,
                id,
                ..
            } => id,
            Entry {
                kind: TreeEntryKind::Blob,
                id,
                name,
                ..
            } => return super::blob::file(reader, site, (rev, path), (&id, &name), plain),
            _ => {
                let why = "a submodule: its commit is in another repository";
                return Err(BrowseError::Bad(why.into()));
            }
        },
    };
    let mut main = Html::default();
    let joined = path.join(&b'/');
    crumbs(&mut main, site, rev, path);
    switcher(&mut main, reader, site, &joined, "tree")?;
    // A revision may name a tree rather than a commit: there is no commit to show then.
    if let Ok(start) = rev_parse::commit(reader, rev) {
        latest(&mut main, site, &read_commit(reader, &start)?, rev, path);
    }
    listing(&mut main, reader, site, rev, &joined, &id)?;
    let title = match path.is_empty() {
        true => format!("Files at {rev}"),
        false => format!("{} at {rev}", String::from_utf8_lossy(&joined)),
    };
    Ok(Written { title, main })
}

/// The most directories the breadcrumbs show: the deepest ones, as each crumb's link holds
/// the whole path down to it.
const MAX_CRUMBS: usize = 32;

/// The path from the root to `path`, each directory a link to its page.
pub fn crumbs(html: &mut Html, site: &Site, rev: &str, path: &[Vec<u8>]) {
    html.raw("<nav aria-label=\"path\" class=\"crumbs\">");
    html.link(&site.at("tree", rev, b""), "", &clip(rev, MAX_NAME));
    let first = path.len().saturating_sub(MAX_CRUMBS);
    if first > 0 {
        html.raw(" / …");
    }
    for at in first..path.len() {
        let upto = path.get(..=at).unwrap_or_default().join(&b'/');
        let name = path.get(at).map(Vec::as_slice).unwrap_or_default();
        html.raw(" / ");
        let name = String::from_utf8_lossy(name);
        html.link(&site.at("tree", rev, &upto), "", &clip(&name, MAX_NAME));
    }
    html.raw("</nav>");
}

/// Whether a tree entry's name can be linked to: `.` and `..` would be resolved away by the
/// browser (even %-encoded), and a `/` in a name splits it in two: a hostile tree could
/// point such links at another repository's pages.
fn linkable(name: &[u8]) -> bool {
    !matches!(name, b"." | b"..") && !name.contains(&b'/') && name.len() <= MAX_NAME
}

/// The branches, each a link to the same path's `kind` page there, and a link to the tags;
/// none on a page naming fixed objects, which must not change when refs do.
pub fn switcher<S: Sql>(
    html: &mut Html,
    reader: &ObjectReader<S>,
    site: &Site,
    path: &[u8],
    kind: &str,
) -> Result<(), BrowseError> {
    if site.fixed {
        return Ok(());
    }
    let branches = reader.store().first_refs("refs/heads/", MAX_SWITCH)?;
    html.raw("<details class=\"switch\"><summary>Branches</summary><ul>");
    for branch in branches.iter().filter(|b| b.name.len() <= MAX_NAME) {
        let short = branch
            .name
            .strip_prefix("refs/heads/")
            .unwrap_or(&branch.name);
        html.raw("<li>");
        html.link(&site.at(kind, short, path), "", short);
        html.raw("</li>");
    }
    html.raw("<li>");
    html.link(&site.page("refs", ""), "", "Tags and all branches");
    html.raw("</li></ul></details>");
    Ok(())
}

/// `commit`, the one `rev` names, in brief, with a link to the history of `path` there.
/// The latest commit that changed a directory would cost a walk of the history, reading
/// trees all the way down: the history link finds it instead, as cgit's tree pages do.
pub fn latest(html: &mut Html, site: &Site, commit: &Shown, rev: &str, path: &[Vec<u8>]) {
    html.raw("<div class=\"latest\">");
    commit_parts(html, site, commit);
    let mut history = site.page("commits", &url_path(rev.as_bytes()));
    if !path.is_empty() {
        history.push_str("?path=");
        history.push_str(&url_query(&path.join(&b'/')));
    }
    html.link(&history, "history", "History");
    html.raw("</div>");
}

/// The entries of tree `id` (at `path` in `rev`) as `git ls-tree -l` lists them; returns
/// what it read.
pub fn listing<S: Sql>(
    html: &mut Html,
    reader: &ObjectReader<S>,
    site: &Site,
    rev: &str,
    path: &[u8],
    id: &ObjectId,
) -> Result<Listing, BrowseError> {
    let listed = crate::http::api::read::listing(reader, id)?;
    let Listing {
        entries,
        sizes,
        truncated: cut,
    } = &listed;
    html.raw("<div class=\"box\"><table class=\"tree\"><tbody>");
    for entry in entries {
        if html.full() {
            page_full(html);
            break;
        }
        let mut full = path.to_vec();
        if !full.is_empty() {
            full.push(b'/');
        }
        full.extend_from_slice(&entry.name);
        let kind = entry.kind.name();
        // A submodule's commit is in another repository: no page of ours shows it.
        let page = (entry.kind != TreeEntryKind::Gitlink).then_some(kind);
        html.raw("<tr><td class=\"mode\">")
            .raw(&format!("{:06o}", entry.mode));
        html.raw("</td><td class=\"type\">")
            .raw(kind)
            .raw("</td><td class=\"name\">");
        let name = String::from_utf8_lossy(&entry.name);
        let name = clip(&name, MAX_NAME);
        match page.filter(|_| linkable(&entry.name)) {
            Some(page) => html.link(&site.at(page, rev, &full), "", &name),
            None => html.text(&name),
        };
        html.raw("</td><td class=\"size\">");
        match sizes
            .get(&entry.id)
            .filter(|_| entry.kind == TreeEntryKind::Blob)
        {
            Some(size) => html.num(size),
            None => html.raw("-"),
        };
        html.raw("</td></tr>");
    }
    html.raw("</tbody></table></div>");
    if *cut {
        html.raw("<p class=\"cut\">Only the first ")
            .num(MAX_ENTRIES);
        html.raw(" entries are listed: list the rest with git.</p>");
    }
    Ok(listed)
}
