//! The supervisor's driver: boots the engine, starts workers in `depends_on` order, decides
//! readiness and liveness, restarts by policy, and stops everything on a signal.
//!
//! Readiness = the worker's process runs, every function of its manifest is registered in the
//! engine, and its `<name>::health` answers within [`HEALTH_TIMEOUT`]. Liveness = the same
//! health call every [`LIVENESS_PERIOD`]; [`LIVENESS_FAILURES`] misses in a row restart it.
//! Decisions about restarts are the pure [`crate::policy::decide`]; this module only carries
//! them out.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentos_kit::{III, RestartPolicy, WorkerManifest};
use nix::sys::signal::Signal;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::home::Home;
use crate::policy::{Decision, Exit, History, RestartLimits, decide};
use crate::runtime::RuntimeInfo;
use crate::spawn;

/// How long a health call may take before it counts as a miss.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a ready worker's health is checked.
pub const LIVENESS_PERIOD: Duration = Duration::from_secs(5);
/// Misses in a row that make a worker unhealthy.
pub const LIVENESS_FAILURES: u32 = 3;
/// How often readiness is polled while workers start: fast, because start-up time is what the
/// user waits for, and one `engine::functions::list` call is cheap.
const READINESS_POLL: Duration = Duration::from_millis(25);
/// How long the engine may take to accept connections.
const ENGINE_START: Duration = Duration::from_secs(15);

/// What `up` needs.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub home: Home,
    /// The `agentos` binary, re-run as `agentos engine` and `agentos worker <name>`.
    pub exe: PathBuf,
    pub workers: Vec<&'static WorkerManifest>,
    pub engine_port: u16,
    pub http_port: u16,
    pub stream_port: u16,
    /// A real iii binary instead of the embedded engine.
    pub engine_bin: Option<PathBuf>,
    pub grace: Duration,
    pub limits: RestartLimits,
    /// `AGENTOS_LOG` for children.
    pub log_level: String,
    /// The directory workers treat as the user's workspace (where `up` was started).
    pub workspace: PathBuf,
    /// Extra environment per worker name, applied after the supervisor's own.
    pub worker_env: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// Run the engine's worker socket without tokens (`up --insecure-no-auth`).
    pub insecure_no_auth: bool,
}

/// A worker's state and its `status` row (the status contract, shared with every reader).
pub use agentos_protocol::status::{WorkerState, WorkerStatus};

/// A row as published, with when its running process started: its uptime is computed when the
/// row is read.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub(crate) row: WorkerStatus,
    pub(crate) started: Option<Instant>,
}

impl Published {
    /// The row with `uptime_ms` as of now.
    pub(crate) fn refreshed(&self) -> WorkerStatus {
        WorkerStatus { uptime_ms: self.started.map(|t| t.elapsed().as_millis() as u64), ..self.row.clone() }
    }
}

/// What the handlers of `supervisor::*` and `/v1/workers` may ask the driver.
pub(crate) enum Command {
    Restart(String, oneshot::Sender<Result<(), String>>),
}

enum Event {
    Exited { name: String, generation: u64, exit: Exit },
    EngineExited { generation: u64, exit: Exit },
    RestartDue { name: String, generation: u64 },
    EngineRestartDue,
    Probed(Probe),
}

/// What one readiness or liveness probe saw. Probes run off the event loop, their health calls
/// side by side, so an engine that stops answering never delays the handling of exits and
/// restarts (sixteen sequential one-second timeouts once did).
struct Probe {
    kind: ProbeKind,
    /// The engine generation the probe asked; answers from a replaced engine are dropped.
    engine_generation: u64,
    /// Every function id the engine lists; `None` when it did not answer.
    registered: Option<HashSet<String>>,
    /// Every HTTP route as `(METHOD, path, function)`; liveness probes only.
    routes: Option<HashSet<(String, String, String)>>,
    /// `(slot index, slot generation, health answer)` of every probed worker.
    health: Vec<(usize, u64, Result<Option<String>, String>)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ProbeKind {
    Readiness,
    Liveness,
}

struct Slot {
    manifest: &'static WorkerManifest,
    state: WorkerState,
    pid: Option<u32>,
    generation: u64,
    restarts: u32,
    history: History,
    started: Option<Instant>,
    launched_at: Option<Duration>,
    ready_after: Option<Duration>,
    last_error: Option<String>,
    functions_registered: usize,
    health_misses: u32,
    manual_restart: bool,
    /// Why the supervisor killed it, shown as its last error once it has exited.
    kill_reason: Option<String>,
    /// What its health function says is wrong while it still serves (degraded).
    problem: Option<String>,
}

/// Shared view for the status handlers.
type Snapshot = Arc<Mutex<Vec<Published>>>;

/// The supervisor; `run` drives it until a stop signal.
pub struct Supervisor {
    opts: UpOptions,
    api_key: String,
    origin: Instant,
    slots: Vec<Slot>,
    snapshot: Snapshot,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_tx: mpsc::UnboundedSender<Command>,
    engine_pid: Option<u32>,
    engine_generation: u64,
    engine_history: History,
    client: Option<III>,
    stopping: bool,
    /// Each identity's engine token for this run (worker name → token); never logged.
    tokens: HashMap<String, String>,
    /// When a ready worker was first seen missing a registration.
    missing_since: HashMap<String, Instant>,
    /// Probes still running, so that a slow engine never piles them up.
    readiness_in_flight: bool,
    liveness_in_flight: bool,
}

/// Why the stack could not run.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    /// The engine did not accept connections in time.
    #[error("the engine did not start listening on port {port} within {secs}s; see {log}")]
    EngineStart { port: u16, secs: u64, log: String },
    /// A process could not be spawned.
    #[error("cannot start {what}: {source}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Supervisor {
    /// Prepares a supervisor; nothing runs yet.
    pub fn new(opts: UpOptions, api_key: String) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let slots = order(&opts.workers)
            .into_iter()
            .map(|manifest| Slot {
                manifest,
                state: WorkerState::Pending,
                pid: None,
                generation: 0,
                restarts: 0,
                history: History::default(),
                started: None,
                launched_at: None,
                ready_after: None,
                last_error: None,
                functions_registered: 0,
                health_misses: 0,
                manual_restart: false,
                kill_reason: None,
                problem: None,
            })
            .collect();
        Self {
            opts,
            api_key,
            origin: Instant::now(),
            slots,
            snapshot: Arc::default(),
            events_tx,
            events,
            commands,
            commands_tx,
            engine_pid: None,
            engine_generation: 0,
            engine_history: History::default(),
            client: None,
            stopping: false,
            tokens: HashMap::new(),
            missing_since: HashMap::new(),
            readiness_in_flight: false,
            liveness_in_flight: false,
        }
    }

    /// Mints a fresh engine token for the supervisor and every worker (the namespaces of its
    /// manifest) and writes their digests to the token file; earlier workers' tokens stop working.
    fn issue_tokens(&mut self) -> Result<(), UpError> {
        let mut identities: Vec<(String, Vec<String>)> =
            self.slots.iter().map(|slot| (slot.manifest.name.to_string(), namespaces_of(slot.manifest))).collect();
        identities.push(("supervisor".to_string(), vec!["supervisor".to_string()]));
        let path = self.opts.home.engine_tokens_file();
        let io = |e: agentos_worker_security_map::tokens::TokenError| UpError::Io {
            what: "writing the engine token file".into(),
            source: std::io::Error::other(e.to_string()),
        };
        let mut file = agentos_worker_security_map::tokens::TokenFile::load(&path).map_err(io)?;
        self.tokens = file.reissue_workers(&identities).into_iter().collect();
        file.save(&path).map_err(io)
    }

    /// What is not enforced on the worker socket in this run, if anything (for `doctor`).
    fn engine_auth_gap(&self) -> Option<String> {
        if self.opts.insecure_no_auth {
            Some("the engine runs with --insecure-no-auth: any process on this machine can connect as a worker and call every function; fix: restart without --insecure-no-auth".into())
        } else if self.opts.engine_bin.is_some() {
            Some("the real iii engine runs without agentos's token check, namespace ownership and capability map (its config has no rbac block, since the checks are built into agentos's embedded engine); keep its port on 127.0.0.1 and trust every local user, or use the embedded engine".into())
        } else {
            None
        }
    }

    fn engine_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.opts.engine_port)
    }

    /// Boots everything, prints the start-up report through `on_ready`, then supervises until
    /// `stop` resolves; then stops workers and the engine last.
    pub async fn run(
        mut self,
        on_ready: impl FnOnce(&[WorkerStatus]),
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), UpError> {
        self.issue_tokens()?;
        self.start_engine()?;
        self.wait_for_engine().await?;
        let token = self.tokens.get("supervisor").cloned();
        let client = agentos_kit::connect_as(&self.engine_url(), "supervisor", false, token.as_deref());
        crate::api::register(
            &client,
            self.snapshot.clone(),
            self.commands_tx.clone(),
            &self.api_key,
            self.opts.home.clone(),
        );
        self.client = Some(client);
        RuntimeInfo {
            pid: std::process::id(),
            engine_url: self.engine_url(),
            http_url: format!("http://127.0.0.1:{}", self.opts.http_port),
            engine_port: self.opts.engine_port,
            http_port: self.opts.http_port,
            stream_port: self.opts.stream_port,
            engine_auth_gap: self.engine_auth_gap(),
        }
        .write(&self.opts.home)
        .map_err(|source| UpError::Io { what: "writing the runtime file".into(), source })?;

        let mut on_ready = Some(on_ready);
        let mut readiness = tokio::time::interval(READINESS_POLL);
        let mut liveness = tokio::time::interval(LIVENESS_PERIOD);
        tokio::pin!(stop);
        self.start_due_workers();
        loop {
            self.publish();
            if on_ready.is_some() && self.settled() {
                let rows: Vec<WorkerStatus> = lock(&self.snapshot).iter().map(|p| p.row.clone()).collect();
                if let Some(report) = on_ready.take() {
                    report(&rows);
                }
            }
            tokio::select! {
                _ = &mut stop => break,
                Some(event) = self.events.recv() => self.handle_event(event),
                Some(command) = self.commands.recv() => self.handle_command(command),
                _ = readiness.tick(), if self.any_starting() => self.probe(ProbeKind::Readiness),
                _ = liveness.tick() => self.probe(ProbeKind::Liveness),
            }
        }
        self.shutdown().await;
        Ok(())
    }

    fn settled(&self) -> bool {
        self.slots.iter().all(|s| matches!(s.state, WorkerState::Ready | WorkerState::Failed | WorkerState::Stopped))
    }

    fn any_starting(&self) -> bool {
        self.slots.iter().any(|s| s.state == WorkerState::Starting)
    }

    // ---- engine ------------------------------------------------------------------------------

    fn start_engine(&mut self) -> Result<(), UpError> {
        let o = &self.opts;
        let config = crate::iii_config::write(&o.home, o.engine_port, o.http_port, o.stream_port)
            .map_err(|source| UpError::Io { what: "writing the iii config".into(), source })?;
        let (program, args) = match &o.engine_bin {
            Some(bin) => (bin.clone(), vec!["--config".to_string(), config.display().to_string()]),
            None => (
                o.exe.clone(),
                vec![
                    "engine".into(),
                    "--config".into(),
                    config.display().to_string(),
                    "--engine-port".into(),
                    o.engine_port.to_string(),
                    "--http-port".into(),
                    o.http_port.to_string(),
                    "--stream-port".into(),
                    o.stream_port.to_string(),
                    "--data-dir".into(),
                    o.home.data_dir.display().to_string(),
                    "--tokens-file".into(),
                    o.home.engine_tokens_file().display().to_string(),
                ]
                .into_iter()
                .chain(o.insecure_no_auth.then(|| "--insecure-no-auth".to_string()))
                .collect(),
            ),
        };
        let env = vec![("AGENTOS_LOG".to_string(), o.log_level.clone()), ("NO_COLOR".to_string(), "1".to_string())];
        let mut child = spawn::spawn(&program, &args, &env, spawn::Inherit::Plain, &o.home.log_file("engine"))
            .map_err(|source| UpError::Spawn { what: format!("the engine ({})", program.display()), source })?;
        self.engine_generation += 1;
        self.engine_pid = child.id();
        let generation = self.engine_generation;
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            let exit = exit_of(child.wait().await);
            let _ = tx.send(Event::EngineExited { generation, exit });
        });
        Ok(())
    }

    async fn wait_for_engine(&self) -> Result<(), UpError> {
        let deadline = Instant::now() + ENGINE_START;
        let addrs = [self.opts.engine_port, self.opts.http_port];
        while Instant::now() < deadline {
            let mut all = true;
            for port in addrs {
                if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                    all = false;
                }
            }
            if all {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(UpError::EngineStart {
            port: self.opts.engine_port,
            secs: ENGINE_START.as_secs(),
            log: self.opts.home.log_file("engine").display().to_string(),
        })
    }

    // ---- workers -----------------------------------------------------------------------------

    fn start_due_workers(&mut self) {
        let ready: HashSet<&str> =
            self.slots.iter().filter(|s| s.state == WorkerState::Ready).map(|s| s.manifest.name).collect();
        let due: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state == WorkerState::Pending && s.manifest.depends_on.iter().all(|d| ready.contains(d)))
            .map(|(i, _)| i)
            .collect();
        for i in due {
            self.launch(i);
        }
    }

    fn launch(&mut self, i: usize) {
        let engine_url = self.engine_url();
        let slot = &mut self.slots[i];
        let name = slot.manifest.name.to_string();
        let env = vec![
            ("AGENTOS_ENGINE_URL".to_string(), engine_url),
            ("AGENTOS_API_KEY".to_string(), self.api_key.clone()),
            ("AGENTOS_WORKER_NAME".to_string(), name.clone()),
            ("AGENTOS_LOG".to_string(), self.opts.log_level.clone()),
            ("NO_COLOR".to_string(), "1".to_string()),
            // Worker telemetry goes to the engine's /otel socket; keep it on the same engine.
            ("III_URL".to_string(), format!("ws://127.0.0.1:{}", self.opts.engine_port)),
            ("AGENTOS_WORKSPACE".to_string(), self.opts.workspace.display().to_string()),
            ("AGENTOS_CONFIG".to_string(), self.opts.home.config_file().display().to_string()),
            ("AGENTOS_CONFIG_DIR".to_string(), self.opts.home.config_dir.display().to_string()),
            ("AGENTOS_DATA_DIR".to_string(), self.opts.home.data_dir.display().to_string()),
        ];
        let mut env = env;
        if let Some(token) = self.tokens.get(&name) {
            env.push((agentos_kit::ENGINE_TOKEN_ENV.to_string(), token.clone()));
        }
        if name == "security-map" {
            let tokens = self.opts.home.engine_tokens_file().display().to_string();
            env.push((agentos_worker_security_map::TOKENS_FILE_ENV.to_string(), tokens));
        }
        if let Some(extra) = self.opts.worker_env.get(&name) {
            env.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let args = vec!["worker".to_string(), name.clone()];
        slot.generation += 1;
        slot.functions_registered = 0;
        slot.health_misses = 0;
        // Provider keys and the rest of the user's environment go to llm-router alone.
        let inherit = if name == "llm-router" { spawn::Inherit::All } else { spawn::Inherit::Plain };
        match spawn::spawn(&self.opts.exe, &args, &env, inherit, &self.opts.home.log_file(&name)) {
            Ok(mut child) => {
                slot.pid = child.id();
                slot.state = WorkerState::Starting;
                slot.started = Some(Instant::now());
                slot.launched_at = Some(self.origin.elapsed());
                slot.ready_after = None;
                let (tx, generation) = (self.events_tx.clone(), slot.generation);
                tokio::spawn(async move {
                    let exit = exit_of(child.wait().await);
                    let _ = tx.send(Event::Exited { name, generation, exit });
                });
            }
            Err(e) => {
                slot.last_error = Some(format!("cannot start: {e}"));
                slot.state = WorkerState::Failed;
            }
        }
    }

    /// Starts a readiness probe (the workers still starting) or a liveness probe (the ready
    /// ones) unless one of that kind is still running; its answer arrives as [`Event::Probed`].
    fn probe(&mut self, kind: ProbeKind) {
        let Some(client) = self.client.clone() else { return };
        let (in_flight, wanted) = match kind {
            ProbeKind::Readiness => (&mut self.readiness_in_flight, WorkerState::Starting),
            ProbeKind::Liveness => (&mut self.liveness_in_flight, WorkerState::Ready),
        };
        if *in_flight {
            return;
        }
        *in_flight = true;
        let workers: Vec<(usize, u64, &'static WorkerManifest)> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state == wanted)
            .map(|(i, s)| (i, s.generation, s.manifest))
            .collect();
        let (tx, engine_generation) = (self.events_tx.clone(), self.engine_generation);
        tokio::spawn(async move {
            let probe = match kind {
                ProbeKind::Readiness => probe_readiness(&client, workers).await,
                ProbeKind::Liveness => probe_liveness(&client, workers).await,
            };
            let _ = tx.send(Event::Probed(Probe { kind, engine_generation, ..probe }));
        });
    }

    fn probed(&mut self, probe: Probe) {
        match probe.kind {
            ProbeKind::Readiness => self.readiness_in_flight = false,
            ProbeKind::Liveness => self.liveness_in_flight = false,
        }
        if probe.engine_generation != self.engine_generation || self.stopping {
            return;
        }
        match (probe.kind, probe.registered, probe.routes) {
            (ProbeKind::Readiness, Some(registered), _) => self.readiness_probed(&registered, probe.health),
            (ProbeKind::Readiness, None, _) => {}
            (ProbeKind::Liveness, registered, routes) => {
                if let (Some(registered), Some(routes)) = (registered, routes) {
                    self.check_registrations(&registered, &routes);
                }
                self.liveness_probed(probe.health);
            }
        }
    }

    fn readiness_probed(
        &mut self,
        registered: &HashSet<String>,
        health: Vec<(usize, u64, Result<Option<String>, String>)>,
    ) {
        for slot in self.slots.iter_mut().filter(|s| s.state == WorkerState::Starting) {
            let expected = slot.manifest.all_function_ids();
            slot.functions_registered = expected.iter().filter(|f| registered.contains(f.as_str())).count();
        }
        let mut became_ready = false;
        for (i, generation, answer) in health {
            let slot = &mut self.slots[i];
            let Ok(problem) = answer else { continue };
            if slot.generation != generation || slot.state != WorkerState::Starting {
                continue;
            }
            slot.problem = problem;
            slot.state = WorkerState::Ready;
            slot.ready_after = slot.started.map(|s| s.elapsed());
            slot.last_error = None;
            became_ready = true;
            tracing::info!(worker = slot.manifest.name, ready_after_ms = ?slot.ready_after.map(|d| d.as_millis()), "worker ready");
        }
        if became_ready {
            self.start_due_workers();
        }
    }

    fn liveness_probed(&mut self, health: Vec<(usize, u64, Result<Option<String>, String>)>) {
        for (i, generation, answer) in health {
            let slot = &mut self.slots[i];
            if slot.generation != generation || slot.state != WorkerState::Ready {
                continue;
            }
            match answer {
                Ok(problem) => {
                    slot.health_misses = 0;
                    slot.problem = problem;
                }
                Err(e) => {
                    slot.health_misses += 1;
                    slot.last_error = Some(format!("health check failed: {e}"));
                    if slot.health_misses >= LIVENESS_FAILURES {
                        tracing::warn!(
                            worker = slot.manifest.name,
                            "unhealthy after {LIVENESS_FAILURES} missed health checks; restarting"
                        );
                        slot.manual_restart = false;
                        if let Some(pid) = slot.pid {
                            spawn::signal_group(pid, Signal::SIGKILL);
                        }
                        slot.last_error = Some(Exit::Unhealthy.describe());
                    }
                }
            }
        }
    }

    /// A ready worker whose function or route is gone from the engine is not ready any more: it
    /// is restarted, and its last error says what disappeared. One liveness period of grace
    /// covers a worker's own reconnect.
    fn check_registrations(&mut self, registered: &HashSet<String>, routes: &HashSet<(String, String, String)>) {
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            if slot.state != WorkerState::Ready {
                self.missing_since.remove(slot.manifest.name);
                continue;
            }
            let manifest = slot.manifest;
            let gone = missing_registrations(manifest, registered, routes);
            if gone.is_empty() {
                self.missing_since.remove(manifest.name);
                continue;
            }
            let first_seen = *self.missing_since.entry(manifest.name.to_string()).or_insert_with(Instant::now);
            if first_seen.elapsed() < LIVENESS_PERIOD {
                continue;
            }
            self.missing_since.remove(manifest.name);
            let why = format!("{} disappeared from the engine; restarting", gone.join(", "));
            tracing::warn!(worker = manifest.name, "{why}");
            let slot = &mut self.slots[i];
            slot.state = WorkerState::Starting;
            slot.manual_restart = false;
            slot.last_error = Some(why.clone());
            slot.kill_reason = Some(why);
            if let Some(pid) = slot.pid {
                spawn::signal_group(pid, Signal::SIGKILL);
            }
        }
    }

    fn handle_event(&mut self, event: Event) {
        match event {
            Event::Exited { name, generation, exit } => self.worker_exited(&name, generation, exit),
            Event::RestartDue { name, generation } => {
                if let Some(i) = self.slots.iter().position(|s| s.manifest.name == name)
                    && self.slots[i].state == WorkerState::Backoff
                    && self.slots[i].generation == generation
                    && !self.stopping
                {
                    self.launch(i);
                }
            }
            Event::EngineExited { generation, exit } => {
                if generation != self.engine_generation || self.stopping {
                    return;
                }
                self.engine_pid = None;
                let uptime = Duration::ZERO;
                let limits = RestartLimits { max_restarts: usize::MAX, ..self.opts.limits };
                let delay = match decide(
                    RestartPolicy::Always,
                    limits,
                    &mut self.engine_history,
                    exit,
                    uptime,
                    self.origin.elapsed(),
                ) {
                    Decision::RestartAfter(d) => d.min(Duration::from_millis(200)),
                    _ => Duration::from_millis(200),
                };
                tracing::warn!("the engine {}; restarting it", exit.describe());
                for slot in &mut self.slots {
                    if slot.state == WorkerState::Ready {
                        // Workers reconnect on their own; they are ready again once their
                        // functions are back on the bus.
                        slot.state = WorkerState::Starting;
                        slot.started = Some(Instant::now());
                    }
                }
                let tx = self.events_tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(Event::EngineRestartDue);
                });
            }
            Event::Probed(probe) => self.probed(probe),
            Event::EngineRestartDue => {
                if !self.stopping
                    && let Err(e) = self.start_engine()
                {
                    tracing::error!("cannot restart the engine: {e}");
                }
            }
        }
    }

    fn worker_exited(&mut self, name: &str, generation: u64, exit: Exit) {
        let Some(i) = self.slots.iter().position(|s| s.manifest.name == name) else { return };
        let now = self.origin.elapsed();
        let stopping = self.stopping;
        let limits = self.opts.limits;
        let slot = &mut self.slots[i];
        if slot.generation != generation {
            return;
        }
        slot.pid = None;
        let uptime = slot.started.map(|s| s.elapsed()).unwrap_or_default();
        if stopping {
            slot.state = WorkerState::Stopped;
            return;
        }
        if slot.manual_restart {
            slot.manual_restart = false;
            slot.history = History::default();
            slot.restarts += 1;
            self.launch(i);
            return;
        }
        if let Some(reason) = slot.kill_reason.take() {
            slot.last_error = Some(reason);
        } else if slot.last_error.as_deref() != Some(&Exit::Unhealthy.describe()) {
            slot.last_error = Some(exit.describe());
        }
        match decide(slot.manifest.restart, limits, &mut slot.history, exit, uptime, now) {
            Decision::RestartAfter(delay) if delay.is_zero() => {
                slot.restarts += 1;
                tracing::warn!(worker = name, "{}; restarting it now", exit.describe());
                self.launch(i);
            }
            Decision::RestartAfter(delay) => {
                slot.state = WorkerState::Backoff;
                slot.restarts += 1;
                tracing::warn!(worker = name, "{}; restarting in {} ms", exit.describe(), delay.as_millis());
                let (tx, name, generation) = (self.events_tx.clone(), name.to_string(), slot.generation);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(Event::RestartDue { name, generation });
                });
            }
            Decision::Stay => slot.state = WorkerState::Stopped,
            Decision::Fail => {
                slot.state = WorkerState::Failed;
                slot.last_error = Some(format!(
                    "{}; gave up after {} restarts within {}s (restart it with `agentos restart {name}`)",
                    exit.describe(),
                    limits.max_restarts,
                    limits.window.as_secs()
                ));
                tracing::error!(worker = name, "failed: too many restarts");
            }
        }
    }

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::Restart(name, reply) => {
                let Some(i) = self.slots.iter().position(|s| s.manifest.name == name) else {
                    let known: Vec<&str> = self.slots.iter().map(|s| s.manifest.name).collect();
                    let _ = reply.send(Err(format!("no worker named '{name}'; known: {}", known.join(", "))));
                    return;
                };
                let slot = &mut self.slots[i];
                match slot.pid {
                    Some(pid) => {
                        slot.manual_restart = true;
                        spawn::signal_group(pid, Signal::SIGTERM);
                        let grace = self.opts.grace;
                        tokio::spawn(async move {
                            tokio::time::sleep(grace).await;
                            if spawn::alive(pid) {
                                spawn::signal_group(pid, Signal::SIGKILL);
                            }
                        });
                    }
                    None => {
                        slot.history = History::default();
                        slot.restarts += 1;
                        self.launch(i);
                    }
                }
                let _ = reply.send(Ok(()));
            }
        }
    }

    fn publish(&self) {
        let rows = self
            .slots
            .iter()
            .map(|s| Published {
                row: WorkerStatus {
                    name: s.manifest.name.to_string(),
                    description: s.manifest.description.to_string(),
                    state: s.state,
                    pid: s.pid,
                    restarts: s.restarts,
                    uptime_ms: s.started.filter(|_| s.pid.is_some()).map(|t| t.elapsed().as_millis() as u64),
                    functions_registered: s.functions_registered,
                    functions_expected: s.manifest.all_function_ids().len(),
                    last_error: s.last_error.clone(),
                    problem: s.problem.clone(),
                    launched_at_ms: s.launched_at.map(|d| d.as_millis() as u64),
                    ready_after_ms: s.ready_after.map(|d| d.as_millis() as u64),
                },
                started: s.started.filter(|_| s.pid.is_some()),
            })
            .collect();
        *lock(&self.snapshot) = rows;
    }

    async fn shutdown(&mut self) {
        self.stopping = true;
        tracing::info!("stopping workers");
        let pids: Vec<u32> = self.slots.iter().filter_map(|s| s.pid).collect();
        for pid in &pids {
            spawn::signal_group(*pid, Signal::SIGTERM);
        }
        let deadline = Instant::now() + self.opts.grace;
        while Instant::now() < deadline && pids.iter().any(|p| spawn::alive(*p)) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            while let Ok(event) = self.events.try_recv() {
                self.handle_event(event);
            }
        }
        for pid in &pids {
            spawn::signal_group(*pid, Signal::SIGKILL);
        }
        if let Some(client) = self.client.take() {
            client.shutdown_async().await;
        }
        tracing::info!("stopping the engine");
        if let Some(pid) = self.engine_pid.take() {
            spawn::signal_group(pid, Signal::SIGTERM);
            let deadline = Instant::now() + self.opts.grace;
            while Instant::now() < deadline && spawn::alive(pid) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            spawn::signal_group(pid, Signal::SIGKILL);
        }
        for slot in &mut self.slots {
            slot.state = WorkerState::Stopped;
            slot.pid = None;
        }
        RuntimeInfo::remove(&self.opts.home);
    }
}

/// Calls a worker's health function: `Ok(Some(problem))` when it answers but says it is
/// degraded (a missing model, a command sandbox that cannot be enforced, …).
/// Which starting workers have every function registered, and their health answers.
async fn probe_readiness(client: &III, workers: Vec<(usize, u64, &'static WorkerManifest)>) -> Probe {
    let registered = registered_functions(client).await;
    let mut health = Vec::new();
    if let Some(registered) = &registered {
        let complete = workers
            .into_iter()
            .filter(|(_, _, m)| m.all_function_ids().iter().all(|f| registered.contains(f.as_str())));
        health = futures_util::future::join_all(
            complete.map(|(i, generation, manifest)| async move { (i, generation, health_of(client, manifest).await) }),
        )
        .await;
    }
    Probe { kind: ProbeKind::Readiness, engine_generation: 0, registered, routes: None, health }
}

/// The engine's functions and routes and every ready worker's health, asked side by side.
async fn probe_liveness(client: &III, workers: Vec<(usize, u64, &'static WorkerManifest)>) -> Probe {
    let routes = async {
        agentos_kit::call::<Value, Value>(client, "engine::triggers::list", &json!({}), HEALTH_TIMEOUT)
            .await
            .ok()
            .map(|listed| http_routes(&listed))
    };
    let health = futures_util::future::join_all(
        workers
            .into_iter()
            .map(|(i, generation, manifest)| async move { (i, generation, health_of(client, manifest).await) }),
    );
    let (registered, routes, health) = tokio::join!(registered_functions(client), routes, health);
    Probe { kind: ProbeKind::Liveness, engine_generation: 0, registered, routes, health }
}

async fn health_of(client: &III, manifest: &WorkerManifest) -> Result<Option<String>, String> {
    let answer = agentos_kit::call::<Value, Value>(client, &manifest.health_function_id(), &json!({}), HEALTH_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    Ok((answer["status"] == "degraded")
        .then(|| answer["problem"].as_str().unwrap_or("degraded, without a reason").to_string()))
}

fn exit_of(status: std::io::Result<std::process::ExitStatus>) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) if s.success() => Exit::Success,
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => Exit::Code(c),
            (None, Some(sig)) => Exit::Signal(sig),
            _ => Exit::Code(-1),
        },
        Err(_) => Exit::Code(-1),
    }
}

/// Orders manifests so that every worker comes after what it depends on (stable otherwise).
/// Unknown dependencies are ignored here; `doctor` and the manifest test report them.
pub fn order(workers: &[&'static WorkerManifest]) -> Vec<&'static WorkerManifest> {
    let names: HashSet<&str> = workers.iter().map(|w| w.name).collect();
    let mut placed: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    let mut remaining: Vec<&'static WorkerManifest> = workers.to_vec();
    while !remaining.is_empty() {
        let before = remaining.len();
        remaining.retain(|w| {
            let ready = w.depends_on.iter().all(|d| placed.contains(d) || !names.contains(d));
            if ready {
                placed.insert(w.name);
                out.push(*w);
            }
            !ready
        });
        if remaining.len() == before {
            // A cycle: keep the rest in catalogue order rather than hang.
            out.append(&mut remaining);
        }
    }
    out
}

/// Functions registered by more than one worker of the catalogue: `(function id, workers)`.
pub fn duplicate_functions(workers: &[&'static WorkerManifest]) -> Vec<(String, Vec<&'static str>)> {
    let mut owners: HashMap<String, Vec<&'static str>> = HashMap::new();
    for w in workers {
        for f in w.all_function_ids() {
            owners.entry(f).or_default().push(w.name);
        }
    }
    let mut dups: Vec<_> = owners.into_iter().filter(|(_, o)| o.len() > 1).collect();
    dups.sort();
    dups
}

/// The namespaces a worker owns: those of every function id of its manifest (its routes'
/// functions and health included).
pub fn namespaces_of(manifest: &WorkerManifest) -> Vec<String> {
    let mut namespaces: Vec<String> = manifest
        .all_function_ids()
        .iter()
        .map(|id| agentos_worker_security_map::map::namespace(id).to_string())
        .collect();
    namespaces.sort();
    namespaces.dedup();
    namespaces
}

/// Every function id the engine lists, or `None` when it does not answer.
async fn registered_functions(client: &III) -> Option<HashSet<String>> {
    let listed =
        agentos_kit::call::<Value, Value>(client, "engine::functions::list", &json!({}), HEALTH_TIMEOUT).await.ok()?;
    Some(
        listed["functions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["function_id"].as_str().map(str::to_string))
            .collect(),
    )
}

/// `(METHOD, path, function)` of every http trigger in an `engine::triggers::list` answer.
fn http_routes(listed: &Value) -> HashSet<(String, String, String)> {
    listed["triggers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["trigger_type"] == "http")
        .map(|t| {
            let method = t["config"]["http_method"].as_str().unwrap_or("GET").to_ascii_uppercase();
            let path = t["config"]["api_path"].as_str().unwrap_or_default().trim_matches('/').to_string();
            (method, path, t["function_id"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

/// What of a worker's manifest the engine no longer lists: function ids and `METHOD /path`.
pub fn missing_registrations(
    manifest: &WorkerManifest,
    functions: &HashSet<String>,
    routes: &HashSet<(String, String, String)>,
) -> Vec<String> {
    let mut gone: Vec<String> = manifest.all_function_ids().into_iter().filter(|f| !functions.contains(f)).collect();
    for route in &manifest.http_routes {
        let key = (
            route.method.to_ascii_uppercase(),
            route.path.trim_matches('/').to_string(),
            route.function_id.to_string(),
        );
        if !routes.contains(&key) {
            gone.push(format!("{} {}", route.method, route.path));
        }
    }
    gone
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use agentos_kit::{HttpRoute, RestartPolicy, WorkerManifest};

    use super::{missing_registrations, namespaces_of};

    static THINGS: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
        name: "things",
        description: "A worker with a function and a route.",
        functions: vec!["things::get", "things::http_list"],
        http_routes: vec![HttpRoute { method: "GET", path: "/v1/things", function_id: "things::http_list" }],
        depends_on: &[],
        restart: RestartPolicy::Always,
    });

    fn set<T: Clone + Eq + std::hash::Hash>(items: &[T]) -> HashSet<T> {
        items.iter().cloned().collect()
    }

    #[test]
    fn a_worker_owns_the_namespaces_of_its_functions_and_health() {
        assert_eq!(namespaces_of(&THINGS), vec!["things".to_string()]);
    }

    #[test]
    fn a_vanished_function_or_route_is_named_and_a_route_served_by_another_function_counts_as_gone() {
        let all = set(&["things::get".to_string(), "things::http_list".to_string(), "things::health".to_string()]);
        let route = ("GET".to_string(), "v1/things".to_string(), "things::http_list".to_string());
        assert_eq!(missing_registrations(&THINGS, &all, &set(std::slice::from_ref(&route))), Vec::<String>::new());
        let fewer = set(&["things::http_list".to_string(), "things::health".to_string()]);
        assert_eq!(missing_registrations(&THINGS, &fewer, &set(&[route])), vec!["things::get".to_string()]);
        let taken = ("GET".to_string(), "v1/things".to_string(), "intruder::steal".to_string());
        assert_eq!(missing_registrations(&THINGS, &all, &set(&[taken])), vec!["GET /v1/things".to_string()]);
    }
}
