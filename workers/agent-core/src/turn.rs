//! One chat turn: the agent loop.
//!
//! `session::open` → `context::build` → `llm::complete` (streamed when someone listens) → for
//! each tool call: `guard::check` → `approval::classify` (and for `ask`: `approval::request`,
//! then `approval::wait` for a person's decision) → the tool function → back to the model, until
//! it answers without tools, the step limit is reached or the person interrupts it
//! ([`crate::interrupt`]). Every step is recorded with `replay::record` and is a call through the
//! bus ([`Bus`]), so the engine traces the whole turn.
//!
//! The decisions are a pure state machine ([`machine::Turn`]: what happened in, what to do next
//! out); a thin async driver carries its effects out through the [`Bus`], the [`Events`] and the
//! replay [`Recorder`](crate::record::Recorder). Unit tests drive the machine with tables of
//! inputs and the whole turn with a fake bus.
//!
//! Rules it keeps:
//! - The model always gets an answer for each tool call it made: a result, an error, or the
//!   reason the call was not made (blocked by the loop guard, denied, unknown tool).
//! - Safety fails closed: when `guard::check` or the approval workers fail, the call is not
//!   made. Only when no approval worker is running at all does the `[agent] allow` list decide.
//! - A turn that fails is not saved; a turn that completes is saved with every tool call and
//!   result, so the next turn sees what happened.
//! - Events are best effort ([`Events`]); the answer is the same whether anyone listens or not.
//! - A message over `[agent] max_message_bytes` is refused before anything is stored.
//! - A turn the engine went away under ends at once as failed ([`chat_supervised`]); nothing it
//!   waited on stays pending ([`crate::orphans`]).
//! - An interrupt is checked before every LLM call and every tool call, and races the streamed
//!   answer and the wait for an approval; the interrupted turn ends like a finished one.

mod driver;
pub mod effects;
pub mod machine;
#[cfg(test)]
mod machine_tests;

use std::future::Future;
use std::time::Duration;

use agentos_kit::channel::ChannelRef;
use agentos_kit::chat::{ChatMessage, Completion, CompletionRequest};
use agentos_kit::{WorkerError, codes};
use agentos_protocol::chat::ChatEvent;
/// The turn's answer and its parts: the chat contract, shared with every client.
pub use agentos_protocol::chat::{ChatAnswer, ToolCallRecord, TurnUsage};
/// An error as the model and clients see it.
pub use agentos_protocol::error::ErrorInfo;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::interrupt::Interrupts;
use crate::settings::Settings;
use machine::SessionState;

/// How long bookkeeping calls (state, hand lookup, loop guard) may take.
pub const QUICK: Duration = Duration::from_secs(10);

/// How long `context::build` may take: it may summarise old history through the LLM.
pub(crate) const CONTEXT_TIMEOUT: Duration = Duration::from_secs(180);

/// The engine and the other workers, as the turn sees them.
pub trait Bus: Send + Sync {
    /// Calls `function_id` with `input`, waiting at most `timeout`.
    fn call(
        &self,
        function_id: &str,
        input: Value,
        timeout: Duration,
    ) -> impl Future<Output = Result<Value, WorkerError>> + Send;

    /// Durable delivery of `input` to `function_id` through the engine's queue `queue`. The
    /// delivery starts at once, whether or not the returned future is awaited; awaiting it
    /// gives the engine's acknowledgement.
    fn enqueue(&self, function_id: &str, input: Value, queue: &str) -> EnqueueAck;

    /// `llm::complete`; when `tokens` is given the answer is streamed and every text delta is
    /// sent there before this returns.
    fn complete(
        &self,
        request: CompletionRequest,
        tokens: Option<mpsc::UnboundedSender<String>>,
        timeout: Duration,
    ) -> impl Future<Output = Result<Completion, WorkerError>> + Send;
}

/// The engine's acknowledgement of an enqueued delivery.
pub type EnqueueAck = std::pin::Pin<Box<dyn Future<Output = Result<(), WorkerError>> + Send + 'static>>;

/// Whoever watches the turn (an SSE client, the TUI).
///
/// The turn sends typed [`ChatEvent`]s ([`Events::send`]); an implementation only carries one
/// event's wire name and data ([`Events::emit`]).
pub trait Events: Send {
    /// Whether anyone listens (tokens are only streamed then).
    fn is_open(&self) -> bool;
    /// Writes one event as its wire name and data; never fails the turn.
    fn emit(&mut self, event: &str, data: Value) -> impl Future<Output = ()> + Send;
    /// Sends one event of the chat contract; never fails the turn.
    fn send(&mut self, event: ChatEvent) -> impl Future<Output = ()> + Send {
        async move {
            let (name, data) = event.into_parts();
            self.emit(&name, data).await;
        }
    }
}

/// Nobody listens.
pub struct NoEvents;

impl Events for NoEvents {
    fn is_open(&self) -> bool {
        false
    }
    async fn emit(&mut self, _event: &str, _data: Value) {}
}

/// `agent::chat`: one turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// What the person says.
    pub message: String,
    /// Continue this session (a new one is created, under this id when given, if it does not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The hand to use (default: the agent's, else `[agent] default_hand`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand: Option<String>,
    /// An agent record of the realm, supplying hand and model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The realm (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// `provider/model`, overriding the agent's and the hand's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The conversation so far, used instead of the stored session history (clients of the
    /// OpenAI-compatible API send the whole conversation every time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<ChatMessage>>,
    /// A channel writer for the turn's events (`session`, `token`, `tool_call`, `tool_result`,
    /// `usage`, `done`, `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<ChannelRef>,
}

/// What `hand::get` says about a hand (only what the turn needs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hand {
    /// Its name.
    pub name: String,
    /// The system prompt.
    #[serde(default)]
    pub system_prompt: String,
    /// Its model, if it names one.
    #[serde(default)]
    pub model: Option<String>,
    /// Its tier, if it names one.
    #[serde(default)]
    pub tier: Option<String>,
    /// The functions its tools may call.
    #[serde(default)]
    pub allowed_functions: Vec<String>,
    /// Its own step limit.
    #[serde(default)]
    pub max_steps: Option<u32>,
    /// What to remember of its turns.
    #[serde(default)]
    pub memory: Option<crate::remember::MemoryPolicy>,
}

/// What `context::build` answers (only what the turn needs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuiltContext {
    /// The prompt: system prompt, history (maybe compacted), the new message.
    pub messages: Vec<ChatMessage>,
    /// Whether old history was summarised.
    #[serde(default)]
    pub compacted: bool,
    /// The prompt's size, estimated.
    #[serde(default)]
    pub estimated_tokens: u64,
}

/// What `session::open` answers (only what the turn needs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenedSession {
    /// The session's id.
    pub id: String,
    /// Its turns, this one included.
    #[serde(default)]
    pub turns: u64,
}

/// Who the turn is: what tool calls and records need to name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnContext {
    /// The session.
    pub session_id: String,
    /// This turn.
    pub turn_id: String,
    /// The realm.
    pub realm: String,
    /// The hand's name.
    pub hand: String,
    /// The agent, when one was named.
    pub agent: Option<String>,
}

/// Runs one turn and reports it to `events`: `usage` and `done` after a turn that completed,
/// `error` after one that failed. Nobody can interrupt it; see [`chat_interruptible`].
pub async fn chat<B: Bus, E: Events>(
    bus: &B,
    events: &mut E,
    settings: &Settings,
    req: ChatRequest,
    trace_id: Option<String>,
) -> Result<ChatAnswer, WorkerError> {
    chat_interruptible(bus, events, settings, req, trace_id, &Interrupts::default()).await
}

/// [`chat`], with the turn registered in `interrupts` under its session id while it runs, so
/// `agent::interrupt` can stop it.
pub async fn chat_interruptible<B: Bus, E: Events>(
    bus: &B,
    events: &mut E,
    settings: &Settings,
    req: ChatRequest,
    trace_id: Option<String>,
    interrupts: &Interrupts,
) -> Result<ChatAnswer, WorkerError> {
    chat_supervised(bus, events, settings, req, trace_id, interrupts, std::future::pending()).await
}

/// [`chat_interruptible`], abandoned with the error `lost` gives when that completes first (the
/// engine went away under the turn: [`crate::lifeline`]). An abandoned turn ends like a failed
/// one: its session is `failed` and its pending approval requests are expired.
pub async fn chat_supervised<B: Bus, E: Events>(
    bus: &B,
    events: &mut E,
    settings: &Settings,
    req: ChatRequest,
    trace_id: Option<String>,
    interrupts: &Interrupts,
    lost: impl Future<Output = WorkerError>,
) -> Result<ChatAnswer, WorkerError> {
    driver::drive(bus, events, settings, req, trace_id, interrupts, lost).await
}

/// Moves the session to `state`; a failure is logged, never the turn's undoing.
pub(crate) async fn set_state<B: Bus>(bus: &B, session_id: &str, state: SessionState, error: Option<&ErrorInfo>) {
    let input = json!({"id": session_id, "state": state, "error": error});
    if let Err(e) = call_as::<_, Value>(bus, "session::set_state", input, QUICK).await {
        tracing::warn!(session = session_id, state = state.as_str(), "could not set the session state: {e}");
    }
}

/// Calls `function_id` and decodes the answer; a missing function is named with the worker
/// that should provide it.
pub async fn call_as<B: Bus, T: DeserializeOwned>(
    bus: &B,
    function_id: &str,
    input: Value,
    timeout: Duration,
) -> Result<T, WorkerError> {
    let value = bus.call(function_id, input, timeout).await.map_err(|e| explain_missing(function_id, e))?;
    serde_json::from_value(value).map_err(|e| {
        WorkerError::new(codes::BAD_RESPONSE, format!("{function_id} answered with an unexpected shape: {e}"))
    })
}

/// `function_not_found` for a function the turn needs becomes a message naming the worker.
fn explain_missing(function_id: &str, e: WorkerError) -> WorkerError {
    if e.code != "function_not_found" {
        return e;
    }
    let worker = match function_id.split("::").next().unwrap_or_default() {
        "realm" => "realm",
        "hand" => "hand-runner",
        "session" => "session-lifecycle",
        "replay" => "session-replay",
        "approval" => "approval",
        "context" => "context-manager",
        "llm" => "llm-router",
        "guard" => "loop-guard",
        "state" | "engine" => "engine",
        _ => "owning",
    };
    WorkerError::new(
        codes::ENGINE_UNAVAILABLE,
        format!(
            "{function_id} is not registered: the {worker} worker is not running; see `agentos status` and `agentos logs {worker}`"
        ),
    )
}
