//! Who may do what: the credential a request carries, the server-wide admin token (checked
//! in the Worker, before a repository's object wakes), and each repository's own tokens and
//! settings (checked in its Durable Object). Every decision is a pure function of its inputs.
// What a request sends is indexed and sliced only through checked calls, so no input can
// panic the object (a panic aborts every request on the instance).
#![deny(clippy::indexing_slicing, clippy::string_slice)]

pub mod credential;
pub mod server;
pub mod settings;
pub mod token;

pub use credential::credential;
pub use server::ServerAccess;
pub use settings::{Protection, Settings, Visibility};
pub use token::{Scope, TokenRecord};

/// The realm git shows when it asks for a password.
pub const REALM: &str = "git-on-durable-objects";

/// What a request needs to be allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Reading the repository: clone, fetch, dumb reads, API reads.
    Read,
    /// What a push may do: receive-pack, creating the repository.
    Write,
    /// Managing tokens and settings.
    Admin,
    /// Nothing of the caller: the request carries a grant a Git LFS batch answer signed,
    /// which its handler checks (an upload's verify).
    Signed,
}

/// What the Worker established about the caller before the repository's object saw the
/// request. It travels to the object in the [`GRANT_HEADER`], which the Worker always sets
/// itself, so a client cannot claim one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// The credential is the admin token: everything is allowed.
    Admin,
    /// No credential, on a server that lets anyone push (`ANONYMOUS_PUSH`).
    OpenPush,
    /// Nothing yet: the repository checks its own tokens and visibility.
    Nothing,
}

/// The header the Worker passes its [`Grant`] to the repository's object in.
pub const GRANT_HEADER: &str = "x-gdo-grant";

impl Grant {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::Admin => "admin",
            Grant::OpenPush => "open-push",
            Grant::Nothing => "none",
        }
    }

    /// The grant a header value names; anything else grants nothing.
    pub fn parse(value: Option<&str>) -> Grant {
        match value {
            Some("admin") => Grant::Admin,
            Some("open-push") => Grant::OpenPush,
            _ => Grant::Nothing,
        }
    }
}

/// Why a request is refused; the message is the one line the client sees.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No credential where one is needed: 401, so that git asks its credential helper.
    #[error(
        "authentication required: send a token as the password (HTTP Basic) or as a Bearer token"
    )]
    NoCredential,
    /// A credential that is no valid token of this repository: 401.
    #[error("invalid token: it is unknown, revoked or expired")]
    BadToken,
    /// A read token used to push: 403.
    #[error("this token can only read: pushing needs a write token")]
    ReadOnly,
    /// A non-admin credential used to manage tokens or settings: 403.
    #[error("only the admin token can manage tokens and settings")]
    NotAdmin,
    /// A push to a server that has no admin token and does not allow anonymous pushes: 403.
    #[error("pushing is disabled: this server has no admin token. Set one with `npx wrangler secret put ADMIN_TOKEN`, or let anyone push with ANONYMOUS_PUSH = \"true\" under [vars] in wrangler.toml")]
    PushDisabled,
}

impl Denied {
    /// The HTTP status: 401 asks for (other) credentials, 403 refuses the ones given.
    pub fn status(&self) -> u16 {
        match self {
            Denied::NoCredential | Denied::BadToken => 401,
            Denied::ReadOnly | Denied::NotAdmin | Denied::PushDisabled => 403,
        }
    }
}

/// The repository's verdict on a request the Worker let through: `grant` from the Worker,
/// `presented` whether the request carries a credential, `token` the repository's live
/// token it names (None if it names none), and the repository's `visibility`.
pub fn authorize(
    need: Need,
    grant: Grant,
    presented: bool,
    token: Option<Scope>,
    visibility: Visibility,
) -> Result<(), Denied> {
    if grant == Grant::Admin || need == Need::Signed {
        return Ok(());
    }
    let public = visibility == Visibility::Public;
    match (presented, token) {
        (true, None) => Err(Denied::BadToken),
        (true, Some(_)) if need == Need::Admin => Err(Denied::NotAdmin),
        (true, Some(Scope::Read)) if need == Need::Write => Err(Denied::ReadOnly),
        (true, Some(_)) => Ok(()),
        (false, _) if need == Need::Read && public => Ok(()),
        (false, _) if need == Need::Write && public && grant == Grant::OpenPush => Ok(()),
        (false, _) => Err(Denied::NoCredential),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Need::*;
    use Visibility::*;

    #[test]
    fn the_admin_may_do_anything() {
        for need in [Read, Write, Admin] {
            for visibility in [Public, Private] {
                assert_eq!(
                    authorize(need, Grant::Admin, true, None, visibility),
                    Ok(())
                );
            }
        }
    }

    #[test]
    fn a_signed_request_is_left_to_its_handler_whatever_it_presents() {
        for visibility in [Public, Private] {
            for (presented, token) in [(false, None), (true, None), (true, Some(Scope::Read))] {
                let verdict = authorize(Signed, Grant::Nothing, presented, token, visibility);
                assert_eq!(verdict, Ok(()));
            }
        }
    }

    #[test]
    fn tokens_allow_their_scope_and_no_more() {
        let read = Some(Scope::Read);
        let write = Some(Scope::Write);
        for visibility in [Public, Private] {
            let as_token = |need, token| authorize(need, Grant::Nothing, true, token, visibility);
            assert_eq!(as_token(Read, read), Ok(()));
            assert_eq!(as_token(Write, read), Err(Denied::ReadOnly));
            assert_eq!(as_token(Read, write), Ok(()));
            assert_eq!(as_token(Write, write), Ok(()));
            assert_eq!(as_token(Admin, write), Err(Denied::NotAdmin));
            assert_eq!(as_token(Read, None), Err(Denied::BadToken));
            // A bad credential is refused even where none is needed, so its owner learns.
            assert_eq!(
                authorize(Read, Grant::OpenPush, true, None, visibility),
                Err(Denied::BadToken)
            );
        }
    }

    #[test]
    fn anonymous_callers_read_public_repositories_and_push_only_when_open() {
        let anonymous = |need, grant, visibility| authorize(need, grant, false, None, visibility);
        assert_eq!(anonymous(Read, Grant::Nothing, Public), Ok(()));
        assert_eq!(
            anonymous(Read, Grant::Nothing, Private),
            Err(Denied::NoCredential)
        );
        assert_eq!(
            anonymous(Write, Grant::Nothing, Public),
            Err(Denied::NoCredential)
        );
        assert_eq!(anonymous(Write, Grant::OpenPush, Public), Ok(()));
        assert_eq!(
            anonymous(Read, Grant::OpenPush, Private),
            Err(Denied::NoCredential)
        );
        assert_eq!(
            anonymous(Write, Grant::OpenPush, Private),
            Err(Denied::NoCredential)
        );
        assert_eq!(
            anonymous(Admin, Grant::OpenPush, Public),
            Err(Denied::NoCredential)
        );
        assert_eq!(Denied::NoCredential.status(), 401);
        assert_eq!(Denied::ReadOnly.status(), 403);
    }

    #[test]
    fn only_the_worker_names_a_grant() {
        for grant in [Grant::Admin, Grant::OpenPush, Grant::Nothing] {
            assert_eq!(Grant::parse(Some(grant.as_str())), grant);
        }
        assert_eq!(Grant::parse(Some("Admin")), Grant::Nothing);
        assert_eq!(Grant::parse(None), Grant::Nothing);
    }
}
