//! The event kinds a session's steps are recorded as, and the `data` each one carries.
//!
//! Rules it keeps:
//! - Every kind's `data` is a JSON object. A known kind's required fields must be there with
//!   the right type ([`validate`]); further fields are kept as they are, so a producer may say
//!   more than this module knows.
//! - An unknown kind is stored too (forward compatible), checked only for being an object.
//! - The structs here document the contract and give [`crate::summary`] typed access; the
//!   stored event keeps the `data` exactly as recorded.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// `user_message`: `{text}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserMessage {
    /// What the user said.
    pub text: String,
}

/// `context_built`: `{messages, estimated_tokens, compacted}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextBuilt {
    /// How many messages the prompt holds.
    pub messages: u64,
    /// The estimated prompt size in tokens.
    pub estimated_tokens: u64,
    /// Whether older history was summarised to fit.
    pub compacted: bool,
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

/// `llm_request`: `{model?, tier?, messages_count, tools}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmRequest {
    /// The model asked for, when the turn names one.
    #[serde(default)]
    pub model: Option<String>,
    /// The routing tier, when the turn names one.
    #[serde(default)]
    pub tier: Option<String>,
    /// How many messages are sent.
    pub messages_count: u64,
    /// The tools offered: their function ids, or how many.
    pub tools: CountOrList,
}

/// Tokens of one model call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
}

/// `llm_response`: `{model, provider, content, tool_calls, finish_reason, usage, cost_usd?, latency_ms}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmResponse {
    /// The model that answered.
    pub model: String,
    /// The provider that served it.
    pub provider: String,
    /// The answer's text (`null` when the model only called tools; the field must be there).
    #[serde(deserialize_with = "present_or_null")]
    pub content: Option<String>,
    /// The tool calls asked for: `[{id, function_id, arguments}]`, or how many.
    pub tool_calls: CountOrList,
    /// Why the model stopped (`stop`, `tool_calls`, `length`, ...).
    pub finish_reason: String,
    /// Tokens in and out.
    pub usage: Usage,
    /// What the call cost, when the price is known.
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// From request to the full answer.
    pub latency_ms: u64,
}

/// `tool_call`: `{id, function_id, arguments}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call id the model gave.
    pub id: String,
    /// The function called.
    pub function_id: String,
    /// Its arguments.
    pub arguments: Value,
}

/// `approval_requested`: `{approval_id, function_id, tier, rule}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequested {
    /// The approval request's id.
    pub approval_id: String,
    /// The function waiting for it.
    pub function_id: String,
    /// The tier the call was classified in.
    pub tier: Value,
    /// The policy rule that asked for approval.
    pub rule: Value,
}

/// `approval_decided`: `{approval_id, decision, scope, note?, by}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalDecided {
    /// The approval request's id.
    pub approval_id: String,
    /// `approve`, `deny`, ... as the approval worker says.
    pub decision: String,
    /// How far the decision reaches (`once`, `session`, ...).
    pub scope: Value,
    /// The decider's note.
    #[serde(default)]
    pub note: Option<String>,
    /// Who decided: a name, or the approval worker's `{who, via}`.
    pub by: Value,
}

/// `tool_result`: `{id, function_id, ok, result?, error?, blocked?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    /// The call id.
    pub id: String,
    /// The function called.
    pub function_id: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// What it answered.
    #[serde(default)]
    pub result: Option<Value>,
    /// Why it failed: `{code, message}`.
    #[serde(default)]
    pub error: Option<Value>,
    /// Why it was not made (loop guard, policy, denied approval).
    #[serde(default)]
    pub blocked: Option<Value>,
}

/// `error`: `{code, message}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorData {
    /// A stable code.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// `turn_done`: `{reply, usage, steps, finish}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnDone {
    /// The model's final answer.
    pub reply: String,
    /// The turn's totals (`{input_tokens, output_tokens, cost_usd?, llm_calls?}`).
    pub usage: Value,
    /// How many model calls the turn took.
    pub steps: u64,
    /// `stop` or `step_limit`.
    pub finish: String,
}

/// A field that must be present but may be `null` (serde treats a missing `Option` as `None`
/// unless it is read through a function like this one).
fn present_or_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(de: D) -> Result<Option<T>, D::Error> {
    Option::<T>::deserialize(de)
}

/// Checks `data` for `kind`: an object, and for a known kind its required fields with their
/// types. The error says which field is wrong.
pub fn validate(kind: &str, data: &Value) -> Result<(), String> {
    if !data.is_object() {
        return Err(format!("data must be a JSON object, not {}", type_name(data)));
    }
    fn check<T: serde::de::DeserializeOwned>(data: &Value) -> Result<(), String> {
        serde_json::from_value::<T>(data.clone()).map(drop).map_err(|e| e.to_string())
    }
    match kind {
        USER_MESSAGE => check::<UserMessage>(data),
        CONTEXT_BUILT => check::<ContextBuilt>(data),
        LLM_REQUEST => check::<LlmRequest>(data),
        LLM_RESPONSE => check::<LlmResponse>(data),
        TOOL_CALL => check::<ToolCall>(data),
        APPROVAL_REQUESTED => check::<ApprovalRequested>(data),
        APPROVAL_DECIDED => check::<ApprovalDecided>(data),
        TOOL_RESULT => check::<ToolResult>(data),
        ERROR => check::<ErrorData>(data),
        TURN_DONE => check::<TurnDone>(data),
        _ => Ok(()),
    }
}

/// Reads `data` as a known kind's struct; `None` when it does not fit (never for recorded
/// events of that kind, since [`validate`] let them in).
pub fn read<T: serde::de::DeserializeOwned>(data: &Value) -> Option<T> {
    serde_json::from_value(data.clone()).ok()
}

/// `an array`, `a string`, ... for messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    /// One valid `data` per known kind.
    fn samples() -> Vec<(&'static str, Value)> {
        vec![
            (USER_MESSAGE, json!({"text": "fix the bug"})),
            (CONTEXT_BUILT, json!({"messages": 3, "estimated_tokens": 1200, "compacted": false})),
            (LLM_REQUEST, json!({"model": "m", "messages_count": 3, "tools": ["code::read_file"]})),
            (
                LLM_RESPONSE,
                json!({"model": "m", "provider": "openai", "content": null, "tool_calls": [{"id": "c1"}],
                       "finish_reason": "tool_calls", "usage": {"input_tokens": 10, "output_tokens": 2}, "latency_ms": 40}),
            ),
            (TOOL_CALL, json!({"id": "c1", "function_id": "code::read_file", "arguments": {"path": "a"}})),
            (
                APPROVAL_REQUESTED,
                json!({"approval_id": "ap1", "function_id": "code::write_file", "tier": "write", "rule": "ask"}),
            ),
            (APPROVAL_DECIDED, json!({"approval_id": "ap1", "decision": "approve", "scope": "once", "by": "cli"})),
            (TOOL_RESULT, json!({"id": "c1", "function_id": "code::read_file", "ok": true, "result": "x"})),
            (ERROR, json!({"code": "PROVIDER_ERROR", "message": "502"})),
            (
                TURN_DONE,
                json!({"reply": "done", "usage": {"input_tokens": 10, "output_tokens": 2}, "steps": 2, "finish": "stop"}),
            ),
        ]
    }

    #[test]
    fn every_known_kind_has_a_valid_sample_and_every_sample_a_kind() {
        let samples = samples();
        assert_eq!(samples.iter().map(|(k, _)| *k).collect::<Vec<_>>(), KNOWN.to_vec());
        for (kind, data) in samples {
            assert_eq!(validate(kind, &data), Ok(()), "{kind}");
        }
    }

    #[test]
    fn a_known_kind_without_a_required_field_names_the_field() {
        for (kind, data) in samples() {
            let required: Vec<String> = match kind {
                LLM_REQUEST => vec!["messages_count".into(), "tools".into()],
                TOOL_RESULT => vec!["id".into(), "function_id".into(), "ok".into()],
                APPROVAL_DECIDED => vec!["approval_id".into(), "decision".into(), "scope".into(), "by".into()],
                LLM_RESPONSE => ["model", "provider", "content", "tool_calls", "finish_reason", "usage", "latency_ms"]
                    .map(String::from)
                    .to_vec(),
                _ => data.as_object().unwrap().keys().cloned().collect(),
            };
            for field in required {
                let mut broken = data.clone();
                broken.as_object_mut().unwrap().remove(&field);
                let err = validate(kind, &broken).unwrap_err();
                assert!(err.contains(&format!("missing field `{field}`")), "{kind}.{field}: {err}");
            }
        }
    }

    #[test]
    fn a_field_of_the_wrong_type_is_refused_and_extra_fields_are_kept() {
        let err = validate(TOOL_RESULT, &json!({"id": "c1", "function_id": "f", "ok": "yes"})).unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
        assert_eq!(validate(USER_MESSAGE, &json!({"text": "hi", "attachments": []})), Ok(()));
        assert_eq!(validate(LLM_REQUEST, &json!({"messages_count": 1, "tools": 4})), Ok(()));
        let by_object =
            json!({"approval_id": "a", "decision": "deny", "scope": null, "by": {"who": "ana", "via": "cli"}});
        assert_eq!(validate(APPROVAL_DECIDED, &by_object), Ok(()));
    }

    #[test]
    fn unknown_kinds_need_only_an_object() {
        assert_eq!(validate("memory_stored", &json!({"anything": 1})), Ok(()));
        assert_eq!(validate("memory_stored", &json!([1])), Err("data must be a JSON object, not an array".into()));
        assert_eq!(validate(USER_MESSAGE, &json!("hi")), Err("data must be a JSON object, not a string".into()));
    }
}
