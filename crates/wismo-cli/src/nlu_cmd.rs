//! `wismo nlu …` and `wismo sentiment`.

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clap::{Args, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use wismo_core::nlu::classifier::TrainProgress;
use wismo_core::nlu::data::{self, TrainingData};
use wismo_core::nlu::entities::{demo_catalogue, EntityConfig, ExtractionContext, Product};
use wismo_core::nlu::evaluate::Report;
use wismo_core::nlu::model::NluModel;
use wismo_core::nlu::{self as core_nlu, Nlu, NluTrainOptions};

#[derive(Subcommand)]
pub enum NluCommand {
    /// Train a model from training files and write it to a model file.
    Train(TrainArgs),
    /// Print the intent ranking, entities and sentiment of a message as JSON.
    Parse(ParseArgs),
    /// Train on one file and report intent-classification quality on another.
    Evaluate(EvaluateArgs),
    /// Same as `wismo sentiment`.
    Sentiment(SentimentArgs),
}

/// Where the model comes from: a model file, training files, or the built-in data.
#[derive(Args, Clone)]
pub struct ModelSource {
    /// A model file written by `wismo nlu train`.
    #[arg(long, conflicts_with = "data")]
    pub model: Option<PathBuf>,
    /// Training files (Rasa NLU YAML or CSV) to train from at start-up.
    /// Without --model or --data, wismo trains on its built-in store data.
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
}

/// Per-store entity settings.
#[derive(Args, Clone)]
pub struct EntityArgs {
    /// Product catalogue, a JSON array of {"id", "name", "aliases"}; default: the demo store's.
    #[arg(long)]
    pub catalogue: Option<PathBuf>,
    /// Extra order-number pattern (regex; group 1 or the whole match is the number). Repeatable.
    #[arg(long = "order-pattern")]
    pub order_patterns: Vec<String>,
    /// The shape every order number of the store has (regex matched against the
    /// whole number, e.g. `\d{4,5}` or `MX-\d{5}`); other candidates are dropped.
    #[arg(long = "order-format")]
    pub order_format: Option<String>,
    /// Region for phone numbers without a country code (ISO 3166 alpha-2).
    #[arg(long, default_value = "US")]
    pub phone_region: String,
    /// Currency for amounts written with a bare `$` (ISO 4217).
    #[arg(long, default_value = "USD")]
    pub currency: String,
}

#[derive(Args)]
pub struct TrainArgs {
    /// Training files: Rasa NLU YAML (.yml/.yaml) or CSV with text and intent/category columns.
    #[arg(long, required_unless_present = "store", num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Train on a store workspace's data (the built-in intents with its `nlu/`).
    #[arg(long, conflicts_with = "data")]
    pub store: Option<PathBuf>,
    /// Where to write the model.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub opts: TrainOpts,
}

#[derive(Args, Clone)]
pub struct TrainOpts {
    /// The intent that marks out-of-scope messages in the training data.
    #[arg(long)]
    pub oos_label: Option<String>,
    /// Top confidence below which a message counts as out of scope.
    #[arg(long, default_value_t = core_nlu::DEFAULT_FALLBACK_THRESHOLD, allow_negative_numbers = true)]
    pub threshold: f32,
    /// SVM regularisation constant C.
    #[arg(long, default_value_t = wismo_core::nlu::classifier::TrainOptions::default().c)]
    pub c: f32,
}

#[derive(Args)]
pub struct ParseArgs {
    /// The message; `-` reads one message per line from standard input (JSON lines out).
    pub text: String,
    /// A store workspace: its training data, catalogue and order-number
    /// format (unless --model/--data say otherwise).
    #[arg(long)]
    pub store: Option<PathBuf>,
    #[command(flatten)]
    pub source: ModelSource,
    #[command(flatten)]
    pub entities: EntityArgs,
    /// Time zone for resolving dates such as "yesterday" (IANA name).
    #[arg(long, default_value = "UTC")]
    pub tz: String,
    /// Reference time (RFC 3339); default: now.
    #[arg(long)]
    pub now: Option<String>,
    /// Override the model's fallback threshold.
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: Option<f32>,
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// Training files.
    #[arg(long, required = true, num_args = 1..)]
    pub train: Vec<PathBuf>,
    /// Test file (CSV with text and intent/category columns, or Rasa YAML).
    #[arg(long)]
    pub test: PathBuf,
    /// Treat this intent as out of scope (in training and test data).
    #[arg(long)]
    pub oos_label: Option<String>,
    /// Hold this many intents out of training and treat their test messages as
    /// out of scope; the threshold is tuned on a validation split of the training data.
    #[arg(long, conflicts_with = "oos_label")]
    pub holdout_intents: Option<usize>,
    /// Fallback threshold (default: tuned when holding out intents, else the model default).
    #[arg(long, allow_negative_numbers = true)]
    pub threshold: Option<f32>,
    /// Seed for the held-out intent choice and the validation split.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// SVM regularisation constant C.
    #[arg(long, default_value_t = wismo_core::nlu::classifier::TrainOptions::default().c)]
    pub c: f32,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also compare with intent classification on sentence embeddings from
    /// the encoder in DIR (see `scripts/fetch-encoder`): the accuracy of the
    /// lexical model, the embedding model and their blends.
    #[arg(long, value_name = "DIR")]
    pub encoder: Option<PathBuf>,
}

#[derive(Args)]
pub struct SentimentArgs {
    /// The message to score.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub text: Option<String>,
    /// Score every line of this file (`-` for standard input); prints JSON lines.
    #[arg(long)]
    pub file: Option<PathBuf>,
}

pub fn run(cmd: NluCommand) -> Result<()> {
    match cmd {
        NluCommand::Train(a) => train(&a),
        NluCommand::Parse(a) => parse(&a),
        NluCommand::Evaluate(a) => evaluate_cmd(&a),
        NluCommand::Sentiment(a) => sentiment(&a),
    }
}

pub fn load_data(files: &[PathBuf]) -> Result<TrainingData> {
    let mut all = TrainingData::default();
    for f in files {
        all.merge(data::load_file(f)?);
    }
    if all.examples.is_empty() {
        bail!("the training files contain no examples");
    }
    Ok(all)
}

/// A progress callback that draws on stderr when it is a terminal, else stays quiet.
pub fn progress_printer() -> impl FnMut(TrainProgress) {
    let tty = std::io::stderr().is_terminal();
    move |p| {
        if !tty {
            return;
        }
        let mut err = std::io::stderr();
        let _ = match p {
            TrainProgress::Calibrating => write!(err, "\rcalibrating confidences…          "),
            TrainProgress::Featurizing { examples } => {
                write!(err, "\rbuilding features for {examples} examples…   ")
            }
            TrainProgress::Class { done, total } => {
                write!(err, "\rtraining intents {done}/{total}            ")
            }
            TrainProgress::Done { seconds } => {
                writeln!(err, "\rtrained in {seconds:.1} s                     ")
            }
        };
        let _ = err.flush();
    }
}

fn train_opts(o: &TrainOpts) -> NluTrainOptions {
    let mut opts = NluTrainOptions {
        oos_label: o.oos_label.clone(),
        fallback_threshold: o.threshold,
        ..Default::default()
    };
    opts.classifier.c = o.c;
    opts
}

fn train(a: &TrainArgs) -> Result<()> {
    let data = match &a.store {
        Some(dir) => crate::workspace_cmd::load(dir)?.training_data(),
        None => load_data(&a.data)?,
    };
    let model = core_nlu::train(&data, &train_opts(&a.opts), &mut progress_printer())?;
    model.save(&a.out)?;
    let size = std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0);
    let out = serde_json::json!({
        "model": a.out.display().to_string(),
        "bytes": size,
        "examples": model.meta.examples,
        "intents": model.classifier.classes().len(),
        "training_seconds": model.meta.training_seconds,
        "oos_label": model.meta.oos_label,
        "fallback_threshold": model.meta.fallback_threshold,
        "format_version": wismo_core::nlu::model::FORMAT_VERSION,
    });
    crate::say(serde_json::to_string_pretty(&out)?);
    Ok(())
}

pub fn entity_config(a: &EntityArgs) -> Result<EntityConfig> {
    let catalogue: Vec<Product> = match &a.catalogue {
        Some(p) => {
            let src = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read catalogue {}", p.display()))?;
            serde_json::from_str(&src).with_context(|| {
                format!("catalogue {} is not a JSON array of products", p.display())
            })?
        }
        None => demo_catalogue(),
    };
    Ok(EntityConfig {
        order_number_patterns: a.order_patterns.clone(),
        catalogue,
        default_phone_region: a.phone_region.clone(),
        default_currency: a.currency.clone(),
        order_number_format: a.order_format.clone(),
    })
}

impl Default for EntityArgs {
    fn default() -> Self {
        EntityArgs {
            catalogue: None,
            order_patterns: Vec::new(),
            order_format: None,
            phone_region: "US".into(),
            currency: "USD".into(),
        }
    }
}

/// Loads or trains the model named by `source`.
pub fn model_from(source: &ModelSource) -> Result<NluModel> {
    if let Some(path) = &source.model {
        return Ok(NluModel::load(path)?);
    }
    let data = if source.data.is_empty() {
        core_nlu::default_training_data().context("the built-in training data does not parse")?
    } else {
        load_data(&source.data)?
    };
    Ok(core_nlu::train(
        &data,
        &NluTrainOptions::default(),
        &mut progress_printer(),
    )?)
}

fn context(tz: &str, now: Option<&str>) -> Result<ExtractionContext> {
    let tz: Tz = tz.parse().map_err(|_| {
        anyhow::anyhow!("unknown time zone {tz:?} (use an IANA name such as Europe/Berlin)")
    })?;
    let now = match now {
        Some(s) => DateTime::parse_from_rfc3339(s)
            .with_context(|| {
                format!("--now {s:?} is not an RFC 3339 time such as 2026-11-24T15:00:00Z")
            })?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    Ok(ExtractionContext { now, tz })
}

fn parse(a: &ParseArgs) -> Result<()> {
    let ctx = context(&a.tz, a.now.as_deref())?;
    let mut nlu = match &a.store {
        Some(dir) => {
            let ws = crate::workspace_cmd::load(dir)?;
            let model = if a.source.model.is_some() || !a.source.data.is_empty() {
                model_from(&a.source)?
            } else {
                core_nlu::train(
                    &ws.training_data(),
                    &NluTrainOptions::default(),
                    &mut |_| {},
                )?
            };
            Nlu::new(model, &ws.entity_config())?
        }
        None => Nlu::new(model_from(&a.source)?, &entity_config(&a.entities)?)?,
    };
    if let Some(t) = a.threshold {
        nlu.set_fallback_threshold(t)?;
    }
    if a.text == "-" {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let line = line.context("cannot read standard input")?;
            let r = nlu.parse(&line, &ctx);
            crate::say(serde_json::to_string(
                &serde_json::json!({"text": line, "result": r}),
            )?);
        }
        return Ok(());
    }
    let r = nlu.parse(&a.text, &ctx);
    crate::say(serde_json::to_string_pretty(
        &serde_json::json!({"text": a.text, "result": r}),
    )?);
    Ok(())
}

pub fn sentiment(a: &SentimentArgs) -> Result<()> {
    use wismo_core::nlu::sentiment::analyze;
    if let Some(t) = &a.text {
        crate::say(serde_json::to_string_pretty(&analyze(t))?);
        return Ok(());
    }
    let Some(path) = &a.file else {
        bail!("give a message or --file");
    };
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        ))
    };
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| {
            format!(
                "{}:{}: cannot read line (is it UTF-8?)",
                path.display(),
                i + 1
            )
        })?;
        let s = analyze(&line);
        crate::say(serde_json::to_string(
            &serde_json::json!({"line": i + 1, "score": s.score, "label": s.label}),
        )?);
    }
    Ok(())
}

fn evaluate_cmd(a: &EvaluateArgs) -> Result<()> {
    let train = load_data(&a.train)?;
    let test = data::load_file(&a.test)?;
    if test.examples.is_empty() {
        bail!("{}: the test file contains no examples", a.test.display());
    }
    if a.encoder.is_some() && (a.holdout_intents.is_some() || a.oos_label.is_some()) {
        bail!("--encoder compares in-scope accuracy only: leave out --holdout-intents and --oos-label");
    }
    let (report, lexical) = crate::bench::evaluate(&train, &test, a)?;
    let semantic = match &a.encoder {
        Some(dir) => Some(crate::bench::semantic_comparison(
            &train, &test, &lexical, dir,
        )?),
        None => None,
    };
    if a.json {
        let mut out = serde_json::to_value(&report)?;
        if let (Some(s), Some(o)) = (&semantic, out.as_object_mut()) {
            o.insert("semantic".to_string(), serde_json::to_value(s)?);
        }
        crate::say(serde_json::to_string_pretty(&out)?);
    } else {
        print_report(&report);
        if let Some(s) = &semantic {
            crate::bench::print_semantic(s);
        }
    }
    Ok(())
}

fn print_report(r: &Report) {
    crate::say(format!("train examples  {}", r.train_examples));
    crate::say(format!("test examples   {}", r.test_examples));
    crate::say(format!("intents         {}", r.intents));
    crate::say(format!("accuracy        {:.2}%", r.accuracy * 100.0));
    crate::say(format!("macro-F1        {:.2}%", r.macro_f1 * 100.0));
    if let Some(o) = &r.out_of_scope {
        crate::say(format!(
            "out of scope    recall {:.2}%  precision {:.2}%  in-scope accuracy {:.2}%  (label {:?}, threshold {:.3})",
            o.recall * 100.0,
            o.precision * 100.0,
            o.in_scope_accuracy * 100.0,
            o.label,
            o.threshold
        ));
    }
    crate::say(format!(
        "calibration     mean top confidence {:.2}%  expected calibration error {:.2}%",
        r.calibration.mean_confidence * 100.0,
        r.calibration.expected_calibration_error * 100.0
    ));
    crate::say(format!("training time   {:.2} s", r.training_seconds));
    crate::say(format!(
        "per message     median {:.1} µs  p99 {:.1} µs  mean {:.1} µs  (whole pipeline, one thread)",
        r.latency.median_us, r.latency.p99_us, r.latency.mean_us
    ));
    crate::say("\nmost confused (expected -> predicted: count)");
    for c in &r.top_confusions {
        crate::say(format!("  {} -> {}: {}", c.expected, c.predicted, c.count));
    }
    crate::say(format!(
        "\n{:<40} {:>9} {:>9} {:>9} {:>8}",
        "intent", "precision", "recall", "f1", "support"
    ));
    for m in &r.per_intent {
        crate::say(format!(
            "{:<40} {:>8.1}% {:>8.1}% {:>8.1}% {:>8}",
            m.intent,
            m.precision * 100.0,
            m.recall * 100.0,
            m.f1 * 100.0,
            m.support
        ));
    }
}
