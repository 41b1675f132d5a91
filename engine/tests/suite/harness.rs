//! Boots an engine on free ports with its own data dir; waits poll with a bounded deadline.

use std::time::{Duration, Instant};

use agentos_engine::{Engine, EngineConfig, RunningEngine};
use iii_sdk::{III, IIIError, InitOptions, OtelConfig, TriggerRequest, WorkerMetadata};
use serde_json::Value;

/// A running engine and its data dir.
pub struct TestEngine {
    running: Option<RunningEngine>,
    pub engine: Engine,
    pub ws_url: String,
    pub http_addr: std::net::SocketAddr,
    pub stream_addr: Option<std::net::SocketAddr>,
    _dir: tempfile::TempDir,
}

impl TestEngine {
    /// An engine on free ports whose config `tweak` adjusts first.
    pub async fn start_with(tweak: impl FnOnce(&mut EngineConfig)) -> Self {
        Self::start_with_setup(tweak, |_| {}).await
    }

    /// Like [`TestEngine::start_with`], with `setup` registering built-ins before any listener
    /// accepts a connection.
    pub async fn start_with_setup(tweak: impl FnOnce(&mut EngineConfig), setup: impl FnOnce(&Engine)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = EngineConfig { engine_port: 0, http_port: 0, stream_port: 0, ..EngineConfig::default() };
        tweak(&mut config);
        let running = agentos_engine::start_with(config, dir.path().join("data"), setup).await.expect("engine starts");
        Self {
            engine: running.engine.clone(),
            ws_url: running.ws_url(),
            http_addr: running.http_addr.expect("http enabled"),
            stream_addr: running.stream_addr,
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
}

/// A client worker with OpenTelemetry off.
pub fn client(url: &str) -> III {
    client_with(url, None)
}

/// A client worker presenting `Authorization: <authorization>` in its handshake.
pub fn client_with(url: &str, authorization: Option<&str>) -> III {
    let metadata = WorkerMetadata { name: "client".to_string(), ..WorkerMetadata::default() };
    let otel = OtelConfig { enabled: Some(false), ..OtelConfig::default() };
    let headers =
        authorization.map(|a| std::collections::HashMap::from([("authorization".to_string(), a.to_string())]));
    iii_sdk::register_worker(url, InitOptions { metadata: Some(metadata), otel: Some(otel), headers })
}

/// A raw WebSocket handshake on `http_url` with extra headers; the HTTP status it gets.
pub async fn handshake(http_url: &str, headers: &[(&str, &str)]) -> u16 {
    let client = reqwest::Client::builder().no_proxy().http1_only().build().expect("client");
    let mut request = client
        .get(http_url)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("the engine answers").status().as_u16()
}

/// Calls `function_id`, retrying for up to 10 s while the client is still connecting.
pub async fn call(iii: &III, function_id: &str, payload: Value) -> Result<Value, IIIError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let request = TriggerRequest {
            function_id: function_id.to_string(),
            payload: payload.clone(),
            action: None,
            timeout_ms: Some(10_000),
        };
        match iii.trigger(request).await {
            Ok(v) => return Ok(v),
            Err(e @ IIIError::Remote { .. }) => return Err(e),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// The code and message of a remote error; panics on anything else.
pub fn remote(result: Result<Value, IIIError>) -> (String, String) {
    match result {
        Err(IIIError::Remote { code, message, .. }) => (code, message),
        other => panic!("expected a remote error, got {other:?}"),
    }
}
