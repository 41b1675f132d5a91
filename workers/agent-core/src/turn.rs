//! One chat turn: the agent loop.
//!
//! `session::open` → `context::build` → `llm::complete` (streamed when someone listens) → for
//! each tool call: `guard::check` → `approval::classify` (and for `ask`: `approval::request`,
//! then `approval::wait` for a person's decision) → the tool function → back to the model, until
//! it answers without tools, the step limit is reached or the person interrupts it
//! ([`crate::interrupt`]). Every step is recorded with
//! `replay::record` and is a call through the bus ([`Bus`]), so the engine traces the whole turn;
//! the loop itself is plain code that unit tests drive with a fake bus.
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

use std::future::Future;
use std::time::{Duration, Instant};

use agentos_kit::channel::ChannelRef;
use agentos_kit::chat::{ChatMessage, Completion, CompletionRequest, Role, ToolCall};
use agentos_kit::{WorkerError, codes};
/// The turn's answer and its parts: the chat contract, shared with every client.
pub use agentos_protocol::chat::{ChatAnswer, ToolCallRecord, TurnUsage};
use agentos_protocol::chat::{ChatEvent, Token, ToolCallEvent, ToolResultEvent, TurnSession};
/// An error as the model and clients see it.
pub use agentos_protocol::error::ErrorInfo;
use agentos_protocol::replay::{ContextBuilt, CountOrList, LlmRequest, LlmResponse, Step, TurnDone, UserMessage};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::approve::{self, Gate};
use crate::history;
use crate::interrupt::{self, Cancel, Interrupts};
use crate::record::Recorder;
use crate::settings::Settings;
use crate::tools::{FunctionList, Toolbox, render_result, truncate};
use crate::{DEFAULT_REALM, agents};

/// How long bookkeeping calls (state, hand lookup, loop guard) may take.
pub const QUICK: Duration = Duration::from_secs(10);

/// How long `context::build` may take: it may summarise old history through the LLM.
const CONTEXT_TIMEOUT: Duration = Duration::from_secs(180);

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

/// Adds an LLM call's tokens and cost to a turn's usage.
trait AddCompletion {
    fn add(&mut self, c: &Completion);
}

impl AddCompletion for TurnUsage {
    fn add(&mut self, c: &Completion) {
        self.add_call(c.usage.input_tokens, c.usage.output_tokens, c.cost_usd);
    }
}

/// What `hand::get` says about a hand (only what the turn needs).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
struct BuiltContext {
    messages: Vec<ChatMessage>,
    #[serde(default)]
    compacted: bool,
    #[serde(default)]
    estimated_tokens: u64,
}

/// What `session::open` answers (only what the turn needs).
#[derive(Debug, Clone, Deserialize)]
struct OpenedSession {
    id: String,
    #[serde(default)]
    turns: u64,
}

/// Who the turn is: what tool calls and records need to name.
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

/// The loop guard's verdict.
#[derive(Debug, Clone, Deserialize)]
struct Verdict {
    action: String,
    #[serde(default)]
    reason: Option<String>,
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
    let mut recorder = None;
    let mut result = tokio::select! {
        biased;
        result = turn(bus, events, settings, req, trace_id, interrupts, &mut recorder) => result,
        e = lost => Err(e),
    };
    // Every recorded step must have reached the engine's queue before the turn answers.
    if let (Some((rec, _)), Ok(_)) = (recorder.as_mut(), &result)
        && let Err(e) = rec.flush(bus).await
    {
        result = Err(e);
    }
    match &result {
        Ok(answer) => {
            events.send(ChatEvent::Usage(answer.usage.clone())).await;
            events.send(ChatEvent::Done(Box::new(answer.clone()))).await;
        }
        Err(e) => {
            events.send(ChatEvent::Error(ErrorInfo::from(e))).await;
            // A turn that got as far as its session says how it ended, in the session and in
            // its replay log; failures to do so are logged (the turn already failed).
            if let Some((rec, session_id)) = recorder.as_mut() {
                rec.record(bus, Step::Error(ErrorInfo::from(e)), None);
                if let Err(r) = rec.flush(bus).await {
                    tracing::warn!("could not record the turn's error: {r}");
                }
                set_state(bus, session_id, "failed", Some(e)).await;
                if e.code == crate::orphans::TURN_INTERRUPTED {
                    // The turn may have been abandoned while a request waited on it.
                    let started = Instant::now();
                    let turn_id = rec.turn_id().to_string();
                    let gone = crate::orphans::ENGINE_GONE;
                    if let Err(x) = crate::orphans::expire(bus, started, session_id, Some(&turn_id), gone).await {
                        tracing::warn!(session = %session_id, "could not expire the turn's approval requests: {x}");
                    }
                }
            }
        }
    }
    result
}

/// Moves the session to `state`; a failure is logged, never the turn's undoing.
pub(crate) async fn set_state<B: Bus>(bus: &B, session_id: &str, state: &str, error: Option<&WorkerError>) {
    let input = json!({"id": session_id, "state": state, "error": error.map(ErrorInfo::from)});
    if let Err(e) = call_as::<_, Value>(bus, "session::set_state", input, QUICK).await {
        tracing::warn!(session = session_id, state, "could not set the session state: {e}");
    }
}

async fn turn<B: Bus, E: Events>(
    bus: &B,
    events: &mut E,
    settings: &Settings,
    req: ChatRequest,
    trace_id: Option<String>,
    interrupts: &Interrupts,
    recorder: &mut Option<(Recorder, String)>,
) -> Result<ChatAnswer, WorkerError> {
    if req.message.trim().is_empty() {
        return Err(WorkerError::invalid_input("the message is empty; say something"));
    }
    // Before anything is stored: no session, no replay step, no history.
    settings.check_message(&req.message)?;
    let realm = req.realm.clone().unwrap_or_else(|| DEFAULT_REALM.to_string());
    let agent = match &req.agent {
        Some(id) => Some(agents::get(bus, &realm, id).await?),
        None => None,
    };
    let hand_name = req
        .hand
        .clone()
        .or_else(|| agent.as_ref().and_then(|a| a.hand.clone()))
        .unwrap_or_else(|| settings.default_hand.clone());
    // Independent lookups go out together: each is a round trip through the engine.
    let (realm_ok, hand, registry) = tokio::join!(
        call_as::<_, Value>(bus, "realm::get", json!({"id": realm}), QUICK),
        call_as::<_, Hand>(bus, "hand::get", json!({"name": hand_name}), QUICK),
        call_as::<_, FunctionList>(bus, "engine::functions::list", json!({}), QUICK),
    );
    realm_ok?;
    let (hand, registry) = (hand?, registry?);
    let model = req.model.clone().or_else(|| agent.as_ref().and_then(|a| a.model.clone())).or(hand.model.clone());

    let open = call_as::<_, OpenedSession>(
        bus,
        "session::open",
        json!({"id": req.session_id, "realm": realm, "hand": hand.name, "agent": req.agent, "model": model}),
        QUICK,
    );
    // A session named by the client may have history; a new one has none.
    let earlier = async {
        match (&req.history, &req.session_id) {
            (Some(h), _) => Ok(h.clone()),
            (None, Some(id)) => history::load(bus, &realm, id).await,
            (None, None) => Ok(Vec::new()),
        }
    };
    let (session, history) = tokio::join!(open, earlier);
    let (session, history) = (session?, history?);
    let ctx = TurnContext {
        session_id: session.id.clone(),
        turn_id: uuid::Uuid::new_v4().to_string(),
        realm: realm.clone(),
        hand: hand.name.clone(),
        agent: req.agent.clone(),
    };
    // Reachable by `agent::interrupt` from here on: the client learns the session id from the
    // `session` event below.
    let running = interrupts.start(&ctx.session_id);
    let cancel = running.cancel().clone();
    let rec = recorder
        .insert((Recorder::new(&ctx.session_id, session.turns, &ctx.turn_id, trace_id), ctx.session_id.clone()));
    let rec = &mut rec.0;
    events
        .send(ChatEvent::Session(TurnSession {
            session_id: ctx.session_id.clone(),
            realm: realm.clone(),
            hand: hand.name.clone(),
            agent: req.agent.clone(),
            model: model.clone(),
            turn_id: ctx.turn_id.clone(),
            trace_id: rec.trace_id().map(str::to_string),
        }))
        .await;
    let said = UserMessage { text: req.message.clone(), hand: Some(hand.name.clone()), model: model.clone() };
    rec.record(bus, Step::UserMessage(said), None);

    let toolbox = Toolbox::new(&hand.allowed_functions, &registry.functions);
    if !toolbox.missing.is_empty() {
        tracing::warn!(hand = %hand.name, missing = ?toolbox.missing, "the hand allows functions nobody registered");
    }

    let started = Instant::now();
    let built: BuiltContext = call_as(
        bus,
        "context::build",
        json!({
            "system": hand.system_prompt,
            "history": history,
            "message": req.message,
            "tools": toolbox.specs,
            "model": model,
            "realm": realm,
            "agent": req.agent,
        }),
        CONTEXT_TIMEOUT,
    )
    .await?;
    let context = ContextBuilt {
        messages: Some(built.messages.len() as u64),
        estimated_tokens: Some(built.estimated_tokens),
        compacted: Some(built.compacted),
    };
    rec.record(bus, Step::ContextBuilt(context), Some(started));
    let mut messages = built.messages;
    // What the session keeps: the compacted history when the context manager compacted it (so
    // the summary is not paid for again: everything after the system prompt), else the history
    // plus the new message.
    let mut kept: Vec<ChatMessage> = if built.compacted {
        let skip =
            usize::from(messages.first().is_some_and(|m| m.role == Role::System && !m.content.starts_with("[Summary")));
        messages.iter().skip(skip).cloned().collect()
    } else {
        let mut h = history;
        h.push(ChatMessage::user(req.message.clone()));
        h
    };

    let max_steps = hand.max_steps.unwrap_or(settings.max_steps).max(1);
    let mut usage = TurnUsage::default();
    let mut records = Vec::new();
    let mut last_model = model.clone().unwrap_or_default();
    let mut reply = String::new();
    let mut finish = "step_limit".to_string();
    // What the model had streamed of an answer the interrupt cut short.
    let mut partial = String::new();
    for _ in 0..max_steps {
        if cancel.is_set() {
            break;
        }
        let request = CompletionRequest {
            model: model.clone(),
            tier: if model.is_none() { hand.tier.clone() } else { None },
            messages: messages.clone(),
            tools: toolbox.specs.clone(),
            ..CompletionRequest::default()
        };
        let asked = LlmRequest {
            model: request.model.clone(),
            tier: request.tier.clone(),
            messages_count: Some(request.messages.len() as u64),
            tools: Some(CountOrList::List(toolbox.names().into_iter().map(Value::from).collect())),
        };
        rec.record(bus, Step::LlmRequest(asked), None);
        let started = Instant::now();
        // The call comes first: tokens already received are shown, and an answer that is
        // complete is not thrown away.
        let completion = tokio::select! {
            biased;
            c = complete_streamed(bus, events, request, settings.llm_timeout(), &mut partial) => Some(c?),
            () = cancel.fired() => None,
        };
        let Some(completion) = completion else { break };
        partial.clear();
        rec.record(bus, Step::LlmResponse(Box::new(LlmResponse::from(&completion))), Some(started));
        usage.add(&completion);
        last_model = format!("{}/{}", completion.provider, completion.model);
        if completion.tool_calls.is_empty() {
            reply = completion.content.clone();
            let answer = ChatMessage::new(Role::Assistant, completion.content);
            messages.push(answer.clone());
            kept.push(answer);
            finish = "stop".to_string();
            break;
        }
        let assistant = ChatMessage::assistant_calls(completion.content.clone(), completion.tool_calls.clone());
        messages.push(assistant.clone());
        kept.push(assistant);
        for call in &completion.tool_calls {
            let record = if cancel.is_set() {
                not_run(&toolbox, call, "the turn was interrupted before this call was made")
            } else {
                run_tool(bus, events, rec, settings, &toolbox, &ctx, call, &cancel).await
            };
            let content = tool_message(&record, settings.max_tool_result_bytes);
            let answer = ChatMessage::tool_result(call.id.clone(), content);
            messages.push(answer.clone());
            kept.push(answer);
            records.push(record);
        }
    }

    // Decided once, here: an interrupt arriving later changes nothing of this turn.
    if finish != "stop" {
        if cancel.is_set() {
            finish = interrupt::FINISH.to_string();
            reply = interrupt::reply(&partial);
        } else {
            reply = format!(
                "I stopped after {max_steps} steps without a final answer (the step limit). Ask me to continue, or raise max_steps for the hand or in [agent]."
            );
        }
        kept.push(ChatMessage::new(Role::Assistant, reply.clone()));
    }
    drop(running);

    history::save(bus, &realm, &ctx.session_id, kept).await?;
    let steps = usage.llm_calls;
    let answer = ChatAnswer {
        session_id: ctx.session_id.clone(),
        reply,
        tool_calls: records,
        usage,
        model: last_model,
        steps,
        finish,
        trace_id: rec.trace_id().map(str::to_string),
    };
    let done = TurnDone {
        reply: answer.reply.clone(),
        usage: Some(answer.usage.clone()),
        steps: Some(u64::from(answer.steps)),
        finish: answer.finish.clone(),
    };
    rec.record(bus, Step::TurnDone(done), None);
    if let Some(input) =
        crate::remember::turn_memory(hand.memory.as_ref(), &ctx, &req.message, &answer.reply, &answer.finish)
        && let Err(e) = bus.enqueue("memory::store", input, crate::record::QUEUE).await
    {
        tracing::warn!(session = %ctx.session_id, "could not remember the turn: {e}");
    }
    set_state(bus, &ctx.session_id, "done", None).await;
    Ok(answer)
}

/// One LLM call, its text deltas forwarded as `token` events while it runs and kept in
/// `streamed` (what the person saw, should the call be interrupted). When nothing was streamed
/// (a provider or path without streaming), the whole text is sent as one token.
async fn complete_streamed<B: Bus, E: Events>(
    bus: &B,
    events: &mut E,
    request: CompletionRequest,
    timeout: Duration,
    streamed_text: &mut String,
) -> Result<Completion, WorkerError> {
    if !events.is_open() {
        return bus.complete(request, None, timeout).await;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let call = bus.complete(request, Some(tx), timeout);
    tokio::pin!(call);
    let mut streamed = false;
    let result = loop {
        tokio::select! {
            biased;
            Some(text) = rx.recv() => {
                streamed = true;
                streamed_text.push_str(&text);
                events.send(ChatEvent::Token(Token { text })).await;
            }
            result = &mut call => break result,
        }
    };
    while let Ok(text) = rx.try_recv() {
        streamed = true;
        streamed_text.push_str(&text);
        events.send(ChatEvent::Token(Token { text })).await;
    }
    if let Ok(c) = &result
        && !streamed
        && !c.content.is_empty()
    {
        events.send(ChatEvent::Token(Token { text: c.content.clone() })).await;
    }
    result
}

/// The record of a call that was not made, for a reason the model reads.
fn not_run(toolbox: &Toolbox, call: &ToolCall, reason: &str) -> ToolCallRecord {
    ToolCallRecord {
        id: call.id.clone(),
        function_id: toolbox.function_for(&call.name).unwrap_or(&call.name).to_string(),
        arguments: call.arguments.clone(),
        ok: false,
        result: None,
        error: None,
        blocked: Some(reason.to_string()),
        warning: None,
        duration_ms: 0,
    }
}

/// Runs one tool call through the guard, the approval gate and the function; whatever happens is
/// an answer for the model.
#[allow(clippy::too_many_arguments)]
async fn run_tool<B: Bus, E: Events>(
    bus: &B,
    events: &mut E,
    rec: &mut Recorder,
    settings: &Settings,
    toolbox: &Toolbox,
    ctx: &TurnContext,
    call: &ToolCall,
    cancel: &Cancel,
) -> ToolCallRecord {
    let started = Instant::now();
    let function_id = toolbox.function_for(&call.name).unwrap_or(&call.name).to_string();
    let mut record = ToolCallRecord { blocked: None, ..not_run(toolbox, call, "") };
    let announced =
        ToolCallEvent { id: call.id.clone(), function_id: function_id.clone(), arguments: call.arguments.clone() };
    events.send(ChatEvent::ToolCall(announced.clone())).await;
    rec.record(bus, Step::ToolCall(announced), None);

    if toolbox.function_for(&call.name).is_none() {
        record.blocked =
            Some(format!("there is no tool named {:?}; the tools are: {}", call.name, toolbox.names().join(", ")));
    } else {
        let check = json!({
            "session_id": ctx.session_id,
            "turn_id": ctx.turn_id,
            "function_id": function_id,
            "arguments": call.arguments,
        });
        // The loop guard and the approval policy are independent: ask both at once.
        let (verdict, classified) = tokio::join!(
            call_as::<_, Verdict>(bus, "guard::check", check, QUICK),
            approve::classify(bus, ctx, &function_id, &call.arguments)
        );
        match verdict {
            Err(e) => {
                record.blocked = Some(format!("the loop guard could not check this call ({e}), so it was not made"))
            }
            Ok(v) if v.action == "block" => {
                record.blocked = Some(v.reason.unwrap_or_else(|| "blocked by the loop guard".to_string()));
            }
            Ok(v) => {
                if v.action == "warn" {
                    record.warning = v.reason;
                }
                match approve::gate(bus, events, rec, settings, ctx, &function_id, &call.arguments, classified, cancel)
                    .await
                {
                    Gate::Denied(reason) => record.blocked = Some(reason),
                    Gate::Run if !call.arguments.is_object() => {
                        record.error = Some(ErrorInfo {
                            code: codes::INVALID_INPUT.to_string(),
                            message: "tool arguments must be a JSON object".to_string(),
                        });
                    }
                    Gate::Run => match bus
                        .call(
                            &function_id,
                            crate::remember::scoped_arguments(&function_id, &call.arguments, ctx),
                            settings.tool_timeout(),
                        )
                        .await
                    {
                        Ok(result) => {
                            record.ok = true;
                            record.result = Some(result);
                        }
                        Err(e) => record.error = Some(ErrorInfo::from(&e)),
                    },
                }
            }
        }
    }
    record.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let result = ToolResultEvent::from(&record);
    events.send(ChatEvent::ToolResult(result.clone())).await;
    rec.record(bus, Step::ToolResult(result), Some(started));
    record
}

/// The text the model reads for a tool call.
fn tool_message(record: &ToolCallRecord, cap: usize) -> String {
    let body = if let Some(reason) = &record.blocked {
        format!("Not run: {reason}")
    } else if let Some(e) = &record.error {
        truncate(format!("Error {}: {}", e.code, e.message), cap)
    } else {
        render_result(record.result.as_ref().unwrap_or(&Value::Null), cap)
    };
    match &record.warning {
        Some(w) => format!("{body}\n\n[loop guard] {w}"),
        None => body,
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
