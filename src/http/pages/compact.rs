//! Where a diff's changes sit, as git places them (xdiff's `xdl_change_compact`): a group
//! of added or deleted lines that could slide up or down over equal lines is slid as far
//! down as it goes, then back up to line up with a change on the other side, or else to
//! where git's indent heuristic scores the split best. Without this, a minimal diff may
//! put such a group anywhere it fits; git's readers expect it where git puts it.

/// One version of a file: its lines (with their newlines) and which of them changed.
pub struct Side<'a> {
    /// The lines.
    pub lines: &'a [&'a [u8]],
    /// Whether each line is changed (deleted from the old version, added to the new).
    pub changed: Vec<bool>,
}

impl Side<'_> {
    /// Whether line `at` changed: the places before the first line and after the last are
    /// unchanged, as xdiff's sentinels are.
    fn is_changed(&self, at: usize) -> bool {
        self.changed.get(at).copied().unwrap_or(false)
    }

    fn same(&self, a: usize, b: usize) -> bool {
        self.lines.get(a) == self.lines.get(b)
    }

    fn len(&self) -> usize {
        self.lines.len()
    }

    fn mark(&mut self, at: usize, changed: bool) {
        if let Some(line) = self.changed.get_mut(at) {
            *line = changed;
        }
    }
}

/// A run of changed lines (perhaps empty): `start` its first, `end` the unchanged line
/// after it.
#[derive(Clone, Copy)]
struct Group {
    start: usize,
    end: usize,
}

impl Group {
    fn first(side: &Side) -> Group {
        let mut end = 0;
        while side.is_changed(end) {
            end += 1;
        }
        Group { start: 0, end }
    }

    /// The next group, or None at the end of the file.
    fn next(&mut self, side: &Side) -> Option<()> {
        if self.end == side.len() {
            return None;
        }
        self.start = self.end + 1;
        self.end = self.start;
        while side.is_changed(self.end) {
            self.end += 1;
        }
        Some(())
    }

    /// The previous group, or None at the start of the file.
    fn previous(&mut self, side: &Side) -> Option<()> {
        if self.start == 0 {
            return None;
        }
        self.end = self.start - 1;
        self.start = self.end;
        while self.start > 0 && side.is_changed(self.start - 1) {
            self.start -= 1;
        }
        Some(())
    }

    /// Slides the group one line down (joining a group it meets), if its first line equals
    /// the line after it.
    fn slide_down(&mut self, side: &mut Side) -> Option<()> {
        if self.end >= side.len() || !side.same(self.start, self.end) {
            return None;
        }
        side.mark(self.start, false);
        side.mark(self.end, true);
        self.start += 1;
        self.end += 1;
        while side.is_changed(self.end) {
            self.end += 1;
        }
        Some(())
    }

    /// Slides the group one line up, if its last line equals the line before it.
    fn slide_up(&mut self, side: &mut Side) -> Option<()> {
        if self.start == 0 || !side.same(self.start - 1, self.end - 1) {
            return None;
        }
        self.start -= 1;
        self.end -= 1;
        side.mark(self.start, true);
        side.mark(self.end, false);
        while self.start > 0 && side.is_changed(self.start - 1) {
            self.start -= 1;
        }
        Some(())
    }
}

/// How far the indent heuristic looks for a better place.
const MAX_SLIDING: usize = 100;

/// Places the changed groups of `side`, keeping `other` (the other version) in step.
pub fn compact(side: &mut Side, other: &mut Side) {
    let mut g = Group::first(side);
    let mut go = Group::first(other);
    loop {
        if g.end != g.start {
            place(side, other, &mut g, &mut go);
        }
        if g.next(side).is_none() {
            break;
        }
        // The groups of both versions come in pairs: one more here means one more there.
        if go.next(other).is_none() {
            break;
        }
    }
}

/// Places one group: as far down as it slides, then up to meet a change of the other
/// version, or to the indent heuristic's best split.
fn place(side: &mut Side, other: &mut Side, g: &mut Group, go: &mut Group) {
    let mut earliest_end;
    let mut end_matching_other;
    loop {
        let size = g.end - g.start;
        end_matching_other = None;
        while g.slide_up(side).is_some() {
            go.previous(other);
        }
        earliest_end = g.end;
        if go.end > go.start {
            end_matching_other = Some(g.end);
        }
        while g.slide_down(side).is_some() {
            go.next(other);
            if go.end > go.start {
                end_matching_other = Some(g.end);
            }
        }
        if size == g.end - g.start {
            break;
        }
    }
    if g.end == earliest_end {
        return;
    }
    let target = match end_matching_other {
        Some(_) => None,
        None => Some(best_split(side, g, earliest_end)),
    };
    loop {
        let done = match target {
            None => go.end != go.start,
            Some(best) => g.end <= best,
        };
        if done || g.slide_up(side).is_none() {
            return;
        }
        go.previous(other);
    }
}

/// Where the indent heuristic ends the group: the end, from those it can slide to, whose
/// two splits score best (the lowest, the latest among equals).
fn best_split(side: &Side, g: &Group, earliest_end: usize) -> usize {
    let size = g.end - g.start;
    let from = earliest_end
        .max((g.end - size).saturating_sub(1))
        .max(g.end.saturating_sub(MAX_SLIDING));
    let mut best: Option<(usize, Score)> = None;
    for shift in from..=g.end {
        let mut score = Score::default();
        score.add(&measure(side, shift));
        score.add(&measure(side, shift.saturating_sub(size)));
        if best.as_ref().is_none_or(|(_, b)| score.cmp(b) <= 0) {
            best = Some((shift, score));
        }
    }
    best.map_or(g.end, |(shift, _)| shift)
}

/// Beyond this a line's indent counts as this much.
const MAX_INDENT: i32 = 200;

/// Beyond this many blank lines, more are not counted.
const MAX_BLANKS: i32 = 20;

/// The columns a line is indented (a tab to the next multiple of 8), or -1 if it is blank.
fn indent(line: &[u8]) -> i32 {
    let mut columns = 0;
    for &c in line {
        if !matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            return columns;
        }
        match c {
            b' ' => columns += 1,
            b'\t' => columns += 8 - columns % 8,
            _ => {}
        }
        if columns >= MAX_INDENT {
            return MAX_INDENT;
        }
    }
    -1
}

/// What is around a split above line `split` (which may be past the last line).
struct Measure {
    end_of_file: bool,
    indent: i32,
    pre_blank: i32,
    pre_indent: i32,
    post_blank: i32,
    post_indent: i32,
}

fn measure(side: &Side, split: usize) -> Measure {
    // Past the last line there is no line: -1, as for a blank one.
    let line_indent = |at: usize| side.lines.get(at).map_or(-1, |line| indent(line));
    let (pre_blank, pre_indent) = nearest((0..split.min(side.len())).rev(), &line_indent);
    let (post_blank, post_indent) = nearest(split.saturating_add(1)..side.len(), &line_indent);
    Measure {
        end_of_file: split >= side.len(),
        indent: line_indent(split),
        pre_blank,
        pre_indent,
        post_blank,
        post_indent,
    }
}

/// Going through the lines `at` from a split: how many are blank, and the indent of the
/// first that is not (-1 if none is; 0 past [`MAX_BLANKS`] blank lines).
fn nearest(at: impl Iterator<Item = usize>, indent: &impl Fn(usize) -> i32) -> (i32, i32) {
    let mut blank = 0;
    for line in at {
        let found = indent(line);
        if found != -1 {
            return (blank, found);
        }
        blank += 1;
        if blank == MAX_BLANKS {
            return (blank, 0);
        }
    }
    (blank, -1)
}

/// The score of a placement: the sum of its splits' indents and penalties.
#[derive(Default)]
struct Score {
    effective_indent: i32,
    penalty: i32,
}

impl Score {
    /// Adds a split's badness, with git's empirical weights.
    fn add(&mut self, m: &Measure) {
        if m.pre_indent == -1 && m.pre_blank == 0 {
            self.penalty += 1;
        }
        if m.end_of_file {
            self.penalty += 21;
        }
        let post_blank = if m.indent == -1 { 1 + m.post_blank } else { 0 };
        let total_blank = m.pre_blank + post_blank;
        self.penalty += -30 * total_blank + 6 * post_blank;
        let indent = if m.indent != -1 {
            m.indent
        } else {
            m.post_indent
        };
        let blanks = total_blank != 0;
        self.effective_indent += indent;
        if indent == -1 || m.pre_indent == -1 || indent == m.pre_indent {
            return;
        }
        self.penalty += if indent > m.pre_indent {
            if blanks {
                10
            } else {
                -4
            }
        } else if m.post_indent != -1 && m.post_indent > indent {
            if blanks {
                17
            } else {
                24
            }
        } else if blanks {
            17
        } else {
            23
        };
    }

    fn cmp(&self, other: &Score) -> i32 {
        let indents = (self.effective_indent > other.effective_indent) as i32
            - (self.effective_indent < other.effective_indent) as i32;
        60 * indents + (self.penalty - other.penalty)
    }
}
