//! The worker's glue: `security::map_list`, `security::map_check` and
//! `GET /v1/security/capabilities` over the capability map and the token file.

use std::path::PathBuf;
use std::sync::Arc;

use agentos_kit::http::{HttpResponse, register_route_or_log};
use agentos_kit::{HttpRoute, III, RestartPolicy, WorkerError, WorkerManifest, register_typed};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::map::{self, Identity};
use crate::tokens::TokenFile;

/// The environment variable naming the engine token file (set by `agentos up`).
pub const TOKENS_FILE_ENV: &str = "AGENTOS_ENGINE_TOKENS";

const HTTP_CAPABILITIES: HttpRoute =
    HttpRoute { method: "GET", path: "/v1/security/capabilities", function_id: "security::http_capabilities" };

/// The security-map worker's manifest; `workers/security-map/iii.worker.yaml` mirrors it.
pub static MANIFEST: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "security-map",
    description: "The capability map: engine identities, the namespaces each owns, and which functions and state scopes each may reach.",
    functions: vec!["security::map_list", "security::map_check", "security::http_capabilities"],
    http_routes: vec![HTTP_CAPABILITIES],
    depends_on: &[],
    restart: RestartPolicy::Always,
});

/// Runs the worker until SIGTERM or SIGINT (`agentos worker security-map`).
pub fn run() -> Result<(), WorkerError> {
    let tokens = std::env::var_os(TOKENS_FILE_ENV).map(PathBuf::from);
    agentos_kit::run_worker(&MANIFEST, |iii| register(iii, agentos_kit::http::api_key_from_env(), tokens))
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
pub fn capabilities(tokens: Option<&std::path::Path>) -> Result<Value, WorkerError> {
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

/// Registers the worker's functions and route on `iii`.
pub fn register(iii: &III, api_key: Option<Arc<str>>, tokens: Option<PathBuf>) {
    let tokens = Arc::new(tokens);
    let t = Arc::clone(&tokens);
    register_typed(
        iii,
        "security::map_list",
        "The capability map: {} -> {guarded_calls, guarded_scopes, forbidden_engine_functions, identities}.",
        move |_: Value| {
            let t = Arc::clone(&t);
            async move { capabilities(t.as_deref()) }
        },
    );
    register_typed(
        iii,
        "security::map_check",
        "Whether an identity may make a call: {identity: {identity, kind, namespaces, calls}, function_id, payload?} -> {allowed, reason?}.",
        |req: CheckRequest| async move {
            Ok::<_, WorkerError>(match map::check_call(&req.identity, &req.function_id, &req.payload) {
                Ok(()) => json!({"allowed": true}),
                Err(reason) => json!({"allowed": false, "reason": reason}),
            })
        },
    );
    let t = Arc::clone(&tokens);
    register_route_or_log(iii, MANIFEST.name, HTTP_CAPABILITIES, &api_key, move |_req| {
        let t = Arc::clone(&t);
        async move { Ok(HttpResponse::ok(capabilities(t.as_deref())?)) }
    });
}
