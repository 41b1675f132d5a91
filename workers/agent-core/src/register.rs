//! The thin glue between the agent loop and the engine: the manifest, the [`Bus`] over iii
//! calls and channels, the event channel as [`Events`], and the bindings of `agent::*` and the
//! `/v1/chat/interrupt` and `/v1/agents` routes. `POST /v1/chat` is served by the streaming
//! worker, which calls `agent::chat`: a route served by agent-core itself could not answer
//! when agent-core dies during the turn.
//!
//! At start it settles the turns an earlier agent-core process left running
//! ([`crate::orphans::settle`]) and opens the lifeline to the engine ([`crate::lifeline`]).

use std::sync::Arc;
use std::time::Duration;

use agentos_kit::channel::{self, ChannelReader, EventSink};
use agentos_kit::chat::{Completion, CompletionRequest};
use agentos_kit::http::{HttpRequest, HttpResponse, register_route_or_log};
use agentos_kit::{HttpRoute, III, RestartPolicy, WorkerError, WorkerManifest, register_typed};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::agents::{self, AgentRef, CreateAgent, ListAgents};
use crate::interrupt::{InterruptRequest, Interrupts, RunningAnswer, RunningRequest};
use crate::lifeline::{self, Link};
use crate::orphans;
use crate::turn::{self, Bus, ChatRequest, EnqueueAck, Events};
use crate::{DEFAULT_REALM, Settings};

/// `POST /v1/chat/interrupt`: stop a session's running turn.
const HTTP_INTERRUPT: HttpRoute =
    HttpRoute { method: "POST", path: "/v1/chat/interrupt", function_id: "agent::http_interrupt" };
/// `GET /v1/agents`: the realm's agents (`?realm=`).
const HTTP_LIST: HttpRoute = HttpRoute { method: "GET", path: "/v1/agents", function_id: "agent::http_list" };
/// `POST /v1/agents`: create one; 201.
const HTTP_CREATE: HttpRoute = HttpRoute { method: "POST", path: "/v1/agents", function_id: "agent::http_create" };
/// `GET /v1/agents/:id`: one agent (`?realm=`).
const HTTP_GET: HttpRoute = HttpRoute { method: "GET", path: "/v1/agents/:id", function_id: "agent::http_get" };
/// `DELETE /v1/agents/:id`: delete one (`?realm=`).
const HTTP_DELETE: HttpRoute =
    HttpRoute { method: "DELETE", path: "/v1/agents/:id", function_id: "agent::http_delete" };

/// The agent-core worker's manifest; `workers/agent-core/iii.worker.yaml` mirrors it.
pub static MANIFEST: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "agent-core",
    description: "The agent loop: chat turns through the bus (context, streamed LLM call, loop guard, allow-list, tool calls) and agent records.",
    functions: vec![
        "agent::chat",
        "agent::interrupt",
        "agent::running",
        "agent::create",
        "agent::get",
        "agent::list",
        "agent::delete",
        "agent::http_interrupt",
        "agent::http_list",
        "agent::http_create",
        "agent::http_get",
        "agent::http_delete",
    ],
    http_routes: vec![HTTP_INTERRUPT, HTTP_LIST, HTTP_CREATE, HTTP_GET, HTTP_DELETE],
    depends_on: &[],
    restart: RestartPolicy::Always,
});

/// How long the token forwarder may take to drain after the LLM answered: the router closes
/// the channel before it answers, so this only matters when it never opened it.
const DRAIN: Duration = Duration::from_secs(2);

/// Runs the agent-core worker as its own process until SIGTERM or SIGINT
/// (`agentos worker agent-core`), with the `[agent]` section of the config file.
pub fn run() -> Result<(), WorkerError> {
    let settings: Settings = agentos_kit::config::section("agent")?;
    agentos_kit::run_worker(&MANIFEST, |iii| register(iii, settings, agentos_kit::http::api_key_from_env()))
}

/// The bus over a live iii connection.
#[derive(Clone)]
pub struct IiiBus {
    iii: III,
}

impl IiiBus {
    /// A bus over `iii`.
    pub fn new(iii: III) -> Self {
        Self { iii }
    }
}

impl Bus for IiiBus {
    async fn call(&self, function_id: &str, input: Value, timeout: Duration) -> Result<Value, WorkerError> {
        agentos_kit::call(&self.iii, function_id, &input, timeout).await
    }

    fn enqueue(&self, function_id: &str, input: Value, queue: &str) -> EnqueueAck {
        let (iii, function_id, queue) = (self.iii.clone(), function_id.to_string(), queue.to_string());
        let delivery =
            tokio::spawn(async move { agentos_kit::typed::enqueue(&iii, &function_id, &input, &queue).await });
        Box::pin(async move {
            delivery.await.unwrap_or_else(|e| Err(WorkerError::internal(format!("the enqueue task failed: {e}"))))
        })
    }

    async fn complete(
        &self,
        mut request: CompletionRequest,
        tokens: Option<mpsc::UnboundedSender<String>>,
        timeout: Duration,
    ) -> Result<Completion, WorkerError> {
        let Some(tokens) = tokens else {
            return agentos_kit::call(&self.iii, "llm::complete", &request, timeout).await;
        };
        let pair = match channel::create(&self.iii, 256).await {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!("no token channel ({e}); the answer arrives whole");
                return agentos_kit::call(&self.iii, "llm::complete", &request, timeout).await;
            }
        };
        request.stream = Some(pair.writer);
        let address = self.iii.address().to_string();
        let forward = tokio::spawn(async move {
            let mut reader = ChannelReader::open(&address, &pair.reader).await?;
            while let Some(event) = reader.next_event().await? {
                if event.event == "token"
                    && let Some(text) = event.data.get("text").and_then(Value::as_str)
                {
                    // The turn may have stopped listening; the rest of the stream is dropped.
                    let _ = tokens.send(text.to_string());
                }
            }
            Ok::<_, WorkerError>(())
        });
        let result = agentos_kit::call(&self.iii, "llm::complete", &request, timeout).await;
        if result.is_err() {
            forward.abort();
            return result;
        }
        match tokio::time::timeout(DRAIN, forward).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!("token stream: {e}"),
            Ok(Err(e)) => tracing::warn!("token forwarder: {e}"),
            Err(_) => tracing::warn!("the token stream did not end after the answer; dropped"),
        }
        result
    }
}

impl Events for EventSink {
    fn is_open(&self) -> bool {
        EventSink::is_open(self)
    }

    async fn emit(&mut self, event: &str, data: Value) {
        EventSink::emit(self, event, data).await;
    }
}

/// Runs one turn for `req`, streaming its events into `req.events` when given; `interrupts`
/// reaches it while it runs, and it is abandoned when `link` says the engine went away.
pub async fn chat(
    bus: &IiiBus,
    settings: &Settings,
    interrupts: &Interrupts,
    link: &Link,
    req: ChatRequest,
) -> Result<turn::ChatAnswer, WorkerError> {
    let lost = link.lost();
    // The engine's trace of this invocation, when the SDK's telemetry carries it.
    let trace_id = iii_sdk::telemetry::context::current_trace_id();
    let mut events = EventSink::open(bus.iii.address(), req.events.as_ref()).await;
    let result = turn::chat_supervised(bus, &mut events, settings, req, trace_id, interrupts, lost).await;
    events.close().await;
    result
}

/// Registers every `agent::*` function and the `/v1/chat/interrupt` and `/v1/agents` routes on
/// `iii` (call inside a tokio runtime); settles the turns an earlier process left running and
/// opens the lifeline to the engine.
pub fn register(iii: &III, settings: Settings, api_key: Option<Arc<str>>) {
    // Before any turn of this process can open a session.
    let started_ms = agentos_kit::clock::now_ms();
    let bus = IiiBus::new(iii.clone());
    let settings = Arc::new(settings);
    let interrupts = Interrupts::default();
    let link = lifeline::start(iii, bus.clone());
    let b = bus.clone();
    tokio::spawn(async move {
        match orphans::settle(&b, started_ms, orphans::AGENT_CORE_RESTARTED, orphans::AGENT_CORE_GONE).await {
            Ok(s) if s.sessions.is_empty() => tracing::debug!("no turn was left running"),
            Ok(s) => {
                tracing::warn!(sessions = ?s.sessions, expired = s.expired, "failed the turns an earlier agent-core left running")
            }
            Err(e) => tracing::warn!("could not settle the turns an earlier agent-core left running: {e}"),
        }
    });

    let (b, s, i, l) = (bus.clone(), settings, interrupts.clone(), link);
    register_typed(
        iii,
        "agent::chat",
        "One chat turn: {message, session_id?, hand?, agent?, realm?, model?, history?, events? (channel writer)} -> {session_id, reply, tool_calls, usage, model, steps, finish}.",
        move |req: ChatRequest| {
            let (b, s, i, l) = (b.clone(), s.clone(), i.clone(), l.clone());
            async move { chat(&b, &s, &i, &l, req).await }
        },
    );
    let i = interrupts.clone();
    register_typed(
        iii,
        "agent::interrupt",
        "Stops the running turn of a session at its next safe point: {session_id, via?: tui|cli|http} -> {interrupted} (false when no turn of it runs here).",
        move |req: InterruptRequest| {
            let i = i.clone();
            async move { i.handle(&req) }
        },
    );
    let i = interrupts.clone();
    register_typed(
        iii,
        "agent::running",
        "Whether a turn of a session runs in this worker: {session_id} -> {running}.",
        move |req: RunningRequest| {
            let running = i.is_running(&req.session_id);
            async move { Ok::<_, WorkerError>(RunningAnswer { running }) }
        },
    );
    let b = bus.clone();
    register_typed(
        iii,
        "agent::create",
        "Creates an agent: {name, id?, hand?, model?, realm?, description?} -> Agent.",
        move |req: CreateAgent| {
            let b = b.clone();
            async move { agents::create(&b, req, agentos_kit::clock::now_ms()).await }
        },
    );
    let b = bus.clone();
    register_typed(iii, "agent::get", "One agent: {id, realm?} -> Agent.", move |req: AgentRef| {
        let b = b.clone();
        async move { agents::get(&b, &realm_or_default(req.realm), &req.id).await }
    });
    let b = bus.clone();
    register_typed(iii, "agent::list", "A realm's agents: {realm?} -> {agents}.", move |req: ListAgents| {
        let b = b.clone();
        async move { agents::list(&b, &realm_or_default(req.realm)).await }
    });
    let b = bus.clone();
    register_typed(iii, "agent::delete", "Deletes an agent: {id, realm?} -> {deleted}.", move |req: AgentRef| {
        let b = b.clone();
        async move { agents::delete(&b, &realm_or_default(req.realm), &req.id).await }
    });

    if api_key.is_none() {
        tracing::warn!(
            worker = MANIFEST.name,
            "no API key (AGENTOS_API_KEY): /v1/chat/interrupt and /v1/agents answer without one"
        );
    }
    register_route_or_log(iii, MANIFEST.name, HTTP_INTERRUPT, &api_key, move |req| {
        let i = interrupts.clone();
        async move { Ok(HttpResponse::ok(i.handle(&req.body_as::<InterruptRequest>()?)?)) }
    });
    let b = bus.clone();
    register_route_or_log(iii, MANIFEST.name, HTTP_LIST, &api_key, move |req| {
        let b = b.clone();
        async move { Ok(HttpResponse::ok(agents::list(&b, &query_realm(&req)).await?)) }
    });
    let b = bus.clone();
    register_route_or_log(iii, MANIFEST.name, HTTP_CREATE, &api_key, move |req| {
        let b = b.clone();
        async move {
            let agent = agents::create(&b, req.body_as()?, agentos_kit::clock::now_ms()).await?;
            let location = format!("/v1/agents/{}?realm={}", agent.id, agent.realm);
            Ok(HttpResponse::json(201, &agent).with_header("location", location))
        }
    });
    let b = bus.clone();
    register_route_or_log(iii, MANIFEST.name, HTTP_GET, &api_key, move |req| {
        let b = b.clone();
        async move { Ok(HttpResponse::ok(agents::get(&b, &query_realm(&req), req.path_param("id")?).await?)) }
    });
    register_route_or_log(iii, MANIFEST.name, HTTP_DELETE, &api_key, move |req| {
        let b = bus.clone();
        async move { Ok(HttpResponse::ok(agents::delete(&b, &query_realm(&req), req.path_param("id")?).await?)) }
    });
}

fn realm_or_default(realm: Option<String>) -> String {
    realm.unwrap_or_else(|| DEFAULT_REALM.to_string())
}

fn query_realm(req: &HttpRequest) -> String {
    realm_or_default(req.query("realm").map(str::to_string))
}
