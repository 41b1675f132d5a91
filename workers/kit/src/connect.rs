//! Finding and connecting to the engine.
//!
//! Rule: a worker learns the engine address from `agentos worker NAME --engine URL` (through
//! [`set_engine_url`]), else `AGENTOS_ENGINE_URL` (or iii's own `III_URL`), else the local
//! default port. The SDK's telemetry socket goes to the same engine. The handshake presents
//! the worker's engine token (`AGENTOS_ENGINE_TOKEN`, or iii's `III_TOKEN`) when it has one.

use iii_sdk::{III, InitOptions, OtelConfig, WorkerMetadata};

/// The engine URL a worker uses when none is given (the engine's default worker port).
pub const DEFAULT_ENGINE_URL: &str = "ws://127.0.0.1:49134";

static ENGINE_URL_FLAG: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets the engine URL given on the command line; it wins over the environment. Only the first
/// call counts (a process runs one worker).
pub fn set_engine_url(url: &str) {
    let _ = ENGINE_URL_FLAG.set(url.to_string());
}

/// The engine URL: the `--engine` flag, else `AGENTOS_ENGINE_URL` (or `III_URL`, as iii's own
/// examples use), else the default local engine.
pub fn engine_url() -> String {
    if let Some(url) = ENGINE_URL_FLAG.get() {
        return url.clone();
    }
    std::env::var("AGENTOS_ENGINE_URL")
        .or_else(|_| std::env::var("III_URL"))
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ENGINE_URL.to_string())
}

/// Connects a worker named `name` (shown by `engine::workers::list`) to `url`, with the SDK's
/// default telemetry (an `/otel` socket to the same engine).
///
/// The SDK connects in its own thread and reconnects by itself every 2 s while the engine is
/// away, replaying every registration; calls made meanwhile wait until their timeout.
pub fn connect(url: &str, name: &str) -> III {
    connect_with_telemetry(url, name, true)
}

/// Like [`connect`], but with OpenTelemetry switched on or off explicitly.
///
/// The SDK's telemetry is process-global (the first connection picks its engine), so
/// processes that hold several connections to different engines, such as tests, turn it off.
pub fn connect_with_telemetry(url: &str, name: &str, telemetry: bool) -> III {
    connect_as(url, name, telemetry, engine_token().as_deref())
}

/// Connects presenting `token` in the handshake (`Authorization: Bearer …`); the SDK's
/// telemetry socket, which cannot send headers, carries it as the `token` query parameter.
pub fn connect_as(url: &str, name: &str, telemetry: bool, token: Option<&str>) -> III {
    let metadata = WorkerMetadata { name: name.to_string(), ..WorkerMetadata::default() };
    // Without this the SDK sends telemetry to III_URL or the default port, which may be a
    // different engine from the one the worker serves.
    let otel_url = match token {
        Some(token) if !url.contains('?') => format!("{url}?token={token}"),
        _ => url.to_string(),
    };
    let otel = OtelConfig { enabled: Some(telemetry), engine_ws_url: Some(otel_url), ..OtelConfig::default() };
    let headers =
        token.map(|t| std::collections::HashMap::from([("authorization".to_string(), format!("Bearer {t}"))]));
    iii_sdk::register_worker(url, InitOptions { metadata: Some(metadata), otel: Some(otel), headers })
}

/// The environment variable that carries a worker's engine token (`agentos up` sets it).
pub const ENGINE_TOKEN_ENV: &str = "AGENTOS_ENGINE_TOKEN";

/// The worker's engine token: `AGENTOS_ENGINE_TOKEN`, else iii's own `III_TOKEN`.
pub fn engine_token() -> Option<String> {
    [ENGINE_TOKEN_ENV, "III_TOKEN"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}
