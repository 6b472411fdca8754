//! URL layout: `/<owner>/<repo>.git/<endpoint>` or `/<repo>.git/<endpoint>`, `.git` optional.

use crate::format::object::ObjectId;
use crate::format::percent_decode;
use crate::store::PackFile;

/// What a request asks of a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `info/refs`
    InfoRefs,
    /// `HEAD`
    Head,
    /// `objects/xx/<38 hex>`
    LooseObject(ObjectId),
    /// `objects/info/packs`
    InfoPacks,
    /// `objects/info/alternates` or `objects/info/http-alternates`: we have none.
    Alternates,
    /// `objects/pack/pack-<name>.pack` or `.idx`
    PackFile(String, PackFile),
    /// `git-receive-pack`
    ReceivePack,
    /// `git-upload-pack`
    UploadPack,
    /// The JSON endpoints under `api`.
    Api(Api),
    /// Git LFS, under `info/lfs`.
    Lfs(Lfs),
    /// A web page, under `-` (the summary at the repository's own path).
    Page(Page),
}

/// A web page of a repository: HTML for a browser, read as the JSON API reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Page {
    /// The repository's own path: its README, root tree and latest commit.
    Summary,
    /// `-/tree/<rev>/<path>`: a directory (the rest of the path, still %-encoded).
    Tree(String),
    /// `-/blob/<rev>/<path>`: a file.
    Blob(String),
    /// `-/commits/<rev>`: the history (`?path=&cursor=`); an empty revision is HEAD.
    Commits(String),
    /// `-/commit/<rev>`: one commit and its diff.
    Commit(String),
    /// `-/compare/<base>...<head>`: commits and diff.
    Compare(String),
    /// `-/refs`: branches and tags.
    Refs,
}

/// A Git LFS endpoint of a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lfs {
    /// `info/lfs/objects/batch`: the Batch API (POST).
    Batch,
    /// `info/lfs/objects/<oid>`: one object's bytes (PUT uploads, GET downloads), with the
    /// grant a batch answer gave; served by the Worker from the bucket.
    Object(String),
    /// `info/lfs/verify`: an upload's verify action (POST).
    Verify,
    /// `info/lfs/locks`: list (GET) and create (POST) locks.
    Locks,
    /// `info/lfs/locks/verify`: the locks, the caller's apart (POST).
    LocksVerify,
    /// `info/lfs/locks/<id>/unlock` (POST).
    Unlock(String),
}

/// A JSON endpoint of a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Api {
    /// `api`: the repository itself (PUT creates it, DELETE deletes it).
    Repo,
    /// `api/tokens`: list (GET) and create (POST) tokens.
    Tokens,
    /// `api/tokens/<id>`: one token (DELETE revokes it).
    Token(String),
    /// `api/settings`: GET and PATCH.
    Settings,
    /// `api/maintenance`: POST starts maintenance now.
    Maintenance,
    /// `api/purge`: POST drops at once every object no ref reaches.
    Purge,
    /// `api/import`: POST fills a new or empty repository from another Git server, or
    /// from a repository of this server.
    Import,
    /// `api/fork`: POST makes a new repository from this one.
    Fork,
    /// `api/mirror`: DELETE makes a mirror an ordinary repository.
    Mirror,
    /// `api/mirror/sync`: POST makes a mirror fetch now.
    MirrorSync,
    /// `api/hooks`: list (GET) and register (POST) webhooks.
    Hooks,
    /// `api/hooks/<id>`: one webhook (DELETE removes it).
    Hook(String),
    /// `api/hooks/<id>/deliveries`: a webhook's last deliveries (GET).
    Deliveries(String),
    /// `api/refs`: the refs (`?prefix=`).
    Refs,
    /// `api/commits`: the history (`?ref=&limit=&cursor=&path=`).
    Commits,
    /// `api/commit/<rev>`: one commit and the paths it changed.
    Commit(String),
    /// `api/tree/<rev>/<path>`: a tree's entries (the rest of the path, still %-encoded).
    Tree(String),
    /// `api/compare/<base>...<head>`: what `head` has that `base` lacks.
    Compare(String),
    /// `api/raw/<rev>/<path>`: a file's bytes.
    Raw(String),
}

/// A parsed request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The repository's canonical name (`owner/repo`, without `.git`): one Durable Object each.
    pub repo: String,
    /// What is asked of it.
    pub endpoint: Endpoint,
}

fn valid_segment(segment: &str) -> bool {
    !segment.is_empty()
        && !segment.starts_with('.')
        && !segment.contains("..")
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn endpoint(parts: &[&str]) -> Option<Endpoint> {
    Some(match parts {
        ["info", "refs"] => Endpoint::InfoRefs,
        ["HEAD"] => Endpoint::Head,
        ["git-receive-pack"] => Endpoint::ReceivePack,
        ["git-upload-pack"] => Endpoint::UploadPack,
        ["api"] => Endpoint::Api(Api::Repo),
        ["api", "tokens"] => Endpoint::Api(Api::Tokens),
        ["api", "tokens", id] => Endpoint::Api(Api::Token(id.to_string())),
        ["api", "settings"] => Endpoint::Api(Api::Settings),
        ["api", "maintenance"] => Endpoint::Api(Api::Maintenance),
        ["api", "purge"] => Endpoint::Api(Api::Purge),
        ["api", "import"] => Endpoint::Api(Api::Import),
        ["api", "fork"] => Endpoint::Api(Api::Fork),
        ["api", "mirror"] => Endpoint::Api(Api::Mirror),
        ["api", "mirror", "sync"] => Endpoint::Api(Api::MirrorSync),
        ["api", "hooks"] => Endpoint::Api(Api::Hooks),
        ["api", "hooks", id] => Endpoint::Api(Api::Hook(id.to_string())),
        ["api", "hooks", id, "deliveries"] => Endpoint::Api(Api::Deliveries(id.to_string())),
        ["api", "refs"] => Endpoint::Api(Api::Refs),
        ["api", "commits"] => Endpoint::Api(Api::Commits),
        ["api", "commit", rev] => Endpoint::Api(Api::Commit(rev.to_string())),
        ["api", "tree", rest @ ..] if !rest.is_empty() => Endpoint::Api(Api::Tree(rest.join("/"))),
        ["api", "compare", rest @ ..] if !rest.is_empty() => {
            Endpoint::Api(Api::Compare(rest.join("/")))
        }
        ["api", "raw", rest @ ..] if rest.len() >= 2 => Endpoint::Api(Api::Raw(rest.join("/"))),
        ["info", "lfs", rest @ ..] => Endpoint::Lfs(lfs(rest)?),
        ["-", rest @ ..] => page(rest)?,
        ["objects", "info", "packs"] => Endpoint::InfoPacks,
        ["objects", "info", "alternates" | "http-alternates"] => Endpoint::Alternates,
        ["objects", "pack", file] => {
            let (name, kind) = if let Some(name) = file.strip_suffix(".pack") {
                (name, PackFile::Pack)
            } else {
                (file.strip_suffix(".idx")?, PackFile::Idx)
            };
            let name = name.strip_prefix("pack-")?;
            ObjectId::from_hex(name.as_bytes())?;
            Endpoint::PackFile(name.to_string(), kind)
        }
        ["objects", dir, file] if dir.len() == 2 && file.len() == 38 => {
            Endpoint::LooseObject(ObjectId::from_hex(format!("{dir}{file}").as_bytes())?)
        }
        _ => return None,
    })
}

/// A page under `-`; a file's bytes are the API's raw endpoint under another path.
fn page(parts: &[&str]) -> Option<Endpoint> {
    let joined = |rest: &[&str]| rest.join("/");
    let page = match parts {
        ["tree", rest @ ..] if !rest.is_empty() => Page::Tree(joined(rest)),
        ["blob", rest @ ..] if rest.len() >= 2 => Page::Blob(joined(rest)),
        ["commits", rest @ ..] => Page::Commits(joined(rest)),
        ["commit", rest @ ..] if !rest.is_empty() => Page::Commit(joined(rest)),
        ["compare", rest @ ..] if !rest.is_empty() => Page::Compare(joined(rest)),
        ["refs"] => Page::Refs,
        ["raw", rest @ ..] if rest.len() >= 2 => {
            return Some(Endpoint::Api(Api::Raw(joined(rest))))
        }
        _ => return None,
    };
    Some(Endpoint::Page(page))
}

fn lfs(parts: &[&str]) -> Option<Lfs> {
    Some(match parts {
        ["objects", "batch"] => Lfs::Batch,
        ["objects", oid] if crate::lfs::valid_oid(oid) => Lfs::Object(oid.to_string()),
        ["verify"] => Lfs::Verify,
        ["locks"] => Lfs::Locks,
        ["locks", "verify"] => Lfs::LocksVerify,
        ["locks", id, "unlock"] => Lfs::Unlock(id.to_string()),
        _ => return None,
    })
}

/// The value of `key` in a query string (`a=1&b=2`), decoded as a form's (`+` is a space);
/// the first if it is given twice.
pub fn query_value(query: &str, key: &str) -> Option<Vec<u8>> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(&name.replace('+', " "));
        (name == key.as_bytes()).then(|| percent_decode(&value.replace('+', " ")))
    })
}

/// Why a path is not one of ours: HTTP answers 404 with this one line.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotFound {
    /// A repository name with characters outside the allowed set.
    #[error("invalid repository name: use letters, digits, '.', '_' and '-'")]
    RepositoryCharacters,
    /// A repository name that is empty or ends in `/` or `.`.
    #[error("invalid repository name")]
    RepositoryName,
    /// A repository named `api` or owned by `api`: the name is the server's own (`/<owner>/api`
    /// is also the owner's repository's API).
    #[error(
        "the name api is reserved for the server's own endpoints: name the repository otherwise"
    )]
    Reserved,
    /// No git endpoint at this path.
    #[error("not found: {0} is not a git endpoint (expected /<owner>/<repo>.git/info/refs and the like)")]
    Endpoint(String),
}

/// The name no repository and no owner may have: the server's endpoints live under it, and
/// `/<owner>/api` is the API of a repository named `<owner>`.
pub const RESERVED: &str = "api";

/// Parses a request path, or says why it is not one of ours.
pub fn parse(path: &str) -> Result<Route, NotFound> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for split in 1..=2.min(parts.len()) {
        let (repo, rest) = parts.split_at(split);
        let endpoint = match rest {
            // The repository's own path (a trailing `/` allowed) is its summary page.
            [] | [""] => Endpoint::Page(Page::Summary),
            rest => match endpoint(rest) {
                Some(endpoint) => endpoint,
                None => continue,
            },
        };
        if !repo.iter().all(|s| valid_segment(s)) {
            return Err(NotFound::RepositoryCharacters);
        }
        let mut name = repo.join("/");
        if let Some(stripped) = name.strip_suffix(".git") {
            name = stripped.to_string();
        }
        if name.is_empty() || name.ends_with('/') || name.ends_with('.') {
            return Err(NotFound::RepositoryName);
        }
        if name.split('/').any(|part| part == RESERVED) {
            return Err(NotFound::Reserved);
        }
        return Ok(Route {
            repo: name,
            endpoint,
        });
    }
    Err(NotFound::Endpoint(path.into()))
}

/// The canonical name of the repository `name` (`owner/repo`, `.git` optional), as a path
/// to it would be read, or why no repository has it.
pub fn repository(name: &str) -> Result<String, NotFound> {
    match parse(&format!("/{name}/api")) {
        Ok(route) if route.endpoint == Endpoint::Api(Api::Repo) => Ok(route.repo),
        Ok(_) => Err(NotFound::RepositoryName),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_has_its_path_and_near_misses_have_none() {
        let id = "0123456789abcdef0123456789abcdef01234567";
        let oid = ObjectId::from_hex(id.as_bytes()).unwrap();
        let sha256 = format!("{id}{}", id.get(..24).unwrap());
        let cut = |at: usize| id.split_at(at);
        let api = |api| Endpoint::Api(api);
        let page = |page| Endpoint::Page(page);
        let cases = [
            ("info/refs", Endpoint::InfoRefs),
            ("HEAD", Endpoint::Head),
            ("git-receive-pack", Endpoint::ReceivePack),
            ("git-upload-pack", Endpoint::UploadPack),
            ("api", api(Api::Repo)),
            ("api/tokens", api(Api::Tokens)),
            ("api/tokens/t1", api(Api::Token("t1".into()))),
            ("api/settings", api(Api::Settings)),
            ("api/maintenance", api(Api::Maintenance)),
            ("api/purge", api(Api::Purge)),
            ("api/refs", api(Api::Refs)),
            ("api/commits", api(Api::Commits)),
            ("api/commit/HEAD~1", api(Api::Commit("HEAD~1".into()))),
            ("api/tree/main", api(Api::Tree("main".into()))),
            ("api/tree/main/a/b", api(Api::Tree("main/a/b".into()))),
            ("api/compare/a...b", api(Api::Compare("a...b".into()))),
            ("api/raw/main/a", api(Api::Raw("main/a".into()))),
            ("info/lfs/objects/batch", Endpoint::Lfs(Lfs::Batch)),
            (
                &format!("info/lfs/objects/{sha256}"),
                Endpoint::Lfs(Lfs::Object(sha256.clone())),
            ),
            ("info/lfs/verify", Endpoint::Lfs(Lfs::Verify)),
            ("info/lfs/locks", Endpoint::Lfs(Lfs::Locks)),
            ("info/lfs/locks/verify", Endpoint::Lfs(Lfs::LocksVerify)),
            (
                "info/lfs/locks/7/unlock",
                Endpoint::Lfs(Lfs::Unlock("7".into())),
            ),
            ("-/tree/main", page(Page::Tree("main".into()))),
            (
                "-/tree/feature/x/a%20b",
                page(Page::Tree("feature/x/a%20b".into())),
            ),
            ("-/blob/main/a", page(Page::Blob("main/a".into()))),
            ("-/commits", page(Page::Commits(String::new()))),
            ("-/commits/main", page(Page::Commits("main".into()))),
            ("-/commit/HEAD~1", page(Page::Commit("HEAD~1".into()))),
            ("-/compare/a...b", page(Page::Compare("a...b".into()))),
            ("-/refs", page(Page::Refs)),
            ("-/raw/main/a", api(Api::Raw("main/a".into()))),
            ("objects/info/packs", Endpoint::InfoPacks),
            ("objects/info/alternates", Endpoint::Alternates),
            ("objects/info/http-alternates", Endpoint::Alternates),
            (
                &format!("objects/pack/pack-{id}.pack"),
                Endpoint::PackFile(id.into(), PackFile::Pack),
            ),
            (
                &format!("objects/pack/pack-{id}.idx"),
                Endpoint::PackFile(id.into(), PackFile::Idx),
            ),
            (
                &format!("objects/{}/{}", cut(2).0, cut(2).1),
                Endpoint::LooseObject(oid),
            ),
        ];
        for (rest, endpoint) in cases {
            for (repo, name) in [("/o/r.git", "o/r"), ("/o/r", "o/r"), ("/r.git", "r")] {
                let route = Route {
                    repo: name.into(),
                    endpoint: endpoint.clone(),
                };
                assert_eq!(parse(&format!("{repo}/{rest}")), Ok(route), "{repo}/{rest}");
            }
        }
        let misses = [
            "api/tree".to_string(),
            "api/compare".into(),
            "api/raw/main".into(),
            "api/tokens/a/b".into(),
            "objects/info/other".into(),
            "info/lfs".into(),
            "info/lfs/objects".into(),
            format!("info/lfs/objects/{id}"),
            "info/lfs/locks/7".into(),
            "info/lfs/locks/7/unlock/x".into(),
            "-".into(),
            "-/tree".into(),
            "-/blob/main".into(),
            "-/refs/x".into(),
            "-/raw/main".into(),
            "-/other".into(),
            format!("objects/pack/pack-{id}.txt"),
            format!("objects/pack/{id}.pack"),
            format!("objects/pack/pack-{}.idx", cut(1).1),
            format!("objects/{}/{}", cut(3).0, cut(3).1),
            format!("objects/{}/{}", cut(2).0, cut(3).1),
        ];
        for rest in misses {
            let path = format!("/o/r.git/{rest}");
            assert_eq!(parse(&path), Err(NotFound::Endpoint(path.clone())));
        }
        for (path, repo) in [
            ("/o/r", "o/r"),
            ("/o/r/", "o/r"),
            ("/o/r.git", "o/r"),
            ("/r", "r"),
        ] {
            let summary = Endpoint::Page(Page::Summary);
            assert_eq!(
                parse(path).map(|r| (r.repo, r.endpoint)),
                Ok((repo.into(), summary))
            );
        }
        assert_eq!(parse("/o/r./HEAD"), Err(NotFound::RepositoryName));
        for path in [
            "/api/info/refs",
            "/api.git/HEAD",
            "/api/r.git/info/refs",
            "/api/r",
            "/api",
            "/o/api.git/info/refs",
            "/o/api/HEAD",
        ] {
            assert_eq!(parse(path), Err(NotFound::Reserved), "{path}");
        }
        // Only the whole name is reserved; `/o/api` is repository o's API.
        assert_eq!(parse("/apis/r/HEAD").unwrap().repo, "apis/r");
        assert_eq!(parse("/o/api-x/HEAD").unwrap().repo, "o/api-x");
        assert_eq!(parse("/o/api").unwrap().endpoint, Endpoint::Api(Api::Repo));
        assert_eq!(parse("/o/r!/HEAD"), Err(NotFound::RepositoryCharacters));
    }

    #[test]
    fn decodes_paths_and_queries() {
        let query = "ref=refs%2Fheads%2Fmain&path=a+b&limit=5&limit=6&flag";
        assert_eq!(query_value(query, "ref").unwrap(), b"refs/heads/main");
        assert_eq!(query_value(query, "path").unwrap(), b"a b");
        assert_eq!(query_value(query, "limit").unwrap(), b"5");
        assert_eq!(query_value(query, "flag").unwrap(), b"");
        assert_eq!(query_value(query, "cursor"), None);
    }

    #[test]
    fn maps_both_layouts_to_one_name() {
        for path in ["/alice/demo.git/info/refs", "/alice/demo/info/refs"] {
            assert_eq!(
                parse(path).unwrap(),
                Route {
                    repo: "alice/demo".into(),
                    endpoint: Endpoint::InfoRefs
                }
            );
        }
        assert_eq!(parse("/demo.git/HEAD").unwrap().repo, "demo");
        let loose = parse("/a/b.git/objects/ce/013625030ba8dba906f756967f9e9ca394464a").unwrap();
        assert!(matches!(loose.endpoint, Endpoint::LooseObject(_)));
        let idx =
            parse("/a/b/objects/pack/pack-ce013625030ba8dba906f756967f9e9ca394464a.idx").unwrap();
        assert!(matches!(idx.endpoint, Endpoint::PackFile(_, PackFile::Idx)));
        for (path, api) in [
            ("/a/b.git/api", Api::Repo),
            ("/a/b/api/tokens", Api::Tokens),
            ("/a/b.git/api/tokens/0123", Api::Token("0123".into())),
            ("/b.git/api/settings", Api::Settings),
            ("/a/b/api/refs", Api::Refs),
            ("/a/b/api/commits", Api::Commits),
            ("/a/b/api/commit/HEAD", Api::Commit("HEAD".into())),
            ("/a/b/api/tree/main", Api::Tree("main".into())),
            (
                "/a/b/api/tree/feature/x/src/",
                Api::Tree("feature/x/src/".into()),
            ),
            (
                "/a/b/api/compare/v1...main",
                Api::Compare("v1...main".into()),
            ),
            ("/a/b/api/raw/main/a%20b", Api::Raw("main/a%20b".into())),
        ] {
            assert_eq!(parse(path).unwrap().endpoint, Endpoint::Api(api), "{path}");
        }
        assert_eq!(parse("/a/b.git/api/settings").unwrap().repo, "a/b");
    }

    #[test]
    fn rejects_bad_names_and_paths() {
        for path in [
            "/",
            "/a/b/c/info/refs",
            "/../x.git/info/refs",
            "/a/.hidden/info/refs",
            "/a/b..c/info/refs",
            "/a/b c/info/refs",
            "/a/b/objects/zz/013625030ba8dba906f756967f9e9ca394464a",
            "/a/b/objects/pack/pack-1234.pack",
            "/a/b/info/other",
            "/a/b/api/other",
            "/a/b/api/tokens/1/2",
            "/a/b/api/raw/main",
            "/a/b/api/commit/a/b",
            "/.git/info/refs",
        ] {
            assert!(parse(path).is_err(), "{path}");
        }
    }
}
