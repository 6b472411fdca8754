//! `POST api/import` and `POST api/fork`: what they ask, and the account of an import that
//! `GET api` shows. The host does the fetching (see [`crate::fetch_pack`]); this decides
//! whether an import may start and keeps its record.

use serde::{Deserialize, Serialize};

use crate::fetch_pack::Choice;
use crate::http::reply::Reply;
use crate::http::route;
use crate::store::sql::Sql;
use crate::store::{Store, StoreError, DEFAULT_HEAD};

/// The meta row that holds the import's account.
const ACCOUNT: &str = "import";

/// The meta row that holds the token an import from a URL presents, until it ends.
const TOKEN: &str = "import_token";

/// The longest URL imported from.
const MAX_URL: usize = 2048;

/// Which refs to take, as the request names them.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Refs {
    #[default]
    All,
    Default,
}

impl From<Refs> for Choice {
    fn from(refs: Refs) -> Choice {
        match refs {
            Refs::All => Choice::All,
            Refs::Default => Choice::Default,
        }
    }
}

/// The body of `POST api/import`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportBody {
    url: Option<String>,
    token: Option<String>,
    from: Option<String>,
    #[serde(default)]
    refs: Refs,
}

/// The body of `POST api/fork`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForkBody {
    to: String,
    #[serde(default)]
    refs: Refs,
}

/// Where an import takes its refs and objects from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Another Git server, over smart HTTP, with the token to present.
    Url {
        /// The repository's URL, as `git clone` takes it.
        url: String,
        /// Sent as the password of HTTP Basic authentication.
        token: Option<String>,
    },
    /// A repository of this server (a fork), read with the caller's own credential.
    Repository(String),
}

/// An import asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asked {
    /// Where from.
    pub source: Source,
    /// Which refs.
    pub choice: Choice,
}

/// Reads the body of `POST api/import`, or answers 400 saying what is wrong with it.
pub fn parse(body: &[u8]) -> Result<Asked, Reply> {
    let body: ImportBody = serde_json::from_slice(body)
        .map_err(|e| Reply::json_error(400, &format!("bad import request: {e}")))?;
    let source = match (body.url, body.from, body.token) {
        (Some(url), None, token) => Source::Url {
            url: check_url(url)?,
            token,
        },
        (None, Some(from), None) => {
            Source::Repository(route::repository(&from).map_err(|e| bad(&format!("from: {e}")))?)
        }
        (None, Some(_), Some(_)) => return Err(bad("token goes only with url")),
        _ => return Err(bad("give either url or from")),
    };
    Ok(Asked {
        source,
        choice: body.refs.into(),
    })
}

/// Reads the body of `POST api/fork`: the new repository's canonical name, and the body
/// of the import into it that makes the fork of `from`.
pub fn parse_fork(body: &[u8], from: &str) -> Result<(String, Vec<u8>), Reply> {
    let body: ForkBody = serde_json::from_slice(body)
        .map_err(|e| Reply::json_error(400, &format!("bad fork request: {e}")))?;
    let bad = |why: &str| Reply::json_error(400, &format!("bad fork request: {why}"));
    let to = route::repository(&body.to).map_err(|e| bad(&format!("to: {e}")))?;
    if to == from {
        return Err(bad("a repository cannot be forked into itself"));
    }
    let import = serde_json::json!({ "from": from, "refs": body.refs });
    Ok((to, import.to_string().into_bytes()))
}

fn bad(why: &str) -> Reply {
    Reply::json_error(400, &format!("bad import request: {why}"))
}

/// An http or https URL without credentials in it (they go in `token`, which is not shown).
fn check_url(url: String) -> Result<String, Reply> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("url must begin with https:// or http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("url must name a host, and no credentials (give token)"));
    }
    if url.len() > MAX_URL || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("url is too long or has spaces or control characters"));
    }
    Ok(url)
}

/// Where an import is.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Fetching.
    Running,
    /// Finished: the refs are the source's.
    Done,
    /// Finished without a change to the repository; `error` says why.
    Failed,
}

/// An import's account, as `GET api` shows it under `import`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Account {
    /// Where it is.
    pub state: State,
    /// The URL, or the repository forked.
    pub source: String,
    /// The refs asked for.
    refs: Refs,
    /// Refs created.
    pub created: u64,
    /// Objects the fetched pack held.
    pub objects: u64,
    /// Bytes of the fetched pack.
    pub bytes: u64,
    /// Why it failed, in git's words where git has them.
    pub error: Option<String>,
}

impl Account {
    /// The account of `asked` starting.
    pub fn running(asked: &Asked) -> Account {
        let source = match &asked.source {
            Source::Url { url, .. } => url.clone(),
            Source::Repository(name) => name.clone(),
        };
        let refs = match asked.choice {
            Choice::All => Refs::All,
            Choice::Default => Refs::Default,
        };
        Account {
            state: State::Running,
            source,
            refs,
            created: 0,
            objects: 0,
            bytes: 0,
            error: None,
        }
    }
}

/// Whether an import may start: only into a repository with no refs, and not beside
/// another import. None when it may; the refusal otherwise.
pub fn refusal<S: Sql>(store: &Store<S>) -> Result<Option<Reply>, StoreError> {
    if account(store)?.is_some_and(|a| a.state == State::Running) {
        return Ok(Some(Reply::json_error(409, "an import is running already")));
    }
    if store.count_refs("")? > 0 {
        let why = "the repository has refs: an import goes into a new or empty repository";
        return Ok(Some(Reply::json_error(409, why)));
    }
    Ok(None)
}

/// Records `asked` as running, in a repository that exists from now on (so that `GET api`
/// shows how the import goes); the host then fetches it in the alarm. (A fork is fetched
/// within its request, and only its end is recorded.)
pub fn begin<S: Sql>(store: &Store<S>, asked: &Asked) -> Result<Account, StoreError> {
    let account = Account::running(asked);
    let token = match &asked.source {
        Source::Url { token, .. } => token.as_deref(),
        Source::Repository(_) => None,
    };
    let head = store.head_target()?;
    store.transaction(|| {
        if head.is_none() {
            store.set_head_target(DEFAULT_HEAD)?;
        }
        store.set_meta(TOKEN, token)?;
        record(store, &account)
    })?;
    Ok(account)
}

/// The import from a URL that is running, for the alarm to do (again, if the object
/// restarted while it ran).
pub fn pending<S: Sql>(store: &Store<S>) -> Result<Option<(Asked, Account)>, StoreError> {
    let Some(account) = account(store)?.filter(|a| a.state == State::Running) else {
        return Ok(None);
    };
    let source = Source::Url {
        url: account.source.clone(),
        token: store.meta(TOKEN)?,
    };
    let choice = account.refs.into();
    Ok(Some((Asked { source, choice }, account)))
}

/// Keeps `account`; once it is finished, its token goes.
pub fn record<S: Sql>(store: &Store<S>, account: &Account) -> Result<(), StoreError> {
    if account.state != State::Running {
        store.set_meta(TOKEN, None)?;
    }
    let json = serde_json::to_string(account).unwrap_or_default();
    store.set_meta(ACCOUNT, Some(&json))
}

/// The last import's account, if there was one.
pub fn account<S: Sql>(store: &Store<S>) -> Result<Option<Account>, StoreError> {
    let stored = store.meta(ACCOUNT)?;
    Ok(stored.and_then(|json| serde_json::from_str(&json).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_imports_and_forks() {
        let asked = parse(br#"{"url": "https://example.com/a.git", "token": "t"}"#).unwrap();
        assert_eq!(asked.choice, Choice::All);
        assert!(matches!(asked.source, Source::Url { token: Some(_), .. }));
        let fork = parse(br#"{"from": "o/r.git", "refs": "default"}"#).unwrap();
        assert_eq!(fork.source, Source::Repository("o/r".into()));
        assert_eq!(fork.choice, Choice::Default);
        for bad in [
            &br#"{"url": "ftp://example.com/a"}"#[..],
            br#"{"url": "https://user:pw@example.com/a"}"#,
            br#"{"url": "https://example.com/a b"}"#,
            br#"{"from": "api"}"#,
            br#"{"from": "o/r", "token": "t"}"#,
            br#"{"url": "https://e.com/a", "from": "o/r"}"#,
            br#"{}"#,
            br#"{"url": "https://e.com/a", "extra": 1}"#,
        ] {
            let reply = parse(bad).unwrap_err();
            assert_eq!(reply.status, 400, "{}", String::from_utf8_lossy(bad));
        }
        let (to, body) = parse_fork(br#"{"to": "me/copy.git"}"#, "o/r").unwrap();
        assert_eq!(to, "me/copy");
        assert_eq!(
            parse(&body).unwrap().source,
            Source::Repository("o/r".into())
        );
        assert!(parse_fork(br#"{"to": "o/r"}"#, "o/r").is_err());
        assert!(parse_fork(br#"{"to": "a/b/c"}"#, "o/r").is_err());
    }
}
