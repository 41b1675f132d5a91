//! The sentence-embedding model: all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions) on candle's
//! CPU backend in f32, with its WordPiece tokenizer.
//!
//! Rules it keeps:
//! - The vector of a text is the mean of the model's last hidden states over the text's real
//!   tokens (the attention mask excludes padding), L2-normalised: what sentence-transformers
//!   computes for this model (`1_Pooling/config.json`: mean pooling; then `Normalize`).
//! - `tokenizer.json` pads every input to a fixed 128 tokens and truncates at 128. Here the
//!   tokenizer's own padding is switched off and each chunk of at most [`BATCH`] texts is padded
//!   to its longest text ("batch longest"), so short texts do not pay for 128 positions.
//!   Truncation is at [`MAX_TOKENS`] = 256, the model's `max_seq_length` in
//!   `sentence_bert_config.json` (the position table would allow 512, but the model was
//!   trained on at most 256 tokens, and attention cost grows with the square of the length).
//! - Texts are sorted by token count and cut into forward passes of at most [`BATCH`] texts
//!   where that computes the fewest padded positions ([`plan_passes`]), so a pass holds texts of
//!   similar length; results go back in request order. Padding never changes a vector: padded
//!   positions are masked in attention and in the mean.
//! - Everything here is blocking, CPU-bound work: callers run it on a blocking thread.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{Tokenizer, TruncationParams};

use crate::error::EmbeddingError;

/// The model's name in answers and in the data dir.
pub const MODEL_NAME: &str = "all-minilm-l6-v2";

/// Dimensions of every vector.
pub const DIMS: usize = 384;

/// Tokens per text (the model's `max_seq_length`); longer texts are truncated.
pub const MAX_TOKENS: usize = 256;

/// Most texts per forward pass. 32 keeps the matrices large enough for the gemm kernels to use both
/// cores well, while a chunk of 32 texts of 256 tokens stays around 100 MB of activations.
pub const BATCH: usize = 32;

/// The files a model folder must hold.
pub const FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// The files of [`FILES`] that `dir` lacks (an empty list when the model is there).
pub fn missing_files(dir: &Path) -> Vec<String> {
    FILES.iter().filter(|f| !dir.join(f).is_file()).map(|f| (*f).to_string()).collect()
}

/// The loaded model and tokenizer.
pub struct Model {
    bert: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl Model {
    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `dir`.
    ///
    /// Errors: `MODEL_MISSING` when a file is missing, `MODEL_INVALID` when one does not load.
    pub fn load(dir: &Path) -> Result<Self, EmbeddingError> {
        let missing = missing_files(dir);
        if !missing.is_empty() {
            return Err(EmbeddingError::ModelMissing { dir: dir.to_path_buf(), missing });
        }
        let invalid = |what: &str, source: Box<dyn std::error::Error + Send + Sync>| EmbeddingError::ModelInvalid {
            dir: dir.to_path_buf(),
            what: what.to_string(),
            source,
        };
        let device = Device::Cpu;
        let config_text =
            std::fs::read_to_string(dir.join("config.json")).map_err(|e| invalid("config.json", e.into()))?;
        let config: Config = serde_json::from_str(&config_text).map_err(|e| invalid("config.json", e.into()))?;
        if config.hidden_size != DIMS {
            return Err(invalid(
                "config.json",
                format!("hidden_size is {}, but {MODEL_NAME} has {DIMS} dimensions", config.hidden_size).into(),
            ));
        }
        let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), &device)
            .map_err(|e| invalid("model.safetensors", e.into()))?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let bert = BertModel::load(vb, &config).map_err(|e| invalid("model.safetensors", e.into()))?;
        let mut tokenizer =
            Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| invalid("tokenizer.json", e))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..TruncationParams::default() }))
            .map_err(|e| invalid("tokenizer.json", e))?;
        Ok(Self { bert, tokenizer, device })
    }

    /// One normalised [`DIMS`]-dimensional vector per text, in order. Any number of texts; they
    /// run in forward passes of at most [`BATCH`].
    ///
    /// Errors: `INTERNAL` when tokenizing or the forward pass fails.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(EmbeddingError::Tokenize)?;
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].len());
        let lengths: Vec<usize> = order.iter().map(|&i| encodings[i].len()).collect();
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for pass in plan_passes(&lengths, BATCH, PASS_OVERHEAD) {
            let chunk = &order[pass];
            let ids: Vec<&[u32]> = chunk.iter().map(|&i| encodings[i].get_ids()).collect();
            let vectors = self.forward(&ids).map_err(EmbeddingError::Inference)?;
            for (&i, v) in chunk.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// One forward pass over `ids` (token ids per text), padded to the longest.
    fn forward(&self, ids: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let (batch, width) = (ids.len(), ids.iter().map(|t| t.len()).max().unwrap_or(0).max(1));
        let mut flat_ids = Vec::with_capacity(batch * width);
        let mut flat_mask = Vec::with_capacity(batch * width);
        for tokens in ids {
            flat_ids.extend_from_slice(tokens);
            flat_ids.extend(std::iter::repeat_n(PAD_ID, width - tokens.len()));
            flat_mask.extend(std::iter::repeat_n(1u32, tokens.len()));
            flat_mask.extend(std::iter::repeat_n(0u32, width - tokens.len()));
        }
        let input_ids = Tensor::from_vec(flat_ids, (batch, width), &self.device)?;
        let mask = Tensor::from_vec(flat_mask, (batch, width), &self.device)?;
        let token_type_ids = input_ids.zeros_like()?;
        let hidden = self.bert.forward(&input_ids, &token_type_ids, Some(&mask))?;
        mean_pool_normalised(&hidden, &mask)?.to_vec2::<f32>()
    }
}

/// The fixed cost of one forward pass, in token positions: what a pass costs beyond its
/// `texts × width` positions (a few dozen kernel launches and thread-pool hand-offs per layer).
/// Measured here: one 25-token sentence alone takes about as long as 45 positions in a full
/// batch, so a pass is worth about 20 positions; 32 keeps [`plan_passes`] from splitting a batch
/// for a few tokens of padding.
const PASS_OVERHEAD: usize = 32;

/// Splits texts sorted by token count (`lengths`, ascending) into forward passes of at most
/// `max_batch` consecutive texts, minimising the padded positions computed (`texts × longest`
/// per pass) plus `overhead` per pass. A batch of similar lengths stays one pass; a batch mixing
/// short and long texts is split so the short ones are not padded to the long ones' length.
pub fn plan_passes(lengths: &[usize], max_batch: usize, overhead: usize) -> Vec<std::ops::Range<usize>> {
    let n = lengths.len();
    let max_batch = max_batch.max(1);
    // best[i]: the cheapest plan for the first i texts, and where its last pass starts.
    let mut best: Vec<(usize, usize)> = vec![(0, 0); n + 1];
    for i in 1..=n {
        best[i] = (i.saturating_sub(max_batch)..i)
            .map(|j| (best[j].0 + (i - j) * lengths[i - 1] + overhead, j))
            .min()
            .unwrap_or((usize::MAX, 0));
    }
    let mut passes = Vec::new();
    let mut end = n;
    while end > 0 {
        let start = best[end].1;
        passes.push(start..end);
        end = start;
    }
    passes.reverse();
    passes
}

/// The id of `[PAD]` in the model's vocabulary (`pad_token_id` in `config.json`). Its value does
/// not matter for the result (padded positions are masked), only that it is a valid id.
const PAD_ID: u32 = 0;

/// Masked mean over the sequence of `hidden` (`[batch, tokens, dims]`), counting only the
/// positions where `mask` (`[batch, tokens]`, 1 = real token) is 1, then L2-normalised per row:
/// `[batch, dims]`.
pub fn mean_pool_normalised(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    // sentence-transformers clamps the count at 1e-9 and the norm at 1e-12: an all-padding row
    // comes out as zeros instead of NaN.
    let counts = mask.sum(1)?.clamp(1e-9f32, f32::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12f32, f32::MAX)?;
    mean.broadcast_div(&norm)
}

/// The cosine similarity of two vectors (0 when either is all zeros).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    let denominator = na.sqrt() * nb.sqrt();
    if denominator == 0.0 { 0.0 } else { dot / denominator }
}

/// Where the model lives: `AGENTOS_EMBEDDING_MODEL_DIR` when set (non-empty), else
/// `<data dir>/models/all-minilm-l6-v2` with the data dir of [`agentos_kit::paths::data_dir`].
pub fn model_dir() -> Result<PathBuf, agentos_kit::WorkerError> {
    model_dir_from(|name| std::env::var_os(name))
}

/// The variable that points the worker (and `agentos models`) at another model folder.
pub const MODEL_DIR_ENV: &str = "AGENTOS_EMBEDDING_MODEL_DIR";

/// [`model_dir`] over the variables `var` returns.
pub fn model_dir_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<PathBuf, agentos_kit::WorkerError> {
    if let Some(dir) = var(MODEL_DIR_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    Ok(agentos_kit::paths::data_dir_from(var)?.join("models").join(MODEL_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::ErrorCode;
    use pretty_assertions::assert_eq;

    fn rows(t: &Tensor) -> Vec<Vec<f32>> {
        t.to_vec2::<f32>().unwrap()
    }

    #[test]
    fn pooling_averages_only_the_real_tokens_and_normalises() {
        // One text of two real tokens and one padded position with a huge value that must not count.
        let hidden = Tensor::new(&[[[1f32, 2.], [3., 4.], [100., -100.]]], &Device::Cpu).unwrap();
        let mask = Tensor::new(&[[1u32, 1, 0]], &Device::Cpu).unwrap();
        let pooled = rows(&mean_pool_normalised(&hidden, &mask).unwrap());
        let n = 13f32.sqrt();
        assert_eq!(pooled, vec![vec![2. / n, 3. / n]]);
    }

    #[test]
    fn an_all_padding_row_pools_to_zeros_not_nan() {
        let hidden = Tensor::new(&[[[1f32, 2.]], [[3., 4.]]], &Device::Cpu).unwrap();
        let mask = Tensor::new(&[[0u32], [1]], &Device::Cpu).unwrap();
        let pooled = rows(&mean_pool_normalised(&hidden, &mask).unwrap());
        assert_eq!(pooled, vec![vec![0., 0.], vec![0.6, 0.8]]);
    }

    #[test]
    fn similar_lengths_share_a_pass_and_mixed_lengths_are_split_at_the_jump() {
        assert_eq!(plan_passes(&[], 32, 32), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(plan_passes(&[12; 40], 32, 32), vec![0..8, 8..40]);
        assert_eq!(plan_passes(&[10, 11, 12, 12, 13], 32, 32), vec![0..5]);
        // 16 short texts and 16 long ones: padding the short ones to 120 costs more than a pass.
        let mixed: Vec<usize> = [vec![10; 16], vec![120; 16]].concat();
        assert_eq!(plan_passes(&mixed, 32, 32), vec![0..16, 16..32]);
        // Without a pass overhead every length gets its own pass; with a huge one, batches fill up.
        assert_eq!(plan_passes(&[5, 6, 7], 32, 0).len(), 3);
        assert_eq!(plan_passes(&[5, 60, 700], 2, 10_000), vec![0..2, 2..3]);
    }

    #[test]
    fn cosine_is_one_for_parallel_zero_for_orthogonal_and_zero_vectors() {
        assert!((cosine(&[1., 2.], &[2., 4.]) - 1.0).abs() < 1e-6);
        assert_eq!(cosine(&[1., 0.], &[0., 3.]), 0.0);
        assert_eq!(cosine(&[0., 0.], &[1., 1.]), 0.0);
        assert!((cosine(&[1., 0.], &[-1., 0.]) + 1.0).abs() < 1e-6);
    }

    #[test]
    fn the_model_dir_variable_wins_else_the_data_dir_holds_the_model() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| std::ffi::OsString::from(v))
        };
        assert_eq!(
            model_dir_from(env(&[("AGENTOS_EMBEDDING_MODEL_DIR", "/m"), ("AGENTOS_DATA_DIR", "/d")])).unwrap(),
            PathBuf::from("/m")
        );
        assert_eq!(
            model_dir_from(env(&[("AGENTOS_EMBEDDING_MODEL_DIR", ""), ("AGENTOS_DATA_DIR", "/d")])).unwrap(),
            PathBuf::from("/d/models/all-minilm-l6-v2")
        );
        assert_eq!(
            model_dir_from(env(&[("AGENTOS_HOME", "/h")])).unwrap(),
            PathBuf::from("/h/data/models/all-minilm-l6-v2")
        );
    }

    #[test]
    fn missing_files_lists_what_a_folder_lacks() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(missing_files(dir.path()), vec!["config.json", "model.safetensors", "tokenizer.json"]);
        std::fs::write(dir.path().join("config.json"), "{}").unwrap();
        assert_eq!(missing_files(dir.path()), vec!["model.safetensors", "tokenizer.json"]);
        let err = Model::load(dir.path()).err().unwrap();
        assert_eq!(err.code(), "MODEL_MISSING");
    }

    #[test]
    fn a_corrupt_config_is_model_invalid_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for f in FILES {
            std::fs::write(dir.path().join(f), "not json").unwrap();
        }
        let err = Model::load(dir.path()).err().unwrap();
        assert_eq!(err.code(), "MODEL_INVALID");
        assert!(err.to_string().contains("(config.json)"), "{err}");
    }
}
