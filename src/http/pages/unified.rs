//! The line diff of two versions of a file, in hunks as `git diff` shows them (three
//! lines of context, hunks closer than twice that joined, git's `@@` headers), computed
//! with `similar`'s Myers diff.

use similar::{capture_diff_slices, group_diff_ops, Algorithm, DiffTag};

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

/// The diff from `old` to `new`, both text.
pub fn diff<'a>(old: &'a [u8], new: &'a [u8]) -> FileDiff<'a> {
    let (old, new) = (split_lines(old), split_lines(new));
    let ops = capture_diff_slices(Algorithm::Myers, &old, &new);
    let mut file = FileDiff::default();
    for op in &ops {
        if matches!(op.tag(), DiffTag::Delete | DiffTag::Replace) {
            file.deleted += op.old_range().len();
        }
        if matches!(op.tag(), DiffTag::Insert | DiffTag::Replace) {
            file.added += op.new_range().len();
        }
    }
    for group in group_diff_ops(ops, CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let olds = first.old_range().start..last.old_range().end;
        let news = first.new_range().start..last.new_range().end;
        let mut hunk = Hunk {
            header: format!("@@ -{} +{} @@", range(&olds), range(&news)),
            lines: Vec::new(),
        };
        for op in &group {
            let (tag, olds, news) = op.as_tag_tuple();
            if tag == DiffTag::Equal {
                for (o, n) in olds.zip(news) {
                    hunk.lines.push(line(Mark::Context, Some(o), Some(n), &old));
                }
                continue;
            }
            for o in olds {
                hunk.lines.push(line(Mark::Deleted, Some(o), None, &old));
            }
            for n in news {
                hunk.lines.push(line(Mark::Added, None, Some(n), &new));
            }
        }
        file.hunks.push(hunk);
    }
    file
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
