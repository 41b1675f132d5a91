//! The event kinds a session's steps are recorded as, and the `data` each one carries.
//!
//! Rules it keeps:
//! - Every kind's `data` is a JSON object. A known kind's required fields must be there with
//!   the right type ([`validate`]); further fields are kept as they are, so a producer may say
//!   more than this module knows.
//! - An unknown kind is stored too (forward compatible), checked only for being an object.
//! - The types are the replay contract's ([`agentos_protocol::replay`]), which read a record
//!   without the fields it lacks; this module adds what a recorder must send ([`validate`]).
//!   The stored event keeps the `data` exactly as recorded.

use serde_json::Value;

/// `tool_call` and `tool_result` data: the chat stream's events of the same names.
pub use agentos_protocol::chat::{ToolCallEvent as ToolCall, ToolResultEvent as ToolResult};
/// `error` data: `{code, message}`.
pub use agentos_protocol::error::ErrorInfo as ErrorData;
/// The kinds and their data (the replay contract, shared with every reader).
pub use agentos_protocol::replay::{
    APPROVAL_DECIDED, APPROVAL_REQUESTED, ApprovalDecided, ApprovalRequested, CONTEXT_BUILT, ContextBuilt, CountOrList,
    Decider, ERROR, KNOWN, LLM_REQUEST, LLM_RESPONSE, LlmRequest, LlmResponse, TOOL_CALL, TOOL_RESULT, TURN_DONE,
    TurnDone, USER_MESSAGE, Usage, UserMessage,
};

/// The fields a recorder must send for each known kind (the contract's types read records
/// without them, so old records still show; new ones must be whole).
const REQUIRED: &[(&str, &[&str])] = &[
    (USER_MESSAGE, &["text"]),
    (CONTEXT_BUILT, &["messages", "estimated_tokens", "compacted"]),
    (LLM_REQUEST, &["messages_count", "tools"]),
    (LLM_RESPONSE, &["model", "provider", "content", "tool_calls", "finish_reason", "usage", "latency_ms"]),
    (TOOL_CALL, &["id", "function_id", "arguments"]),
    (APPROVAL_REQUESTED, &["approval_id", "function_id", "tier", "rule"]),
    (APPROVAL_DECIDED, &["approval_id", "decision", "scope", "by"]),
    (TOOL_RESULT, &["id", "function_id", "ok"]),
    (ERROR, &["code", "message"]),
    (TURN_DONE, &["reply", "usage", "steps", "finish"]),
];

/// Checks `data` for `kind`: an object, and for a known kind its required fields with their
/// types. The error says which field is wrong.
pub fn validate(kind: &str, data: &Value) -> Result<(), String> {
    if !data.is_object() {
        return Err(format!("data must be a JSON object, not {}", type_name(data)));
    }
    fn check<T: serde::de::DeserializeOwned>(data: &Value) -> Result<(), String> {
        serde_json::from_value::<T>(data.clone()).map(drop).map_err(|e| e.to_string())
    }
    let required = REQUIRED.iter().find(|(k, _)| *k == kind).map_or(&[][..], |(_, fields)| *fields);
    if let Some(field) = required.iter().find(|f| data.get(**f).is_none()) {
        return Err(format!("missing field `{field}`"));
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
