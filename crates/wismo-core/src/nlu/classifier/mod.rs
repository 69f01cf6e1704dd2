//! The intent classifier: TF-IDF features (see [`features`]) and a linear
//! one-vs-rest L2-loss SVM trained by dual coordinate descent (the method of
//! Hsieh et al., ICML 2008), with a temperature-scaled softmax over the SVM
//! margins so that confidences are calibrated.
//!
//! Training: the temperature is fitted by minimising the negative
//! log-likelihood on a held-out share of the training data (a model trained on
//! the rest), then the final model is trained on everything.

pub mod features;
pub mod spelling;

use features::{FeatureConfig, Featurizer, FeaturizerData, Scratch, Sparse};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// SVM regularisation: larger fits the training data more closely.
    pub c: f32,
    /// Passes over the data at most, per class.
    pub max_passes: usize,
    /// Stop when the projected-gradient spread falls below this.
    pub tolerance: f32,
    /// Share of the data held out to fit the confidence temperature (0 = skip, T = 1).
    pub calibration_share: f32,
    pub features: FeatureConfig,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            c: 0.5,
            max_passes: 60,
            tolerance: 0.1,
            calibration_share: 0.15,
            features: FeatureConfig::default(),
            threads: 0,
            seed: 7,
        }
    }
}

/// What training reports as it goes.
#[derive(Debug, Clone)]
pub enum TrainProgress {
    Featurizing { examples: usize },
    Calibrating,
    Class { done: usize, total: usize },
    Done { seconds: f64 },
}

/// A trained classifier.
#[derive(Debug, Clone)]
pub struct IntentClassifier {
    featurizer: Featurizer,
    classes: Vec<String>,
    /// Feature-major: the `classes.len()` weights of feature `f` start at `f * k`.
    weights: Vec<f32>,
    bias: Vec<f32>,
    temperature: f32,
}

/// The serialisable form of an [`IntentClassifier`] (weights stored apart).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifierData {
    pub featurizer: FeaturizerData,
    pub classes: Vec<String>,
    pub bias: Vec<f32>,
    pub temperature: f32,
}

/// One intent with its probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentScore {
    pub name: String,
    pub confidence: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("no training examples")]
    NoExamples,
    #[error("at least two intents are needed to train a classifier, found {0}")]
    TooFewIntents(usize),
}

/// A tiny deterministic PRNG (xorshift64*), for shuffling.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

impl IntentClassifier {
    /// Trains on `(text, intent)` pairs.
    pub fn train(
        examples: &[(&str, &str)],
        opts: &TrainOptions,
        progress: &mut dyn FnMut(TrainProgress),
    ) -> Result<Self, TrainError> {
        let start = std::time::Instant::now();
        if examples.is_empty() {
            return Err(TrainError::NoExamples);
        }
        let mut classes: Vec<String> = Vec::new();
        let mut class_of: HashMap<&str, usize> = HashMap::new();
        for (_, intent) in examples {
            if !class_of.contains_key(intent) {
                class_of.insert(intent, classes.len());
                classes.push((*intent).to_string());
            }
        }
        if classes.len() < 2 {
            return Err(TrainError::TooFewIntents(classes.len()));
        }
        let labels: Vec<usize> = examples.iter().map(|(_, i)| class_of[i]).collect();
        let texts: Vec<&str> = examples.iter().map(|(t, _)| *t).collect();

        let mut temperature = 1.0;
        if opts.calibration_share > 0.0 && examples.len() >= 20 {
            progress(TrainProgress::Calibrating);
            let mut order: Vec<usize> = (0..examples.len()).collect();
            Rng(opts.seed | 1).shuffle(&mut order);
            let held = ((examples.len() as f32 * opts.calibration_share) as usize).max(1);
            let (cal, fit) = order.split_at(held);
            let fit_ex: Vec<(&str, &str)> = fit.iter().map(|&i| examples[i]).collect();
            let mut inner = opts.clone();
            inner.calibration_share = 0.0;
            let model = Self::train(&fit_ex, &inner, &mut |_| {})?;
            let mut scratch = Scratch::default();
            let mut x = Sparse::new();
            let mut margins = Vec::with_capacity(cal.len());
            for &i in cal {
                let scores = model.margins(texts[i], &mut scratch, &mut x);
                // Classes the inner model never saw cannot be scored; skip them.
                if let Some(pos) = model.classes.iter().position(|c| *c == classes[labels[i]]) {
                    margins.push((scores, pos));
                }
            }
            temperature = fit_temperature(&margins);
        }

        progress(TrainProgress::Featurizing { examples: texts.len() });
        let featurizer = Featurizer::fit(opts.features.clone(), &texts);
        let mut scratch = Scratch::default();
        let xs: Vec<Sparse> = texts
            .iter()
            .map(|t| {
                let mut x = Sparse::new();
                featurizer.transform(t, &mut scratch, &mut x);
                x
            })
            .collect();
        let dim = featurizer.dim();
        let k = classes.len();
        let threads = if opts.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            opts.threads
        }
        .clamp(1, k);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<f32>, f32)>();
        let mut weights = vec![0f32; dim * k];
        let mut bias = vec![0f32; k];
        std::thread::scope(|s| {
            for _ in 0..threads {
                let tx = tx.clone();
                let (xs, labels, next) = (&xs, &labels, &next);
                s.spawn(move || loop {
                    let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if c >= k {
                        break;
                    }
                    let (w, b) = train_binary(xs, labels, c, dim, opts);
                    if tx.send((c, w, b)).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            for (c, w, b) in rx {
                for (f, v) in w.into_iter().enumerate() {
                    weights[f * k + c] = v;
                }
                bias[c] = b;
                let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress(TrainProgress::Class { done: d, total: k });
            }
        });
        progress(TrainProgress::Done {
            seconds: start.elapsed().as_secs_f64(),
        });
        Ok(Self {
            featurizer,
            classes,
            weights,
            bias,
            temperature,
        })
    }

    /// The intents this classifier knows, in its internal order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// Raw SVM margins per class.
    pub fn margins(&self, text: &str, scratch: &mut Scratch, x: &mut Sparse) -> Vec<f32> {
        self.featurizer.transform(text, scratch, x);
        let k = self.classes.len();
        let mut scores = self.bias.clone();
        for &(f, v) in x.iter() {
            let row = &self.weights[f as usize * k..(f as usize + 1) * k];
            for (s, w) in scores.iter_mut().zip(row) {
                *s += v * w;
            }
        }
        scores
    }

    /// Calibrated probabilities per class, in [`Self::classes`] order.
    pub fn probabilities(&self, text: &str, scratch: &mut Scratch, x: &mut Sparse) -> Vec<f32> {
        let m = self.margins(text, scratch, x);
        softmax(&m, self.temperature)
    }

    /// The `limit` most likely intents, best first.
    pub fn rank(&self, text: &str, limit: usize, scratch: &mut Scratch, x: &mut Sparse) -> Vec<IntentScore> {
        let p = self.probabilities(text, scratch, x);
        let mut idx: Vec<usize> = (0..p.len()).collect();
        idx.sort_unstable_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
        idx.into_iter()
            .take(limit)
            .map(|i| IntentScore {
                name: self.classes[i].clone(),
                confidence: p[i],
            })
            .collect()
    }

    pub fn to_parts(&self) -> (ClassifierData, &[f32]) {
        (
            ClassifierData {
                featurizer: self.featurizer.to_data(),
                classes: self.classes.clone(),
                bias: self.bias.clone(),
                temperature: self.temperature,
            },
            &self.weights,
        )
    }

    pub fn from_parts(data: ClassifierData, weights: Vec<f32>) -> Result<Self, String> {
        let featurizer = Featurizer::from_data(data.featurizer)?;
        let k = data.classes.len();
        if data.bias.len() != k || weights.len() != featurizer.dim() * k {
            return Err(format!(
                "weight table has {} values, expected {} features x {} intents",
                weights.len(),
                featurizer.dim(),
                k
            ));
        }
        if !(data.temperature.is_finite() && data.temperature > 0.0) {
            return Err(format!("invalid temperature {}", data.temperature));
        }
        Ok(Self {
            featurizer,
            classes: data.classes,
            weights,
            bias: data.bias,
            temperature: data.temperature,
        })
    }
}

/// One class against the rest: L2-regularised L2-loss SVM, dual coordinate descent.
fn train_binary(xs: &[Sparse], labels: &[usize], class: usize, dim: usize, opts: &TrainOptions) -> (Vec<f32>, f32) {
    let n = xs.len();
    let c = f64::from(opts.c);
    let diag = 0.5 / c;
    let mut w = vec![0f64; dim];
    let mut b = 0f64;
    let mut alpha = vec![0f64; n];
    let y: Vec<f64> = labels.iter().map(|&l| if l == class { 1.0 } else { -1.0 }).collect();
    let qd: Vec<f64> = xs
        .iter()
        .map(|x| x.iter().map(|&(_, v)| f64::from(v) * f64::from(v)).sum::<f64>() + 1.0 + diag)
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng((opts.seed ^ (class as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
    for _ in 0..opts.max_passes {
        rng.shuffle(&mut order);
        let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
        for &i in &order {
            let x = &xs[i];
            let dot: f64 = x.iter().map(|&(f, v)| w[f as usize] * f64::from(v)).sum::<f64>() + b;
            let g = y[i] * dot - 1.0 + diag * alpha[i];
            let pg = if alpha[i] == 0.0 { g.min(0.0) } else { g };
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (old - g / qd[i]).max(0.0);
                let d = (alpha[i] - old) * y[i];
                for &(f, v) in x {
                    w[f as usize] += d * f64::from(v);
                }
                b += d;
            }
        }
        if pg_max - pg_min < f64::from(opts.tolerance) {
            break;
        }
    }
    (w.into_iter().map(|v| v as f32).collect(), b as f32)
}

fn softmax(m: &[f32], t: f32) -> Vec<f32> {
    let max = m.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut p: Vec<f32> = m.iter().map(|&v| ((v - max) / t).exp()).collect();
    let sum: f32 = p.iter().sum();
    if sum > 0.0 {
        for v in &mut p {
            *v /= sum;
        }
    }
    p
}

/// The temperature minimising the negative log-likelihood of the true classes
/// (golden-section search over log T).
fn fit_temperature(margins: &[(Vec<f32>, usize)]) -> f32 {
    if margins.is_empty() {
        return 1.0;
    }
    let nll = |log_t: f64| -> f64 {
        let t = log_t.exp() as f32;
        margins
            .iter()
            .map(|(m, y)| -f64::from(softmax(m, t)[*y].max(1e-12)).ln())
            .sum()
    };
    let (mut a, mut b) = ((0.005f64).ln(), (5.0f64).ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (nll(c), nll(d));
    for _ in 0..40 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = nll(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = nll(d);
        }
    }
    (((a + b) / 2.0).exp()) as f32
}
