//! Natural-language understanding: preprocessing, intents, entities, sentiment.

pub mod custom_entities;
pub mod data;
pub mod entities;
pub mod sentiment;
