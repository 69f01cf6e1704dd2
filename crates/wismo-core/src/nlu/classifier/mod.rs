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
    /// Which SVM formulation to train.
    pub solver: Solver,
    /// Passes over the data at most.
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
            solver: Solver::CrammerSinger,
            max_passes: 60,
            tolerance: 0.1,
            calibration_share: 0.15,
            features: FeatureConfig::default(),
            threads: 0,
            seed: 7,
        }
    }
}

/// The multi-class SVM formulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    /// One binary SVM per intent (parallel over intents).
    OneVsRest,
    /// One joint multi-class SVM (Crammer & Singer 2001), solved by the
    /// sequential dual method of Keerthi et al. (KDD 2008). Slightly more
    /// accurate on many-intent data.
    CrammerSinger,
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
    /// Feature-major, quantised to 8 bits: the `classes.len()` weights of
    /// feature `f` start at `f * k` and are scaled by `scales[f]`. A quarter of
    /// the memory of `f32`, so the model loads faster and stays in cache.
    weights: Vec<i8>,
    scales: Vec<f32>,
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

        progress(TrainProgress::Featurizing {
            examples: texts.len(),
        });
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
        let n = xs.len();
        let problem = Problem {
            xs: &xs,
            labels: &labels,
            qd: xs
                .iter()
                .map(|x| {
                    x.iter()
                        .map(|&(_, v)| f64::from(v) * f64::from(v))
                        .sum::<f64>()
                        + 1.0
                        + 0.5 / f64::from(opts.c)
                })
                .collect(),
            opts,
        };
        let mut svm: Box<dyn DualSvm> = match opts.solver {
            Solver::CrammerSinger => Box::new(CsState::new(dim, k, n)),
            Solver::OneVsRest => Box::new(OvrState::new(dim, k, n)),
        };

        // Calibration: train on most of the data, fit the temperature on the rest,
        // then continue from that solution with every example (a warm start, so
        // the second phase costs a fraction of the first).
        let mut temperature = 1.0;
        let mut all: Vec<usize> = (0..n).collect();
        if opts.calibration_share > 0.0 && n >= 20 {
            progress(TrainProgress::Calibrating);
            Rng(opts.seed | 1).shuffle(&mut all);
            let held = ((n as f32 * opts.calibration_share) as usize).clamp(1, n - 1);
            let (cal, fit) = all.split_at(held);
            svm.solve(&problem, fit, &mut |_, _| {});
            let margins: Vec<(Vec<f32>, usize)> = cal
                .iter()
                .map(|&i| (svm.margins(&xs[i]), labels[i]))
                .collect();
            temperature = fit_temperature(&margins);
            all.sort_unstable();
        }
        svm.solve(&problem, &all, &mut |done, total| {
            progress(TrainProgress::Class { done, total })
        });
        let (weights, bias) = svm.into_weights();
        let (weights, scales) = quantize(&weights, k);
        progress(TrainProgress::Done {
            seconds: start.elapsed().as_secs_f64(),
        });
        Ok(Self {
            featurizer,
            classes,
            weights,
            scales,
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
            let f = f as usize;
            let scale = v * self.scales[f];
            let row = &self.weights[f * k..(f + 1) * k];
            for (s, &w) in scores.iter_mut().zip(row) {
                *s += scale * f32::from(w);
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
    pub fn rank(
        &self,
        text: &str,
        limit: usize,
        scratch: &mut Scratch,
        x: &mut Sparse,
    ) -> Vec<IntentScore> {
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

    /// The serialisable tables, plus the quantised weights and their per-feature scales.
    pub fn to_parts(&self) -> (ClassifierData, &[i8], &[f32]) {
        (
            ClassifierData {
                featurizer: self.featurizer.to_data(),
                classes: self.classes.clone(),
                bias: self.bias.clone(),
                temperature: self.temperature,
            },
            &self.weights,
            &self.scales,
        )
    }

    pub fn from_parts(
        data: ClassifierData,
        weights: Vec<i8>,
        scales: Vec<f32>,
    ) -> Result<Self, String> {
        let featurizer = Featurizer::from_data(data.featurizer)?;
        let k = data.classes.len();
        let dim = featurizer.dim();
        if data.bias.len() != k || weights.len() != dim * k || scales.len() != dim {
            return Err(format!(
                "weight table has {} values and {} scales, expected {} features x {} intents",
                weights.len(),
                scales.len(),
                dim,
                k
            ));
        }
        if !(data.temperature.is_finite() && data.temperature > 0.0) {
            return Err(format!("invalid temperature {}", data.temperature));
        }
        if scales.iter().chain(&data.bias).any(|v| !v.is_finite()) {
            return Err("weights contain non-finite values".into());
        }
        Ok(Self {
            featurizer,
            classes: data.classes,
            weights,
            scales,
            bias: data.bias,
            temperature: data.temperature,
        })
    }
}

/// Quantises feature-major weights to `i8`, one scale per feature row.
fn quantize(w: &[f32], k: usize) -> (Vec<i8>, Vec<f32>) {
    let rows = w.len() / k.max(1);
    let mut q = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(rows);
    for row in w.chunks_exact(k.max(1)) {
        let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 0.0 };
        scales.push(scale);
        for v in row {
            let x = if scale > 0.0 {
                (v / scale).round()
            } else {
                0.0
            };
            q.push(x.clamp(-127.0, 127.0) as i8);
        }
    }
    (q, scales)
}

/// The dual state of one one-vs-rest SVM.
struct BinaryState {
    w: Vec<f64>,
    b: f64,
    alpha: Vec<f64>,
}

impl BinaryState {
    fn margin(&self, x: &Sparse) -> f64 {
        x.iter()
            .map(|&(f, v)| self.w[f as usize] * f64::from(v))
            .sum::<f64>()
            + self.b
    }
}

/// The training set of the one-vs-rest SVMs.
struct Problem<'a> {
    xs: &'a [Sparse],
    labels: &'a [usize],
    /// Diagonal of the dual Hessian per example: |x|^2 + 1 (bias) + 1/(2C).
    qd: Vec<f64>,
    opts: &'a TrainOptions,
}

/// A multi-class SVM in training. `solve` can be called again with more
/// examples and continues from where it stopped (a warm start).
trait DualSvm {
    fn solve(&mut self, p: &Problem, active: &[usize], progress: &mut dyn FnMut(usize, usize));
    fn margins(&self, x: &Sparse) -> Vec<f32>;
    /// Feature-major weights (`dim * k`) and the per-class biases.
    fn into_weights(self: Box<Self>) -> (Vec<f32>, Vec<f32>);
}

/// One binary SVM per class, trained in parallel.
struct OvrState {
    classes: Vec<std::sync::Mutex<BinaryState>>,
    dim: usize,
}

impl OvrState {
    fn new(dim: usize, k: usize, n: usize) -> Self {
        let classes = (0..k)
            .map(|_| {
                std::sync::Mutex::new(BinaryState {
                    w: vec![0.0; dim],
                    b: 0.0,
                    alpha: vec![0.0; n],
                })
            })
            .collect();
        Self { classes, dim }
    }
}

impl DualSvm for OvrState {
    fn solve(&mut self, p: &Problem, active: &[usize], done: &mut dyn FnMut(usize, usize)) {
        let states = &self.classes;
        let k = states.len();
        let threads = if p.opts.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            p.opts.threads
        }
        .clamp(1, k);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (tx, rx) = std::sync::mpsc::channel::<usize>();
        std::thread::scope(|s| {
            for _ in 0..threads {
                let tx = tx.clone();
                let next = &next;
                s.spawn(move || loop {
                    let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if c >= k {
                        break;
                    }
                    if let Ok(mut st) = states[c].lock() {
                        p.dcd(&mut st, c, active);
                    }
                    if tx.send(c).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            for (i, _) in rx.into_iter().enumerate() {
                done(i + 1, k);
            }
        });
    }

    fn margins(&self, x: &Sparse) -> Vec<f32> {
        self.classes
            .iter()
            .map(|st| st.lock().map_or(0.0, |st| st.margin(x) as f32))
            .collect()
    }

    fn into_weights(self: Box<Self>) -> (Vec<f32>, Vec<f32>) {
        let k = self.classes.len();
        let mut weights = vec![0f32; self.dim * k];
        let mut bias = vec![0f32; k];
        for (c, st) in self.classes.into_iter().enumerate() {
            let st = st
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (f, v) in st.w.iter().enumerate() {
                weights[f * k + c] = *v as f32;
            }
            bias[c] = st.b as f32;
        }
        (weights, bias)
    }
}

impl Problem<'_> {
    /// One class against the rest: L2-regularised L2-loss SVM by dual coordinate descent.
    fn dcd(&self, st: &mut BinaryState, class: usize, active: &[usize]) {
        let diag = 0.5 / f64::from(self.opts.c);
        let mut order = active.to_vec();
        let mut rng =
            Rng((self.opts.seed ^ (class as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
        for _ in 0..self.opts.max_passes {
            rng.shuffle(&mut order);
            let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
            for &i in &order {
                let x = &self.xs[i];
                let y = if self.labels[i] == class { 1.0 } else { -1.0 };
                let g = y * st.margin(x) - 1.0 + diag * st.alpha[i];
                let pg = if st.alpha[i] == 0.0 { g.min(0.0) } else { g };
                pg_max = pg_max.max(pg);
                pg_min = pg_min.min(pg);
                if pg.abs() > 1e-12 {
                    let old = st.alpha[i];
                    st.alpha[i] = (old - g / self.qd[i]).max(0.0);
                    let d = (st.alpha[i] - old) * y;
                    for &(f, v) in x {
                        st.w[f as usize] += d * f64::from(v);
                    }
                    st.b += d;
                }
            }
            if pg_max - pg_min < f64::from(self.opts.tolerance) {
                break;
            }
        }
    }
}

/// The dual state of the Crammer–Singer SVM: feature-major weights with the
/// bias as an extra last feature row, and one alpha per (example, class).
struct CsState {
    w: Vec<f32>,
    alpha: Vec<f32>,
    k: usize,
}

impl CsState {
    fn new(dim: usize, k: usize, n: usize) -> Self {
        Self {
            w: vec![0.0; (dim + 1) * k],
            alpha: vec![0.0; n * k],
            k,
        }
    }
}

impl DualSvm for CsState {
    fn into_weights(self: Box<Self>) -> (Vec<f32>, Vec<f32>) {
        let split = self.w.len() - self.k;
        let mut w = self.w;
        let bias = w.split_off(split);
        (w, bias)
    }

    fn margins(&self, x: &Sparse) -> Vec<f32> {
        let k = self.k;
        let bias_row = self.w.len() - k;
        let mut g = self.w[bias_row..].to_vec();
        for &(f, v) in x {
            let row = &self.w[f as usize * k..(f as usize + 1) * k];
            for (g, w) in g.iter_mut().zip(row) {
                *g += v * w;
            }
        }
        g
    }

    fn solve(&mut self, p: &Problem, active: &[usize], progress: &mut dyn FnMut(usize, usize)) {
        let k = self.k;
        let c = p.opts.c;
        let bias_row = self.w.len() - k;
        let mut order = active.to_vec();
        let mut rng = Rng(p.opts.seed | 1);
        let mut b = vec![0f32; k];
        let mut d = vec![0f32; k];
        let passes = p.opts.max_passes.max(1);
        for pass in 0..passes {
            rng.shuffle(&mut order);
            let mut max_violation = 0f32;
            for &i in &order {
                let x = &p.xs[i];
                let y = p.labels[i];
                // Squared norm including the constant bias feature.
                let a = (p.qd[i] - 0.5 / f64::from(c)) as f32;
                let g = self.margins(x);
                let alpha = &mut self.alpha[i * k..(i + 1) * k];
                let bound = |m: usize| if m == y { c } else { 0.0 };
                let mut g_max = f32::NEG_INFINITY;
                let mut g_min = f32::INFINITY;
                for m in 0..k {
                    let gm = g[m] + if m == y { 0.0 } else { 1.0 };
                    b[m] = gm - a * alpha[m];
                    g_max = g_max.max(gm);
                    if alpha[m] < bound(m) {
                        g_min = g_min.min(gm);
                    }
                }
                let violation = g_max - g_min;
                if violation <= 1e-6 {
                    continue;
                }
                max_violation = max_violation.max(violation);
                // Solve the sub-problem for this example's alphas.
                d.copy_from_slice(&b);
                d[y] += a * c;
                d.sort_unstable_by(|u, v| v.total_cmp(u));
                let mut beta = d[0] - a * c;
                let mut r = 1;
                while r < k && beta < r as f32 * d[r] {
                    beta += d[r];
                    r += 1;
                }
                beta /= r as f32;
                for m in 0..k {
                    let new = ((beta - b[m]) / a).min(bound(m));
                    let delta = new - alpha[m];
                    if delta.abs() > 1e-9 {
                        alpha[m] = new;
                        for &(f, v) in x {
                            self.w[f as usize * k + m] += delta * v;
                        }
                        self.w[bias_row + m] += delta;
                    }
                }
            }
            progress(((pass + 1) * k / passes).min(k), k);
            if max_violation < p.opts.tolerance {
                break;
            }
        }
        progress(k, k);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &[(&str, &str)] = &[
        ("where is my order", "track"),
        ("track my package please", "track"),
        ("has my parcel shipped yet", "track"),
        ("wheres my stuff", "track"),
        ("order status please", "track"),
        ("is my delivery on the way", "track"),
        ("i want a refund", "refund"),
        ("give me my money back", "refund"),
        ("refund my purchase", "refund"),
        ("when do i get my refund", "refund"),
        ("money back please", "refund"),
        ("i need a refund for this", "refund"),
        ("hello there", "greet"),
        ("hi", "greet"),
        ("good morning", "greet"),
        ("hey how are you", "greet"),
        ("hiya", "greet"),
        ("hello hello", "greet"),
        ("howdy", "greet"),
        ("hey there friend", "greet"),
    ];

    fn top(m: &IntentClassifier, text: &str) -> String {
        let mut s = Scratch::default();
        let mut x = Sparse::new();
        m.rank(text, 1, &mut s, &mut x)[0].name.clone()
    }

    #[test]
    fn both_solvers_learn_a_small_problem() {
        for solver in [Solver::CrammerSinger, Solver::OneVsRest] {
            let opts = TrainOptions {
                solver,
                ..TrainOptions::default()
            };
            let m = IntentClassifier::train(DATA, &opts, &mut |_| {}).expect("trains");
            assert_eq!(m.classes(), ["track", "refund", "greet"]);
            for (text, intent) in DATA {
                assert_eq!(top(&m, text), *intent, "{solver:?} on {text:?}");
            }
            assert_eq!(top(&m, "wher is my pakage"), "track", "{solver:?}");
            assert_eq!(top(&m, "refund pls"), "refund", "{solver:?}");
            assert!(m.temperature() > 0.0 && m.temperature().is_finite());
        }
    }

    #[test]
    fn progress_reports_every_stage() {
        let mut seen = Vec::new();
        IntentClassifier::train(DATA, &TrainOptions::default(), &mut |p| {
            seen.push(format!("{p:?}"))
        })
        .expect("trains");
        assert!(seen.iter().any(|s| s.starts_with("Calibrating")));
        assert!(seen.iter().any(|s| s.starts_with("Featurizing")));
        assert!(seen
            .iter()
            .any(|s| s.starts_with("Class { done: 3, total: 3 }")));
        assert!(seen.last().is_some_and(|s| s.starts_with("Done")));
    }

    #[test]
    fn quantisation_keeps_each_weight_within_half_a_step() {
        let w = [0.5f32, -1.0, 0.25, 0.0, 0.0, 0.0, 3.0, -0.001, 0.7];
        let (q, scales) = quantize(&w, 3);
        assert_eq!(scales.len(), 3);
        assert_eq!(scales[1], 0.0);
        for (i, &v) in w.iter().enumerate() {
            let back = f32::from(q[i]) * scales[i / 3];
            assert!(
                (back - v).abs() <= scales[i / 3] / 2.0 + 1e-6,
                "{v} -> {back}"
            );
        }
    }

    #[test]
    fn temperature_softens_overconfident_margins() {
        // The right class wins only 60% of the time, with a clear margin: the
        // fitted temperature must spread the probability out (T well above 1).
        let margins: Vec<(Vec<f32>, usize)> = (0..100)
            .map(|i| (vec![1.0, 0.0], if i < 60 { 0 } else { 1 }))
            .collect();
        let t = fit_temperature(&margins);
        let p = softmax(&margins[0].0, t);
        assert!((p[0] - 0.6).abs() < 0.02, "p = {p:?} at T = {t}");
    }
}
