//! Tokenizer for sentiment scoring.
//!
//! Splits a message into words, emoji and emoticons, resolving each to a
//! lexicon id on the way (so later stages compare integers), and collects the
//! message-level signals the rules need: exclamation marks, runs of question
//! marks, and how many words are written in capitals.
//!
//! Words are lower-cased into a reusable buffer; elongated words ("sooo",
//! "pleeease") are looked up as written, then with letter runs of three or
//! more shortened to two ("goood" -> "good"), then to one ("sooo" -> "so").

use super::lexicon::Lexicon;

/// Id used for tokens that are not in the lexicon.
pub(super) const NO_ID: u32 = u32::MAX;

/// Words longer than this (in bytes) are never lexicon entries; they are
/// still counted as tokens but not buffered in full.
const MAX_WORD_BYTES: usize = 48;

/// One token of the message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tok {
    pub id: u32,
    /// Written in capitals (at least two letters, no lower-case letter).
    pub caps: bool,
    /// Had a run of three or more identical letters ("sooo").
    pub elongated: bool,
    /// A clause boundary (punctuation or a line break) precedes this token.
    pub brk: bool,
}

/// Message-level signals.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Stats {
    pub exclamations: u32,
    /// Longest run of `?`/`!` that contains a `?` ("??", "?!?"), or 0.
    pub question_run: u32,
    /// Words of two or more letters written entirely in capitals.
    pub caps_words: u32,
    /// Words of two or more letters with at least one lower-case letter.
    pub lower_words: u32,
}

/// Reusable buffers.
#[derive(Debug, Default)]
pub(super) struct Buffers {
    word: String,
    alt: String,
}

impl Buffers {
    /// Drops capacity grown by a pathological input.
    pub(super) fn shrink(&mut self) {
        for b in [&mut self.word, &mut self.alt] {
            if b.capacity() > 256 {
                *b = String::new();
            }
        }
    }
}

/// Emoticons that are recognised even when glued to the end of a word
/// ("thanks:)").
const SUFFIX_EMOTICONS: [&str; 7] = [":-)", ":-(", ":)", ":(", ":D", ";)", ":'("];

struct Tokenizer<'a> {
    lex: &'a Lexicon,
    buf: &'a mut Buffers,
    out: &'a mut Vec<Tok>,
    stats: Stats,
    pending_brk: bool,
    in_word: bool,
    too_long: bool,
    upper: u32,
    lower: u32,
    punct_run: u32,
    run_has_q: bool,
}

/// Tokenizes `text` into `out` (cleared first) and returns message signals.
pub(super) fn tokenize(text: &str, lex: &Lexicon, buf: &mut Buffers, out: &mut Vec<Tok>) -> Stats {
    out.clear();
    let mut t = Tokenizer {
        lex,
        buf,
        out,
        stats: Stats::default(),
        pending_brk: false,
        in_word: false,
        too_long: false,
        upper: 0,
        lower: 0,
        punct_run: 0,
        run_has_q: false,
    };
    let mut rest = text;
    loop {
        let mut newline = false;
        rest = rest.trim_start_matches(|c: char| {
            if c == '\n' || c == '\r' || c == '\u{2028}' || c == '\u{2029}' {
                newline = true;
            }
            c.is_whitespace()
        });
        if rest.is_empty() {
            break;
        }
        if newline {
            t.pending_brk = true;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (chunk, tail) = rest.split_at(end);
        t.punct_run = 0;
        t.run_has_q = false;
        t.chunk(chunk);
        rest = tail;
    }
    t.stats
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '\u{02bc}' | '`')
}

/// Combining marks (accents typed as separate code points) stay inside words.
fn is_combining(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036f}'
        | '\u{1ab0}'..='\u{1aff}'
        | '\u{1dc0}'..='\u{1dff}'
        | '\u{20d0}'..='\u{20ff}'
        | '\u{fe20}'..='\u{fe2f}')
}

/// Code points that modify a neighbouring emoji or are invisible: variation
/// selectors, joiners, skin tones, tags, keycap.
fn is_ignorable(c: char) -> bool {
    matches!(c,
        '\u{fe00}'..='\u{fe0f}'
        | '\u{200b}'..='\u{200f}'
        | '\u{2060}'..='\u{2064}'
        | '\u{feff}'
        | '\u{20e3}'
        | '\u{1f3fb}'..='\u{1f3ff}'
        | '\u{e0020}'..='\u{e007f}')
}

/// Whether `s` has a run of three or more identical characters.
fn has_long_run(s: &str) -> bool {
    let mut prev = None;
    let mut run = 0;
    for c in s.chars() {
        if Some(c) == prev {
            run += 1;
            if run >= 3 {
                return true;
            }
        } else {
            prev = Some(c);
            run = 1;
        }
    }
    false
}

/// Writes `s` into `out` with runs of three or more shortened to `keep`.
fn collapse_runs(s: &str, keep: usize, out: &mut String) {
    out.clear();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let mut n = 1;
        while chars.peek() == Some(&c) {
            chars.next();
            n += 1;
        }
        let emit = if n >= 3 { keep } else { n };
        for _ in 0..emit {
            out.push(c);
        }
    }
}

impl Tokenizer<'_> {
    fn push(&mut self, id: u32, caps: bool, elongated: bool) {
        self.out.push(Tok {
            id,
            caps,
            elongated,
            brk: std::mem::take(&mut self.pending_brk),
        });
    }

    fn chunk(&mut self, chunk: &str) {
        if chunk.len() <= 12 && self.emoticon(chunk) {
            return;
        }
        for suffix in SUFFIX_EMOTICONS {
            if let Some(prefix) = chunk.strip_suffix(suffix) {
                let glued = prefix
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphabetic() || c == '!' || c == '.');
                if let (true, Some(id)) = (glued, self.lex.emoticon_id(suffix)) {
                    self.scan(prefix);
                    self.push(id, false, false);
                    return;
                }
            }
        }
        self.scan(chunk);
    }

    /// Recognises a whole chunk as an emoticon, allowing trailing sentence
    /// punctuation (":)!!") and repeated final characters (":)))").
    fn emoticon(&mut self, chunk: &str) -> bool {
        let core = chunk.trim_end_matches(['.', ',', '!', '?']);
        let Some(last) = core.chars().next_back() else {
            return false;
        };
        let mut id = self.lex.emoticon_id(core);
        if id.is_none() {
            let base = core.trim_end_matches(last);
            if base.is_empty() || base.len() + last.len_utf8() == core.len() {
                return false;
            }
            self.buf.alt.clear();
            self.buf.alt.push_str(base);
            self.buf.alt.push(last);
            id = self.lex.emoticon_id(&self.buf.alt);
        }
        let Some(id) = id else {
            return false;
        };
        self.push(id, false, false);
        let tail = chunk.get(core.len()..).unwrap_or("");
        for c in tail.chars() {
            self.punct(c);
        }
        true
    }

    fn scan(&mut self, chunk: &str) {
        let mut chars = chunk.chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_alphanumeric() {
                self.letter(c);
                continue;
            }
            if self.in_word {
                if is_apostrophe(c) && chars.peek().is_some_and(|n| n.is_alphanumeric()) {
                    if !self.too_long {
                        self.buf.word.push('\'');
                    }
                    continue;
                }
                if is_combining(c) {
                    continue;
                }
            }
            if is_ignorable(c) {
                continue;
            }
            self.end_word();
            self.punct(c);
        }
        self.end_word();
    }

    /// Handles one non-word character.
    fn punct(&mut self, c: char) {
        match c {
            '!' | '\u{ff01}' | '?' | '\u{ff1f}' => {
                self.punct_run += 1;
                if c == '!' || c == '\u{ff01}' {
                    self.stats.exclamations = self.stats.exclamations.saturating_add(1);
                } else {
                    self.run_has_q = true;
                }
                if self.run_has_q && self.punct_run >= 2 {
                    self.stats.question_run = self.stats.question_run.max(self.punct_run);
                }
                self.pending_brk = true;
                return;
            }
            '.' | ',' | ';' | ':' | '\u{2026}' | '(' | ')' | '[' | ']' | '{' | '}' | '\u{a1}'
            | '\u{bf}' | '\u{3002}' | '\u{3001}' | '\u{ff0c}' => {
                self.pending_brk = true;
            }
            _ if !c.is_ascii() && !c.is_whitespace() => {
                let mut utf8 = [0u8; 4];
                if let Some(id) = self.lex.id(c.encode_utf8(&mut utf8)) {
                    self.push(id, false, false);
                }
            }
            _ => {}
        }
        self.punct_run = 0;
        self.run_has_q = false;
    }

    fn letter(&mut self, c: char) {
        if !self.in_word {
            self.in_word = true;
            self.too_long = false;
            self.buf.word.clear();
            self.upper = 0;
            self.lower = 0;
        }
        if c.is_uppercase() {
            self.upper = self.upper.saturating_add(1);
        } else if c.is_lowercase() {
            self.lower = self.lower.saturating_add(1);
        }
        if self.too_long {
            return;
        }
        if c.is_ascii() {
            self.buf.word.push(c.to_ascii_lowercase());
        } else {
            self.buf.word.extend(c.to_lowercase());
        }
        if self.buf.word.len() > MAX_WORD_BYTES {
            self.too_long = true;
        }
        self.punct_run = 0;
        self.run_has_q = false;
    }

    fn end_word(&mut self) {
        if !self.in_word {
            return;
        }
        self.in_word = false;
        let letters = self.upper.saturating_add(self.lower);
        let caps = self.upper >= 2 && self.lower == 0;
        if letters >= 2 {
            if caps {
                self.stats.caps_words = self.stats.caps_words.saturating_add(1);
            } else {
                self.stats.lower_words = self.stats.lower_words.saturating_add(1);
            }
        }
        if self.too_long {
            self.push(NO_ID, caps, false);
            return;
        }
        let word = self.buf.word.as_str();
        let mut id = self.lex.id(word);
        let elongated = has_long_run(word);
        if id.is_none() && elongated {
            for keep in [2, 1] {
                collapse_runs(word, keep, &mut self.buf.alt);
                id = self.lex.id(&self.buf.alt);
                if id.is_some() {
                    break;
                }
            }
        }
        self.push(id.unwrap_or(NO_ID), caps, elongated);
    }
}
