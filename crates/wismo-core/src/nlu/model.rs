//! The model file: everything a trained NLU needs, versioned.
//!
//! Layout (all integers little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `WISMONLU` |
//! | 4 | format version ([`FORMAT_VERSION`]) |
//! | 8 | length of the metadata block |
//! | n | metadata: [`ModelMeta`], classifier tables and custom entities (postcard) |
//! | 8 | number of features `d` |
//! | 4 each | per-feature weight scales, `f32` |
//! | 8 | number of weights (`d` × intents) |
//! | 1 each | classifier weights, `i8` (kept raw so loading is a memory copy) |
//! | 8 | checksum of everything before it ([`checksum`]) |
//!
//! A file written by another format version is refused with
//! [`ModelError::VersionMismatch`], never half-read.

use super::classifier::{ClassifierData, IntentClassifier};
use super::custom_entities::CustomEntityModel;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const MAGIC: &[u8; 8] = b"WISMONLU";
/// Bumped whenever the layout or the meaning of any stored field changes.
pub const FORMAT_VERSION: u32 = 1;

/// Facts about how a model was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// The wismo version that wrote the file.
    pub wismo_version: String,
    /// Unix seconds.
    pub created_at: i64,
    pub examples: u64,
    pub training_seconds: f64,
    /// The intent that means "not something we handle", if the data has one.
    pub oos_label: Option<String>,
    /// Below this top confidence a message is treated as out of scope.
    pub fallback_threshold: f32,
}

/// A trained NLU model.
#[derive(Debug, Clone)]
pub struct NluModel {
    pub meta: ModelMeta,
    pub classifier: IntentClassifier,
    pub custom_entities: CustomEntityModel,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    meta: ModelMeta,
    classifier: ClassifierData,
    custom_entities: CustomEntityModel,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read model file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write model file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} is not a wismo NLU model file")]
    NotAModel(String),
    #[error(
        "{path} was written in model format {found}, this wismo reads format {expected}; \
         retrain it with `wismo nlu train`"
    )]
    VersionMismatch {
        path: String,
        found: u32,
        expected: u32,
    },
    #[error("model file {path} is damaged: {reason}")]
    Corrupt { path: String, reason: String },
}

/// A fast 64-bit checksum, eight bytes at a time (multiply-rotate mixing),
/// to catch truncated or edited files. Not cryptographic.
pub fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = bytes.len() as u64 ^ 0x2545_f491_4f6c_dd1d;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(a)).wrapping_mul(K).rotate_left(29);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(K).rotate_left(29);
    }
    h ^ (h >> 31)
}

impl NluModel {
    /// Serialises the model.
    pub fn to_bytes(&self) -> Vec<u8> {
        let (classifier, weights, scales) = self.classifier.to_parts();
        let stored = Stored {
            meta: self.meta.clone(),
            classifier,
            custom_entities: self.custom_entities.clone(),
        };
        // postcard cannot fail on these plain data types; an empty block would be
        // refused on load rather than silently accepted.
        let meta = postcard::to_stdvec(&stored).unwrap_or_default();
        let mut out = Vec::with_capacity(44 + meta.len() + scales.len() * 4 + weights.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(meta.len() as u64).to_le_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(&(scales.len() as u64).to_le_bytes());
        for s in scales {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.extend_from_slice(&(weights.len() as u64).to_le_bytes());
        out.extend(weights.iter().map(|&w| w as u8));
        let sum = checksum(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Reads a model from bytes; `path` is only used in error messages.
    pub fn from_bytes(bytes: &[u8], path: &str) -> Result<Self, ModelError> {
        let corrupt = |reason: &str| ModelError::Corrupt {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(ModelError::NotAModel(path.to_string()));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != FORMAT_VERSION {
            return Err(ModelError::VersionMismatch {
                path: path.to_string(),
                found: version,
                expected: FORMAT_VERSION,
            });
        }
        if bytes.len() < 8 + 12 {
            return Err(corrupt("file is truncated"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        let sum = u64::from_le_bytes(sum.try_into().map_err(|_| corrupt("file is truncated"))?);
        if checksum(body) != sum {
            return Err(corrupt("checksum does not match (truncated or edited)"));
        }
        let mut rest = &body[12..];
        let mut take = |n: usize| -> Result<&[u8], ModelError> {
            if rest.len() < n {
                return Err(corrupt("file is truncated"));
            }
            let (a, b) = rest.split_at(n);
            rest = b;
            Ok(a)
        };
        let read_u64 = |b: &[u8]| -> u64 {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        };
        let meta_len =
            usize::try_from(read_u64(take(8)?)).map_err(|_| corrupt("bad metadata length"))?;
        let stored: Stored = postcard::from_bytes(take(meta_len)?)
            .map_err(|e| corrupt(&format!("metadata: {e}")))?;
        let d = usize::try_from(read_u64(take(8)?)).map_err(|_| corrupt("bad feature count"))?;
        let raw = take(
            d.checked_mul(4)
                .ok_or_else(|| corrupt("bad feature count"))?,
        )?;
        let scales: Vec<f32> = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let n = usize::try_from(read_u64(take(8)?)).map_err(|_| corrupt("bad weight count"))?;
        let weights: Vec<i8> = take(n)?.iter().map(|&b| b as i8).collect();
        if !rest.is_empty() {
            return Err(corrupt("unexpected bytes after the weights"));
        }
        let classifier = IntentClassifier::from_parts(stored.classifier, weights, scales)
            .map_err(|e| corrupt(&e))?;
        Ok(Self {
            meta: stored.meta,
            classifier,
            custom_entities: stored.custom_entities,
        })
    }

    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let bytes = self.to_bytes();
        // Write beside the target and rename, so a crash never leaves half a model.
        let tmp = path.with_extension("tmp-wnlu");
        std::fs::write(&tmp, &bytes)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|source| ModelError::Write {
                path: path.display().to_string(),
                source,
            })
    }

    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| ModelError::Read {
            path: name.clone(),
            source,
        })?;
        Self::from_bytes(&bytes, &name)
    }
}
