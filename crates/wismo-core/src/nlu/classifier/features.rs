//! Turning token lists into sparse TF-IDF feature vectors.
//!
//! Three views of a message, each L2-normalised on its own and then weighted:
//! * words: unigrams and bigrams of the normalised tokens (after spelling
//!   correction and splitting of run-together words);
//! * characters: 2- to 5-grams inside each space-padded token, which make the
//!   model robust to typos, inflections and words it never saw;
//! * pairs: every unordered pair of (stemmed) content words in the message — a
//!   cheap quadratic feature that captures "card + arrive" wherever the words
//!   stand. Worth about half a point of accuracy on BANKING77.
//!
//! Features are identified by a 64-bit hash of their text, so nothing is
//! allocated per n-gram, and mapped to columns through an index built at
//! training time; unseen features are dropped.

use super::super::text::{is_stopword, stem, tokenize_into};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for keys that are already well-mixed 64-bit hashes.
#[derive(Default, Clone, Copy)]
pub struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(SEED);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub type HashIndex<V> = HashMap<u64, V, BuildHasherDefault<PreHashed>>;

const SEED: u64 = 0x517c_c1b7_2722_0a95;

#[inline]
fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(5) ^ x).wrapping_mul(SEED)
}

#[inline]
fn finalize(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

fn hash_str(seed: u64, s: &str) -> u64 {
    let mut h = seed;
    for b in s.bytes() {
        h = mix(h, u64::from(b));
    }
    finalize(h)
}

const WORD: u64 = 1;
const BIGRAM: u64 = 2;
const CHAR: u64 = 3;
const PAIR: u64 = 4;

/// How features are built. Stored in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    pub char_min: usize,
    pub char_max: usize,
    pub word_weight: f32,
    pub char_weight: f32,
    pub pair_weight: f32,
    /// Pairs are built from at most this many content words.
    pub max_pair_words: usize,
    /// Bigram, character and pair features seen in fewer training messages are
    /// dropped (word unigrams are always kept).
    pub min_df: u32,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            char_min: 2,
            char_max: 5,
            word_weight: 1.0,
            char_weight: 1.0,
            pair_weight: 1.0,
            max_pair_words: 20,
            min_df: 1,
        }
    }
}

/// The trained featurizer: feature index, IDF weights and the word list used
/// for spelling correction.
#[derive(Debug, Clone)]
pub struct Featurizer {
    pub config: FeatureConfig,
    index: HashIndex<u32>,
    idf: Vec<f32>,
    speller: super::spelling::Speller,
}

/// The serialisable form of a [`Featurizer`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeaturizerData {
    pub config: FeatureConfig,
    /// Feature hashes, in column order.
    pub hashes: Vec<u64>,
    pub idf: Vec<f32>,
    pub words: Vec<(String, u32)>,
}

/// Reusable buffers, so classifying a message allocates little.
#[derive(Default)]
pub struct Scratch {
    tokens: Vec<String>,
    words: Vec<String>,
    keys: Vec<u64>,
    chars: Vec<char>,
    content: Vec<u64>,
    blocks: Vec<u8>,
}

/// A sparse vector: (column, value), each column at most once.
pub type Sparse = Vec<(u32, f32)>;

impl Featurizer {
    /// Builds the feature index from the training texts.
    pub fn fit(config: FeatureConfig, texts: &[&str]) -> Self {
        let mut word_counts: HashMap<String, u32> = HashMap::new();
        let mut scratch = Scratch::default();
        for t in texts {
            tokenize_into(t, &mut scratch.tokens);
            for w in &scratch.tokens {
                if w.chars().all(char::is_alphabetic) {
                    *word_counts.entry(w.clone()).or_default() += 1;
                }
            }
        }
        let mut words: Vec<(String, u32)> = word_counts.into_iter().collect();
        words.sort();
        let speller = super::spelling::Speller::new(&words);
        let mut me = Self {
            config,
            index: HashIndex::default(),
            idf: Vec::new(),
            speller,
        };
        let mut df: HashIndex<u32> = HashIndex::default();
        let mut order: Vec<u64> = Vec::new();
        let unigram_keys: std::collections::HashSet<u64> = words
            .iter()
            .map(|(w, _)| tag(hash_str(WORD, w), 0))
            .collect();
        for t in texts {
            me.keys(t, &mut scratch);
            let mut keys = std::mem::take(&mut scratch.keys);
            keys.sort_unstable();
            keys.dedup();
            for &k in &keys {
                let e = df.entry(k).or_insert_with(|| {
                    order.push(k);
                    0
                });
                *e += 1;
            }
            scratch.keys = keys;
        }
        let n = texts.len() as f32;
        let min_df = me.config.min_df;
        for k in &order {
            let d = df.get(k).copied().unwrap_or(1);
            let unigram = unigram_keys.contains(k);
            if d < min_df && !unigram {
                continue;
            }
            me.index.insert(*k, me.idf.len() as u32);
            me.idf.push(((1.0 + n) / (1.0 + d as f32)).ln() + 1.0);
        }
        me
    }

    pub fn dim(&self) -> usize {
        self.idf.len()
    }

    pub fn to_data(&self) -> FeaturizerData {
        let mut hashes = vec![0u64; self.idf.len()];
        for (k, &c) in &self.index {
            hashes[c as usize] = *k;
        }
        FeaturizerData {
            config: self.config.clone(),
            hashes,
            idf: self.idf.clone(),
            words: self.speller.words(),
        }
    }

    pub fn from_data(data: FeaturizerData) -> Result<Self, String> {
        if data.hashes.len() != data.idf.len() {
            return Err(format!(
                "feature table has {} hashes but {} IDF weights",
                data.hashes.len(),
                data.idf.len()
            ));
        }
        let mut index = HashIndex::default();
        index.reserve(data.hashes.len());
        for (c, h) in data.hashes.iter().enumerate() {
            index.insert(*h, c as u32);
        }
        Ok(Self {
            config: data.config,
            index,
            idf: data.idf,
            speller: super::spelling::Speller::new(&data.words),
        })
    }

    /// The feature keys of `text`, with the block each belongs to encoded in
    /// its two top bits, in `scratch.keys` (with repeats, for term frequency).
    fn keys(&self, text: &str, s: &mut Scratch) {
        s.keys.clear();
        tokenize_into(text, &mut s.tokens);
        // Word view: spelling-corrected, run-together words split.
        s.words.clear();
        for t in &s.tokens {
            self.speller.correct_into(t, &mut s.words);
        }
        let mut prev: Option<u64> = None;
        for w in &s.words {
            let h = hash_str(WORD, w);
            s.keys.push(tag(h, 0));
            if let Some(p) = prev {
                s.keys.push(tag(finalize(mix(mix(BIGRAM, p), h)), 0));
            }
            prev = Some(h);
        }
        // Character view, on the tokens as typed.
        let (lo, hi) = (self.config.char_min, self.config.char_max);
        for t in &s.tokens {
            s.chars.clear();
            s.chars.push(' ');
            s.chars.extend(t.chars());
            s.chars.push(' ');
            let len = s.chars.len();
            for n in lo..=hi {
                if n > len {
                    break;
                }
                for start in 0..=(len - n) {
                    let mut h = CHAR.wrapping_add(n as u64);
                    for &c in &s.chars[start..start + n] {
                        h = mix(h, u64::from(c));
                    }
                    s.keys.push(tag(finalize(h), 1));
                }
            }
        }
        // Pair view: unordered pairs of stemmed content words.
        s.content.clear();
        for w in &s.words {
            if !is_stopword(w) {
                s.content.push(hash_str(PAIR, stem(w)));
            }
        }
        s.content.sort_unstable();
        s.content.dedup();
        s.content.truncate(self.config.max_pair_words);
        for i in 0..s.content.len() {
            for j in (i + 1)..s.content.len() {
                s.keys
                    .push(tag(finalize(mix(s.content[i], s.content[j])), 2));
            }
        }
    }

    /// The TF-IDF vector of `text`.
    pub fn transform(&self, text: &str, s: &mut Scratch, out: &mut Sparse) {
        out.clear();
        self.keys(text, s);
        s.keys.sort_unstable();
        let weights = [
            self.config.word_weight,
            self.config.char_weight,
            self.config.pair_weight,
        ];
        let mut norms = [0f32; 3];
        s.blocks.clear();
        let keys = &s.keys;
        let mut i = 0;
        while i < keys.len() {
            let k = keys[i];
            let mut j = i + 1;
            while j < keys.len() && keys[j] == k {
                j += 1;
            }
            if let Some(&col) = self.index.get(&k) {
                let tf = 1.0 + ((j - i) as f32).ln();
                let v = tf * self.idf[col as usize];
                let block = ((k >> 62) as usize).min(2);
                norms[block] += v * v;
                out.push((col, v));
                s.blocks.push(block as u8);
            }
            i = j;
        }
        let mut scale = [0f32; 3];
        for b in 0..3 {
            if norms[b] > 0.0 {
                scale[b] = weights[b] / norms[b].sqrt();
            }
        }
        for (e, &b) in out.iter_mut().zip(&s.blocks) {
            e.1 *= scale[b as usize];
        }
    }
}

#[inline]
fn tag(h: u64, block: u64) -> u64 {
    (h & (u64::MAX >> 2)) | (block << 62)
}
