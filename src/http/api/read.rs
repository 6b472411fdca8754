//! The read-only endpoints: refs, history, commits, trees and comparisons, as JSON that
//! says what `git for-each-ref`, `log`, `ls-tree -l` and `diff --raw` say.

use std::collections::HashMap;

use serde::Serialize;

use crate::browse::diff_tree::{diff_trees, Change};
use crate::browse::log::{Log, Page, Window};
use crate::browse::rev_parse::{self, tree_of};
use crate::browse::tree_walk::{components, lookup, read_tree, Entry};
use crate::browse::{corrupt, read_as, step, BrowseError};
use crate::format::commit::{self, decode};
use crate::format::ident::Ident;
use crate::format::object::{ObjectId, ObjectType, TreeEntryKind};
use crate::format::percent_decode;
use crate::http::reply::{Caching, Reply};
use crate::http::route::query_value;
use crate::store::sql::Sql;
use crate::store::{ObjectReader, Store, StoreError};

/// Commits a page of `api/commits` shows unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 30;

/// The most commits one page or comparison shows.
pub const MAX_LIMIT: usize = 1000;

/// The commits of a comparison shown unless `limit` says otherwise.
const DEFAULT_COMPARE_LIMIT: usize = 250;

/// The most bytes of commit messages one answer carries: a page ends early, with a cursor.
const MAX_MESSAGES: usize = 8 << 20;

/// What the read endpoints take from a request besides its path.
#[derive(Clone, Copy, Debug, Default)]
pub struct Query<'a> {
    /// The query string, without its `?`.
    pub query: &'a str,
    /// Whether the repository is private: what is immutable is cached by the client only.
    pub private: bool,
}

impl Query<'_> {
    /// The parameter `key`, as text.
    pub(crate) fn text(&self, key: &str) -> Result<Option<String>, BrowseError> {
        query_value(self.query, key)
            .map(|value| {
                String::from_utf8(value)
                    .map_err(|_| BrowseError::Bad(format!("bad {key}: not UTF-8")))
            })
            .transpose()
    }

    /// The parameter `limit`: from 1 to [`MAX_LIMIT`], `default` when absent.
    fn limit(&self, default: usize) -> Result<usize, BrowseError> {
        match self.text("limit")? {
            None => Ok(default),
            Some(text) => text
                .parse()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    BrowseError::Bad(format!("bad limit {text:?}: from 1 to {MAX_LIMIT}"))
                }),
        }
    }

    /// How an answer about `revs` may be cached: for ever when each names an object by its
    /// full id, whose content cannot change.
    pub(crate) fn caching<S: Sql>(
        &self,
        reader: &ObjectReader<S>,
        revs: &[&str],
    ) -> Result<Caching, BrowseError> {
        let mut fixed = true;
        for rev in revs {
            fixed = fixed && names_object(reader, rev)?;
        }
        Ok(self.cache_policy(fixed))
    }

    /// The policy of an answer that never changes (`fixed`), or of one that may.
    pub(crate) fn cache_policy(&self, fixed: bool) -> Caching {
        match (fixed, self.private) {
            (false, _) => Caching::NoCache,
            (true, false) => Caching::Forever,
            (true, true) => Caching::PrivateForever,
        }
    }
}

/// Whether `rev` is the full id of a stored object, which is what it then names: a ref may
/// have such a name too, and what a ref names changes.
pub(crate) fn names_object<S: Sql>(
    reader: &ObjectReader<S>,
    rev: &str,
) -> Result<bool, BrowseError> {
    match ObjectId::from_hex(rev.as_bytes()) {
        Some(id) => Ok(reader.store().locate(&id)?.is_some()),
        None => Ok(false),
    }
}

/// A read's answer, or the reply that refuses it; storage failures pass up.
pub(super) fn answer(result: Result<Reply, BrowseError>) -> Result<Reply, StoreError> {
    match result {
        Ok(reply) => Ok(reply),
        Err(BrowseError::NotFound(why)) => Ok(Reply::json_error(404, &why)),
        Err(BrowseError::Bad(why)) => Ok(Reply::json_error(400, &why)),
        Err(BrowseError::Store(e)) => Err(e),
    }
}

/// JSON with a cache policy.
fn json(caching: Caching, value: &impl Serialize) -> Reply {
    Reply {
        caching,
        ..Reply::json(200, value)
    }
}

/// The answer of `GET api/refs`.
#[derive(Serialize)]
struct RefsView {
    head: String,
    refs: Vec<RefView>,
}

#[derive(Serialize)]
struct RefView {
    name: String,
    oid: ObjectId,
    #[serde(skip_serializing_if = "Option::is_none")]
    peeled: Option<ObjectId>,
}

/// `GET api/refs?prefix=`: the refs, by name.
pub fn refs<S: Sql>(store: &Store<S>, query: &Query) -> Result<Reply, BrowseError> {
    let prefix = query.text("prefix")?.unwrap_or_default();
    let refs = store
        .refs_with_prefix(&prefix)?
        .into_iter()
        .map(|r| RefView {
            name: r.name,
            oid: r.id,
            peeled: r.peeled,
        })
        .collect();
    let head = store.head_target()?.unwrap_or_default();
    Ok(json(Caching::NoCache, &RefsView { head, refs }))
}

/// A commit as the API shows it.
#[derive(Serialize)]
pub(super) struct CommitView {
    oid: ObjectId,
    tree: ObjectId,
    parents: Vec<ObjectId>,
    author: IdentView,
    committer: IdentView,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    files: Option<Vec<FileView>>,
    /// With `files`: whether there were more than are listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated: Option<bool>,
}

#[derive(Serialize)]
struct IdentView {
    name: String,
    email: String,
    /// None where `git log` shows no date: the line has none it can read.
    date: Option<String>,
}

impl IdentView {
    fn of(ident: &Ident, encoding: Option<&[u8]>) -> IdentView {
        IdentView {
            name: decode(ident.name, encoding),
            email: decode(ident.email, encoding),
            date: ident.date(),
        }
    }
}

/// Commit `id` read and shown, its message re-encoded in UTF-8 as `git log` shows it.
fn commit_view<S: Sql>(reader: &ObjectReader<S>, id: &ObjectId) -> Result<CommitView, BrowseError> {
    let data = read_as(reader, id, ObjectType::Commit)?;
    let parsed = commit::parse(&data).map_err(corrupt(ObjectType::Commit, *id))?;
    Ok(CommitView {
        oid: *id,
        tree: parsed.tree,
        parents: parsed.parents.clone(),
        author: IdentView::of(&parsed.author, parsed.encoding),
        committer: IdentView::of(&parsed.committer, parsed.encoding),
        message: decode(parsed.message, parsed.encoding),
        files: None,
        truncated: None,
    })
}

/// The commits `ids` shown, read with one query for where they are, as many as
/// [`MAX_MESSAGES`] bytes of messages allow (at least one); and how many that is.
fn commit_views<S: Sql>(
    reader: &ObjectReader<S>,
    ids: &[ObjectId],
) -> Result<(Vec<CommitView>, usize), BrowseError> {
    reader.learn(ids)?;
    let mut views = Vec::with_capacity(ids.len());
    let mut bytes = 0;
    for id in ids {
        if bytes > MAX_MESSAGES {
            break;
        }
        let view = commit_view(reader, id)?;
        bytes += view.message.len();
        views.push(view);
    }
    let shown = views.len();
    Ok((views, shown))
}

/// A changed path as the API shows it: a line of `git diff --raw`.
#[derive(Serialize)]
struct FileView {
    path: String,
    status: &'static str,
    old_mode: String,
    new_mode: String,
    old_oid: ObjectId,
    new_oid: ObjectId,
}

impl FileView {
    fn of(change: Change) -> FileView {
        FileView {
            path: String::from_utf8_lossy(&change.path).into_owned(),
            status: change.status.letter(),
            old_mode: format!("{:06o}", change.old_mode),
            new_mode: format!("{:06o}", change.new_mode),
            old_oid: change.old_id,
            new_oid: change.new_id,
        }
    }
}

/// The answer of `GET api/commits`.
#[derive(Serialize)]
struct CommitsView {
    commits: Vec<CommitView>,
    next: Option<String>,
}

/// A cursor: where the first page started, and how many commits the pages so far walked.
pub(crate) fn cursor(start: &ObjectId, walked: u64) -> String {
    format!("{start}.{walked}")
}

fn parse_cursor(text: &str) -> Option<(ObjectId, u64)> {
    let (start, walked) = text.split_once('.')?;
    Some((ObjectId::from_hex(start.as_bytes())?, walked.parse().ok()?))
}

/// `GET api/commits?ref=&limit=&cursor=&path=`: a page of `git log <ref> [-- <path>]`.
pub fn commits<S: Sql>(store: &Store<S>, query: &Query) -> Result<Reply, BrowseError> {
    let reader = ObjectReader::new(store);
    let limit = query.limit(DEFAULT_LIMIT)?;
    let rev = query.text("ref")?.unwrap_or_else(|| "HEAD".into());
    let cursor_text = query.text("cursor")?;
    let path = query_value(query.query, "path").unwrap_or_default();
    let (start, page) = log_page(&reader, &rev, cursor_text.as_deref(), &path, limit)?;
    let ids: Vec<ObjectId> = page.commits.iter().map(|(id, _)| *id).collect();
    let (commits, shown) = commit_views(&reader, &ids)?;
    // A page cut short by its messages goes on after its last commit.
    let last_shown = shown.checked_sub(1).and_then(|at| page.commits.get(at));
    let next = match (shown < ids.len(), last_shown) {
        (true, Some(&(_, walked))) => Some(walked),
        _ => page.next,
    };
    let view = CommitsView {
        commits,
        next: next.map(|walked| cursor(&start, walked)),
    };
    // A cursor names the first page's commit by its id.
    let named = match cursor_text {
        Some(_) => start.to_hex(),
        None => rev,
    };
    Ok(json(query.caching(&reader, &[&named])?, &view))
}

/// A page of `git log <rev> [-- <path>]`, of `limit` commits from where `cursor` (a
/// previous page's `next`) says, or from the start; and the commit it started from.
pub(crate) fn log_page<S: Sql>(
    reader: &ObjectReader<S>,
    rev: &str,
    cursor: Option<&str>,
    path: &[u8],
    limit: usize,
) -> Result<(ObjectId, Page), BrowseError> {
    let (start, skip) = match cursor {
        Some(text) => {
            let (id, skip) = parse_cursor(text)
                .ok_or_else(|| BrowseError::Bad(format!("bad cursor {text:?}")))?;
            (rev_parse::commit(reader, &id.to_hex())?, skip)
        }
        None => (rev_parse::commit(reader, rev)?, 0),
    };
    let path = components(path);
    let path = (!path.is_empty()).then_some(&path[..]);
    let page = Log::new(reader).log(start, path, Window { skip, limit })?;
    Ok((start, page))
}

/// `GET api/commit/<rev>`: the commit, and what it changed from its first parent (from
/// nothing for a root commit), as `git diff --raw <rev>^ <rev>` says.
pub fn commit<S: Sql>(store: &Store<S>, rev: &str, query: &Query) -> Result<Reply, BrowseError> {
    let reader = ObjectReader::new(store);
    let rev = text(rev)?;
    let id = rev_parse::commit(&reader, &rev)?;
    let mut view = commit_view(&reader, &id)?;
    let old = match view.parents.first() {
        Some(parent) => Some(tree_of(&reader, parent)?),
        None => None,
    };
    let (changes, cut) = diff_trees(&reader, old, Some(view.tree))?;
    view.files = Some(changes.into_iter().map(FileView::of).collect());
    view.truncated = Some(cut);
    Ok(json(query.caching(&reader, &[&rev])?, &view))
}

/// A %-encoded path segment of a revision, as text.
pub(crate) fn text(encoded: &str) -> Result<String, BrowseError> {
    String::from_utf8(percent_decode(encoded))
        .map_err(|_| BrowseError::Bad(format!("bad revision {encoded:?}: not UTF-8")))
}

/// The most `/`-separated parts a revision in a path may have: past that the request would
/// cost a lookup per part for a name no ref has.
const MAX_REF_SEGMENTS: usize = 32;

/// Splits `<rev>/<path>` (still %-encoded) where the revision ends: at the first `/` after
/// which what comes before names a tree-ish (a ref may have slashes of its own). Returns the
/// revision, its tree and the path's components.
pub(crate) fn rev_and_path<S: Sql>(
    reader: &ObjectReader<S>,
    rest: &str,
) -> Result<(String, ObjectId, Vec<Vec<u8>>), BrowseError> {
    let segments: Vec<&str> = rest.split('/').collect();
    for split in 1..=segments.len().min(MAX_REF_SEGMENTS) {
        step(reader, "finding the revision")?;
        // `split` is at most the number of segments.
        let (rev, path) = segments.split_at(split);
        let rev = text(&rev.join("/"))?;
        match rev_parse::tree(reader, &rev) {
            Ok(tree) => {
                let path = percent_decode(&path.join("/"));
                let path = components(&path).into_iter().map(<[u8]>::to_vec).collect();
                return Ok((rev, tree, path));
            }
            Err(BrowseError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    let first = text(segments.first().copied().unwrap_or_default())?;
    Err(BrowseError::NotFound(format!("unknown revision: {first}")))
}

/// The entry at `path` under `tree`, or a 404 naming the path.
pub(crate) fn entry_at<S: Sql>(
    reader: &ObjectReader<S>,
    tree: &ObjectId,
    path: &[Vec<u8>],
) -> Result<Entry, BrowseError> {
    let parts: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
    lookup(reader, tree, &parts)?.ok_or_else(|| {
        let shown = String::from_utf8_lossy(&parts.join(&b'/')).into_owned();
        BrowseError::NotFound(format!("path not found: {shown}"))
    })
}

/// The most entries one tree answer lists.
pub const MAX_ENTRIES: usize = 10_000;

/// A tree's entries as `git ls-tree -l` lists them: the first [`MAX_ENTRIES`], with the
/// sizes of their blobs.
pub(crate) struct Listing {
    /// The entries, in git's order.
    pub entries: Vec<Entry>,
    /// The size of each blob among them.
    pub sizes: HashMap<ObjectId, u64>,
    /// Whether the tree has more entries.
    pub truncated: bool,
}

/// The listing of tree `id`: its entries read, and their blobs' sizes in one query.
pub(crate) fn listing<S: Sql>(
    reader: &ObjectReader<S>,
    id: &ObjectId,
) -> Result<Listing, BrowseError> {
    let mut entries = read_tree(reader, id)?;
    let truncated = entries.len() > MAX_ENTRIES;
    entries.truncate(MAX_ENTRIES);
    let blobs: Vec<ObjectId> = entries
        .iter()
        .filter(|e| e.kind == TreeEntryKind::Blob)
        .map(|e| e.id)
        .collect();
    let sizes = reader.sizes(&blobs)?;
    Ok(Listing {
        entries,
        sizes,
        truncated,
    })
}

/// The answer of `GET api/tree/...`.
#[derive(Serialize)]
struct TreeView {
    oid: ObjectId,
    entries: Vec<EntryView>,
    truncated: bool,
}

#[derive(Serialize)]
struct EntryView {
    name: String,
    mode: String,
    #[serde(rename = "type")]
    kind: &'static str,
    oid: ObjectId,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
}

/// `GET api/tree/<rev>/<path>`: the entries of the tree at `path` in `rev`, as
/// `git ls-tree -l <rev> <path>/` lists them.
pub fn tree<S: Sql>(store: &Store<S>, rest: &str, query: &Query) -> Result<Reply, BrowseError> {
    let reader = ObjectReader::new(store);
    let (rev, root, path) = rev_and_path(&reader, rest)?;
    let id = match path.is_empty() {
        true => root,
        false => match entry_at(&reader, &root, &path)? {
            Entry {
                kind: TreeEntryKind::Tree,
                id,
                ..
            } => id,
            _ => return Err(BrowseError::Bad("not a tree: the path names a file".into())),
        },
    };
    let Listing {
        entries,
        sizes,
        truncated,
    } = listing(&reader, &id)?;
    let shown = entries
        .into_iter()
        .map(|entry| EntryView {
            name: String::from_utf8_lossy(&entry.name).into_owned(),
            mode: format!("{:06o}", entry.mode),
            kind: entry.kind.name(),
            oid: entry.id,
            // Only blobs were asked for.
            size: sizes.get(&entry.id).copied(),
        })
        .collect();
    let view = TreeView {
        oid: id,
        entries: shown,
        truncated,
    };
    Ok(json(query.caching(&reader, &[&rev])?, &view))
}

/// The answer of `GET api/compare/...`.
#[derive(Serialize)]
struct CompareView {
    base: ObjectId,
    head: ObjectId,
    merge_base: ObjectId,
    commits: Vec<CommitView>,
    files: Vec<FileView>,
    truncated: bool,
}

/// `GET api/compare/<base>...<head>`: the commits of `git log base..head` and the changes
/// of `git diff --raw base...head` (from their merge base to `head`).
pub fn compare<S: Sql>(store: &Store<S>, rest: &str, query: &Query) -> Result<Reply, BrowseError> {
    let reader = ObjectReader::new(store);
    let limit = query.limit(DEFAULT_COMPARE_LIMIT)?;
    let compared = comparison(&reader, rest, limit)?;
    let (changes, cut) = diff_trees(
        &reader,
        Some(tree_of(&reader, &compared.merge_base)?),
        Some(tree_of(&reader, &compared.head)?),
    )?;
    let (commits, shown) = commit_views(&reader, &compared.ids)?;
    let view = CompareView {
        base: compared.base,
        head: compared.head,
        merge_base: compared.merge_base,
        commits,
        files: changes.into_iter().map(FileView::of).collect(),
        truncated: cut || compared.more || shown < compared.ids.len(),
    };
    let revs = [compared.base_rev.as_str(), compared.head_rev.as_str()];
    Ok(json(query.caching(&reader, &revs)?, &view))
}

/// What `<base>...<head>` compares: both revisions as named and resolved, their merge base,
/// and the commits of `git log base..head`.
pub(crate) struct Comparison {
    /// The base, as the request names it.
    pub base_rev: String,
    /// The head, as the request names it.
    pub head_rev: String,
    /// The base's commit.
    pub base: ObjectId,
    /// The head's commit.
    pub head: ObjectId,
    /// Their merge base, which `git diff base...head` starts from.
    pub merge_base: ObjectId,
    /// The commits `head` has that `base` lacks, at most the limit asked.
    pub ids: Vec<ObjectId>,
    /// Whether there are more of them.
    pub more: bool,
}

/// Reads `<base>...<head>` (still %-encoded) and finds what it compares, with at most
/// `limit` commits; a 404 when the histories share no commit.
pub(crate) fn comparison<S: Sql>(
    reader: &ObjectReader<S>,
    rest: &str,
    limit: usize,
) -> Result<Comparison, BrowseError> {
    let both = text(rest)?;
    let Some((base_rev, head_rev)) = both.split_once("...") else {
        return Err(BrowseError::Bad(format!(
            "bad comparison {both:?}: expected <base>...<head>"
        )));
    };
    let base = rev_parse::commit(reader, base_rev)?;
    let head = rev_parse::commit(reader, head_rev)?;
    let mut log = Log::new(reader);
    let merge_base = log
        .merge_base(base, head)?
        .ok_or_else(|| BrowseError::NotFound(format!("{both}: no merge base")))?;
    let (ids, more) = log.range(base, head, limit)?;
    Ok(Comparison {
        base_rev: base_rev.to_string(),
        head_rev: head_rev.to_string(),
        base,
        head,
        merge_base,
        ids,
        more,
    })
}
