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
use crate::http::api::read::{names_object, Query};
use crate::http::pages::html::{clip, url_path, Html};
use crate::http::reply::{Caching, Reply};
use crate::http::route::{query_value, Page};
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

/// What crawlers are asked to leave alone: the pages that cost most (diffs, histories).
const ROBOTS: &str = "User-agent: *\nDisallow: /*/-/commit/\nDisallow: /*/-/commits\nDisallow: /*/-/compare/\nDisallow: /*/-/raw/\n";

/// The stylesheet, the script or `robots.txt` when `path` names one (and a 404 for
/// `/favicon.ico`): the same for every repository, answered by the Worker without waking
/// one (a name that no repository has would otherwise make one).
pub fn asset(path: &str) -> Option<Reply> {
    let (content_type, body) = match path {
        STYLE_PATH => ("text/css; charset=utf-8", STYLE),
        SCRIPT_PATH => ("text/javascript; charset=utf-8", SCRIPT),
        "/robots.txt" => ("text/plain; charset=utf-8", ROBOTS),
        "/favicon.ico" => return Some(Reply::text(404, "no icon")),
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

    /// The repository's own page. Its trailing `/` keeps a repository named like an
    /// endpoint (`<owner>/api`, `<owner>/HEAD`) from being read as the owner's endpoint.
    pub fn home(&self) -> String {
        format!("/{}/", self.repo)
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

/// The most steps (commits, parents, trees) a page's walks take: fewer than the API's, as a
/// page is there to be looked at, and a visitor's browser asks again.
const PAGE_STEPS: u64 = 25_000;

/// Answers a request for a page.
pub fn serve<S: Sql>(store: &Store<S>, request: &Request) -> Result<Reply, StoreError> {
    let reader = ObjectReader::new(store);
    reader.set_walk_budget(PAGE_STEPS);
    let mut site = Site {
        repo: request.repo,
        origin: request.origin,
        fixed: false,
    };
    // HEAD is set once a repository exists: read once, for that and for the tag.
    let Some(head) = store.head_target()? else {
        return Ok(error(&site, 404, "repository not found"));
    };
    site.fixed = match names_fixed_objects(&reader, request.page, request.query.query) {
        Ok(fixed) => fixed,
        Err(BrowseError::Store(e)) => return Err(e),
        Err(_) => false,
    };
    let etag = match site.fixed {
        true => None,
        false => Some(tag(store, &head)?),
    };
    if let (Some(etag), Some(asked)) = (&etag, request.if_none_match) {
        if asked.split(',').any(|t| t.trim() == etag) {
            let mut reply = Reply::empty(304);
            reply.headers.push(("ETag", etag.clone()));
            return Ok(reply);
        }
    }
    let written = match render(&reader, &site, request) {
        Ok(written) => written,
        Err(BrowseError::NotFound(why)) => return Ok(error(&site, 404, &why)),
        Err(BrowseError::Bad(why)) => return Ok(error(&site, 400, &why)),
        Err(BrowseError::Store(e)) => return Err(e),
    };
    let mut reply = html(&site, 200, written);
    reply.caching = request.query.cache_policy(site.fixed);
    if let Some(etag) = etag {
        reply.headers.push(("ETag", etag));
    }
    Ok(reply)
}

fn render<S: Sql>(
    reader: &ObjectReader<S>,
    site: &Site,
    request: &Request,
) -> Result<Written, BrowseError> {
    let query = &request.query;
    match request.page {
        Page::Summary => summary::page(reader, site),
        Page::Tree(rest) => tree::page(reader, site, rest),
        Page::Blob(rest) => blob::page(reader, site, rest, query),
        Page::Commits(rev) => log::page(reader, site, rev, query),
        Page::Commit(rev) => commit::page(reader, site, rev),
        Page::Compare(both) => commit::compare(reader, site, both),
        Page::Refs => refs::page(reader, site),
    }
}

/// Whether a page names its objects by full ids only (of objects that are stored: a ref
/// may have such a name too): then what it shows never changes.
fn names_fixed_objects<S: Sql>(
    reader: &ObjectReader<S>,
    page: &Page,
    query: &str,
) -> Result<bool, BrowseError> {
    let full = |rev: &str| names_object(reader, rev);
    let first = |rest: &str| full(rest.split('/').next().unwrap_or_default());
    match page {
        Page::Summary | Page::Refs => Ok(false),
        Page::Tree(rest) | Page::Blob(rest) => first(rest),
        // A cursor names the commit the first page started from.
        Page::Commits(rev) => Ok(full(rev)? || query_value(query, "cursor").is_some()),
        Page::Commit(rev) => full(rev),
        Page::Compare(both) => match both.split_once("...") {
            Some((a, b)) => Ok(full(a)? && full(b)?),
            None => Ok(false),
        },
    }
}

/// The tag of what a page naming refs can show: it changes when the refs or HEAD change,
/// and with the code that draws pages (the hash of the sources it was built from).
fn tag<S: Sql>(store: &Store<S>, head: &str) -> Result<String, StoreError> {
    let version = store.refs_version()?;
    let head = crc32fast::hash(head.as_bytes());
    Ok(format!(
        "W/\"{}-{version}-{head:08x}\"",
        env!("SOURCE_HASH")
    ))
}

/// A whole page: the layout around `written`.
fn html(site: &Site, status: u16, written: Written) -> Reply {
    let mut page = Html::default();
    let home = site.home();
    page.raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        // No icon: a browser would otherwise ask for `/favicon.ico` on every page.
        .raw("<link rel=\"icon\" href=\"data:,\">")
        .raw("<title>")
        .text(&clip(&written.title, MAX_SUBJECT))
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
    let main = written.main.finish();
    let mut body = String::with_capacity(page.as_str().len() + main.len() + 128);
    body.push_str(page.as_str());
    body.push_str(&main);
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

/// The note a loop leaves where it stopped because the page is full.
fn page_full(html: &mut Html) {
    html.raw("<p class=\"cut\">The page stops here: it holds all a page holds. ");
    html.raw("Read the rest with git.</p>");
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
    html(site, status, written)
}

/// `text`, a Markdown file in directory `dir` at `rev`, rendered as an article whose
/// relative links and images resolve there.
fn markdown_article(html: &mut Html, site: &Site, (rev, dir): (&str, &[Vec<u8>]), text: &str) {
    let pages = format!("/{}/-", site.repo);
    let place = markdown::Place {
        pages: &pages,
        rev: &url_path(rev.as_bytes()),
        dir,
    };
    html.raw("<article class=\"markdown\">");
    html.raw(&markdown::render(text, &place)).raw("</article>");
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

/// The most characters of a subject or title shown.
pub(crate) const MAX_SUBJECT: usize = 300;

/// The most characters of a name (a person, a file, a ref) shown.
pub(crate) const MAX_NAME: usize = 1024;

/// A commit in brief: short id, subject, author, date.
fn commit_parts(html: &mut Html, site: &Site, commit: &Shown) {
    html.link(&site.commit(&commit.id), "id", &short(&commit.id));
    html.raw(" <span class=\"subject\">");
    html.text(&clip(commit.subject(), MAX_SUBJECT))
        .raw("</span> ");
    html.raw("<span class=\"author\">");
    html.text(&clip(&commit.author.name, MAX_NAME))
        .raw("</span> ");
    time(html, commit.author.date.as_deref());
}

/// A commit as a line of a log.
fn commit_line(html: &mut Html, site: &Site, commit: &Shown) {
    html.raw("<li class=\"commit\">");
    commit_parts(html, site, commit);
    html.raw("</li>");
}
