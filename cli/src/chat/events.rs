//! The chat contract as the CLI reads it: the request body of `POST /v1/chat[/stream]`, the
//! events of the stream, and the `/v1/chat` answer (also the `done` event and a hand trigger's
//! answer).
//!
//! Rules it keeps:
//! - Unknown event names are [`ChatEvent::Unknown`] and are ignored by callers: the server may
//!   add events (approvals) before the CLI knows them.
//! - Unknown fields are ignored; optional fields default. A known event whose data is not the
//!   documented JSON is an error naming the event, never skipped silently.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body of `POST /v1/chat` and `POST /v1/chat/stream`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatRequest {
    /// What the user says.
    pub message: String,
    /// The session to continue; a new one when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The hand (persona) to answer as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hand: Option<String>,
    /// The agent to answer as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The realm the session belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// The model to use instead of the hand's or the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// `{code, message}`: an `error` event, a tool's failure, or the body of a non-2xx answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ApiError {
    /// A stable code (`NO_PROVIDER`, `NOT_FOUND`, ...).
    pub code: String,
    /// What went wrong, and usually how to fix it.
    #[serde(default)]
    pub message: String,
}

/// The `session` event: which session, realm, hand and model the turn runs in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SessionInfo {
    /// The session id to pass back for the next turn.
    pub session_id: String,
    /// The realm.
    #[serde(default)]
    pub realm: Option<String>,
    /// The hand, if any.
    #[serde(default)]
    pub hand: Option<String>,
    /// The agent, if any.
    #[serde(default)]
    pub agent: Option<String>,
    /// The model, if known yet.
    #[serde(default)]
    pub model: Option<String>,
}

/// The `tool_call` event: the model called a function.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ToolCall {
    /// The call's id; its `tool_result` carries the same.
    #[serde(default)]
    pub id: String,
    /// The function called (`code::read_file`).
    pub function_id: String,
    /// Its arguments.
    #[serde(default)]
    pub arguments: Value,
}

/// The `tool_result` event, and one entry of an answer's `tool_calls`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ToolResult {
    /// The call's id.
    #[serde(default)]
    pub id: String,
    /// The function called.
    pub function_id: String,
    /// Its arguments (present in an answer's `tool_calls`, absent from the event).
    #[serde(default)]
    pub arguments: Value,
    /// Whether it succeeded.
    pub ok: bool,
    /// What it answered.
    #[serde(default)]
    pub result: Option<Value>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<ApiError>,
    /// Why a policy refused to run it.
    #[serde(default)]
    pub blocked: Option<String>,
    /// How long it took.
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

/// Token counts and cost of a turn (the `usage` event and an answer's `usage`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Usage {
    /// Prompt tokens over every LLM call of the turn.
    #[serde(default)]
    pub input_tokens: u64,
    /// Completion tokens over every LLM call of the turn.
    #[serde(default)]
    pub output_tokens: u64,
    /// The cost in US dollars, when the model's price is known.
    #[serde(default)]
    pub cost_usd: Option<f64>,
    /// How many LLM calls the turn made.
    #[serde(default)]
    pub llm_calls: u64,
}

/// The answer of `POST /v1/chat` (and the `done` event, and a hand trigger's answer).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatAnswer {
    /// The session the turn ran in.
    pub session_id: String,
    /// The model's final text.
    #[serde(default)]
    pub reply: String,
    /// Every tool call of the turn, in order.
    #[serde(default)]
    pub tool_calls: Vec<ToolResult>,
    /// Tokens and cost.
    #[serde(default)]
    pub usage: Usage,
    /// The model that answered.
    #[serde(default)]
    pub model: Option<String>,
    /// How many steps (LLM calls and their tool rounds) the turn took.
    #[serde(default)]
    pub steps: u64,
}

/// One event of `POST /v1/chat/stream`.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// `session`: the turn's session (first event).
    Session(SessionInfo),
    /// `token`: a piece of the reply.
    Token(String),
    /// `tool_call`: the model called a function.
    ToolCall(ToolCall),
    /// `tool_result`: that function answered (or failed, or was blocked).
    ToolResult(ToolResult),
    /// `usage`: tokens and cost so far.
    Usage(Usage),
    /// `done`: the whole answer, parsed, and as sent (for `--json`).
    Done(Box<ChatAnswer>, Value),
    /// `error`: the turn failed; the stream ends.
    Error(ApiError),
    /// An event this CLI does not know; ignored.
    Unknown(String),
}

/// The `token` event's data.
#[derive(Deserialize)]
struct Token {
    text: String,
}

/// Parses one SSE event; an error names the event and says the two sides disagree.
pub fn parse_event(name: &str, data: &str) -> anyhow::Result<ChatEvent> {
    fn data_of<T: for<'de> Deserialize<'de>>(name: &str, data: &str) -> anyhow::Result<T> {
        serde_json::from_str(data).map_err(|e| {
            anyhow::anyhow!(
                "the chat stream sent a `{name}` event this CLI cannot read ({e}): {data}; fix: use the same agentos version for the CLI and the stack (`agentos down`, then `agentos up`)"
            )
        })
    }
    Ok(match name {
        "session" => ChatEvent::Session(data_of(name, data)?),
        "token" => ChatEvent::Token(data_of::<Token>(name, data)?.text),
        "tool_call" => ChatEvent::ToolCall(data_of(name, data)?),
        "tool_result" => ChatEvent::ToolResult(data_of(name, data)?),
        "usage" => ChatEvent::Usage(data_of(name, data)?),
        "done" => {
            let raw: Value = data_of(name, data)?;
            let answer: ChatAnswer = data_of(name, data)?;
            ChatEvent::Done(Box::new(answer), raw)
        }
        "error" => ChatEvent::Error(data_of(name, data)?),
        other => ChatEvent::Unknown(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn every_documented_event_parses_and_unknown_ones_are_named_not_rejected() {
        assert_eq!(
            parse_event("session", r#"{"session_id":"s1","realm":"default","hand":"coder"}"#).unwrap(),
            ChatEvent::Session(SessionInfo {
                session_id: "s1".into(),
                realm: Some("default".into()),
                hand: Some("coder".into()),
                agent: None,
                model: None,
            })
        );
        assert_eq!(parse_event("token", r#"{"text":"Hel"}"#).unwrap(), ChatEvent::Token("Hel".into()));
        assert_eq!(
            parse_event("tool_call", r#"{"id":"c1","function_id":"code::read_file","arguments":{"path":"a"}}"#)
                .unwrap(),
            ChatEvent::ToolCall(ToolCall {
                id: "c1".into(),
                function_id: "code::read_file".into(),
                arguments: json!({"path": "a"}),
            })
        );
        assert_eq!(
            parse_event(
                "tool_result",
                r#"{"id":"c1","function_id":"code::read_file","ok":false,"error":{"code":"NOT_FOUND","message":"no a"},"duration_ms":3}"#
            )
            .unwrap(),
            ChatEvent::ToolResult(ToolResult {
                id: "c1".into(),
                function_id: "code::read_file".into(),
                arguments: Value::Null,
                ok: false,
                result: None,
                error: Some(ApiError { code: "NOT_FOUND".into(), message: "no a".into() }),
                blocked: None,
                duration_ms: Some(3),
            })
        );
        assert_eq!(
            parse_event("usage", r#"{"input_tokens":10,"output_tokens":2,"llm_calls":1}"#).unwrap(),
            ChatEvent::Usage(Usage { input_tokens: 10, output_tokens: 2, cost_usd: None, llm_calls: 1 })
        );
        assert_eq!(
            parse_event("error", r#"{"code":"NO_PROVIDER","message":"none"}"#).unwrap(),
            ChatEvent::Error(ApiError { code: "NO_PROVIDER".into(), message: "none".into() })
        );
        assert_eq!(
            parse_event("approval_requested", r#"{"anything":1}"#).unwrap(),
            ChatEvent::Unknown("approval_requested".into())
        );
    }

    #[test]
    fn done_keeps_the_payload_as_sent_next_to_the_parsed_answer() {
        let data = r#"{"session_id":"s1","reply":"hi","tool_calls":[],"usage":{"input_tokens":5,"output_tokens":1,"cost_usd":0.5,"llm_calls":1},"model":"m","steps":1,"extra":true}"#;
        let ChatEvent::Done(answer, raw) = parse_event("done", data).unwrap() else {
            panic!("not a done event");
        };
        assert_eq!(raw["extra"], json!(true));
        assert_eq!(
            *answer,
            ChatAnswer {
                session_id: "s1".into(),
                reply: "hi".into(),
                tool_calls: vec![],
                usage: Usage { input_tokens: 5, output_tokens: 1, cost_usd: Some(0.5), llm_calls: 1 },
                model: Some("m".into()),
                steps: 1,
            }
        );
    }

    #[test]
    fn a_known_event_with_malformed_data_is_an_error_naming_the_event() {
        let err = parse_event("token", r#"{"txt":"x"}"#).unwrap_err().to_string();
        assert!(err.contains("`token` event"), "{err}");
        assert!(err.contains("fix:"), "{err}");
    }

    #[test]
    fn the_request_leaves_out_what_was_not_given() {
        let req = ChatRequest { message: "hi".into(), hand: Some("coder".into()), ..ChatRequest::default() };
        assert_eq!(serde_json::to_value(&req).unwrap(), json!({"message": "hi", "hand": "coder"}));
    }
}
