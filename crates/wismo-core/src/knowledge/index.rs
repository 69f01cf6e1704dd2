//! A BM25F index over one locale's passages, with typo correction of query
//! words against the index vocabulary.
//!
//! Every passage has three fields: the article title (shared by all passages
//! of an article), the section heading(s) and the passage text. A term's
//! frequencies are length-normalised per field, weighted (title and heading
//! count double) and summed, then saturated once with Okapi's `k1`:
//!
//! ```text
//! tf'(t, p) = Σ_f w_f · tf_f(t, p) / (1 − b + b · len_f(p) / avglen_f)
//! score(q, p) = Σ_{t ∈ q} idf(t) · tf'(t, p) / (k1 + tf'(t, p))
//! idf(t) = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
//! ```
//!
//! A term's contribution is therefore below its `idf`, so dividing by the sum
//! of the query terms' `idf` gives a score in `[0, 1)` that can be compared
//! across questions: the basis of the decision to decline.

use std::collections::HashMap;

use super::article::Article;
use super::text::{self, Lang};

/// Okapi term-frequency saturation.
pub(crate) const K1: f32 = 1.2;
/// Okapi length normalisation.
pub(crate) const B: f32 = 0.75;
const TITLE: usize = 0;
const HEADING: usize = 1;
const BODY: usize = 2;
const FIELDS: usize = 3;
/// Field weights: title, heading, body.
const FIELD_WEIGHT: [f32; FIELDS] = [2.0, 2.0, 1.0];
/// Query words shorter than this (after stemming) are never typo-corrected:
/// short words have too many neighbours at edit distance 1.
const MIN_TYPO_CHARS: usize = 5;
/// Longer query words are not typo-corrected (nothing to gain, bounded work).
const MAX_TYPO_CHARS: usize = 30;
/// How much a typo-corrected word counts compared with an exact one.
const TYPO_CERTAINTY: f32 = 0.75;
/// Ranking weight of an article's first passage (not applied to its score).
const LEAD_BONUS: f32 = 1.05;
/// Ranking weight of a passage about a narrower scope ("international
/// shipping") than the question names ("is shipping free?"), not applied to
/// its score: a passage about the whole topic wins unless the narrower one
/// matches clearly better. Measured on `data/knowledge-eval` (0.8-0.9 best).
const NARROWER_SCOPE: f32 = 0.8;
/// At most this many distinct query terms are used (hostile input).
const MAX_QUERY_TERMS: usize = 32;
/// Only the first this many bytes of a question are read (hostile input).
const MAX_QUESTION_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Posting {
    passage: u32,
    tf: [u16; FIELDS],
}

/// Where a passage comes from: article and passage index in the article.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PassageRef {
    pub article: usize,
    pub passage: usize,
    /// The passage or its article is about a narrower scope than a question
    /// that does not name it ("international shipping").
    pub scoped: bool,
}

/// One locale's articles and their index.
#[derive(Debug, Clone)]
pub(crate) struct LocaleIndex {
    lang: Lang,
    pub articles: Vec<Article>,
    pub passages: Vec<PassageRef>,
    lens: Vec<[f32; FIELDS]>,
    avg_len: [f32; FIELDS],
    vocab: HashMap<String, u32>,
    terms: Vec<String>,
    postings: Vec<Vec<Posting>>,
    idf: Vec<f32>,
    /// Every vocabulary term with one character deleted -> term ids
    /// (symmetric-delete candidates for edit distance 1).
    deletes: HashMap<String, Vec<u32>>,
    /// Two adjacent words of a passage written as one ("mercadopago") ->
    /// the two words' term ids, for a question that joins what the articles
    /// write apart.
    joined: HashMap<String, (u32, u32)>,
}

/// A scored passage, with what the decision to answer needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Hit {
    pub passage: usize,
    /// BM25F score divided by the query's total idf: in `[0, 1)`.
    pub score: f32,
    /// Share of the query's idf mass whose terms occur in the passage
    /// (typo-corrected terms count `TYPO_CERTAINTY`).
    pub coverage: f32,
    /// Sum of the idf of the query terms that occur in the passage.
    pub matched_idf: f32,
}

struct QueryTerm {
    id: Option<u32>,
    idf: f32,
    certainty: f32,
}

impl LocaleIndex {
    pub(crate) fn build(locale: &str, articles: Vec<Article>) -> LocaleIndex {
        let lang = Lang::for_locale(locale);
        let mut idx = LocaleIndex {
            lang,
            articles: Vec::new(),
            passages: Vec::new(),
            lens: Vec::new(),
            avg_len: [0.0; FIELDS],
            vocab: HashMap::new(),
            terms: Vec::new(),
            postings: Vec::new(),
            idf: Vec::new(),
            deletes: HashMap::new(),
            joined: HashMap::new(),
        };
        let mut counts: HashMap<u32, [u16; FIELDS]> = HashMap::new();
        for (a, article) in articles.iter().enumerate() {
            // The file name often names the topic ("international.html")
            // when the title does not ("Worldwide delivery").
            let mut title = text::terms(&article.title, lang);
            for t in text::terms(&article.id, lang) {
                if !title.contains(&t) {
                    title.push(t);
                }
            }
            for (s, section) in article.passages.iter().enumerate() {
                let p = idx.passages.len() as u32;
                counts.clear();
                let heading = text::terms(&section.heading, lang);
                let body = text::terms(&section.text, lang);
                let mut lens = [0.0; FIELDS];
                for (field, words) in [(TITLE, &title), (HEADING, &heading), (BODY, &body)] {
                    lens[field] = words.len() as f32;
                    for w in words {
                        let id = idx.term_id(w);
                        let tf = counts.entry(id).or_insert([0; FIELDS]);
                        tf[field] = tf[field].saturating_add(1);
                    }
                }
                for (joined, a, b) in text::word_pairs(&section.text, lang) {
                    if let (Some(&a), Some(&b)) = (idx.vocab.get(&a), idx.vocab.get(&b)) {
                        idx.joined.entry(joined).or_insert((a, b));
                    }
                }
                let mut ids: Vec<(&u32, &[u16; FIELDS])> = counts.iter().collect();
                ids.sort_unstable_by_key(|(id, _)| **id);
                for (&id, &tf) in ids {
                    if let Some(list) = idx.postings.get_mut(id as usize) {
                        list.push(Posting { passage: p, tf });
                    }
                }
                let scoped = [&title, &heading, &body]
                    .iter()
                    .any(|ws| ws.iter().any(|w| text::is_scope_word(w, lang)));
                idx.passages.push(PassageRef {
                    article: a,
                    passage: s,
                    scoped,
                });
                idx.lens.push(lens);
            }
        }
        let n = idx.passages.len().max(1) as f32;
        for f in 0..FIELDS {
            idx.avg_len[f] = idx.lens.iter().map(|l| l[f]).sum::<f32>() / n;
        }
        idx.idf = idx
            .postings
            .iter()
            .map(|p| idf(idx.passages.len(), p.len()))
            .collect();
        for (id, term) in idx.terms.iter().enumerate() {
            if term.chars().count() + 1 >= MIN_TYPO_CHARS {
                for d in deletions(term) {
                    idx.deletes.entry(d).or_default().push(id as u32);
                }
            }
        }
        idx.articles = articles;
        idx
    }

    fn term_id(&mut self, w: &str) -> u32 {
        if let Some(&id) = self.vocab.get(w) {
            return id;
        }
        let id = self.terms.len() as u32;
        self.vocab.insert(w.to_string(), id);
        self.terms.push(w.to_string());
        self.postings.push(Vec::new());
        id
    }

    /// The least summed idf the matched terms of an answer must have: ln 2,
    /// the idf of a term in half of the passages, or the idf of a term unique
    /// to one passage when the index is too small for that (1 passage).
    pub(crate) fn specificity_floor(&self) -> f32 {
        std::f32::consts::LN_2.min(idf(self.passages.len(), 1))
    }

    /// Passages that share at least one term with `question`, best first.
    pub(crate) fn search(&self, question: &str) -> Vec<Hit> {
        let query = self.query(question);
        let scoped_query = text::terms(question, self.lang)
            .iter()
            .any(|w| text::is_scope_word(w, self.lang));
        let total_idf: f32 = query.iter().map(|t| t.idf).sum();
        if total_idf <= 0.0 {
            return Vec::new();
        }
        let mut score = vec![0.0f32; self.passages.len()];
        let mut covered = vec![0.0f32; self.passages.len()];
        let mut matched = vec![0.0f32; self.passages.len()];
        for term in &query {
            let Some(id) = term.id else { continue };
            let Some(list) = self.postings.get(id as usize) else {
                continue;
            };
            for posting in list {
                let p = posting.passage as usize;
                let Some(lens) = self.lens.get(p) else {
                    continue;
                };
                let mut tf = 0.0;
                for f in 0..FIELDS {
                    if posting.tf[f] > 0 && self.avg_len[f] > 0.0 {
                        let norm = 1.0 - B + B * lens[f] / self.avg_len[f];
                        tf += FIELD_WEIGHT[f] * f32::from(posting.tf[f]) / norm;
                    }
                }
                if let (Some(s), Some(c), Some(m)) =
                    (score.get_mut(p), covered.get_mut(p), matched.get_mut(p))
                {
                    *s += term.certainty * term.idf * tf / (K1 + tf);
                    *c += term.certainty * term.idf;
                    *m += term.idf;
                }
            }
        }
        let mut hits: Vec<Hit> = (0..self.passages.len())
            .filter(|&p| score[p] > 0.0)
            .map(|p| Hit {
                passage: p,
                score: score[p] / total_idf,
                coverage: covered[p] / total_idf,
                matched_idf: matched[p],
            })
            .collect();
        // An article's first passage usually states its main rule ("you can
        // return items within 14 days"): it wins near-ties.
        let rank = |h: &Hit| {
            let p = self.passages.get(h.passage);
            let lead = p.is_some_and(|p| p.passage == 0);
            let narrower = !scoped_query && p.is_some_and(|p| p.scoped);
            let mut r = h.score;
            if lead {
                r *= LEAD_BONUS;
            }
            if narrower {
                r *= NARROWER_SCOPE;
            }
            r
        };
        hits.sort_by(|a, b| {
            rank(b)
                .total_cmp(&rank(a))
                .then_with(|| a.passage.cmp(&b.passage))
        });
        hits
    }

    /// The question's distinct informative terms, typo-corrected where a word
    /// is unknown and has one close known neighbour; two words the articles
    /// write as one ("pick up" for "pickup") or one word they write as two
    /// ("mercadopago" for "Mercado Pago") match what the articles write.
    fn query(&self, question: &str) -> Vec<QueryTerm> {
        let mut end = question.len().min(MAX_QUESTION_BYTES);
        while !question.is_char_boundary(end) {
            end -= 1;
        }
        let question = question.get(..end).unwrap_or("");
        let mut words = text::terms(question, self.lang);
        for (joined, a, b) in text::word_pairs(question, self.lang) {
            let known = |t: &str| self.vocab.contains_key(t);
            if known(&joined) && !(known(&a) && known(&b)) {
                for part in [&a, &b] {
                    if let Some(i) = words.iter().position(|w| w == part) {
                        words.remove(i);
                    }
                }
                words.push(joined);
            }
        }
        // A word no article uses is taken to be as informative as the rarest
        // word they do use: its absence from every passage then weighs fully.
        let unknown_idf = idf(self.passages.len(), 1);
        let mut out: Vec<QueryTerm> = Vec::new();
        let mut seen_unknown: Vec<&str> = Vec::new();
        let add = |out: &mut Vec<QueryTerm>, id: u32, certainty: f32| {
            if out.len() < MAX_QUERY_TERMS && !out.iter().any(|t| t.id == Some(id)) {
                let idf = self.idf.get(id as usize).copied().unwrap_or(unknown_idf);
                out.push(QueryTerm {
                    id: Some(id),
                    idf,
                    certainty,
                });
            }
        };
        for w in &words {
            if out.len() >= MAX_QUERY_TERMS {
                break;
            }
            match self.vocab.get(w.as_str()) {
                Some(&id) => add(&mut out, id, 1.0),
                None if text::is_soft_word(w, self.lang) => {}
                None => {
                    if let Some(&(a, b)) = self.joined.get(w.as_str()) {
                        add(&mut out, a, 1.0);
                        add(&mut out, b, 1.0);
                    } else if let Some(id) = self.correct(w) {
                        add(&mut out, id, TYPO_CERTAINTY);
                    } else if !seen_unknown.contains(&w.as_str()) {
                        seen_unknown.push(w);
                        out.push(QueryTerm {
                            id: None,
                            idf: unknown_idf,
                            certainty: 1.0,
                        });
                    }
                }
            }
        }
        out
    }

    /// The most frequent vocabulary term within edit distance 1 (insertion,
    /// deletion, substitution or transposition of adjacent letters) of `w`.
    fn correct(&self, w: &str) -> Option<u32> {
        let n = w.chars().count();
        if !(MIN_TYPO_CHARS..=MAX_TYPO_CHARS).contains(&n) {
            return None;
        }
        let mut candidates: Vec<u32> = Vec::new();
        if let Some(ids) = self.deletes.get(w) {
            candidates.extend(ids);
        }
        for d in deletions(w) {
            if let Some(&id) = self.vocab.get(&d) {
                candidates.push(id);
            }
            if let Some(ids) = self.deletes.get(&d) {
                candidates.extend(ids);
            }
        }
        candidates
            .into_iter()
            .filter(|&id| {
                self.terms
                    .get(id as usize)
                    .is_some_and(|t| within_one_edit(w, t))
            })
            .max_by_key(|&id| {
                let df = self.postings.get(id as usize).map_or(0, Vec::len);
                (df, std::cmp::Reverse(id))
            })
    }
}

fn idf(n: usize, df: usize) -> f32 {
    let (n, df) = (n as f32, df as f32);
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// `w` with each one of its characters left out in turn.
fn deletions(w: &str) -> Vec<String> {
    w.char_indices()
        .map(|(i, c)| {
            let mut s = String::with_capacity(w.len());
            s.push_str(&w[..i]);
            s.push_str(&w[i + c.len_utf8()..]);
            s
        })
        .collect()
}

/// Optimal-string-alignment distance ≤ 1, on characters.
fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (long, short) = if a.len() >= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let i = long
        .iter()
        .zip(short.iter())
        .take_while(|(x, y)| x == y)
        .count();
    match long.len() - short.len() {
        0 => {
            if i == long.len() {
                return true;
            }
            let rest = |k: usize| long.get(k..) == short.get(k..);
            rest(i + 1)
                || (long.get(i) == short.get(i + 1)
                    && long.get(i + 1) == short.get(i)
                    && rest(i + 2))
        }
        1 => long.get(i + 1..) == short.get(i..),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_one() {
        for (a, b, want) in [
            ("return", "return", true),
            ("retunr", "return", true),
            ("retrun", "return", true),
            ("retur", "return", true),
            ("returnn", "return", true),
            ("rexurn", "return", true),
            ("rxtunr", "return", false),
            ("ret", "return", false),
            ("añadir", "anadir", true),
            ("", "a", true),
        ] {
            assert_eq!(within_one_edit(a, b), want, "{a} vs {b}");
            assert_eq!(within_one_edit(b, a), want, "{b} vs {a}");
        }
    }

    #[test]
    fn idf_of_a_term_in_half_the_passages_is_ln_2() {
        assert!((idf(10, 5) - std::f32::consts::LN_2).abs() < 1e-6);
        assert!(idf(10, 0) > idf(10, 1));
    }
}
