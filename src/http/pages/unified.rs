//! The line diff of two versions of a file, in hunks as `git diff` shows them (three
//! lines of context, hunks closer than twice that joined, git's `@@` headers): `similar`'s
//! Myers diff, its changes placed as git places them ([`compact`]).

use std::collections::HashSet;

use similar::{capture_diff_slices, Algorithm, DiffTag};

use crate::http::pages::compact::{compact, Side};

/// Lines of context around each change, as git's default `-U3`.
const CONTEXT: usize = 3;

/// The bytes git looks at to call a file binary (a NUL among them), as `buffer_is_binary`.
const FIRST_FEW_BYTES: usize = 8000;

/// Whether git would diff `data` as binary.
pub fn is_binary(data: &[u8]) -> bool {
    data.iter().take(FIRST_FEW_BYTES).any(|&b| b == 0)
}

/// How a line of a hunk reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// In both versions.
    Context,
    /// Only in the new one.
    Added,
    /// Only in the old one.
    Deleted,
}

/// A line of a hunk.
#[derive(Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// Which side it is of.
    pub mark: Mark,
    /// Its number in the old version (1-based), unless added.
    pub old: Option<usize>,
    /// Its number in the new version, unless deleted.
    pub new: Option<usize>,
    /// Its text, without the newline.
    pub text: &'a [u8],
    /// Whether it is the last line of a version that does not end with a newline.
    pub no_newline: bool,
}

/// A hunk: its `@@ -a,b +c,d @@` header and its lines.
#[derive(Debug, PartialEq, Eq)]
pub struct Hunk<'a> {
    /// git's header, without the function context git may add after it.
    pub header: String,
    /// Its lines in order.
    pub lines: Vec<Line<'a>>,
}

/// A file's diff: its hunks, and the lines added and deleted (`git diff --numstat`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FileDiff<'a> {
    /// Lines only in the new version.
    pub added: usize,
    /// Lines only in the old version.
    pub deleted: usize,
    /// The hunks.
    pub hunks: Vec<Hunk<'a>>,
}

fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&b| b == b'\n').collect()
}

/// A change: `old_len` lines of the old version deleted at `old`, `new_len` lines of the
/// new one added at `new` (0-based), as xdiff's script lists them.
#[derive(Clone, Copy, Debug)]
struct Change {
    old: usize,
    old_len: usize,
    new: usize,
    new_len: usize,
}

/// The diff from `old` to `new`, both text.
pub fn diff<'a>(old: &'a [u8], new: &'a [u8]) -> FileDiff<'a> {
    let (old, new) = (split_lines(old), split_lines(new));
    let changes = changes(&old, &new);
    let mut file = FileDiff {
        added: changes.iter().map(|c| c.new_len).sum(),
        deleted: changes.iter().map(|c| c.old_len).sum(),
        hunks: Vec::new(),
    };
    let mut rest = &changes[..];
    while let Some((first, _)) = rest.split_first() {
        // A change joins the hunk while what is between it and the last is no more than
        // twice the context (xdiff's `xdl_get_hunk`).
        let mut taken = 1;
        while let (Some(prev), Some(next)) = (rest.get(taken - 1), rest.get(taken)) {
            if next.old.saturating_sub(prev.old + prev.old_len) > 2 * CONTEXT {
                break;
            }
            taken += 1;
        }
        let (group, after) = rest.split_at(taken);
        file.hunks.push(hunk(&old, &new, group, first));
        rest = after;
    }
    file
}

/// The changes from `old` to `new`: a Myers diff, its groups placed as git places them.
fn changes(old: &[&[u8]], new: &[&[u8]]) -> Vec<Change> {
    let (deleted, added) = myers(old, new);
    let mut old_side = Side {
        lines: old,
        changed: deleted,
    };
    let mut new_side = Side {
        lines: new,
        changed: added,
    };
    compact(&mut old_side, &mut new_side);
    compact(&mut new_side, &mut old_side);
    let (deleted, added) = (old_side.changed, new_side.changed);
    let mut changes = Vec::new();
    let (mut o, mut n) = (0, 0);
    while o < old.len() || n < new.len() {
        let old_len = deleted.iter().skip(o).take_while(|&&c| c).count();
        let new_len = added.iter().skip(n).take_while(|&&c| c).count();
        if old_len + new_len == 0 {
            o += 1;
            n += 1;
            continue;
        }
        changes.push(Change {
            old: o,
            old_len,
            new: n,
            new_len,
        });
        o += old_len;
        n += new_len;
    }
    changes
}

/// Which lines of `old` and `new` a Myers diff changes. As xdiff does first, a line that
/// the other version lacks is changed from the start and left out of the search: among
/// equally short diffs, the one the search then finds is git's far more often (a blank line
/// is matched with the first blank line after it, not a later one).
fn myers<'a>(old: &[&'a [u8]], new: &[&'a [u8]]) -> (Vec<bool>, Vec<bool>) {
    let (in_old, in_new): (HashSet<&[u8]>, HashSet<&[u8]>) =
        (old.iter().copied().collect(), new.iter().copied().collect());
    // The lines searched, each with its place in its version.
    let searched = |lines: &[&'a [u8]], other: &HashSet<&[u8]>| -> Vec<usize> {
        (0..lines.len())
            .filter(|&at| lines.get(at).is_some_and(|line| other.contains(line)))
            .collect()
    };
    let (old_at, new_at) = (searched(old, &in_new), searched(new, &in_old));
    let lines = |version: &[&'a [u8]], at: &[usize]| -> Vec<&'a [u8]> {
        at.iter().filter_map(|&i| version.get(i).copied()).collect()
    };
    let mut deleted = vec![true; old.len()];
    let mut added = vec![true; new.len()];
    let ops = capture_diff_slices(Algorithm::Myers, &lines(old, &old_at), &lines(new, &new_at));
    for op in ops {
        let (tag, olds, news) = op.as_tag_tuple();
        if tag != DiffTag::Equal {
            continue;
        }
        for (o, n) in olds.zip(news) {
            if let Some(line) = old_at.get(o).and_then(|&at| deleted.get_mut(at)) {
                *line = false;
            }
            if let Some(line) = new_at.get(n).and_then(|&at| added.get_mut(at)) {
                *line = false;
            }
        }
    }
    (deleted, added)
}

/// The hunk of the changes `group` (the first being `first`), with its context.
fn hunk<'a>(old: &[&'a [u8]], new: &[&'a [u8]], group: &[Change], first: &Change) -> Hunk<'a> {
    let last = group.last().unwrap_or(first);
    let (start_old, start_new) = (
        first.old.saturating_sub(CONTEXT),
        first.new.saturating_sub(CONTEXT),
    );
    let after = CONTEXT
        .min(old.len().saturating_sub(last.old + last.old_len))
        .min(new.len().saturating_sub(last.new + last.new_len));
    let (end_old, end_new) = (
        last.old + last.old_len + after,
        last.new + last.new_len + after,
    );
    let mut lines = Vec::new();
    let (mut o, mut n) = (start_old, start_new);
    for change in group {
        while o < change.old {
            lines.push(line(Mark::Context, Some(o), Some(n), old));
            o += 1;
            n += 1;
        }
        for at in change.old..change.old + change.old_len {
            lines.push(line(Mark::Deleted, Some(at), None, old));
        }
        for at in change.new..change.new + change.new_len {
            lines.push(line(Mark::Added, None, Some(at), new));
        }
        o = change.old + change.old_len;
        n = change.new + change.new_len;
    }
    while o < end_old {
        lines.push(line(Mark::Context, Some(o), Some(n), old));
        o += 1;
        n += 1;
    }
    Hunk {
        header: format!(
            "@@ -{} +{} @@",
            range(&(start_old..end_old)),
            range(&(start_new..end_new))
        ),
        lines,
    }
}

/// Line `old` or `new` (0-based) of the version `lines` (the old one unless only `new`).
fn line<'a>(mark: Mark, old: Option<usize>, new: Option<usize>, lines: &[&'a [u8]]) -> Line<'a> {
    let at = match mark {
        Mark::Added => new,
        _ => old,
    };
    let text = at.and_then(|at| lines.get(at)).copied().unwrap_or_default();
    let bare = text.strip_suffix(b"\n");
    Line {
        mark,
        old: old.map(|o| o + 1),
        new: new.map(|n| n + 1),
        text: bare.unwrap_or(text),
        no_newline: bare.is_none(),
    }
}

/// A side of a hunk header as git writes it: `start,count`, the count left out when it is
/// 1, and an empty side starting at the line before it.
fn range(lines: &std::ops::Range<usize>) -> String {
    match lines.len() {
        0 => format!("{},0", lines.start),
        1 => format!("{}", lines.start + 1),
        n => format!("{},{n}", lines.start + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hunks as `git diff` prints them.
    fn text(file: &FileDiff) -> String {
        let mut out = String::new();
        for hunk in &file.hunks {
            out.push_str(&hunk.header);
            out.push('\n');
            for line in &hunk.lines {
                out.push(match line.mark {
                    Mark::Context => ' ',
                    Mark::Added => '+',
                    Mark::Deleted => '-',
                });
                out.push_str(std::str::from_utf8(line.text).unwrap());
                out.push('\n');
                if line.no_newline {
                    out.push_str("\\ No newline at end of file\n");
                }
            }
        }
        out
    }

    #[test]
    fn hunks_read_as_gits() {
        let old: String = (1..=20).map(|n| format!("{n}\n")).collect();
        let new = old
            .replacen("2\n", "two\n", 1)
            .replace("\n18\n", "\n18\n18b\n");
        let file = diff(old.as_bytes(), new.as_bytes());
        assert_eq!((file.added, file.deleted), (2, 1));
        assert_eq!(
            text(&file),
            "@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n@@ -16,5 +16,6 @@\n 16\n 17\n 18\n+18b\n 19\n 20\n"
        );
    }

    #[test]
    fn empty_sides_and_missing_newlines() {
        let added = diff(b"", b"a\nb\n");
        assert_eq!(text(&added), "@@ -0,0 +1,2 @@\n+a\n+b\n");
        let deleted = diff(b"a\n", b"");
        assert_eq!(text(&deleted), "@@ -1 +0,0 @@\n-a\n");
        let end = diff(b"a\nb", b"a\nb\n");
        assert_eq!(
            text(&end),
            "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"
        );
        assert_eq!((end.added, end.deleted), (1, 1));
    }

    #[test]
    fn binary_is_a_nul_near_the_start() {
        assert!(is_binary(b"a\0b"));
        assert!(!is_binary(b"text\n"));
        let mut late = vec![b'a'; FIRST_FEW_BYTES];
        late.push(0);
        assert!(!is_binary(&late));
    }
}
