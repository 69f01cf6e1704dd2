//! The knowledge base: policy and FAQ articles (Markdown), searched with BM25.
//!
//! OWNERSHIP NOTE (skeleton): the public API below is the contract the dialogue
//! engine codes against.

use serde::{Deserialize, Serialize};

/// The best passage for a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub article_id: String,
    pub title: String,
    pub passage: String,
    pub score: f32,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct KnowledgeError {
    pub path: String,
    pub message: String,
}

/// An indexed set of articles in one or more locales.
#[derive(Debug, Clone, Default)]
pub struct KnowledgeBase {}

impl KnowledgeBase {
    /// The articles shipped with wismo.
    pub fn builtin() -> Self {
        Self {}
    }

    /// Reads a folder of Markdown articles.
    pub fn from_dir(path: &std::path::Path) -> Result<Self, KnowledgeError> {
        Err(KnowledgeError {
            path: path.display().to_string(),
            message: "not implemented yet".into(),
        })
    }

    /// The best passage for `question` in `locale`, or `None` when nothing
    /// matches well enough to answer.
    pub fn answer(&self, question: &str, locale: &str) -> Option<Answer> {
        let _ = (question, locale);
        None
    }
}
