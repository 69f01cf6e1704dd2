//! Intent-classification metrics: accuracy, macro-F1, per-intent scores,
//! confusions, out-of-scope detection and per-message latency.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Precision, recall and F1 of one intent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentMetrics {
    pub intent: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Test examples whose true intent is this one.
    pub support: usize,
}

/// How often one intent was taken for another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    pub expected: String,
    pub predicted: String,
    pub count: usize,
}

/// Out-of-scope detection quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OosMetrics {
    pub label: String,
    /// Share of truly out-of-scope messages flagged as such.
    pub recall: f64,
    /// Share of flagged messages that truly are out of scope.
    pub precision: f64,
    /// Accuracy on the in-scope messages (a message wrongly flagged counts as wrong).
    pub in_scope_accuracy: f64,
    pub threshold: f32,
}

/// Latency of classifying one message (whole pipeline), in microseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub median_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
}

/// How well confidences match reality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Mean confidence of the top intent.
    pub mean_confidence: f64,
    /// Expected calibration error over ten equal-width confidence bins: the
    /// example-weighted mean gap between confidence and accuracy (0 is perfect).
    pub expected_calibration_error: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub train_examples: usize,
    pub test_examples: usize,
    pub intents: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_intent: Vec<IntentMetrics>,
    pub top_confusions: Vec<Confusion>,
    pub out_of_scope: Option<OosMetrics>,
    pub calibration: Calibration,
    pub training_seconds: f64,
    pub latency: Latency,
}

/// Calibration of `(top confidence, top intent correct)` pairs.
pub fn calibration(pairs: &[(f32, bool)]) -> Calibration {
    if pairs.is_empty() {
        return Calibration {
            mean_confidence: 0.0,
            expected_calibration_error: 0.0,
        };
    }
    let mut bins = [(0usize, 0f64, 0usize); 10]; // (count, sum of confidence, correct)
    for &(c, ok) in pairs {
        let c = f64::from(c.clamp(0.0, 1.0));
        let b = ((c * 10.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += c;
        bins[b].2 += usize::from(ok);
    }
    let n = pairs.len() as f64;
    let ece = bins
        .iter()
        .filter(|b| b.0 > 0)
        .map(|&(count, conf, ok)| {
            (count as f64 / n) * (conf / count as f64 - ok as f64 / count as f64).abs()
        })
        .sum();
    Calibration {
        mean_confidence: pairs.iter().map(|p| f64::from(p.0)).sum::<f64>() / n,
        expected_calibration_error: ece,
    }
}

/// Accuracy, macro-F1 (over the intents present in gold or predictions),
/// per-intent metrics sorted by name, and the `top` most frequent confusions.
pub fn score(
    gold: &[&str],
    predicted: &[&str],
    top: usize,
) -> (f64, f64, Vec<IntentMetrics>, Vec<Confusion>) {
    let n = gold.len().min(predicted.len());
    let mut correct = 0usize;
    let mut tp: BTreeMap<&str, usize> = BTreeMap::new();
    let mut fp: BTreeMap<&str, usize> = BTreeMap::new();
    let mut support: BTreeMap<&str, usize> = BTreeMap::new();
    let mut confusions: HashMap<(&str, &str), usize> = HashMap::new();
    for i in 0..n {
        let (g, p) = (gold[i], predicted[i]);
        *support.entry(g).or_default() += 1;
        tp.entry(g).or_default();
        fp.entry(p).or_default();
        if g == p {
            correct += 1;
            *tp.entry(g).or_default() += 1;
        } else {
            *fp.entry(p).or_default() += 1;
            *confusions.entry((g, p)).or_default() += 1;
        }
    }
    let mut labels: Vec<&str> = support.keys().chain(fp.keys()).copied().collect();
    labels.sort_unstable();
    labels.dedup();
    let per_intent: Vec<IntentMetrics> = labels
        .iter()
        .map(|&l| {
            let t = tp.get(l).copied().unwrap_or(0) as f64;
            let f = fp.get(l).copied().unwrap_or(0) as f64;
            let s = support.get(l).copied().unwrap_or(0);
            let precision = if t + f > 0.0 { t / (t + f) } else { 0.0 };
            let recall = if s > 0 { t / s as f64 } else { 0.0 };
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            IntentMetrics {
                intent: l.to_string(),
                precision,
                recall,
                f1,
                support: s,
            }
        })
        .collect();
    let macro_f1 = if per_intent.is_empty() {
        0.0
    } else {
        per_intent.iter().map(|m| m.f1).sum::<f64>() / per_intent.len() as f64
    };
    let mut conf: Vec<Confusion> = confusions
        .into_iter()
        .map(|((g, p), count)| Confusion {
            expected: g.to_string(),
            predicted: p.to_string(),
            count,
        })
        .collect();
    conf.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.expected.cmp(&b.expected))
            .then(a.predicted.cmp(&b.predicted))
    });
    conf.truncate(top);
    let accuracy = if n > 0 {
        correct as f64 / n as f64
    } else {
        0.0
    };
    (accuracy, macro_f1, per_intent, conf)
}

/// Out-of-scope metrics for a decision list. `flagged[i]` says whether message
/// `i` was flagged out of scope, `gold_oos[i]` whether it truly is, and
/// `correct_in_scope[i]` whether an in-scope message got its right intent.
pub fn oos_metrics(
    label: &str,
    threshold: f32,
    flagged: &[bool],
    gold_oos: &[bool],
    correct_in_scope: &[bool],
) -> OosMetrics {
    let mut tp = 0usize;
    let mut fp = 0usize;
    let mut oos = 0usize;
    let mut ins = 0usize;
    let mut ins_ok = 0usize;
    for i in 0..flagged
        .len()
        .min(gold_oos.len())
        .min(correct_in_scope.len())
    {
        if gold_oos[i] {
            oos += 1;
            if flagged[i] {
                tp += 1;
            }
        } else {
            ins += 1;
            if flagged[i] {
                fp += 1;
            } else if correct_in_scope[i] {
                ins_ok += 1;
            }
        }
    }
    let ratio = |a: usize, b: usize| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    OosMetrics {
        label: label.to_string(),
        recall: ratio(tp, oos),
        precision: ratio(tp, tp + fp),
        in_scope_accuracy: ratio(ins_ok, ins),
        threshold,
    }
}

/// Median, 99th percentile and mean of durations in microseconds.
pub fn latency(mut us: Vec<f64>) -> Latency {
    if us.is_empty() {
        return Latency {
            median_us: 0.0,
            p99_us: 0.0,
            mean_us: 0.0,
        };
    }
    us.sort_by(f64::total_cmp);
    let pick = |q: f64| us[(((us.len() - 1) as f64) * q).round() as usize];
    Latency {
        median_us: pick(0.5),
        p99_us: pick(0.99),
        mean_us: us.iter().sum::<f64>() / us.len() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_a_small_confusion() {
        let gold = ["a", "a", "b", "b", "c"];
        let pred = ["a", "b", "b", "b", "a"];
        let (acc, macro_f1, per, conf) = score(&gold, &pred, 5);
        assert!((acc - 0.6).abs() < 1e-9);
        let a = &per[0];
        assert_eq!((a.intent.as_str(), a.support), ("a", 2));
        assert!((a.precision - 0.5).abs() < 1e-9 && (a.recall - 0.5).abs() < 1e-9);
        let b = &per[1];
        assert!((b.precision - 2.0 / 3.0).abs() < 1e-9 && (b.recall - 1.0).abs() < 1e-9);
        assert_eq!(per[2].f1, 0.0);
        let expected_macro = (0.5 + 0.8 + 0.0) / 3.0;
        assert!((macro_f1 - expected_macro).abs() < 1e-9);
        assert_eq!(conf.len(), 2);
        assert_eq!(conf[0].count, 1);
    }

    #[test]
    fn oos_metrics_count_both_directions() {
        let m = oos_metrics(
            "oos",
            0.5,
            &[true, true, false, false],
            &[true, false, true, false],
            &[false, true, false, true],
        );
        assert_eq!(m.recall, 0.5);
        assert_eq!(m.precision, 0.5);
        assert_eq!(m.in_scope_accuracy, 0.5);
    }

    #[test]
    fn calibration_error_is_the_gap_between_confidence_and_accuracy() {
        // All at 0.9 confidence, 9 of 10 right: perfectly calibrated.
        let good: Vec<(f32, bool)> = (0..10).map(|i| (0.9, i < 9)).collect();
        assert!(calibration(&good).expected_calibration_error < 1e-6);
        // All at 0.95 confidence, half right: overconfident by 0.45.
        let bad: Vec<(f32, bool)> = (0..10).map(|i| (0.95, i < 5)).collect();
        let c = calibration(&bad);
        assert!((c.expected_calibration_error - 0.45).abs() < 1e-6);
        assert!((c.mean_confidence - 0.95).abs() < 1e-6);
    }

    #[test]
    fn latency_percentiles() {
        let l = latency((1..=100).map(f64::from).collect());
        assert_eq!(l.median_us, 51.0);
        assert_eq!(l.p99_us, 99.0);
        assert_eq!(latency(Vec::new()).median_us, 0.0);
    }
}
