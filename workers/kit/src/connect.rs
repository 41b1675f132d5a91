//! Finding and connecting to the engine.
//!
//! Rule: a worker learns the engine address only from `AGENTOS_ENGINE_URL` (or iii's own
//! `III_URL`), falling back to the local default port, so `agentos worker NAME --engine URL` and
//! the supervisor both steer it through the environment.

use iii_sdk::{III, InitOptions, OtelConfig, WorkerMetadata};

/// The engine URL a worker uses when none is given (the engine's default worker port).
pub const DEFAULT_ENGINE_URL: &str = "ws://127.0.0.1:49134";

/// The engine URL from `AGENTOS_ENGINE_URL` (or `III_URL`, as iii's own examples use), else
/// the default local engine.
pub fn engine_url() -> String {
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
    let metadata = WorkerMetadata { name: name.to_string(), ..WorkerMetadata::default() };
    iii_sdk::register_worker(url, InitOptions { metadata: Some(metadata), ..InitOptions::default() })
}

/// Like [`connect`], but with OpenTelemetry switched on or off explicitly.
///
/// The SDK's telemetry is process-global (the first connection picks its engine), so
/// processes that hold several connections to different engines, such as tests, turn it off.
pub fn connect_with_telemetry(url: &str, name: &str, telemetry: bool) -> III {
    let metadata = WorkerMetadata { name: name.to_string(), ..WorkerMetadata::default() };
    let otel = OtelConfig { enabled: Some(telemetry), ..OtelConfig::default() };
    iii_sdk::register_worker(url, InitOptions { metadata: Some(metadata), otel: Some(otel), ..InitOptions::default() })
}
