//! READMEs and other Markdown files rendered with `pulldown-cmark`: raw HTML in them is
//! shown as text, links go only to the web (`http`, `https`, `mailto`) or into the
//! repository (resolved against the file's directory), and images only into it.

use pulldown_cmark::{Alignment, Event, LinkType, Options, Parser, Tag, TagEnd};

use crate::http::pages::html::url_path;

/// Where a Markdown file sits: relative links resolve against it.
pub struct Place<'a> {
    /// The repository's pages, e.g. `/alice/demo/-`.
    pub pages: &'a str,
    /// The revision the file was read at, as it goes in a URL.
    pub rev: &'a str,
    /// The directory holding the file, as components from the root.
    pub dir: &'a [Vec<u8>],
}

/// Whether a file named `name` is Markdown, by its extension (in any case).
pub fn is_markdown(name: &[u8]) -> bool {
    let name = name.to_ascii_lowercase();
    name.ends_with(b".md") || name.ends_with(b".markdown")
}

/// The most table cells a document may have for its tables to be drawn: pulldown-cmark
/// fills in a table's missing cells, so a few KiB of delimiter rows with hundreds of
/// columns over many lines would make megabytes of cells.
const MAX_TABLE_CELLS: usize = 50_000;

/// `source` rendered as HTML.
pub fn render(source: &str, place: &Place) -> String {
    let mut options =
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS | Options::ENABLE_FOOTNOTES;
    if table_cells(source) <= MAX_TABLE_CELLS {
        options |= Options::ENABLE_TABLES;
    }
    // Whether each image open is dropped (its source is not allowed): its alt text stays.
    let mut dropped = Vec::new();
    let events = Parser::new_ext(source, options).filter_map(|event| match event {
        // Text, so that a README cannot add markup (scripts, forms, styles) to the page.
        Event::Html(html) | Event::InlineHtml(html) => Some(Event::Text(html)),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let source = image(&dest_url, place);
            dropped.push(source.is_none());
            source.map(|dest_url| {
                Event::Start(Tag::Image {
                    link_type,
                    dest_url: dest_url.into(),
                    title,
                    id,
                })
            })
        }
        Event::End(TagEnd::Image) => match dropped.pop() {
            Some(true) => None,
            _ => Some(event),
        },
        Event::Start(tag) => Some(Event::Start(safe_tag(tag, place))),
        event => Some(event),
    });
    let mut out = String::with_capacity(source.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

/// About how many cells the tables of `source` would have, were they drawn: each
/// delimiter row's columns times the lines down to the next blank one.
fn table_cells(source: &str) -> usize {
    let lines: Vec<&str> = source.lines().collect();
    let mut cells = 0usize;
    for (at, line) in lines.iter().enumerate() {
        let delimiter = line.contains('-')
            && line.contains('|')
            && line
                .chars()
                .all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'));
        if delimiter {
            let columns = line.matches('|').count() + 1;
            let rows = lines
                .iter()
                .skip(at)
                .take_while(|l| !l.trim().is_empty())
                .count();
            cells = cells.saturating_add(columns.saturating_mul(rows + 1));
        }
    }
    cells
}

fn safe_tag<'a>(tag: Tag<'a>, place: &Place) -> Tag<'a> {
    match tag {
        // An address the parser found: the writer puts `mailto:` before it.
        Tag::Link {
            link_type: LinkType::Email,
            ..
        } => tag,
        Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        } => Tag::Link {
            link_type,
            dest_url: link(&dest_url, place, "blob").into(),
            title,
            id,
        },
        // Column alignment is written as a `style` attribute, which the page's policy
        // forbids (and the browser would report).
        Tag::Table(columns) => Tag::Table(vec![Alignment::None; columns.len()]),
        tag => tag,
    }
}

/// The scheme of `url`, lower-cased, if it has one (`x:` before any `/`, `?` or `#`).
fn scheme(url: &str) -> Option<String> {
    let end = url.find([':', '/', '?', '#'])?;
    let (scheme, rest) = url.split_at(end);
    (rest.starts_with(':') && !scheme.is_empty()).then(|| scheme.to_ascii_lowercase())
}

/// Where a link goes: the web as written, an anchor as written, a path in the repository
/// to its page of `kind`; anything else (`javascript:`, `data:`) nowhere.
fn link(url: &str, place: &Place, kind: &str) -> String {
    match scheme(url).as_deref() {
        Some("http" | "https" | "mailto") => url.to_string(),
        Some(_) => "#".to_string(),
        None if url.starts_with('#') || url.is_empty() => url.to_string(),
        None if url.starts_with("//") => "#".to_string(),
        None => in_repository(url, place, kind),
    }
}

/// Where an image comes from: only the repository, as the page's policy allows; None for
/// anywhere else.
fn image(url: &str, place: &Place) -> Option<String> {
    let inside = scheme(url).is_none() && !url.starts_with("//") && !url.starts_with('#');
    inside.then(|| in_repository(url, place, "raw"))
}

/// A relative path (or one from the repository's root, with a leading `/`) as the URL of
/// its page of `kind`; its query and fragment kept.
fn in_repository(url: &str, place: &Place, kind: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let (path, suffix) = url.split_at(end);
    let decoded = crate::format::percent_decode(path);
    let mut parts: Vec<Vec<u8>> = match decoded.starts_with(b"/") {
        true => Vec::new(),
        false => place.dir.to_vec(),
    };
    for part in decoded.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            part => parts.push(part.to_vec()),
        }
    }
    let path = url_path(&parts.join(&b'/'));
    let kind = match (kind, parts.is_empty()) {
        ("blob", true) => "tree",
        (kind, _) => kind,
    };
    format!("{}/{kind}/{}/{path}{suffix}", place.pages, place.rev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place() -> (String, Vec<Vec<u8>>) {
        ("/o/r/-".into(), vec![b"docs".to_vec()])
    }

    fn html(source: &str) -> String {
        let (pages, dir) = place();
        render(
            source,
            &Place {
                pages: &pages,
                rev: "main",
                dir: &dir,
            },
        )
    }

    #[test]
    fn raw_html_is_text() {
        let out = html("<script>alert(1)</script>\n\nhi <img src=x onerror=alert(1)>");
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("<img"), "{out}");
        assert!(
            out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{out}"
        );
    }

    #[test]
    fn links_go_to_the_web_or_the_repository() {
        let out = html("[a](javascript:alert(1)) [b](JavaScript:x) [c](https://x.org/a) [d](../src/a%20b.rs#L3) [e](/README.md) [f](#top) [g](//evil.org/x) [h](data:text/html,x)");
        assert!(!out.to_lowercase().contains("javascript:"), "{out}");
        assert!(out.contains("href=\"https://x.org/a\""), "{out}");
        assert!(
            out.contains("href=\"/o/r/-/blob/main/src/a%20b.rs#L3\""),
            "{out}"
        );
        assert!(out.contains("href=\"/o/r/-/blob/main/README.md\""), "{out}");
        assert!(out.contains("href=\"#top\""), "{out}");
        assert!(!out.contains("evil.org"), "{out}");
        assert!(!out.contains("data:"), "{out}");
    }

    #[test]
    fn images_come_from_the_repository_only() {
        let out = html("![a](img/a.png) ![tracked](https://tracker.example/p.gif)");
        assert!(
            out.contains("src=\"/o/r/-/raw/main/docs/img/a.png\""),
            "{out}"
        );
        assert!(!out.contains("tracker.example"), "{out}");
        assert_eq!(out.matches("<img").count(), 1, "{out}");
        assert!(out.contains("tracked"), "the alt text stays: {out}");
    }

    #[test]
    fn addresses_stay_addresses() {
        let out = html("Write to <a@b.example>.");
        assert!(out.contains("href=\"mailto:a@b.example\""), "{out}");
    }

    #[test]
    fn wide_tables_over_many_lines_are_not_drawn() {
        let mut source = format!("{}\n{}\n", "|a".repeat(512), "|-".repeat(512));
        source.push_str(&"a\n".repeat(520));
        let out = html(&source);
        assert!(!out.contains("<table>"), "{}", out.len());
        assert!(out.len() < 3 * source.len());
        assert!(html("| a | b |\n|---|---|\n| 1 | 2 |\n").contains("<table>"));
    }

    #[test]
    fn tables_carry_no_style() {
        let out = html("| a | b |\n|:-:|--:|\n| 1 | 2 |\n");
        assert!(out.contains("<table>"), "{out}");
        assert!(!out.contains("style"), "{out}");
    }
}
