//! The Anthropic Messages wire format: message bodies, the named-event SSE stream, model lists
//! and error bodies.

use serde_json::{Value, json};

use crate::reply::{ToolCallSpec, Usage, json_pieces, text_pieces};

fn stop_reason(calls: &[ToolCallSpec]) -> &'static str {
    if calls.is_empty() { "end_turn" } else { "tool_use" }
}

/// A non-streamed `message` body.
pub(crate) fn message(id: &str, model: &str, text: Option<&str>, calls: &[ToolCallSpec], usage: Usage) -> Value {
    let mut content: Vec<Value> = text.map(|text| json!({ "type": "text", "text": text })).into_iter().collect();
    content.extend(
        calls
            .iter()
            .map(|call| json!({ "type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments })),
    );
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(calls),
        "stop_sequence": null,
        "usage": { "input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens },
    })
}

/// The SSE frames of a streamed message, and how many of them form the part sent before a gate
/// (`message_start` through the first `content_block_delta`).
pub(crate) fn stream(
    id: &str,
    model: &str,
    text: Option<&str>,
    calls: &[ToolCallSpec],
    usage: Usage,
) -> (Vec<String>, usize) {
    let mut events: Vec<(&str, Value)> = vec![(
        "message_start",
        json!({ "type": "message_start", "message": {
            "id": id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": model,
            "stop_reason": null,
            "stop_sequence": null,
            "usage": { "input_tokens": usage.prompt_tokens, "output_tokens": 1 },
        } }),
    )];
    let mut gate_at = None;
    let mut blocks: Vec<(Value, &str, Vec<String>)> = Vec::new();
    if let Some(text) = text {
        blocks.push((json!({ "type": "text", "text": "" }), "text_delta", text_pieces(text)));
    }
    for call in calls {
        let mut pieces = vec![String::new()];
        pieces.extend(json_pieces(&call.arguments.to_string()));
        blocks.push((
            json!({ "type": "tool_use", "id": call.id, "name": call.name, "input": {} }),
            "input_json_delta",
            pieces,
        ));
    }
    for (index, (block, delta_type, pieces)) in blocks.into_iter().enumerate() {
        events.push((
            "content_block_start",
            json!({ "type": "content_block_start", "index": index, "content_block": block }),
        ));
        if index == 0 {
            events.push(("ping", json!({ "type": "ping" })));
        }
        for piece in pieces {
            let delta = if delta_type == "text_delta" {
                json!({ "type": "text_delta", "text": piece })
            } else {
                json!({ "type": "input_json_delta", "partial_json": piece })
            };
            events.push((
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": index, "delta": delta }),
            ));
            gate_at.get_or_insert(events.len());
        }
        events.push(("content_block_stop", json!({ "type": "content_block_stop", "index": index })));
    }
    events.push((
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop_reason(calls), "stop_sequence": null },
            "usage": { "output_tokens": usage.completion_tokens },
        }),
    ));
    events.push(("message_stop", json!({ "type": "message_stop" })));
    let frames = events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect();
    (frames, gate_at.unwrap_or(1))
}

/// The error `type` Anthropic uses for an HTTP status.
fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// An error body in Anthropic's shape: `{"type":"error","error":{"type","message"}}`.
pub(crate) fn error(status: u16, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": error_type(status), "message": message } })
}

/// The `GET /v1/models` list in Anthropic's shape (sent when `anthropic-version` is present).
pub(crate) fn models(ids: &[String]) -> Value {
    json!({
        "data": ids.iter().map(|id| json!({
            "type": "model",
            "id": id,
            "display_name": id,
            "created_at": "2023-11-14T22:13:20Z",
        })).collect::<Vec<_>>(),
        "has_more": false,
        "first_id": ids.first(),
        "last_id": ids.last(),
    })
}
