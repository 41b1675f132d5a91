//! The Anthropic Messages client.
//!
//! Wire rules it keeps:
//! - `POST {base}/v1/messages` (the base URL has no `/v1`, as `ANTHROPIC_BASE_URL` is usually
//!   written), headers `x-api-key` and `anthropic-version: 2023-06-01`.
//! - System messages are joined into the top-level `system` field; `max_tokens` is required by
//!   the API, so [`DEFAULT_MAX_TOKENS`] fills it in when the request has none.
//! - Tools are `{name, description, input_schema}`; an assistant's calls are `tool_use` blocks;
//!   tool results are `tool_result` blocks in a `user` message, consecutive results merged into
//!   one message because the API wants user and assistant turns to alternate.
//! - Streaming forwards every `text_delta` to `on_token` and reassembles a `tool_use` block's
//!   input from its `input_json_delta.partial_json` pieces, by block index.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::LlmError;
use crate::http::{self, Flow};
use crate::openai::elapsed_ms;
use crate::router::ProviderConfig;
use crate::types::{Completion, CompletionRequest, Role, ToolCall, Usage, normalise_finish};

/// The API version every request names.
pub const API_VERSION: &str = "2023-06-01";

/// `max_tokens` when the request sets none: the API requires one, and 4096 fits every current
/// model's output limit.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The request body, exactly as sent.
#[derive(Debug, Serialize)]
pub struct WireRequest {
    model: String,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    messages: Vec<WireMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

/// One message: a role and its content blocks.
#[derive(Debug, Serialize)]
struct WireMessage {
    role: &'static str,
    content: Vec<Block>,
}

/// A content block, in requests and answers.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    /// Text.
    Text { text: String },
    /// A tool call by the assistant.
    ToolUse { id: String, name: String, input: Value },
    /// A tool's result, sent by the user side.
    ToolResult { tool_use_id: String, content: String },
    /// Anything else the API may add (thinking blocks, …): ignored.
    #[serde(other)]
    Other,
}

/// A tool definition.
#[derive(Debug, Serialize)]
struct WireTool {
    name: String,
    description: String,
    input_schema: Value,
}

/// The user turn put first when a conversation would start with the model's turn.
const EARLIER_CONVERSATION: &str = "(The earlier part of this conversation was left out.)";

/// Builds the wire body for `model`: system messages joined into `system`, consecutive messages
/// of one role joined (Anthropic wants user and assistant to alternate), empty assistant turns
/// left out, and a short user turn first when the conversation would start with the model's.
pub fn request_body(model: &str, req: &CompletionRequest, stream: bool) -> WireRequest {
    let system: Vec<&str> =
        req.messages.iter().filter(|m| m.role == Role::System).map(|m| m.content.as_str()).collect();
    let mut messages: Vec<WireMessage> = Vec::new();
    for m in req.messages.iter().filter(|m| m.role != Role::System) {
        let (role, blocks) = match m.role {
            Role::Tool => {
                let block = Block::ToolResult {
                    tool_use_id: m.tool_call_id.clone().unwrap_or_default(),
                    content: m.content.clone(),
                };
                // Consecutive results answer one assistant turn: they share one user message.
                if let Some(last) = messages.last_mut()
                    && last.role == "user"
                    && last.content.iter().all(|b| matches!(b, Block::ToolResult { .. }))
                {
                    last.content.push(block);
                    continue;
                }
                ("user", vec![block])
            }
            Role::Assistant => {
                let mut blocks: Vec<Block> = Vec::new();
                if !m.content.is_empty() {
                    blocks.push(Block::Text { text: m.content.clone() });
                }
                blocks.extend(m.tool_calls.iter().map(|c| Block::ToolUse {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    input: c.arguments.clone(),
                }));
                ("assistant", blocks)
            }
            Role::User | Role::System => ("user", vec![Block::Text { text: m.content.clone() }]),
        };
        if blocks.is_empty() {
            // An assistant turn with neither text nor calls: Anthropic refuses empty content.
            continue;
        }
        match messages.last_mut() {
            // Anthropic wants alternating roles: a user message after tool results (or two user
            // messages in a row) joins the previous user message.
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => messages.push(WireMessage { role, content: blocks }),
        }
    }
    if messages.first().is_some_and(|m| m.role == "assistant") {
        // Trimmed history may start with the model's turn; Anthropic wants the user's first.
        messages.insert(
            0,
            WireMessage { role: "user", content: vec![Block::Text { text: EARLIER_CONVERSATION.to_string() }] },
        );
    }
    WireRequest {
        model: model.to_string(),
        max_tokens: req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        messages,
        tools: req
            .tools
            .iter()
            .map(|t| WireTool {
                name: t.name.clone(),
                description: t.description.clone(),
                input_schema: t.parameters.clone(),
            })
            .collect(),
        temperature: req.temperature,
        stream,
    }
}

/// The messages URL under the base URL.
fn url(provider: &ProviderConfig) -> String {
    format!("{}/v1/messages", provider.base_url.trim_end_matches('/'))
}

/// The POST with Anthropic's headers.
fn post(http: &reqwest::Client, provider: &ProviderConfig, body: &WireRequest) -> reqwest::RequestBuilder {
    let builder = http.post(url(provider)).header("anthropic-version", API_VERSION).json(body);
    match &provider.api_key {
        Some(key) => builder.header("x-api-key", key),
        None => builder,
    }
}

/// A non-streamed `message`.
#[derive(Deserialize)]
struct WireAnswer {
    #[serde(default)]
    model: String,
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

/// Anthropic's usage block; either count may be missing from a stream event.
#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
}

/// One non-streamed completion from `provider` with `model`.
pub async fn complete(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    model: &str,
    req: &CompletionRequest,
    timeout: Duration,
) -> Result<Completion, LlmError> {
    let started = Instant::now();
    let name = provider.name.as_str();
    let body = request_body(model, req, false);
    let response = http::send(name, &url(provider), post(http, provider, &body), timeout).await?;
    let wire: WireAnswer = http::read_json(name, response, timeout).await?;
    let mut content = String::new();
    let mut tool_calls = Vec::new();
    for block in wire.content {
        match block {
            Block::Text { text } => content.push_str(&text),
            Block::ToolUse { id, name, input } => tool_calls.push(ToolCall { id, name, arguments: input }),
            Block::ToolResult { .. } | Block::Other => {}
        }
    }
    Ok(Completion {
        model: if wire.model.is_empty() { model.to_string() } else { wire.model },
        provider: provider.name.clone(),
        content,
        tool_calls,
        finish_reason: normalise_finish(wire.stop_reason.as_deref().unwrap_or("end_turn")),
        usage: Usage {
            input_tokens: wire.usage.input_tokens.unwrap_or(0),
            output_tokens: wire.usage.output_tokens.unwrap_or(0),
        },
        latency_ms: elapsed_ms(started),
        cost_usd: None,
        tier: None,
        route_reason: None,
    })
}

/// One stream event, by its `type`.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamEvent {
    /// Opens the message: model and input tokens.
    MessageStart { message: StartMessage },
    /// Opens content block `index`.
    ContentBlockStart { index: usize, content_block: Block },
    /// Adds to content block `index`.
    ContentBlockDelta { index: usize, delta: Piece },
    /// Closes a block.
    ContentBlockStop,
    /// The stop reason and final output tokens.
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: WireUsage,
    },
    /// The end.
    MessageStop,
    /// Keep-alive.
    Ping,
    /// An error mid-stream (for example `overloaded_error`).
    Error { error: StreamError },
}

/// `message_start.message`.
#[derive(Deserialize)]
struct StartMessage {
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: WireUsage,
}

/// A content block delta.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Piece {
    /// More text.
    TextDelta { text: String },
    /// More of a tool call's input JSON.
    InputJsonDelta { partial_json: String },
    /// Deltas the router does not use (thinking, signatures).
    #[serde(other)]
    Other,
}

/// `message_delta.delta`.
#[derive(Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

/// A mid-stream error.
#[derive(Deserialize)]
struct StreamError {
    #[serde(default, rename = "type")]
    kind: String,
    message: String,
}

/// A block being reassembled.
enum Partial {
    /// Text (already forwarded token by token).
    Text,
    /// A tool call and its input JSON so far.
    Tool { id: String, name: String, json: String },
}

/// One streamed completion; every text delta goes to `on_token` as it arrives.
pub async fn stream(
    http: &reqwest::Client,
    provider: &ProviderConfig,
    model: &str,
    req: &CompletionRequest,
    timeout: Duration,
    mut on_token: impl FnMut(&str),
) -> Result<Completion, LlmError> {
    let started = Instant::now();
    let name = provider.name.as_str();
    let body = request_body(model, req, true);
    let response = http::send(name, &url(provider), post(http, provider, &body), timeout).await?;

    let mut content = String::new();
    let mut blocks: BTreeMap<usize, Partial> = BTreeMap::new();
    let mut usage = Usage::default();
    let mut answered_model = String::new();
    let mut stop = None;
    let mut done = false;
    http::each_event(name, response, timeout, |event| {
        match http::parse_data::<StreamEvent>(name, &event)? {
            StreamEvent::MessageStart { message } => {
                answered_model = message.model;
                usage.input_tokens = message.usage.input_tokens.unwrap_or(0);
                usage.output_tokens = message.usage.output_tokens.unwrap_or(0);
            }
            StreamEvent::ContentBlockStart { index, content_block } => {
                let partial = match content_block {
                    Block::ToolUse { id, name, .. } => Partial::Tool { id, name, json: String::new() },
                    Block::Text { text } => {
                        if !text.is_empty() {
                            on_token(&text);
                            content.push_str(&text);
                        }
                        Partial::Text
                    }
                    Block::ToolResult { .. } | Block::Other => Partial::Text,
                };
                blocks.insert(index, partial);
            }
            StreamEvent::ContentBlockDelta { index, delta } => match (delta, blocks.get_mut(&index)) {
                (Piece::TextDelta { text }, _) => {
                    on_token(&text);
                    content.push_str(&text);
                }
                (Piece::InputJsonDelta { partial_json }, Some(Partial::Tool { json, .. })) => {
                    json.push_str(&partial_json)
                }
                (Piece::InputJsonDelta { .. }, _) => {
                    return Err(LlmError::bad(
                        name,
                        format!("input_json_delta for block {index}, which is not a tool_use block"),
                    ));
                }
                (Piece::Other, _) => {}
            },
            StreamEvent::MessageDelta { delta, usage: u } => {
                stop = delta.stop_reason.or(stop.take());
                if let Some(out) = u.output_tokens {
                    usage.output_tokens = out;
                }
                if let Some(input) = u.input_tokens {
                    usage.input_tokens = input;
                }
            }
            StreamEvent::MessageStop => {
                done = true;
                return Ok(Flow::Done);
            }
            StreamEvent::Error { error } => {
                // Anthropic reports overload mid-stream as an `error` event; 529 is its status.
                let status = if error.kind == "overloaded_error" { 529 } else { 500 };
                return Err(LlmError::Provider { provider: name.to_string(), status, message: error.message });
            }
            StreamEvent::ContentBlockStop | StreamEvent::Ping => {}
        }
        Ok(Flow::More)
    })
    .await?;
    if !done {
        return Err(LlmError::bad(name, "the stream ended before message_stop"));
    }
    let mut tool_calls = Vec::new();
    for partial in blocks.into_values() {
        if let Partial::Tool { id, name: tool, json } = partial {
            let arguments = if json.trim().is_empty() {
                Value::Object(serde_json::Map::new())
            } else {
                serde_json::from_str(&json).map_err(|e| {
                    LlmError::bad(name, format!("the input of tool call {tool:?} is not JSON: {e}: {json}"))
                })?
            };
            tool_calls.push(ToolCall { id, name: tool, arguments });
        }
    }
    Ok(Completion {
        model: if answered_model.is_empty() { model.to_string() } else { answered_model },
        provider: provider.name.clone(),
        content,
        tool_calls,
        finish_reason: normalise_finish(stop.as_deref().unwrap_or("end_turn")),
        usage,
        latency_ms: elapsed_ms(started),
        cost_usd: None,
        tier: None,
        route_reason: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatMessage, ToolCall};
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn roles_and_blocks(req: &CompletionRequest) -> Value {
        let body = serde_json::to_value(request_body("m", req, false)).unwrap();
        let pairs: Vec<Value> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let kinds: Vec<Value> = m["content"].as_array().unwrap().iter().map(|b| b["type"].clone()).collect();
                json!([m["role"], kinds])
            })
            .collect();
        Value::Array(pairs)
    }

    #[test]
    fn roles_alternate_and_the_user_speaks_first() {
        let call = ToolCall { id: "t1".into(), name: "ls".into(), arguments: json!({}) };
        let req = CompletionRequest {
            messages: vec![
                ChatMessage::system("sys"),
                ChatMessage::assistant_calls("", vec![call]),
                ChatMessage::tool_result("t1", "a.txt"),
                ChatMessage::user("and now?"),
                ChatMessage::new(Role::Assistant, ""),
                ChatMessage::user("hello?"),
            ],
            ..CompletionRequest::default()
        };
        assert_eq!(
            roles_and_blocks(&req),
            json!([["user", ["text"]], ["assistant", ["tool_use"]], ["user", ["tool_result", "text", "text"]]])
        );
    }
}
