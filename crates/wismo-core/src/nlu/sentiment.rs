//! Sentiment analysis: lexicon plus rules.
//!
//! [`analyze`] scores one shopper message in `[-1, 1]` and labels it
//! negative, neutral or positive. It is meant for messages sent to a store's
//! support chat ("third time asking where my order is!!", "arrived early,
//! thank you so much 😊"), and is cheap enough to run on every message
//! (well under 5 µs for a short message; no allocation in the steady state).
//!
//! # Lexicon: sources and method
//!
//! The lexicon was written by hand for wismo; no entries or values were
//! copied from any published lexicon. It lives in three data files under
//! `crates/wismo-core/data/sentiment/`, embedded at compile time:
//!
//! * `lexicon.tsv`: about a thousand words, multi-word phrases and emoji, each
//!   with a valence from -4 (furious, "scam") to +4 (delighted). Besides
//!   general emotion and evaluation words it covers the language of support
//!   chats: waiting and repeated asking ("still waiting", "third time
//!   asking", "been a week"), escalation ("chargeback", "report you",
//!   "bbb"), abuse and slang ("wtf", "smh", "ugh"), common misspellings
//!   ("dissapointed", "recieved"), and gratitude ("tysm", "lifesaver").
//!   An optional third column gives the valence to use when the term is
//!   negated, where the generic rule would be wrong: "arrived" is neutral
//!   but "never arrived" is a complaint; "not bad" is mildly good.
//! * `emoticons.tsv`: ASCII emoticons such as `:)`, `>:(` and `<3`.
//! * `modifiers.tsv`: intensifiers and dampeners with their factor, negators,
//!   and contrast words.
//!
//! Values were assigned by the authors by judgement on this domain: how
//! strongly the word signals an unhappy or happy shopper. Politeness words
//! ("please", "hi", "sorry to bother you") and the vocabulary of ordinary
//! requests ("order", "refund", "cancel", "tracking") are deliberately
//! absent, so "where is my order?" and "please help" are neutral.
//!
//! The rules follow the general design of published lexicon-plus-rules
//! analysers (notably Hutto & Gilbert, "VADER: A Parsimonious Rule-based
//! Model for Sentiment Analysis of Social Media Text", ICWSM 2014): sum word
//! valences adjusted by local rules, then squash the sum into `[-1, 1]`. The
//! specific rules, constants and data here are our own.
//!
//! # Rules
//!
//! 1. **Tokens and phrases.** The message is split into words, emoji and
//!    emoticons; the longest lexicon phrase starting at each word wins
//!    ("thank you so much" over "thank you"). Punctuation and line breaks
//!    end a clause; negators and intensifiers never reach across one.
//! 2. **Elongation.** "sooo", "pleeease" are looked up without the repeated
//!    letters and a sentiment word written that way counts 1.2×.
//! 3. **Capitals.** A sentiment word in capitals counts 1.3× ("ANGRY"; not
//!    for words usually written that way, like "WTF" or "BBB"), unless
//!    the whole message is shouted (three or more words, none in lower
//!    case): then the whole sum counts 1.25× and a shouted message with no
//!    positive content gets an extra -0.9 (shouting at support is a sign of
//!    frustration: "WHERE IS MY ORDER").
//! 4. **Intensifiers and dampeners** within the three tokens before a
//!    sentiment word multiply it ("extremely" 1.5, "kinda" 0.7), with
//!    decreasing effect by distance. Post-modifiers ("at all", "so much")
//!    scale the sentiment word just before them.
//! 5. **Negation.** A negator within the three tokens before a sentiment
//!    word ("not happy", "isn't good", "never arrived", "no problem")
//!    replaces its valence with the lexicon's negated valence, or by default
//!    with -0.6× a positive valence or -0.35× a negative one (negated praise
//!    is a complaint; negated criticism is only faint praise). Under negation
//!    intensifiers soften instead ("not very good" is milder than "not
//!    good"); "never" adds 1.2× emphasis.
//! 6. **Contrast.** Before the last "but"/"however"/"except" valences count
//!    0.5×, after it 1.3×. A clause opened by "although"/"even though" (or
//!    by "though" at the start of a clause) counts 0.5×.
//! 7. **Punctuation.** Each `!` (at most four) adds 0.3 in the direction of
//!    the sum; it never creates sentiment on its own ("Hi!" is neutral). A
//!    run of two or more question marks ("??", "?!?") is frustration:
//!    -0.8, plus -0.25 per extra mark, up to five.
//!
//! # Score and labels
//!
//! The adjusted sum `x` is squashed with `x / sqrt(x² + 12)`, so one mild
//! word (|x| = 1) scores about ±0.28, one strong word (|x| = 3.5) about
//! ±0.71, and the score approaches ±1 only for several strong signals.
//!
//! Labels use a dead band: score `<= -0.1` is negative, `>= 0.1` positive,
//! neutral in between. With `alpha = 12` a score of 0.1 corresponds to a raw
//! sum of about 0.35, so any single lexicon entry (weakest |valence| is 0.5)
//! still decides the label, while leftovers from rules alone — one `!`
//! echoing a near-zero sum, a weak hint like "no thanks" (-0.3), a mixed
//! message whose parts almost cancel — stay neutral.

mod lexicon;
mod tokenize;

use lexicon::{Contrast, Info, Lexicon, Negator};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use tokenize::{Buffers, Tok, NO_ID};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SentimentLabel {
    Negative,
    Neutral,
    Positive,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    /// In [-1, 1]; below zero is negative.
    pub score: f32,
    pub label: SentimentLabel,
}

/// Scores at or below this are labelled [`SentimentLabel::Negative`].
pub const NEGATIVE_THRESHOLD: f32 = -0.1;
/// Scores at or above this are labelled [`SentimentLabel::Positive`].
pub const POSITIVE_THRESHOLD: f32 = 0.1;

/// Squashing constant: `score = x / sqrt(x² + ALPHA)`.
const ALPHA: f64 = 12.0;
/// How far back (in tokens) negators and intensifiers reach.
const SCOPE: usize = 3;
/// Effect of an intensifier at distance 1, 2, 3.
const BOOST_DECAY: [f32; SCOPE] = [1.0, 0.85, 0.7];
const CAPS_FACTOR: f32 = 1.3;
const ELONGATION_FACTOR: f32 = 1.2;
const NEVER_FACTOR: f32 = 1.2;
const NEGATE_POSITIVE: f32 = -0.6;
const NEGATE_NEGATIVE: f32 = -0.35;
const BEFORE_CONTRAST: f32 = 0.5;
const AFTER_CONTRAST: f32 = 1.3;
const CONCESSION: f32 = 0.5;
const SHOUT_FACTOR: f64 = 1.25;
const SHOUT_PENALTY: f64 = 0.9;
const EXCLAMATION_STEP: f64 = 0.3;
const MAX_EXCLAMATIONS: u32 = 4;
const QUESTION_PENALTY: f64 = 0.8;
const QUESTION_STEP: f64 = 0.25;
const MAX_QUESTION_RUN: u32 = 5;

impl SentimentLabel {
    /// The label for a score, using [`NEGATIVE_THRESHOLD`] and
    /// [`POSITIVE_THRESHOLD`].
    pub fn from_score(score: f32) -> SentimentLabel {
        if score <= NEGATIVE_THRESHOLD {
            SentimentLabel::Negative
        } else if score >= POSITIVE_THRESHOLD {
            SentimentLabel::Positive
        } else {
            SentimentLabel::Neutral
        }
    }
}

/// A word, phrase, emoji or unknown token after phrase matching.
#[derive(Debug, Clone, Copy)]
struct Unit {
    info: &'static Info,
    caps: bool,
    elongated: bool,
    brk: bool,
}

/// Per-thread reusable buffers, so scoring does not allocate per call.
#[derive(Debug, Default)]
struct Scratch {
    buffers: Buffers,
    toks: Vec<Tok>,
    units: Vec<Unit>,
    vals: Vec<f32>,
}

impl Scratch {
    fn shrink(&mut self) {
        const KEEP: usize = 1024;
        self.buffers.shrink();
        if self.toks.capacity() > KEEP {
            self.toks = Vec::new();
        }
        if self.units.capacity() > KEEP {
            self.units = Vec::new();
        }
        if self.vals.capacity() > KEEP {
            self.vals = Vec::new();
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

static EMPTY_INFO: Info = Info::EMPTY;

/// Scores one message.
pub fn analyze(text: &str) -> Sentiment {
    let lex = lexicon::get();
    let score = SCRATCH
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => score(text, lex, &mut scratch),
            Err(_) => score(text, lex, &mut Scratch::default()),
        })
        .unwrap_or_else(|_| score(text, lex, &mut Scratch::default()));
    Sentiment {
        score,
        label: SentimentLabel::from_score(score),
    }
}

fn score(text: &str, lex: &'static Lexicon, s: &mut Scratch) -> f32 {
    let stats = tokenize::tokenize(text, lex, &mut s.buffers, &mut s.toks);
    group_phrases(lex, &s.toks, &mut s.units);
    let shouted = stats.caps_words >= 3 && stats.lower_words == 0;
    score_units(&s.units, shouted, &mut s.vals);

    let mut sum: f64 = s.vals.iter().map(|&v| f64::from(v)).sum();
    if shouted {
        sum *= SHOUT_FACTOR;
        if sum <= 0.0 {
            sum -= SHOUT_PENALTY;
        }
    }
    if stats.question_run >= 2 {
        let extra = stats.question_run.min(MAX_QUESTION_RUN) - 2;
        sum -= QUESTION_PENALTY + QUESTION_STEP * f64::from(extra);
    }
    let bangs = f64::from(stats.exclamations.min(MAX_EXCLAMATIONS));
    if sum > 0.0 {
        sum += EXCLAMATION_STEP * bangs;
    } else if sum < 0.0 {
        sum -= EXCLAMATION_STEP * bangs;
    }
    s.shrink();

    let squashed = sum / (sum * sum + ALPHA).sqrt();
    if squashed.is_finite() {
        (squashed as f32).clamp(-1.0, 1.0)
    } else if sum > 0.0 {
        1.0
    } else if sum < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Replaces tokens by units, merging the longest lexicon phrase at each
/// position (phrases never span a clause break).
fn group_phrases(lex: &'static Lexicon, toks: &[Tok], units: &mut Vec<Unit>) {
    units.clear();
    let mut i = 0;
    while let Some(tok) = toks.get(i) {
        let word = if tok.id == NO_ID {
            None
        } else {
            lex.word(tok.id)
        };
        let Some(word) = word else {
            units.push(Unit {
                info: &EMPTY_INFO,
                caps: false,
                elongated: false,
                brk: tok.brk,
            });
            i += 1;
            continue;
        };
        let mut unit = Unit {
            info: &word.info,
            caps: tok.caps,
            elongated: tok.elongated,
            brk: tok.brk,
        };
        let mut len = 1;
        for &p in &word.phrases {
            let Some(phrase) = lex.phrases.get(p as usize) else {
                continue;
            };
            let n = phrase.rest.len();
            let Some(next) = toks.get(i + 1..i + 1 + n) else {
                continue;
            };
            let matches = next
                .iter()
                .zip(phrase.rest.iter())
                .all(|(t, &id)| t.id == id && !t.brk);
            if matches {
                unit.info = &phrase.info;
                unit.caps = tok.caps && next.iter().all(|t| t.caps);
                unit.elongated = tok.elongated || next.iter().any(|t| t.elongated);
                len = n + 1;
                break;
            }
        }
        units.push(unit);
        i += len;
    }
}

/// Computes each unit's contribution into `vals` (one per unit).
fn score_units(units: &[Unit], shouted: bool, vals: &mut Vec<f32>) {
    vals.clear();
    vals.resize(units.len(), 0.0);
    let last_contrast = units
        .iter()
        .rposition(|u| u.info.contrast == Contrast::After);
    let mut in_concession = false;

    for (j, unit) in units.iter().enumerate() {
        let info = unit.info;
        if unit.brk {
            in_concession = false;
        }
        let opens_clause = j == 0 || unit.brk;
        if info.contrast == Contrast::Concessive
            || (info.contrast == Contrast::ConcessiveInitial && opens_clause)
        {
            in_concession = true;
        }
        if info.post_boost != 1.0 {
            apply_post_boost(units, vals, j, info.post_boost);
        }
        if !info.is_sentiment() {
            continue;
        }

        let mut negation = Negator::None;
        let mut boost = 1.0f32;
        for k in 1..=SCOPE {
            let Some(p) = j.checked_sub(k) else { break };
            let (Some(prev), Some(after)) = (units.get(p), units.get(p + 1)) else {
                break;
            };
            if after.brk || prev.info.contrast != Contrast::None {
                break;
            }
            if prev.info.negator != Negator::None && negation != Negator::Strong {
                negation = prev.info.negator;
            }
            if prev.info.boost != 1.0 {
                let mut effect = (prev.info.boost - 1.0) * BOOST_DECAY[k - 1];
                if prev.caps || prev.elongated {
                    effect *= CAPS_FACTOR;
                }
                boost *= 1.0 + effect;
            }
        }

        let mut v = match negation {
            Negator::None => info.valence,
            _ => {
                if boost > 1.0 {
                    boost = 1.0 / boost;
                }
                let negated = info.negated.unwrap_or(if info.valence > 0.0 {
                    info.valence * NEGATE_POSITIVE
                } else {
                    info.valence * NEGATE_NEGATIVE
                });
                if negation == Negator::Strong {
                    negated * NEVER_FACTOR
                } else {
                    negated
                }
            }
        };
        v *= boost;
        if unit.caps && !shouted && !info.acronym {
            v *= CAPS_FACTOR;
        }
        if unit.elongated {
            v *= ELONGATION_FACTOR;
        }
        if let Some(m) = last_contrast {
            if j < m {
                v *= BEFORE_CONTRAST;
            } else if j > m {
                v *= AFTER_CONTRAST;
            }
        }
        if in_concession {
            v *= CONCESSION;
        }
        if let Some(slot) = vals.get_mut(j) {
            *slot = v;
        }
    }
}

/// Scales the nearest sentiment unit before `j` in the same clause.
fn apply_post_boost(units: &[Unit], vals: &mut [f32], j: usize, factor: f32) {
    for k in 1..=SCOPE {
        let Some(p) = j.checked_sub(k) else { return };
        if units.get(p + 1).is_none_or(|u| u.brk) {
            return;
        }
        if let Some(v) = vals.get_mut(p) {
            if *v != 0.0 {
                *v *= factor;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_data_parses_without_problems() {
        let lex = lexicon::get();
        assert_eq!(lex.problems, Vec::<String>::new());
        assert!(
            lex.valence_entries >= 400,
            "only {} valence entries",
            lex.valence_entries
        );
    }

    /// Every lexicon term must be reachable: tokenizing the term must give
    /// exactly its own words (no punctuation the tokenizer would split on,
    /// no upper case, no elongation that would be collapsed).
    #[test]
    fn every_term_tokenizes_to_itself() {
        let lex = lexicon::get();
        let mut buffers = Buffers::default();
        let mut toks = Vec::new();
        for term in lexicon::lexicon_terms() {
            let term = term.trim_end_matches(['\u{fe0f}', '\u{fe0e}']);
            tokenize::tokenize(term, lex, &mut buffers, &mut toks);
            let words: Vec<&str> = term.split(' ').collect();
            assert_eq!(toks.len(), words.len(), "term {term:?}");
            for (tok, word) in toks.iter().zip(&words) {
                assert_eq!(Some(tok.id), lex.id(word), "term {term:?}");
                assert!(!tok.brk, "term {term:?} contains a clause break");
            }
        }
    }
}
