//! The chat turn as a state machine: [`Turn::handle`] takes what happened ([`Input`]) and answers
//! what to do next ([`Effect`]). The turn's driver (`turn/driver.rs`) does each effect through the bus,
//! the event channel and the replay recorder, and feeds what came of it back in.
//!
//! Rules it keeps:
//! - No IO, no clock, no async: every time comes in with its input (`now`, the time since the
//!   turn began by the driver's clock), every answer of the outside world is an input.
//! - The effects of one input are done in order; at most the last of them answers with the next
//!   input (an effect that only tells, such as [`Effect::Emit`] or [`Effect::Record`], answers
//!   nothing). A turn that is not over always waits for exactly one answer.
//! - The state ([`Turn`]) is plain data and serialisable, so it can be kept between effects.
//! - The model always gets an answer for each tool call it made: a result, an error, or the
//!   reason the call was not made (blocked by the loop guard, denied, unknown tool, interrupted).
//! - Safety fails closed: when the loop guard or the approval workers fail, the call is not made.
//!   Only when no approval worker is running at all does the `[agent] allow` list decide.
//! - An interrupt ([`Input::Interrupted`]) is read at the safe points (before an LLM call, before
//!   a tool call); the two calls the driver races with it (the streamed LLM call, the wait for a
//!   decision) end with [`Input::Abandoned`] when the interrupt came first. Once the finish is
//!   decided, an interrupt changes nothing.
//! - A turn that fails is not saved; a turn that completes is saved with every tool call and its
//!   result, so the next turn sees what happened.

use std::collections::VecDeque;
use std::time::Duration;

use agentos_kit::chat::{ChatMessage, Completion, CompletionRequest, Role, ToolCall};
use agentos_kit::{WorkerError, codes};
use agentos_protocol::chat::{ChatEvent, Token, ToolCallEvent, ToolResultEvent, TurnSession};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::effects::name;
pub use super::effects::{Effect, Finish, GuardAction, Input, SessionState, Verdict};
use super::{BuiltContext, ChatAnswer, ChatRequest, ErrorInfo, Hand, OpenedSession, ToolCallRecord, TurnContext};
use crate::approve::{self, Gate, Screened};
use crate::settings::Settings;
use crate::tools::{FunctionList, Toolbox, not_run, tool_message};
use crate::{DEFAULT_REALM, interrupt, orphans, remember};

/// A tool call under way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// What has come of it so far.
    pub record: ToolCallRecord,
    /// When it started.
    pub since: Duration,
}

/// Where the turn is, and what it waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Not started: waits for [`Input::Start`].
    New,
    /// Waits for [`Input::AgentFound`].
    FindingAgent,
    /// Waits for [`Input::LookedUp`].
    LookingUp,
    /// Waits for [`Input::Opened`].
    Opening,
    /// Waits for [`Input::ContextBuilt`].
    BuildingContext {
        /// When the build started.
        since: Duration,
    },
    /// The model answers: waits for [`Input::Streamed`], [`Input::Answered`] or
    /// [`Input::Abandoned`].
    Streaming {
        /// When the call started.
        since: Duration,
    },
    /// Waits for the guard and the policy on `call` ([`Input::Checked`]).
    Checking {
        /// The call.
        call: Call,
    },
    /// Waits for the approval request of `call` to be filed ([`Input::ApprovalRequested`]).
    Requesting {
        /// The call.
        call: Call,
        /// The policy's classification.
        classified: Value,
    },
    /// Waits for a person to decide on request `id` ([`Input::Decided`], [`Input::Abandoned`]).
    AwaitingDecision {
        /// The call.
        call: Call,
        /// The request.
        id: String,
        /// When the wait started.
        since: Duration,
    },
    /// The turn was interrupted while `call` waited: waits for request `id` to be denied
    /// ([`Input::Decided`]).
    Withdrawing {
        /// The call.
        call: Call,
        /// The request.
        id: String,
        /// When the wait started.
        since: Duration,
    },
    /// Waits for the tool ([`Input::ToolDone`]).
    Running {
        /// The call.
        call: Call,
    },
    /// The finish is decided: waits for the history to be saved ([`Input::Saved`]).
    Saving,
    /// Saved: waits for the replay steps to reach the queue ([`Input::Flushed`]).
    Wrapping {
        /// The answer.
        answer: Box<ChatAnswer>,
    },
    /// The turn failed: waits for its error to be recorded ([`Input::Flushed`]).
    Failing {
        /// The error.
        error: ErrorInfo,
    },
    /// Over.
    Finished,
}

/// One chat turn's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    request: ChatRequest,
    settings: Settings,
    trace_id: Option<String>,
    phase: Phase,
    realm: String,
    agent_hand: Option<String>,
    agent_model: Option<String>,
    hand: Hand,
    toolbox: Toolbox,
    model: Option<String>,
    ctx: TurnContext,
    /// The session is known (its replay log and its state are the turn's to keep).
    began: bool,
    /// `agent::interrupt` reaches the turn.
    registered: bool,
    history: Vec<ChatMessage>,
    /// What the model is sent.
    messages: Vec<ChatMessage>,
    /// What the session keeps.
    kept: Vec<ChatMessage>,
    max_steps: u32,
    /// LLM calls started.
    steps: u32,
    usage: super::TurnUsage,
    records: Vec<ToolCallRecord>,
    last_model: String,
    /// What the model streamed of the answer under way (the reply of an interrupted turn).
    partial: String,
    /// Whether any of the answer under way was streamed.
    streamed: bool,
    /// The surface of the interrupt, once the person interrupted the turn.
    interrupted: Option<String>,
    /// The tool calls of the last answer not yet taken up.
    queue: VecDeque<ToolCall>,
    finish: Option<Finish>,
    reply: String,
}

impl Turn {
    /// A turn for `request`, under the `[agent]` settings, in trace `trace_id`.
    pub fn new(request: ChatRequest, settings: Settings, trace_id: Option<String>) -> Self {
        let model = request.model.clone();
        Self {
            request,
            settings,
            trace_id,
            phase: Phase::New,
            realm: DEFAULT_REALM.to_string(),
            agent_hand: None,
            agent_model: None,
            hand: Hand::default(),
            toolbox: Toolbox::default(),
            model,
            ctx: TurnContext::default(),
            began: false,
            registered: false,
            history: Vec::new(),
            messages: Vec::new(),
            kept: Vec::new(),
            max_steps: 1,
            steps: 0,
            usage: super::TurnUsage::default(),
            records: Vec::new(),
            last_model: String::new(),
            partial: String::new(),
            streamed: false,
            interrupted: None,
            queue: VecDeque::new(),
            finish: None,
            reply: String::new(),
        }
    }

    /// Where the turn is.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Who the turn is (empty until the session is open).
    pub fn context(&self) -> &TurnContext {
        &self.ctx
    }

    /// Whether the engine going away abandons what the turn waits on: until the turn has its
    /// answer saved or has failed. Its ending (the last flush, `usage`, `done`, `error`) is
    /// always carried out.
    pub fn abandonable(&self) -> bool {
        !matches!(self.phase, Phase::Failing { .. } | Phase::Finished)
    }

    /// Takes `input`, which happened at `now`, and answers what to do next.
    pub fn handle(&mut self, now: Duration, input: Input) -> Vec<Effect> {
        let phase = std::mem::replace(&mut self.phase, Phase::Finished);
        match (phase, input) {
            (phase, Input::Interrupted { via }) => {
                self.phase = phase;
                if self.interrupted.is_none() {
                    self.interrupted = Some(via);
                }
                Vec::new()
            }
            (Phase::Failing { error }, Input::Flushed(flushed)) => self.failed(error, flushed),
            (phase @ (Phase::Failing { .. } | Phase::Finished), input) => {
                let what = format!("the turn got {} while {}", name(&input), phase_name(&phase));
                self.phase = phase;
                vec![Effect::Warn(what)]
            }
            (_, Input::Failed(e)) => self.fail(e),
            (Phase::New, Input::Start) => self.start(),
            (Phase::FindingAgent, Input::AgentFound(agent)) => match agent {
                Ok(agent) => {
                    self.agent_hand = agent.hand;
                    self.agent_model = agent.model;
                    self.look_up()
                }
                Err(e) => self.fail(e),
            },
            (Phase::LookingUp, Input::LookedUp { realm, hand, functions }) => self.looked_up(realm, hand, functions),
            (Phase::Opening, Input::Opened { session, history, turn_id }) => {
                self.opened(now, session, history, turn_id)
            }
            (Phase::BuildingContext { since }, Input::ContextBuilt(built)) => match built {
                Ok(built) => self.context_built(now, since, built),
                Err(e) => self.fail(e),
            },
            (Phase::Streaming { since }, Input::Streamed(text)) => {
                self.phase = Phase::Streaming { since };
                self.streamed = true;
                self.partial.push_str(&text);
                vec![Effect::Emit(ChatEvent::Token(Token { text }))]
            }
            (Phase::Streaming { since }, Input::Answered { completion, listener }) => match completion {
                Ok(completion) => self.answered(now, since, completion, listener),
                Err(e) => self.fail(e),
            },
            (Phase::Streaming { .. }, Input::Abandoned) => {
                self.interrupted.get_or_insert_with(|| interrupt::DEFAULT_VIA.as_str().to_string());
                self.conclude(None)
            }
            (Phase::Checking { call }, Input::Checked { verdict, classified }) => {
                self.checked(now, call, verdict, classified)
            }
            (Phase::Requesting { call, classified }, Input::ApprovalRequested(request)) => {
                self.approval_requested(now, call, &classified, request)
            }
            (Phase::AwaitingDecision { call, id, since }, Input::Decided(decided)) => {
                self.decided(now, call, id, since, decided, false)
            }
            (Phase::AwaitingDecision { call, id, since }, Input::Abandoned) => {
                let via = self.interrupted.clone().unwrap_or_else(|| interrupt::DEFAULT_VIA.as_str().to_string());
                self.phase = Phase::Withdrawing { call, id: id.clone(), since };
                vec![Effect::Withdraw { id, via }]
            }
            (Phase::Withdrawing { call, id, since }, Input::Decided(decided)) => {
                self.decided(now, call, id, since, decided, true)
            }
            (Phase::Running { mut call }, Input::ToolDone(result)) => {
                match result {
                    Ok(result) => {
                        call.record.ok = true;
                        call.record.result = Some(result);
                    }
                    Err(e) => call.record.error = Some(ErrorInfo::from(&e)),
                }
                let mut effects = Vec::new();
                self.end_call(now, call, &mut effects);
                self.next_call(now, effects)
            }
            (Phase::Saving, Input::Saved(saved)) => match saved {
                Ok(()) => self.saved(),
                Err(e) => self.fail(e),
            },
            (Phase::Wrapping { answer }, Input::Flushed(flushed)) => match flushed {
                Ok(()) => {
                    self.phase = Phase::Finished;
                    vec![
                        Effect::Emit(ChatEvent::Usage(answer.usage.clone())),
                        Effect::Emit(ChatEvent::Done(answer.clone())),
                        Effect::Finish(answer),
                    ]
                }
                Err(e) => self.fail(e),
            },
            (phase, input) => {
                let what = format!("the turn got {} while {}", name(&input), phase_name(&phase));
                self.phase = phase;
                self.fail(WorkerError::new(codes::INTERNAL, what))
            }
        }
    }

    fn start(&mut self) -> Vec<Effect> {
        if self.request.message.trim().is_empty() {
            return self.fail(WorkerError::invalid_input("the message is empty; say something"));
        }
        // Before anything is stored: no session, no replay step, no history.
        if let Err(e) = self.settings.check_message(&self.request.message) {
            return self.fail(e);
        }
        self.realm = self.request.realm.clone().unwrap_or_else(|| DEFAULT_REALM.to_string());
        match &self.request.agent {
            Some(id) => {
                self.phase = Phase::FindingAgent;
                vec![Effect::FindAgent { realm: self.realm.clone(), id: id.clone() }]
            }
            None => self.look_up(),
        }
    }

    fn look_up(&mut self) -> Vec<Effect> {
        let hand = self
            .request
            .hand
            .clone()
            .or_else(|| self.agent_hand.clone())
            .unwrap_or_else(|| self.settings.default_hand.clone());
        self.phase = Phase::LookingUp;
        vec![Effect::LookUp { realm: self.realm.clone(), hand }]
    }

    fn looked_up(
        &mut self,
        realm: Result<Value, WorkerError>,
        hand: Result<Hand, WorkerError>,
        functions: Result<FunctionList, WorkerError>,
    ) -> Vec<Effect> {
        let (hand, functions) = match (realm, hand, functions) {
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return self.fail(e),
            (Ok(_), Ok(hand), Ok(functions)) => (hand, functions),
        };
        self.model = self.request.model.clone().or_else(|| self.agent_model.clone()).or(hand.model.clone());
        self.toolbox = Toolbox::new(&hand.allowed_functions, &functions.functions);
        let session = json!({
            "id": self.request.session_id,
            "realm": self.realm,
            "hand": hand.name,
            "agent": self.request.agent,
            "model": self.model,
        });
        self.hand = hand;
        // A session named by the client may have history; a new one has none.
        let history_of = if self.request.history.is_some() { None } else { self.request.session_id.clone() };
        self.phase = Phase::Opening;
        vec![Effect::Open { session, realm: self.realm.clone(), history_of }]
    }

    fn opened(
        &mut self,
        now: Duration,
        session: Result<OpenedSession, WorkerError>,
        history: Result<Vec<ChatMessage>, WorkerError>,
        turn_id: String,
    ) -> Vec<Effect> {
        let (session, history) = match (session, history) {
            (Err(e), _) | (_, Err(e)) => return self.fail(e),
            (Ok(session), Ok(history)) => (session, history),
        };
        self.history = self.request.history.clone().unwrap_or(history);
        self.ctx = TurnContext {
            session_id: session.id.clone(),
            turn_id: turn_id.clone(),
            realm: self.realm.clone(),
            hand: self.hand.name.clone(),
            agent: self.request.agent.clone(),
        };
        self.began = true;
        // Reachable by `agent::interrupt` from here on: the client learns the session id from the
        // `session` event.
        self.registered = true;
        let mut effects = vec![
            Effect::Begin { session_id: session.id.clone(), turns: session.turns, turn_id: turn_id.clone() },
            Effect::Emit(ChatEvent::Session(TurnSession {
                session_id: session.id,
                realm: self.realm.clone(),
                hand: self.hand.name.clone(),
                agent: self.request.agent.clone(),
                model: self.model.clone(),
                turn_id,
                trace_id: self.trace_id.clone(),
            })),
            record(
                "user_message",
                json!({"text": self.request.message, "hand": self.hand.name, "model": self.model}),
                None,
            ),
        ];
        if !self.toolbox.missing.is_empty() {
            effects.push(Effect::Warn(format!(
                "the hand {} allows functions nobody registered: {:?}",
                self.hand.name, self.toolbox.missing
            )));
        }
        effects.push(Effect::BuildContext(json!({
            "system": self.hand.system_prompt,
            "history": self.history,
            "message": self.request.message,
            "tools": self.toolbox.specs,
            "model": self.model,
            "realm": self.realm,
            "agent": self.request.agent,
        })));
        self.phase = Phase::BuildingContext { since: now };
        effects
    }

    fn context_built(&mut self, now: Duration, since: Duration, built: BuiltContext) -> Vec<Effect> {
        let effects = vec![record(
            "context_built",
            json!({"messages": built.messages.len(), "estimated_tokens": built.estimated_tokens, "compacted": built.compacted}),
            Some(since),
        )];
        // What the session keeps: the compacted history when the context manager compacted it (so
        // the summary is not paid for again: everything after the system prompt), else the
        // history plus the new message.
        self.kept = if built.compacted {
            let skip = usize::from(
                built.messages.first().is_some_and(|m| m.role == Role::System && !m.content.starts_with("[Summary")),
            );
            built.messages.iter().skip(skip).cloned().collect()
        } else {
            let mut kept = std::mem::take(&mut self.history);
            kept.push(ChatMessage::user(self.request.message.clone()));
            kept
        };
        self.history.clear();
        self.messages = built.messages;
        self.max_steps = self.hand.max_steps.unwrap_or(self.settings.max_steps).max(1);
        self.last_model = self.model.clone().unwrap_or_default();
        self.next_step(now, effects)
    }

    /// The safe point before an LLM call: call the model, or end at the interrupt or the step
    /// limit.
    fn next_step(&mut self, now: Duration, mut effects: Vec<Effect>) -> Vec<Effect> {
        if self.interrupted.is_some() || self.steps >= self.max_steps {
            effects.extend(self.conclude(None));
            return effects;
        }
        self.steps += 1;
        let request = CompletionRequest {
            model: self.model.clone(),
            tier: if self.model.is_none() { self.hand.tier.clone() } else { None },
            messages: self.messages.clone(),
            tools: self.toolbox.specs.clone(),
            ..CompletionRequest::default()
        };
        effects.push(record(
            "llm_request",
            json!({"model": request.model, "tier": request.tier, "messages_count": request.messages.len(), "tools": self.toolbox.names()}),
            None,
        ));
        effects.push(Effect::Complete(request));
        self.streamed = false;
        self.phase = Phase::Streaming { since: now };
        effects
    }

    fn answered(&mut self, now: Duration, since: Duration, completion: Completion, listener: bool) -> Vec<Effect> {
        let mut effects = Vec::new();
        // A provider or path without streaming: the listener still gets the text, once.
        if listener && !self.streamed && !completion.content.is_empty() {
            effects.push(Effect::Emit(ChatEvent::Token(Token { text: completion.content.clone() })));
        }
        self.partial.clear();
        effects.push(record("llm_response", json!(completion), Some(since)));
        self.usage.add_call(completion.usage.input_tokens, completion.usage.output_tokens, completion.cost_usd);
        self.last_model = format!("{}/{}", completion.provider, completion.model);
        if completion.tool_calls.is_empty() {
            let answer = ChatMessage::new(Role::Assistant, completion.content.clone());
            self.messages.push(answer.clone());
            self.kept.push(answer);
            effects.extend(self.conclude(Some(completion.content)));
            return effects;
        }
        let assistant = ChatMessage::assistant_calls(completion.content, completion.tool_calls.clone());
        self.messages.push(assistant.clone());
        self.kept.push(assistant);
        self.queue = completion.tool_calls.into();
        self.next_call(now, effects)
    }

    /// The safe point before a tool call: take up the next call of the model's answer, or go
    /// back to the model when none is left.
    fn next_call(&mut self, now: Duration, mut effects: Vec<Effect>) -> Vec<Effect> {
        while let Some(call) = self.queue.pop_front() {
            if self.interrupted.is_some() {
                let record = not_run(&self.toolbox, &call, "the turn was interrupted before this call was made");
                self.answer_call(record);
                continue;
            }
            let function_id = self.toolbox.function_for(&call.name).map(str::to_string);
            let record = ToolCallRecord { blocked: None, ..not_run(&self.toolbox, &call, "") };
            let announced = ToolCallEvent::from(&record);
            effects.push(Effect::Emit(ChatEvent::ToolCall(announced.clone())));
            effects.push(record_step("tool_call", json!(announced)));
            let mut under_way = Call { record, since: now };
            let Some(function_id) = function_id else {
                under_way.record.blocked = Some(format!(
                    "there is no tool named {:?}; the tools are: {}",
                    call.name,
                    self.toolbox.names().join(", ")
                ));
                self.end_call(now, under_way, &mut effects);
                continue;
            };
            effects.push(Effect::Check { function_id, arguments: call.arguments });
            self.phase = Phase::Checking { call: under_way };
            return effects;
        }
        self.next_step(now, effects)
    }

    fn checked(
        &mut self,
        now: Duration,
        mut call: Call,
        verdict: Result<Verdict, WorkerError>,
        classified: Result<Value, WorkerError>,
    ) -> Vec<Effect> {
        match verdict {
            Err(e) => {
                call.record.blocked =
                    Some(format!("the loop guard could not check this call ({e}), so it was not made"));
                self.gated(now, call, None)
            }
            Ok(Verdict { action: GuardAction::Block, reason }) => {
                call.record.blocked = Some(reason.unwrap_or_else(|| "blocked by the loop guard".to_string()));
                self.gated(now, call, None)
            }
            Ok(Verdict { action, reason }) => {
                if action == GuardAction::Warn {
                    call.record.warning = reason;
                }
                match approve::screen(&self.settings, &call.record.function_id, classified) {
                    Screened::Decided(gate) => self.gated(now, call, Some(gate)),
                    Screened::Ask(classified) => {
                        let request = approve::request_input(
                            &self.ctx,
                            &call.record.function_id,
                            &call.record.arguments,
                            &classified,
                        );
                        self.phase = Phase::Requesting { call, classified };
                        vec![Effect::RequestApproval(request)]
                    }
                }
            }
        }
    }

    fn approval_requested(
        &mut self,
        now: Duration,
        call: Call,
        classified: &Value,
        request: Result<Value, WorkerError>,
    ) -> Vec<Effect> {
        let request = match request {
            Ok(request) => request,
            Err(e) => {
                let reason = format!("approval could not be requested ({e}), so the call was not made");
                return self.gated(now, call, Some(Gate::Denied(reason)));
            }
        };
        let Some(id) = request["id"].as_str().map(str::to_string) else {
            let reason = "the approval worker answered without a request id".to_string();
            return self.gated(now, call, Some(Gate::Denied(reason)));
        };
        let mut effects = vec![
            Effect::Emit(approve::approval_event("approval_requested", &request, ChatEvent::ApprovalRequested)),
            record_step(
                "approval_requested",
                json!({"approval_id": id, "function_id": call.record.function_id, "tier": classified["tier"], "rule": classified["rule"]}),
            ),
            Effect::SetState { state: SessionState::WaitingApproval, error: None },
        ];
        match self.interrupted.clone() {
            // Interrupted before the wait began: the request is withdrawn at once.
            Some(via) => {
                effects.push(Effect::Withdraw { id: id.clone(), via });
                self.phase = Phase::Withdrawing { call, id, since: now };
            }
            None => {
                effects.push(Effect::AwaitDecision { id: id.clone(), request });
                self.phase = Phase::AwaitingDecision { call, id, since: now };
            }
        }
        effects
    }

    fn decided(
        &mut self,
        now: Duration,
        call: Call,
        id: String,
        since: Duration,
        decided: Result<Value, WorkerError>,
        withdrawn: bool,
    ) -> Vec<Effect> {
        let mut effects = vec![Effect::SetState { state: SessionState::Active, error: None }];
        let (gate, decision) = match decided {
            Ok(decided) => {
                let decision = decided.get("decision").cloned().unwrap_or(Value::Null);
                effects.push(Effect::Emit(approve::approval_event(
                    "approval_decided",
                    &decided,
                    ChatEvent::ApprovalDecided,
                )));
                (approve::verdict(&decision), decision)
            }
            Err(e) => (
                Gate::Denied(format!("no decision could be obtained ({e}), so the call was not made")),
                json!({"decision": "none", "scope": null, "note": e.to_string(), "by": "agent-core"}),
            ),
        };
        let gate = if withdrawn {
            Gate::Denied("the turn was interrupted while this call waited for approval".to_string())
        } else {
            gate
        };
        effects.push(record(
            "approval_decided",
            json!({
                "approval_id": id,
                "decision": decision["decision"],
                "scope": decision["scope"],
                "note": decision["note"],
                "by": decision["by"],
            }),
            Some(since),
        ));
        let mut rest = self.gated(now, call, Some(gate));
        effects.append(&mut rest);
        effects
    }

    /// What becomes of `call` once the guard and the gate have spoken (`None`: the guard
    /// already blocked it).
    fn gated(&mut self, now: Duration, mut call: Call, gate: Option<Gate>) -> Vec<Effect> {
        let mut effects = Vec::new();
        match gate {
            None => {}
            Some(Gate::Denied(reason)) => call.record.blocked = Some(reason),
            Some(Gate::Run) if !call.record.arguments.is_object() => {
                call.record.error = Some(ErrorInfo {
                    code: codes::INVALID_INPUT.to_string(),
                    message: "tool arguments must be a JSON object".to_string(),
                });
            }
            Some(Gate::Run) => {
                let function_id = call.record.function_id.clone();
                let arguments = remember::scoped_arguments(&function_id, &call.record.arguments, &self.ctx);
                self.phase = Phase::Running { call };
                return vec![Effect::RunTool { function_id, arguments }];
            }
        }
        self.end_call(now, call, &mut effects);
        self.next_call(now, effects)
    }

    /// Tells the call's outcome and gives it to the model.
    fn end_call(&mut self, now: Duration, mut call: Call, effects: &mut Vec<Effect>) {
        call.record.duration_ms = u64::try_from(now.saturating_sub(call.since).as_millis()).unwrap_or(u64::MAX);
        let result = ToolResultEvent::from(&call.record);
        effects.push(Effect::Emit(ChatEvent::ToolResult(result.clone())));
        effects.push(record("tool_result", json!(result), Some(call.since)));
        self.answer_call(call.record);
    }

    fn answer_call(&mut self, record: ToolCallRecord) {
        let content = tool_message(&record, self.settings.max_tool_result_bytes);
        let answer = ChatMessage::tool_result(record.id.clone(), content);
        self.messages.push(answer.clone());
        self.kept.push(answer);
        self.records.push(record);
    }

    /// Decides the finish, once: the model's `answer`, else the interrupt or the step limit.
    fn conclude(&mut self, answer: Option<String>) -> Vec<Effect> {
        let (finish, reply) = match answer {
            Some(reply) => (Finish::Stop, reply),
            None if self.interrupted.is_some() => (Finish::Interrupted, interrupt::reply(&self.partial)),
            None => (
                Finish::StepLimit,
                format!(
                    "I stopped after {} steps without a final answer (the step limit). Ask me to continue, or raise max_steps for the hand or in [agent].",
                    self.max_steps
                ),
            ),
        };
        if finish != Finish::Stop {
            self.kept.push(ChatMessage::new(Role::Assistant, reply.clone()));
        }
        self.finish = Some(finish);
        self.reply = reply;
        self.registered = false;
        self.phase = Phase::Saving;
        vec![Effect::Unregister, Effect::SaveHistory(self.kept.clone())]
    }

    fn saved(&mut self) -> Vec<Effect> {
        let finish = self.finish.unwrap_or(Finish::StepLimit);
        let answer = ChatAnswer {
            session_id: self.ctx.session_id.clone(),
            reply: self.reply.clone(),
            tool_calls: self.records.clone(),
            usage: self.usage.clone(),
            model: self.last_model.clone(),
            steps: self.usage.llm_calls,
            finish: finish.as_str().to_string(),
            trace_id: self.trace_id.clone(),
        };
        let mut effects = vec![record_step(
            "turn_done",
            json!({"reply": answer.reply, "usage": answer.usage, "steps": answer.steps, "finish": answer.finish}),
        )];
        if let Some(memory) =
            remember::turn_memory(self.hand.memory.as_ref(), &self.ctx, &self.request.message, &answer.reply, finish)
        {
            effects.push(Effect::Remember(memory));
        }
        effects.push(Effect::SetState { state: SessionState::Done, error: None });
        // Every recorded step must have reached the engine's queue before the turn answers.
        effects.push(Effect::Flush);
        self.phase = Phase::Wrapping { answer: Box::new(answer) };
        effects
    }

    /// The turn fails with `e`: the listener is told, and a turn that got as far as its session
    /// says how it ended, in its replay log and in the session.
    fn fail(&mut self, e: WorkerError) -> Vec<Effect> {
        let error = ErrorInfo::from(&e);
        let mut effects = Vec::new();
        if self.registered {
            self.registered = false;
            effects.push(Effect::Unregister);
        }
        effects.push(Effect::Emit(ChatEvent::Error(error.clone())));
        if self.began {
            effects.push(record_step("error", json!(error)));
            effects.push(Effect::Flush);
            self.phase = Phase::Failing { error };
        } else {
            effects.push(Effect::Fail(e));
            self.phase = Phase::Finished;
        }
        effects
    }

    fn failed(&mut self, error: ErrorInfo, flushed: Result<(), WorkerError>) -> Vec<Effect> {
        let mut effects = Vec::new();
        if let Err(r) = flushed {
            effects.push(Effect::Warn(format!("could not record the turn's error: {r}")));
        }
        effects.push(Effect::SetState { state: SessionState::Failed, error: Some(error.clone()) });
        // The turn may have been abandoned while a request waited on it.
        if error.code == orphans::TURN_INTERRUPTED {
            effects.push(Effect::ExpireApprovals);
        }
        effects.push(Effect::Fail(WorkerError::new(error.code, error.message)));
        self.phase = Phase::Finished;
        effects
    }
}

fn record(kind: &'static str, data: Value, since: Option<Duration>) -> Effect {
    Effect::Record { kind, data, since }
}

fn record_step(kind: &'static str, data: Value) -> Effect {
    record(kind, data, None)
}

/// A phase's name, for messages.
fn phase_name(phase: &Phase) -> String {
    serde_json::to_value(phase)
        .ok()
        .and_then(|v| v.get("phase").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}
