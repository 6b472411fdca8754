//! Writing HTML: markup we write is trusted, everything else (names, messages, file
//! contents, refs) goes through [`Html::text`], which escapes it.

use std::borrow::Cow;
use std::fmt::Write;

/// About the most bytes a page is: the loops that write one stop past it, with a note, so
/// that what a repository holds (a million one-character lines, a vast tree) cannot make a
/// page outgrow the object's memory.
pub const MAX_PAGE: usize = 8 << 20;

/// A page being written.
#[derive(Default)]
pub struct Html(String);

impl Html {
    /// Markup of ours, as it is.
    pub fn raw(&mut self, markup: &str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Text from anywhere, escaped for an element's content or a quoted attribute.
    pub fn text(&mut self, text: &str) -> &mut Self {
        escape_into(&mut self.0, text);
        self
    }

    /// Bytes from a repository, as text (invalid UTF-8 shown as U+FFFD), escaped.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.text(&String::from_utf8_lossy(bytes))
    }

    /// A number.
    pub fn num(&mut self, n: impl std::fmt::Display) -> &mut Self {
        // Writing to a String cannot fail.
        let _ = write!(self.0, "{n}");
        self
    }

    /// `<a href="{href}">{text}</a>`, both escaped; `class` when not empty.
    pub fn link(&mut self, href: &str, class: &str, text: &str) -> &mut Self {
        self.raw("<a");
        if !class.is_empty() {
            self.raw(" class=\"").raw(class).raw("\"");
        }
        self.raw(" href=\"")
            .text(href)
            .raw("\">")
            .text(text)
            .raw("</a>")
    }

    /// Whether the page has reached [`MAX_PAGE`]: a loop writing rows stops here.
    pub fn full(&self) -> bool {
        self.0.len() >= MAX_PAGE
    }

    /// What is written so far.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The page written.
    pub fn finish(self) -> String {
        self.0
    }
}

/// Appends `text` escaped: the five characters that could end a text or an attribute.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `text` cut to its first `max` characters, with an ellipsis where it was cut: a name or a
/// subject shown whole could be megabytes.
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((at, _)) => Cow::Owned(format!("{}…", text.get(..at).unwrap_or_default())),
    }
}

/// `path` for a URL: every byte but unreserved ones and `/` %-encoded, so that any name a
/// tree holds (spaces, `?`, `#`, `%`, non-UTF-8) comes back as it is.
pub fn url_path(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A query parameter's value %-encoded.
pub fn url_query(value: &[u8]) -> String {
    url_path(value).replace('/', "%2F")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_end_text_or_an_attribute() {
        let mut html = Html::default();
        html.text("<script>\"a\" & 'b'</script>");
        assert_eq!(
            html.finish(),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        let mut html = Html::default();
        html.link("/x?a=\"1\"", "id", "<b>");
        assert_eq!(
            html.finish(),
            "<a class=\"id\" href=\"/x?a=&quot;1&quot;\">&lt;b&gt;</a>"
        );
    }

    #[test]
    fn clips_long_text() {
        assert_eq!(clip("héllo", 10), "héllo");
        assert_eq!(clip("héllo", 2), "hé…");
    }

    #[test]
    fn encodes_names_for_urls() {
        assert_eq!(url_path(b"a b/c?d#e%f"), "a%20b/c%3Fd%23e%25f");
        assert_eq!(url_path(b"\xff\"<"), "%FF%22%3C");
        assert_eq!(url_query(b"a/b c"), "a%2Fb%20c");
    }
}
