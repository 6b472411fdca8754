//! A small syntax highlighter: comments, strings, numbers and keywords of the common
//! languages, told apart by the file's extension, as classes the stylesheet colours
//! (`c`, `s`, `n`, `k`). A few kinds of token are enough to read code by, and cost
//! a few KiB of wasm where a full grammar crate costs megabytes.

use crate::http::pages::html::escape_into;

/// The tokens of one family of languages.
struct Syntax {
    line_comments: &'static [&'static str],
    block_comment: Option<(&'static str, &'static str)>,
    /// Quotes that open a string; a backquote's may span lines.
    quotes: &'static [u8],
    keywords: &'static [&'static str],
}

const C_LIKE: Syntax = Syntax {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: b"\"'`",
    keywords: &[
        "as",
        "async",
        "await",
        "break",
        "case",
        "catch",
        "char",
        "chan",
        "class",
        "const",
        "continue",
        "default",
        "defer",
        "delete",
        "do",
        "double",
        "else",
        "enum",
        "export",
        "extends",
        "extern",
        "false",
        "final",
        "finally",
        "float",
        "fn",
        "for",
        "func",
        "go",
        "goto",
        "if",
        "impl",
        "import",
        "in",
        "instanceof",
        "int",
        "interface",
        "let",
        "long",
        "loop",
        "map",
        "match",
        "mod",
        "move",
        "mut",
        "namespace",
        "new",
        "nil",
        "null",
        "package",
        "private",
        "protected",
        "pub",
        "public",
        "range",
        "ref",
        "return",
        "select",
        "self",
        "Self",
        "short",
        "static",
        "struct",
        "super",
        "switch",
        "this",
        "throw",
        "throws",
        "trait",
        "true",
        "try",
        "type",
        "typeof",
        "union",
        "unsafe",
        "unsigned",
        "use",
        "var",
        "void",
        "where",
        "while",
        "yield",
    ],
};

const HASH: Syntax = Syntax {
    line_comments: &["#"],
    block_comment: None,
    quotes: b"\"'",
    keywords: &[
        "and", "as", "assert", "begin", "break", "case", "class", "def", "do", "done", "elif",
        "else", "end", "esac", "except", "export", "False", "fi", "finally", "for", "from",
        "function", "if", "import", "in", "is", "lambda", "local", "module", "None", "not", "or",
        "pass", "raise", "require", "return", "then", "True", "try", "unless", "until", "while",
        "with", "yield",
    ],
};

const CSS: Syntax = Syntax {
    line_comments: &[],
    block_comment: Some(("/*", "*/")),
    quotes: b"\"'",
    keywords: &["important", "media", "import"],
};

fn syntax_of(name: &[u8]) -> Option<&'static Syntax> {
    let extension = name.rsplit(|&b| b == b'.').next().unwrap_or_default();
    Some(match extension.to_ascii_lowercase().as_slice() {
        b"c" | b"h" | b"cc" | b"cpp" | b"hpp" | b"cs" | b"go" | b"java" | b"js" | b"mjs"
        | b"cjs" | b"jsx" | b"ts" | b"tsx" | b"kt" | b"rs" | b"scala" | b"swift" | b"dart"
        | b"php" | b"proto" | b"zig" => &C_LIKE,
        b"py" | b"sh" | b"bash" | b"rb" | b"pl" | b"toml" | b"yaml" | b"yml" | b"r" | b"mk"
        | b"cmake" | b"nix" => &HASH,
        b"css" | b"scss" => &CSS,
        _ if name == b"Makefile" || name == b"Dockerfile" => &HASH,
        _ => return None,
    })
}

/// The lines of `text` (without their newlines) as HTML, escaped, with the tokens of the
/// language `name` is written in marked.
pub fn lines(text: &str, name: &[u8]) -> Vec<String> {
    let mut out = Lines::default();
    match syntax_of(name) {
        Some(syntax) => tokenize(text, syntax, &mut out),
        None => out.push(None, text),
    }
    out.finish(text)
}

/// Lines being written: a token's text may span several.
#[derive(Default)]
struct Lines {
    done: Vec<String>,
    line: String,
}

impl Lines {
    fn push(&mut self, class: Option<&str>, text: &str) {
        let mut pieces = text.split('\n');
        if let Some(first) = pieces.next() {
            self.piece(class, first);
        }
        for piece in pieces {
            self.done.push(std::mem::take(&mut self.line));
            self.piece(class, piece);
        }
    }

    fn piece(&mut self, class: Option<&str>, text: &str) {
        match class {
            Some(class) if !text.is_empty() => {
                self.line.push_str("<span class=\"");
                self.line.push_str(class);
                self.line.push_str("\">");
                escape_into(&mut self.line, text);
                self.line.push_str("</span>");
            }
            _ => escape_into(&mut self.line, text),
        }
    }

    /// The lines; a final newline ends the last line rather than starting another.
    fn finish(mut self, text: &str) -> Vec<String> {
        if !text.is_empty() && !text.ends_with('\n') {
            self.done.push(self.line);
        }
        self.done
    }
}

fn tokenize(text: &str, syntax: &Syntax, out: &mut Lines) {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut plain = 0;
    while at < bytes.len() {
        let rest = text.get(at..).unwrap_or_default();
        let token = token_at(rest, syntax, bytes.get(at.wrapping_sub(1)).copied());
        let Some((class, len)) = token else {
            at += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        out.push(None, text.get(plain..at).unwrap_or_default());
        out.push(class, text.get(at..at + len).unwrap_or_default());
        at += len;
        plain = at;
    }
    out.push(None, text.get(plain..).unwrap_or_default());
}

/// The token `rest` starts with, if it is one to mark or a word (whose length is skipped
/// whole, so that no keyword is found inside it): its class and length in bytes.
fn token_at(
    rest: &str,
    syntax: &Syntax,
    before: Option<u8>,
) -> Option<(Option<&'static str>, usize)> {
    let first = *rest.as_bytes().first()?;
    if let Some((open, close)) = syntax
        .block_comment
        .filter(|(open, _)| rest.starts_with(open))
    {
        let end = rest
            .get(open.len()..)?
            .find(close)
            .map_or(rest.len(), |e| e + open.len() + close.len());
        return Some((Some("c"), end));
    }
    if syntax.line_comments.iter().any(|c| rest.starts_with(c)) {
        return Some((Some("c"), rest.find('\n').unwrap_or(rest.len())));
    }
    if syntax.quotes.contains(&first) {
        return Some((Some("s"), string_len(rest.as_bytes(), first)));
    }
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    if before.is_some_and(|b| word(&b)) || !word(&first) {
        return None;
    }
    let len = rest.bytes().take_while(word).count();
    let name = rest.get(..len)?;
    let class = match first {
        b'0'..=b'9' => Some("n"),
        _ if syntax.keywords.contains(&name) => Some("k"),
        _ => None,
    };
    Some((class, len))
}

/// The length of the string `bytes` starts with (opened by `quote`): to its closing quote,
/// past escapes; a string left open ends with its line, unless a backquote opened it.
fn string_len(bytes: &[u8], quote: u8) -> usize {
    let mut at = 1;
    while let Some(&b) = bytes.get(at) {
        at += 1;
        match b {
            b'\\' => at += 1,
            b'\n' if quote != b'`' => return at - 1,
            b if b == quote => return at,
            _ => {}
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines' text, tags dropped and escapes undone: what a browser shows.
    fn shown(lines: &[String]) -> String {
        let mut text = String::new();
        for line in lines {
            let mut inside = false;
            for c in line.chars() {
                match c {
                    '<' => inside = true,
                    '>' => inside = false,
                    c if !inside => text.push(c),
                    _ => {}
                }
            }
            text.push('\n');
        }
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    }

    #[test]
    fn marks_tokens_and_keeps_the_text() {
        let source = "fn main() { // hi <b>\n    let s = \"a\\\"b\"; /* x\n y */ 42 }\nformat\n";
        let lines = lines(source, b"main.rs");
        assert_eq!(lines.len(), 4);
        assert_eq!(shown(&lines), source);
        let first = lines.first().unwrap();
        assert!(
            first.starts_with("<span class=\"k\">fn</span> main"),
            "{first}"
        );
        assert!(
            first.contains("<span class=\"c\">// hi &lt;b&gt;</span>"),
            "{first}"
        );
        let second = lines.get(1).unwrap();
        assert!(
            second.contains("<span class=\"s\">&quot;a\\&quot;b&quot;</span>"),
            "{second}"
        );
        assert!(
            second.ends_with("<span class=\"c\">/* x</span>"),
            "{second}"
        );
        assert!(lines
            .get(2)
            .unwrap()
            .contains("<span class=\"n\">42</span>"));
        // `for` inside `format` is no keyword.
        assert_eq!(lines.last().unwrap(), "format");
    }

    #[test]
    fn unknown_languages_and_odd_text_are_only_escaped() {
        let text = "é<x>\r\nlast";
        assert_eq!(lines(text, b"notes.txt"), vec!["é&lt;x&gt;\r", "last"]);
        assert_eq!(
            shown(&lines("a 'open\nb ü9 \"", b"x.py")),
            "a 'open\nb ü9 \"\n"
        );
        assert!(lines("", b"x.rs").is_empty());
    }
}
