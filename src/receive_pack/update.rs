//! Deciding a push's commands, as git's receive-pack `update()` and its ref transaction do:
//! a plain push applies its commands one by one, each against the refs the earlier ones
//! left; an `atomic` push applies all or none.

use std::collections::HashMap;

use crate::access::Settings;
use crate::format::object::{ObjectId, ObjectType};
use crate::format::refname;
use crate::store::sql::Sql;
use crate::store::{Store, StoreError};

/// One ref update the client asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// The value the client believes the ref has (zero: the ref is new).
    pub old: ObjectId,
    /// The value to set (zero: delete the ref).
    pub new: ObjectId,
    /// The full ref name.
    pub name: String,
}

/// Why a ref update is refused: the reason on its `ng` line, in git's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a name `git check-ref-format` accepts under `refs/`.
    #[error("funny refname")]
    FunnyRefname,
    /// The new value, or an object it needs, is neither pushed nor stored.
    #[error("missing necessary objects")]
    MissingObjects,
    /// A branch may only point at a commit: git's ref transaction refuses to write another
    /// object to one, once the ref is locked.
    #[error("failed to update ref")]
    NotACommit,
    /// The ref cannot be locked at the old value the client sent (it moved, or exists
    /// where the client would create it), a ref is its directory or lies inside it
    /// (`refs/heads/a` beside `refs/heads/a/b`), an atomic push names it twice, or its name
    /// is too long for git to write it to a filesystem.
    #[error("failed to update ref")]
    LockFailed,
    /// A protected ref would not fast-forward (git's `receive.denyNonFastForwards`).
    #[error("non-fast-forward")]
    NonFastForward,
    /// A protected ref would be deleted (git's `receive.denyDeletes`).
    #[error("deletion prohibited")]
    DeletionProhibited,
    /// The branch HEAD names would be deleted (git's `receive.denyDeleteCurrent`, which
    /// refuses by default: the next clone would check nothing out).
    #[error("deletion of the current branch prohibited")]
    DeleteCurrent,
    /// Another command of an `atomic` push was refused.
    #[error("atomic push failure")]
    AtomicPush,
    /// An `atomic` push whose refs could not all be locked together.
    #[error("atomic transaction failed")]
    AtomicTransaction,
    /// The pack was refused, so no command is applied.
    #[error("unpacker error")]
    Unpacker,
    /// Storage failed while the commands were applied.
    #[error("storage error")]
    Storage,
}

impl Refusal {
    /// The error line git's receive-pack sends beside the `ng` line for this refusal of
    /// `command` (its `rp_error`), where it sends one.
    pub fn explain(self, command: &Command) -> Option<String> {
        let name = &command.name;
        Some(match self {
            Refusal::FunnyRefname => format!("refusing to update funny ref '{name}' remotely"),
            Refusal::DeletionProhibited => format!("denying ref deletion for {name}"),
            Refusal::DeleteCurrent => format!("refusing to delete the current branch: {name}"),
            Refusal::NonFastForward => {
                format!("denying non-fast-forward {name} (you should pull first)")
            }
            Refusal::NotACommit => format!(
                "cannot update ref '{name}': trying to write non-commit object {} to branch '{name}'",
                command.new
            ),
            _ => return None,
        })
    }
}

/// One command's verdict: accepted, or refused and why.
pub type Verdict = Result<(), Refusal>;

/// Where a command's new object is: its type, and whether it came in this push.
pub type KindOf<'a> = &'a dyn Fn(&ObjectId) -> Option<(ObjectType, bool)>;

/// Whether moving a ref from the first commit to the second is a fast-forward.
pub type FastForward<'a> = &'a mut dyn FnMut(ObjectId, ObjectId) -> Result<bool, StoreError>;

/// What a push's commands are decided against besides the refs: where the objects are,
/// whether everything the pushed objects link to is stored (`complete`), whether the push
/// is `atomic`, and the repository's protected refs.
pub struct Rules<'a> {
    /// Where a command's new object is.
    pub kind_of: KindOf<'a>,
    /// Whether everything the pushed objects link to is stored.
    pub complete: bool,
    /// Whether the commands apply all or none.
    pub atomic: bool,
    /// The repository's settings, whose protections apply.
    pub settings: &'a Settings,
    /// The ref HEAD names, which may not be deleted.
    pub head: Option<&'a str>,
    /// Answers whether an update fast-forwards.
    pub fast_forward: FastForward<'a>,
}

/// The verdicts on `commands`, in order.
pub fn decide<S: Sql>(
    store: &Store<S>,
    commands: &[Command],
    rules: Rules,
) -> Result<Vec<Verdict>, StoreError> {
    let Rules {
        kind_of,
        complete,
        atomic,
        settings,
        head,
        fast_forward,
    } = rules;
    let mut refs = Overlay {
        store,
        changed: HashMap::new(),
        atomic,
    };
    let mut times_named: HashMap<&str, usize> = HashMap::new();
    for command in commands {
        *times_named.entry(&command.name).or_default() += 1;
    }
    let mut results = Vec::with_capacity(commands.len());
    for command in commands {
        let named_twice = times_named.get(command.name.as_str()) > Some(&1);
        let current = refs.value(&command.name)?;
        let mut verdict = match command.new.is_zero() {
            true => check_deletion(command, current, kind_of, settings, head),
            false => {
                let objects = Objects { kind_of, complete };
                check_update(command, current, objects, settings, &mut *fast_forward)?
            }
        };
        if verdict.is_ok() && ((atomic && named_twice) || refs.collides(command, current)?) {
            verdict = Err(Refusal::LockFailed);
        }
        if verdict.is_ok() {
            refs.apply(command);
        }
        results.push(verdict);
    }
    if atomic {
        settle_atomic(&mut results);
    }
    Ok(results)
}

/// An atomic push fails whole. As git reports it: the first command refused on its own
/// merits keeps its reason and the rest read "atomic push failure"; if the only trouble is
/// in the ref transaction (locking, or a non-commit for a branch), every command reads
/// "atomic transaction failed".
fn settle_atomic(results: &mut [Verdict]) {
    let in_transaction = |why: &Refusal| matches!(why, Refusal::LockFailed | Refusal::NotACommit);
    let own = results
        .iter()
        .position(|r| matches!(r, Err(why) if !in_transaction(why)));
    let locking = results.iter().any(Result::is_err);
    for (at, result) in results.iter_mut().enumerate() {
        *result = match own {
            Some(first) if first == at => continue,
            Some(_) => Err(Refusal::AtomicPush),
            None if locking => Err(Refusal::AtomicTransaction),
            None => continue,
        };
    }
}

/// The refs as the accepted commands so far leave them.
struct Overlay<'s, S: Sql> {
    store: &'s Store<S>,
    /// Ref name to its new value (None: deleted).
    changed: HashMap<String, Option<ObjectId>>,
    /// Whether the commands are one transaction, in which a ref being deleted still
    /// stands in the way of a ref beside it.
    atomic: bool,
}

impl<S: Sql> Overlay<'_, S> {
    fn value(&self, name: &str) -> Result<Option<ObjectId>, StoreError> {
        match self.changed.get(name) {
            Some(value) => Ok(*value),
            None => self.store.ref_value(name),
        }
    }

    /// Whether creating the command's ref would put it beside a ref that is its directory
    /// or lies inside it, which no git repository can hold.
    fn collides(&self, command: &Command, current: Option<ObjectId>) -> Result<bool, StoreError> {
        if command.new.is_zero() || current.is_some() {
            return Ok(false);
        }
        let stored = self.store.ref_conflicts(&command.name)?;
        let exists = |name: &String| self.atomic || self.changed.get(name) != Some(&None);
        Ok(stored.iter().any(exists)
            || self.changed.iter().any(|(name, value)| {
                (self.atomic || value.is_some()) && nested(name, &command.name)
            }))
    }

    fn apply(&mut self, command: &Command) {
        let value = (!command.new.is_zero()).then_some(command.new);
        self.changed.insert(command.name.clone(), value);
    }
}

/// Whether one of two ref names is a directory of the other.
fn nested(a: &str, b: &str) -> bool {
    let under = |inner: &str, outer: &str| {
        inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
    };
    under(a, b) || under(b, a)
}

/// The verdict on one deletion, in git's order: the name, the protections against deleting
/// (`denyDeletes`, then `denyDeleteCurrent`), then the old value. Deleting a ref that is
/// already gone succeeds unless the client named an old value the repository has (then the
/// ref was expected to be there). Both protections hold also when the client names no old
/// value, where git lets the deletion through (as that of a ref it cannot read): a repository
/// that has branches keeps HEAD's.
fn check_deletion(
    command: &Command,
    current: Option<ObjectId>,
    kind_of: KindOf,
    settings: &Settings,
    head: Option<&str>,
) -> Verdict {
    if !refname::is_valid_push_name(&command.name, true) {
        return Err(Refusal::FunnyRefname);
    }
    if settings.denies(&command.name).1 {
        return Err(Refusal::DeletionProhibited);
    }
    let expected = (!command.old.is_zero()).then_some(command.old);
    if (expected.is_some() || current.is_some()) && head == Some(command.name.as_str()) {
        return Err(Refusal::DeleteCurrent);
    }
    match (current, expected) {
        (Some(current), Some(old)) if old != current => Err(Refusal::LockFailed),
        (None, Some(old)) if kind_of(&old).is_some() => Err(Refusal::LockFailed),
        _ => Ok(()),
    }
}

/// Where a push's objects are: what [`Rules`] says of them.
struct Objects<'a> {
    kind_of: KindOf<'a>,
    complete: bool,
}

/// The verdict on one update or creation, in git's order: the name; the new object, which
/// must be stored or pushed whole; a protected ref's fast-forward from the old value the
/// client names (git's `denyNonFastForwards`); the old value; then, as git's ref transaction
/// does once the ref is locked, a branch may only point at a commit.
fn check_update(
    command: &Command,
    current: Option<ObjectId>,
    objects: Objects,
    settings: &Settings,
    fast_forward: FastForward,
) -> Result<Verdict, StoreError> {
    if !refname::is_valid_push_name(&command.name, false) {
        return Ok(Err(Refusal::FunnyRefname));
    }
    let kind = match (objects.kind_of)(&command.new) {
        Some((_, true)) if !objects.complete => return Ok(Err(Refusal::MissingObjects)),
        Some((kind, _)) => kind,
        None => return Ok(Err(Refusal::MissingObjects)),
    };
    let deny_force = settings.denies(&command.name).0;
    if deny_force && !command.old.is_zero() && !fast_forward(command.old, command.new)? {
        return Ok(Err(Refusal::NonFastForward));
    }
    let expected = (!command.old.is_zero()).then_some(command.old);
    if current != expected || !refname::fits_a_filesystem(&command.name) {
        return Ok(Err(Refusal::LockFailed));
    }
    if command.name.starts_with("refs/heads/") && kind != ObjectType::Commit {
        return Ok(Err(Refusal::NotACommit));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_names_are_a_directory_and_what_lies_in_it() {
        assert!(nested("refs/heads/a", "refs/heads/a/b"));
        assert!(nested("refs/heads/a/b/c", "refs/heads/a"));
        assert!(!nested("refs/heads/a", "refs/heads/ab"));
        assert!(!nested("refs/heads/a", "refs/heads/a"));
        assert!(!nested("refs/heads/a-b", "refs/heads/a/b"));
    }

    #[test]
    fn an_atomic_push_fails_whole_in_git_words() {
        use Refusal::*;
        let settle = |mut results: Vec<Verdict>| {
            settle_atomic(&mut results);
            results
        };
        assert_eq!(settle(vec![Ok(()), Ok(())]), vec![Ok(()), Ok(())]);
        assert_eq!(
            settle(vec![
                Ok(()),
                Err(FunnyRefname),
                Err(MissingObjects),
                Err(LockFailed)
            ]),
            vec![
                Err(AtomicPush),
                Err(FunnyRefname),
                Err(AtomicPush),
                Err(AtomicPush)
            ]
        );
        assert_eq!(
            settle(vec![Ok(()), Err(LockFailed)]),
            vec![Err(AtomicTransaction), Err(AtomicTransaction)]
        );
    }
}
