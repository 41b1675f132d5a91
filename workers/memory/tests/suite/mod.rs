//! One module per concern, each test booting its own [`TestStack`].

mod bus;
mod http;
mod restart;
mod semantic;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agentos_kit::harness::{TestStack, wait_until};
use agentos_kit::health::HealthStatus;
use agentos_kit::{III, WorkerError, call};
use agentos_worker_embedding::model::{MODEL_DIR_ENV, missing_files};
use agentos_worker_memory::{MANIFEST, Recall, RecallRequest, Settings, Stats, StoreRequest, Stored, register};
use serde_json::json;

/// How long a bus call may take in tests: generous for a loaded CI machine (the first embedding
/// call may wait for the model to load).
pub const T: Duration = Duration::from_secs(60);

/// The API key the HTTP tests use.
pub const KEY: &str = "test-key";

/// Registers the memory worker on `stack` with default settings and [`KEY`].
pub async fn start_memory(stack: &TestStack) -> III {
    stack.worker(&MANIFEST, |iii| register(iii, Settings::default(), Some(Arc::from(KEY)))).await
}

/// The installed model's folder; panics with the fix when it is not installed.
pub fn model_dir() -> PathBuf {
    let Some(dir) = std::env::var_os(MODEL_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from) else {
        panic!(
            "{MODEL_DIR_ENV} is not set: the semantic memory tests need the all-MiniLM-L6-v2 model; run scripts/install-test-deps.sh, then export {MODEL_DIR_ENV}=$PWD/.models/all-minilm-l6-v2 (scripts/test does both)"
        );
    };
    let missing = missing_files(&dir);
    assert!(
        missing.is_empty(),
        "{MODEL_DIR_ENV}={} lacks {}: run scripts/install-test-deps.sh",
        dir.display(),
        missing.join(", ")
    );
    dir
}

/// Registers the real embedding worker on `stack` over the installed model.
pub async fn start_embedding(stack: &TestStack) -> III {
    let health = HealthStatus::new();
    let embedder = Arc::new(agentos_worker_embedding::Embedder::new(model_dir(), health.clone()));
    stack
        .worker_with_health(&agentos_worker_embedding::MANIFEST, health, |iii| {
            agentos_worker_embedding::register(iii, embedder, None)
        })
        .await
}

/// Registers the real realm worker on `stack`.
pub async fn start_realm(stack: &TestStack) -> III {
    stack.worker(&agentos_worker_realm::MANIFEST, |iii| agentos_worker_realm::register(iii, None)).await
}

/// `memory::store` of `text` with the given options.
pub async fn store(client: &III, req: StoreRequest) -> Stored {
    call(client, "memory::store", &req, T).await.unwrap()
}

/// `memory::store` of a plain text in the default realm.
pub async fn store_text(client: &III, text: &str) -> Stored {
    store(client, StoreRequest { text: text.into(), ..StoreRequest::default() }).await
}

/// `memory::recall`.
pub async fn recall(client: &III, req: RecallRequest) -> Result<Recall, WorkerError> {
    call(client, "memory::recall", &req, T).await
}

/// `memory::recall` of a query in the default realm.
pub async fn recall_text(client: &III, query: &str) -> Recall {
    recall(client, RecallRequest { query: query.into(), ..RecallRequest::default() }).await.unwrap()
}

/// `memory::stats` of a realm.
pub async fn stats(client: &III, realm: &str) -> Stats {
    call(client, "memory::stats", &json!({"realm": realm}), T).await.unwrap()
}

/// The ids of a recall, best first.
pub fn ids(r: &Recall) -> Vec<String> {
    r.memories.iter().map(|m| m.id.clone()).collect()
}

/// Waits (at most [`T`]: embedding includes loading the model) until every memory of `realm`
/// has an embedding.
pub async fn wait_embedded(client: &III, realm: &str) {
    let deadline = std::time::Instant::now() + T;
    loop {
        let s = stats(client, realm).await;
        if s.pending_embedding == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "memories of {realm} still not embedded after {T:?}: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the engine no longer lists `function_id` (a worker's connection was dropped).
pub async fn wait_gone(stack: &TestStack, function_id: &str) {
    let engine = stack.engine().clone();
    let id = function_id.to_string();
    wait_until(&format!("{function_id} to be unregistered"), || {
        let gone = !engine.has_function(&id);
        async move { gone }
    })
    .await;
}
