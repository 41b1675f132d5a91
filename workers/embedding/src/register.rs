//! The thin glue between the embedder and the engine: the manifest and the bindings of
//! `embedding::embed`, `embedding::similarity`, `embedding::info` and `GET /v1/embedding`.
//!
//! Rules it keeps:
//! - No decisions here: each handler calls one method of [`Embedder`] and encodes its answer.
//! - The model folder is resolved when the worker starts ([`crate::model::model_dir`]); the
//!   model starts loading right after registration, in the background, so the worker is ready
//!   (its functions registered) without waiting for the weights.

use std::sync::Arc;

use agentos_kit::health::HealthStatus;
use agentos_kit::http::{HttpRequest, HttpResponse, register_route_or_log};
use agentos_kit::{HttpRoute, III, RestartPolicy, WorkerError, WorkerManifest, register_typed};

use crate::{EmbedRequest, Embedder, InfoRequest, SimilarityRequest};

/// `GET /v1/embedding`: what `embedding::info` answers, for `agentos doctor` and people.
const INFO_ROUTE: HttpRoute = HttpRoute { method: "GET", path: "/v1/embedding", function_id: "embedding::http_info" };

/// The embedding worker's manifest; `workers/embedding/iii.worker.yaml` mirrors it.
pub static MANIFEST: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "embedding",
    description: "Sentence embeddings computed locally: all-MiniLM-L6-v2 on candle (384 dimensions, mean pooling, normalised); embed a batch of texts, compare two, report whether the model is installed.",
    functions: vec!["embedding::embed", "embedding::similarity", "embedding::info", "embedding::http_info"],
    http_routes: vec![INFO_ROUTE],
    depends_on: &[],
    restart: RestartPolicy::Always,
});

/// Runs the embedding worker as its own process until SIGTERM or SIGINT
/// (`agentos worker embedding`). A missing model does not stop it (see the crate rules).
///
/// Errors: `INTERNAL` when no model folder can be named (no home directory and no variable).
pub fn run() -> Result<(), WorkerError> {
    let dir = crate::model::model_dir()?;
    tracing::info!(worker = MANIFEST.name, dir = %dir.display(), "embedding model folder");
    let health = HealthStatus::new();
    let embedder = Arc::new(Embedder::new(dir, health.clone()));
    let api_key = agentos_kit::http::api_key_from_env();
    agentos_kit::run_worker_with_health(&MANIFEST, health, |iii| register(iii, embedder, api_key))
}

/// Registers the `embedding::*` functions and `GET /v1/embedding` (behind the bearer check
/// when `api_key` is set) on `iii`, over `embedder`, and starts loading the model in the
/// background when a tokio runtime is running.
pub fn register(iii: &III, embedder: Arc<Embedder>, api_key: Option<Arc<str>>) {
    let e = Arc::clone(&embedder);
    register_typed(
        iii,
        "embedding::embed",
        "Sentence embeddings: {texts: [string] (1..=256, each <= 64 KiB)} -> {model: \"all-minilm-l6-v2\", dims: 384, vectors: [[f32; 384]]} (unit vectors, request order).",
        move |req: EmbedRequest| {
            let e = Arc::clone(&e);
            async move { e.embed(req).await.map_err(WorkerError::from) }
        },
    );
    let e = Arc::clone(&embedder);
    register_typed(
        iii,
        "embedding::similarity",
        "The cosine similarity of two texts: {a, b} -> {cosine} (-1..1; unrelated texts are near 0).",
        move |req: SimilarityRequest| {
            let e = Arc::clone(&e);
            async move { e.similarity(req).await.map_err(WorkerError::from) }
        },
    );
    let e = Arc::clone(&embedder);
    register_typed(
        iii,
        "embedding::info",
        "The model: {} -> {model, dims, installed, dir, load_ms?, problem?}.",
        move |_: InfoRequest| {
            let e = Arc::clone(&e);
            async move { Ok::<_, WorkerError>(e.info().await) }
        },
    );
    let e = Arc::clone(&embedder);
    let handler = move |_: HttpRequest| {
        let e = Arc::clone(&e);
        async move { Ok::<_, WorkerError>(HttpResponse::ok(e.info().await)) }
    };
    register_route_or_log(iii, MANIFEST.name, INFO_ROUTE, &api_key, handler);
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            // Errors are logged and reported through health by `model()` itself.
            let _ = embedder.model().await;
        });
    }
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
