//! Protocol v2's `ls-refs` command (git's `ls-refs.c`): HEAD and the refs whose names start
//! with one of the client's `ref-prefix`es (every ref when it sends none), each with the
//! object it names, and on request its symref target and what it peels to.

use super::serve::Failure;
use crate::format::pktline;
use crate::protocol::v2::{Args, Refused};
use crate::store::sql::Sql;
use crate::store::{Ref, Store};

/// More prefixes than this and they are ignored, every ref being listed instead (as git does
/// past its own limit): each prefix costs a query.
const TOO_MANY_PREFIXES: usize = 256;

/// What the arguments ask for.
#[derive(Default)]
struct Asked {
    peel: bool,
    symrefs: bool,
    unborn: bool,
    prefixes: Vec<String>,
    too_many: bool,
}

fn read_args(args: Args) -> Result<Asked, Failure> {
    let mut asked = Asked::default();
    for arg in args {
        let arg = arg?;
        match arg {
            b"peel" => asked.peel = true,
            b"symrefs" => asked.symrefs = true,
            b"unborn" => asked.unborn = true,
            _ => match arg.strip_prefix(b"ref-prefix ") {
                Some(prefix) if asked.prefixes.len() < TOO_MANY_PREFIXES => asked
                    .prefixes
                    .push(String::from_utf8_lossy(prefix).into_owned()),
                Some(_) => asked.too_many = true,
                None => {
                    let line = String::from_utf8_lossy(arg).into_owned();
                    return Err(Refused::UnexpectedLine(line).into());
                }
            },
        }
    }
    if asked.too_many {
        asked.prefixes.clear();
    }
    Ok(asked)
}

/// The prefixes to query, sorted, without those another one already covers.
fn covering(mut prefixes: Vec<String>) -> Vec<String> {
    if prefixes.is_empty() {
        return vec![String::new()];
    }
    prefixes.sort();
    let mut kept: Vec<String> = Vec::new();
    for prefix in prefixes {
        if !kept
            .last()
            .is_some_and(|last| prefix.starts_with(last.as_str()))
        {
            kept.push(prefix);
        }
    }
    kept
}

/// Appends one ref's line to `out`, built in `line` (kept between calls so that a long
/// listing does not allocate, or format, a line per ref).
fn write_line(
    out: &mut Vec<u8>,
    line: &mut Vec<u8>,
    name: &str,
    r: &Ref,
    symref: Option<&str>,
    peel: bool,
) {
    line.clear();
    line.extend_from_slice(&r.id.hex_digits());
    line.push(b' ');
    line.extend_from_slice(name.as_bytes());
    if let Some(target) = symref {
        line.extend_from_slice(b" symref-target:");
        line.extend_from_slice(target.as_bytes());
    }
    if let Some(peeled) = r.peeled.filter(|_| peel) {
        line.extend_from_slice(b" peeled:");
        line.extend_from_slice(&peeled.hex_digits());
    }
    line.push(b'\n');
    pktline::write(out, line);
}

/// Answers `ls-refs` with `args` from the repository in `store`.
pub fn ls_refs<S: Sql>(store: &Store<S>, args: Args) -> Result<Vec<u8>, Failure> {
    let asked = read_args(args)?;
    let mut out = Vec::new();
    let mut line = Vec::new();
    let listed = |name: &str| {
        asked.prefixes.is_empty() || asked.prefixes.iter().any(|p| name.starts_with(p.as_str()))
    };
    if listed("HEAD") {
        if let Some(target) = store.head_target()? {
            let symref = asked.symrefs.then_some(target.as_str());
            match store.find_ref(&target)? {
                Some(head) => write_line(&mut out, &mut line, "HEAD", &head, symref, asked.peel),
                None if asked.unborn && asked.symrefs => {
                    pktline::write_str(&mut out, &format!("unborn HEAD symref-target:{target}\n"))
                }
                None => {}
            }
        }
    }
    for prefix in covering(asked.prefixes.clone()) {
        for r in store.refs_with_prefix(&prefix)? {
            write_line(&mut out, &mut line, &r.name, &r, None, asked.peel);
        }
    }
    out.extend_from_slice(pktline::FLUSH);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::covering;

    #[test]
    fn covering_prefixes_are_sorted_and_not_nested() {
        let prefixes = |list: &[&str]| covering(list.iter().map(|p| p.to_string()).collect());
        assert_eq!(prefixes(&[]), [""]);
        assert_eq!(
            prefixes(&["refs/tags/", "refs/heads/main", "refs/heads/", "HEAD"]),
            ["HEAD", "refs/heads/", "refs/tags/"]
        );
        assert_eq!(
            prefixes(&["refs/heads/a", "refs/heads/a"]),
            ["refs/heads/a"]
        );
    }
}
