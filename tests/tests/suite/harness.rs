//! Boots the engine on free ports with its own data dir, connects real SDK workers, and waits
//! with bounded deadlines (never a bare sleep).

use std::future::Future;
use std::time::{Duration, Instant};

use agentos_engine::{Engine, EngineConfig, RunningEngine};
use iii_sdk::{III, InitOptions, OtelConfig, TriggerRequest, WorkerMetadata};
use serde_json::Value;

/// A running engine and what a test needs to reach it.
pub struct TestEngine {
    running: Option<RunningEngine>,
    pub engine: Engine,
    pub ws_url: String,
    pub http_url: String,
    pub stream_addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl TestEngine {
    /// An engine with default config on free ports.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// An engine whose config `tweak` adjusts first.
    pub async fn start_with(tweak: impl FnOnce(&mut EngineConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = EngineConfig { engine_port: 0, http_port: 0, stream_port: 0, ..EngineConfig::default() };
        tweak(&mut config);
        let running = agentos_engine::start(config, dir.path().join("data")).await.expect("engine starts");
        Self {
            engine: running.engine.clone(),
            ws_url: running.ws_url(),
            http_url: format!("http://{}", running.http_addr.expect("http enabled")),
            stream_addr: running.stream_addr.expect("streams enabled"),
            running: Some(running),
            _dir: dir,
        }
    }

    /// Stops the engine.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }

    /// Waits until a function id is registered.
    pub async fn wait_function(&self, id: &str) {
        let engine = self.engine.clone();
        let id = id.to_string();
        wait_until(&format!("function {id} registered"), move || {
            let ok = engine.has_function(&id);
            async move { ok }
        })
        .await;
    }

    /// Waits until a function id is gone.
    pub async fn wait_no_function(&self, id: &str) {
        let engine = self.engine.clone();
        let id = id.to_string();
        wait_until(&format!("function {id} unregistered"), move || {
            let ok = !engine.has_function(&id);
            async move { ok }
        })
        .await;
    }

    /// Waits until at least `n` triggers are registered.
    pub async fn wait_triggers(&self, n: usize) {
        let engine = self.engine.clone();
        wait_until(&format!("{n} triggers registered"), move || {
            let ok = agentos_engine::triggers::all(&engine).len() >= n;
            async move { ok }
        })
        .await;
    }
}

/// A worker connected to `url`, with OpenTelemetry on (the SDK default) so the `/otel` socket
/// and trace propagation are exercised too.
pub fn worker(url: &str, name: &str) -> III {
    let metadata = WorkerMetadata { name: name.to_string(), ..WorkerMetadata::default() };
    iii_sdk::register_worker(url, InitOptions { metadata: Some(metadata), ..InitOptions::default() })
}

/// A worker with OpenTelemetry off.
pub fn quiet_worker(url: &str, name: &str) -> III {
    let metadata = WorkerMetadata { name: name.to_string(), ..WorkerMetadata::default() };
    let otel = OtelConfig { enabled: Some(false), ..OtelConfig::default() };
    iii_sdk::register_worker(url, InitOptions { metadata: Some(metadata), otel: Some(otel), ..InitOptions::default() })
}

/// A plain call with a timeout.
pub fn call(function_id: &str, payload: Value) -> TriggerRequest {
    TriggerRequest { function_id: function_id.to_string(), payload, action: None, timeout_ms: Some(10_000) }
}

/// Polls `check` every 20 ms until it is true; panics with `what` after 10 s.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Retries an SDK call until it succeeds (the worker may still be connecting); returns it.
pub async fn call_when_ready(iii: &III, function_id: &str, payload: Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match iii.trigger(call(function_id, payload.clone())).await {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{function_id} never succeeded: {e}"),
        }
    }
}

/// Registers a raw JSON handler under `id`.
pub fn register<F, Fut>(iii: &III, id: &str, handler: F)
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, iii_sdk::IIIError>> + Send + 'static,
{
    iii.register_function_with(iii_sdk::RegisterFunctionMessage::with_id(id.to_string()), handler);
}

/// Calls a function through the engine handle itself (no socket), for assertions.
pub async fn engine_call(
    engine: &Engine,
    function_id: &str,
    payload: Value,
) -> Result<Option<Value>, agentos_protocol::ErrorBody> {
    engine.call(function_id, payload, agentos_engine::engine::CallOptions::default()).await.0
}
