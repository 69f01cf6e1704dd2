//! Product names from the store catalogue.
//!
//! Names and aliases are split into words (ASCII lower-cased, a plural `s`
//! dropped). A multi-word name only matches as a whole, word by word. Each
//! message word matches a catalogue word exactly, or with a typo when it has
//! at least 4 letters: edit distance (with transpositions) 1 for 4-7 letters,
//! 2 for longer words, same first letter (or first two letters swapped), and
//! the message word is not a common English word (`stock` is not `sock`,
//! `charged` is not `charger`). Single-word names shorter than 3 letters are
//! ignored. Score = 1 - edits / letters of the name; the longest, then best
//! scoring, then first-listed product wins.

use super::Product;
use crate::nlu::hash::FnvMap;

/// Common words that must never be read as a typo of a product word.
const COMMON: &[&str] = &[
    "about",
    "after",
    "again",
    "also",
    "back",
    "bank",
    "been",
    "best",
    "bill",
    "boat",
    "bolt",
    "book",
    "booked",
    "both",
    "bought",
    "came",
    "cancel",
    "card",
    "care",
    "cart",
    "case",
    "cash",
    "change",
    "charge",
    "charged",
    "charges",
    "chat",
    "check",
    "china",
    "come",
    "coming",
    "cost",
    "could",
    "date",
    "days",
    "deal",
    "does",
    "done",
    "down",
    "each",
    "email",
    "even",
    "ever",
    "fast",
    "find",
    "fine",
    "from",
    "gave",
    "give",
    "good",
    "have",
    "help",
    "here",
    "home",
    "hope",
    "into",
    "item",
    "just",
    "know",
    "lamb",
    "lame",
    "last",
    "late",
    "left",
    "less",
    "like",
    "limp",
    "line",
    "list",
    "lock",
    "long",
    "look",
    "lost",
    "lump",
    "made",
    "mail",
    "make",
    "many",
    "mean",
    "means",
    "more",
    "most",
    "much",
    "must",
    "need",
    "never",
    "next",
    "note",
    "okay",
    "once",
    "only",
    "open",
    "order",
    "ordered",
    "orders",
    "over",
    "pack",
    "paid",
    "part",
    "pay",
    "phone",
    "please",
    "post",
    "puffed",
    "rather",
    "really",
    "right",
    "rock",
    "sack",
    "said",
    "same",
    "says",
    "send",
    "sent",
    "shipped",
    "shot",
    "show",
    "shows",
    "sick",
    "since",
    "soak",
    "some",
    "soon",
    "sort",
    "stock",
    "still",
    "store",
    "such",
    "suck",
    "sure",
    "take",
    "than",
    "thank",
    "thanks",
    "that",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "time",
    "told",
    "total",
    "towed",
    "tower",
    "track",
    "used",
    "very",
    "wait",
    "want",
    "week",
    "well",
    "went",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "will",
    "with",
    "work",
    "would",
    "wrong",
    "year",
    "your",
    "jumped",
    "jumps",
    "slippery",
    "beat",
    "belly",
    "bell",
    "bath",
    "cable",
    "table",
    "cables",
    "bottle",
    "tool",
    "tools",
    "speak",
    "spoke",
    "sneak",
    "candy",
    "handle",
    "shoot",
    "short",
    "shorts",
    "shirt",
    "shirts",
    "sweet",
    "sweeter",
    "water",
    "later",
    "sooner",
    "reach",
    "refund",
    "return",
    "returned",
    "status",
    "arrive",
    "arrived",
    "delivery",
    "delivered",
    "address",
    "number",
    "account",
    "package",
    "parcel",
];

#[derive(Debug, Clone)]
struct Phrase {
    product: usize,
    words: Vec<u32>,
    letters: usize,
}

/// The compiled catalogue.
#[derive(Debug, Clone, Default)]
pub(super) struct ProductMatcher {
    vocab: Vec<String>,
    masks: Vec<u32>,
    exact: FnvMap<String, u32>,
    by_len: Vec<Vec<u32>>,
    by_first: Vec<Vec<u32>>,
    phrases: Vec<Phrase>,
    common: FnvMap<&'static str, ()>,
}

/// A product found: byte span, product index, score.
pub(super) type Found = (usize, usize, usize, f32);

/// Drops a plural `s` (not from `ss` words or very short words).
fn singular(w: &str) -> &str {
    if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") {
        &w[..w.len() - 1]
    } else {
        w
    }
}

fn mask(w: &str) -> u32 {
    w.bytes()
        .filter(u8::is_ascii_lowercase)
        .fold(0, |m, b| m | 1 << (b - b'a'))
}

/// Words of `s` (already ASCII lower-cased) with their byte spans.
fn words(s: &str) -> impl Iterator<Item = (usize, usize, &str)> {
    let mut pos = 0;
    s.split(|c: char| !c.is_alphanumeric())
        .filter_map(move |w| {
            let start = pos;
            pos += w.len() + s[pos + w.len()..].chars().next().map_or(0, char::len_utf8);
            (!w.is_empty()).then_some((start, start + w.len(), w))
        })
}

/// Optimal string alignment distance, giving up above `max`.
fn osa(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max || a.len() > 31 || b.len() > 31 {
        return None;
    }
    let n = b.len();
    let mut prev2 = [0usize; 32];
    let mut prev: [usize; 32] = std::array::from_fn(|j| j);
    let mut cur = [0usize; 32];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=n {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        prev2 = prev;
        prev = cur;
    }
    let d = prev[n];
    (d <= max).then_some(d)
}

impl ProductMatcher {
    pub(super) fn new(catalogue: &[Product]) -> Self {
        let mut m = Self {
            common: COMMON.iter().map(|w| (*w, ())).collect(),
            ..Self::default()
        };
        for (pi, p) in catalogue.iter().enumerate() {
            for name in std::iter::once(&p.name).chain(&p.aliases) {
                let lower = name.to_ascii_lowercase();
                let ws: Vec<&str> = words(&lower).map(|(_, _, w)| singular(w)).collect();
                if ws.is_empty() || (ws.len() == 1 && ws[0].len() < 3) {
                    continue;
                }
                let ids: Vec<u32> = ws.iter().map(|w| m.intern(w)).collect();
                let letters = ws.iter().map(|w| w.len()).sum();
                let phrase = Phrase {
                    product: pi,
                    words: ids,
                    letters,
                };
                if !m
                    .phrases
                    .iter()
                    .any(|q| q.product == pi && q.words == phrase.words)
                {
                    m.phrases.push(phrase);
                }
            }
        }
        m.by_first = vec![Vec::new(); m.vocab.len()];
        for (i, p) in m.phrases.iter().enumerate() {
            if let Some(&f) = p.words.first() {
                m.by_first[f as usize].push(i as u32);
            }
        }
        m
    }

    fn intern(&mut self, w: &str) -> u32 {
        if let Some(&id) = self.exact.get(w) {
            return id;
        }
        let id = self.vocab.len() as u32;
        self.vocab.push(w.to_string());
        self.masks.push(mask(w));
        self.exact.insert(w.to_string(), id);
        let len = w.len();
        if self.by_len.len() <= len {
            self.by_len.resize(len + 1, Vec::new());
        }
        self.by_len[len].push(id);
        id
    }

    pub(super) fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// Catalogue words matching message word `w` (with edit distance).
    fn lookup(&self, w: &str, out: &mut Vec<(u32, u8)>) {
        let w = singular(w);
        if let Some(&id) = self.exact.get(w) {
            out.push((id, 0));
            return;
        }
        let len = w.len();
        if len < 4 || !w.bytes().all(|b| b.is_ascii_lowercase()) || self.common.contains_key(w) {
            return;
        }
        let wb = w.as_bytes();
        let wm = mask(w);
        let k = if len <= 7 { 1 } else { 2 };
        for l in len.saturating_sub(k).max(4)..=(len + k).min(self.by_len.len().saturating_sub(1)) {
            let Some(bucket) = self.by_len.get(l) else {
                continue;
            };
            for &id in bucket {
                let v = self.vocab[id as usize].as_bytes();
                let vk = if v.len() <= 7 { 1 } else { 2 };
                let kk = k.min(vk);
                let first_ok = v[0] == wb[0] || (v.len() > 1 && v[0] == wb[1] && v[1] == wb[0]);
                if !first_ok || (self.masks[id as usize] ^ wm).count_ones() as usize > 2 * kk {
                    continue;
                }
                if let Some(d) = osa(wb, v, kk) {
                    out.push((id, d as u8));
                }
            }
        }
    }

    /// Product mentions in `lower` (the ASCII lower-cased message).
    pub(super) fn find(&self, lower: &str, out: &mut Vec<Found>) {
        let toks: Vec<(usize, usize, &str)> = words(lower).collect();
        let mut matches: Vec<Vec<(u32, u8)>> = Vec::with_capacity(toks.len());
        for &(_, _, w) in &toks {
            let mut v = Vec::new();
            self.lookup(w, &mut v);
            matches.push(v);
        }
        for i in 0..toks.len() {
            for &(first, d0) in &matches[i] {
                for &pid in &self.by_first[first as usize] {
                    let p = &self.phrases[pid as usize];
                    let mut edits = usize::from(d0);
                    let mut ok = i + p.words.len() <= toks.len();
                    if ok {
                        for (k, wid) in p.words.iter().enumerate().skip(1) {
                            match matches[i + k].iter().find(|(id, _)| id == wid) {
                                Some(&(_, d)) => edits += usize::from(d),
                                None => {
                                    ok = false;
                                    break;
                                }
                            }
                        }
                    }
                    if !ok {
                        continue;
                    }
                    let score = (1.0 - edits as f32 / p.letters.max(1) as f32).max(0.01);
                    let end = toks[i + p.words.len() - 1].1;
                    out.push((toks[i].0, end, p.product, score));
                }
            }
        }
    }
}
