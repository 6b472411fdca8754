//! A repository's settings: who may read it, and which refs are protected from force pushes
//! and deletion (git's `receive.denyNonFastForwards` and `receive.denyDeletes`, per pattern).

use serde::{Deserialize, Serialize};

use crate::format::refname;

/// Who may read a repository.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Anyone may clone, fetch and read it.
    #[default]
    Public,
    /// Every read needs a read or write token.
    Private,
}

/// Refs a pattern protects, and from what.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Protection {
    /// A full ref name, where `*` matches any characters, `/` included.
    pub pattern: String,
    /// Refuse updates that are not fast-forwards.
    #[serde(default = "yes")]
    pub deny_force: bool,
    /// Refuse deletion.
    #[serde(default = "yes")]
    pub deny_delete: bool,
}

fn yes() -> bool {
    true
}

/// The most protection patterns a repository keeps, and the longest pattern.
const MAX_PATTERNS: usize = 100;
const MAX_PATTERN: usize = 255;

/// The settings kept in the repository (its default branch is HEAD).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Who may read it.
    pub visibility: Visibility,
    /// Its protected refs.
    pub protect: Vec<Protection>,
}

/// The settings as the API shows them.
#[derive(Debug, Serialize)]
pub struct View<'a> {
    visibility: Visibility,
    default_branch: &'a str,
    protect: &'a [Protection],
}

/// A change to the settings: what it names is replaced (`protect` whole), the rest kept.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    /// New visibility.
    pub visibility: Option<Visibility>,
    /// New default branch, as a branch name (`main`) or a full ref.
    pub default_branch: Option<String>,
    /// New protections, replacing the old.
    pub protect: Option<Vec<Protection>>,
}

/// Why a settings change is refused: 400 with this line.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadSettings {
    /// Not the JSON the endpoint takes.
    #[error("bad settings: {0}")]
    Json(String),
    /// A default branch git would not accept.
    #[error("bad settings: default_branch {0:?} is not a valid branch name")]
    Branch(String),
    /// A pattern that is empty, too long, or outside `refs/`.
    #[error("bad settings: pattern {0:?} must be a ref name under refs/ of at most 255 bytes")]
    Pattern(String),
    /// Too many patterns.
    #[error("bad settings: at most 100 protect patterns")]
    TooMany,
}

impl Patch {
    /// Parses and checks a PATCH body.
    pub fn parse(body: &[u8]) -> Result<Patch, BadSettings> {
        let patch: Patch =
            serde_json::from_slice(body).map_err(|e| BadSettings::Json(e.to_string()))?;
        if let Some(branch) = &patch.default_branch {
            if branch_ref(branch).is_none() {
                return Err(BadSettings::Branch(branch.clone()));
            }
        }
        let protect = patch.protect.as_deref().unwrap_or_default();
        if protect.len() > MAX_PATTERNS {
            return Err(BadSettings::TooMany);
        }
        for Protection { pattern, .. } in protect {
            if !pattern.starts_with("refs/") || pattern.len() > MAX_PATTERN {
                return Err(BadSettings::Pattern(pattern.clone()));
            }
        }
        Ok(patch)
    }
}

/// The full ref of a branch named as `main` or `refs/heads/main`, if git accepts it.
pub fn branch_ref(branch: &str) -> Option<String> {
    let full = match branch.strip_prefix("refs/heads/") {
        Some(_) => branch.to_string(),
        None => format!("refs/heads/{branch}"),
    };
    refname::is_valid_push_name(&full, false).then_some(full)
}

impl Settings {
    /// The settings as shown, with `head` (the ref HEAD names) as the default branch.
    pub fn view<'a>(&'a self, head: &'a str) -> View<'a> {
        View {
            visibility: self.visibility,
            default_branch: head.strip_prefix("refs/heads/").unwrap_or(head),
            protect: &self.protect,
        }
    }

    /// Whether `name` may be force-pushed and deleted: (deny_force, deny_delete), each set
    /// if any pattern matching `name` sets it.
    pub fn denies(&self, name: &str) -> (bool, bool) {
        self.protect
            .iter()
            .filter(|p| glob_matches(p.pattern.as_bytes(), name.as_bytes()))
            .fold((false, false), |(force, delete), p| {
                (force || p.deny_force, delete || p.deny_delete)
            })
    }
}

/// Whether `name` matches `pattern`, where `*` matches any run of bytes. The greedy match
/// with one backtrack point is linear in practice and O(len²) at worst.
fn glob_matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // The last star seen, and where in the name what it matches ends.
    let mut star: Option<(usize, usize)> = None;
    while let Some(byte) = name.get(n) {
        let at = pattern.get(p);
        if at == Some(&b'*') {
            star = Some((p, n));
            p += 1;
        } else if at == Some(byte) {
            p += 1;
            n += 1;
        } else if let Some((sp, sn)) = star {
            // The last star takes one more byte, and matching goes on from there.
            p = sp;
            n = sn + 1;
        } else {
            return false;
        }
    }
    pattern.iter().skip(p).all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_refspecs_do() {
        let m = |p: &str, n: &str| glob_matches(p.as_bytes(), n.as_bytes());
        assert!(m("refs/heads/main", "refs/heads/main"));
        assert!(!m("refs/heads/main", "refs/heads/main2"));
        assert!(!m("refs/heads/main", "refs/heads/mai"));
        assert!(m("refs/heads/*", "refs/heads/a/b"));
        assert!(m("refs/heads/release/*", "refs/heads/release/1.0"));
        assert!(!m("refs/heads/release/*", "refs/heads/release"));
        assert!(m("refs/*/v*", "refs/tags/v1"));
        assert!(m("*", "refs/x"));
        assert!(m("refs/heads/*-stable", "refs/heads/a-b-stable"));
        assert!(!m("refs/heads/*-stable", "refs/heads/a-stable-x"));
    }

    #[test]
    fn every_matching_pattern_adds_its_denials() {
        let settings = Settings {
            visibility: Visibility::Private,
            protect: vec![
                Protection {
                    pattern: "refs/heads/main".into(),
                    deny_force: true,
                    deny_delete: false,
                },
                Protection {
                    pattern: "refs/heads/*".into(),
                    deny_force: false,
                    deny_delete: true,
                },
            ],
        };
        assert_eq!(settings.denies("refs/heads/main"), (true, true));
        assert_eq!(settings.denies("refs/heads/topic"), (false, true));
        assert_eq!(settings.denies("refs/tags/v1"), (false, false));
    }

    #[test]
    fn patches_are_checked() {
        let patch = Patch::parse(br#"{"protect":[{"pattern":"refs/heads/main"}]}"#).unwrap();
        let protect = patch.protect.unwrap();
        assert!(protect[0].deny_force && protect[0].deny_delete);
        assert_eq!(
            Patch::parse(br#"{"visibility":"private","default_branch":"refs/heads/dev"}"#),
            Ok(Patch {
                visibility: Some(Visibility::Private),
                default_branch: Some("refs/heads/dev".into()),
                protect: None
            })
        );
        assert!(matches!(
            Patch::parse(b"{\"visibility\":\"secret\"}"),
            Err(BadSettings::Json(_))
        ));
        assert!(matches!(
            Patch::parse(b"{\"colour\":1}"),
            Err(BadSettings::Json(_))
        ));
        assert!(matches!(Patch::parse(b"[]"), Err(BadSettings::Json(_))));
        assert_eq!(
            Patch::parse(br#"{"default_branch":"a..b"}"#),
            Err(BadSettings::Branch("a..b".into()))
        );
        assert_eq!(
            Patch::parse(br#"{"protect":[{"pattern":"main"}]}"#),
            Err(BadSettings::Pattern("main".into()))
        );
        let patterns = |count, pattern: &str| {
            let one = format!("{{\"pattern\":\"{pattern}\"}}");
            format!("{{\"protect\":[{}]}}", vec![one; count].join(","))
        };
        assert!(Patch::parse(patterns(100, "refs/x").as_bytes()).is_ok());
        let many = patterns(101, "refs/x");
        assert_eq!(Patch::parse(many.as_bytes()), Err(BadSettings::TooMany));
        let longest = format!("refs/{}", "x".repeat(250));
        assert!(Patch::parse(patterns(1, &longest).as_bytes()).is_ok());
        let long = format!("{longest}x");
        assert_eq!(
            Patch::parse(patterns(1, &long).as_bytes()),
            Err(BadSettings::Pattern(long))
        );
    }
}
