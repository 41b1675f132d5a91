//! One module per concern, each test booting its own [`agentos_kit::harness::TestStack`].

mod bus;
mod http;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agentos_kit::harness::TestStack;
use agentos_kit::{III, RestartPolicy, WorkerError, WorkerManifest, register_typed};
use agentos_worker_session_lifecycle::{MANIFEST, SessionEvent, register};
use iii_sdk::RegisterTriggerInput;
use serde_json::{Value, json};

/// The API key the test worker checks.
pub const KEY: &str = "sessions-test-key-0123456789";

/// How long a bus call may take in tests: generous for a loaded CI machine.
pub const T: Duration = Duration::from_secs(10);

/// Registers session-lifecycle on `stack` with [`KEY`] and waits until it is ready.
pub async fn start_sessions(stack: &TestStack) -> III {
    stack
        .worker(&MANIFEST, |iii| {
            register(iii, Some(Arc::from(KEY)));
        })
        .await
}

/// A live inbox: a test function subscribed to `agentos.events`.
static INBOX: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "inbox",
    description: "A test subscriber of agentos.events that keeps what it is sent.",
    functions: vec!["inbox::receive"],
    http_routes: vec![],
    depends_on: &[],
    restart: RestartPolicy::No,
});

/// What the inbox received, in order.
#[derive(Clone, Default)]
pub struct Inbox(Arc<Mutex<Vec<SessionEvent>>>);

impl Inbox {
    /// `(event, session id, state)` of everything received so far.
    pub fn seen(&self) -> Vec<(String, String, String)> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|e| (e.event.clone(), e.data.id.clone(), e.data.state.as_str().to_string()))
            .collect()
    }
}

/// Subscribes a test function to `agentos.events` and returns what it receives.
pub async fn inbox(stack: &TestStack) -> Inbox {
    let inbox = Inbox::default();
    let kept = inbox.clone();
    let iii = stack
        .worker(&INBOX, move |iii| {
            register_typed(iii, "inbox::receive", "keeps session events", move |event: SessionEvent| {
                kept.0.lock().unwrap_or_else(PoisonError::into_inner).push(event);
                async move { Ok::<_, WorkerError>(Value::Null) }
            });
        })
        .await;
    iii.register_trigger(RegisterTriggerInput {
        trigger_type: "subscribe".into(),
        function_id: "inbox::receive".into(),
        config: json!({"topic": "agentos.events"}),
        metadata: None,
    })
    .unwrap();
    let engine = stack.engine().clone();
    agentos_kit::harness::wait_until("the inbox's subscribe trigger", move || {
        let subscribed = subscribed(&engine);
        async move { subscribed }
    })
    .await;
    inbox
}

/// Whether the engine has the inbox's `subscribe` trigger.
fn subscribed(engine: &agentos_engine::Engine) -> bool {
    agentos_engine::triggers::all(engine)
        .iter()
        .any(|t| t.trigger_type == "subscribe" && t.function_id == "inbox::receive")
}
