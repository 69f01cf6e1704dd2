//! A small, forgiving HTML-to-text reader for store policy pages.
//!
//! It is not an HTML parser: it walks the bytes once, keeps text, turns
//! `<h1>`..`<h6>` into headings and `<p>`, `<li>`, `<br>`, `<div>`, table rows
//! and similar block tags into paragraph or line breaks, drops comments and
//! the contents of `<script>`, `<style>`, `<noscript>`, `<template>`, `<svg>`,
//! `<iframe>`, `<object>` and the page's `<nav>` and `<footer>` (menus and
//! boilerplate), reads `<title>`, and decodes
//! numeric and common named entities. Anything it does not understand is
//! skipped; an unclosed tag or comment ends the text. Work is linear in the
//! input (no backtracking, no nesting stack).

use super::article::Block;

/// What [`read`] finds: the `<title>`, the first `<h1>` and the blocks.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Page {
    pub title: Option<String>,
    pub blocks: Vec<Block>,
}

/// Elements whose contents are never shown text.
const DROPPED: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "iframe", "object", "textarea", "select",
    "canvas", "math", "nav", "footer",
];

/// Elements that separate paragraphs.
const PARAGRAPH: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "aside",
    "blockquote",
    "ul",
    "ol",
    "dl",
    "table",
    "form",
    "fieldset",
    "figure",
    "figcaption",
    "pre",
    "address",
    "hr",
    "body",
    "html",
    "details",
    "summary",
];

/// Elements that start a new line inside a paragraph.
const LINE: &[&str] = &["br", "li", "tr", "dt", "dd"];

/// Longest tag name looked at; longer names are treated as unknown tags.
const MAX_TAG_NAME: usize = 16;

pub(crate) fn read(html: &str) -> Page {
    let mut r = Reader::default();
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            let next = memchr(b'<', &bytes[i..]).map_or(bytes.len(), |k| i + k);
            r.text(&html[i..next]);
            i = next;
            continue;
        }
        let rest = &html[i..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            i = match comment.find("-->") {
                Some(k) => i + 4 + k + 3,
                None => bytes.len(),
            };
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            i = memchr(b'>', &bytes[i..]).map_or(bytes.len(), |k| i + k + 1);
            continue;
        }
        let Some(tag) = Tag::at(rest) else {
            // A "<" that does not start a tag ("a < b") is text.
            r.text("<");
            i += 1;
            continue;
        };
        i += tag.len;
        let name = tag.name.as_str();
        if !tag.closing && DROPPED.contains(&name) {
            // Raw text: skip to the matching end tag, whatever is inside.
            i = skip_to_end_tag(html, i, name);
            continue;
        }
        if name == "title" {
            if !tag.closing {
                let end = find_end_tag(html, i, "title");
                let raw = &html[i..end.map_or(html.len(), |(s, _)| s)];
                if r.page.title.is_none() {
                    let t = collapse(&decode_entities(&strip_tags(raw)));
                    if !t.is_empty() {
                        r.page.title = Some(t);
                    }
                }
                i = end.map_or(html.len(), |(_, e)| e);
            }
            continue;
        }
        if let Some(level) = heading_level(name) {
            r.end_paragraph();
            if tag.closing {
                r.end_heading();
            } else {
                r.heading = Some((level, String::new()));
            }
        } else if LINE.contains(&name) {
            r.line_break(name == "li" && !tag.closing);
        } else if PARAGRAPH.contains(&name) {
            r.end_heading();
            r.end_paragraph();
        }
    }
    r.end_heading();
    r.end_paragraph();
    r.page
}

#[derive(Default)]
struct Reader {
    page: Page,
    para: String,
    heading: Option<(u8, String)>,
}

impl Reader {
    fn target(&mut self) -> &mut String {
        match &mut self.heading {
            Some((_, h)) => h,
            None => &mut self.para,
        }
    }

    fn text(&mut self, raw: &str) {
        let decoded = decode_entities(raw);
        let out = self.target();
        for c in decoded.chars() {
            let c = if c == '\u{a0}' { ' ' } else { c };
            if c.is_whitespace() {
                if !out.is_empty() && !out.ends_with([' ', '\n']) {
                    out.push(' ');
                }
            } else if !c.is_control() {
                out.push(c);
            }
        }
    }

    fn line_break(&mut self, list_item: bool) {
        let out = self.target();
        trim_end_spaces(out);
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if list_item {
            out.push_str("- ");
        }
    }

    fn end_heading(&mut self) {
        if let Some((level, text)) = self.heading.take() {
            let text = collapse(&text);
            if !text.is_empty() {
                self.page.blocks.push(Block::Heading { level, text });
            }
        }
    }

    fn end_paragraph(&mut self) {
        let para = std::mem::take(&mut self.para);
        let lines: Vec<&str> = para
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "-")
            .collect();
        if !lines.is_empty() {
            self.page.blocks.push(Block::Para(lines.join("\n")));
        }
    }
}

fn trim_end_spaces(s: &mut String) {
    let n = s.trim_end_matches(' ').len();
    s.truncate(n);
}

fn heading_level(name: &str) -> Option<u8> {
    match name.as_bytes() {
        [b'h', d @ b'1'..=b'6'] => Some(d - b'0'),
        _ => None,
    }
}

/// A start or end tag at the beginning of `s` (which starts with `<`).
struct Tag {
    name: String,
    closing: bool,
    /// Bytes up to and including the closing `>` (or the rest of `s`).
    len: usize,
}

impl Tag {
    fn at(s: &str) -> Option<Tag> {
        let b = s.as_bytes();
        let mut i = 1;
        let closing = b.get(i) == Some(&b'/');
        if closing {
            i += 1;
        }
        if !b.get(i).is_some_and(u8::is_ascii_alphabetic) {
            return None;
        }
        let start = i;
        while b
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-')
        {
            i += 1;
        }
        let name = if i - start <= MAX_TAG_NAME {
            s[start..i].to_ascii_lowercase()
        } else {
            String::new()
        };
        // Attributes: skip to the first `>` outside quotes.
        let mut quote = None;
        while let Some(&c) = b.get(i) {
            match (quote, c) {
                (None, b'"' | b'\'') => quote = Some(c),
                (Some(q), _) if c == q => quote = None,
                (None, b'>') => {
                    return Some(Tag {
                        name,
                        closing,
                        len: i + 1,
                    })
                }
                _ => {}
            }
            i += 1;
        }
        // Unclosed tag: it swallows the rest of the input.
        Some(Tag {
            name,
            closing,
            len: s.len(),
        })
    }
}

/// Byte range `(start, end)` of the first `</name ...>` at or after `from`.
fn find_end_tag(html: &str, from: usize, name: &str) -> Option<(usize, usize)> {
    let bytes = html.as_bytes();
    let mut i = from;
    while let Some(k) = memchr(b'<', &bytes[i..]) {
        let start = i + k;
        let rest = &bytes[start..];
        let n = name.len();
        if rest.len() >= n + 2
            && rest[1] == b'/'
            && rest[2..2 + n].eq_ignore_ascii_case(name.as_bytes())
            && !rest
                .get(2 + n)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-')
        {
            let end = memchr(b'>', rest).map_or(bytes.len(), |e| start + e + 1);
            return Some((start, end));
        }
        i = start + 1;
    }
    None
}

fn skip_to_end_tag(html: &str, from: usize, name: &str) -> usize {
    find_end_tag(html, from, name).map_or(html.len(), |(_, end)| end)
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Text of a fragment with its tags removed (for `<title>` contents).
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whitespace runs to one space, trimmed.
fn collapse(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c == '\u{a0}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Named entities decoded; others are left as written.
const ENTITIES: &[(&str, char)] = &[
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("nbsp", '\u{a0}'),
    ("euro", '€'),
    ("pound", '£'),
    ("yen", '¥'),
    ("cent", '¢'),
    ("copy", '©'),
    ("reg", '®'),
    ("trade", '™'),
    ("deg", '°'),
    ("ndash", '–'),
    ("mdash", '—'),
    ("hellip", '…'),
    ("lsquo", '\u{2018}'),
    ("rsquo", '\u{2019}'),
    ("ldquo", '\u{201c}'),
    ("rdquo", '\u{201d}'),
    ("laquo", '«'),
    ("raquo", '»'),
    ("bull", '•'),
    ("middot", '·'),
    ("times", '×'),
    ("iexcl", '¡'),
    ("iquest", '¿'),
    ("ordf", 'ª'),
    ("ordm", 'º'),
    ("aacute", 'á'),
    ("eacute", 'é'),
    ("iacute", 'í'),
    ("oacute", 'ó'),
    ("uacute", 'ú'),
    ("Aacute", 'Á'),
    ("Eacute", 'É'),
    ("Iacute", 'Í'),
    ("Oacute", 'Ó'),
    ("Uacute", 'Ú'),
    ("ntilde", 'ñ'),
    ("Ntilde", 'Ñ'),
    ("uuml", 'ü'),
    ("Uuml", 'Ü'),
    ("ccedil", 'ç'),
    ("agrave", 'à'),
    ("egrave", 'è'),
    ("ouml", 'ö'),
    ("auml", 'ä'),
    ("szlig", 'ß'),
];

/// Decodes `&name;`, `&#NNN;` and `&#xHH;`; anything else stays as written.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(k) = rest.find('&') {
        out.push_str(&rest[..k]);
        rest = &rest[k..];
        let end = rest
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|e| {
            let body = &rest[1..e];
            let c = if let Some(num) = body.strip_prefix('#') {
                let n = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse::<u32>().ok(),
                }?;
                char::from_u32(n).filter(|c| *c != '\0')
            } else {
                ENTITIES.iter().find(|(n, _)| *n == body).map(|(_, c)| *c)
            }?;
            Some((c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paras(p: &Page) -> Vec<String> {
        p.blocks
            .iter()
            .map(|b| match b {
                Block::Heading { level, text } => format!("h{level}:{text}"),
                Block::Para(t) => t.clone(),
            })
            .collect()
    }

    #[test]
    fn reads_structure_and_entities() {
        let p = read(
            "<!doctype html><html><head><title>Returns &amp; refunds</title>\
             <style>p{color:red}</style><script>var x = '<p>no</p>';</script></head>\
             <body><h1>Returns</h1><p class=\"a>b\">You have <b>14&nbsp;days</b>.<br>Really&hellip;</p>\
             <!-- hidden <p>comment</p> --><ul><li>Canada &#8211; $15</li><li>M&eacute;xico &#x2014; $18</ul>\
             <p>Fish &chips; 3 < 4 &amp</p></body></html>",
        );
        assert_eq!(p.title.as_deref(), Some("Returns & refunds"));
        assert_eq!(
            paras(&p),
            [
                "h1:Returns",
                "You have 14 days.\nReally…",
                "- Canada – $15\n- México — $18",
                "Fish &chips; 3 < 4 &amp",
            ]
        );
    }

    #[test]
    fn hostile_input_is_bounded_and_never_panics() {
        let huge_attr = format!("<p title=\"{}\">kept</p>", "x".repeat(1_000_000));
        let p = read(&huge_attr);
        assert_eq!(paras(&p), ["kept"]);
        // Unclosed things swallow the rest but never loop or panic.
        for s in [
            "<p",
            "<p>text<",
            "text <!-- never closed <p>x</p>",
            "<script>alert(1)",
            "<a href='unterminated>text</a>",
            "</",
            "<",
            "&",
            "&#xFFFFFFFFFF;",
            "&#0;&#55296;",
            "<title>",
            "<h1>unclosed heading",
            "<\u{e9}>é</\u{e9}>",
        ] {
            let _ = read(s);
        }
        // A script inside a script: the first end tag ends the raw text, as
        // in browsers; the stray text after it is shown, nothing inside is.
        let p = read("<p>a</p><script>x<script>evil()</script>tail</script ><p>b</p>");
        assert_eq!(paras(&p), ["a", "tail", "b"]);
        let p = read("<SCRIPT type=x>evil()</ScRiPt><STYLE>p{}</style\n>ok");
        assert_eq!(paras(&p), ["ok"]);
        let p = read("<p>we ship to <em>Canada</em></p><p>2 &lt; 3</p>");
        assert_eq!(paras(&p), ["we ship to Canada", "2 < 3"]);
        assert_eq!(read("<h2>  </h2><p> </p>"), Page::default());
        let long_name = format!("<{}>x</p>", "a".repeat(10_000));
        assert_eq!(paras(&read(&long_name)), ["x"]);
    }
}
