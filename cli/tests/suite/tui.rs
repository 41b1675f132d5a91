//! The dashboard from the command line: `agentos tui`, and `replay` / `trace` choosing between
//! the dashboard (on a terminal) and printing (piped, `--json`, `--print`). The terminal cases
//! run the binary under `script` (util-linux), which gives it a pseudo-terminal; the screen is
//! read back from what the binary wrote to it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::fake::{FakeStack, KEY, Recorded, error, json};

/// How long the terminal may take to show what a step waits for.
const STEP_LIMIT: Duration = Duration::from_secs(20);

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn route(r: &Recorded) -> (&str, &str) {
    (r.method.as_str(), r.uri.as_str())
}

fn workers() -> Value {
    json!({"workers": [
        {"name": "session-replay", "description": "Recorded steps", "state": "ready", "pid": 4242, "restarts": 0,
         "uptime_ms": 61000, "functions_registered": 9, "functions_expected": 9, "last_error": null},
        {"name": "approval", "description": "Approvals", "state": "failed", "pid": null, "restarts": 5,
         "uptime_ms": null, "functions_registered": 0, "functions_expected": 9, "last_error": "exited with code 1"},
    ]})
}

/// The fake stack as the dashboard needs it: workers and their logs; everything else unknown.
async fn stack() -> FakeStack {
    FakeStack::start(|r| match route(r) {
        ("GET", "/v1/workers") => json(200, workers()),
        ("GET", uri) if uri.starts_with("/v1/workers/") && uri.contains("/logs") => {
            json(200, json!({"worker": "approval", "path": "/tmp/approval.log", "lines": ["tail-of-the-log"]}))
        }
        ("GET", "/v1/health") => json(200, json!({"status": "ok", "workers": 2, "ready": 1})),
        ("GET", "/v1/sessions/s-1") => json(200, json!({"id": "s-1", "name": "bugfix", "realm": "default"})),
        ("GET", "/v1/traces?session_id=s-1") => json(
            200,
            json!({"traces": [
                {"trace_id": "a".repeat(32), "started_ms": 10},
                {"trace_id": "b".repeat(32), "started_ms": 20},
            ]}),
        ),
        (method, uri) => error(404, "route_not_found", &format!("no route for {method} {uri}")),
    })
    .await
}

/// `agentos args…` in a 100×30 pseudo-terminal, with what it wrote so far.
struct Pty {
    child: tokio::process::Child,
    keys: tokio::process::ChildStdin,
    screen: Arc<Mutex<String>>,
}

impl Pty {
    fn start(home: &std::path::Path, args: &str) -> Self {
        let command = format!("stty cols 100 rows 30; exec '{}' {args}", env!("CARGO_BIN_EXE_agentos"));
        let mut child = tokio::process::Command::new("script")
            .args(["-q", "-e", "-c", &command, "/dev/null"])
            .env("AGENTOS_HOME", home)
            .env("AGENTOS_API_KEY", KEY)
            .env("NO_COLOR", "1")
            .env("SHELL", "/bin/sh")
            .env("USER", "ada")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("util-linux `script` runs the CLI in a pseudo-terminal; install util-linux");
        let keys = child.stdin.take().unwrap();
        let mut output = child.stdout.take().unwrap();
        let screen = Arc::new(Mutex::new(String::new()));
        let sink = screen.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = output.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self { child, keys, screen }
    }

    async fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            let seen = self.screen.lock().unwrap().clone();
            if seen.contains(needle) {
                return;
            }
            assert!(Instant::now() < deadline, "the terminal never showed {needle:?}; it shows:\n{seen:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn press(&mut self, keys: &str) {
        self.keys.write_all(keys.as_bytes()).await.unwrap();
        self.keys.flush().await.unwrap();
    }

    /// Waits for the end; the exit status and everything written.
    async fn finish(mut self) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(STEP_LIMIT, self.child.wait()).await.expect("the dashboard ended").unwrap();
        // The reader may still be draining the last bytes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let seen = self.screen.lock().unwrap().clone();
        (status, seen)
    }
}

/// Leaving the alternate screen and bracketed paste: the terminal was given back.
fn restored(seen: &str) -> bool {
    let left = seen.rfind("\x1b[?1049l");
    left.is_some() && left > seen.rfind("\x1b[?1049h") && seen.contains("\x1b[?2004l")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tui_shows_the_workers_of_the_running_stack_and_q_gives_the_terminal_back() {
    let stack = stack().await;
    let mut pty = Pty::start(stack.path(), "tui --pane workers");
    pty.wait_for("session-replay").await;
    pty.wait_for("failing").await;
    pty.wait_for("tail-of-the-log").await;
    pty.press("q").await;
    let (status, seen) = pty.finish().await;
    assert!(status.success(), "{status}:\n{seen:?}");
    assert!(restored(&seen), "the terminal is restored:\n{seen:?}");
    let list = stack.requests().into_iter().find(|r| r.uri == "/v1/workers").expect("the workers were asked for");
    assert_eq!(list.authorization.as_deref(), Some(format!("Bearer {KEY}").as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tui_without_a_running_stack_says_to_start_one() {
    let home = tempfile::tempdir().unwrap();
    let pty = Pty::start(home.path(), "tui");
    let (status, seen) = pty.finish().await;
    assert!(!status.success());
    assert!(seen.contains("agentos is not running; start it with `agentos up`"), "{seen:?}");
    assert!(!seen.contains("\x1b[?1049h"), "the screen was never taken over:\n{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_of_a_session_on_a_terminal_opens_the_dashboard_on_its_latest_trace() {
    let stack = stack().await;
    let mut pty = Pty::start(stack.path(), "trace s-1");
    let latest = format!("/v1/traces/{}", "b".repeat(32));
    let deadline = Instant::now() + STEP_LIMIT;
    while !stack.requests().iter().any(|r| r.uri == latest) {
        assert!(Instant::now() < deadline, "the trace pane never asked for {latest}: {:?}", stack.requests());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pty.wait_for("Trace").await;
    pty.press("q").await;
    let (status, seen) = pty.finish().await;
    assert!(status.success(), "{status}:\n{seen:?}");
    assert!(restored(&seen), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_an_unknown_session_on_a_terminal_fails_before_the_dashboard_opens() {
    let stack = stack().await;
    let pty = Pty::start(stack.path(), "replay nope");
    let (status, seen) = pty.finish().await;
    assert!(!status.success());
    assert!(seen.contains("no route for GET /v1/sessions/nope"), "{seen:?}");
    assert!(!seen.contains("\x1b[?1049h"), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tui_needs_a_terminal() {
    let stack = stack().await;
    let out = stack.agentos(&["tui"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("the dashboard needs a terminal"), "{}", stderr(&out));
    assert_eq!(stack.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_without_a_session_off_a_terminal_says_to_name_one() {
    let stack = stack().await;
    let out = stack.agentos(&["replay"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "agentos: name the session to replay (its id or name; `agentos sessions` lists them), e.g. `agentos replay SESSION --print`\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_keeps_printing_on_a_terminal_and_changes_nothing_when_piped() {
    let stack = stack().await;
    let piped = stack.agentos(&["trace", "s-1"], None).await;
    let printed = stack.agentos(&["trace", "s-1", "--print"], None).await;
    assert_eq!(piped.stdout, printed.stdout, "{}", stderr(&printed));
    assert!(String::from_utf8_lossy(&printed.stdout).starts_with("session s-1"));
    let pty = Pty::start(stack.path(), "trace s-1 --print");
    let (status, seen) = pty.finish().await;
    assert!(status.success(), "{seen:?}");
    assert!(seen.contains("session s-1"), "{seen:?}");
    assert!(!seen.contains("\x1b[?1049h"), "no dashboard with --print:\n{seen:?}");
}
