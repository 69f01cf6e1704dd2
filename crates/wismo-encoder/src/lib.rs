//! In-process sentence encoder: all-MiniLM-L6-v2 run on the CPU with
//! [candle](https://github.com/huggingface/candle), in pure Rust.
//!
//! An [`Encoder`] turns a text into a 384-dimensional vector of unit length
//! such that texts of similar meaning get vectors with a high [`cosine`]
//! similarity ("where is my order?" and "has my package shipped yet?") and
//! unrelated texts a low one.
//!
//! The model files are never downloaded at run time: `scripts/fetch-encoder
//! DIR` puts `model.safetensors`, `tokenizer.json`, `config.json`, `LICENSE`
//! and `NOTICE` into `DIR` ahead of time, and [`Encoder::load`] only reads
//! them from disk.
//!
//! ```no_run
//! use std::path::Path;
//! use wismo_encoder::{cosine, Encoder};
//!
//! let encoder = Encoder::load(Path::new("target/encoder"))?;
//! let a = encoder.encode_one("where is my order?")?;
//! let b = encoder.encode_one("has my package shipped yet?")?;
//! assert!(cosine(&a, &b) > 0.5);
//! # Ok::<(), wismo_encoder::EncoderError>(())
//! ```
//!
//! How a text is encoded: the tokenizer's own padding (the shipped
//! `tokenizer.json` pads every input to 128 tokens) is turned off; inputs are
//! truncated to [`MAX_TOKENS`] tokens; a batch is padded to its longest
//! sequence with an attention mask, so padding never changes a result; the
//! model's last hidden state is mean-pooled over the real tokens only (the
//! mask excludes padding) and the mean is L2-normalised.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

/// At most this many tokens of a text are encoded (special tokens included);
/// the rest is cut off. all-MiniLM-L6-v2 was trained on sequences of up to
/// 256 tokens.
pub const MAX_TOKENS: usize = 256;

/// [`Encoder::encode`] runs the model on at most this many texts at a time,
/// to bound memory; larger inputs are split.
pub const MAX_BATCH: usize = 32;

/// The files [`Encoder::load`] reads from its directory.
pub const CONFIG_FILE: &str = "config.json";
/// See [`CONFIG_FILE`].
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// See [`CONFIG_FILE`].
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Why the encoder could not be loaded or could not encode.
///
/// The load errors name the file concerned and the command that fetches a
/// good copy of the model.
#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    /// A model file is not in the directory.
    #[error(
        "encoder file {} is missing; fetch the model with `scripts/fetch-encoder {}`",
        path.display(),
        dir.display()
    )]
    Missing {
        /// The file that is missing.
        path: PathBuf,
        /// The directory it was looked for in.
        dir: PathBuf,
    },
    /// A model file exists but could not be read.
    #[error(
        "cannot read encoder file {}: {source}; fetch the model again with `scripts/fetch-encoder {}`",
        path.display(),
        dir.display()
    )]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A model file was read but its contents are not what was expected.
    #[error(
        "encoder file {} is not valid: {reason}; fetch the model again with `scripts/fetch-encoder {}`",
        path.display(),
        dir.display()
    )]
    Invalid {
        /// The file that is not valid.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The tokenizer failed on an input text.
    #[error("tokenizing failed: {0}")]
    Tokenize(String),
    /// The model failed while computing (a tensor shape or type error).
    #[error("encoder inference failed: {0}")]
    Inference(#[from] candle_core::Error),
}

/// A loaded sentence encoder (all-MiniLM-L6-v2 on the CPU, f32).
///
/// It is `Send + Sync` and holds no mutable state: share one behind an
/// `Arc` across threads rather than loading it more than once (it keeps about
/// 90 MB of weights in memory).
pub struct Encoder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// Loads the model from `dir`, which must hold `config.json`,
    /// `tokenizer.json` and `model.safetensors` as put there by
    /// `scripts/fetch-encoder DIR`. The weights are read into memory (f32, CPU).
    ///
    /// # Errors
    ///
    /// [`EncoderError::Missing`] names the first missing file,
    /// [`EncoderError::Read`] one that could not be read and
    /// [`EncoderError::Invalid`] one whose contents do not parse or do not fit
    /// a BERT model.
    pub fn load(dir: &Path) -> Result<Encoder, EncoderError> {
        let config_path = dir.join(CONFIG_FILE);
        let tokenizer_path = dir.join(TOKENIZER_FILE);
        let weights_path = dir.join(WEIGHTS_FILE);
        let invalid = |path: &Path, reason: String| EncoderError::Invalid {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            reason,
        };

        let config_bytes = read(dir, &config_path)?;
        let tokenizer_bytes = read(dir, &tokenizer_path)?;
        let weights = read(dir, &weights_path)?;

        let config: Config = serde_json::from_slice(&config_bytes)
            .map_err(|e| invalid(&config_path, e.to_string()))?;
        let dim = hidden_size(&config_bytes)
            .ok_or_else(|| invalid(&config_path, "no positive integer \"hidden_size\"".into()))?;

        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes)
            .map_err(|e| invalid(&tokenizer_path, e.to_string()))?;
        // The shipped tokenizer.json pads every input to 128 tokens; batches
        // are padded here instead, to their longest sequence, with a mask.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| invalid(&tokenizer_path, e.to_string()))?;

        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| invalid(&weights_path, e.to_string()))?;
        let model =
            BertModel::load(vb, &config).map_err(|e| invalid(&weights_path, e.to_string()))?;

        Ok(Encoder {
            model,
            tokenizer,
            device,
            dim,
        })
    }

    /// The length of the vectors this encoder returns (384 for
    /// all-MiniLM-L6-v2).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Encodes each text into a vector of [`dim`](Self::dim) components and
    /// unit length, in the order given. An empty slice gives an empty `Vec`.
    ///
    /// The result for a text does not depend on the other texts in the same
    /// call (up to float rounding, well within 1e-4 per component). Texts are
    /// truncated to [`MAX_TOKENS`] tokens. An empty or whitespace-only text
    /// encodes as the model's encoding of no words at all (just its `[CLS]`
    /// and `[SEP]` markers): a valid unit vector, the same for all such texts,
    /// with no particular meaning. Control characters are dropped by the
    /// tokenizer and characters it does not know become `[UNK]`.
    ///
    /// # Errors
    ///
    /// [`EncoderError::Tokenize`] or [`EncoderError::Inference`], which do not
    /// happen with a model loaded by [`load`](Self::load) short of running out
    /// of memory.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        let mut ids = Vec::with_capacity(texts.len());
        for text in texts {
            let encoding = self
                .tokenizer
                .encode(*text, true)
                .map_err(|e| EncoderError::Tokenize(e.to_string()))?;
            ids.push(encoding.get_ids().to_vec());
        }

        // Batches of texts of similar length waste the least on padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| ids[i].len());

        let mut out = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(MAX_BATCH) {
            let batch: Vec<&[u32]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
            for (&i, vector) in chunk.iter().zip(self.encode_batch(&batch)?) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    /// Encodes one text; the same as `encode(&[text])[0]`.
    ///
    /// # Errors
    ///
    /// As [`encode`](Self::encode).
    pub fn encode_one(&self, text: &str) -> Result<Vec<f32>, EncoderError> {
        let mut vectors = self.encode(&[text])?;
        vectors
            .pop()
            .ok_or_else(|| EncoderError::Tokenize("no vector for the text".into()))
    }

    /// Runs the model on token id sequences, padded here to the longest, and
    /// returns one mean-pooled, normalised vector per sequence.
    fn encode_batch(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, EncoderError> {
        let rows = batch.len();
        let len = batch.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let mut input_ids = vec![0u32; rows * len];
        let mut mask = vec![0u32; rows * len];
        for (r, seq) in batch.iter().enumerate() {
            input_ids[r * len..r * len + seq.len()].copy_from_slice(seq);
            mask[r * len..r * len + seq.len()].fill(1);
        }
        let input_ids = Tensor::from_vec(input_ids, (rows, len), &self.device)?;
        let mask = Tensor::from_vec(mask, (rows, len), &self.device)?;
        let token_type_ids = input_ids.zeros_like()?;

        // (rows, len, dim)
        let hidden = self
            .model
            .forward(&input_ids, &token_type_ids, Some(&mask))?;
        // Mean over the real tokens: zero the padding, sum, divide by count.
        let mask_f = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (rows, len, 1)
        let summed = hidden.broadcast_mul(&mask_f)?.sum(1)?; // (rows, dim)
        let counts = mask_f.sum(1)?.clamp(1f32, f32::MAX)?; // (rows, 1)
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean
            .sqr()?
            .sum_keepdim(1)?
            .sqrt()?
            .clamp(1e-12f32, f32::MAX)?;
        let normalised = mean.broadcast_div(&norms)?;
        Ok(normalised.to_vec2::<f32>()?)
    }
}

/// Reads a model file, telling a missing file from an unreadable one.
fn read(dir: &Path, path: &Path) -> Result<Vec<u8>, EncoderError> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            EncoderError::Missing {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
            }
        } else {
            EncoderError::Read {
                path: path.to_path_buf(),
                dir: dir.to_path_buf(),
                source,
            }
        }
    })
}

/// The `hidden_size` of a BERT `config.json` (candle's `Config` keeps its
/// fields private).
fn hidden_size(config_json: &[u8]) -> Option<usize> {
    let value: serde_json::Value = serde_json::from_slice(config_json).ok()?;
    let size = usize::try_from(value.get("hidden_size")?.as_u64()?).ok()?;
    (size > 0).then_some(size)
}

/// The cosine similarity of two vectors: 1 for the same direction, 0 for
/// orthogonal ones, -1 for opposite ones.
///
/// For vectors from [`Encoder::encode`], which have unit length, this is
/// their dot product. Gives 0 when either vector is all zeros, and compares
/// only the first `min(a.len(), b.len())` components when the lengths
/// differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    dot / (na.sqrt() * nb.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn encoder_is_send_and_sync() {
        assert_send_sync::<Encoder>();
    }

    #[test]
    fn cosine_basics() {
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-6);
        assert!((cosine(&[1.0, 1.0], &[-1.0, -1.0]) + 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        assert_eq!(cosine(&[], &[]), 0.0);
    }

    #[test]
    fn hidden_size_parses() {
        assert_eq!(hidden_size(br#"{"hidden_size": 384}"#), Some(384));
        assert_eq!(hidden_size(br#"{"hidden_size": 0}"#), None);
        assert_eq!(hidden_size(br#"{}"#), None);
        assert_eq!(hidden_size(b"not json"), None);
    }
}
