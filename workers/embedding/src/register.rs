//! The thin glue between the embedder and the engine: the declaration of `embedding::embed`,
//! `embedding::similarity`, `embedding::info` and `GET /v1/embedding`.
//!
//! Rules it keeps:
//! - No decisions here: each handler calls one method of [`Embedder`] and encodes its answer.
//! - The model folder is resolved when the worker starts ([`crate::model::model_dir`]); the
//!   model starts loading right after registration, in the background, so the worker is ready
//!   (its functions registered) without waiting for the weights.

use std::sync::{Arc, LazyLock};

use agentos_kit::health::HealthStatus;
use agentos_kit::http::HttpResponse;
use agentos_kit::{III, Registration, Worker, WorkerError, WorkerManifest};

use crate::{EmbedRequest, Embedder, EmbeddingError, InfoRequest, SimilarityRequest};

/// The embedding worker's manifest, derived from [`worker`]; `workers/embedding/iii.worker.yaml`
/// mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// The embedding worker: the `embedding::*` functions and `GET /v1/embedding` over one
/// [`Embedder`], which starts loading the model once they are registered.
pub fn worker() -> Worker<Arc<Embedder>, EmbeddingError> {
    Worker::<Arc<Embedder>, EmbeddingError>::new(
        "embedding",
        "Sentence embeddings computed locally: all-MiniLM-L6-v2 on candle (384 dimensions, mean pooling, normalised); embed a batch of texts, compare two, report whether the model is installed.",
    )
    .function(
        "embedding::embed",
        "Sentence embeddings: {texts: [string] (1..=256, each <= 64 KiB)} -> {model: \"all-minilm-l6-v2\", dims: 384, vectors: [[f32; 384]]} (unit vectors, request order).",
        |e, req: EmbedRequest| async move { e.embed(req).await },
    )
    .function(
        "embedding::similarity",
        "The cosine similarity of two texts: {a, b} -> {cosine} (-1..1; unrelated texts are near 0).",
        |e, req: SimilarityRequest| async move { e.similarity(req).await },
    )
    .function(
        "embedding::info",
        "The model: {} -> {model, dims, installed, dir, load_ms?, problem?}.",
        |e, _: InfoRequest| async move { Ok::<_, WorkerError>(e.info().await) },
    )
    // GET /v1/embedding: what embedding::info answers, for `agentos doctor` and people.
    .route("embedding::http_info", "GET", "/v1/embedding", |e, _req| async move {
        Ok(HttpResponse::ok(e.info().await))
    })
    .on_register(|r: &Registration<'_, Arc<Embedder>>| {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let embedder = Arc::clone(r.service);
            runtime.spawn(async move {
                // Errors are logged and reported through health by `model()` itself.
                let _ = embedder.model().await;
            });
        }
    })
}

/// Runs the embedding worker as its own process until SIGTERM or SIGINT
/// (`agentos worker embedding`). A missing model does not stop it (see the crate rules).
///
/// Errors: `INTERNAL` when no model folder can be named (no home directory and no variable).
pub fn run() -> Result<(), WorkerError> {
    let dir = crate::model::model_dir()?;
    tracing::info!(worker = MANIFEST.name, dir = %dir.display(), "embedding model folder");
    let health = HealthStatus::new();
    let embedder = Arc::new(Embedder::new(dir, health.clone()));
    worker().run_with_health(health, |_| Ok(embedder))
}

/// Registers the `embedding::*` functions and `GET /v1/embedding` (behind the bearer check
/// when `api_key` is set) on `iii`, over `embedder`, and starts loading the model in the
/// background when a tokio runtime is running.
pub fn register(iii: &III, embedder: Arc<Embedder>, api_key: Option<Arc<str>>) {
    worker().register(iii, embedder, api_key);
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_manifest_lists_every_verb_of_the_issue_and_its_route() {
        assert_eq!(
            MANIFEST.functions,
            &["embedding::embed", "embedding::similarity", "embedding::info", "embedding::http_info"]
        );
        assert_eq!(MANIFEST.validate(), Ok(()));
    }
}
