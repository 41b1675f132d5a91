//! The worker's glue: `security::map_list`, `security::map_check` and
//! `GET /v1/security/capabilities` over the capability map and the token file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use agentos_kit::http::HttpResponse;
use agentos_kit::{Worker, WorkerError, WorkerManifest};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::map::{self, Identity};
use crate::tokens::TokenFile;

/// The environment variable naming the engine token file (set by `agentos up`).
pub const TOKENS_FILE_ENV: &str = "AGENTOS_ENGINE_TOKENS";

/// The security-map worker's manifest, derived from [`worker`];
/// `workers/security-map/iii.worker.yaml` mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// The token file the map reads, when there is one; every call gets a clone of the handle.
pub type Tokens = Option<Arc<Path>>;

/// The security-map worker: `security::map_list`, `security::map_check` and
/// `GET /v1/security/capabilities` over the token file.
pub fn worker() -> Worker<Tokens, WorkerError> {
    Worker::new(
        "security-map",
        "The capability map: engine identities, the namespaces each owns, and which functions and state scopes each may reach.",
    )
    .function(
        "security::map_list",
        "The capability map: {} -> {guarded_calls, guarded_scopes, forbidden_engine_functions, identities}.",
        |t: Tokens, _: Value| async move { capabilities(t.as_deref()) },
    )
    .function(
        "security::map_check",
        "Whether an identity may make a call: {identity: {identity, kind, namespaces, calls}, function_id, payload?} -> {allowed, reason?}.",
        |_, req: CheckRequest| async move {
            Ok::<_, WorkerError>(match map::check_call(&req.identity, &req.function_id, &req.payload) {
                Ok(()) => json!({"allowed": true}),
                Err(reason) => json!({"allowed": false, "reason": reason}),
            })
        },
    )
    .route("security::http_capabilities", "GET", "/v1/security/capabilities", |t, _req| async move {
        Ok(HttpResponse::ok(capabilities(t.as_deref())?))
    })
}

/// Runs the worker until SIGTERM or SIGINT (`agentos worker security-map`).
pub fn run() -> Result<(), WorkerError> {
    let tokens = std::env::var_os(TOKENS_FILE_ENV).map(|p| Arc::from(PathBuf::from(p)));
    worker().run(|_| Ok(tokens))
}

/// One identity as the map shows it (never its token digest).
#[derive(Debug, Clone, Serialize)]
pub struct IdentityRow {
    pub identity: String,
    pub kind: crate::tokens::Kind,
    pub namespaces: Vec<String>,
    pub calls: Vec<String>,
}

/// The whole map: the guards, the engine built-ins nobody may call, and every identity.
pub fn capabilities(tokens: Option<&Path>) -> Result<Value, WorkerError> {
    let identities: Vec<IdentityRow> = match tokens {
        Some(path) => TokenFile::load(path)
            .map_err(|e| WorkerError::internal(e.to_string()))?
            .entries
            .into_iter()
            .map(|e| IdentityRow { identity: e.identity, kind: e.kind, namespaces: e.namespaces, calls: e.calls })
            .collect(),
        None => Vec::new(),
    };
    Ok(json!({
        "guarded_calls": map::GUARDED_CALLS,
        "guarded_scopes": map::GUARDED_SCOPES,
        "forbidden_engine_functions": map::FORBIDDEN_ENGINE_FUNCTIONS,
        "forbidden_engine_functions_external": map::FORBIDDEN_ENGINE_FUNCTIONS_EXTERNAL,
        "identities": identities,
    }))
}

/// `security::map_check`'s input.
#[derive(Debug, Deserialize)]
struct CheckRequest {
    identity: Identity,
    function_id: String,
    #[serde(default)]
    payload: Value,
}
