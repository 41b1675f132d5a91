//! One module per concern, each test booting its own [`agentos_kit::harness::TestStack`] and
//! its own temporary hands dir.

mod bus;
mod http;
mod schedule;
mod trigger;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use agentos_kit::harness::TestStack;
use agentos_kit::{III, RestartPolicy, WorkerError, WorkerManifest, register_typed};
use agentos_worker_hand_runner::{MANIFEST, register};
use serde_json::{Value, json};

/// The API key the test worker checks.
pub const KEY: &str = "hands-test-key-0123456789";

/// How long a bus call may take in tests: generous for a loaded CI machine.
pub const T: Duration = Duration::from_secs(10);

/// Registers the hand-runner on `stack` with [`KEY`] and user hands in `dir`, and waits until
/// it is ready.
pub async fn start_hands(stack: &TestStack, dir: &Path) -> III {
    let dir = dir.to_path_buf();
    stack
        .worker(&MANIFEST, |iii| {
            register(iii, Some(Arc::from(KEY)), Some(dir));
        })
        .await
}

/// Writes `<dir>/<name>/HAND.toml`.
pub fn write_hand(dir: &Path, name: &str, text: &str) -> PathBuf {
    let hand_dir = dir.join(name);
    std::fs::create_dir_all(&hand_dir).unwrap();
    let file = hand_dir.join("HAND.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// A valid hand file with `extra` appended (for example a `[schedule]` table).
pub fn hand_text(name: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\ndescription = \"The {name} test hand.\"\nallowed_functions = [\"code::read_file\"]\n[prompt]\nsystem = \"You are {name}.\"\n{extra}"
    )
}

/// A stand-in for agent-core: the test's own `agent::chat`.
static AGENT: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "agent-core",
    description: "A test double of agent::chat that records what it is sent and answers at once.",
    functions: vec!["agent::chat"],
    http_routes: vec![],
    depends_on: &[],
    restart: RestartPolicy::No,
});

/// What the test `agent::chat` received, in order.
#[derive(Clone, Default)]
pub struct Calls(Arc<Mutex<Vec<Value>>>);

impl Calls {
    /// A copy of every input so far.
    pub fn all(&self) -> Vec<Value> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// The answer the test `agent::chat` gives to its `n`-th call (1-based) with `message`.
pub fn answer(n: usize, message: &str) -> Value {
    json!({
        "session_id": format!("sess-{n}"),
        "reply": format!("done: {message}"),
        "tool_calls": [],
        "usage": {"input_tokens": 3, "output_tokens": 5}
    })
}

/// Registers a test `agent::chat` on `stack` that records its input and answers [`answer`].
pub async fn fake_agent(stack: &TestStack) -> Calls {
    slow_agent(stack, Duration::ZERO, Spans::default()).await
}

/// When each call of a slow test `agent::chat` started and ended.
#[derive(Clone, Default)]
pub struct Spans(Arc<Mutex<Vec<(Instant, Instant)>>>);

impl Spans {
    /// A copy of every finished call's (start, end).
    pub fn all(&self) -> Vec<(Instant, Instant)> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// Like [`fake_agent`], but each call takes `delay` (a slow turn) and is recorded in `spans`.
pub async fn slow_agent(stack: &TestStack, delay: Duration, spans: Spans) -> Calls {
    let calls = Calls::default();
    let recorded = calls.clone();
    stack
        .worker(&AGENT, move |iii| {
            register_typed(iii, "agent::chat", "records and answers", move |input: Value| {
                let mut all = recorded.0.lock().unwrap_or_else(PoisonError::into_inner);
                all.push(input.clone());
                let message = input["message"].as_str().unwrap_or_default().to_string();
                let reply = answer(all.len(), &message);
                let spans = spans.clone();
                async move {
                    let started = Instant::now();
                    tokio::time::sleep(delay).await;
                    spans.0.lock().unwrap_or_else(PoisonError::into_inner).push((started, Instant::now()));
                    Ok::<_, WorkerError>(reply)
                }
            });
        })
        .await;
    calls
}
