//! One module per concern, each test booting its own [`agentos_kit::harness::TestStack`] with
//! both session workers.

mod http;
mod record;
mod restart;
mod traces;

use std::sync::Arc;
use std::time::Duration;

use agentos_kit::harness::TestStack;
use agentos_kit::{III, call};
use agentos_worker_session_replay::{RecordEvent, Recorded};
use reqwest::Method;
use serde_json::Value;

/// The API key both test workers check.
pub const KEY: &str = "replay-test-key-0123456789";

/// How long a bus call may take in tests: generous for a loaded CI machine.
pub const T: Duration = Duration::from_secs(10);

/// Registers session-replay on `stack` with [`KEY`] and waits until it is ready.
pub async fn start_replay(stack: &TestStack) -> III {
    stack
        .worker(&agentos_worker_session_replay::MANIFEST, |iii| {
            agentos_worker_session_replay::register(iii, Some(Arc::from(KEY)));
        })
        .await
}

/// Registers session-lifecycle on `stack` with [`KEY`] and waits until it is ready.
pub async fn start_sessions(stack: &TestStack) -> III {
    stack
        .worker(&agentos_worker_session_lifecycle::MANIFEST, |iii| {
            agentos_worker_session_lifecycle::register(iii, Some(Arc::from(KEY)));
        })
        .await
}

/// A stack with both session workers.
pub async fn stack() -> TestStack {
    let stack = TestStack::start().await;
    start_sessions(&stack).await;
    start_replay(&stack).await;
    stack
}

/// A step of session `session` with `data`, at `1_000 + 10 × seq` ms, in turn `turn`.
pub fn step(session: &str, seq: u64, kind: &str, turn: &str, data: Value) -> RecordEvent {
    RecordEvent {
        session_id: session.into(),
        seq,
        kind: kind.into(),
        at_ms: 1_000 + 10 * seq,
        duration_ms: None,
        turn_id: Some(turn.into()),
        trace_id: None,
        data,
    }
}

/// Records `event` on the bus and answers `recorded`.
pub async fn record(client: &III, event: &RecordEvent) -> bool {
    let answer: Recorded = call(client, "replay::record", event, T).await.unwrap();
    answer.recorded
}

/// `GET path` on the stack's REST port with [`KEY`]; answers the status and the JSON body.
pub async fn get(stack: &TestStack, path: &str) -> (u16, Value) {
    send(stack, Method::GET, path, Some(KEY)).await
}

/// `method path` with an optional bearer; answers the status and the JSON body.
pub async fn send(stack: &TestStack, method: Method, path: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", stack.http_url()));
    if let Some(key) = bearer {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}
