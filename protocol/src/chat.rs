//! The chat contract: the body of `POST /v1/chat` and `/v1/chat/stream`, the events of a turn,
//! the answer of a turn (`agent::chat`, `/v1/chat`, the `done` event) and the interrupt
//! (`agent::interrupt`, `POST /v1/chat/interrupt`).
//!
//! A turn's events travel twice. agent-core writes each one into its iii event channel as one
//! JSON line `{"event": name, "data": {…}}`, which is [`ChatEvent`]'s serde form; the streaming
//! worker relays each one to HTTP clients as a Server-Sent Event `event: name` / `data: {…}`,
//! which is [`ChatEvent::name`] and [`ChatEvent::data`], read back by [`ChatEvent::parse`].
//!
//! Rules it keeps:
//! - These types are the wire as agent-core has always written it: a field it sends as `null`
//!   is an `Option` serialised as `null`, a field it leaves out is skipped when absent.
//! - An event name this build does not know is [`ChatEvent::Unknown`], its data kept as sent:
//!   never an error, never dropped (the server may add events before a client knows them).
//! - A known event whose data does not fit its type is an error naming the event.
//! - On input, fields a reader can do without default when missing (an older stack, a recorded
//!   step), so a reader is as lenient as the hand-written readers these types replaced.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::approval::Request;
use crate::error::ErrorInfo;

/// The `finish` of a turn: how it ended.
pub mod finish {
    /// The model answered without calling tools.
    pub const STOP: &str = "stop";
    /// The turn was stopped at its step limit.
    pub const STEP_LIMIT: &str = "step_limit";
    /// The person stopped it (`agent::interrupt`).
    pub const INTERRUPTED: &str = "interrupted";
}

/// The body of `POST /v1/chat` and `POST /v1/chat/stream`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// What the person says.
    pub message: String,
    /// The session to continue; a new one when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The hand (persona) to answer as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand: Option<String>,
    /// The agent to answer as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The realm the session belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// The model to use instead of the hand's or the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// The `session` event: the session, realm, hand and model the turn runs in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnSession {
    /// The session id to send with the next turn (and to interrupt this one).
    pub session_id: String,
    /// The realm.
    #[serde(default)]
    pub realm: String,
    /// The hand.
    #[serde(default)]
    pub hand: String,
    /// The agent, when the turn runs as one.
    #[serde(default)]
    pub agent: Option<String>,
    /// The model asked for, when one was (else the router picks it).
    #[serde(default)]
    pub model: Option<String>,
    /// This turn.
    #[serde(default)]
    pub turn_id: String,
    /// The trace of the turn (`GET /v1/traces/:id`), when the engine gave one.
    #[serde(default)]
    pub trace_id: Option<String>,
}

/// The `token` event: a piece of the reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The text, to append to what came before.
    pub text: String,
}

/// The `tool_call` event: the model called a function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallEvent {
    /// The call's id; its `tool_result` carries the same.
    #[serde(default)]
    pub id: String,
    /// The function called (`code::read_file`), or the unknown tool name the model used.
    pub function_id: String,
    /// Its arguments, as the model wrote them.
    #[serde(default)]
    pub arguments: Value,
}

/// The `tool_result` event: a function answered, failed, or was not called (`blocked`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResultEvent {
    /// The call's id.
    #[serde(default)]
    pub id: String,
    /// The function called.
    pub function_id: String,
    /// Whether it ran and succeeded.
    pub ok: bool,
    /// What it answered.
    #[serde(default)]
    pub result: Option<Value>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<ErrorInfo>,
    /// Why it was not called (the loop guard, a denial, an unknown tool, an interrupt).
    #[serde(default)]
    pub blocked: Option<String>,
    /// The loop guard's warning, shown to the model with the result.
    #[serde(default)]
    pub warning: Option<String>,
    /// How long it took; agent-core always says, a recorded step may not.
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

impl From<&ToolCallRecord> for ToolResultEvent {
    fn from(record: &ToolCallRecord) -> Self {
        Self {
            id: record.id.clone(),
            function_id: record.function_id.clone(),
            ok: record.ok,
            result: record.result.clone(),
            error: record.error.clone(),
            blocked: record.blocked.clone(),
            warning: record.warning.clone(),
            duration_ms: Some(record.duration_ms),
        }
    }
}

impl From<&ToolCallRecord> for ToolCallEvent {
    fn from(record: &ToolCallRecord) -> Self {
        Self { id: record.id.clone(), function_id: record.function_id.clone(), arguments: record.arguments.clone() }
    }
}

/// Tokens and money a turn spent: the `usage` event and an answer's `usage`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TurnUsage {
    /// Prompt tokens over every LLM call.
    pub input_tokens: u64,
    /// Generated tokens over every LLM call.
    pub output_tokens: u64,
    /// US dollars, when every call's price was known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// LLM calls made.
    pub llm_calls: u32,
}

impl TurnUsage {
    /// Adds one LLM call that took `input_tokens` and gave `output_tokens`, costing `cost_usd`
    /// when its price is known. The total cost is known only while every call's is.
    pub fn add_call(&mut self, input_tokens: u64, output_tokens: u64, cost_usd: Option<f64>) {
        self.input_tokens += input_tokens;
        self.output_tokens += output_tokens;
        self.cost_usd = match (self.llm_calls, self.cost_usd, cost_usd) {
            (0, _, cost) => cost,
            (_, Some(total), Some(cost)) => Some(total + cost),
            _ => None,
        };
        self.llm_calls += 1;
    }
}

/// One tool call of a turn and what came of it (an answer's `tool_calls`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    /// The provider's call id.
    pub id: String,
    /// The function called (or the unknown tool name the model used).
    pub function_id: String,
    /// The arguments the model gave.
    pub arguments: Value,
    /// Whether the function ran and succeeded.
    pub ok: bool,
    /// Its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Its error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// Why the call was not made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
    /// The loop guard's warning, shown to the model with the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
}

/// The answer of a turn: `agent::chat`, `POST /v1/chat`, the `done` event, a hand trigger's
/// answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatAnswer {
    /// The session the turn belongs to.
    pub session_id: String,
    /// The model's final text.
    #[serde(default)]
    pub reply: String,
    /// Every tool call, in order.
    #[serde(default)]
    pub tool_calls: Vec<ToolCallRecord>,
    /// Tokens and cost.
    #[serde(default)]
    pub usage: TurnUsage,
    /// The model of the last LLM call (`provider/model`).
    #[serde(default)]
    pub model: String,
    /// LLM calls made.
    #[serde(default)]
    pub steps: u32,
    /// How the turn ended: one of [`finish`] (`stop`, `step_limit`, `interrupted`).
    #[serde(default)]
    pub finish: String,
    /// The trace of the turn (`GET /v1/traces/:id`), when the engine gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// A surface an interrupt comes from (an approval decision's `by.via`, less `timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The REST API.
    Http,
    /// `agentos` commands.
    Cli,
    /// The dashboard.
    Tui,
}

impl Via {
    /// The name on the wire (`http`, `cli`, `tui`).
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Http => "http",
            Via::Cli => "cli",
            Via::Tui => "tui",
        }
    }
}

/// `agent::interrupt` and the body of `POST /v1/chat/interrupt`: stop the running turn of a
/// session. Answered by [`InterruptAnswer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterruptRequest {
    /// The session whose turn stops.
    pub session_id: String,
    /// Where the interrupt came from (`tui`, `cli`, `http`), named in the decision of an
    /// approval the turn was waiting for; `tui` when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
}

/// The answer of `agent::interrupt`: the interrupt's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterruptAnswer {
    /// `false` when no turn of that session runs in this worker.
    pub interrupted: bool,
}

/// `agent::running`: whether a turn of a session runs (the approval worker asks before it
/// takes a decision, so a request whose turn is gone is never approved). Answered by
/// [`RunningAnswer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunningRequest {
    /// The session.
    pub session_id: String,
}

/// The answer of `agent::running`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningAnswer {
    /// Whether a turn of the session runs.
    pub running: bool,
}

/// One event of a turn, as agent-core emits it and the chat surfaces read it.
///
/// Its serde form is the event channel's line, `{"event": name, "data": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "WireEvent", try_from = "WireEvent")]
pub enum ChatEvent {
    /// `session`: the turn's session; the first event of every turn that got that far.
    Session(TurnSession),
    /// `token`: a piece of the reply.
    Token(Token),
    /// `tool_call`: the model called a function; a `tool_result` with the same id follows.
    ToolCall(ToolCallEvent),
    /// `tool_result`: the answer to the `tool_call` with the same id.
    ToolResult(ToolResultEvent),
    /// `approval_requested`: the call waits for a person's decision (the request as filed); an
    /// `approval_decided` for the same request follows.
    ApprovalRequested(Box<Request>),
    /// `approval_decided`: the request, decided (or expired), answering `approval_requested`.
    ApprovalDecided(Box<Request>),
    /// `usage`: tokens and cost of the turn; sent just before `done`.
    Usage(TurnUsage),
    /// `done`: the turn's whole answer; the stream ends.
    Done(Box<ChatAnswer>),
    /// `error`: the turn failed; the stream ends.
    Error(ErrorInfo),
    /// An event this build does not know, as it came.
    Unknown {
        /// Its name.
        event: String,
        /// Its data (a string when it was not JSON).
        data: Value,
    },
}

impl ChatEvent {
    /// The event's name on the wire (`token`, `tool_call`, …).
    pub fn name(&self) -> &str {
        match self {
            Self::Session(_) => "session",
            Self::Token(_) => "token",
            Self::ToolCall(_) => "tool_call",
            Self::ToolResult(_) => "tool_result",
            Self::ApprovalRequested(_) => "approval_requested",
            Self::ApprovalDecided(_) => "approval_decided",
            Self::Usage(_) => "usage",
            Self::Done(_) => "done",
            Self::Error(_) => "error",
            Self::Unknown { event, .. } => event,
        }
    }

    /// The event's data as JSON.
    pub fn data(&self) -> Value {
        let data = match self {
            Self::Session(d) => serde_json::to_value(d),
            Self::Token(d) => serde_json::to_value(d),
            Self::ToolCall(d) => serde_json::to_value(d),
            Self::ToolResult(d) => serde_json::to_value(d),
            Self::ApprovalRequested(d) | Self::ApprovalDecided(d) => serde_json::to_value(d),
            Self::Usage(d) => serde_json::to_value(d),
            Self::Done(d) => serde_json::to_value(d),
            Self::Error(d) => serde_json::to_value(d),
            Self::Unknown { data, .. } => Ok(data.clone()),
        };
        // These types have string keys only, so encoding them cannot fail.
        data.unwrap_or(Value::Null)
    }

    /// The event named `event` with `data`; an unknown name is [`ChatEvent::Unknown`], a known
    /// one whose data does not fit is an error.
    pub fn from_parts(event: &str, data: Value) -> Result<Self, serde_json::Error> {
        Ok(match event {
            "session" => Self::Session(serde_json::from_value(data)?),
            "token" => Self::Token(serde_json::from_value(data)?),
            "tool_call" => Self::ToolCall(serde_json::from_value(data)?),
            "tool_result" => Self::ToolResult(serde_json::from_value(data)?),
            "approval_requested" => Self::ApprovalRequested(Box::new(serde_json::from_value(data)?)),
            "approval_decided" => Self::ApprovalDecided(Box::new(serde_json::from_value(data)?)),
            "usage" => Self::Usage(serde_json::from_value(data)?),
            "done" => Self::Done(Box::new(serde_json::from_value(data)?)),
            "error" => Self::Error(serde_json::from_value(data)?),
            other => Self::Unknown { event: other.to_string(), data },
        })
    }

    /// A Server-Sent Event: its `event:` name and its `data:` text. Data that is not JSON is an
    /// error for a known event and kept as a string for an unknown one.
    pub fn parse(event: &str, data: &str) -> Result<Self, serde_json::Error> {
        match serde_json::from_str::<Value>(data) {
            Ok(value) => Self::from_parts(event, value),
            Err(e) if Self::is_known(event) => Err(e),
            Err(_) => Ok(Self::Unknown { event: event.to_string(), data: Value::String(data.to_string()) }),
        }
    }

    /// The event's name and data.
    pub fn into_parts(self) -> (String, Value) {
        let data = self.data();
        match self {
            Self::Unknown { event, .. } => (event, data),
            known => (known.name().to_string(), data),
        }
    }

    /// Whether this build knows events named `event`.
    pub fn is_known(event: &str) -> bool {
        matches!(
            event,
            "session"
                | "token"
                | "tool_call"
                | "tool_result"
                | "approval_requested"
                | "approval_decided"
                | "usage"
                | "done"
                | "error"
        )
    }

    /// Whether an event named `event` ends the turn's stream (`done`, `error`).
    pub fn is_terminal(event: &str) -> bool {
        matches!(event, "done" | "error")
    }
}

/// The event channel's line: `{"event": name, "data": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WireEvent {
    event: String,
    #[serde(default)]
    data: Value,
}

impl From<ChatEvent> for WireEvent {
    fn from(event: ChatEvent) -> Self {
        let (event, data) = event.into_parts();
        Self { event, data }
    }
}

impl TryFrom<WireEvent> for ChatEvent {
    type Error = serde_json::Error;

    fn try_from(wire: WireEvent) -> Result<Self, serde_json::Error> {
        Self::from_parts(&wire.event, wire.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn an_unknown_event_is_kept_with_its_data() {
        let event = ChatEvent::parse("plan_updated", r#"{"steps":2}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(event, ChatEvent::Unknown { event: "plan_updated".into(), data: json!({"steps": 2}) });
        let odd = ChatEvent::parse("plan_updated", "not json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(odd.data(), json!("not json"));
    }

    #[test]
    fn a_known_event_that_does_not_fit_is_an_error() {
        assert!(ChatEvent::parse("token", r#"{"txt":"x"}"#).is_err());
        assert!(ChatEvent::parse("done", "not json").is_err());
    }

    #[test]
    fn the_channel_line_is_the_serde_form() {
        let line = r#"{"event":"token","data":{"text":"Hel"}}"#;
        let event: ChatEvent = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(event, ChatEvent::Token(Token { text: "Hel".into() }));
        assert_eq!(serde_json::to_string(&event).unwrap_or_default(), line);
    }

    #[test]
    fn usage_adds_up_and_loses_the_cost_once_a_price_is_unknown() {
        let mut usage = TurnUsage::default();
        usage.add_call(10, 2, Some(0.5));
        usage.add_call(5, 1, Some(0.25));
        assert_eq!(usage, TurnUsage { input_tokens: 15, output_tokens: 3, cost_usd: Some(0.75), llm_calls: 2 });
        usage.add_call(1, 1, None);
        assert_eq!(usage.cost_usd, None);
    }
}
