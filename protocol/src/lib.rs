//! The iii worker protocol (engine v0.11.6, `iii-sdk` 0.11.6) as plain types, with no IO.
//!
//! Every frame on the worker socket is one JSON object tagged by `"type"`, whose value is the
//! variant name lower-cased without separators (`registerfunction`). Field names are snake_case.
//! Unknown fields are ignored on input, so newer SDKs (0.22, 0.25) that add optional fields still
//! parse. Fields that are `Option` may be missing or `null`.
//!
//! Beyond the frames, the modules hold every payload that crosses a process boundary between
//! agentos' own processes, so producer and consumers share one type instead of `json!` on one
//! side and field-by-field reading on the other:
//! - [`chat`]: the chat request, a turn's events, its answer, the interrupt;
//! - [`approval`]: tiers and rules, approval requests and decisions, remembered approvals;
//! - [`replay`]: a session's recorded steps, their kinds and data, a session's totals;
//! - [`session`]: session records, their states, the list and the bus event;
//! - [`status`]: the supervisor's worker rows;
//! - [`trace`]: spans as the engine serves them, and the trace answers built from them;
//! - [`error`]: `{code, message}` and the REST error body `{"error": {code, message}}`.

pub mod approval;
pub mod chat;
pub mod error;
pub mod replay;
pub mod session;
pub mod status;
pub mod trace;
pub mod url;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// One frame of the worker protocol, in either direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Message {
    /// W→E: a worker provides a custom trigger type. No reply; stored triggers of the type are
    /// replayed to it as `registertrigger`.
    RegisterTriggerType {
        id: String,
        #[serde(default)]
        description: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trigger_request_format: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_request_format: Option<Value>,
    },
    /// W→E: a worker withdraws a trigger type it provides. No reply.
    UnregisterTriggerType { id: String },
    /// W→E registers a trigger (no reply); E→W forwards one to a custom trigger-type provider,
    /// which answers with `triggerregistrationresult`.
    RegisterTrigger {
        id: String,
        trigger_type: String,
        function_id: String,
        config: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Value>,
    },
    /// A provider's answer to a forwarded `registertrigger`. The engine only logs it.
    TriggerRegistrationResult {
        id: String,
        #[serde(default)]
        trigger_type: String,
        #[serde(default)]
        function_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
    },
    /// W→E removes a trigger (no reply); E→W tells a provider a trigger went away.
    UnregisterTrigger {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trigger_type: Option<String>,
    },
    /// W→E: the worker serves this function id from now on (last registration wins). No reply.
    RegisterFunction {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_format: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response_format: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invocation: Option<Value>,
    },
    /// W→E: the worker stops serving this function id. No reply.
    UnregisterFunction { id: String },
    /// Both ways: call a function. Answered by `invocationresult` unless `action` is void, or
    /// immediately with a receipt when `action` is enqueue.
    InvokeFunction {
        #[serde(default)]
        invocation_id: Option<Uuid>,
        function_id: String,
        #[serde(default)]
        data: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traceparent: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        baggage: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<TriggerAction>,
    },
    /// Both ways: the answer to an `invokefunction` with the same `invocation_id`.
    InvocationResult {
        invocation_id: Uuid,
        #[serde(default)]
        function_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<ErrorBody>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traceparent: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        baggage: Option<String>,
    },
    /// W→E: groups functions for display. No reply.
    RegisterService {
        id: String,
        #[serde(default)]
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_service_id: Option<String>,
    },
    /// Both ways: keep-alive probe, answered by `pong`.
    Ping,
    /// Both ways: the answer to `ping`.
    Pong,
    /// E→W: always the first frame after the upgrade; a fresh id per connection.
    WorkerRegistered { worker_id: String },
    /// W→E (SDK 0.22+): asks to retire a previous connection. Accepted and ignored: the new
    /// owner of an id always wins here, so the old connection's clean-up cannot undo it.
    Reattach {
        #[serde(default)]
        previous_worker_id: Option<String>,
        #[serde(default)]
        reattach_token: Option<String>,
    },
}

/// How the engine routes an `invokefunction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TriggerAction {
    /// Put the call on a named durable queue; the caller gets a `messageReceiptId` at once.
    Enqueue { queue: String },
    /// Fire and forget; the caller gets no answer.
    Void,
}

/// The error of a failed invocation: a stable code, a message, maybe a stack trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<String>,
}

impl ErrorBody {
    /// An error with this code and message and no stack trace.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), stacktrace: None }
    }
}

/// Error codes the engine itself produces (spec §2.5).
pub mod codes {
    /// No function with that id is registered.
    pub const FUNCTION_NOT_FOUND: &str = "function_not_found";
    /// The callee or the caller disconnected while the call was in flight.
    pub const INVOCATION_STOPPED: &str = "invocation_stopped";
    /// The engine lost track of the call (internal).
    pub const INVOCATION_ERROR: &str = "invocation_error";
    /// The frame could not be queued to the callee's socket.
    pub const CHANNEL_SEND_FAILED: &str = "channel_send_failed";
    /// An enqueue action failed (unknown queue, bad FIFO group field).
    pub const ENQUEUE_ERROR: &str = "enqueue_error";
    /// A built-in function's input does not fit its schema.
    pub const DESERIALIZATION_ERROR: &str = "deserialization_error";
    /// A frame was larger than the configured limit.
    pub const FRAME_TOO_LARGE: &str = "frame_too_large";
    /// A log record, state value or stream item is larger than the engine's configured limit.
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// An engine-side deadline for a trigger delivery passed.
    pub const INVOCATION_TIMEOUT: &str = "invocation_timeout";
}

/// A reference to a byte/text channel inside a payload (`/ws/channels/{id}`).
pub fn is_channel_ref(value: &Value) -> bool {
    value.as_object().is_some_and(|o| {
        ["channel_id", "access_key", "direction"].iter().all(|k| o.get(*k).is_some_and(Value::is_string))
    })
}

/// `*`-wildcard matching of function ids and scopes, as iii's RBAC filters use it
/// (`api::*`, `*::public`, `api::*::read`): each `*` stands for any run of characters.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    let (p, v) = (pattern.as_bytes(), value.as_bytes());
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, vi));
            pi += 1;
        } else if pi < p.len() && p[pi] == v[vi] {
            pi += 1;
            vi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn a_void_invoke_without_an_id_parses() {
        let frame = r#"{"type":"invokefunction","function_id":"audit::log","data":{},"action":{"type":"void"}}"#;
        let msg: Message = serde_json::from_str(frame).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            msg,
            Message::InvokeFunction {
                invocation_id: None,
                function_id: "audit::log".into(),
                data: json!({}),
                traceparent: None,
                baggage: None,
                action: Some(TriggerAction::Void),
            }
        );
    }

    #[test]
    fn an_invocation_result_without_result_serialises_without_the_key() {
        let id = Uuid::nil();
        let msg = Message::InvocationResult {
            invocation_id: id,
            function_id: "state::get".into(),
            result: None,
            error: None,
            traceparent: None,
            baggage: None,
        };
        let text = serde_json::to_string(&msg).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"type":"invocationresult","invocation_id":"00000000-0000-0000-0000-000000000000","function_id":"state::get"}"#
        );
    }

    #[test]
    fn worker_registered_uses_the_lowercase_tag() {
        let msg = Message::WorkerRegistered { worker_id: "w".into() };
        assert_eq!(serde_json::to_value(&msg).unwrap_or_default(), json!({"type":"workerregistered","worker_id":"w"}));
    }

    #[test]
    fn unknown_fields_from_newer_sdks_are_ignored() {
        let frame = r#"{"type":"registertrigger","id":"t1","trigger_type":"http","function_id":"a::b","config":{"api_path":"x"},"namespace":"default","trigger_namespace":"default"}"#;
        let msg: Message = serde_json::from_str(frame).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(msg, Message::RegisterTrigger { ref id, .. } if id == "t1"));
    }

    #[test]
    fn a_malformed_invocation_id_is_a_parse_error() {
        let frame = r#"{"type":"invocationresult","invocation_id":"nope","function_id":"a"}"#;
        assert!(serde_json::from_str::<Message>(frame).is_err());
    }

    #[test]
    fn channel_refs_need_all_three_string_keys() {
        assert!(is_channel_ref(&json!({"channel_id":"a","access_key":"b","direction":"read"})));
        assert!(!is_channel_ref(&json!({"channel_id":"a","access_key":"b"})));
    }
}
