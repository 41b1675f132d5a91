//! The replay contract: the steps of a session as agent-core records them (`replay::record`)
//! and session-replay keeps and answers them (`replay::get`, `GET /v1/sessions/:id/events`,
//! `replay::search`, `replay::summary`).
//!
//! A step is an [`Event`]: where and when it happened, its `kind` and its `data`. The kinds this
//! build knows ([`KNOWN`]) have typed data, read with [`Event::step`] into a [`Step`]; any other
//! kind is [`Step::Unknown`], its data kept as recorded.
//!
//! Rules it keeps:
//! - The stored event keeps `data` exactly as recorded: a producer may say more than these
//!   types know, and the types never rewrite a record.
//! - The step types are readers: every field reads as absent (or its default) when a record
//!   lacks it, so an old or partial record still shows what it has. What a recorder must send is
//!   session-replay's to check (its `kinds::validate`), not these types'.
//! - Written by agent-core, the JSON is what it has always recorded: fields it sends as `null`
//!   stay `null`, fields it leaves out are skipped.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::approval::By;
use crate::chat::{ToolCallEvent, ToolResultEvent, TurnUsage};
use crate::error::ErrorInfo;

/// The user's message that starts a turn.
pub const USER_MESSAGE: &str = "user_message";
/// The prompt was assembled.
pub const CONTEXT_BUILT: &str = "context_built";
/// A call to the model starts.
pub const LLM_REQUEST: &str = "llm_request";
/// The model answered.
pub const LLM_RESPONSE: &str = "llm_response";
/// The model asked for a tool.
pub const TOOL_CALL: &str = "tool_call";
/// A tool call waits for a person.
pub const APPROVAL_REQUESTED: &str = "approval_requested";
/// A person (or a remembered rule) answered an approval request.
pub const APPROVAL_DECIDED: &str = "approval_decided";
/// A tool call finished, failed or was blocked.
pub const TOOL_RESULT: &str = "tool_result";
/// The turn failed.
pub const ERROR: &str = "error";
/// The turn ended.
pub const TURN_DONE: &str = "turn_done";

/// Every kind this module knows, in the order a turn records them.
pub const KNOWN: &[&str] = &[
    USER_MESSAGE,
    CONTEXT_BUILT,
    LLM_REQUEST,
    LLM_RESPONSE,
    TOOL_CALL,
    APPROVAL_REQUESTED,
    APPROVAL_DECIDED,
    TOOL_RESULT,
    ERROR,
    TURN_DONE,
];

/// One recorded step: the value at `replay:<session_id>/<seq:020>`, and every answer's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The session it belongs to.
    #[serde(default)]
    pub session_id: String,
    /// Its place in the session, unique per session; events are answered in this order.
    pub seq: u64,
    /// What happened ([`KNOWN`]); unknown kinds are kept too.
    pub kind: String,
    /// When it happened (Unix ms).
    #[serde(default)]
    pub at_ms: u64,
    /// How long it took, for steps that take time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The turn it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    /// The engine trace it ran in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The kind's details, a JSON object, as recorded.
    #[serde(default)]
    pub data: Value,
}

impl Event {
    /// Its state key in `replay:<session_id>`: `seq` as 20 digits, so keys sort as numbers do.
    pub fn key(&self) -> String {
        format!("{:020}", self.seq)
    }

    /// The step's data read as its kind's type; an error when a known kind's data does not fit.
    pub fn step(&self) -> Result<Step, serde_json::Error> {
        Step::from_parts(&self.kind, self.data.clone())
    }
}

/// `replay::record`: one step. Same fields as [`Event`]; unknown fields are refused. Written
/// (by agent-core), an absent duration, turn or trace is `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordEvent {
    /// The session (1–128 of `[A-Za-z0-9._:-]`).
    pub session_id: String,
    /// The step's place in the session.
    pub seq: u64,
    /// What happened: `[a-z][a-z0-9_]*`, at most 128 characters.
    pub kind: String,
    /// When (Unix ms).
    pub at_ms: u64,
    /// How long it took.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// The turn.
    #[serde(default)]
    pub turn_id: Option<String>,
    /// The engine trace.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// The kind's details, a JSON object.
    pub data: Value,
}

/// `replay::record_many`: several steps at once (a turn sends its steps in a few batches).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordMany {
    /// The steps, each as `replay::record` takes it.
    pub events: Vec<RecordEvent>,
}

/// What `replay::record_many` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedMany {
    /// How many steps were new (the others were recorded before).
    pub recorded: usize,
}

impl From<RecordEvent> for Event {
    fn from(r: RecordEvent) -> Self {
        Self {
            session_id: r.session_id,
            seq: r.seq,
            kind: r.kind,
            at_ms: r.at_ms,
            duration_ms: r.duration_ms,
            turn_id: r.turn_id,
            trace_id: r.trace_id,
            data: r.data,
        }
    }
}

/// What `replay::get` and `GET /v1/sessions/:id/events` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPage {
    /// The session.
    pub session_id: String,
    /// Its events, by `seq`.
    pub events: Vec<Event>,
}

/// What `replay::search` and `GET /v1/replay/search` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    /// The query as given.
    pub query: String,
    /// The matching events, newest first (`at_ms`, then session, then `seq` descending).
    pub events: Vec<Event>,
    /// How many matched before `limit` cut the list.
    pub total: usize,
}

/// What `replay::summary` and `GET /v1/sessions/:id/summary` answer: a session's totals. A
/// total missing from an answer reads as 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// The session.
    pub session_id: String,
    /// How many events are recorded.
    pub events: u64,
    /// How many turns they belong to.
    pub turns: u64,
    /// The first event's time (Unix ms).
    pub started_ms: Option<u64>,
    /// When the last step ended (Unix ms).
    pub ended_ms: Option<u64>,
    /// `ended_ms - started_ms`.
    pub duration_ms: u64,
    /// Model answers.
    pub llm_calls: u64,
    /// Tool calls asked for.
    pub tool_calls: u64,
    /// Prompt tokens over every model answer.
    pub input_tokens: u64,
    /// Answer tokens over every model answer.
    pub output_tokens: u64,
    /// What the model calls cost, when any answer carried a cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Failed turns and failed tool calls.
    pub errors: u64,
    /// Approval requests.
    pub approvals: u64,
    /// The engine traces the session ran in.
    pub trace_ids: Vec<String>,
}

/// `user_message`: `{text, hand, model}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserMessage {
    /// What the user said.
    #[serde(default)]
    pub text: String,
    /// The hand the turn runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand: Option<String>,
    /// The model asked for, when one was.
    #[serde(default)]
    pub model: Option<String>,
}

/// `context_built`: `{messages, estimated_tokens, compacted}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContextBuilt {
    /// How many messages the prompt holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
    /// The estimated prompt size in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_tokens: Option<u64>,
    /// Whether older history was summarised to fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compacted: Option<bool>,
}

/// A count, or the list it counts (`tools`, `tool_calls`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CountOrList {
    /// Just how many.
    Count(u64),
    /// The items themselves.
    List(Vec<Value>),
}

impl CountOrList {
    /// How many.
    pub fn len(&self) -> u64 {
        match self {
            Self::Count(n) => *n,
            Self::List(items) => items.len() as u64,
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `llm_request`: `{model, tier, messages_count, tools}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmRequest {
    /// The model asked for, when the turn names one.
    #[serde(default)]
    pub model: Option<String>,
    /// The routing tier, when the turn names one.
    #[serde(default)]
    pub tier: Option<String>,
    /// How many messages are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages_count: Option<u64>,
    /// The tools offered: their names, or how many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<CountOrList>,
}

/// Tokens of one model call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
}

/// `llm_response`: the model's answer as `llm::complete` gave it: `{model, provider, content,
/// tool_calls, finish_reason, usage, cost_usd?, latency_ms, tier?, route_reason?}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmResponse {
    /// The model that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The provider that served it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The answer's text (`null` in records of answers that only called tools).
    #[serde(default)]
    pub content: Option<String>,
    /// The tool calls asked for: `[{id, name, arguments}]`, or how many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<CountOrList>,
    /// Why the model stopped (`stop`, `tool_calls`, `length`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Tokens in and out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// What the call cost, when the price is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// From request to the full answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// The tier that routed the call, when the request named no model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// Why the router chose its route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_reason: Option<String>,
}

impl LlmResponse {
    /// `provider/model`, or whichever of them is there.
    pub fn model_name(&self) -> Option<String> {
        let present = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        match (present(&self.provider), present(&self.model)) {
            (Some(p), Some(m)) => Some(format!("{p}/{m}")),
            (p, m) => m.or(p),
        }
    }
}

/// `approval_requested`: `{approval_id, function_id, tier, rule}`, the tier and rule as
/// `approval::classify` gave them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequested {
    /// The approval request's id.
    #[serde(default)]
    pub approval_id: String,
    /// The function waiting for it.
    #[serde(default)]
    pub function_id: String,
    /// The tier the call was classified in (normally a string).
    #[serde(default)]
    pub tier: Value,
    /// The policy rule that asked for approval (normally the matched rule, `{id, source, …}`).
    #[serde(default)]
    pub rule: Value,
}

impl ApprovalRequested {
    /// The tier as text: the string, or the JSON of anything else; `None` when absent.
    pub fn tier_text(&self) -> Option<String> {
        text_of(&self.tier)
    }

    /// The rule's name: the matched rule's `id`, a string rule as it is, else its JSON; `None`
    /// when absent.
    pub fn rule_name(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct Named {
            id: String,
        }
        match Named::deserialize(&self.rule) {
            Ok(named) => Some(named.id),
            Err(_) => text_of(&self.rule),
        }
    }
}

/// Who decided an approval, as agent-core recorded it: the approval worker's `{who, via}`, a
/// name (`agent-core` when no decision could be had), or something else kept as it came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Decider {
    /// `{who?, via}`.
    Surface(By),
    /// A name.
    Name(String),
    /// Anything else.
    Other(Value),
}

impl Decider {
    /// `ana via cli`, `via tui`, `ana`, or the name.
    pub fn text(&self) -> String {
        match self {
            Self::Surface(By { who: Some(who), via }) if !who.is_empty() => format!("{who} via {}", via.as_str()),
            Self::Surface(By { via, .. }) => format!("via {}", via.as_str()),
            Self::Name(name) => name.clone(),
            Self::Other(Value::Null) => String::new(),
            Self::Other(other) => other.to_string(),
        }
    }
}

/// `approval_decided`: `{approval_id, decision, scope, note, by}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApprovalDecided {
    /// The approval request's id.
    #[serde(default)]
    pub approval_id: String,
    /// `approve`, `deny`, or `none` when no decision could be had.
    #[serde(default)]
    pub decision: String,
    /// How far the decision reaches (`once`, `session`, `always`), when it says.
    #[serde(default)]
    pub scope: Option<String>,
    /// The decider's note.
    #[serde(default)]
    pub note: Option<String>,
    /// Who decided.
    #[serde(default)]
    pub by: Option<Decider>,
}

/// `turn_done`: `{reply, usage, steps, finish}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnDone {
    /// The model's final answer.
    #[serde(default)]
    pub reply: String,
    /// The turn's totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TurnUsage>,
    /// How many model calls the turn took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
    /// How the turn ended (`stop`, `step_limit`, `interrupted`).
    #[serde(default)]
    pub finish: String,
}

/// One step's data, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `user_message`.
    UserMessage(UserMessage),
    /// `context_built`.
    ContextBuilt(ContextBuilt),
    /// `llm_request`; its `llm_response` (or an `error`) follows.
    LlmRequest(LlmRequest),
    /// `llm_response`, answering the `llm_request` before it.
    LlmResponse(Box<LlmResponse>),
    /// `tool_call`: the chat stream's `tool_call`; its `tool_result` follows.
    ToolCall(ToolCallEvent),
    /// `approval_requested`; its `approval_decided` follows.
    ApprovalRequested(ApprovalRequested),
    /// `approval_decided`, answering the `approval_requested` before it.
    ApprovalDecided(ApprovalDecided),
    /// `tool_result`: the chat stream's `tool_result`, answering the `tool_call` with its id.
    ToolResult(ToolResultEvent),
    /// `error`: the turn failed.
    Error(ErrorInfo),
    /// `turn_done`: the turn ended.
    TurnDone(TurnDone),
    /// A kind this build does not know, its data as recorded.
    Unknown {
        /// Its kind.
        kind: String,
        /// Its data.
        data: Value,
    },
}

impl Step {
    /// The step's kind.
    pub fn kind(&self) -> &str {
        match self {
            Self::UserMessage(_) => USER_MESSAGE,
            Self::ContextBuilt(_) => CONTEXT_BUILT,
            Self::LlmRequest(_) => LLM_REQUEST,
            Self::LlmResponse(_) => LLM_RESPONSE,
            Self::ToolCall(_) => TOOL_CALL,
            Self::ApprovalRequested(_) => APPROVAL_REQUESTED,
            Self::ApprovalDecided(_) => APPROVAL_DECIDED,
            Self::ToolResult(_) => TOOL_RESULT,
            Self::Error(_) => ERROR,
            Self::TurnDone(_) => TURN_DONE,
            Self::Unknown { kind, .. } => kind,
        }
    }

    /// The step's data as JSON.
    pub fn data(&self) -> Value {
        let data = match self {
            Self::UserMessage(d) => serde_json::to_value(d),
            Self::ContextBuilt(d) => serde_json::to_value(d),
            Self::LlmRequest(d) => serde_json::to_value(d),
            Self::LlmResponse(d) => serde_json::to_value(d),
            Self::ToolCall(d) => serde_json::to_value(d),
            Self::ApprovalRequested(d) => serde_json::to_value(d),
            Self::ApprovalDecided(d) => serde_json::to_value(d),
            Self::ToolResult(d) => serde_json::to_value(d),
            Self::Error(d) => serde_json::to_value(d),
            Self::TurnDone(d) => serde_json::to_value(d),
            Self::Unknown { data, .. } => Ok(data.clone()),
        };
        // These types have string keys only, so encoding them cannot fail.
        data.unwrap_or(Value::Null)
    }

    /// The step of `kind` with `data`; an unknown kind is [`Step::Unknown`], a known one whose
    /// data does not fit is an error.
    pub fn from_parts(kind: &str, data: Value) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            USER_MESSAGE => Self::UserMessage(serde_json::from_value(data)?),
            CONTEXT_BUILT => Self::ContextBuilt(serde_json::from_value(data)?),
            LLM_REQUEST => Self::LlmRequest(serde_json::from_value(data)?),
            LLM_RESPONSE => Self::LlmResponse(Box::new(serde_json::from_value(data)?)),
            TOOL_CALL => Self::ToolCall(serde_json::from_value(data)?),
            APPROVAL_REQUESTED => Self::ApprovalRequested(serde_json::from_value(data)?),
            APPROVAL_DECIDED => Self::ApprovalDecided(serde_json::from_value(data)?),
            TOOL_RESULT => Self::ToolResult(serde_json::from_value(data)?),
            ERROR => Self::Error(serde_json::from_value(data)?),
            TURN_DONE => Self::TurnDone(serde_json::from_value(data)?),
            other => Self::Unknown { kind: other.to_string(), data },
        })
    }
}

/// A JSON value as text: a string as it is, `None` for null, anything else as JSON.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn a_partial_record_reads_what_it_has() {
        let step = Step::from_parts(LLM_RESPONSE, json!({"content": "", "model": "small", "tool_calls": 1}))
            .unwrap_or_else(|e| panic!("{e}"));
        let Step::LlmResponse(answer) = step else { panic!("{step:?}") };
        assert_eq!((answer.model_name(), answer.tool_calls.map(|c| c.len())), (Some("small".into()), Some(1)));
    }

    #[test]
    fn an_unknown_kind_keeps_its_data_and_a_misfit_is_an_error() {
        let step = Step::from_parts("memory_stored", json!({"x": 1})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((step.kind(), step.data()), ("memory_stored", json!({"x": 1})));
        assert!(Step::from_parts(TOOL_RESULT, json!({"id": "c1", "function_id": "f", "ok": "yes"})).is_err());
    }

    #[test]
    fn rules_and_deciders_read_as_people_name_them() {
        let requested =
            ApprovalRequested { rule: json!({"id": "builtin:command", "source": "builtin"}), ..Default::default() };
        assert_eq!(requested.rule_name().as_deref(), Some("builtin:command"));
        let named = ApprovalRequested { rule: json!("ask"), tier: json!("write"), ..Default::default() };
        assert_eq!((named.rule_name(), named.tier_text()), (Some("ask".into()), Some("write".into())));
        let by: Decider = serde_json::from_value(json!({"who": "ana", "via": "cli"})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(by.text(), "ana via cli");
        let by: Decider = serde_json::from_value(json!("agent-core")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(by.text(), "agent-core");
    }
}
