//! Intent classification on sentence embeddings, and its blend with the
//! lexical classifier.
//!
//! The core never runs an encoder: the caller encodes the messages (with
//! `wismo-encoder`, or anything that gives unit vectors of one dimension)
//! and hands the vectors in. [`SemanticClassifier`] is a multinomial
//! logistic regression over those vectors, trained with mini-batch Adam and
//! an L2 penalty; [`blend`] mixes its probabilities with the lexical
//! classifier's, intent by intent.

use serde::{Deserialize, Serialize};

use super::classifier::IntentScore;

/// How the semantic classifier is trained.
#[derive(Debug, Clone)]
pub struct SemanticOptions {
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f32,
    /// L2 penalty on the weights.
    pub l2: f32,
    /// Seed of the shuffles (training is deterministic for a seed).
    pub seed: u64,
}

impl Default for SemanticOptions {
    fn default() -> Self {
        Self {
            epochs: 40,
            batch: 64,
            learning_rate: 0.05,
            l2: 1e-4,
            seed: 1,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SemanticError {
    #[error("no examples to train on")]
    Empty,
    #[error("{vectors} vectors but {labels} labels")]
    Mismatch { vectors: usize, labels: usize },
    #[error("vector {index} has {got} dimensions, the first has {want}")]
    Dimension {
        index: usize,
        got: usize,
        want: usize,
    },
    #[error("vector {0} holds a value that is not a finite number")]
    NotFinite(usize),
    #[error("at least two intents are needed, got {0}")]
    TooFewClasses(usize),
}

/// A softmax regression from embeddings to intents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SemanticClassifier {
    classes: Vec<String>,
    dim: usize,
    /// `classes.len() × dim`, row-major.
    weights: Vec<f32>,
    bias: Vec<f32>,
}

impl SemanticClassifier {
    /// Trains on `vectors[i]` labelled `labels[i]`.
    pub fn train(
        vectors: &[Vec<f32>],
        labels: &[&str],
        opts: &SemanticOptions,
    ) -> Result<Self, SemanticError> {
        if vectors.len() != labels.len() {
            return Err(SemanticError::Mismatch {
                vectors: vectors.len(),
                labels: labels.len(),
            });
        }
        let dim = vectors.first().ok_or(SemanticError::Empty)?.len();
        for (i, v) in vectors.iter().enumerate() {
            if v.len() != dim {
                return Err(SemanticError::Dimension {
                    index: i,
                    got: v.len(),
                    want: dim,
                });
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(SemanticError::NotFinite(i));
            }
        }
        let mut classes: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        classes.sort();
        classes.dedup();
        if classes.len() < 2 {
            return Err(SemanticError::TooFewClasses(classes.len()));
        }
        let y: Vec<usize> = labels
            .iter()
            .map(|l| classes.binary_search_by(|c| c.as_str().cmp(l)).unwrap_or(0))
            .collect();
        let k = classes.len();
        let mut model = SemanticClassifier {
            classes,
            dim,
            weights: vec![0.0; k * dim],
            bias: vec![0.0; k],
        };
        model.fit(vectors, &y, opts);
        Ok(model)
    }

    fn fit(&mut self, x: &[Vec<f32>], y: &[usize], opts: &SemanticOptions) {
        let (k, d) = (self.classes.len(), self.dim);
        let mut adam_w = Adam::new(k * d);
        let mut adam_b = Adam::new(k);
        let mut order: Vec<usize> = (0..x.len()).collect();
        let mut seed = opts.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let batch = opts.batch.max(1);
        let mut gw = vec![0.0f32; k * d];
        let mut gb = vec![0.0f32; k];
        let mut p = vec![0.0f32; k];
        for _ in 0..opts.epochs {
            shuffle(&mut order, &mut seed);
            for chunk in order.chunks(batch) {
                gw.iter_mut().for_each(|g| *g = 0.0);
                gb.iter_mut().for_each(|g| *g = 0.0);
                for &i in chunk {
                    self.logits_into(&x[i], &mut p);
                    softmax_in_place(&mut p);
                    p[y[i]] -= 1.0;
                    for (c, &err) in p.iter().enumerate() {
                        if err == 0.0 {
                            continue;
                        }
                        gb[c] += err;
                        let row = &mut gw[c * d..(c + 1) * d];
                        for (g, &xv) in row.iter_mut().zip(&x[i]) {
                            *g += err * xv;
                        }
                    }
                }
                let n = chunk.len() as f32;
                for (g, w) in gw.iter_mut().zip(&self.weights) {
                    *g = *g / n + opts.l2 * w;
                }
                gb.iter_mut().for_each(|g| *g /= n);
                adam_w.step(&mut self.weights, &gw, opts.learning_rate);
                adam_b.step(&mut self.bias, &gb, opts.learning_rate);
            }
        }
    }

    fn logits_into(&self, v: &[f32], out: &mut [f32]) {
        let d = self.dim;
        for (c, o) in out.iter_mut().enumerate() {
            let row = &self.weights[c * d..(c + 1) * d];
            *o = self.bias[c] + row.iter().zip(v).map(|(w, x)| w * x).sum::<f32>();
        }
    }

    /// The intents it knows, sorted.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The dimension of the vectors it takes.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// One probability per class (in [`Self::classes`] order); `None` when
    /// the vector's dimension is wrong or it holds a non-finite value.
    pub fn probabilities(&self, v: &[f32]) -> Option<Vec<f32>> {
        if v.len() != self.dim || v.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let mut p = vec![0.0; self.classes.len()];
        self.logits_into(v, &mut p);
        softmax_in_place(&mut p);
        Some(p)
    }

    /// The intents best first, with probabilities.
    pub fn rank(&self, v: &[f32]) -> Option<Vec<IntentScore>> {
        let p = self.probabilities(v)?;
        let mut out: Vec<IntentScore> = self
            .classes
            .iter()
            .zip(p)
            .map(|(name, confidence)| IntentScore {
                name: name.clone(),
                confidence,
            })
            .collect();
        sort_best_first(&mut out);
        Some(out)
    }
}

/// Mixes two rankings intent by intent: `(1 − weight) · lexical + weight ·
/// semantic` (an intent missing from one counts 0 there), best first. The
/// rankings should be whole distributions (every intent).
pub fn blend(lexical: &[IntentScore], semantic: &[IntentScore], weight: f32) -> Vec<IntentScore> {
    let w = weight.clamp(0.0, 1.0);
    let mut out: Vec<IntentScore> = lexical
        .iter()
        .map(|s| IntentScore {
            name: s.name.clone(),
            confidence: (1.0 - w) * s.confidence,
        })
        .collect();
    for s in semantic {
        match out.iter_mut().find(|o| o.name == s.name) {
            Some(o) => o.confidence += w * s.confidence,
            None => out.push(IntentScore {
                name: s.name.clone(),
                confidence: w * s.confidence,
            }),
        }
    }
    sort_best_first(&mut out);
    out
}

fn sort_best_first(v: &mut [IntentScore]) {
    v.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.name.cmp(&b.name))
    });
}

fn softmax_in_place(v: &mut [f32]) {
    let max = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    if sum > 0.0 {
        v.iter_mut().for_each(|x| *x /= sum);
    }
}

fn shuffle(v: &mut [usize], s: &mut u64) {
    for i in (1..v.len()).rev() {
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        let j = (s.wrapping_mul(0x2545_f491_4f6c_dd1d) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Adam {
    fn new(n: usize) -> Self {
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
        }
    }

    fn step(&mut self, params: &mut [f32], grad: &[f32], lr: f32) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        self.t = self.t.saturating_add(1);
        let c1 = 1.0 - B1.powi(self.t);
        let c2 = 1.0 - B2.powi(self.t);
        for ((p, g), (m, v)) in params
            .iter_mut()
            .zip(grad)
            .zip(self.m.iter_mut().zip(self.v.iter_mut()))
        {
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *p -= lr * (*m / c1) / ((*v / c2).sqrt() + 1e-8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    /// Three intents around three directions, with noise.
    fn data() -> (Vec<Vec<f32>>, Vec<&'static str>) {
        let mut s = 7u64;
        let mut noise = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 1000) as f32 / 1000.0 - 0.5
        };
        let mut x = Vec::new();
        let mut y = Vec::new();
        for (label, axis) in [("track", 0), ("refund", 1), ("cancel", 2)] {
            for _ in 0..40 {
                let mut v: Vec<f32> = (0..8).map(|_| 0.3 * noise()).collect();
                v[axis] += 1.0;
                x.push(unit(&v));
                y.push(label);
            }
        }
        (x, y)
    }

    #[test]
    fn learns_intents_from_directions() {
        let (x, y) = data();
        let m = SemanticClassifier::train(&x, &y, &SemanticOptions::default()).expect("trains");
        assert_eq!(m.classes(), ["cancel", "refund", "track"]);
        let mut probe = vec![0.0; 8];
        probe[1] = 1.0;
        let ranked = m.rank(&probe).expect("ranks");
        assert_eq!(ranked[0].name, "refund");
        assert!(ranked[0].confidence > 0.8, "{ranked:?}");
        let total: f32 = ranked.iter().map(|s| s.confidence).sum();
        assert!((total - 1.0).abs() < 1e-4);
        // Deterministic for a seed.
        let again = SemanticClassifier::train(&x, &y, &SemanticOptions::default()).expect("trains");
        assert_eq!(m, again);
    }

    #[test]
    fn refuses_what_it_cannot_train_on() {
        let opts = SemanticOptions::default();
        assert_eq!(
            SemanticClassifier::train(&[], &[], &opts),
            Err(SemanticError::Empty)
        );
        assert_eq!(
            SemanticClassifier::train(&[vec![1.0]], &["a", "b"], &opts),
            Err(SemanticError::Mismatch {
                vectors: 1,
                labels: 2
            })
        );
        assert_eq!(
            SemanticClassifier::train(&[vec![1.0, 0.0], vec![1.0]], &["a", "b"], &opts),
            Err(SemanticError::Dimension {
                index: 1,
                got: 1,
                want: 2
            })
        );
        assert_eq!(
            SemanticClassifier::train(&[vec![f32::NAN]], &["a"], &opts),
            Err(SemanticError::NotFinite(0))
        );
        assert_eq!(
            SemanticClassifier::train(&[vec![1.0], vec![0.5]], &["a", "a"], &opts),
            Err(SemanticError::TooFewClasses(1))
        );
        let (x, y) = data();
        let m = SemanticClassifier::train(&x, &y, &opts).expect("trains");
        assert_eq!(m.probabilities(&[1.0]), None, "wrong dimension");
        assert_eq!(m.probabilities(&[f32::INFINITY; 8]), None);
    }

    #[test]
    fn blend_mixes_intent_by_intent() {
        let s = |n: &str, c: f32| IntentScore {
            name: n.into(),
            confidence: c,
        };
        let lexical = [s("a", 0.6), s("b", 0.4)];
        let semantic = [s("b", 0.9), s("c", 0.1)];
        let mixed = blend(&lexical, &semantic, 0.5);
        assert_eq!(mixed, [s("b", 0.65), s("a", 0.3), s("c", 0.05)]);
        assert_eq!(blend(&lexical, &semantic, 0.0)[0], s("a", 0.6));
        assert_eq!(blend(&lexical, &semantic, 7.0)[0], s("b", 0.9));
    }
}
