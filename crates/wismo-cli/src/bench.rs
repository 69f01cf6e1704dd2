//! `wismo bench` and the evaluation driver behind `wismo nlu evaluate`.

use crate::nlu_cmd::{load_data, progress_printer, EvaluateArgs};
use anyhow::{Context, Result};
use chrono::{TimeZone, Utc};
use clap::Args;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;
use wismo_core::nlu::data::{self, Example, TrainingData};
use wismo_core::nlu::entities::{demo_catalogue, EntityConfig, ExtractionContext};
use wismo_core::nlu::evaluate::{calibration, latency, oos_metrics, score, Report};
use wismo_core::nlu::model::NluModel;
use wismo_core::nlu::{self as core_nlu, Nlu, NluTrainOptions};

const STORE_TEST_CSV: &str = include_str!("../../wismo-core/data/nlu-test/store_test.csv");

#[derive(Args)]
pub struct BenchArgs {
    /// Training files (default: the built-in store data).
    #[arg(long, num_args = 1..)]
    pub train: Vec<PathBuf>,
    /// Messages to time (CSV or YAML; default: the built-in store test set).
    #[arg(long)]
    pub test: Option<PathBuf>,
    /// Repetitions of the model-load measurement.
    #[arg(long, default_value_t = 20)]
    pub loads: usize,
    /// Times the shipped conversations this many times over (each round
    /// replays every conversation from its start); the median is over all.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub rounds: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn reference_context() -> ExtractionContext {
    ExtractionContext {
        now: Utc
            .with_ymd_and_hms(2026, 11, 24, 15, 0, 0)
            .single()
            .unwrap_or_else(Utc::now),
        tz: chrono_tz::America::New_York,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    latency(std::mem::take(&mut v)).median_us
}

pub fn run(a: &BenchArgs) -> Result<()> {
    let train = if a.train.is_empty() {
        core_nlu::default_training_data().context("the built-in training data does not parse")?
    } else {
        load_data(&a.train)?
    };
    let test = match &a.test {
        Some(p) => data::load_file(p)?,
        None => data::parse_csv(STORE_TEST_CSV, "<built-in>/store_test.csv")?,
    };
    let texts: Vec<&str> = test.examples.iter().map(|e| e.text.as_str()).collect();

    let t = Instant::now();
    let model = core_nlu::train(&train, &NluTrainOptions::default(), &mut progress_printer())?;
    let train_s = t.elapsed().as_secs_f64();

    let dir = std::env::temp_dir().join(format!("wismo-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("model.wnlu");
    model.save(&path)?;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut loads = Vec::new();
    for _ in 0..a.loads.max(1) {
        let t = Instant::now();
        let m = NluModel::load(&path)?;
        let nlu = Nlu::new(
            m,
            &EntityConfig {
                catalogue: demo_catalogue(),
                ..Default::default()
            },
        )?;
        loads.push(t.elapsed().as_secs_f64() * 1e3);
        drop(nlu);
    }
    let _ = std::fs::remove_dir_all(&dir);

    let nlu = Nlu::new(
        model,
        &EntityConfig {
            catalogue: demo_catalogue(),
            ..Default::default()
        },
    )?;
    let ctx = reference_context();
    // Warm up caches and lazily built tables.
    for t in texts.iter().take(50) {
        std::hint::black_box(nlu.parse(t, &ctx));
    }
    let time_each = |f: &dyn Fn(&str)| -> Vec<f64> {
        texts
            .iter()
            .map(|t| {
                let s = Instant::now();
                f(t);
                s.elapsed().as_secs_f64() * 1e6
            })
            .collect()
    };
    let parse = latency(time_each(&|t| {
        std::hint::black_box(nlu.parse(t, &ctx));
    }));
    let classify = latency(time_each(&|t| {
        std::hint::black_box(nlu.classify(t, core_nlu::RANKING_LEN));
    }));
    let entities = latency(time_each(&|t| {
        std::hint::black_box(nlu.entities(t, &ctx));
    }));
    // Sentiment is fast enough that one call is below the clock's resolution:
    // time batches of the whole set.
    let rounds = 200;
    let s = Instant::now();
    for _ in 0..rounds {
        for t in &texts {
            std::hint::black_box(wismo_core::nlu::sentiment::analyze(t));
        }
    }
    let sentiment_us = s.elapsed().as_secs_f64() * 1e6 / (rounds * texts.len()) as f64;

    // Dialogue: every turn of the shipped conversation tests, through the whole
    // engine (NLU, flow, store, rendering), one at a time.
    let mut turn_times = Vec::new();
    // The dialogue runs on the store-domain model, whatever --train says.
    let base_nlu = if a.train.is_empty() {
        nlu.clone()
    } else {
        let data = core_nlu::default_training_data()
            .context("the built-in training data does not parse")?;
        let model = core_nlu::train(&data, &NluTrainOptions::default(), &mut |_| {})?;
        Nlu::new(
            model,
            &EntityConfig {
                catalogue: demo_catalogue(),
                ..Default::default()
            },
        )?
    };
    let mut scripts = Vec::new();
    for (name, src) in wismo_core::dialogue::script::SHIPPED {
        let script = wismo_core::dialogue::script::parse(src, name)?;
        let now = script
            .now
            .unwrap_or_else(wismo_core::store::memory::demo_now);
        let engine = crate::chat::build_engine(None, None, "UTC", base_nlu.clone(), now)?;
        scripts.push((script, engine, now));
    }
    for _ in 0..a.rounds {
        for (script, engine, now) in &scripts {
            for c in &script.conversations {
                let mut conv = wismo_core::dialogue::Conversation {
                    id: c.name.clone(),
                    locale: c.locale.clone(),
                    ..Default::default()
                };
                for t in &c.turns {
                    let s = Instant::now();
                    std::hint::black_box(engine.turn(&mut conv, &t.user, *now));
                    turn_times.push(s.elapsed().as_secs_f64() * 1e6);
                }
            }
        }
    }
    let turn_count = turn_times.len() / a.rounds as usize;
    let turns = latency(turn_times);

    let out = serde_json::json!({
        "train_examples": train.examples.len(),
        "messages_timed": texts.len(),
        "training_seconds": train_s,
        "model_bytes": bytes,
        "model_load_ms_median": median(loads),
        "parse_us": parse,
        "classify_us": classify,
        "entities_us": entities,
        "sentiment_us_mean": sentiment_us,
        "dialogue_turn_us": turns,
        "dialogue_turns": turn_count,
        "dialogue_rounds": a.rounds,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
    });
    if a.json {
        crate::say(serde_json::to_string_pretty(&out)?);
    } else {
        crate::say(format!(
            "build                {}",
            out["build"].as_str().unwrap_or("")
        ));
        crate::say(format!(
            "training             {:.2} s on {} examples",
            train_s,
            train.examples.len()
        ));
        crate::say(format!(
            "model file           {:.1} MB, load median {:.2} ms",
            bytes as f64 / 1e6,
            out["model_load_ms_median"]
        ));
        crate::say(format!(
            "parse (whole)        median {:.1} µs  p99 {:.1} µs",
            parse.median_us, parse.p99_us
        ));
        crate::say(format!(
            "  intent only        median {:.1} µs  p99 {:.1} µs",
            classify.median_us, classify.p99_us
        ));
        crate::say(format!(
            "  entities only      median {:.1} µs  p99 {:.1} µs",
            entities.median_us, entities.p99_us
        ));
        crate::say(format!(
            "sentiment            mean {sentiment_us:.2} µs per message"
        ));
        crate::say(format!(
            "dialogue turn        median {:.1} µs  p99 {:.1} µs  ({} turns of the shipped conversations, demo store, {} rounds)",
            turns.median_us,
            turns.p99_us,
            out["dialogue_turns"],
            a.rounds
        ));
    }
    Ok(())
}

/// A small deterministic shuffle (xorshift64*).
fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for i in (1..v.len()).rev() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let j = (s.wrapping_mul(0x2545_f491_4f6c_dd1d) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

fn subset(examples: &[Example], keep: impl Fn(&Example) -> bool) -> TrainingData {
    TrainingData {
        examples: examples.iter().filter(|e| keep(e)).cloned().collect(),
        ..Default::default()
    }
}

/// Trains and scores as `wismo nlu evaluate` asks; also returns the model
/// it scored.
pub fn evaluate(
    train: &TrainingData,
    test: &TrainingData,
    a: &EvaluateArgs,
) -> Result<(Report, Nlu)> {
    let mut opts = NluTrainOptions::default();
    opts.classifier.c = a.c;
    opts.oos_label = a.oos_label.clone();
    let oos_name = a
        .oos_label
        .clone()
        .unwrap_or_else(|| core_nlu::DEFAULT_OOS_LABEL.to_string());

    // Held-out intents: chosen by seeded shuffle of the sorted intent names.
    let mut held: HashSet<String> = HashSet::new();
    if let Some(n) = a.holdout_intents {
        let mut intents = train.intents();
        intents.sort();
        anyhow::ensure!(
            n > 0 && n + 2 <= intents.len(),
            "--holdout-intents must leave at least two intents to train on ({} intents in the data)",
            intents.len()
        );
        shuffle(&mut intents, a.seed);
        held = intents.into_iter().take(n).collect();
    }

    let mut threshold = a.threshold.unwrap_or(core_nlu::DEFAULT_FALLBACK_THRESHOLD);
    let train_set = if held.is_empty() {
        train.clone()
    } else {
        let in_scope = subset(&train.examples, |e| !held.contains(&e.intent));
        if a.threshold.is_none() {
            // Tune the threshold on a validation split carved from train: 10% of the
            // in-scope examples plus the held-out intents' training examples.
            let mut idx: Vec<usize> = (0..in_scope.examples.len()).collect();
            shuffle(&mut idx, a.seed ^ 0x5eed);
            let n_val = in_scope.examples.len() / 10;
            let val_idx: HashSet<usize> = idx[..n_val].iter().copied().collect();
            let fit = TrainingData {
                examples: in_scope
                    .examples
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !val_idx.contains(i))
                    .map(|(_, e)| e.clone())
                    .collect(),
                ..Default::default()
            };
            let model = core_nlu::train(&fit, &opts, &mut |_| {})?;
            let nlu = Nlu::new(model, &EntityConfig::default())?;
            let mut scored: Vec<(f32, bool, bool)> = Vec::new(); // (top confidence, gold oos, top correct)
            for &i in &idx[..n_val] {
                let e = &in_scope.examples[i];
                let r = nlu.classify(&e.text, 1);
                let top = r
                    .first()
                    .map_or((0.0, false), |s| (s.confidence, s.name == e.intent));
                scored.push((top.0, false, top.1));
            }
            for e in train.examples.iter().filter(|e| held.contains(&e.intent)) {
                let r = nlu.classify(&e.text, 1);
                scored.push((r.first().map_or(0.0, |s| s.confidence), true, false));
            }
            threshold = best_threshold(&scored);
        }
        in_scope
    };
    opts.fallback_threshold = threshold;

    let t = Instant::now();
    let model = core_nlu::train(&train_set, &opts, &mut progress_printer())?;
    let training_seconds = t.elapsed().as_secs_f64();
    let intents = model.classifier.classes().len();
    let nlu = Nlu::new(model, &EntityConfig::default())?;
    let ctx = reference_context();
    let use_decision = !held.is_empty() || a.oos_label.is_some();

    for e in test.examples.iter().take(50) {
        std::hint::black_box(nlu.parse(&e.text, &ctx));
    }
    let mut predicted: Vec<String> = Vec::with_capacity(test.examples.len());
    let mut times = Vec::with_capacity(test.examples.len());
    let mut flagged = Vec::new();
    let mut confidences = Vec::with_capacity(test.examples.len());
    for e in &test.examples {
        let s = Instant::now();
        let r = nlu.parse(&e.text, &ctx);
        times.push(s.elapsed().as_secs_f64() * 1e6);
        flagged.push(r.out_of_scope);
        if let Some(top) = r.intent_ranking.first() {
            confidences.push((top.confidence, top.name == e.intent));
        }
        let name = if use_decision {
            r.intent.name
        } else {
            r.intent_ranking
                .first()
                .map(|s| s.name.clone())
                .unwrap_or_default()
        };
        predicted.push(name);
    }
    let gold: Vec<String> = test
        .examples
        .iter()
        .map(|e| {
            if held.contains(&e.intent) {
                oos_name.clone()
            } else {
                e.intent.clone()
            }
        })
        .collect();
    let gold_ref: Vec<&str> = gold.iter().map(String::as_str).collect();
    let pred_ref: Vec<&str> = predicted.iter().map(String::as_str).collect();
    let (accuracy, macro_f1, per_intent, top_confusions) = score(&gold_ref, &pred_ref, 15);
    let out_of_scope = use_decision.then(|| {
        let gold_oos: Vec<bool> = gold.iter().map(|g| *g == oos_name).collect();
        let correct: Vec<bool> = gold.iter().zip(&predicted).map(|(g, p)| g == p).collect();
        oos_metrics(&oos_name, threshold, &flagged, &gold_oos, &correct)
    });
    let report = Report {
        train_examples: train_set.examples.len(),
        test_examples: test.examples.len(),
        intents,
        accuracy,
        macro_f1,
        per_intent,
        top_confusions,
        out_of_scope,
        calibration: calibration(&confidences),
        training_seconds,
        latency: latency(times),
    };
    Ok((report, nlu))
}

/// The threshold maximising the mean of in-scope accuracy and out-of-scope
/// recall over `(top confidence, is out of scope, top intent correct)` triples.
fn best_threshold(scored: &[(f32, bool, bool)]) -> f32 {
    let n_oos = scored.iter().filter(|s| s.1).count().max(1) as f64;
    let n_in = scored.iter().filter(|s| !s.1).count().max(1) as f64;
    let mut best = (f64::NEG_INFINITY, core_nlu::DEFAULT_FALLBACK_THRESHOLD);
    for step in 1..100 {
        let t = step as f32 / 100.0;
        let recall = scored.iter().filter(|s| s.1 && s.0 < t).count() as f64 / n_oos;
        let acc = scored.iter().filter(|s| !s.1 && s.0 >= t && s.2).count() as f64 / n_in;
        let mean = (recall + acc) / 2.0;
        if mean > best.0 {
            best = (mean, t);
        }
    }
    best.1
}

/// Lexical against embedding-based intent classification on the same split.
#[derive(Debug, serde::Serialize)]
pub struct SemanticComparison {
    pub encoder_dir: String,
    pub encode_seconds: f64,
    pub train_seconds: f64,
    /// Mean time to encode one test message, one at a time (ms).
    pub encode_ms_per_message: f64,
    pub lexical_accuracy: f64,
    pub semantic_accuracy: f64,
    /// `(weight of the embedding model, accuracy)` of the blends.
    pub blends: Vec<(f32, f64)>,
}

/// Trains a [`SemanticClassifier`] on `train`'s embeddings, and scores it,
/// the lexical model `lexical` (trained on the same data) and their blends
/// on `test` (top intent).
///
/// [`SemanticClassifier`]: wismo_core::nlu::semantic::SemanticClassifier
pub fn semantic_comparison(
    train: &TrainingData,
    test: &TrainingData,
    lexical: &Nlu,
    dir: &std::path::Path,
) -> Result<SemanticComparison> {
    use wismo_core::nlu::semantic::{blend, SemanticClassifier, SemanticOptions};
    let encoder = wismo_encoder::Encoder::load(dir)
        .with_context(|| format!("loading the encoder from {}", dir.display()))?;
    let t = Instant::now();
    let texts: Vec<&str> = train.examples.iter().map(|e| e.text.as_str()).collect();
    let vectors = encoder
        .encode(&texts)
        .context("encoding the training data")?;
    let test_texts: Vec<&str> = test.examples.iter().map(|e| e.text.as_str()).collect();
    let test_vectors = encoder
        .encode(&test_texts)
        .context("encoding the test data")?;
    let encode_seconds = t.elapsed().as_secs_f64();
    let sample = test_texts.len().min(100);
    let t = Instant::now();
    for text in &test_texts[..sample] {
        std::hint::black_box(encoder.encode_one(text)?);
    }
    let encode_ms_per_message = t.elapsed().as_secs_f64() * 1e3 / sample.max(1) as f64;

    let t = Instant::now();
    let labels: Vec<&str> = train.examples.iter().map(|e| e.intent.as_str()).collect();
    let semantic = SemanticClassifier::train(&vectors, &labels, &SemanticOptions::default())?;
    let train_seconds = t.elapsed().as_secs_f64();

    let weights = [0.25f32, 0.5, 0.75];
    let mut right_lexical = 0usize;
    let mut right_semantic = 0usize;
    let mut right_blend = [0usize; 3];
    let n_classes = lexical.model().classifier.classes().len();
    for (e, v) in test.examples.iter().zip(&test_vectors) {
        let lex = lexical.classify(&e.text, n_classes);
        let sem = semantic.rank(v).unwrap_or_default();
        let top = |r: &[wismo_core::nlu::classifier::IntentScore]| {
            r.first().is_some_and(|s| s.name == e.intent)
        };
        right_lexical += usize::from(top(&lex));
        right_semantic += usize::from(top(&sem));
        for (w, right) in weights.iter().zip(right_blend.iter_mut()) {
            *right += usize::from(top(&blend(&lex, &sem, *w)));
        }
    }
    let n = test.examples.len().max(1) as f64;
    Ok(SemanticComparison {
        encoder_dir: dir.display().to_string(),
        encode_seconds,
        train_seconds,
        encode_ms_per_message,
        lexical_accuracy: right_lexical as f64 / n,
        semantic_accuracy: right_semantic as f64 / n,
        blends: weights
            .iter()
            .zip(right_blend)
            .map(|(w, r)| (*w, r as f64 / n))
            .collect(),
    })
}

pub fn print_semantic(s: &SemanticComparison) {
    crate::say(format!(
        "embeddings      encoded train+test in {:.1} s; {:.1} ms per message one at a time; trained the embedding model in {:.1} s",
        s.encode_seconds, s.encode_ms_per_message, s.train_seconds
    ));
    crate::say(format!(
        "lexical         accuracy {:.2}%",
        s.lexical_accuracy * 100.0
    ));
    crate::say(format!(
        "embedding       accuracy {:.2}%",
        s.semantic_accuracy * 100.0
    ));
    for (w, a) in &s.blends {
        crate::say(format!("blend w={w:.2}    accuracy {:.2}%", a * 100.0));
    }
}
