//! What goes into the turn machine ([`Input`]: what happened) and what comes out of it
//! ([`Effect`]: what to do next), and the words of the wire it reads and writes as enums
//! ([`Finish`], [`GuardAction`], [`SessionState`]), spelt exactly as the wire spells them.

use std::time::Duration;

use agentos_kit::WorkerError;
use agentos_kit::chat::{ChatMessage, Completion, CompletionRequest};
use agentos_protocol::chat::{ChatEvent, finish};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{BuiltContext, ChatAnswer, ErrorInfo, Hand, OpenedSession};
use crate::agents::Agent;
use crate::tools::FunctionList;

/// How a turn ended: an answer's `finish`, spelt on the wire as today (`stop`, `step_limit`,
/// `interrupted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// The model answered without calling tools.
    Stop,
    /// The turn was stopped at its step limit.
    StepLimit,
    /// The person stopped it (`agent::interrupt`).
    Interrupted,
}

impl Finish {
    /// The wire spelling, one of [`agentos_protocol::chat::finish`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => finish::STOP,
            Self::StepLimit => finish::STEP_LIMIT,
            Self::Interrupted => finish::INTERRUPTED,
        }
    }
}

/// The loop guard's `action` for a call (`guard::check`).
///
/// Any other action lets the call run, as the turn always did: the guard speaks only these three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", from = "String")]
pub enum GuardAction {
    /// Run the call.
    Allow,
    /// Run the call and show the model the guard's reason with its result.
    Warn,
    /// Do not run the call; the reason goes to the model.
    Block,
}

impl From<String> for GuardAction {
    fn from(action: String) -> Self {
        match action.as_str() {
            "block" => Self::Block,
            "warn" => Self::Warn,
            _ => Self::Allow,
        }
    }
}

/// The loop guard's verdict (what `guard::check` answers, as far as the turn reads it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// What to do with the call.
    pub action: GuardAction,
    /// Why, for the model.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A session's state as the turn sets it (`session::set_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// A turn runs.
    Active,
    /// A tool call waits for a person's decision.
    WaitingApproval,
    /// The last turn answered.
    Done,
    /// The last turn failed.
    Failed,
}

impl SessionState {
    /// The wire spelling (`active`, `waiting_approval`, `done`, `failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::WaitingApproval => "waiting_approval",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// What happened: the answer to the last effect, or something from outside.
#[derive(Debug)]
pub enum Input {
    /// The turn starts.
    Start,
    /// The agent the request names ([`Effect::FindAgent`]).
    AgentFound(Result<Agent, WorkerError>),
    /// The realm, the hand and the live functions ([`Effect::LookUp`]).
    LookedUp {
        /// `realm::get`.
        realm: Result<Value, WorkerError>,
        /// `hand::get`.
        hand: Result<Hand, WorkerError>,
        /// `engine::functions::list`.
        functions: Result<FunctionList, WorkerError>,
    },
    /// The session is open and its history read ([`Effect::Open`]).
    Opened {
        /// `session::open`.
        session: Result<OpenedSession, WorkerError>,
        /// The stored history (empty when none was asked for).
        history: Result<Vec<ChatMessage>, WorkerError>,
        /// A fresh id for this turn.
        turn_id: String,
    },
    /// The prompt was built ([`Effect::BuildContext`]).
    ContextBuilt(Result<BuiltContext, WorkerError>),
    /// A piece of the model's answer, while it streams ([`Effect::Complete`]).
    Streamed(String),
    /// The model answered ([`Effect::Complete`]): text, tool calls, or an error (the router has
    /// already retried what it retries, so one error fails the turn).
    Answered {
        /// The completion.
        completion: Result<Completion, WorkerError>,
        /// Whether someone listened while it ran (only then is text shown as tokens).
        listener: bool,
    },
    /// The loop guard's verdict and the approval policy's classification of the current call
    /// ([`Effect::Check`]).
    Checked {
        /// `guard::check`.
        verdict: Result<Verdict, WorkerError>,
        /// `approval::classify`: `{tier, rule, reason}`.
        classified: Result<Value, WorkerError>,
    },
    /// The approval request was filed ([`Effect::RequestApproval`]).
    ApprovalRequested(Result<Value, WorkerError>),
    /// A person's decision, or its timeout ([`Effect::AwaitDecision`], [`Effect::Withdraw`]).
    Decided(Result<Value, WorkerError>),
    /// The tool answered ([`Effect::RunTool`]).
    ToolDone(Result<Value, WorkerError>),
    /// The person interrupted the turn (`agent::interrupt`), from the surface `via`.
    Interrupted {
        /// `http`, `cli` or `tui`.
        via: String,
    },
    /// The call raced with the interrupt (the streamed LLM call, the wait for a decision) was
    /// given up: the interrupt came first.
    Abandoned,
    /// The history was saved ([`Effect::SaveHistory`]).
    Saved(Result<(), WorkerError>),
    /// Every replay step reached the engine's queue ([`Effect::Flush`]).
    Flushed(Result<(), WorkerError>),
    /// The turn was abandoned (the engine went away under it).
    Failed(WorkerError),
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// `agents::get` of agent `id` in `realm`; answers [`Input::AgentFound`].
    FindAgent {
        /// The realm.
        realm: String,
        /// The agent.
        id: String,
    },
    /// `realm::get`, `hand::get` and `engine::functions::list`, together; answers
    /// [`Input::LookedUp`].
    LookUp {
        /// The realm.
        realm: String,
        /// The hand's name.
        hand: String,
    },
    /// `session::open` with `session`, and the stored history of session `history_of` in
    /// `realm` when named, together; answers [`Input::Opened`] with a fresh turn id.
    Open {
        /// `session::open`'s input.
        session: Value,
        /// The realm.
        realm: String,
        /// The session whose stored history to read.
        history_of: Option<String>,
    },
    /// The session is known: make the turn reachable by `agent::interrupt` and start its replay
    /// log (turn number `turns` of the session).
    Begin {
        /// The session.
        session_id: String,
        /// The session's turn count, this turn included.
        turns: u64,
        /// This turn.
        turn_id: String,
    },
    /// Send an event to whoever watches.
    Emit(ChatEvent),
    /// Record a replay step of `kind`; `since` starts its duration.
    Record {
        /// The step's kind (`user_message`, `llm_request`, …).
        kind: &'static str,
        /// Its data.
        data: Value,
        /// When the step started, when it took time.
        since: Option<Duration>,
    },
    /// `context::build`; answers [`Input::ContextBuilt`].
    BuildContext(Value),
    /// `llm::complete`, streamed to whoever listens ([`Input::Streamed`]) and raced with the
    /// interrupt; answers [`Input::Answered`], or [`Input::Abandoned`] when interrupted.
    Complete(CompletionRequest),
    /// `guard::check` and `approval::classify` of a call, at once; answers [`Input::Checked`].
    Check {
        /// The function.
        function_id: String,
        /// The model's arguments.
        arguments: Value,
    },
    /// `approval::request`; answers [`Input::ApprovalRequested`].
    RequestApproval(Value),
    /// `session::set_state`.
    SetState {
        /// The state.
        state: SessionState,
        /// Why the turn failed.
        error: Option<ErrorInfo>,
    },
    /// Wait for a decision on request `id`, raced with the interrupt; answers [`Input::Decided`],
    /// or [`Input::Abandoned`] when interrupted.
    AwaitDecision {
        /// The request's id.
        id: String,
        /// The request as filed (its expiry bounds the wait).
        request: Value,
    },
    /// Deny request `id` because the turn was interrupted (a decision that came first stands);
    /// answers [`Input::Decided`].
    Withdraw {
        /// The request's id.
        id: String,
        /// The surface the interrupt came from.
        via: String,
    },
    /// Call the tool's function; answers [`Input::ToolDone`].
    RunTool {
        /// The function.
        function_id: String,
        /// Its input.
        arguments: Value,
    },
    /// The turn is no longer reachable by `agent::interrupt`.
    Unregister,
    /// Store the session's history; answers [`Input::Saved`].
    SaveHistory(Vec<ChatMessage>),
    /// `memory::store` through the durable queue; a failure is only logged.
    Remember(Value),
    /// Wait until every replay step reached the engine's queue; answers [`Input::Flushed`].
    Flush,
    /// Expire the approval requests of this turn (the engine went away while they waited).
    ExpireApprovals,
    /// Log a warning.
    Warn(String),
    /// The turn is over: answer this.
    Finish(Box<ChatAnswer>),
    /// The turn is over: it failed with this.
    Fail(WorkerError),
}

/// An input's name, for messages.
pub(super) fn name(input: &Input) -> &'static str {
    match input {
        Input::Start => "start",
        Input::AgentFound(_) => "agent_found",
        Input::LookedUp { .. } => "looked_up",
        Input::Opened { .. } => "opened",
        Input::ContextBuilt(_) => "context_built",
        Input::Streamed(_) => "streamed",
        Input::Answered { .. } => "answered",
        Input::Checked { .. } => "checked",
        Input::ApprovalRequested(_) => "approval_requested",
        Input::Decided(_) => "decided",
        Input::ToolDone(_) => "tool_done",
        Input::Interrupted { .. } => "interrupted",
        Input::Abandoned => "abandoned",
        Input::Saved(_) => "saved",
        Input::Flushed(_) => "flushed",
        Input::Failed(_) => "failed",
    }
}
