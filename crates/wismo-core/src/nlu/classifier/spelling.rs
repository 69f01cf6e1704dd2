//! Spelling correction and splitting of run-together words, against the
//! vocabulary of the training data.
//!
//! * A word the model knows is kept as it is.
//! * A long unknown word is split into known words when it can be
//!   ("whereismyorder" -> "where is my order"), preferring the fewest pieces.
//! * Any other unknown word of four letters or more is replaced by the most
//!   frequent known word one edit away (deletion, insertion, substitution, or
//!   a swap of neighbours), found with the symmetric-delete method: every
//!   known word is indexed under itself and each of its one-letter deletions.

use super::features::HashIndex;
use crate::nlu::hash::fnv1a;
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct Speller {
    counts: HashMap<String, u32>,
    /// Hash of a word or one of its one-deletion variants -> (count, word).
    deletes: HashIndex<(u32, String)>,
}

const MIN_CORRECT_LEN: usize = 4;
const MIN_SPLIT_LEN: usize = 7;
/// Words seen at least this often can be pieces of a split.
const MIN_PIECE_COUNT: u32 = 3;

impl Speller {
    pub fn new(words: &[(String, u32)]) -> Self {
        let mut me = Self::default();
        let mut buf = String::new();
        for (w, c) in words {
            me.counts.insert(w.clone(), *c);
            if w.chars().count() < MIN_CORRECT_LEN {
                continue;
            }
            me.index(fnv1a(w), w, *c);
            for (i, ch) in w.char_indices() {
                buf.clear();
                buf.push_str(&w[..i]);
                buf.push_str(&w[i + ch.len_utf8()..]);
                me.index(fnv1a(&buf), w, *c);
            }
        }
        me
    }

    fn index(&mut self, k: u64, w: &str, c: u32) {
        let e = self.deletes.entry(k).or_insert((0, String::new()));
        if c > e.0 || (c == e.0 && w < e.1.as_str()) {
            *e = (c, w.to_string());
        }
    }

    /// The vocabulary with counts, sorted, for the model file.
    pub fn words(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = self.counts.iter().map(|(w, c)| (w.clone(), *c)).collect();
        v.sort();
        v
    }

    /// Appends the corrected form of `token` (one or more words) to `out`.
    pub fn correct_into(&self, token: &str, out: &mut Vec<String>) {
        if self.counts.contains_key(token) || !token.chars().all(|c| c.is_ascii_lowercase()) {
            out.push(token.to_string());
            return;
        }
        let len = token.len();
        if len >= MIN_SPLIT_LEN {
            if let Some(pieces) = self.split(token) {
                out.extend(pieces);
                return;
            }
        }
        if len >= MIN_CORRECT_LEN {
            if let Some(w) = self.nearest(token) {
                out.push(w.to_string());
                return;
            }
        }
        out.push(token.to_string());
    }

    fn nearest(&self, token: &str) -> Option<&str> {
        let mut best: Option<&(u32, String)> = None;
        let mut consider = |k: u64| {
            if let Some(e) = self.deletes.get(&k) {
                if best.is_none_or(|b| e.0 > b.0) {
                    best = Some(e);
                }
            }
        };
        consider(fnv1a(token));
        let mut buf = String::with_capacity(token.len());
        for i in 0..token.len() {
            // ASCII only here (checked by the caller), so every index is a boundary.
            buf.clear();
            buf.push_str(&token[..i]);
            buf.push_str(&token[i + 1..]);
            consider(fnv1a(&buf));
        }
        best.map(|b| b.1.as_str())
    }

    /// Splits an ASCII word into the fewest known pieces, if it can be done
    /// with two to four pieces.
    fn split(&self, token: &str) -> Option<Vec<String>> {
        let n = token.len();
        // best[j] = (pieces, sum of counts) for token[..j]
        let mut best: Vec<Option<(u8, u64, usize)>> = vec![None; n + 1];
        best[0] = Some((0, 0, 0));
        for j in 1..=n {
            for i in j.saturating_sub(14)..j {
                // A prefix already in four pieces cannot lead to an answer
                // (and a long run of short words would overflow the count).
                let Some((p, score, _)) = best[i].filter(|b| b.0 < 4) else {
                    continue;
                };
                let piece = &token[i..j];
                let ok_short = piece.len() >= 2 || piece == "a" || piece == "i";
                let Some(&c) = self.counts.get(piece) else {
                    continue;
                };
                if !ok_short || c < MIN_PIECE_COUNT {
                    continue;
                }
                let cand = (p + 1, score + u64::from(c), i);
                let better = match best[j] {
                    None => true,
                    Some((bp, bs, _)) => cand.0 < bp || (cand.0 == bp && cand.1 > bs),
                };
                if better {
                    best[j] = Some(cand);
                }
            }
        }
        let (pieces, _, _) = best[n]?;
        if !(2..=4).contains(&pieces) {
            return None;
        }
        let mut out = Vec::with_capacity(pieces as usize);
        let mut j = n;
        while j > 0 {
            let (_, _, i) = best[j]?;
            out.push(token[i..j].to_string());
            j = i;
        }
        out.reverse();
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speller() -> Speller {
        let words: Vec<(String, u32)> = [
            ("where", 50),
            ("is", 80),
            ("my", 90),
            ("order", 60),
            ("received", 12),
            ("refund", 20),
            ("track", 15),
            ("package", 10),
        ]
        .iter()
        .map(|(w, c)| (w.to_string(), *c))
        .collect();
        Speller::new(&words)
    }

    fn correct(s: &Speller, t: &str) -> Vec<String> {
        let mut v = Vec::new();
        s.correct_into(t, &mut v);
        v
    }

    #[test]
    fn splits_run_together_words() {
        let s = speller();
        assert_eq!(
            correct(&s, "whereismyorder"),
            ["where", "is", "my", "order"]
        );
        assert_eq!(correct(&s, "trackmypackage"), ["track", "my", "package"]);
    }

    #[test]
    fn corrects_one_edit_typos() {
        let s = speller();
        assert_eq!(correct(&s, "recieved"), ["received"]);
        assert_eq!(correct(&s, "refnd"), ["refund"]);
        assert_eq!(correct(&s, "ordr"), ["order"]);
        assert_eq!(correct(&s, "oorder"), ["order"]);
    }

    #[test]
    fn leaves_known_short_and_hopeless_words_alone() {
        let s = speller();
        assert_eq!(correct(&s, "order"), ["order"]);
        assert_eq!(correct(&s, "xyz"), ["xyz"]);
        assert_eq!(correct(&s, "zzzzzzzz"), ["zzzzzzzz"]);
        assert_eq!(correct(&s, "pedido"), ["pedido"]);
    }

    #[test]
    fn a_long_run_of_known_words_is_left_as_it_is() {
        // Found by the pipeline fuzzer: 300 pieces overflowed the piece count.
        let s = speller();
        let long = "is".repeat(300);
        assert_eq!(correct(&s, &long), vec![long.clone()]);
        assert_eq!(correct(&s, "ismyismyis"), ["ismyismyis"]);
    }
}
