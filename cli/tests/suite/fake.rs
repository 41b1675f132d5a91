//! A fake stack: an axum server on a free port that records every request and answers with a
//! test's scripted responses, and an `AGENTOS_HOME` whose runtime file points the CLI at it.

use std::convert::Infallible;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::Notify;

/// The API key the fake stack expects and the CLI is given.
pub const KEY: &str = "test-key";

/// How long one CLI run may take before the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// One request the fake stack received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path and query.
    pub uri: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The JSON body (`Null` when there was none).
    pub body: Value,
}

type Responder = Arc<dyn Fn(&Recorded) -> Response + Send + Sync>;

#[derive(Clone)]
struct Shared {
    requests: Arc<Mutex<Vec<Recorded>>>,
    respond: Responder,
}

/// The fake stack; the server stops when it drops.
pub struct FakeStack {
    /// The `AGENTOS_HOME` holding `state/runtime.json`.
    pub home: tempfile::TempDir,
    requests: Arc<Mutex<Vec<Recorded>>>,
    server: tokio::task::JoinHandle<()>,
}

async fn record(State(shared): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        authorization: parts.headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    shared.requests.lock().unwrap().push(recorded.clone());
    (shared.respond)(&recorded)
}

impl FakeStack {
    /// Starts a server answering every request with `respond`.
    pub async fn start(respond: impl Fn(&Recorded) -> Response + Send + Sync + 'static) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared { requests: requests.clone(), respond: Arc::new(respond) };
        let app = Router::new().fallback(record).with_state(shared);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("state")).unwrap();
        let runtime = serde_json::json!({
            "pid": std::process::id(),
            "engine_url": "ws://127.0.0.1:1",
            "http_url": format!("http://127.0.0.1:{port}"),
            "engine_port": 1,
            "http_port": port,
            "stream_port": 1,
        });
        std::fs::write(home.path().join("state/runtime.json"), runtime.to_string()).unwrap();
        Self { home, requests, server }
    }

    /// The `agentos` command, aimed at this stack.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentos"));
        cmd.args(args)
            .env("AGENTOS_HOME", self.home.path())
            .env("AGENTOS_API_KEY", KEY)
            .env_remove("NO_COLOR")
            .kill_on_drop(true);
        cmd
    }

    /// Runs `agentos args…` to the end with `stdin` (or no stdin) and returns its output.
    pub async fn agentos(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use tokio::io::AsyncWriteExt;
        let mut cmd = self.command(args);
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        cmd.stdin(if stdin.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() });
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).await.unwrap();
            drop(pipe);
        }
        tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("agentos {args:?} did not finish within {RUN_LIMIT:?}"))
            .unwrap()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The path of the home folder.
    pub fn path(&self) -> &Path {
        self.home.path()
    }
}

impl Drop for FakeStack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One step of a scripted event stream.
pub enum Step {
    /// Send these bytes as one chunk.
    Send(String),
    /// Pause.
    Sleep(Duration),
    /// Wait until the test notifies.
    Wait(Arc<Notify>),
}

/// `event: name\ndata: json\n\n`.
pub fn event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// A `text/event-stream` answer that plays `steps`.
pub fn sse(steps: Vec<Step>) -> Response {
    let body = futures_util::stream::iter(steps).filter_map(|step| async move {
        match step {
            Step::Send(text) => Some(Ok::<_, Infallible>(Bytes::from(text))),
            Step::Sleep(d) => {
                tokio::time::sleep(d).await;
                None
            }
            Step::Wait(gate) => {
                gate.notified().await;
                None
            }
        }
    });
    ([("content-type", "text/event-stream")], Body::from_stream(body)).into_response()
}

/// A JSON answer with `status`.
pub fn json(status: u16, value: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(value)).into_response()
}

/// The stack's error answer.
pub fn error(status: u16, code: &str, message: &str) -> Response {
    json(status, serde_json::json!({"error": {"code": code, "message": message}}))
}

/// Splits `text` into chunks of at most `size` bytes (on character boundaries) with a pause
/// between them, so events arrive cut at arbitrary places.
pub fn chunked(text: &str, size: usize, pause: Duration) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = size.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        steps.push(Step::Send(rest[..end].to_string()));
        steps.push(Step::Sleep(pause));
        rest = &rest[end..];
    }
    steps
}
