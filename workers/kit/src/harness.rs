//! The test harness (feature `test-harness`): boot the embedded engine, connect workers
//! in-process through the real iii-sdk, call them.
//!
//! Rules it keeps:
//! - Every stack gets free ports and its own temporary data dir, so tests run in parallel.
//! - Waits poll with a bounded deadline ([`WAIT`]), never a bare sleep; a worker is handed out
//!   only once every manifest function, its health function and its HTTP routes are registered.
//! - Failures panic with what was missing: this is test code, and the panic is the report.
//! - SDK telemetry is off: it is process-global, and parallel stacks would fight over it.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use agentos_engine::{Engine, EngineConfig, RunningEngine};
use iii_sdk::{III, IIIConnectionState};

use crate::connect_with_telemetry;
use crate::health::{HealthStatus, register_manifest_health_with};
use crate::manifest::WorkerManifest;

/// The longest any harness wait lasts. Registration over loopback takes milliseconds; 10 s
/// leaves room for a loaded CI machine without letting a broken test hang.
pub const WAIT: Duration = Duration::from_secs(10);

/// How often waits poll: fast enough not to slow tests, slow enough not to spin.
const POLL: Duration = Duration::from_millis(20);

/// A running embedded engine plus the workers and client connected to it.
pub struct TestStack {
    running: Option<RunningEngine>,
    engine: Engine,
    ws_url: String,
    http_url: String,
    client: III,
    workers: Mutex<Vec<III>>,
    _dir: tempfile::TempDir,
}

impl TestStack {
    /// Boots the engine with its default config on free ports in a temporary data dir, and
    /// connects a client.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestStack::start`], after `tweak` adjusts the config (ports stay free ports
    /// unless `tweak` sets them).
    pub async fn start_with(tweak: impl FnOnce(&mut EngineConfig)) -> Self {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("cannot create a temporary data dir: {e}"),
        };
        let mut config = EngineConfig { engine_port: 0, http_port: 0, stream_port: 0, ..EngineConfig::default() };
        tweak(&mut config);
        let running = match agentos_engine::start(config, dir.path().join("data")).await {
            Ok(r) => r,
            Err(e) => panic!("the embedded engine did not start ({}): {e}", e.code()),
        };
        let ws_url = running.ws_url();
        let http_url = running.http_addr.map(|a| format!("http://{a}")).unwrap_or_default();
        let client = connect_with_telemetry(&ws_url, "test-client", false);
        let stack = Self {
            engine: running.engine.clone(),
            running: Some(running),
            ws_url,
            http_url,
            client,
            workers: Mutex::new(Vec::new()),
            _dir: dir,
        };
        let client = stack.client.clone();
        wait_until("the test client to connect", || {
            let connected = client.get_connection_state() == IIIConnectionState::Connected;
            async move { connected }
        })
        .await;
        stack
    }

    /// Connects a worker for `manifest` in-process, registers its health function and calls
    /// `register`, then waits until every manifest function, the health function and every
    /// HTTP route are registered in the engine. Panics when the manifest is invalid or
    /// something is still missing after [`WAIT`].
    pub async fn worker(&self, manifest: &WorkerManifest, register: impl FnOnce(&III)) -> III {
        self.worker_with_health(manifest, HealthStatus::default(), register).await
    }

    /// Like [`TestStack::worker`], with the health function answering from `health` (see
    /// [`crate::run::run_worker_with_health`]).
    pub async fn worker_with_health(
        &self,
        manifest: &WorkerManifest,
        health: HealthStatus,
        register: impl FnOnce(&III),
    ) -> III {
        if let Err(problems) = manifest.validate() {
            panic!("worker manifest {:?} is invalid:\n  {}", manifest.name, problems.join("\n  "));
        }
        let iii = connect_with_telemetry(&self.ws_url, manifest.name, false);
        register_manifest_health_with(&iii, manifest, health);
        register(&iii);
        self.workers.lock().unwrap_or_else(PoisonError::into_inner).push(iii.clone());

        let deadline = Instant::now() + WAIT;
        loop {
            let missing = self.missing(manifest);
            if missing.is_empty() {
                return iii;
            }
            assert!(
                Instant::now() < deadline,
                "worker {:?} did not register within {WAIT:?}; still missing:\n  {}",
                manifest.name,
                missing.join("\n  ")
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// What of `manifest` the engine does not have yet: function ids and `http` routes.
    fn missing(&self, manifest: &WorkerManifest) -> Vec<String> {
        let mut missing: Vec<String> = manifest
            .all_function_ids()
            .into_iter()
            .filter(|id| !self.engine.has_function(id))
            .map(|id| format!("function {id}"))
            .collect();
        if !manifest.http_routes.is_empty() {
            let triggers = agentos_engine::triggers::all(&self.engine);
            for route in &manifest.http_routes {
                let present = triggers.iter().any(|t| t.trigger_type == "http" && t.function_id == route.function_id);
                if !present {
                    missing.push(format!("http route {} {} -> {}", route.method, route.path, route.function_id));
                }
            }
        }
        missing
    }

    /// A connected client for calls (shared: every call returns the same connection).
    pub fn client(&self) -> III {
        self.client.clone()
    }

    /// The engine handle, for assertions that look inside it.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The worker socket URL (`ws://127.0.0.1:PORT`).
    pub fn ws_url(&self) -> &str {
        &self.ws_url
    }

    /// The REST port's base URL (`http://127.0.0.1:PORT`); empty when HTTP is disabled.
    pub fn http_url(&self) -> &str {
        &self.http_url
    }

    /// Disconnects every worker and the client, then stops the engine.
    pub async fn stop(mut self) {
        let mut conns: Vec<III> = std::mem::take(&mut *self.workers.lock().unwrap_or_else(PoisonError::into_inner));
        conns.push(self.client.clone());
        // `III::shutdown` joins the SDK's connection thread: keep that off the async executor.
        let _ = tokio::task::spawn_blocking(move || conns.iter().for_each(III::shutdown)).await;
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

impl Drop for TestStack {
    /// A stack dropped without [`TestStack::stop`] (a failing test) still closes its
    /// connections, so their threads do not keep reconnecting to a dead port.
    fn drop(&mut self) {
        let mut conns: Vec<III> = std::mem::take(&mut *self.workers.lock().unwrap_or_else(PoisonError::into_inner));
        if self.running.is_some() {
            conns.push(self.client.clone());
        }
        if !conns.is_empty() {
            std::thread::spawn(move || conns.iter().for_each(III::shutdown));
        }
    }
}

/// Polls `check` every 20 ms until it is true; panics naming `what` after [`WAIT`].
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out after {WAIT:?} waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}
