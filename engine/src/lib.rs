//! agentos-engine: an embedded engine that speaks the iii worker protocol (v0.11.6), so
//! unmodified `iii-sdk` workers (Rust, Node, Python) connect to it as they would to `iii`.
//!
//! It serves three ports: the worker socket (49134), the REST port for HTTP triggers (3111) and
//! the browser stream socket (3112). The worker port also carries byte channels
//! (`/ws/channels/{id}`, see [`channels`]). State, streams, queue jobs, spans and logs live in one
//! SQLite database in the data dir (see [`store`]).

pub mod builtins;
pub mod channels;
pub mod config;
pub mod departed;
pub mod engine;
pub mod http;
pub mod queue;
pub mod rbac;
pub mod retention;
pub mod store;
pub mod stream;
pub mod telemetry;
pub mod trace;
pub mod triggers;
pub mod update_ops;
pub mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use config::EngineConfig;
pub use engine::Engine;

/// Why the engine could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// A port could not be bound.
    #[error("cannot listen on {addr} ({what}): {source}. Is another engine running? Pick another port with {flag}")]
    Bind {
        what: &'static str,
        addr: String,
        flag: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A listener failed while serving.
    #[error("the {what} listener failed: {source}")]
    Serve {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl ServeError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(e) => e.code(),
            Self::Bind { .. } => "ENGINE_BIND",
            Self::Serve { .. } => "ENGINE_SERVE",
        }
    }
}

/// A started engine: its handle and the addresses it actually listens on.
pub struct RunningEngine {
    pub engine: Engine,
    pub engine_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    pub stream_addr: Option<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<Result<(), ServeError>>>,
}

impl RunningEngine {
    /// The worker socket URL (`ws://host:port`).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.engine_addr)
    }

    /// Stops listening and ends background tasks; connected workers see their socket close.
    pub async fn shutdown(self) {
        self.engine.begin_shutdown();
        for task in self.tasks {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
        }
        self.engine.inner.spans.flush().await;
    }

    /// Waits until a listener fails (or forever).
    pub async fn wait(&mut self) -> Result<(), ServeError> {
        if self.tasks.is_empty() {
            std::future::pending::<()>().await;
        }
        let (result, _, rest) = futures_util::future::select_all(self.tasks.drain(..)).await;
        self.tasks = rest;
        match result {
            Ok(r) => r,
            Err(e) => Err(ServeError::Serve { what: "engine", source: std::io::Error::other(e) }),
        }
    }
}

async fn bind(
    host: &str,
    port: u16,
    what: &'static str,
    flag: &'static str,
) -> Result<tokio::net::TcpListener, ServeError> {
    let addr = format!("{host}:{port}");
    tokio::net::TcpListener::bind(&addr).await.map_err(|source| ServeError::Bind { what, addr, flag, source })
}

/// Opens the store in `data_dir`, binds every port and starts serving. Port 0 picks a free one.
pub async fn start(config: EngineConfig, data_dir: PathBuf) -> Result<RunningEngine, ServeError> {
    start_with(config, data_dir, |_| {}).await
}

/// Like [`start`], with `setup` run on the engine before any listener accepts a connection:
/// the place to register the built-in functions a host adds (auth functions, hooks,
/// middleware), so no handshake ever finds them missing.
pub async fn start_with(
    config: EngineConfig,
    data_dir: PathBuf,
    setup: impl FnOnce(&Engine),
) -> Result<RunningEngine, ServeError> {
    let store = store::Store::open(&data_dir)?;
    let ws_listener = bind(&config.host, config.engine_port, "worker socket", "--engine-port").await?;
    let http_listener = if config.enabled.http {
        Some(bind(&config.http_host, config.http_port, "REST port", "--http-port").await?)
    } else {
        None
    };
    let stream_listener = if config.enabled.stream {
        Some(bind(&config.stream_host, config.stream_port, "stream port", "--stream-port").await?)
    } else {
        None
    };
    let mut extra_listeners = Vec::new();
    for listener in &config.extra_listeners {
        let socket = bind(&listener.host, listener.port, "worker socket", "iii-worker-manager.port").await?;
        extra_listeners.push((socket, std::sync::Arc::new(listener.security.clone())));
    }
    let main_security = std::sync::Arc::new(config.worker_security.clone());
    let stream_security = main_security.clone();
    let engine = Engine::new(config, store);
    setup(&engine);
    queue::start(&engine);
    channels::start(&engine);
    retention::start(&engine);

    let mut tasks = Vec::new();
    let engine_addr = ws_listener.local_addr().map_err(|source| ServeError::Serve { what: "worker socket", source })?;
    tasks.push(serve(ws_listener, ws::router(engine.clone(), main_security), engine.clone(), "worker socket"));
    for (socket, security) in extra_listeners {
        if let Ok(addr) = socket.local_addr() {
            tracing::info!(%addr, "extra worker socket listening");
        }
        tasks.push(serve(socket, ws::router(engine.clone(), security), engine.clone(), "worker socket"));
    }
    let mut http_addr = None;
    if let Some(l) = http_listener {
        http_addr = l.local_addr().ok();
        tasks.push(serve(l, http::router(engine.clone()), engine.clone(), "REST port"));
    }
    let mut stream_addr = None;
    if let Some(l) = stream_listener {
        stream_addr = l.local_addr().ok();
        tasks.push(serve(l, stream::router(engine.clone(), stream_security), engine.clone(), "stream port"));
    }
    tracing::info!(%engine_addr, ?http_addr, ?stream_addr, data_dir = %data_dir.display(), "engine listening");
    Ok(RunningEngine { engine, engine_addr, http_addr, stream_addr, tasks })
}

/// A listener whose accepted sockets have `TCP_NODELAY` set: protocol frames are small and
/// latency-bound, and Nagle's algorithm with delayed ACKs adds 40 ms stalls.
type NoDelayListener = axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)>;

fn set_nodelay(stream: &mut tokio::net::TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!("cannot set TCP_NODELAY: {e}");
    }
}

fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    engine: Engine,
    what: &'static str,
) -> tokio::task::JoinHandle<Result<(), ServeError>> {
    use axum::serve::ListenerExt;
    tokio::spawn(async move {
        let listener: NoDelayListener = listener.tap_io(set_nodelay as fn(&mut tokio::net::TcpStream));
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { engine.shutting_down().await })
            .await
            .map_err(|source| ServeError::Serve { what, source })
    })
}
