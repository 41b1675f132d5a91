//! The suites, and the stack they share: every approval test boots the engine with the workers
//! the approval flow touches.

mod decide;
mod lifecycle;
mod request;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agentos_kit::harness::TestStack;
use agentos_kit::{III, RestartPolicy, WorkerError, WorkerManifest, call, register_typed};
use agentos_worker_approval::{Approvals, Config, Request};
use agentos_worker_approval_tiers::{ApprovalSettings, Classification, ClassifyRequest};
use iii_sdk::RegisterTriggerInput;
use serde_json::{Value, json};

/// The API key the workers check.
pub const KEY: &str = "approval-test-key-0123456789";

/// How long a bus call may take in tests: generous for a loaded CI machine.
pub const T: Duration = Duration::from_secs(10);

/// A stack with the approval workers, the code-agent on a temporary workspace and the
/// hand-runner.
pub struct Stack {
    /// The engine and its connections.
    pub stack: TestStack,
    /// The code-agent's workspace.
    pub workspace: tempfile::TempDir,
    /// The approval worker's connection and service (replaced by [`Stack::restart_approval`]).
    pub approval: (III, Arc<Approvals>),
    config: Config,
}

impl Stack {
    /// Boots it, requests expiring after `timeout`, at most `max_pending` per agent.
    pub async fn start(timeout: Duration, max_pending: usize) -> Self {
        let stack = TestStack::start().await;
        let workspace = tempfile::tempdir().unwrap();
        let ws = Arc::new(agentos_worker_code_agent::Workspace::new(workspace.path()).unwrap());
        let sandbox =
            Arc::new(agentos_worker_code_agent::Sandbox::probe(agentos_worker_code_agent::SandboxSettings::default()));
        stack
            .worker(&agentos_worker_code_agent::MANIFEST, |iii| agentos_worker_code_agent::register(iii, ws, sandbox))
            .await;
        let hands = workspace.path().join(".hands");
        stack
            .worker(&agentos_worker_hand_runner::MANIFEST, |iii| {
                agentos_worker_hand_runner::register(iii, Some(Arc::from(KEY)), Some(hands));
            })
            .await;
        stack
            .worker(&agentos_worker_approval_tiers::MANIFEST, |iii| {
                agentos_worker_approval_tiers::register(iii, Some(Arc::from(KEY)), ApprovalSettings::default());
            })
            .await;
        let config = Config { timeout, max_pending };
        let approval = start_approval(&stack, config).await;
        Self { stack, workspace, approval, config }
    }

    /// The test client.
    pub fn client(&self) -> III {
        self.stack.client()
    }

    /// `METHOD {http_url}{path}` with the key (or `bearer`), a JSON body and `x-agentos-user`.
    pub async fn http(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        send(method, format!("{}{path}", self.stack.http_url()), Some(KEY), body, Some("ana")).await
    }

    /// Simulates a restart of the approval worker: its timer stops, its connection closes, and
    /// once the engine has dropped its functions a new one registers with the same function.
    pub async fn restart_approval(&mut self) {
        let (old, service) = self.approval.clone();
        service.stop();
        tokio::task::spawn_blocking(move || old.shutdown()).await.unwrap();
        let engine = self.stack.engine().clone();
        agentos_kit::harness::wait_until("the old approval worker to be gone", move || {
            let gone = !engine.has_function("approval::decide");
            async move { gone }
        })
        .await;
        self.approval = start_approval(&self.stack, self.config).await;
    }

    /// Stops everything.
    pub async fn stop(self) {
        self.approval.1.stop();
        self.stack.stop().await;
    }
}

/// Registers the approval worker on `stack` and waits until it is ready.
pub async fn start_approval(stack: &TestStack, config: Config) -> (III, Arc<Approvals>) {
    let slot = Arc::new(Mutex::new(None));
    let filled = Arc::clone(&slot);
    let iii = stack
        .worker(&agentos_worker_approval::MANIFEST, move |iii| {
            let service = agentos_worker_approval::register(iii, Some(Arc::from(KEY)), config);
            *filled.lock().unwrap() = Some(service);
        })
        .await;
    let service = slot.lock().unwrap().take().unwrap();
    (iii, service)
}

/// Sends `method url` with an optional bearer, JSON body and `x-agentos-user`; the status and
/// the JSON body.
pub async fn send(
    method: reqwest::Method,
    url: String,
    bearer: Option<&str>,
    body: Option<Value>,
    user: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some(u) = user {
        req = req.header("x-agentos-user", u);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// `approval::classify` of a call in session `session`.
pub async fn classify(client: &III, function_id: &str, arguments: &Value, session: &str) -> Classification {
    let req = ClassifyRequest {
        function_id: function_id.into(),
        arguments: arguments.clone(),
        session_id: Some(session.into()),
        hand: Some("coder".into()),
        ..ClassifyRequest::default()
    };
    call(client, "approval::classify", &req, T).await.unwrap()
}

/// What agent-core does on `ask`: classify, then `approval::request` with the classification.
pub async fn ask(client: &III, function_id: &str, arguments: Value, session: &str, agent: Option<&str>) -> Request {
    try_ask(client, function_id, arguments, session, agent).await.unwrap()
}

/// [`ask`], keeping the error.
pub async fn try_ask(
    client: &III,
    function_id: &str,
    arguments: Value,
    session: &str,
    agent: Option<&str>,
) -> Result<Request, WorkerError> {
    let classified = classify(client, function_id, &arguments, session).await;
    let input = json!({
        "session_id": session,
        "function_id": function_id,
        "arguments": arguments,
        "tier": classified.tier,
        "rule": classified.rule,
        "reason": "the model wants to",
        "agent": agent,
        "hand": "coder",
        "realm": null,
    });
    call(client, "approval::request", &input, T).await
}

/// A test worker subscribed to `agentos.events`: what it received, in order.
#[derive(Clone, Default)]
pub struct Inbox(Arc<Mutex<Vec<Value>>>);

impl Inbox {
    /// Every event so far.
    pub fn all(&self) -> Vec<Value> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

static INBOX: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "inbox",
    description: "A test subscriber of agentos.events that records every event.",
    functions: vec!["inbox::event"],
    http_routes: vec![],
    depends_on: &[],
    restart: RestartPolicy::No,
});

/// Subscribes an [`Inbox`] to `agentos.events` on `stack`.
pub async fn inbox(stack: &TestStack) -> Inbox {
    let inbox = Inbox::default();
    let recorded = inbox.clone();
    stack
        .worker(&INBOX, move |iii| {
            register_typed(iii, "inbox::event", "records", move |event: Value| {
                recorded.0.lock().unwrap_or_else(PoisonError::into_inner).push(event);
                async { Ok::<_, WorkerError>(Value::Null) }
            });
            iii.register_trigger(RegisterTriggerInput {
                trigger_type: "subscribe".into(),
                function_id: "inbox::event".into(),
                config: json!({"topic": "agentos.events"}),
                metadata: None,
            })
            .unwrap();
        })
        .await;
    inbox
}
