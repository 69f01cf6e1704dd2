//! The sentiment lexicon: three hand-written data files parsed once into
//! lookup tables.
//!
//! * `lexicon.tsv`: `term<TAB>valence[<TAB>negated valence]`. A term is one
//!   word, a phrase of words separated by single spaces, or one emoji.
//! * `emoticons.tsv`: `emoticon<TAB>valence`, matched case-sensitively against
//!   whole whitespace-separated chunks.
//! * `modifiers.tsv`: `term<TAB>kind[<TAB>factor]` with kind one of `boost`,
//!   `post_boost`, `negator`, `strong_negator`, `contrast`, `concessive`,
//!   `concessive_initial`, `acronym`.
//!
//! Every word (and every word that occurs inside a phrase) gets a numeric id;
//! phrases are stored under their first word as sequences of ids, so matching
//! a phrase against the token stream compares integers only.

use crate::nlu::hash::FnvMap;
use std::sync::OnceLock;

const LEXICON: &str = include_str!("../../../data/sentiment/lexicon.tsv");
const EMOTICONS: &str = include_str!("../../../data/sentiment/emoticons.tsv");
const MODIFIERS: &str = include_str!("../../../data/sentiment/modifiers.tsv");

/// How a negator affects the words after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Negator {
    None,
    /// "not", "no", "didn't", ...
    Plain,
    /// "never": negates and adds emphasis.
    Strong,
}

/// Clause-contrast role of a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Contrast {
    None,
    /// "but", "however": what follows weighs more, what precedes less.
    After,
    /// "although", "even though": the clause it opens weighs less.
    Concessive,
    /// "though": concessive only when it opens a clause.
    ConcessiveInitial,
}

/// Everything the scorer needs to know about one word, phrase or emoji.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Info {
    /// Valence on a -4..+4 scale; 0 for words that only carry a role.
    pub valence: f32,
    /// Valence to use when the term is negated, if the generic rule is wrong
    /// for it ("not bad" is mildly good; "never arrived" is a complaint even
    /// though "arrived" is neutral).
    pub negated: Option<f32>,
    /// Multiplier applied to sentiment words that follow (1 = none).
    pub boost: f32,
    /// Multiplier applied to the sentiment word just before (1 = none).
    pub post_boost: f32,
    pub negator: Negator,
    pub contrast: Contrast,
    /// Usually written in capitals ("WTF", "BBB"), so capitals add no
    /// emphasis.
    pub acronym: bool,
}

impl Info {
    pub(super) const EMPTY: Info = Info {
        valence: 0.0,
        negated: None,
        boost: 1.0,
        post_boost: 1.0,
        negator: Negator::None,
        contrast: Contrast::None,
        acronym: false,
    };

    /// Whether this term contributes valence (directly or when negated).
    pub(super) fn is_sentiment(&self) -> bool {
        self.valence != 0.0 || self.negated.is_some()
    }
}

/// A single word (or emoji / emoticon) entry.
#[derive(Debug)]
pub(super) struct Word {
    pub info: Info,
    /// Indexes into [`Lexicon::phrases`] of phrases starting with this word,
    /// longest first.
    pub phrases: Vec<u32>,
}

/// A multi-word phrase, stored under its first word.
#[derive(Debug)]
pub(super) struct Phrase {
    /// Ids of the words after the first one.
    pub rest: Box<[u32]>,
    pub info: Info,
}

/// The parsed lexicon.
#[derive(Debug)]
pub(super) struct Lexicon {
    ids: FnvMap<&'static str, u32>,
    /// Emoticons live in their own (case-sensitive) table so that a chunk
    /// like "no." is never mistaken for one.
    emoticon_ids: FnvMap<&'static str, u32>,
    pub words: Vec<Word>,
    pub phrases: Vec<Phrase>,
    /// Problems found while parsing (malformed lines, duplicates); empty for
    /// the shipped data, which a unit test checks.
    pub problems: Vec<String>,
    /// Number of valence-bearing entries (words, phrases, emoji, emoticons).
    pub valence_entries: usize,
}

impl Lexicon {
    /// Id of a normalised word, emoji or emoticon.
    pub(super) fn id(&self, key: &str) -> Option<u32> {
        self.ids.get(key).copied()
    }

    /// Id of an emoticon, matched exactly.
    pub(super) fn emoticon_id(&self, key: &str) -> Option<u32> {
        self.emoticon_ids.get(key).copied()
    }

    pub(super) fn word(&self, id: u32) -> Option<&Word> {
        self.words.get(id as usize)
    }

    fn intern(&mut self, key: &'static str) -> u32 {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = u32::try_from(self.words.len()).unwrap_or(u32::MAX);
        self.words.push(Word {
            info: Info::EMPTY,
            phrases: Vec::new(),
        });
        self.ids.insert(key, id);
        id
    }

    /// Returns the `Info` slot for a term, creating word/phrase entries as
    /// needed, and whether it already existed with a non-empty value.
    fn slot(&mut self, term: &'static str) -> Option<&mut Info> {
        let mut parts = term.split(' ').filter(|w| !w.is_empty());
        let first = parts.next()?;
        let first_id = self.intern(first);
        let rest: Vec<u32> = parts.map(|w| self.intern(w)).collect();
        if rest.is_empty() {
            return self.words.get_mut(first_id as usize).map(|w| &mut w.info);
        }
        let existing = self.words.get(first_id as usize).and_then(|w| {
            w.phrases.iter().copied().find(|&p| {
                self.phrases
                    .get(p as usize)
                    .is_some_and(|ph| *ph.rest == *rest)
            })
        });
        let index = match existing {
            Some(p) => p,
            None => {
                let p = u32::try_from(self.phrases.len()).unwrap_or(u32::MAX);
                self.phrases.push(Phrase {
                    rest: rest.into_boxed_slice(),
                    info: Info::EMPTY,
                });
                if let Some(w) = self.words.get_mut(first_id as usize) {
                    w.phrases.push(p);
                }
                p
            }
        };
        self.phrases.get_mut(index as usize).map(|p| &mut p.info)
    }
}

/// Data lines: trimmed, without blank lines and `#` comments, with their
/// 1-based line numbers.
fn data_lines(text: &'static str) -> impl Iterator<Item = (usize, Vec<&'static str>)> {
    text.lines().enumerate().filter_map(|(n, line)| {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            return None;
        }
        let fields: Vec<&'static str> = line.split('\t').map(str::trim).collect();
        Some((n + 1, fields))
    })
}

/// Emoji keys are stored without variation selectors, matching the tokenizer.
fn normalise_key(term: &'static str) -> &'static str {
    term.trim_end_matches(['\u{fe0f}', '\u{fe0e}'])
}

fn parse_valence(field: Option<&&str>) -> Option<f32> {
    let v: f32 = field?.parse().ok()?;
    (v.is_finite() && (-4.0..=4.0).contains(&v)).then_some(v)
}

fn build() -> Lexicon {
    let mut lex = Lexicon {
        ids: FnvMap::default(),
        emoticon_ids: FnvMap::default(),
        words: Vec::new(),
        phrases: Vec::new(),
        problems: Vec::new(),
        valence_entries: 0,
    };
    for (n, fields) in data_lines(EMOTICONS) {
        let term = fields.first().copied().unwrap_or("");
        match (parse_valence(fields.get(1)), fields.len()) {
            (Some(valence), 2) if !term.is_empty() => {
                if lex.emoticon_ids.contains_key(term) {
                    lex.problems
                        .push(format!("emoticons.tsv:{n}: duplicate {term:?}"));
                    continue;
                }
                let id = u32::try_from(lex.words.len()).unwrap_or(u32::MAX);
                lex.words.push(Word {
                    info: Info {
                        valence,
                        ..Info::EMPTY
                    },
                    phrases: Vec::new(),
                });
                lex.emoticon_ids.insert(term, id);
                lex.valence_entries += 1;
            }
            _ => lex
                .problems
                .push(format!("emoticons.tsv:{n}: malformed line")),
        }
    }
    {
        let (file, text) = ("lexicon.tsv", LEXICON);
        for (n, fields) in data_lines(text) {
            let term = fields.first().map_or("", |t| normalise_key(t));
            let Some(valence) = parse_valence(fields.get(1)) else {
                lex.problems.push(format!("{file}:{n}: bad valence"));
                continue;
            };
            let negated = match fields.get(2) {
                None => None,
                Some(_) => match parse_valence(fields.get(2)) {
                    Some(v) => Some(v),
                    None => {
                        lex.problems
                            .push(format!("{file}:{n}: bad negated valence"));
                        continue;
                    }
                },
            };
            if fields.len() > 3 || term.is_empty() {
                lex.problems.push(format!("{file}:{n}: malformed line"));
                continue;
            }
            let Some(slot) = lex.slot(term) else {
                continue;
            };
            if slot.is_sentiment() {
                let msg = format!("{file}:{n}: duplicate term {term:?}");
                lex.problems.push(msg);
                continue;
            }
            slot.valence = valence;
            slot.negated = negated;
            lex.valence_entries += 1;
        }
    }
    for (n, fields) in data_lines(MODIFIERS) {
        let term = fields.first().copied().unwrap_or("");
        let kind = fields.get(1).copied().unwrap_or("");
        let factor: Option<f32> = fields
            .get(2)
            .and_then(|f| f.parse().ok())
            .filter(|f: &f32| f.is_finite() && (0.1..=3.0).contains(f));
        let Some(slot) = lex.slot(term) else {
            lex.problems.push(format!("modifiers.tsv:{n}: empty term"));
            continue;
        };
        let ok = match (kind, factor) {
            ("boost", Some(f)) => {
                slot.boost = f;
                true
            }
            ("post_boost", Some(f)) => {
                slot.post_boost = f;
                true
            }
            ("negator", None) => {
                slot.negator = Negator::Plain;
                true
            }
            ("strong_negator", None) => {
                slot.negator = Negator::Strong;
                true
            }
            ("contrast", None) => {
                slot.contrast = Contrast::After;
                true
            }
            ("concessive", None) => {
                slot.contrast = Contrast::Concessive;
                true
            }
            ("acronym", None) => {
                slot.acronym = true;
                true
            }
            ("concessive_initial", None) => {
                slot.contrast = Contrast::ConcessiveInitial;
                true
            }
            _ => false,
        };
        if !ok {
            lex.problems
                .push(format!("modifiers.tsv:{n}: bad kind or factor"));
        }
    }
    // Longest phrases first, so "thank you so much" wins over "thank you".
    let phrases = &lex.phrases;
    for w in &mut lex.words {
        w.phrases.sort_by_key(|&p| {
            std::cmp::Reverse(phrases.get(p as usize).map_or(0, |ph| ph.rest.len()))
        });
    }
    lex
}

/// The lexicon, built on first use.
pub(super) fn get() -> &'static Lexicon {
    static LEXICON_CELL: OnceLock<Lexicon> = OnceLock::new();
    LEXICON_CELL.get_or_init(build)
}

/// All terms of `lexicon.tsv` (for the data-consistency unit test).
#[cfg(test)]
pub(super) fn lexicon_terms() -> Vec<&'static str> {
    data_lines(LEXICON)
        .filter_map(|(_, f)| f.first().copied())
        .chain(data_lines(MODIFIERS).filter_map(|(_, f)| f.first().copied()))
        .collect()
}
