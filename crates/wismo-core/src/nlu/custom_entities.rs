//! Entities defined by the training data: `regex:` and `lookup:` entries,
//! `synonym:` mappings, and values annotated in the examples.

use super::data::TrainingData;
use super::entities::Entity;
use serde::{Deserialize, Serialize};

/// Learned from training data; stored in the model file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CustomEntityModel {}

impl CustomEntityModel {
    pub fn train(data: &TrainingData) -> Self {
        let _ = data;
        Self {}
    }
}

/// A [`CustomEntityModel`] made ready to run (patterns compiled).
#[derive(Debug, Clone)]
pub struct CustomEntityExtractor {}

#[derive(Debug, thiserror::Error)]
#[error("regex for entity {name:?} is invalid: {reason}")]
pub struct CustomEntityError {
    pub name: String,
    pub reason: String,
}

impl CustomEntityExtractor {
    pub fn new(model: &CustomEntityModel) -> Result<Self, CustomEntityError> {
        let _ = model;
        Ok(Self {})
    }

    /// Entities in `text`, ordered by `start`, non-overlapping.
    pub fn extract(&self, text: &str) -> Vec<Entity> {
        let _ = text;
        Vec::new()
    }
}
