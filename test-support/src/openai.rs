//! The OpenAI Chat Completions wire format: completion bodies, `chat.completion.chunk` SSE
//! streams, model lists and error bodies.

use serde_json::{Value, json};

use crate::reply::{ToolCallSpec, Usage, json_pieces, text_pieces};

/// The fixed `created` timestamp of every completion, so whole bodies can be compared.
pub const CREATED: u64 = 1_700_000_000;

fn usage_json(usage: Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    })
}

fn finish_reason(calls: &[ToolCallSpec]) -> &'static str {
    if calls.is_empty() { "stop" } else { "tool_calls" }
}

/// A non-streamed `chat.completion` body.
pub(crate) fn completion(id: &str, model: &str, text: Option<&str>, calls: &[ToolCallSpec], usage: Usage) -> Value {
    let mut message = json!({ "role": "assistant", "content": text, "refusal": null });
    if !calls.is_empty() {
        message["tool_calls"] = calls
            .iter()
            .map(|call| {
                json!({
                    "id": call.id,
                    "type": "function",
                    "function": { "name": call.name, "arguments": call.arguments.to_string() },
                })
            })
            .collect();
    }
    json!({
        "id": id,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(calls),
        }],
        "usage": usage_json(usage),
    })
}

/// The SSE frames of a streamed completion, and how many of them form the part sent before a
/// gate (the role chunk and the first content or tool-call delta).
pub(crate) fn stream(
    id: &str,
    model: &str,
    text: Option<&str>,
    calls: &[ToolCallSpec],
    usage: Usage,
    include_usage: bool,
) -> (Vec<String>, usize) {
    let chunk = |delta: Value, finish: Option<&str>| {
        let mut chunk = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": null,
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
        });
        if include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    };
    let mut chunks = vec![chunk(json!({ "role": "assistant", "content": text.map(|_| ""), "refusal": null }), None)];
    for piece in text.map(text_pieces).unwrap_or_default() {
        chunks.push(chunk(json!({ "content": piece }), None));
    }
    for (index, call) in calls.iter().enumerate() {
        chunks.push(chunk(
            json!({ "tool_calls": [{
                "index": index,
                "id": call.id,
                "type": "function",
                "function": { "name": call.name, "arguments": "" },
            }] }),
            None,
        ));
        for piece in json_pieces(&call.arguments.to_string()) {
            chunks.push(chunk(json!({ "tool_calls": [{ "index": index, "function": { "arguments": piece } }] }), None));
        }
    }
    chunks.push(chunk(json!({}), Some(finish_reason(calls))));
    if include_usage {
        chunks.push(json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": null,
            "choices": [],
            "usage": usage_json(usage),
        }));
    }
    let mut frames: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    frames.push("data: [DONE]\n\n".to_owned());
    (frames, 2)
}

/// An error body in OpenAI's shape: `{"error":{"message","type","param","code"}}`.
pub(crate) fn error(status: u16, message: &str) -> Value {
    let (kind, code) = match status {
        401 => ("invalid_request_error", Some("invalid_api_key")),
        404 => ("invalid_request_error", Some("model_not_found")),
        429 => ("requests", Some("rate_limit_exceeded")),
        400..=499 => ("invalid_request_error", None),
        _ => ("server_error", None),
    };
    json!({ "error": { "message": message, "type": kind, "param": null, "code": code } })
}

/// The `GET /v1/models` list.
pub(crate) fn models(ids: &[String]) -> Value {
    json!({
        "object": "list",
        "data": ids.iter().map(|id| json!({
            "id": id,
            "object": "model",
            "created": CREATED,
            "owned_by": "agentos-test-support",
        })).collect::<Vec<_>>(),
    })
}
