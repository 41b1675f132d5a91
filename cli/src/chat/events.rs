//! The chat contract as the CLI reads it: the request body of `POST /v1/chat[/stream]`, the
//! events of the stream, and the `/v1/chat` answer (also the `done` event and a hand trigger's
//! answer). The types are the protocol crate's ([`agentos_protocol::chat`]); this module reads
//! the stream's text into them.
//!
//! Rules it keeps:
//! - Unknown event names are [`ChatEvent::Unknown`], kept with their data: the server may add
//!   events before the CLI knows them, and the renderer shows them as a line of their own.
//! - Unknown fields are ignored; optional fields default. A known event whose data is not the
//!   documented JSON is an error naming the event, never skipped silently.

pub use agentos_protocol::chat::{ChatAnswer, ChatEvent, ChatRequest, ToolCallEvent, ToolResultEvent};
use serde_json::Value;

/// Parses one SSE event; an error names the event and says the two sides disagree.
pub fn parse_event(name: &str, data: &str) -> anyhow::Result<ChatEvent> {
    ChatEvent::parse(name, data).map_err(|e| disagree(name, data, &e))
}

/// A `done` event's data as sent, pretty-printed (`agentos chat --json`): fields this CLI does
/// not know are kept.
pub fn as_sent(name: &str, data: &str) -> anyhow::Result<String> {
    let raw: Value = serde_json::from_str(data).map_err(|e| disagree(name, data, &e))?;
    Ok(serde_json::to_string_pretty(&raw)?)
}

fn disagree(name: &str, data: &str, e: &serde_json::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "the chat stream sent a `{name}` event this CLI cannot read ({e}): {data}; fix: use the same agentos version for the CLI and the stack (`agentos down`, then `agentos up`)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_protocol::chat::{Token, TurnSession, TurnUsage};
    use agentos_protocol::error::ErrorInfo;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn every_documented_event_parses_and_unknown_ones_are_named_not_rejected() {
        assert_eq!(
            parse_event("session", r#"{"session_id":"s1","realm":"default","hand":"coder"}"#).unwrap(),
            ChatEvent::Session(TurnSession {
                session_id: "s1".into(),
                realm: "default".into(),
                hand: "coder".into(),
                ..TurnSession::default()
            })
        );
        assert_eq!(parse_event("token", r#"{"text":"Hel"}"#).unwrap(), ChatEvent::Token(Token { text: "Hel".into() }));
        assert_eq!(
            parse_event("tool_call", r#"{"id":"c1","function_id":"code::read_file","arguments":{"path":"a"}}"#)
                .unwrap(),
            ChatEvent::ToolCall(ToolCallEvent {
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
            ChatEvent::ToolResult(ToolResultEvent {
                id: "c1".into(),
                function_id: "code::read_file".into(),
                ok: false,
                result: None,
                error: Some(ErrorInfo::new("NOT_FOUND", "no a")),
                blocked: None,
                warning: None,
                duration_ms: Some(3),
            })
        );
        assert_eq!(
            parse_event("usage", r#"{"input_tokens":10,"output_tokens":2,"llm_calls":1}"#).unwrap(),
            ChatEvent::Usage(TurnUsage { input_tokens: 10, output_tokens: 2, cost_usd: None, llm_calls: 1 })
        );
        assert_eq!(
            parse_event("error", r#"{"code":"NO_PROVIDER","message":"none"}"#).unwrap(),
            ChatEvent::Error(ErrorInfo::new("NO_PROVIDER", "none"))
        );
        assert_eq!(
            parse_event("plan_updated", r#"{"anything":1}"#).unwrap(),
            ChatEvent::Unknown { event: "plan_updated".into(), data: json!({"anything": 1}) }
        );
    }

    #[test]
    fn done_keeps_the_payload_as_sent_next_to_the_parsed_answer() {
        let data = r#"{"session_id":"s1","reply":"hi","tool_calls":[],"usage":{"input_tokens":5,"output_tokens":1,"cost_usd":0.5,"llm_calls":1},"model":"m","steps":1,"extra":true}"#;
        let ChatEvent::Done(answer) = parse_event("done", data).unwrap() else {
            panic!("not a done event");
        };
        let raw: Value = serde_json::from_str(&as_sent("done", data).unwrap()).unwrap();
        assert_eq!(raw["extra"], json!(true));
        assert_eq!(
            *answer,
            ChatAnswer {
                session_id: "s1".into(),
                reply: "hi".into(),
                tool_calls: vec![],
                usage: TurnUsage { input_tokens: 5, output_tokens: 1, cost_usd: Some(0.5), llm_calls: 1 },
                model: "m".into(),
                steps: 1,
                finish: String::new(),
                trace_id: None,
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
