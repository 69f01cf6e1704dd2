//! Small text helpers shared by the extractors. All offsets are byte offsets
//! into the original message; they are converted to char offsets at the end.

/// The char just before byte offset `b` (which must be a char boundary).
pub(super) fn prev_char(text: &str, b: usize) -> Option<char> {
    text.get(..b).and_then(|s| s.chars().next_back())
}

/// The char starting at byte offset `b`.
pub(super) fn next_char(text: &str, b: usize) -> Option<char> {
    text.get(b..).and_then(|s| s.chars().next())
}

/// The char two positions before `b`.
fn prev_prev_char(text: &str, b: usize) -> Option<char> {
    let mut it = text.get(..b)?.chars();
    it.next_back();
    it.next_back()
}

/// The char after the one starting at `b`.
fn next_next_char(text: &str, b: usize) -> Option<char> {
    let mut it = text.get(b..)?.chars();
    it.next();
    it.next()
}

/// True when a number-like token may start at `b`: not glued to a word, and
/// not the continuation of a decimal, time, date, range or version
/// (`1.5`, `10:30`, `11/03`, `3-4`, `v2`).
pub(super) fn num_start_ok(text: &str, b: usize) -> bool {
    match prev_char(text, b) {
        None => true,
        Some(c) if c.is_alphanumeric() || c == '_' || c == '+' || c == '@' => false,
        Some('.' | ',' | ':' | '/' | '-' | '\u{2013}') => {
            !matches!(prev_prev_char(text, b), Some(p) if p.is_alphanumeric())
        }
        Some(_) => true,
    }
}

/// True when a number-like token may end at `b` (see [`num_start_ok`]).
pub(super) fn num_end_ok(text: &str, b: usize) -> bool {
    match next_char(text, b) {
        None => true,
        Some(c) if c.is_alphanumeric() || c == '_' || c == '%' || c == '@' => false,
        Some('.' | ',' | ':' | '/' | '-' | '\u{2013}') => {
            !matches!(next_next_char(text, b), Some(n) if n.is_alphanumeric())
        }
        Some(_) => true,
    }
}

/// The next word (ASCII-lower-cased view `lower`) after byte `b`, skipping
/// spaces only. Returns an empty string when there is none.
pub(super) fn next_word(lower: &str, b: usize) -> &str {
    let rest = lower.get(b..).unwrap_or("");
    let rest = rest.trim_start_matches([' ', '\t']);
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '%'))
        .unwrap_or(rest.len());
    // a lone '%' counts as a word
    if end == 0 && rest.starts_with('%') {
        return "%";
    }
    &rest[..end]
}

/// The previous word before byte `b`, skipping spaces and one of `:#`.
pub(super) fn prev_word(lower: &str, b: usize) -> &str {
    let before = lower.get(..b).unwrap_or("");
    let before = before.trim_end_matches([' ', '\t', ':', '#', ',']);
    let start = before
        .rfind(|c: char| !c.is_alphanumeric())
        .map(|i| i + before[i..].chars().next().map_or(1, char::len_utf8))
        .unwrap_or(0);
    before.get(start..).unwrap_or("")
}

/// True when `word` (ASCII lower-case) is in `list`.
pub(super) fn is_one_of(word: &str, list: &[&str]) -> bool {
    list.contains(&word)
}

/// Converts byte offsets to char offsets for a batch of sorted spans.
pub(super) fn byte_to_char(text: &str, b: usize) -> usize {
    text.get(..b).map_or(0, |s| s.chars().count())
}

/// Positions of single digit groups: maximal runs of ASCII digits.
pub(super) fn digit_groups(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let s = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}
