//! The thin glue between the agent loop and the engine: the manifest, the [`Bus`] over iii
//! calls and channels, the event channel as [`Events`], and the bindings of `agent::*` and the
//! `/v1/chat/interrupt` and `/v1/agents` routes. `POST /v1/chat` is served by the streaming
//! worker, which calls `agent::chat`: a route served by agent-core itself could not answer
//! when agent-core dies during the turn.
//!
//! At start it settles the turns an earlier agent-core process left running
//! ([`crate::orphans::settle`]) and opens the lifeline to the engine ([`crate::lifeline`]).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use agentos_kit::channel::{self, ChannelReader, EventSink};
use agentos_kit::chat::{Completion, CompletionRequest};
use agentos_kit::http::{HttpRequest, HttpResponse};
use agentos_kit::{III, Registration, Worker, WorkerError, WorkerManifest};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::agents::{self, AgentRef, CreateAgent, ListAgents};
use crate::interrupt::{InterruptRequest, Interrupts, RunningAnswer, RunningRequest};
use crate::lifeline::{self, Link};
use crate::orphans;
use crate::turn::{self, Bus, ChatRequest, EnqueueAck, Events};
use crate::{DEFAULT_REALM, Settings};

/// The agent-core worker's manifest, derived from [`worker`]; `workers/agent-core/iii.worker.yaml`
/// mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// How long the token forwarder may take to drain after the LLM answered: the router closes
/// the channel before it answers, so this only matters when it never opened it.
const DRAIN: Duration = Duration::from_secs(2);

/// What every handler shares: the bus, the `[agent]` settings, the running turns (so an
/// interrupt reaches them) and the engine link (so a turn is abandoned when the engine goes).
#[derive(Clone)]
pub struct AgentCore {
    bus: IiiBus,
    settings: Arc<Settings>,
    interrupts: Interrupts,
    link: Link,
}

impl AgentCore {
    /// The service over `iii` with `settings` (call inside a tokio runtime): opens the lifeline
    /// to the engine.
    pub fn start(iii: &III, settings: Settings) -> Self {
        let bus = IiiBus::new(iii.clone());
        let link = lifeline::start(iii, bus.clone());
        Self { bus, settings: Arc::new(settings), interrupts: Interrupts::default(), link }
    }
}

/// The agent-core worker: every `agent::*` function and the `/v1/chat/interrupt` and
/// `/v1/agents` routes over [`AgentCore`]; at registration, before any turn of this process can
/// open a session, it settles the turns an earlier process left running.
pub fn worker() -> Worker<AgentCore, WorkerError> {
    Worker::new(
        "agent-core",
        "The agent loop: chat turns through the bus (context, streamed LLM call, loop guard, allow-list, tool calls) and agent records.",
    )
    .on_register(|r: &Registration<'_, AgentCore>| settle_orphans(r.service.bus.clone()))
    .function(
        "agent::chat",
        "One chat turn: {message, session_id?, hand?, agent?, realm?, model?, history?, events? (channel writer)} -> {session_id, reply, tool_calls, usage, model, steps, finish}.",
        |c: AgentCore, req: ChatRequest| async move { chat(&c.bus, &c.settings, &c.interrupts, &c.link, req).await },
    )
    .function(
        "agent::interrupt",
        "Stops the running turn of a session at its next safe point: {session_id, via?: tui|cli|http} -> {interrupted} (false when no turn of it runs here).",
        |c: AgentCore, req: InterruptRequest| async move { c.interrupts.handle(&req) },
    )
    .function(
        "agent::running",
        "Whether a turn of a session runs in this worker: {session_id} -> {running}.",
        |c: AgentCore, req: RunningRequest| {
            let running = c.interrupts.is_running(&req.session_id);
            async move { Ok::<_, WorkerError>(RunningAnswer { running }) }
        },
    )
    .function(
        "agent::create",
        "Creates an agent: {name, id?, hand?, model?, realm?, description?} -> Agent.",
        |c: AgentCore, req: CreateAgent| async move { agents::create(&c.bus, req, agentos_kit::clock::now_ms()).await },
    )
    .function("agent::get", "One agent: {id, realm?} -> Agent.", |c: AgentCore, req: AgentRef| async move {
        agents::get(&c.bus, &realm_or_default(req.realm), &req.id).await
    })
    .function("agent::list", "A realm's agents: {realm?} -> {agents}.", |c: AgentCore, req: ListAgents| async move {
        agents::list(&c.bus, &realm_or_default(req.realm)).await
    })
    .function("agent::delete", "Deletes an agent: {id, realm?} -> {deleted}.", |c: AgentCore, req: AgentRef| async move {
        agents::delete(&c.bus, &realm_or_default(req.realm), &req.id).await
    })
    // POST /v1/chat/interrupt: stop a session's running turn.
    .route("agent::http_interrupt", "POST", "/v1/chat/interrupt", |c, req| async move {
        Ok(HttpResponse::ok(c.interrupts.handle(&req.body_as::<InterruptRequest>()?)?))
    })
    // GET /v1/agents?realm=: the realm's agents.
    .route("agent::http_list", "GET", "/v1/agents", |c, req| async move {
        Ok(HttpResponse::ok(agents::list(&c.bus, &query_realm(&req)).await?))
    })
    // POST /v1/agents: create one; 201 with its location.
    .route("agent::http_create", "POST", "/v1/agents", |c, req| async move {
        let agent = agents::create(&c.bus, req.body_as()?, agentos_kit::clock::now_ms()).await?;
        let location = format!("/v1/agents/{}?realm={}", agent.id, agent.realm);
        Ok(HttpResponse::json(201, &agent).with_header("location", location))
    })
    // GET /v1/agents/:id?realm=: one agent.
    .route("agent::http_get", "GET", "/v1/agents/:id", |c, req| async move {
        Ok(HttpResponse::ok(agents::get(&c.bus, &query_realm(&req), req.path_param("id")?).await?))
    })
    // DELETE /v1/agents/:id?realm=: delete one.
    .route("agent::http_delete", "DELETE", "/v1/agents/:id", |c, req| async move {
        Ok(HttpResponse::ok(agents::delete(&c.bus, &query_realm(&req), req.path_param("id")?).await?))
    })
}

/// Runs the agent-core worker as its own process until SIGTERM or SIGINT
/// (`agentos worker agent-core`), with the `[agent]` section of the config file.
pub fn run() -> Result<(), WorkerError> {
    let settings: Settings = agentos_kit::config::section("agent")?;
    worker().run(|iii| Ok(AgentCore::start(iii, settings)))
}

/// Fails, in the background, the sessions an earlier agent-core process left running: every
/// one whose turn started before now (so before any turn of this process).
fn settle_orphans(bus: IiiBus) {
    let started_ms = agentos_kit::clock::now_ms();
    tokio::spawn(async move {
        match orphans::settle(&bus, started_ms, orphans::AGENT_CORE_RESTARTED, orphans::AGENT_CORE_GONE).await {
            Ok(s) if s.sessions.is_empty() => tracing::debug!("no turn was left running"),
            Ok(s) => {
                tracing::warn!(sessions = ?s.sessions, expired = s.expired, "failed the turns an earlier agent-core left running")
            }
            Err(e) => tracing::warn!("could not settle the turns an earlier agent-core left running: {e}"),
        }
    });
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

fn realm_or_default(realm: Option<String>) -> String {
    realm.unwrap_or_else(|| DEFAULT_REALM.to_string())
}

fn query_realm(req: &HttpRequest) -> String {
    realm_or_default(req.query("realm").map(str::to_string))
}
