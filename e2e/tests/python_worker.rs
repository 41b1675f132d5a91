//! End to end: a Python worker built on the published `iii-sdk` package (0.11.6, the release
//! that speaks the iii 0.11.x protocol, pinned in `e2e/python/requirements.txt`) registers an
//! HTTP route on a real `agentos engine` process and is called over real HTTP.
//!
//! What each test starts, on free ports of 127.0.0.1 and a fresh data dir:
//! - `agentos engine --engine-port 0 --http-port 0 --stream-port 0 --data-dir <tmp>`, whose
//!   stdout line `agentos engine listening: workers ws://… · http http://… · streams ws://…`
//!   gives the real addresses. Its stderr goes to `engine.log` in the temp dir, written at
//!   debug level (`AGENTOS_LOG`, default `debug`, may be overridden from the environment).
//! - `e2e/python/http_worker.py`, with `III_URL` set to the worker WebSocket URL. Its output goes
//!   to `worker.log` in the temp dir, with the SDK's frame summaries at debug level.
//!
//! Both logs are printed in any failure message. Both processes are killed when their guard
//! drops, so nothing is left behind even when an assertion panics.
//!
//! Where things come from:
//! - **The `agentos` binary.** `env!("CARGO_BIN_EXE_agentos")` only exists for binaries of the
//!   test's own package, so the test looks next to its own executable instead:
//!   `<target dir>/<profile>/deps/python_worker-<hash>` → `<target dir>/<profile>/agentos`. That
//!   works with any `CARGO_TARGET_DIR`. Before the first use it runs `$CARGO build -p agentos`
//!   (with `--release` for a release test build) against that same target dir, once per test
//!   process: this crate does not depend on the engine, so without that step `cargo test -p
//!   agentos-e2e` would happily test a stale binary after an engine change. The build is a
//!   no-op when the binary is fresh. `AGENTOS_BIN=/path/to/agentos` skips all of this.
//! - **The Python interpreter.** `AGENTOS_E2E_PYTHON` if set, else `<workspace>/.venv/bin/python`
//!   (the venv that `scripts/install-test-deps.sh` creates), else `python3` on the PATH. The test
//!   checks that this interpreter has exactly the `iii-sdk` version of `requirements.txt` and
//!   fails with the install command if not.
//!
//! Run from the workspace root: `scripts/install-test-deps.sh && cargo test -p agentos-e2e`.

#![allow(clippy::expect_used, reason = "test harness: a failed setup step panics with its message")]

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use agentos_e2e::{Proc, agentos_binary, workspace_root};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

/// How long the engine may take to print its listening line.
const ENGINE_START: Duration = Duration::from_secs(30);
/// How long the worker may take to start, connect and have its route answer.
const ROUTE_APPEARS: Duration = Duration::from_secs(20);
/// How long the engine may take to drop a dead worker's route.
const ROUTE_DISAPPEARS: Duration = Duration::from_secs(10);
/// Pause between two polls.
const POLL_EVERY: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------------------------
// Locating the workspace, the binary and the interpreter
// ---------------------------------------------------------------------------------------------

/// The pinned `iii-sdk` version, read from `e2e/python/requirements.txt`.
fn pinned_sdk_version() -> String {
    let path = workspace_root().join("e2e/python/requirements.txt");
    let text = std::fs::read_to_string(&path).expect("requirements.txt is readable");
    text.lines()
        .find_map(|line| line.trim().strip_prefix("iii-sdk=="))
        .map(str::to_string)
        .expect("requirements.txt pins iii-sdk==<version>")
}

/// The Python interpreter that has the pinned `iii-sdk` installed (checked once).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = workspace_root().join(".venv/bin/python");
        let python = match std::env::var_os("AGENTOS_E2E_PYTHON") {
            Some(p) => PathBuf::from(p),
            None if venv.is_file() => venv,
            None => PathBuf::from("python3"),
        };
        let wanted = pinned_sdk_version();
        let probe =
            Command::new(&python).args(["-c", "import importlib.metadata as m; print(m.version('iii-sdk'))"]).output();
        let found = match &probe {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
            Ok(out) => format!("none ({})", String::from_utf8_lossy(&out.stderr).trim()),
            Err(e) => format!("none (cannot run {}: {e})", python.display()),
        };
        assert!(
            found == wanted,
            "{} must have iii-sdk=={wanted} installed, found {found}; run scripts/install-test-deps.sh \
             (or point AGENTOS_E2E_PYTHON at an interpreter that has it)",
            python.display()
        );
        python
    })
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// What engine token the Python worker presents.
#[derive(Clone, Copy)]
enum Credential {
    /// One made by `agentos token create` for the namespace `greet`.
    Valid,
    /// One made for another namespace: connecting works, registering `greet::*` must not.
    OtherNamespace,
    /// A made-up token.
    Wrong,
    /// None at all.
    Missing,
}

/// A running engine, a running Python worker, their logs and an HTTP client.
/// Field order matters: the worker is dropped (killed) before the engine, the temp dir last.
struct Stack {
    worker: Proc,
    _engine: Proc,
    http_base: String,
    client: reqwest::Client,
    tmp: tempfile::TempDir,
}

impl Stack {
    /// Starts the engine on free ports, waits for its listening line, then starts the worker
    /// with a token made by `agentos token create`.
    fn start() -> Stack {
        Self::start_with(Credential::Valid)
    }

    /// Like [`Stack::start`], the worker presenting `credential`.
    fn start_with(credential: Credential) -> Stack {
        let bin = agentos_binary();
        let python = python();
        let tmp = tempfile::tempdir().expect("a temp dir");
        let tokens_file = tmp.path().join("engine_tokens.json");
        let create = |name: &str, namespace: &str| {
            let out = Command::new(bin)
                .args(["token", "create", name, "--namespaces", namespace, "--tokens-file"])
                .arg(&tokens_file)
                .output()
                .expect("agentos token create runs");
            assert!(out.status.success(), "token create failed: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let token = match credential {
            Credential::Valid => Some(create("greeter", "greet")),
            Credential::OtherNamespace => Some(create("other", "other")),
            Credential::Wrong => Some("0".repeat(64)),
            Credential::Missing => None,
        };
        let engine_log = File::create(tmp.path().join("engine.log")).expect("engine.log");

        let mut engine = Proc {
            child: Command::new(bin)
                .args(["engine", "--engine-port", "0", "--http-port", "0", "--stream-port", "0", "--data-dir"])
                .arg(tmp.path().join("data"))
                .arg("--tokens-file")
                .arg(&tokens_file)
                .env("AGENTOS_LOG", std::env::var("AGENTOS_LOG").unwrap_or_else(|_| "debug".into()))
                .env("NO_COLOR", "1")
                .env_remove("AGENTOS_ENGINE_CONFIG")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(engine_log)
                .spawn()
                .expect("agentos can be started"),
        };

        // A thread reads stdout line by line for as long as the engine runs, so that the pipe is
        // always drained; the first "listening" line is handed over through the channel.
        let stdout = engine.child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("agentos engine listening:") {
                    let _ = tx.send(line);
                }
            }
        });
        let line = match rx.recv_timeout(ENGINE_START) {
            Ok(line) => line,
            Err(e) => {
                let status = engine.exited();
                panic!(
                    "no listening line from the engine within {ENGINE_START:?} ({e}; exit status {status:?})\n{}",
                    read_log(&tmp.path().join("engine.log"))
                );
            }
        };
        let (ws_url, http_base) = parse_listening_line(&line);

        let worker_log = File::create(tmp.path().join("worker.log")).expect("worker.log");
        let mut command = Command::new(python);
        command.env_remove("III_TOKEN").env_remove("AGENTOS_ENGINE_TOKEN");
        if let Some(token) = &token {
            command.env("III_TOKEN", token);
        }
        let worker = Proc {
            child: command
                .arg(workspace_root().join("e2e/python/http_worker.py"))
                .current_dir(tmp.path())
                .env("III_URL", &ws_url)
                .env("PYTHONUNBUFFERED", "1")
                .stdin(Stdio::null())
                .stdout(worker_log.try_clone().expect("a second handle on worker.log"))
                .stderr(worker_log)
                .spawn()
                .expect("the Python worker can be started"),
        };

        let client =
            reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().expect("an HTTP client");
        Stack { worker, _engine: engine, http_base, client, tmp }
    }

    /// Both logs, for failure messages.
    fn logs(&self) -> String {
        format!(
            "--- engine.log ---\n{}\n--- worker.log ---\n{}",
            read_log(&self.tmp.path().join("engine.log")),
            read_log(&self.tmp.path().join("worker.log"))
        )
    }

    /// Sends `POST /greet/ada?x=1` with a JSON body and returns status and JSON body.
    async fn greet(&self) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}/greet/ada?x=1", self.http_base))
            .header("x-e2e", "from-rust")
            .json(&json!({"n": 42, "tags": ["a", "b"]}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /greet/ada failed: {e}\n{}", self.logs()));
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Polls `POST /greet/ada` until it answers something other than 404 (the route exists).
    async fn wait_for_route(&mut self) -> (StatusCode, Value) {
        let deadline = Instant::now() + ROUTE_APPEARS;
        loop {
            let (status, body) = self.greet().await;
            if status != StatusCode::NOT_FOUND {
                return (status, body);
            }
            if let Some(status) = self.worker.exited() {
                panic!("the Python worker exited ({status}) before its route appeared\n{}", self.logs());
            }
            assert!(
                Instant::now() < deadline,
                "POST /greet/ada still answered 404 after {ROUTE_APPEARS:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}

/// Splits `agentos engine listening: workers ws://… · http http://… · streams ws://…`.
fn parse_listening_line(line: &str) -> (String, String) {
    let rest = line.strip_prefix("agentos engine listening:").unwrap_or(line);
    let mut ws = None;
    let mut http = None;
    for part in rest.split('·').map(str::trim) {
        if let Some(url) = part.strip_prefix("workers ") {
            ws = Some(url.trim().to_string());
        } else if let Some(url) = part.strip_prefix("http ") {
            http = Some(url.trim().trim_end_matches('/').to_string());
        }
    }
    match (ws, http) {
        (Some(ws), Some(http)) if ws.starts_with("ws://") && http.starts_with("http://") => (ws, http),
        _ => panic!("cannot read the worker and http URLs from the listening line: {line:?}"),
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

/// Asserts the agentos error shape `{"error":{"code":"…","message":"…"}}`.
fn assert_error_shape(body: &Value, what: &str) {
    let error = &body["error"];
    assert!(
        error["code"].as_str().is_some_and(|c| !c.is_empty()) && error["message"].as_str().is_some(),
        "{what}: expected {{\"error\":{{\"code\",\"message\"}}}}, got {body}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_python_sdk_worker_route_answers_http_with_the_handlers_status_and_json_body() {
    let mut stack = Stack::start();

    let (status, body) = stack.wait_for_route().await;
    let logs = stack.logs();
    assert_eq!(status, StatusCode::CREATED, "body: {body}\n{logs}");
    assert_eq!(
        body,
        json!({
            "greeting": "hello ada",
            "query": {"x": "1"},
            "body": {"n": 42, "tags": ["a", "b"]},
            "header": "from-rust",
        }),
        "{logs}"
    );
}

#[tokio::test]
async fn unknown_routes_and_invalid_json_bodies_get_json_errors_not_the_handler() {
    let mut stack = Stack::start();
    stack.wait_for_route().await;

    let unknown = stack
        .client
        .post(format!("{}/no/such/route", stack.http_base))
        .json(&json!({}))
        .send()
        .await
        .expect("the engine answers");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let body: Value = unknown.json().await.expect("a 404 has a JSON body");
    assert_error_shape(&body, "unknown route");

    let invalid = stack
        .client
        .post(format!("{}/greet/ada", stack.http_base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("the engine answers");
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST, "{}", stack.logs());
    let body: Value = invalid.json().await.expect("a 400 has a JSON body");
    assert_error_shape(&body, "invalid JSON body");
}

#[tokio::test]
async fn a_route_goes_away_when_the_python_worker_that_registered_it_dies() {
    let mut stack = Stack::start();
    let (status, _) = stack.wait_for_route().await;
    assert_eq!(status, StatusCode::CREATED, "{}", stack.logs());

    // SIGKILL: no goodbye frame, the engine only sees the socket drop.
    stack.worker.kill();

    let deadline = Instant::now() + ROUTE_DISAPPEARS;
    loop {
        let (status, body) = stack.greet().await;
        if status == StatusCode::NOT_FOUND || status == StatusCode::SERVICE_UNAVAILABLE {
            assert_error_shape(&body, "route of a dead worker");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "POST /greet/ada still answered {status} {body} {ROUTE_DISAPPEARS:?} after the worker died\n{}",
            stack.logs()
        );
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// A worker without a token, with a made-up one, or with one for other namespaces never gets
/// its route served, and the engine's log says why; the engine keeps serving.
#[tokio::test]
async fn python_workers_without_a_valid_token_or_outside_their_namespaces_are_refused() {
    for (credential, why) in [
        (Credential::Missing, "worker handshake refused: no engine token"),
        (Credential::Wrong, "worker handshake refused: unknown engine token"),
        (Credential::OtherNamespace, "other may not register greet::hello: it owns the namespaces other"),
    ] {
        let stack = Stack::start_with(credential);
        // The refusal is logged once the worker has tried; then the route must still be absent.
        let deadline = Instant::now() + ROUTE_APPEARS;
        while !read_log(&stack.tmp.path().join("engine.log")).contains(why) {
            assert!(Instant::now() < deadline, "the engine never logged {why:?}\n{}", stack.logs());
            tokio::time::sleep(POLL_EVERY).await;
        }
        let (status, body) = stack.greet().await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{why}: {body}\n{}", stack.logs());
        assert_error_shape(&body, "route of a refused worker");
    }
}
