//! The repository's web pages (as cgit shows a repository): HTML written on the server
//! from the same reads as the JSON API, one stylesheet, one small script, and a strict
//! content security policy, so that nothing a repository holds can run in a visitor's
//! browser. Who may see which is decided before these run, as for a clone.

pub mod compact;
pub mod highlight;
pub mod html;
pub mod markdown;
pub mod unified;

mod blob;
mod commit;
mod log;
mod refs;
mod summary;
mod tree;

use crate::browse::BrowseError;
use crate::format::commit::{self as commit_object, decode};
use crate::format::object::{ObjectId, ObjectType};
use crate::http::api::read::Query;
use crate::http::pages::html::{url_path, Html};
use crate::http::reply::{Caching, Reply};
use crate::http::route::Page;
use crate::store::sql::Sql;
use crate::store::{ObjectReader, Store, StoreError};

/// The policy every page is served with: our stylesheet and script only, images from this
/// origin (a repository's own), no frames, forms or plugins.
pub const POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The stylesheet, served at [`STYLE_PATH`].
pub const STYLE: &str = include_str!("static/style.css");

/// The script (copying the clone URL, marking a range of lines), served at [`SCRIPT_PATH`].
pub const SCRIPT: &str = include_str!("static/pages.js");

/// Where the stylesheet is served, for every repository.
pub const STYLE_PATH: &str = "/-/static/style.css";

/// Where the script is served.
pub const SCRIPT_PATH: &str = "/-/static/pages.js";

/// The stylesheet or the script when `path` names one: the same for every repository,
/// served by the Worker without waking one.
pub fn asset(path: &str) -> Option<Reply> {
    let (content_type, body) = match path {
        STYLE_PATH => ("text/css; charset=utf-8", STYLE),
        SCRIPT_PATH => ("text/javascript; charset=utf-8", SCRIPT),
        _ => return None,
    };
    let mut reply = Reply::ok(content_type, Caching::Default, body.as_bytes().to_vec());
    reply
        .headers
        .push(("Cache-Control", "public, max-age=300".into()));
    reply
        .headers
        .push(("X-Content-Type-Options", "nosniff".into()));
    Some(reply)
}

/// A request for a page, as the host read it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The page.
    pub page: &'a Page,
    /// The repository's name (`owner/repo`).
    pub repo: &'a str,
    /// The scheme and host the request came to, for the clone URL.
    pub origin: &'a str,
    /// The query string, and whether the repository is private.
    pub query: Query<'a>,
    /// `If-None-Match`.
    pub if_none_match: Option<&'a str>,
}

/// What every page of a repository knows of where it is.
pub struct Site<'a> {
    /// The repository's name.
    pub repo: &'a str,
    /// The scheme and host, for the clone URL.
    pub origin: &'a str,
    /// Whether the page names only fixed objects: it then shows nothing that a ref change
    /// could change (no branch switcher), so that it may be cached for ever.
    pub fixed: bool,
}

impl Site<'_> {
    /// The URL of a page: `kind` (`tree`, `blob`, ...) and what follows it, already encoded.
    pub fn page(&self, kind: &str, rest: &str) -> String {
        match rest.is_empty() {
            true => format!("/{}/-/{kind}", self.repo),
            false => format!("/{}/-/{kind}/{rest}", self.repo),
        }
    }

    /// The URL of `kind`'s page of `path` at revision `rev`.
    pub fn at(&self, kind: &str, rev: &str, path: &[u8]) -> String {
        let rev = url_path(rev.as_bytes());
        match path.is_empty() {
            true => self.page(kind, &rev),
            false => self.page(kind, &format!("{rev}/{}", url_path(path))),
        }
    }

    /// The URL of a commit's page.
    pub fn commit(&self, id: &ObjectId) -> String {
        self.page("commit", &id.to_hex())
    }
}

/// A page written: its title and its main content.
pub struct Written {
    title: String,
    main: Html,
}

/// Answers a request for a page.
pub fn serve<S: Sql>(store: &Store<S>, request: &Request) -> Result<Reply, StoreError> {
    let fixed = names_fixed_objects(request.page, request.query.query);
    let site = Site {
        repo: request.repo,
        origin: request.origin,
        fixed,
    };
    if !store.exists()? {
        return Ok(error(&site, 404, "repository not found"));
    }
    let caching = match (fixed, request.query.private) {
        (false, _) => Caching::NoCache,
        (true, false) => Caching::Forever,
        (true, true) => Caching::PrivateForever,
    };
    let etag = match fixed {
        true => None,
        false => Some(tag(store)?),
    };
    if let (Some(etag), Some(asked)) = (&etag, request.if_none_match) {
        if asked.split(',').any(|t| t.trim() == etag) {
            let mut reply = Reply::empty(304);
            reply.headers.push(("ETag", etag.clone()));
            return Ok(reply);
        }
    }
    let written = match render(store, &site, request) {
        Ok(written) => written,
        Err(BrowseError::NotFound(why)) => return Ok(error(&site, 404, &why)),
        Err(BrowseError::Bad(why)) => return Ok(error(&site, 400, &why)),
        Err(BrowseError::Store(e)) => return Err(e),
    };
    let mut reply = html(&site, 200, &written);
    reply.caching = caching;
    if let Some(etag) = etag {
        reply.headers.push(("ETag", etag));
    }
    Ok(reply)
}

fn render<S: Sql>(
    store: &Store<S>,
    site: &Site,
    request: &Request,
) -> Result<Written, BrowseError> {
    let reader = ObjectReader::new(store);
    let query = &request.query;
    match request.page {
        Page::Summary => summary::page(&reader, site),
        Page::Tree(rest) => tree::page(&reader, site, rest),
        Page::Blob(rest) => blob::page(&reader, site, rest, query),
        Page::Commits(rev) => log::page(&reader, site, rev, query),
        Page::Commit(rev) => commit::page(&reader, site, rev),
        Page::Compare(both) => commit::compare(&reader, site, both),
        Page::Refs => refs::page(&reader, site),
    }
}

/// Whether a page names its objects by full ids only: then what it shows never changes.
fn names_fixed_objects(page: &Page, query: &str) -> bool {
    let full = |rev: &str| ObjectId::from_hex(rev.as_bytes()).is_some();
    let first = |rest: &str| full(rest.split('/').next().unwrap_or_default());
    match page {
        Page::Summary | Page::Refs => false,
        Page::Tree(rest) | Page::Blob(rest) => first(rest),
        // A cursor names the commit the first page started from.
        Page::Commits(rev) => {
            full(rev) || crate::http::route::query_value(query, "cursor").is_some()
        }
        Page::Commit(rev) => full(rev),
        Page::Compare(both) => both
            .split_once("...")
            .is_some_and(|(a, b)| full(a) && full(b)),
    }
}

/// The tag of what a page naming refs can show: it changes when the refs or HEAD change,
/// and with the server's version (which may draw pages differently).
fn tag<S: Sql>(store: &Store<S>) -> Result<String, StoreError> {
    let head = store.head_target()?.unwrap_or_default();
    let version = store.refs_version()?;
    let head = crc32fast::hash(head.as_bytes());
    Ok(format!(
        "W/\"{}-{version}-{head:08x}\"",
        env!("CARGO_PKG_VERSION")
    ))
}

/// A whole page: the layout around `written`.
fn html(site: &Site, status: u16, written: &Written) -> Reply {
    let mut page = Html::default();
    let home = format!("/{}", site.repo);
    page.raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .raw("<title>")
        .text(&written.title)
        .raw(" · ")
        .text(site.repo)
        .raw("</title><link rel=\"stylesheet\" href=\"")
        .raw(STYLE_PATH)
        .raw("\"><script src=\"")
        .raw(SCRIPT_PATH)
        .raw("\" defer></script></head><body><header><h1>");
    page.link(&home, "", site.repo);
    page.raw("</h1><nav aria-label=\"repository\">");
    page.link(&home, "", "Summary");
    page.link(&site.page("tree", "HEAD"), "", "Files");
    page.link(&site.page("commits", ""), "", "Commits");
    page.link(&site.page("refs", ""), "", "Refs");
    page.raw("</nav></header><main>");
    let mut body = page.finish();
    body.push_str(written.main.as_str());
    body.push_str("</main></body></html>\n");
    let mut reply = Reply::ok(
        "text/html; charset=utf-8",
        Caching::NoCache,
        body.into_bytes(),
    );
    reply.status = status;
    reply
        .headers
        .push(("Content-Security-Policy", POLICY.into()));
    reply
        .headers
        .push(("X-Content-Type-Options", "nosniff".into()));
    reply
        .headers
        .push(("Referrer-Policy", "same-origin".into()));
    reply
}

/// A page saying why there is nothing to show.
fn error(site: &Site, status: u16, why: &str) -> Reply {
    let mut main = Html::default();
    main.raw("<h2>")
        .num(status)
        .raw("</h2><p class=\"error\">")
        .text(why)
        .raw("</p>");
    let title = match status {
        404 => "Not found",
        _ => "Bad request",
    };
    let written = Written {
        title: title.into(),
        main,
    };
    html(site, status, &written)
}

/// The first seven hex digits of an id, as git abbreviates it.
fn short(id: &ObjectId) -> String {
    id.to_hex().chars().take(7).collect()
}

/// A commit read for showing.
struct Shown {
    id: ObjectId,
    parents: Vec<ObjectId>,
    tree: ObjectId,
    author: Person,
    committer: Person,
    message: String,
}

/// An author or committer as shown.
struct Person {
    name: String,
    email: String,
    /// RFC 3339 in the zone it was made in.
    date: Option<String>,
}

impl Shown {
    /// The first line of the message.
    fn subject(&self) -> &str {
        self.message.lines().next().unwrap_or_default()
    }
}

/// Commit `id`, read and decoded as `git log` shows it.
fn read_commit<S: Sql>(reader: &ObjectReader<S>, id: &ObjectId) -> Result<Shown, BrowseError> {
    let data = crate::browse::read_as(reader, id, ObjectType::Commit)?;
    let parsed =
        commit_object::parse(&data).map_err(crate::browse::corrupt(ObjectType::Commit, *id))?;
    let person = |ident: &crate::format::ident::Ident| Person {
        name: decode(ident.name, parsed.encoding),
        email: decode(ident.email, parsed.encoding),
        date: ident.date(),
    };
    Ok(Shown {
        id: *id,
        parents: parsed.parents.clone(),
        tree: parsed.tree,
        author: person(&parsed.author),
        committer: person(&parsed.committer),
        message: decode(parsed.message, parsed.encoding),
    })
}

/// `<time>` for a date, showing its day.
fn time(html: &mut Html, date: Option<&str>) {
    let Some(date) = date else {
        return;
    };
    html.raw("<time datetime=\"").text(date).raw("\">");
    html.text(date.get(..10).unwrap_or(date)).raw("</time>");
}

/// A commit in brief: short id, subject, author, date.
fn commit_parts(html: &mut Html, site: &Site, commit: &Shown) {
    html.link(&site.commit(&commit.id), "id", &short(&commit.id));
    html.raw(" <span class=\"subject\">")
        .text(commit.subject())
        .raw("</span> ");
    html.raw("<span class=\"author\">")
        .text(&commit.author.name)
        .raw("</span> ");
    time(html, commit.author.date.as_deref());
}

/// A commit as a line of a log.
fn commit_line(html: &mut Html, site: &Site, commit: &Shown) {
    html.raw("<li class=\"commit\">");
    commit_parts(html, site, commit);
    html.raw("</li>");
}
