//! The server-wide part of access control, decided in the Worker before a repository's
//! object wakes: the admin token (`ADMIN_TOKEN`, a secret) and whether anyone may push
//! (`ANONYMOUS_PUSH`, a var).

use super::{token, Denied, Grant, Need};

/// How the server was configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerAccess {
    /// The admin token, if one is set (an empty value is none).
    pub admin_token: Option<String>,
    /// `ANONYMOUS_PUSH = "true"`: callers without a credential may push to public
    /// repositories, as on a server of the original, credential-free design.
    pub anonymous_push: bool,
}

impl ServerAccess {
    /// The configuration from the Worker's environment, as `var` reads it.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> ServerAccess {
        ServerAccess {
            admin_token: var("ADMIN_TOKEN").filter(|t| !t.is_empty()),
            anonymous_push: var("ANONYMOUS_PUSH").is_some_and(|v| v.trim() == "true"),
        }
    }

    /// What a request presenting `credential` is granted before its repository looks.
    pub fn grant(&self, credential: Option<&str>) -> Grant {
        match (credential, &self.admin_token) {
            (Some(presented), Some(admin)) if same_secret(presented, admin) => Grant::Admin,
            (None, _) if self.anonymous_push => Grant::OpenPush,
            _ => Grant::Nothing,
        }
    }

    /// A refusal the Worker can make without the repository: pushes on a server with no
    /// admin token that does not let anyone push, and requests without a credential that
    /// need one. None lets the repository decide: a credential that is not the admin token
    /// may be one of its tokens, and the answer differs if it is not (401, not 403).
    pub fn refuse(&self, need: Need, grant: Grant, presented: bool) -> Option<Denied> {
        if grant == Grant::Admin || matches!(need, Need::Read | Need::Signed) {
            return None;
        }
        if need == Need::Write && self.admin_token.is_none() && !self.anonymous_push {
            return Some(Denied::PushDisabled);
        }
        let open = grant == Grant::OpenPush && need == Need::Write;
        (!presented && !open).then_some(Denied::NoCredential)
    }

    /// The line the `/` page adds about who may push.
    pub fn describe(&self) -> &'static str {
        match (self.anonymous_push, self.admin_token.is_some()) {
            (true, _) => "Anyone can push: ANONYMOUS_PUSH is set, so pushes need no credential.",
            (false, true) => {
                "Pushing needs a token: the admin token, or a repository's write token."
            }
            (false, false) => {
                "Pushing is disabled until an admin token is set (wrangler secret put ADMIN_TOKEN)."
            }
        }
    }
}

/// Whether two secrets are equal, in time that depends on neither: their hashes are
/// compared without stopping early.
fn same_secret(a: &str, b: &str) -> bool {
    token::same_hash(&token::hash(a), &token::hash(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(admin: Option<&str>, anonymous_push: bool) -> ServerAccess {
        ServerAccess {
            admin_token: admin.map(str::to_string),
            anonymous_push,
        }
    }

    #[test]
    fn reads_the_environment() {
        let vars = |name: &str| match name {
            "ADMIN_TOKEN" => Some(String::new()),
            "ANONYMOUS_PUSH" => Some("true".into()),
            _ => None,
        };
        assert_eq!(ServerAccess::from_vars(vars), server(None, true));
        assert_eq!(ServerAccess::from_vars(|_| None), server(None, false));
        let set = |name: &str| (name == "ADMIN_TOKEN").then(|| "s3cret".to_string());
        assert_eq!(ServerAccess::from_vars(set), server(Some("s3cret"), false));
    }

    #[test]
    fn only_the_admin_token_grants_admin() {
        let s = server(Some("s3cret"), false);
        assert_eq!(s.grant(Some("s3cret")), Grant::Admin);
        assert_eq!(s.grant(Some("s3cre")), Grant::Nothing);
        assert_eq!(s.grant(None), Grant::Nothing);
        assert_eq!(server(None, false).grant(Some("")), Grant::Nothing);
        let open = server(Some("s3cret"), true);
        assert_eq!(open.grant(None), Grant::OpenPush);
        assert_eq!(open.grant(Some("other")), Grant::Nothing);
    }

    #[test]
    fn refuses_early_what_no_repository_could_allow() {
        let closed = server(None, false);
        let refuse = |s: &ServerAccess, need, presented| {
            let grant = s.grant(presented);
            s.refuse(need, grant, presented.is_some())
        };
        assert_eq!(
            refuse(&closed, Need::Write, None),
            Some(Denied::PushDisabled)
        );
        assert_eq!(
            refuse(&closed, Need::Write, Some("t")),
            Some(Denied::PushDisabled)
        );
        assert_eq!(refuse(&closed, Need::Read, None), None);
        assert_eq!(refuse(&closed, Need::Signed, None), None);
        let tokens = server(Some("s3cret"), false);
        assert_eq!(
            refuse(&tokens, Need::Write, None),
            Some(Denied::NoCredential)
        );
        assert_eq!(refuse(&tokens, Need::Write, Some("t")), None);
        assert_eq!(refuse(&tokens, Need::Write, Some("s3cret")), None);
        assert_eq!(refuse(&tokens, Need::Admin, Some("t")), None);
        assert_eq!(
            refuse(&tokens, Need::Admin, None),
            Some(Denied::NoCredential)
        );
        assert_eq!(refuse(&tokens, Need::Admin, Some("s3cret")), None);
        let open = server(None, true);
        assert_eq!(refuse(&open, Need::Write, None), None);
        assert!(closed.describe().starts_with("Pushing is disabled"));
        assert!(tokens.describe().starts_with("Pushing needs a token"));
        assert!(open.describe().starts_with("Anyone can push"));
        assert_eq!(refuse(&open, Need::Admin, None), Some(Denied::NoCredential));
    }
}
