//! Reading one Markdown article: a `# Title` line, then `## Heading` sections.
//!
//! Each section (heading plus its paragraphs) is one passage. Text between the
//! title and the first `##` heading, if any, is a passage of its own with no
//! heading. Deeper headings (`###`) are kept as text of their section.

/// One article, split into passages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Article {
    pub id: String,
    pub title: String,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Section {
    /// The `##` heading, empty for an introduction before the first heading.
    pub heading: String,
    /// The paragraphs as written, blank-line separated.
    pub text: String,
}

/// Parses `text` as the article `id`; the error says what is wrong (the caller
/// adds the file name).
pub(crate) fn parse(id: &str, text: &str) -> Result<Article, String> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err("the file is empty".into());
    }
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    let first = lines.next().unwrap_or("").trim();
    let title = match first.strip_prefix("# ") {
        Some(t) if !t.trim().is_empty() => t.trim().trim_end_matches('#').trim().to_string(),
        _ => return Err("the first line must be the title, as `# Title`".into()),
    };
    let mut sections = Vec::new();
    let mut current = Section::default();
    for line in lines {
        let trimmed = line.trim();
        if let Some(h) = trimmed.strip_prefix("## ") {
            finish(&mut sections, std::mem::take(&mut current));
            current.heading = h.trim().trim_end_matches('#').trim().to_string();
        } else if trimmed.is_empty() {
            if !current.text.is_empty() && !current.text.ends_with("\n\n") {
                current.text.push_str("\n\n");
            }
        } else {
            if !current.text.is_empty() && !current.text.ends_with('\n') {
                current.text.push('\n');
            }
            current.text.push_str(trimmed);
        }
    }
    finish(&mut sections, current);
    if sections.is_empty() {
        return Err("the article has a title but no text".into());
    }
    Ok(Article {
        id: id.to_string(),
        title,
        sections,
    })
}

/// Keeps a section that has text; a heading with nothing under it is dropped.
fn finish(sections: &mut Vec<Section>, mut s: Section) {
    let trimmed = s.text.trim_end().len();
    s.text.truncate(trimmed);
    if !s.text.is_empty() {
        sections.push(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sections_and_keeps_an_introduction() {
        let a = parse(
            "x",
            "\u{FEFF}\n# Returns #\nIntro line.\n\n## Window\nThirty days.\nSecond line.\n\n\nNew paragraph.\n## Empty\n\n## Refunds ##\nFast.\n",
        )
        .expect("parses");
        assert_eq!(a.title, "Returns");
        let got: Vec<(&str, &str)> = a
            .sections
            .iter()
            .map(|s| (s.heading.as_str(), s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("", "Intro line."),
                ("Window", "Thirty days.\nSecond line.\n\nNew paragraph."),
                ("Refunds", "Fast."),
            ]
        );
    }

    #[test]
    fn rejects_files_without_title_or_text() {
        assert_eq!(parse("x", " \n\t\n"), Err("the file is empty".into()));
        assert!(parse("x", "## Heading\ntext").is_err());
        assert!(parse("x", "#\ntext").is_err());
        assert!(parse("x", "Title\ntext").is_err());
        assert_eq!(
            parse("x", "# Title\n\n## Empty\n"),
            Err("the article has a title but no text".into())
        );
    }
}
