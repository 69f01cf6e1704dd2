//! Training data: Rasa NLU YAML and CSV readers.
//!
//! OWNERSHIP NOTE (for the skeleton): the public types below are the contract the
//! rest of the NLU uses.

use serde::{Deserialize, Serialize};
use std::path::Path;

mod annotation;
mod csv_reader;
mod rasa;

/// Everything read from one or more training files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingData {
    pub examples: Vec<Example>,
    pub synonyms: Vec<Synonym>,
    pub regexes: Vec<RegexEntry>,
    pub lookups: Vec<LookupTable>,
}

/// One labelled training message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// The message with entity annotation markup removed.
    pub text: String,
    pub intent: String,
    #[serde(default)]
    pub entities: Vec<AnnotatedEntity>,
}

/// An entity annotated inline in an example, e.g. `[1042](order_number)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotatedEntity {
    pub entity: String,
    /// The value: the annotated text unless the annotation gave another value.
    pub value: String,
    /// Char offsets into [`Example::text`], end exclusive.
    pub start: usize,
    pub end: usize,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
}

/// `synonym:` entry: every example text maps to `value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Synonym {
    pub value: String,
    pub examples: Vec<String>,
}

/// `regex:` entry: patterns for the entity (or feature) `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegexEntry {
    pub name: String,
    pub patterns: Vec<String>,
}

/// `lookup:` entry: known values of the entity `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookupTable {
    pub name: String,
    pub elements: Vec<String>,
}

/// A training file that could not be read, with where and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct DataError {
    pub file: String,
    /// 1-based line; 0 when the problem is the file as a whole (unreadable, empty).
    pub line: usize,
    pub message: String,
}

impl TrainingData {
    /// Appends everything from `other`.
    pub fn merge(&mut self, other: TrainingData) {
        self.examples.extend(other.examples);
        self.synonyms.extend(other.synonyms);
        self.regexes.extend(other.regexes);
        self.lookups.extend(other.lookups);
    }

    /// Distinct intent names in first-seen order.
    pub fn intents(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.examples
            .iter()
            .filter(|e| seen.insert(e.intent.as_str()))
            .map(|e| e.intent.clone())
            .collect()
    }
}

/// Reads a training file, choosing the reader by extension (`.yml`/`.yaml`: Rasa
/// NLU YAML; `.csv`: CSV with `text` and `intent` or `category` columns).
pub fn load_file(path: &Path) -> Result<TrainingData, DataError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| DataError {
        file: file.clone(),
        line: 0,
        message: format!("cannot read file: {e}"),
    })?;
    let src = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let bytes = e.as_bytes();
            let valid = e.utf8_error().valid_up_to();
            let before = bytes.get(..valid).unwrap_or(&[]);
            let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
            let column = 1 + before.iter().rev().take_while(|&&b| b != b'\n').count();
            return Err(DataError {
                file,
                line,
                message: format!(
                    "not valid UTF-8 (first invalid byte at column {column}); \
                     save the file as UTF-8"
                ),
            });
        }
    };
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("yml" | "yaml") => parse_rasa_yaml(&src, &file),
        Some("csv") => parse_csv(&src, &file),
        _ => Err(DataError {
            file,
            line: 0,
            message: "unknown training file type (expected .yml, .yaml or .csv)".into(),
        }),
    }
}

/// Parses Rasa NLU YAML (`nlu:` section; the other sections Rasa allows in the
/// same file are skipped). `file` is only used in error messages.
pub fn parse_rasa_yaml(src: &str, file: &str) -> Result<TrainingData, DataError> {
    rasa::parse(src, file)
}

/// Parses CSV with a header naming a `text` column and an `intent` (or `category`) column.
pub fn parse_csv(src: &str, file: &str) -> Result<TrainingData, DataError> {
    csv_reader::parse(src, file)
}
