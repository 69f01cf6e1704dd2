//! Reading one article (Markdown, plain text or simple HTML) and splitting it
//! into passages.
//!
//! Every format is first read into a title and a list of blocks (headings and
//! paragraphs):
//!
//! * **Markdown** (`.md`): optional front matter (`---` / `title: ...` /
//!   `---`), then an optional `# Title` first line; `##`..`######` (and later
//!   `#`) lines are headings; blank lines separate paragraphs.
//! * **Plain text** (`.txt`): blank lines separate paragraphs.
//! * **HTML** (`.html`, `.htm`): see the `html` module.
//!
//! In Markdown and plain text, a one-line paragraph that reads like a heading
//! (short, capitalised, no final punctuation, no digits or `@`), followed by
//! a paragraph, is a heading (`**Returns**` included). The title is the front
//! matter's, else the first `#` heading (Markdown), the first `<h1>` or the
//! `<title>` (HTML), a heading-like first line (plain text), else the file
//! name humanised (`shipping-policy` -> "Shipping policy").
//!
//! Passages: where an article has headings, each section (heading and the
//! paragraphs under it) is a passage, and text before the first heading is a
//! passage of its own; without headings, each paragraph is. A paragraph that
//! ends with a colon belongs with the next one ("We ship to:" and its list).
//! A passage longer than [`MAX_SENTENCES`] sentences (a list counts as one)
//! or [`MAX_CHARS`] characters is split into its paragraphs, and a long paragraph into windows
//! of [`WINDOW`] whole sentences that overlap by one. A passage's text is
//! always a run of whole sentences as written.

use super::html;

/// A section or paragraph with at most this many sentences is one passage.
pub(crate) const MAX_SENTENCES: usize = 4;
/// ... and at most this many characters.
pub(crate) const MAX_CHARS: usize = 700;
/// Sentences per window when a long paragraph is split.
pub(crate) const WINDOW: usize = 3;

/// The formats an article can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Markdown,
    Text,
    Html,
}

impl Format {
    /// The format of a file with this extension, if it is an article.
    pub(crate) fn from_extension(ext: &str) -> Option<Format> {
        match ext.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Some(Format::Markdown),
            "txt" => Some(Format::Text),
            "html" | "htm" => Some(Format::Html),
            _ => None,
        }
    }
}

/// One article, split into passages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Article {
    pub id: String,
    pub title: String,
    pub passages: Vec<Passage>,
}

/// A run of whole sentences from one section.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Passage {
    /// The section's heading(s) (`Shipping › Canada`), empty if none.
    pub heading: String,
    /// The sentences as written.
    pub text: String,
}

/// A heading or a paragraph, as read from a file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    Heading { level: u8, text: String },
    Para(String),
}

/// Why a file cannot be read as an article; the caller adds the file name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParseError {
    pub line: Option<usize>,
    pub message: String,
}

impl ParseError {
    fn new(message: &str) -> ParseError {
        ParseError {
            line: None,
            message: message.to_string(),
        }
    }

    fn at(line: usize, message: &str) -> ParseError {
        ParseError {
            line: Some(line),
            message: message.to_string(),
        }
    }
}

/// Parses Markdown `text` as the article `id` (the built-in articles).
#[cfg(test)]
pub(crate) fn parse(id: &str, text: &str) -> Result<Article, ParseError> {
    parse_as(id, text, Format::Markdown)
}

/// Parses `text`, written in `format`, as the article `id`.
pub(crate) fn parse_as(id: &str, text: &str, format: Format) -> Result<Article, ParseError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ParseError::new("the file is empty"));
    }
    let (title, blocks) = match format {
        Format::Markdown => read_markdown(text)?,
        Format::Text => read_text(text),
        Format::Html => {
            let page = html::read(text);
            let mut blocks = page.blocks;
            let h1 = blocks
                .iter()
                .position(|b| matches!(b, Block::Heading { level: 1, .. }));
            let title = match h1 {
                Some(i) => match blocks.remove(i) {
                    Block::Heading { text, .. } => Some(text),
                    Block::Para(_) => None,
                },
                None => page.title,
            };
            (title, blocks)
        }
    };
    let title = title.unwrap_or_else(|| humanise(id));
    let passages = passages(&blocks);
    if passages.is_empty() {
        return Err(ParseError::new("the article has a title but no text"));
    }
    Ok(Article {
        id: id.to_string(),
        title,
        passages,
    })
}

/// `shipping-policy` -> "Shipping policy".
fn humanise(id: &str) -> String {
    let spaced: String = id
        .chars()
        .map(|c| if c == '-' || c == '_' { ' ' } else { c })
        .collect();
    let spaced = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Article".to_string(),
    }
}

fn read_markdown(text: &str) -> Result<(Option<String>, Vec<Block>), ParseError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0;
    let mut title = None;
    // Front matter.
    if lines.first().map(|l| l.trim_end()) == Some("---") {
        let end = lines
            .iter()
            .skip(1)
            .position(|l| matches!(l.trim_end(), "---" | "..."))
            .ok_or_else(|| ParseError::at(1, "the front matter (`---`) is never closed"))?;
        for line in &lines[1..=end] {
            if let Some(v) = line.strip_prefix("title:") {
                let v = v.trim().trim_matches(['"', '\'']).trim();
                if !v.is_empty() {
                    title = Some(v.to_string());
                }
            }
        }
        start = end + 2;
    }
    let mut blocks = Vec::new();
    let mut para = String::new();
    let mut first_content = true;
    for (n, raw) in lines.iter().enumerate().skip(start) {
        let line = raw.trim();
        if let Some((level, heading)) = atx_heading(line) {
            flush(&mut para, &mut blocks);
            if heading.is_empty() {
                if first_content && level == 1 {
                    return Err(ParseError::at(n + 1, "the `#` title is empty"));
                }
            } else if first_content && level == 1 && title.is_none() {
                title = Some(heading.to_string());
            } else {
                blocks.push(Block::Heading {
                    level,
                    text: heading.to_string(),
                });
            }
            first_content = false;
        } else if line.is_empty() {
            flush(&mut para, &mut blocks);
        } else {
            first_content = false;
            if !para.is_empty() {
                para.push('\n');
            }
            para.push_str(line);
        }
    }
    flush(&mut para, &mut blocks);
    Ok((title, pseudo_headings(blocks)))
}

fn read_text(text: &str) -> (Option<String>, Vec<Block>) {
    let mut blocks = Vec::new();
    let mut para = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            flush(&mut para, &mut blocks);
        } else {
            if !para.is_empty() {
                para.push('\n');
            }
            para.push_str(line);
        }
    }
    flush(&mut para, &mut blocks);
    let mut blocks = pseudo_headings(blocks);
    let title = match blocks.first() {
        Some(Block::Heading { .. }) => match blocks.remove(0) {
            Block::Heading { text, .. } => Some(text),
            Block::Para(_) => None,
        },
        _ => None,
    };
    (title, blocks)
}

fn flush(para: &mut String, blocks: &mut Vec<Block>) {
    if !para.is_empty() {
        blocks.push(Block::Para(std::mem::take(para)));
    }
}

/// `## Heading ##` -> (2, "Heading"); `#hashtag` is not a heading.
fn atx_heading(line: &str) -> Option<(u8, &str)> {
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = &line[hashes..];
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    Some((hashes as u8, rest.trim().trim_end_matches('#').trim()))
}

/// Turns heading-like one-line paragraphs followed by a paragraph into
/// headings (level 2).
fn pseudo_headings(blocks: Vec<Block>) -> Vec<Block> {
    let n = blocks.len();
    let next_is_para: Vec<bool> = (0..n)
        .map(|i| matches!(blocks.get(i + 1), Some(Block::Para(_))))
        .collect();
    blocks
        .into_iter()
        .enumerate()
        .map(|(i, b)| match b {
            Block::Para(t) if next_is_para[i] => match heading_like(&t) {
                Some(h) => Block::Heading { level: 2, text: h },
                None => Block::Para(t),
            },
            b => b,
        })
        .collect()
}

fn heading_like(t: &str) -> Option<String> {
    if t.contains('\n') {
        return None;
    }
    let t = t.trim();
    let inner = ["**", "__"]
        .iter()
        .find_map(|m| t.strip_prefix(m).and_then(|s| s.strip_suffix(m)))
        .unwrap_or(t)
        .trim();
    let words = inner.split_whitespace().count();
    let first_upper = inner
        .chars()
        .find(|c| c.is_alphabetic() || *c == '¿' || *c == '¡')
        .is_some_and(|c| c.is_uppercase() || c == '¿' || c == '¡');
    let ok = (1..=8).contains(&words)
        && inner.chars().count() <= 60
        && first_upper
        && !inner.ends_with(['.', '!', ':', ';', ','])
        && !inner.contains(|c: char| c.is_ascii_digit() || c == '@' || c == '$' || c == '€')
        && !inner.starts_with(['-', '*', '+', '>', '|']);
    ok.then(|| inner.to_string())
}

/// Sections under headings (or paragraphs), then passages of whole sentences.
fn passages(blocks: &[Block]) -> Vec<Passage> {
    let has_headings = blocks.iter().any(|b| matches!(b, Block::Heading { .. }));
    // Heading path: one entry per level.
    let mut path: Vec<(u8, String)> = Vec::new();
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let heading_of = |path: &[(u8, String)]| {
        path.iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join(" › ")
    };
    let mut heading = String::new();
    for b in blocks {
        match b {
            Block::Heading { level, text } => {
                if !current.is_empty() {
                    sections.push((heading.clone(), std::mem::take(&mut current)));
                }
                path.retain(|(l, _)| l < level);
                path.push((*level, text.clone()));
                heading = heading_of(&path);
            }
            Block::Para(p) => {
                // "... we ship to:" introduces what follows.
                match current.last_mut() {
                    Some(last) if last.trim_end().ends_with(':') => {
                        last.push('\n');
                        last.push_str(p);
                    }
                    _ => current.push(p.clone()),
                }
                if !has_headings && !current.last().is_some_and(|l| l.trim_end().ends_with(':')) {
                    sections.push((heading.clone(), std::mem::take(&mut current)));
                }
            }
        }
    }
    if !current.is_empty() {
        sections.push((heading, current));
    }
    let mut out = Vec::new();
    for (heading, paras) in sections {
        let whole = paras.join("\n\n");
        if fits(&whole) {
            out.push(Passage {
                heading,
                text: whole,
            });
            continue;
        }
        for p in paras {
            if fits(&p) {
                out.push(Passage {
                    heading: heading.clone(),
                    text: p,
                });
                continue;
            }
            let spans = sentences(&p);
            let mut start = 0;
            loop {
                let end = (start + WINDOW).min(spans.len());
                let (Some(first), Some(last)) = (spans.get(start), spans.get(end - 1)) else {
                    break;
                };
                out.push(Passage {
                    heading: heading.clone(),
                    text: p[first.0..last.1].trim().to_string(),
                });
                if end >= spans.len() {
                    break;
                }
                start += WINDOW - 1;
            }
        }
    }
    out.retain(|p| !p.text.trim().is_empty());
    out
}

/// Short enough to be one passage: few sentences (a list counts as one) and
/// characters.
fn fits(text: &str) -> bool {
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    let items = text
        .lines()
        .filter(|l| l.trim_start().starts_with(['-', '*', '•', '+']))
        .count();
    text.chars().count() <= MAX_CHARS
        && (sentences(text).len() <= MAX_SENTENCES || items * 2 > lines)
}

/// Words after which a period does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "approx", "aprox", "dr", "dra", "e.g", "eg", "etc", "i.e", "ie", "inc", "ltd", "mr", "mrs",
    "ms", "no", "nr", "núm", "p.ej", "pág", "sr", "sra", "srta", "st", "ud", "uds", "vs",
];

/// Byte ranges of the sentences of `text`: split after `.`, `!`, `?` or `…`
/// (and closing quotes or brackets) followed by white space and a capital,
/// digit, `¿`, `¡`, quote or bracket; and at line breaks that end a sentence
/// (after punctuation or a colon) or start a list item.
pub(crate) fn sentences(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let is_end = matches!(c, '.' | '!' | '?' | '…' | '。');
        if is_end || c == '\n' {
            // Include closing quotes and brackets after the punctuation.
            let mut j = i + 1;
            if is_end {
                while chars
                    .get(j)
                    .is_some_and(|&(_, c)| matches!(c, '"' | '\'' | ')' | ']' | '”' | '’' | '»'))
                {
                    j += 1;
                }
            }
            let end = chars.get(j).map_or(text.len(), |&(p, _)| p);
            let boundary = if c == '\n' {
                let before = text[start..pos].trim_end();
                let next_line = text[pos + 1..].trim_start();
                before.ends_with(['.', '!', '?', ':', ';', '…'])
                    || next_line.starts_with(['-', '*', '•', '+'])
                    || next_line.split_once(['.', ')']).is_some_and(|(n, _)| {
                        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
                    })
            } else {
                let next = chars.get(j).map(|&(_, c)| c);
                let after = chars[j..]
                    .iter()
                    .map(|&(_, c)| c)
                    .find(|c| !c.is_whitespace());
                let word: String = chars[..i]
                    .iter()
                    .rev()
                    .map(|&(_, c)| c)
                    .take_while(|c| c.is_alphanumeric() || *c == '.')
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<String>()
                    .to_lowercase();
                let abbreviation = c == '.'
                    && (ABBREVIATIONS.contains(&word.as_str())
                        || (word.chars().count() == 1 && word.chars().all(char::is_alphabetic))
                        || word.ends_with(|c: char| c.is_alphabetic())
                            && word.contains('.')
                            && word.len() <= 6);
                next.is_none_or(char::is_whitespace)
                    && after.is_none_or(|a| {
                        a.is_uppercase()
                            || a.is_ascii_digit()
                            || matches!(a, '¿' | '¡' | '"' | '“' | '(' | '-' | '*' | '•')
                    })
                    && !abbreviation
            };
            if boundary {
                if !text[start..end].trim().is_empty() {
                    out.push((start, end));
                }
                start = end;
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    if !text[start..].trim().is_empty() {
        out.push((start, text.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn got(a: &Article) -> Vec<(&str, &str)> {
        a.passages
            .iter()
            .map(|s| (s.heading.as_str(), s.text.as_str()))
            .collect()
    }

    #[test]
    fn splits_sections_and_keeps_an_introduction() {
        let a = parse(
            "x",
            "\u{FEFF}\n# Returns #\nIntro line.\n\n## Window\nThirty days.\nSecond line.\n\n\nNew paragraph.\n## Empty\n\n## Refunds ##\nFast.\n",
        )
        .expect("parses");
        assert_eq!(a.title, "Returns");
        assert_eq!(
            got(&a),
            [
                ("", "Intro line."),
                ("Window", "Thirty days.\nSecond line.\n\nNew paragraph."),
                ("Refunds", "Fast."),
            ]
        );
    }

    #[test]
    fn without_headings_each_paragraph_is_a_passage() {
        let a = parse_as(
            "return-policy",
            "You have 14 days to send things back.\n\nRefunds take a week.\nWe email you.\n\nWe ship to:\n\n- Canada\n- Mexico\n",
            Format::Text,
        )
        .expect("parses");
        assert_eq!(a.title, "Return policy");
        assert_eq!(
            got(&a),
            [
                ("", "You have 14 days to send things back."),
                ("", "Refunds take a week.\nWe email you."),
                ("", "We ship to:\n- Canada\n- Mexico"),
            ]
        );
        let a = parse_as(
            "x",
            "Shipping Information\n\nWe ship daily.\n\n**Abroad**\n\nCanada costs $15.\n",
            Format::Text,
        )
        .expect("parses");
        assert_eq!(a.title, "Shipping Information");
        assert_eq!(
            got(&a),
            [("", "We ship daily."), ("Abroad", "Canada costs $15.")]
        );
    }

    #[test]
    fn long_paragraphs_become_overlapping_windows_of_whole_sentences() {
        let para = "One is here. Two is e.g. there! Three costs $4.95 today? \
                    Four at St. Paul. Five goes \"quoted.\" Six ends";
        let spans: Vec<&str> = sentences(para)
            .into_iter()
            .map(|(s, e)| para[s..e].trim())
            .collect();
        assert_eq!(
            spans,
            [
                "One is here.",
                "Two is e.g. there!",
                "Three costs $4.95 today?",
                "Four at St. Paul.",
                "Five goes \"quoted.\"",
                "Six ends"
            ]
        );
        let a = parse_as("x", para, Format::Text).expect("parses");
        let texts: Vec<&str> = a.passages.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "One is here. Two is e.g. there! Three costs $4.95 today?",
                "Three costs $4.95 today? Four at St. Paul. Five goes \"quoted.\"",
                "Five goes \"quoted.\" Six ends",
            ]
        );
    }

    #[test]
    fn html_titles_and_sections() {
        let a = parse_as(
            "ship",
            "<title>Ignored | Shop</title><h1>Shipping</h1><p>Intro.</p><h2>Canada</h2><p>$15.</p>",
            Format::Html,
        )
        .expect("parses");
        assert_eq!(a.title, "Shipping");
        assert_eq!(got(&a), [("", "Intro."), ("Canada", "$15.")]);
        let a = parse_as("ship", "<title>Shop</title><p>Hi.</p>", Format::Html).expect("parses");
        assert_eq!(a.title, "Shop");
        let a = parse_as(
            "x",
            "---\ntitle: \"Front\"\n---\n# Heading\ntext\n## Sub\n### Deeper\nmore\n",
            Format::Markdown,
        )
        .expect("parses");
        assert_eq!(a.title, "Front");
        assert_eq!(
            got(&a),
            [("Heading", "text"), ("Heading › Sub › Deeper", "more")]
        );
    }

    #[test]
    fn rejects_files_without_text() {
        let err = |t: &str, f| parse_as("x", t, f).map(|_| ()).unwrap_err();
        assert_eq!(
            err(" \n\t\n", Format::Markdown).message,
            "the file is empty"
        );
        assert_eq!(
            err("\n\n#\ntext", Format::Markdown),
            ParseError::at(3, "the `#` title is empty")
        );
        assert_eq!(
            err("---\ntitle: x\n", Format::Markdown),
            ParseError::at(1, "the front matter (`---`) is never closed")
        );
        assert_eq!(
            err("# Title\n\n## Empty\n", Format::Markdown).message,
            "the article has a title but no text"
        );
        assert!(parse_as("x", "<script>x</script>", Format::Html).is_err());
        assert_eq!(
            parse_as("x", "Title\ntext", Format::Markdown).map(|a| a.title),
            Ok("X".to_string())
        );
    }
}
