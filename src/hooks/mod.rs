//! Webhooks: what happens in the repository, told to receivers as GitHub and Gitea tell it
//! (`X-GitHub-Event`, `X-GitHub-Delivery`, `X-Hub-Signature-256`, GitHub's `push` payload),
//! so that existing receivers work unchanged. An event is a row for its body and a row per
//! hook it goes to, written in the transaction of what caused it (a push's ref updates), and
//! sent from the alarm until the receiver takes it ([`deliver`]): nothing is lost when the
//! receiver or the object restarts.
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

pub mod deliver;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::access::settings::Visibility;
use crate::format::date::rfc3339_utc;
use crate::format::ident::Ident;
use crate::format::object::{ObjectId, ObjectType};
use crate::format::pack::Object;
use crate::format::{commit, tag};
use crate::http::reply::Reply;
use crate::rev_walk;
use crate::store::sql::Sql;
use crate::store::{ObjectReader, Store, StoreError};

/// The events a hook may ask for. `ping` is sent once, when a hook is made.
pub const EVENTS: &[&str] = &["push", "import", "maintenance"];

/// The most hooks one repository keeps.
pub const MAX_HOOKS: usize = 20;

/// Commits a push event lists per ref, newest last (GitHub lists up to 2,048; the
/// payload stays small).
const MAX_COMMITS: usize = 20;

/// Refs of one push whose events list their commits; the rest name their head only.
const LISTED_REFS: usize = 20;

/// Steps a forced-update check may walk (past it, the update counts as forced).
const FORCED_BUDGET: usize = 10_000;

/// Refs of one push that get events: a push of more (a mirror's first push, say) tells
/// only of the first ones, as GitHub tells nothing of pushes of thousands of refs.
pub const EVENT_REFS: usize = 100;

/// The longest commit message a payload carries.
const MAX_MESSAGE: usize = 8 << 10;

/// The longest message a head commit carries once its push's listing budget is spent.
const MAX_HEAD_MESSAGE: usize = 1 << 10;

/// Commit and tag bytes one push's payloads read at most: past them, its events name their
/// heads by id alone (each of 100 refs may name a different commit of up to 8 MiB).
const READ_BUDGET: u64 = 32 << 20;

/// Annotated tags a ref's head commit is found through at most.
const MAX_PEEL: usize = 8;

/// The longest name or email a payload carries.
const MAX_IDENT: usize = 256;

/// The bytes of payload one push lists commits in: past them, its events name their heads
/// only (each commit may be listed by every ref of a push, so the messages one push can
/// make the repository keep are bounded here, not by what was pushed).
const LISTING_BUDGET: usize = 256 << 10;

/// Deliveries one hook may have waiting: past them, no more events are queued for it until
/// some are sent or given up (a receiver down for a day would otherwise keep every push's
/// events).
pub const MAX_WAITING: i64 = 1_000;

/// Key in `meta`: the server's URL (scheme and host) as the request that made the latest
/// hook named it, under which payloads link to the repository (its object, woken by the
/// alarm, has no request to learn it from).
pub const BASE_URL: &str = "hooks_base_url";

/// The body of `POST api/hooks`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewHook {
    url: String,
    secret: Option<String>,
    #[serde(default = "push_only")]
    events: Vec<String>,
}

fn push_only() -> Vec<String> {
    vec!["push".into()]
}

/// A registered hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// Its id (16 hex digits).
    pub id: String,
    /// Where its events go.
    pub url: String,
    /// What signs them (none: unsigned).
    pub secret: Option<String>,
    /// The events it asked for.
    pub events: Vec<String>,
    /// When it was made (seconds since the epoch).
    pub created: i64,
    /// Events not queued for it because [`MAX_WAITING`] deliveries were waiting.
    pub dropped: i64,
}

/// A hook as the API shows it: never its secret.
#[derive(Serialize)]
struct HookView<'a> {
    id: &'a str,
    url: &'a str,
    events: &'a [String],
    signed: bool,
    created: String,
    dropped: i64,
}

impl Hook {
    fn view(&self) -> HookView<'_> {
        HookView {
            id: &self.id,
            url: &self.url,
            events: &self.events,
            signed: self.secret.is_some(),
            created: rfc3339_utc(self.created),
            dropped: self.dropped,
        }
    }
}

/// Who and what an event is about: the repository's name and who caused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The repository (`owner/repo`).
    pub repo: String,
    /// Who pushed: `admin`, `token <id>`, or `anonymous`.
    pub pusher: String,
    /// Seconds since the epoch.
    pub now: i64,
}

impl Origin {
    /// The repository as payloads name it, in GitHub's shape: names, owner, visibility,
    /// default branch and its URLs on this server.
    pub fn repository<S: Sql>(&self, store: &Store<S>) -> Result<Value, StoreError> {
        let repo = self.repo.as_str();
        let name = repo.rsplit('/').next().unwrap_or(repo);
        let owner = repo.split('/').next().filter(|_| repo.contains('/'));
        let base = store.meta(BASE_URL)?.unwrap_or_default();
        let head = store.head_target()?.unwrap_or_default();
        let private = store.settings()?.visibility == Visibility::Private;
        Ok(json!({
            "name": name,
            "full_name": repo,
            "owner": {
                "login": owner.unwrap_or(name),
                "name": owner.unwrap_or(name),
                "username": owner.unwrap_or(name),
            },
            "private": private,
            "default_branch": head.strip_prefix("refs/heads/").unwrap_or(&head),
            "html_url": format!("{base}/{repo}"),
            "url": format!("{base}/{repo}"),
            "clone_url": format!("{base}/{repo}.git"),
        }))
    }
}

/// `POST api/hooks`: registers a hook and queues its `ping` (201 with the hook), or says
/// what is wrong with the request (400).
pub fn create<S: Sql>(
    store: &Store<S>,
    body: &[u8],
    random: &[u8],
    origin: &Origin,
    base_url: &str,
) -> Result<Reply, StoreError> {
    let asked: NewHook = match serde_json::from_slice(body) {
        Ok(asked) => asked,
        Err(e) => return Ok(bad(&e.to_string())),
    };
    if let Some(why) = refusal(&asked) {
        return Ok(bad(&why));
    }
    if store.hooks()?.len() >= MAX_HOOKS {
        return Ok(bad(&format!(
            "at most {MAX_HOOKS} hooks; delete some first"
        )));
    }
    let hook = Hook {
        id: hex::encode(random.get(..8).unwrap_or(random)),
        url: asked.url,
        secret: asked.secret.filter(|s| !s.is_empty()),
        events: asked.events,
        created: origin.now,
        dropped: 0,
    };
    store.transaction(|| {
        store.set_meta(BASE_URL, Some(base_url))?;
        let ping = json!({
            "zen": "Keep it logically awesome.",
            "hook_id": hook.id,
            "hook": { "id": hook.id, "events": hook.events, "config": { "url": hook.url, "content_type": "json" } },
            "repository": origin.repository(store)?,
        });
        store.add_hook(&hook)?;
        queue(store, &[&hook], "ping", &ping, origin)
    })?;
    Ok(Reply::json(201, &hook.view()))
}

fn bad(why: &str) -> Reply {
    Reply::json_error(400, &format!("bad hook request: {why}"))
}

/// What is wrong with a hook asked for, if anything.
fn refusal(asked: &NewHook) -> Option<String> {
    let url = &asked.url;
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    if rest.is_none_or(|rest| rest.is_empty())
        || url.len() > 2048
        || url.contains(char::is_whitespace)
    {
        return Some("url must be an http or https URL (at most 2048 characters)".into());
    }
    if asked.secret.as_ref().is_some_and(|s| s.len() > 1024) {
        return Some("secret must be at most 1024 bytes".into());
    }
    if asked.events.is_empty() || asked.events.len() > EVENTS.len() {
        return Some(format!("events must name some of {EVENTS:?}"));
    }
    let unknown = asked.events.iter().find(|e| !EVENTS.contains(&e.as_str()));
    unknown.map(|e| format!("unknown event {e:?}: events are {EVENTS:?}"))
}

/// `GET api/hooks`.
pub fn list<S: Sql>(store: &Store<S>) -> Result<Reply, StoreError> {
    let hooks = store.hooks()?;
    let views: Vec<HookView> = hooks.iter().map(Hook::view).collect();
    Ok(Reply::json(200, &json!({ "hooks": views })))
}

/// `DELETE api/hooks/<id>`: the hook and its deliveries go (204), or 404.
pub fn delete<S: Sql>(store: &Store<S>, id: &str) -> Result<Reply, StoreError> {
    Ok(match store.delete_hook(id)? {
        true => Reply::empty(204),
        false => Reply::json_error(404, "no such hook"),
    })
}

/// Queues `event` with `payload` for `hooks`: its body kept once, a delivery for each hook
/// under an id unique to this repository, hook and event (the receivers' key for taking
/// each event once).
fn queue<S: Sql>(
    store: &Store<S>,
    hooks: &[&Hook],
    event: &str,
    payload: &Value,
    origin: &Origin,
) -> Result<(), StoreError> {
    if hooks.is_empty() {
        return Ok(());
    }
    let body = store.add_event_body(&payload.to_string())?;
    // One number for the event (a row written), told apart per hook by the digest.
    let sequence = store.next_delivery_number()?;
    for hook in hooks {
        let id = delivery_id(origin, hook, sequence);
        store.add_delivery(&id, &hook.id, event, body, origin.now)?;
    }
    Ok(())
}

/// A delivery id in the shape of GitHub's (a UUID's), never given before here: the event's
/// `sequence` number is never given twice.
fn delivery_id(origin: &Origin, hook: &Hook, sequence: i64) -> String {
    let digest = Sha256::digest(format!("{}\n{}\n{sequence}", origin.repo, hook.id));
    let hex = hex::encode(digest.get(..16).unwrap_or_default());
    format!(
        "{}-{}-{}-{}-{}",
        hex.get(..8).unwrap_or_default(),
        hex.get(8..12).unwrap_or_default(),
        hex.get(12..16).unwrap_or_default(),
        hex.get(16..20).unwrap_or_default(),
        hex.get(20..32).unwrap_or_default()
    )
}

/// Queues `count` events of kind `event` for every hook that asked for it and has room
/// ([`MAX_WAITING`]), counting those a hook had no room for; `payload`, which makes the
/// `count` payloads, is called only if a hook has room.
pub fn announce<S: Sql>(
    store: &Store<S>,
    event: &str,
    count: usize,
    origin: &Origin,
    payload: impl FnOnce() -> Result<Vec<Value>, StoreError>,
) -> Result<(), StoreError> {
    let mut room = Vec::new();
    for hook in store.hooks()? {
        if hook.events.iter().any(|e| e == event) {
            let left = MAX_WAITING - store.waiting_deliveries(&hook.id)?;
            let dropped = count.saturating_sub(usize::try_from(left).unwrap_or(0));
            if dropped > 0 {
                store.count_dropped(&hook.id, dropped)?;
            }
            room.push((hook, left));
        }
    }
    room.retain(|(_, left)| *left > 0);
    if room.is_empty() {
        return Ok(());
    }
    for payload in payload()? {
        let takers: Vec<&Hook> = room
            .iter()
            .filter(|(_, left)| *left > 0)
            .map(|(h, _)| h)
            .collect();
        queue(store, &takers, event, &payload, origin)?;
        room.iter_mut().for_each(|(_, left)| *left -= 1);
    }
    Ok(())
}

/// One ref a push moved: its name, old and new value (zero where it did not or does not
/// exist).
pub struct Moved<'a> {
    /// The full ref name.
    pub name: &'a str,
    /// Before.
    pub old: ObjectId,
    /// After.
    pub new: ObjectId,
}

/// The `push` events of the refs a push moved, one per ref (the first [`EVENT_REFS`]), in
/// GitHub's shape. Called in the push's transaction, once its objects are stored.
pub fn push_payloads<S: Sql>(
    store: &Store<S>,
    origin: &Origin,
    moved: &[Moved],
) -> Result<Vec<Value>, StoreError> {
    let reader = ObjectReader::new(store);
    let repository = origin.repository(store)?;
    let mut payloads = Vec::with_capacity(moved.len());
    let mut spent = Spent::default();
    for (i, m) in moved.iter().take(EVENT_REFS).enumerate() {
        let listed = match i < LISTED_REFS {
            true => MAX_COMMITS,
            false => 0,
        };
        let commits = commits_between(&reader, m.old, m.new, listed, &mut spent)?;
        let head = head_commit(&reader, m.new, &mut spent)?;
        let forced = !m.old.is_zero()
            && !m.new.is_zero()
            && !rev_walk::is_ancestor(m.old, m.new, &mut |ids| store.commits(ids), FORCED_BUDGET)?;
        payloads.push(json!({
            "ref": m.name,
            "before": m.old.to_string(),
            "after": m.new.to_string(),
            "created": m.old.is_zero(),
            "deleted": m.new.is_zero(),
            "forced": forced,
            "base_ref": null,
            "commits": commits,
            "head_commit": head,
            "repository": repository.clone(),
            "pusher": { "name": origin.pusher, "email": null, "username": origin.pusher },
            "sender": { "login": origin.pusher, "username": origin.pusher },
        }));
    }
    Ok(payloads)
}

/// What one push's payloads have spent: the commit and tag bytes they read, and the bytes of
/// JSON their commits take.
#[derive(Default)]
struct Spent {
    read: u64,
    listed: usize,
}

impl Spent {
    fn may_read(&self) -> bool {
        self.read < READ_BUDGET
    }

    fn may_list(&self) -> bool {
        self.may_read() && self.listed < LISTING_BUDGET
    }

    /// Reads `id`, counting its bytes.
    fn read<S: Sql>(
        &mut self,
        reader: &ObjectReader<S>,
        id: &ObjectId,
    ) -> Result<Option<Object>, StoreError> {
        let object = reader.read(id)?;
        self.read += object.as_ref().map_or(0, |o| o.data.len() as u64);
        Ok(object)
    }

    /// `commit` as a payload lists it, counted.
    fn list(&mut self, commit: Value) -> Value {
        self.listed += commit.to_string().len();
        commit
    }
}

/// Up to `max` commits of `new`'s first-parent line not past `old`, oldest first, while the
/// push's budgets last.
fn commits_between<S: Sql>(
    reader: &ObjectReader<S>,
    old: ObjectId,
    new: ObjectId,
    max: usize,
    spent: &mut Spent,
) -> Result<Vec<Value>, StoreError> {
    let mut listed = Vec::new();
    let mut at = new;
    while listed.len() < max && spent.may_list() && !at.is_zero() && at != old {
        let Some(object) = spent.read(reader, &at)? else {
            break;
        };
        if object.kind != ObjectType::Commit {
            break;
        }
        let Ok(parsed) = commit::parse(&object.data) else {
            break;
        };
        listed.push(spent.list(commit_json(&at, &parsed, MAX_MESSAGE)));
        at = parsed.parents.first().copied().unwrap_or(ObjectId::ZERO);
    }
    listed.reverse();
    Ok(listed)
}

/// The commit a ref names, through annotated tags, as a payload shows it: null when there
/// is none, its id alone once the push has read its budget, its message cut short once
/// the push's commit lists have spent theirs.
fn head_commit<S: Sql>(
    reader: &ObjectReader<S>,
    id: ObjectId,
    spent: &mut Spent,
) -> Result<Value, StoreError> {
    let mut at = id;
    for _ in 0..=MAX_PEEL {
        if at.is_zero() {
            break;
        }
        if !spent.may_read() {
            return Ok(json!({ "id": at.to_string() }));
        }
        let Some(object) = spent.read(reader, &at)? else {
            break;
        };
        match object.kind {
            ObjectType::Commit => {
                let Ok(parsed) = commit::parse(&object.data) else {
                    break;
                };
                let max = match spent.may_list() {
                    true => MAX_MESSAGE,
                    false => MAX_HEAD_MESSAGE,
                };
                return Ok(spent.list(commit_json(&at, &parsed, max)));
            }
            ObjectType::Tag => match tag::parse(&object.data) {
                Ok(tag) => at = tag.object,
                Err(_) => break,
            },
            _ => break,
        }
    }
    Ok(Value::Null)
}

fn commit_json(id: &ObjectId, parsed: &commit::Commit, max_message: usize) -> Value {
    let encoding = parsed.encoding;
    let person = |ident: &Ident| {
        json!({
            "name": decode_at_most(ident.name, encoding, MAX_IDENT),
            "email": decode_at_most(ident.email, encoding, MAX_IDENT),
        })
    };
    json!({
        "id": id.to_string(),
        "tree_id": parsed.tree.to_string(),
        "distinct": true,
        "message": decode_at_most(parsed.message, encoding, max_message),
        "timestamp": parsed.committer.date(),
        "author": person(&parsed.author),
        "committer": person(&parsed.committer),
    })
}

/// `text` decoded, cut to at most `max` bytes: the object's bytes are cut before they are
/// decoded, so that a message of megabytes is never copied whole.
fn decode_at_most(text: &[u8], encoding: Option<&[u8]>, max: usize) -> String {
    let mut decoded = commit::decode(text.get(..max).unwrap_or(text), encoding);
    if decoded.len() > max {
        let mut end = max;
        while !decoded.is_char_boundary(end) {
            end -= 1;
        }
        decoded.truncate(end);
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_hooks() {
        let hook = |body: &str| serde_json::from_str::<NewHook>(body).unwrap();
        assert!(refusal(&hook(r#"{"url": "https://example.com/h"}"#)).is_none());
        for body in [
            r#"{"url": "ftp://example.com/h"}"#,
            r#"{"url": "https://"}"#,
            r#"{"url": "https://e.com/h", "events": []}"#,
            r#"{"url": "https://e.com/h", "events": ["issues"]}"#,
        ] {
            assert!(refusal(&hook(body)).is_some(), "{body}");
        }
    }
}
