//! The thin glue between the memory service and the engine: the [`Backend`] over iii calls and
//! the declaration of `memory::*`, the `/v1/memory` routes, the `state` trigger on the `realms`
//! scope and the periodic re-embedding task.
//!
//! Rules it keeps:
//! - No decisions here: each handler decodes, calls one verb of [`Memories`] and encodes.
//! - `GET /v1/memory/search` reads its filters from the query string: `q` (required), `k`,
//!   `realm`, `agent` and `tags` (comma-separated).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use agentos_kit::http::{HttpRequest, HttpResponse};
use agentos_kit::state::STATE_TIMEOUT;
use agentos_kit::{ErrorCode, III, Registration, Worker, WorkerError, WorkerManifest};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::MemoryError;
use crate::service::{Backend, Embeddings, Memories, RealmChanged};
use crate::settings::Settings;
use crate::{ConsolidateRequest, EvictRequest, MemoryRef, RecallRequest, StatsRequest, StoreRequest};

/// The memory worker's manifest, derived from [`worker`]; `workers/memory/iii.worker.yaml`
/// mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// The memory service the worker serves: its verbs over the engine's state and embeddings.
pub type Service = Arc<Memories<IiiBackend>>;

/// The memory worker: every `memory::*` function, the `realms` state trigger, the `/v1/memory`
/// routes and the periodic re-embedding, over one [`Service`].
pub fn worker() -> Worker<Service, MemoryError> {
    Worker::<Service, MemoryError>::new(
        "memory",
        "Long-term memory: store with near-duplicate merging, hybrid recall (BM25 + embeddings + recency + importance), forget, consolidate and evict, per realm.",
    )
    .function(
        "memory::store",
        "Remembers a text: {text, realm?, agent?, tags?, importance?} -> {memory, merged}; a near-duplicate of the same agent merges into the older memory.",
        |s, req: StoreRequest| async move { s.store(req).await },
    )
    .request_format(store_schema())
    .function(
        "memory::recall",
        "Hybrid recall: {query, realm?, agent?, tags?, k?} -> {memories: [{id, text, score, scores: {bm25, cosine, recency, importance}, tags, agent, created_ms}], semantic, note?}.",
        |s, req: RecallRequest| async move { s.recall(req).await },
    )
    .request_format(recall_schema())
    .function("memory::get", "One memory: {id, realm?} -> Memory.", |s, req: MemoryRef| async move { s.get(req).await })
    .function("memory::forget", "Deletes a memory: {id, realm?} -> {forgotten}.", |s, req: MemoryRef| async move {
        s.forget(req).await
    })
    .function(
        "memory::consolidate",
        "Merges clusters of related memories: {realm?, agent?, threshold?} -> {merged: [{id, merged_from}], compared, not_embedded}.",
        |s, req: ConsolidateRequest| async move { s.consolidate(req).await },
    )
    .function(
        "memory::evict",
        "Deletes old, unimportant or over-cap memories: {realm?, agent?, max_per_agent?, older_than_days?, below_importance?} -> {evicted}.",
        |s, req: EvictRequest| async move { s.evict(req).await },
    )
    .function(
        "memory::stats",
        "Counts for a realm: {realm?} -> {realm, memories, embedded, pending_embedding, agents, model?, vector_bytes}.",
        |s, req: StatsRequest| async move { s.stats(req).await },
    )
    // Realm import and delete rebuild the index: without this trigger they would not until a
    // restart.
    .trigger(
        "state",
        json!({"scope": agentos_worker_realm::REALMS_SCOPE}),
        "memory::realm_changed",
        "State trigger on the realms scope: drops the realm's memory index so it is rebuilt from state, and sweeps the memories of a deleted realm.",
        |s, event: RealmChanged| async move { s.realm_changed(&event).await.map(|_swept| ()) },
    )
    // POST /v1/memory: store; 201 (200 when merged into an existing memory).
    .route("memory::http_store", "POST", "/v1/memory", |s, req| async move {
        let stored = s.store(req.body_as()?).await?;
        let status = if stored.merged { 200 } else { 201 };
        let location = format!("/v1/memory/{}?realm={}", stored.memory.id, stored.memory.realm);
        Ok(HttpResponse::json(status, &stored).with_header("location", location))
    })
    // GET /v1/memory/search?q=…: recall.
    .route("memory::http_search", "GET", "/v1/memory/search", |s, req| async move {
        Ok(HttpResponse::ok(s.recall(search_request(&req)?).await?))
    })
    // GET /v1/memory/:id?realm=: one memory.
    .route("memory::http_get", "GET", "/v1/memory/:id", |s, req| async move {
        Ok(HttpResponse::ok(s.get(memory_ref(&req)?).await?))
    })
    // DELETE /v1/memory/:id?realm=: forget one.
    .route("memory::http_forget", "DELETE", "/v1/memory/:id", |s, req| async move {
        Ok(HttpResponse::ok(s.forget(memory_ref(&req)?).await?))
    })
    .on_register(|r: &Registration<'_, Service>| reembed_periodically(r.service))
}

/// Runs the memory worker as its own process until SIGTERM or SIGINT (`agentos worker memory`),
/// with the `[memory]` section of the config file.
pub fn run() -> Result<(), WorkerError> {
    let settings = Settings::load()?;
    worker().run(|iii| Ok(Memories::new(IiiBackend::new(iii.clone()), settings)))
}

/// Registers every `memory::*` function, the `/v1/memory` routes and the `realms` state
/// trigger on `iii`, and starts the periodic re-embedding (when a tokio runtime is running).
pub fn register(iii: &III, settings: Settings, api_key: Option<Arc<str>>) {
    worker().register(iii, Memories::new(IiiBackend::new(iii.clone()), settings), api_key);
}

/// Re-embeds the loaded realms' memories stored without a vector, every
/// `reembed_interval_secs` (when a tokio runtime is running).
fn reembed_periodically(svc: &Service) {
    let interval = Duration::from_secs(svc.settings().reembed_interval_secs);
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            let svc = Arc::clone(svc);
            handle.spawn(async move {
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    svc.reembed_loaded().await;
                }
            });
        }
        Err(_) => {
            tracing::warn!("memory: no tokio runtime; memories stored without a vector are embedded only after recalls")
        }
    }
}

/// The backend over a live iii connection: `state::*` and `embedding::embed`.
#[derive(Clone)]
pub struct IiiBackend {
    iii: III,
}

impl IiiBackend {
    /// A backend over `iii`.
    pub fn new(iii: III) -> Self {
        Self { iii }
    }
}

/// What `state::list_groups` answers.
#[derive(Deserialize)]
struct Groups {
    #[serde(default)]
    groups: Vec<String>,
}

/// The `embedding::embed` request.
#[derive(Serialize)]
struct EmbedRequest {
    texts: Vec<String>,
}

impl Backend for IiiBackend {
    async fn scopes(&self) -> Result<Vec<String>, WorkerError> {
        let groups: Groups = agentos_kit::call(&self.iii, "state::list_groups", &json!({}), STATE_TIMEOUT).await?;
        Ok(groups.groups)
    }

    async fn list(&self, scope: &str) -> Result<Vec<Value>, WorkerError> {
        agentos_kit::state::list(&self.iii, scope).await
    }

    async fn get(&self, scope: &str, key: &str) -> Result<Option<Value>, WorkerError> {
        agentos_kit::state::get(&self.iii, scope, key).await
    }

    async fn set(&self, scope: &str, key: &str, value: Value) -> Result<(), WorkerError> {
        agentos_kit::state::set(&self.iii, scope, key, &value).await
    }

    async fn delete(&self, scope: &str, key: &str) -> Result<bool, WorkerError> {
        agentos_kit::state::delete(&self.iii, scope, key).await
    }

    async fn embed(&self, texts: Vec<String>, timeout: Duration) -> Result<Embeddings, WorkerError> {
        agentos_kit::call(&self.iii, "embedding::embed", &EmbedRequest { texts }, timeout).await
    }

    fn now_ms(&self) -> u64 {
        agentos_kit::clock::now_ms()
    }
}

/// The input schema of `memory::store`, for agents that offer it to a model as a tool. `realm`
/// is left out of the tool schemas: agent-core runs a model's memory calls in the turn's realm.
pub fn store_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": "What to remember: one self-contained fact, preference or decision (1 to 16000 characters)."},
            "tags": tags_schema(),
            "importance": {"type": "number", "minimum": 0, "maximum": 1, "description": "How much it matters, 0 to 1 (default 0.5)."}
        },
        "required": ["text"],
        "additionalProperties": false
    })
}

/// The input schema of `memory::recall`, as a tool (see [`store_schema`]).
pub fn recall_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look for, in words (meaning and rare identifiers both count)."},
            "tags": tags_schema(),
            "k": {"type": "integer", "minimum": 1, "maximum": 50, "description": "How many memories (default 5)."}
        },
        "required": ["query"],
        "additionalProperties": false
    })
}

/// The schema of `tags` in both tool schemas.
fn tags_schema() -> Value {
    json!({"type": "array", "items": {"type": "string"}, "maxItems": 32})
}

/// The recall a `GET /v1/memory/search` asks for.
pub fn search_request(req: &HttpRequest) -> Result<RecallRequest, WorkerError> {
    let query = req.query("q").unwrap_or_default().to_string();
    if query.trim().is_empty() {
        return Err(MemoryError::Invalid(
            "GET /v1/memory/search needs ?q=<what to look for> (and optionally k, realm, agent, tags=a,b)".to_string(),
        )
        .to_worker_error());
    }
    let k = match req.query("k").map(str::trim).filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(k.parse::<usize>().map_err(|_| {
            MemoryError::Invalid(format!("k is {k:?}: give a whole number from 1 to 50")).to_worker_error()
        })?),
    };
    let text = |name: &str| req.query(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let tags =
        text("tags").map(|t| t.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect());
    Ok(RecallRequest { query, realm: text("realm"), agent: text("agent"), tags, k })
}

/// The memory a `/v1/memory/:id` route names.
fn memory_ref(req: &HttpRequest) -> Result<MemoryRef, WorkerError> {
    Ok(MemoryRef { id: req.path_param("id")?.to_string(), realm: req.query("realm").map(str::to_string) })
}
