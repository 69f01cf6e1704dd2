//! Natural-language understanding: preprocessing, intents, entities, sentiment.
//!
//! [`Nlu::parse`] runs the whole pipeline on one message:
//! text preprocessing ([`text`]) → intent classification ([`classifier`]) →
//! entity extraction ([`entities`] built-ins plus [`custom_entities`] from the
//! training data) → sentiment ([`sentiment`]).

pub mod classifier;
pub mod custom_entities;
pub mod data;
pub mod entities;
pub mod evaluate;
pub mod hash;
pub mod model;
pub mod semantic;
pub mod sentiment;
pub mod text;

use classifier::features::{Scratch, Sparse};
use classifier::{IntentClassifier, IntentScore, TrainError, TrainOptions, TrainProgress};
use custom_entities::{CustomEntityError, CustomEntityExtractor, CustomEntityModel};
use data::{DataError, TrainingData};
use entities::{
    Entity, EntityConfig, EntityConfigError, EntityExtractor, Expecting, ExtractionContext,
};
use model::{ModelMeta, NluModel};
use sentiment::Sentiment;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;

/// The intent name used for messages the bot should not try to handle, when
/// the training data does not name one.
pub const DEFAULT_OOS_LABEL: &str = "out_of_scope";

/// The default fallback threshold: a top confidence below it means "out of scope".
pub const DEFAULT_FALLBACK_THRESHOLD: f32 = 0.3;

/// How many intents a parse result lists.
pub const RANKING_LEN: usize = 10;

/// The store-domain training data shipped with wismo (Rasa NLU YAML).
pub const DEFAULT_TRAINING_FILES: [(&str, &str); 6] = [
    ("orders.yml", include_str!("../../data/nlu/orders.yml")),
    ("returns.yml", include_str!("../../data/nlu/returns.yml")),
    ("payments.yml", include_str!("../../data/nlu/payments.yml")),
    ("shipping.yml", include_str!("../../data/nlu/shipping.yml")),
    ("account.yml", include_str!("../../data/nlu/account.yml")),
    (
        "conversation.yml",
        include_str!("../../data/nlu/conversation.yml"),
    ),
];

/// Reads the shipped store-domain training data.
pub fn default_training_data() -> Result<TrainingData, DataError> {
    let mut all = TrainingData::default();
    for (name, src) in DEFAULT_TRAINING_FILES {
        all.merge(data::parse_rasa_yaml(src, &format!("<built-in>/{name}"))?);
    }
    Ok(all)
}

/// Everything that goes into training.
#[derive(Debug, Clone)]
pub struct NluTrainOptions {
    pub classifier: TrainOptions,
    /// The out-of-scope intent; `None` picks [`DEFAULT_OOS_LABEL`] if the data has it.
    pub oos_label: Option<String>,
    pub fallback_threshold: f32,
}

impl Default for NluTrainOptions {
    fn default() -> Self {
        Self {
            classifier: TrainOptions::default(),
            oos_label: None,
            fallback_threshold: DEFAULT_FALLBACK_THRESHOLD,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NluError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    EntityConfig(#[from] EntityConfigError),
    #[error(transparent)]
    CustomEntity(#[from] CustomEntityError),
    #[error("out-of-scope label {0:?} is not an intent of the training data")]
    UnknownOosLabel(String),
    #[error("fallback threshold must be between 0 and 1, got {0}")]
    BadThreshold(f32),
}

/// Trains a model from training data.
pub fn train(
    data: &TrainingData,
    opts: &NluTrainOptions,
    progress: &mut dyn FnMut(TrainProgress),
) -> Result<NluModel, NluError> {
    let start = std::time::Instant::now();
    if !(0.0..=1.0).contains(&opts.fallback_threshold) {
        return Err(NluError::BadThreshold(opts.fallback_threshold));
    }
    let intents = data.intents();
    let oos_label = match &opts.oos_label {
        Some(l) if intents.contains(l) => Some(l.clone()),
        Some(l) => return Err(NluError::UnknownOosLabel(l.clone())),
        None => intents.iter().find(|i| *i == DEFAULT_OOS_LABEL).cloned(),
    };
    let pairs: Vec<(&str, &str)> = data
        .examples
        .iter()
        .map(|e| (e.text.as_str(), e.intent.as_str()))
        .collect();
    let classifier = IntentClassifier::train(&pairs, &opts.classifier, progress)?;
    let custom_entities = CustomEntityModel::train(data);
    let created_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Ok(NluModel {
        meta: ModelMeta {
            wismo_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at,
            examples: data.examples.len() as u64,
            training_seconds: start.elapsed().as_secs_f64(),
            oos_label,
            fallback_threshold: opts.fallback_threshold,
        },
        classifier,
        custom_entities,
    })
}

/// What the NLU understood of one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParseResult {
    /// The decided intent: the top-ranked one, or the out-of-scope intent when the
    /// top one is out of scope or below the fallback threshold.
    pub intent: IntentScore,
    /// The most likely intents, best first, with calibrated confidences.
    pub intent_ranking: Vec<IntentScore>,
    /// True when the message is out of scope (by label or by threshold).
    pub out_of_scope: bool,
    pub entities: Vec<Entity>,
    pub sentiment: Sentiment,
}

impl ParseResult {
    /// The result for "nothing said yet" (a conversation's opening).
    pub fn empty() -> Self {
        Self {
            intent: IntentScore {
                name: DEFAULT_OOS_LABEL.to_string(),
                confidence: 0.0,
            },
            intent_ranking: Vec::new(),
            out_of_scope: false,
            entities: Vec::new(),
            sentiment: sentiment::analyze(""),
        }
    }
}

/// A ready-to-use NLU: a model plus the store's entity configuration.
#[derive(Debug, Clone)]
pub struct Nlu {
    model: NluModel,
    builtins: EntityExtractor,
    custom: CustomEntityExtractor,
    fallback_threshold: f32,
}

thread_local! {
    static SCRATCH: RefCell<(Scratch, Sparse)> = RefCell::new((Scratch::default(), Sparse::new()));
}

impl Nlu {
    pub fn new(model: NluModel, entities: &EntityConfig) -> Result<Self, NluError> {
        let builtins = EntityExtractor::new(entities)?;
        let custom = CustomEntityExtractor::new(&model.custom_entities)?;
        let fallback_threshold = model.meta.fallback_threshold;
        Ok(Self {
            model,
            builtins,
            custom,
            fallback_threshold,
        })
    }

    pub fn model(&self) -> &NluModel {
        &self.model
    }

    /// Overrides the model's fallback threshold.
    pub fn set_fallback_threshold(&mut self, t: f32) -> Result<(), NluError> {
        if !(0.0..=1.0).contains(&t) {
            return Err(NluError::BadThreshold(t));
        }
        self.fallback_threshold = t;
        Ok(())
    }

    pub fn fallback_threshold(&self) -> f32 {
        self.fallback_threshold
    }

    /// The `limit` most likely intents of `text`, best first.
    pub fn classify(&self, text: &str, limit: usize) -> Vec<IntentScore> {
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let (scratch, x) = &mut *s;
            self.model.classifier.rank(text, limit, scratch, x)
        })
    }

    /// Runs the whole pipeline on one message.
    pub fn parse(&self, text: &str, ctx: &ExtractionContext) -> ParseResult {
        self.parse_expecting(text, ctx, Expecting::Nothing)
    }

    /// [`Self::parse`] for the answer to a question the bot has just asked:
    /// with [`Expecting::OrderNumber`] a bare `2031` or `es el 1987` is an
    /// order number, with [`Expecting::PostalCode`] a bare `78704` is a postal
    /// code (see [`Expecting`]). The intent is classified as usual.
    #[tracing::instrument(level = "debug", name = "nlu.parse", skip_all, fields(chars = text.chars().count()))]
    pub fn parse_expecting(
        &self,
        text: &str,
        ctx: &ExtractionContext,
        expecting: Expecting,
    ) -> ParseResult {
        let ranking = self.classify(text, RANKING_LEN);
        let oos_name = self
            .model
            .meta
            .oos_label
            .as_deref()
            .unwrap_or(DEFAULT_OOS_LABEL);
        let (intent, out_of_scope) = match ranking.first() {
            Some(top) if top.name == oos_name => (top.clone(), true),
            Some(top) if top.confidence < self.fallback_threshold => (
                IntentScore {
                    name: oos_name.to_string(),
                    confidence: 1.0 - top.confidence,
                },
                true,
            ),
            Some(top) => (top.clone(), false),
            None => (
                IntentScore {
                    name: oos_name.to_string(),
                    confidence: 1.0,
                },
                true,
            ),
        };
        ParseResult {
            intent,
            intent_ranking: ranking,
            out_of_scope,
            entities: self.entities_expecting(text, ctx, expecting),
            sentiment: sentiment::analyze(text),
        }
    }

    /// Built-in and custom entities; where they overlap the built-in one wins.
    pub fn entities(&self, text: &str, ctx: &ExtractionContext) -> Vec<Entity> {
        self.entities_expecting(text, ctx, Expecting::Nothing)
    }

    /// [`Self::entities`] for the answer to a question (see [`Expecting`]).
    pub fn entities_expecting(
        &self,
        text: &str,
        ctx: &ExtractionContext,
        expecting: Expecting,
    ) -> Vec<Entity> {
        let mut found = self.builtins.extract_expecting(text, ctx, expecting);
        let custom = self.custom.extract(text);
        if !custom.is_empty() {
            for c in custom {
                if !found.iter().any(|b| b.start < c.end && c.start < b.end) {
                    found.push(c);
                }
            }
            found.sort_by_key(|e| (e.start, e.end));
        }
        found
    }
}
