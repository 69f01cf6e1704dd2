//! Entities defined by the training data: `regex:` and `lookup:` entries,
//! `synonym:` mappings, and values annotated in the examples.
//!
//! Phrases (lookup elements and annotated values) are matched on token
//! boundaries, case-insensitively, through a token trie; a word of six or more
//! letters in a phrase also matches with one typo (one insertion, deletion,
//! substitution or swap of adjacent letters), found through a deletion index.

use super::data::TrainingData;
use super::entities::{Entity, EntityValue, Extractor};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Entity names owned by the built-in extractors; training data for them is
/// not turned into custom entities.
pub const BUILTIN_ENTITY_NAMES: &[&str] = &[
    "order_number",
    "tracking_number",
    "email",
    "phone",
    "postal_code",
    "date",
    "money",
    "product",
];

/// Words in a phrase shorter than this (in chars) must match exactly.
const MIN_FUZZY_WORD: usize = 6;

/// Where a gazetteer phrase came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PhraseSource {
    /// An element of a `lookup:` table.
    Lookup,
    /// Text annotated in an example (or its value, or a synonym of it).
    Learned,
}

/// A known surface form of a custom entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GazetteerPhrase {
    pub entity: String,
    /// The text to find in messages (matched case-insensitively).
    pub text: String,
    /// The value it stands for, before synonyms are applied.
    pub value: String,
    pub source: PhraseSource,
}

/// A `regex:` pattern that extracts the entity of the same name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityPattern {
    pub entity: String,
    pub pattern: String,
}

/// A `synonym:` mapping: a surface text (lower-cased) and its canonical value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynonymMapping {
    pub text: String,
    pub value: String,
}

/// Learned from training data; stored in the model file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomEntityModel {
    pub phrases: Vec<GazetteerPhrase>,
    pub patterns: Vec<EntityPattern>,
    pub synonyms: Vec<SynonymMapping>,
}

impl CustomEntityModel {
    pub fn train(data: &TrainingData) -> Self {
        let is_builtin = |name: &str| BUILTIN_ENTITY_NAMES.contains(&name);
        let mut model = Self::default();
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut add = |model: &mut Self, entity: &str, text: &str, value: &str, source| {
            let key = normalise(text);
            if key.is_empty() || value.trim().is_empty() {
                return;
            }
            if seen.insert((entity.to_string(), key)) {
                model.phrases.push(GazetteerPhrase {
                    entity: entity.to_string(),
                    text: text.trim().to_string(),
                    value: value.trim().to_string(),
                    source,
                });
            }
        };

        let mut entity_names: HashSet<&str> = HashSet::new();
        for table in &data.lookups {
            if is_builtin(&table.name) {
                continue;
            }
            entity_names.insert(&table.name);
            for element in &table.elements {
                add(
                    &mut model,
                    &table.name,
                    element,
                    element,
                    PhraseSource::Lookup,
                );
            }
        }
        for example in &data.examples {
            for ann in &example.entities {
                if is_builtin(&ann.entity) {
                    continue;
                }
                entity_names.insert(&ann.entity);
                let surface: String = example
                    .text
                    .chars()
                    .skip(ann.start)
                    .take(ann.end.saturating_sub(ann.start))
                    .collect();
                add(
                    &mut model,
                    &ann.entity,
                    &surface,
                    &ann.value,
                    PhraseSource::Learned,
                );
                add(
                    &mut model,
                    &ann.entity,
                    &ann.value,
                    &ann.value,
                    PhraseSource::Learned,
                );
            }
        }
        for syn in &data.synonyms {
            let canonical = syn.value.trim();
            if canonical.is_empty() {
                continue;
            }
            for text in &syn.examples {
                let text = text.trim().to_lowercase();
                if !text.is_empty() && !model.synonyms.iter().any(|s| s.text == text) {
                    model.synonyms.push(SynonymMapping {
                        text,
                        value: canonical.to_string(),
                    });
                }
            }
            // A synonym of a known value is another way to write that value.
            let owners: Vec<(String, PhraseSource)> = model
                .phrases
                .iter()
                .filter(|p| p.value.eq_ignore_ascii_case(canonical) || p.value == canonical)
                .map(|p| (p.entity.clone(), p.source))
                .collect();
            for (entity, source) in owners {
                for text in &syn.examples {
                    add(&mut model, &entity, text, canonical, source);
                }
            }
        }
        for entry in &data.regexes {
            if entity_names.contains(entry.name.as_str()) {
                for pattern in &entry.patterns {
                    model.patterns.push(EntityPattern {
                        entity: entry.name.clone(),
                        pattern: pattern.clone(),
                    });
                }
            }
        }
        model
    }
}

/// A [`CustomEntityModel`] made ready to run (patterns compiled).
#[derive(Debug, Clone)]
pub struct CustomEntityExtractor {
    /// Lower-cased phrase word -> word id.
    vocab: FxMap<String, u32>,
    /// Word id -> word (lower-cased).
    words: Vec<String>,
    /// Word, and the word with one char deleted -> ids of words ≥ [`MIN_FUZZY_WORD`] chars.
    deletions: FxMap<String, Vec<u32>>,
    /// (node, word id) -> child node; node 0 is the root.
    trie: FxMap<(u32, u32), u32>,
    /// Node -> index into `outputs` when a phrase ends there.
    terminal: Vec<Option<u32>>,
    outputs: Vec<Output>,
    regexes: Vec<(String, regex::Regex)>,
    synonyms: FxMap<String, String>,
}

#[derive(Debug, Clone)]
struct Output {
    entity: String,
    value: String,
    extractor: Extractor,
}

#[derive(Debug, thiserror::Error)]
#[error("regex for entity {name:?} is invalid: {reason}")]
pub struct CustomEntityError {
    pub name: String,
    pub reason: String,
}

impl CustomEntityExtractor {
    pub fn new(model: &CustomEntityModel) -> Result<Self, CustomEntityError> {
        let mut synonyms = FxMap::default();
        for s in &model.synonyms {
            synonyms
                .entry(s.text.to_lowercase())
                .or_insert_with(|| s.value.clone());
        }
        let mut ex = Self {
            vocab: FxMap::default(),
            words: Vec::new(),
            deletions: FxMap::default(),
            trie: FxMap::default(),
            terminal: vec![None],
            outputs: Vec::new(),
            regexes: Vec::new(),
            synonyms,
        };
        for phrase in &model.phrases {
            ex.add_phrase(phrase);
        }
        for p in &model.patterns {
            let re = regex::RegexBuilder::new(&p.pattern)
                .case_insensitive(true)
                .build()
                .map_err(|e| CustomEntityError {
                    name: p.entity.clone(),
                    reason: regex_error_reason(&e),
                })?;
            ex.regexes.push((p.entity.clone(), re));
        }
        Ok(ex)
    }

    fn add_phrase(&mut self, phrase: &GazetteerPhrase) {
        let mut buf = String::new();
        let tokens = tokenize(&phrase.text, &mut buf);
        if tokens.is_empty() {
            return;
        }
        let mut node = 0u32;
        for t in &tokens {
            let word = buf.get(t.norm.clone()).unwrap_or("");
            let id = self.word_id(word);
            let next = u32::try_from(self.terminal.len()).unwrap_or(u32::MAX);
            node = *self.trie.entry((node, id)).or_insert(next);
            if node == next {
                self.terminal.push(None);
            }
        }
        let Some(slot) = self.terminal.get_mut(node as usize) else {
            return;
        };
        if slot.is_none() {
            let value = self
                .synonyms
                .get(&phrase.value.to_lowercase())
                .cloned()
                .unwrap_or_else(|| phrase.value.clone());
            *slot = Some(u32::try_from(self.outputs.len()).unwrap_or(u32::MAX));
            self.outputs.push(Output {
                entity: phrase.entity.clone(),
                value,
                extractor: match phrase.source {
                    PhraseSource::Lookup => Extractor::Lookup,
                    PhraseSource::Learned => Extractor::Learned,
                },
            });
        }
    }

    fn word_id(&mut self, word: &str) -> u32 {
        if let Some(&id) = self.vocab.get(word) {
            return id;
        }
        let id = u32::try_from(self.words.len()).unwrap_or(u32::MAX);
        self.vocab.insert(word.to_string(), id);
        self.words.push(word.to_string());
        let chars: Vec<(usize, char)> = word.char_indices().collect();
        if chars.len() >= MIN_FUZZY_WORD && !word.chars().all(|c| c.is_ascii_digit()) {
            let mut variants = vec![word.to_string()];
            for &(i, c) in &chars {
                let mut v = String::with_capacity(word.len());
                v.push_str(word.get(..i).unwrap_or(""));
                v.push_str(word.get(i + c.len_utf8()..).unwrap_or(""));
                variants.push(v);
            }
            for v in variants {
                let ids = self.deletions.entry(v).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        id
    }

    /// The phrase word a message word stands for: itself, or (for words of five
    /// or more chars) a phrase word one typo away. The flag tells a typo.
    fn resolve_word(&self, word: &str, scratch: &mut String) -> Option<(u32, bool)> {
        if let Some(&id) = self.vocab.get(word) {
            return Some((id, false));
        }
        if self.deletions.is_empty() || word.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let n = word.chars().count();
        if n + 1 < MIN_FUZZY_WORD || n > 64 {
            return None;
        }
        let check = |ids: &Vec<u32>| {
            ids.iter().copied().find(|&id| {
                self.words
                    .get(id as usize)
                    .is_some_and(|w| within_one_edit(word, w))
            })
        };
        if let Some(id) = self.deletions.get(word).and_then(check) {
            return Some((id, true));
        }
        for (i, c) in word.char_indices() {
            scratch.clear();
            scratch.push_str(word.get(..i).unwrap_or(""));
            scratch.push_str(word.get(i + c.len_utf8()..).unwrap_or(""));
            if let Some(id) = self.deletions.get(scratch.as_str()).and_then(check) {
                return Some((id, true));
            }
        }
        None
    }

    /// Entities in `text`, ordered by `start`, non-overlapping.
    pub fn extract(&self, text: &str) -> Vec<Entity> {
        let mut candidates: Vec<Candidate> = Vec::new();
        if !self.outputs.is_empty() {
            self.phrase_candidates(text, &mut candidates);
        }
        for (entity, re) in &self.regexes {
            regex_candidates(text, entity, re, &mut candidates);
        }
        if candidates.is_empty() {
            return Vec::new();
        }
        // Longest wins; then exact over typo, regex over lookup over learned, leftmost.
        candidates.sort_by_key(|c| {
            (
                std::cmp::Reverse(c.end - c.start),
                c.typo,
                rank(c.extractor),
                c.start,
            )
        });
        let mut chosen: Vec<Candidate> = Vec::new();
        for c in candidates {
            if chosen.iter().all(|o| c.end <= o.start || c.start >= o.end) {
                chosen.push(c);
            }
        }
        chosen.sort_by_key(|c| c.start);
        chosen
            .into_iter()
            .map(|c| {
                let raw = text.get(c.byte_start..c.byte_end).unwrap_or("").to_string();
                let value = match c.value {
                    Some(v) => v,
                    None => {
                        let v = c.regex_value.unwrap_or_else(|| raw.clone());
                        self.synonyms.get(&v.to_lowercase()).cloned().unwrap_or(v)
                    }
                };
                Entity {
                    kind: c.entity,
                    value: EntityValue::Text(value),
                    text: raw,
                    start: c.start,
                    end: c.end,
                    extractor: c.extractor,
                }
            })
            .collect()
    }

    fn phrase_candidates(&self, text: &str, out: &mut Vec<Candidate>) {
        let mut buf = String::with_capacity(text.len());
        let tokens = tokenize(text, &mut buf);
        let mut scratch = String::new();
        let ids: Vec<Option<(u32, bool)>> = tokens
            .iter()
            .map(|t| self.resolve_word(buf.get(t.norm.clone()).unwrap_or(""), &mut scratch))
            .collect();
        for i in 0..tokens.len() {
            let mut node = 0u32;
            let mut typos = 0u8;
            for j in i..tokens.len() {
                let Some(Some((id, typo))) = ids.get(j) else {
                    break;
                };
                if *typo {
                    typos += 1;
                    if typos > 1 {
                        break;
                    }
                }
                let Some(&next) = self.trie.get(&(node, *id)) else {
                    break;
                };
                node = next;
                let output = self
                    .terminal
                    .get(node as usize)
                    .copied()
                    .flatten()
                    .and_then(|o| self.outputs.get(o as usize));
                if let (Some(o), Some(first), Some(last)) = (output, tokens.get(i), tokens.get(j)) {
                    out.push(Candidate {
                        entity: o.entity.clone(),
                        value: Some(o.value.clone()),
                        regex_value: None,
                        start: first.start,
                        end: last.end,
                        byte_start: first.byte_start,
                        byte_end: last.byte_end,
                        extractor: o.extractor,
                        typo: typos > 0,
                    });
                }
            }
        }
    }
}

struct Candidate {
    entity: String,
    /// Canonical value of a phrase; `None` for regex matches.
    value: Option<String>,
    /// Capture group 1 of a regex match, when it has one.
    regex_value: Option<String>,
    start: usize,
    end: usize,
    byte_start: usize,
    byte_end: usize,
    extractor: Extractor,
    typo: bool,
}

fn rank(e: Extractor) -> u8 {
    match e {
        Extractor::Regex => 0,
        Extractor::Lookup => 1,
        _ => 2,
    }
}

fn regex_candidates(text: &str, entity: &str, re: &regex::Regex, out: &mut Vec<Candidate>) {
    // Char index of byte offsets, advanced incrementally across matches.
    let mut last_byte = 0usize;
    let mut last_char = 0usize;
    let mut char_at = |byte: usize| {
        if byte < last_byte {
            last_byte = 0;
            last_char = 0;
        }
        last_char += text.get(last_byte..byte).map_or(0, |s| s.chars().count());
        last_byte = byte;
        last_char
    };
    for caps in re.captures_iter(text) {
        let Some(m) = caps.get(0) else { continue };
        if m.is_empty() || !on_boundaries(text, m.start(), m.end()) {
            continue;
        }
        let start = char_at(m.start());
        let end = char_at(m.end());
        out.push(Candidate {
            entity: entity.to_string(),
            value: None,
            regex_value: caps
                .get(1)
                .map(|g| g.as_str().trim().to_string())
                .filter(|v| !v.is_empty()),
            start,
            end,
            byte_start: m.start(),
            byte_end: m.end(),
            extractor: Extractor::Regex,
            typo: false,
        });
    }
}

/// True unless the match cuts a word in two at either end.
fn on_boundaries(text: &str, start: usize, end: usize) -> bool {
    let before = text.get(..start).and_then(|s| s.chars().next_back());
    let first = text.get(start..).and_then(|s| s.chars().next());
    let last = text.get(..end).and_then(|s| s.chars().next_back());
    let after = text.get(end..).and_then(|s| s.chars().next());
    let cuts = |a: Option<char>, b: Option<char>| matches!((a, b), (Some(a), Some(b)) if is_word_char(a) && is_word_char(b));
    !cuts(before, first) && !cuts(last, after)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

fn is_combining_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{200D}')
}

struct Token {
    /// Char offsets into the text.
    start: usize,
    end: usize,
    /// Byte offsets into the text.
    byte_start: usize,
    byte_end: usize,
    /// Byte range of the lower-cased token in the normalisation buffer.
    norm: std::ops::Range<usize>,
}

/// Words (runs of letters, digits and combining marks) and single punctuation
/// or symbol chars; whitespace separates. Lower-cased forms go into `buf`.
fn tokenize(text: &str, buf: &mut String) -> Vec<Token> {
    buf.clear();
    let mut tokens: Vec<Token> = Vec::new();
    let mut in_word = false;
    for (ci, (bi, c)) in text.char_indices().enumerate() {
        if c.is_whitespace() {
            in_word = false;
            continue;
        }
        let word = is_word_char(c);
        let extend = word && in_word;
        if !extend {
            tokens.push(Token {
                start: ci,
                end: ci,
                byte_start: bi,
                byte_end: bi,
                norm: buf.len()..buf.len(),
            });
        }
        buf.extend(c.to_lowercase());
        if let Some(t) = tokens.last_mut() {
            t.end = ci + 1;
            t.byte_end = bi + c.len_utf8();
            t.norm.end = buf.len();
        }
        in_word = word;
    }
    tokens
}

/// Phrase key: lower-cased tokens joined by single spaces.
fn normalise(text: &str) -> String {
    let mut buf = String::new();
    let tokens = tokenize(text, &mut buf);
    let parts: Vec<&str> = tokens
        .iter()
        .map(|t| buf.get(t.norm.clone()).unwrap_or(""))
        .collect();
    parts.join(" ")
}

/// Optimal-string-alignment distance of `a` and `b` is at most one.
fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short
        .iter()
        .zip(long.iter())
        .take_while(|(x, y)| x == y)
        .count();
    if short.len() == long.len() {
        if prefix == short.len() {
            return true;
        }
        let (sa, la) = (short.get(prefix + 1..), long.get(prefix + 1..));
        // substitution
        if sa == la {
            return true;
        }
        // adjacent swap
        short.get(prefix) == long.get(prefix + 1)
            && short.get(prefix + 1) == long.get(prefix)
            && short.get(prefix + 2..) == long.get(prefix + 2..)
    } else {
        // one insertion into `short`
        short.get(prefix..) == long.get(prefix + 1..)
    }
}

/// A small, fast, non-cryptographic hasher for short keys (phrase words).
#[derive(Debug, Default, Clone, Copy)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            for (dst, src) in word.iter_mut().zip(chunk) {
                *dst = *src;
            }
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl WordHasher {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<WordHasher>>;

/// The one line of a regex compile error that says what is wrong (the regex
/// crate's message repeats the pattern and draws a caret above it).
pub(crate) fn regex_error_reason(e: &regex::Error) -> String {
    e.to_string()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid pattern")
        .trim()
        .trim_start_matches("error: ")
        .to_string()
}
