//! The thin glue between the memory service and the engine: the manifest, the [`Backend`] over
//! iii calls, the bindings of `memory::*`, the `/v1/memory` routes, the `state` trigger on the
//! `realms` scope and the periodic re-embedding task.
//!
//! Rules it keeps:
//! - No decisions here: each handler decodes, calls one verb of [`Memories`] and encodes.
//! - `GET /v1/memory/search` reads its filters from the query string: `q` (required), `k`,
//!   `realm`, `agent` and `tags` (comma-separated).

use std::sync::Arc;
use std::time::Duration;

use agentos_kit::http::{HttpRequest, HttpResponse, register_route_or_log};
use agentos_kit::state::STATE_TIMEOUT;
use agentos_kit::{
    HttpRoute, III, RegisterFunctionMessage, RestartPolicy, WorkerError, WorkerManifest, register_typed,
    register_typed_with,
};
use iii_sdk::RegisterTriggerInput;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::MemoryError;
use crate::service::{Backend, Embeddings, Memories, RealmChanged};
use crate::settings::Settings;
use crate::{ConsolidateRequest, EvictRequest, MemoryRef, RecallRequest, StatsRequest, StoreRequest};

/// `POST /v1/memory`: store; 201 (200 when merged into an existing memory).
const HTTP_STORE: HttpRoute = HttpRoute { method: "POST", path: "/v1/memory", function_id: "memory::http_store" };
/// `GET /v1/memory/search?q=…`: recall.
const HTTP_SEARCH: HttpRoute =
    HttpRoute { method: "GET", path: "/v1/memory/search", function_id: "memory::http_search" };
/// `GET /v1/memory/:id?realm=`: one memory.
const HTTP_GET: HttpRoute = HttpRoute { method: "GET", path: "/v1/memory/:id", function_id: "memory::http_get" };
/// `DELETE /v1/memory/:id?realm=`: forget one.
const HTTP_FORGET: HttpRoute =
    HttpRoute { method: "DELETE", path: "/v1/memory/:id", function_id: "memory::http_forget" };

/// The memory worker's manifest; `workers/memory/iii.worker.yaml` mirrors it.
pub static MANIFEST: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "memory",
    description: "Long-term memory: store with near-duplicate merging, hybrid recall (BM25 + embeddings + recency + importance), forget, consolidate and evict, per realm.",
    functions: vec![
        "memory::store",
        "memory::recall",
        "memory::get",
        "memory::forget",
        "memory::consolidate",
        "memory::evict",
        "memory::stats",
        "memory::realm_changed",
        "memory::http_store",
        "memory::http_search",
        "memory::http_get",
        "memory::http_forget",
    ],
    http_routes: vec![HTTP_STORE, HTTP_SEARCH, HTTP_GET, HTTP_FORGET],
    depends_on: &[],
    restart: RestartPolicy::Always,
});

/// Runs the memory worker as its own process until SIGTERM or SIGINT (`agentos worker memory`),
/// with the `[memory]` section of the config file.
pub fn run() -> Result<(), WorkerError> {
    let settings = Settings::load()?;
    agentos_kit::run_worker(&MANIFEST, |iii| register(iii, settings, agentos_kit::http::api_key_from_env()))
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

/// The registration of a function agents may offer a model as a tool: its description and the
/// input schema the model fills in. `realm` is left out of the schemas: agent-core runs a
/// model's memory calls in the turn's realm.
fn tool(id: &str, description: &str) -> RegisterFunctionMessage {
    let mut message = RegisterFunctionMessage::with_id(id.to_string()).with_description(description.to_string());
    message.request_format = Some(tool_schema(id));
    message
}

/// The input schema of `memory::store` or `memory::recall`.
pub fn tool_schema(id: &str) -> Value {
    let tags = json!({"type": "array", "items": {"type": "string"}, "maxItems": 32});
    if id == "memory::store" {
        json!({
            "type": "object",
            "properties": {
                "text": {"type": "string", "description": "What to remember: one self-contained fact, preference or decision (1 to 16000 characters)."},
                "tags": tags,
                "importance": {"type": "number", "minimum": 0, "maximum": 1, "description": "How much it matters, 0 to 1 (default 0.5)."}
            },
            "required": ["text"],
            "additionalProperties": false
        })
    } else {
        json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for, in words (meaning and rare identifiers both count)."},
                "tags": tags,
                "k": {"type": "integer", "minimum": 1, "maximum": 50, "description": "How many memories (default 5)."}
            },
            "required": ["query"],
            "additionalProperties": false
        })
    }
}

/// Registers every `memory::*` function, the `/v1/memory` routes and the `realms` state
/// trigger on `iii`, and starts the periodic re-embedding (when a tokio runtime is running).
pub fn register(iii: &III, settings: Settings, api_key: Option<Arc<str>>) {
    let interval = Duration::from_secs(settings.reembed_interval_secs);
    let svc = Memories::new(IiiBackend::new(iii.clone()), settings);

    let s = svc.clone();
    register_typed_with(
        iii,
        tool(
            "memory::store",
            "Remembers a text: {text, realm?, agent?, tags?, importance?} -> {memory, merged}; a near-duplicate of the same agent merges into the older memory.",
        ),
        move |req: StoreRequest| {
            let s = s.clone();
            async move { s.store(req).await.map_err(WorkerError::from) }
        },
    );
    let s = svc.clone();
    register_typed_with(
        iii,
        tool(
            "memory::recall",
            "Hybrid recall: {query, realm?, agent?, tags?, k?} -> {memories: [{id, text, score, scores: {bm25, cosine, recency, importance}, tags, agent, created_ms}], semantic, note?}.",
        ),
        move |req: RecallRequest| {
            let s = s.clone();
            async move { s.recall(req).await.map_err(WorkerError::from) }
        },
    );
    let s = svc.clone();
    register_typed(iii, "memory::get", "One memory: {id, realm?} -> Memory.", move |req: MemoryRef| {
        let s = s.clone();
        async move { s.get(req).await.map_err(WorkerError::from) }
    });
    let s = svc.clone();
    register_typed(iii, "memory::forget", "Deletes a memory: {id, realm?} -> {forgotten}.", move |req: MemoryRef| {
        let s = s.clone();
        async move { s.forget(req).await.map_err(WorkerError::from) }
    });
    let s = svc.clone();
    register_typed(
        iii,
        "memory::consolidate",
        "Merges clusters of related memories: {realm?, agent?, threshold?} -> {merged: [{id, merged_from}], compared, not_embedded}.",
        move |req: ConsolidateRequest| {
            let s = s.clone();
            async move { s.consolidate(req).await.map_err(WorkerError::from) }
        },
    );
    let s = svc.clone();
    register_typed(
        iii,
        "memory::evict",
        "Deletes old, unimportant or over-cap memories: {realm?, agent?, max_per_agent?, older_than_days?, below_importance?} -> {evicted}.",
        move |req: EvictRequest| {
            let s = s.clone();
            async move { s.evict(req).await.map_err(WorkerError::from) }
        },
    );
    let s = svc.clone();
    register_typed(
        iii,
        "memory::stats",
        "Counts for a realm: {realm?} -> {realm, memories, embedded, pending_embedding, agents, model?, vector_bytes}.",
        move |req: StatsRequest| {
            let s = s.clone();
            async move { s.stats(req).await.map_err(WorkerError::from) }
        },
    );
    let s = svc.clone();
    register_typed(
        iii,
        "memory::realm_changed",
        "State trigger on the realms scope: drops the realm's memory index so it is rebuilt from state, and sweeps the memories of a deleted realm.",
        move |event: RealmChanged| {
            let s = s.clone();
            async move {
                s.realm_changed(&event).await.map_err(WorkerError::from)?;
                Ok::<_, WorkerError>(Value::Null)
            }
        },
    );
    if let Err(e) = iii.register_trigger(RegisterTriggerInput {
        trigger_type: "state".to_string(),
        function_id: "memory::realm_changed".to_string(),
        config: json!({"scope": agentos_worker_realm::REALMS_SCOPE}),
        metadata: None,
    }) {
        tracing::error!(
            "memory: could not register the realms state trigger (realm import and delete will not refresh the index until a restart): {e}"
        );
    }

    if api_key.is_none() {
        tracing::warn!(worker = MANIFEST.name, "no API key (AGENTOS_API_KEY): /v1/memory refuses every request");
    }
    let s = svc.clone();
    register_route_or_log(iii, MANIFEST.name, HTTP_STORE, &api_key, move |req| {
        let s = s.clone();
        async move {
            let stored = s.store(req.body_as()?).await?;
            let status = if stored.merged { 200 } else { 201 };
            let location = format!("/v1/memory/{}?realm={}", stored.memory.id, stored.memory.realm);
            Ok(HttpResponse::json(status, &stored).with_header("location", location))
        }
    });
    let s = svc.clone();
    register_route_or_log(iii, MANIFEST.name, HTTP_SEARCH, &api_key, move |req| {
        let s = s.clone();
        async move { Ok(HttpResponse::ok(s.recall(search_request(&req)?).await?)) }
    });
    let s = svc.clone();
    register_route_or_log(iii, MANIFEST.name, HTTP_GET, &api_key, move |req| {
        let s = s.clone();
        async move { Ok(HttpResponse::ok(s.get(memory_ref(&req)?).await?)) }
    });
    let s = svc.clone();
    register_route_or_log(iii, MANIFEST.name, HTTP_FORGET, &api_key, move |req| {
        let s = s.clone();
        async move { Ok(HttpResponse::ok(s.forget(memory_ref(&req)?).await?)) }
    });

    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
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

/// The recall a `GET /v1/memory/search` asks for.
pub fn search_request(req: &HttpRequest) -> Result<RecallRequest, WorkerError> {
    let query = req.query("q").unwrap_or_default().to_string();
    if query.trim().is_empty() {
        return Err(MemoryError::Invalid(
            "GET /v1/memory/search needs ?q=<what to look for> (and optionally k, realm, agent, tags=a,b)".to_string(),
        )
        .into());
    }
    let k = match req.query("k").map(str::trim).filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(k.parse::<usize>().map_err(|_| {
            WorkerError::from(MemoryError::Invalid(format!("k is {k:?}: give a whole number from 1 to 50")))
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
