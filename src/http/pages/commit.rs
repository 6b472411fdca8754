//! A commit's page (its message, people, parents, and its diff to its first parent, as
//! `git show` shows them) and a comparison's (`git log a..b` and `git diff a...b`).

use std::collections::HashMap;

use crate::browse::diff_tree::{diff_trees, Change, Status};
use crate::browse::rev_parse::{self, tree_of};
use crate::browse::{read_as, BrowseError};
use crate::format::object::{ObjectId, ObjectType};
use crate::http::api::read::{comparison, text, Comparison};
use crate::http::pages::blob::MAX_SHOWN;
use crate::http::pages::html::{clip, Html};
use crate::http::pages::log::list;
use crate::http::pages::unified::{self, is_binary, Mark};
use crate::http::pages::{
    page_full, read_commit, short, time, Person, Site, Written, MAX_NAME, MAX_SUBJECT,
};
use crate::store::sql::Sql;
use crate::store::ObjectReader;

/// The most bytes of file versions one page's diff reads: past them, files are listed
/// without their lines.
const MAX_DIFF_BYTES: u64 = 4 << 20;

/// The most diff lines one page shows.
const MAX_DIFF_LINES: usize = 20_000;

/// The most lines of file versions one page diffs: the diff's time grows faster than its
/// input on hostile text (lines that match everywhere), so its input is bounded by lines.
const MAX_DIFFED_LINES: usize = 50_000;

/// The most commits a comparison lists.
const MAX_COMPARED: usize = 250;

/// The most characters of a message shown.
const MAX_MESSAGE: usize = 64 << 10;

/// The most parents listed (an octopus merge may have thousands).
const MAX_PARENTS: usize = 100;

/// The most characters of a changed file's path shown.
const MAX_PATH: usize = 4096;

/// The most files one page's diff lists; past them, a note says how many more changed.
const MAX_FILES: usize = 1000;

/// The mode of a submodule's entry.
const GITLINK: u32 = 0o160000;

/// `-/commit/<rev>`.
pub fn page<S: Sql>(
    reader: &ObjectReader<S>,
    site: &Site,
    rev: &str,
) -> Result<Written, BrowseError> {
    let rev = text(rev)?;
    let id = rev_parse::commit(reader, &rev)?;
    let commit = read_commit(reader, &id)?;
    let mut main = Html::default();
    main.raw("<h2>")
        .text(&clip(commit.subject(), MAX_SUBJECT))
        .raw("</h2>");
    main.raw("<pre class=\"message\">");
    main.text(&clip(&commit.message, MAX_MESSAGE)).raw("</pre>");
    main.raw("<dl class=\"meta\"><dt>Commit</dt><dd class=\"mono\">")
        .num(id);
    main.raw("</dd><dt>Author</dt><dd>");
    person(&mut main, &commit.author);
    main.raw("</dd><dt>Committer</dt><dd>");
    person(&mut main, &commit.committer);
    main.raw("</dd><dt>Parents</dt><dd>");
    for parent in commit.parents.iter().take(MAX_PARENTS) {
        main.link(&site.commit(parent), "parent mono", &short(parent));
        main.raw(" ");
    }
    if commit.parents.len() > MAX_PARENTS {
        main.raw("… (").num(commit.parents.len()).raw(" in all)");
    }
    main.raw("</dd><dt>Tree</dt><dd>");
    main.link(
        &site.at("tree", &id.to_hex(), b""),
        "mono",
        &short(&commit.tree),
    );
    main.raw("</dd></dl>");
    let old = match commit.parents.first() {
        Some(parent) => Some(tree_of(reader, parent)?),
        None => None,
    };
    diff(&mut main, reader, old, Some(commit.tree))?;
    let title = format!("{} · {}", commit.subject(), short(&id));
    Ok(Written { title, main })
}

fn person(main: &mut Html, person: &Person) {
    main.text(&clip(&person.name, MAX_NAME)).raw(" &lt;");
    main.text(&clip(&person.email, MAX_NAME)).raw("&gt; ");
    time(main, person.date.as_deref());
}

/// `-/compare/<base>...<head>`.
pub fn compare<S: Sql>(
    reader: &ObjectReader<S>,
    site: &Site,
    both: &str,
) -> Result<Written, BrowseError> {
    let Comparison {
        base_rev,
        head_rev,
        head,
        merge_base,
        ids,
        more,
        ..
    } = comparison(reader, both, MAX_COMPARED)?;
    let mut main = Html::default();
    main.raw("<h2>")
        .text(&head_rev)
        .raw(" since ")
        .text(&base_rev)
        .raw(" (");
    main.num(ids.len())
        .raw(if more { "+ commits)" } else { " commits)" });
    main.raw("</h2>");
    list(&mut main, reader, site, &ids)?;
    let old = tree_of(reader, &merge_base)?;
    diff(&mut main, reader, Some(old), Some(tree_of(reader, &head)?))?;
    Ok(Written {
        title: format!("Compare {base_rev}...{head_rev}"),
        main,
    })
}

/// What a page's diff may still read and show.
struct Budget {
    bytes: u64,
    lines: usize,
    diffed: usize,
}

/// The diff from tree `old` to tree `new` (None: the empty tree), file by file.
fn diff<S: Sql>(
    main: &mut Html,
    reader: &ObjectReader<S>,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
) -> Result<(), BrowseError> {
    let (changes, cut) = diff_trees(reader, old, new)?;
    main.raw("<section class=\"diff\" aria-label=\"changes\"><h2>")
        .num(changes.len());
    main.raw(if changes.len() == 1 {
        " file changed"
    } else {
        " files changed"
    });
    main.raw("</h2>");
    let mut budget = Budget {
        bytes: MAX_DIFF_BYTES,
        lines: MAX_DIFF_LINES,
        diffed: MAX_DIFFED_LINES,
    };
    let listed = changes
        .get(..changes.len().min(MAX_FILES))
        .unwrap_or_default();
    let ids: Vec<ObjectId> = listed.iter().flat_map(|c| [c.old_id, c.new_id]).collect();
    let sizes = reader.sizes(&ids)?;
    for change in listed {
        if main.full() {
            page_full(main);
            break;
        }
        file(main, reader, change, &sizes, &mut budget)?;
    }
    if changes.len() > listed.len() {
        main.raw("<p class=\"cut\">")
            .num(changes.len() - listed.len());
        main.raw(" more files changed: see them with <code>git diff --stat</code>.</p>");
    }
    if cut {
        main.raw("<p class=\"cut\">More files changed than are listed: see them with ");
        main.raw("<code>git diff</code>.</p>");
    }
    main.raw("</section>");
    Ok(())
}

/// What one side of a change holds, as `git diff` compares it.
fn side<S: Sql>(
    reader: &ObjectReader<S>,
    mode: u32,
    id: &ObjectId,
    present: bool,
) -> Result<Vec<u8>, BrowseError> {
    Ok(match (present, mode) {
        (false, _) => Vec::new(),
        // git shows a submodule's change as the commits it points at.
        (true, GITLINK) => format!("Subproject commit {id}\n").into_bytes(),
        (true, _) => read_as(reader, id, ObjectType::Blob)?.to_vec(),
    })
}

/// One changed file: its header, its stat and its hunks, or why they are not shown.
fn file<S: Sql>(
    main: &mut Html,
    reader: &ObjectReader<S>,
    change: &Change,
    sizes: &HashMap<ObjectId, u64>,
    budget: &mut Budget,
) -> Result<(), BrowseError> {
    let path = String::from_utf8_lossy(&change.path);
    let path = clip(&path, MAX_PATH);
    main.raw("<div class=\"file\" data-path=\"")
        .text(&path)
        .raw("\" data-status=\"");
    main.raw(change.status.letter()).raw("\">");
    let old_there = change.status != Status::Added;
    let new_there = change.status != Status::Deleted;
    let size = |there: bool, id: &ObjectId| match there {
        true => sizes.get(id).copied().unwrap_or(0),
        false => 0,
    };
    let bytes = size(old_there, &change.old_id) + size(new_there, &change.new_id);
    let too_large =
        size(old_there, &change.old_id).max(size(new_there, &change.new_id)) > MAX_SHOWN;
    if too_large || bytes > budget.bytes || budget.lines == 0 {
        head(main, &path, Stat::NotShown);
        main.raw("<p class=\"cut\">Not shown: ");
        main.raw(match too_large {
            true => "a version is too large to show here.",
            false => "the page shows no more lines of this diff.",
        });
        main.raw("</p></div>");
        return Ok(());
    }
    budget.bytes -= bytes;
    let old = side(reader, change.old_mode, &change.old_id, old_there)?;
    let new = side(reader, change.new_mode, &change.new_id, new_there)?;
    if is_binary(&old) || is_binary(&new) {
        head(main, &path, Stat::Binary);
        main.raw("<p class=\"binary\">Binary files differ</p></div>");
        return Ok(());
    }
    let lines: usize = [&old, &new]
        .iter()
        .map(|v| v.iter().filter(|&&b| b == b'\n').count() + 1)
        .sum();
    if lines > budget.diffed {
        head(main, &path, Stat::NotShown);
        main.raw("<p class=\"cut\">Not shown: the page diffs no more lines.</p></div>");
        return Ok(());
    }
    budget.diffed -= lines;
    // git shows a change of type as the old file deleted and the new one added.
    let diffs = match change.status {
        Status::TypeChanged => vec![unified::diff(&old, b""), unified::diff(b"", &new)],
        _ => vec![unified::diff(&old, &new)],
    };
    let added = diffs.iter().map(|d| d.added).sum();
    let deleted = diffs.iter().map(|d| d.deleted).sum();
    head(main, &path, Stat::Counted(added, deleted));
    for diff in &diffs {
        hunks(main, diff, budget);
    }
    main.raw("</div>");
    Ok(())
}

/// What a file's header says of its lines.
enum Stat {
    /// `git diff --numstat`'s counts.
    Counted(usize, usize),
    /// A binary file (`-` in `--numstat`).
    Binary,
    /// Not diffed: over a budget.
    NotShown,
}

/// A file's header: its path and its counts.
fn head(main: &mut Html, path: &str, stat: Stat) {
    main.raw("<div class=\"head\"><h3>").text(path).raw("</h3>");
    match stat {
        Stat::Counted(added, deleted) => {
            main.raw("<span class=\"stat\" data-added=\"").num(added);
            main.raw("\" data-deleted=\"")
                .num(deleted)
                .raw("\"><span class=\"a\">+");
            main.num(added)
                .raw("</span> <span class=\"d\">−")
                .num(deleted);
            main.raw("</span></span>");
        }
        Stat::Binary => {
            main.raw("<span class=\"stat\" data-added=\"-\" data-deleted=\"-\">binary</span>");
        }
        Stat::NotShown => {
            main.raw("<span class=\"stat\">not shown</span>");
        }
    }
    main.raw("</div>");
}

/// The hunks as rows: header, then lines with their numbers on each side.
fn hunks(main: &mut Html, diff: &unified::FileDiff, budget: &mut Budget) {
    main.raw("<table class=\"hunks\"><tbody>");
    for hunk in &diff.hunks {
        main.raw("<tr class=\"hunk\"><td colspan=\"3\">")
            .text(&hunk.header);
        main.raw("</td></tr>");
        for line in &hunk.lines {
            if budget.lines == 0 || main.full() {
                main.raw("</tbody></table><p class=\"cut\">The rest of this diff is not ");
                main.raw("shown: the page shows no more lines.</p>");
                return;
            }
            budget.lines -= 1;
            let class = match line.mark {
                Mark::Context => "ctx",
                Mark::Added => "add",
                Mark::Deleted => "del",
            };
            main.raw("<tr class=\"")
                .raw(class)
                .raw("\"><td class=\"old\">");
            if let Some(n) = line.old.filter(|_| line.mark != Mark::Added) {
                main.num(n);
            }
            main.raw("</td><td class=\"new\">");
            if let Some(n) = line.new.filter(|_| line.mark != Mark::Deleted) {
                main.num(n);
            }
            main.raw("</td><td class=\"code\">")
                .bytes(line.text)
                .raw("</td></tr>");
            if line.no_newline {
                main.raw("<tr class=\"nonl\"><td colspan=\"3\">\\ No newline at end of file");
                main.raw("</td></tr>");
            }
        }
    }
    main.raw("</tbody></table>");
}
