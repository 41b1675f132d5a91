//! The OpenAI Chat Completions client, for OpenAI itself and any OpenAI-compatible server
//! (Ollama, vLLM, llama.cpp server, LM Studio, OpenRouter, Groq, …) by base URL.
//!
//! Wire rules it keeps:
//! - `POST {base}/chat/completions`, where the base URL includes `/v1`
//!   (`https://api.openai.com/v1`); `Authorization: Bearer <key>` only when a key is set, so
//!   local servers without auth work.
//! - Tools are `{"type":"function","function":{name,description,parameters}}`; an assistant's
//!   calls are `tool_calls` with the arguments as a JSON *string*; a tool result is a `tool`
//!   message with `tool_call_id`.
//! - Streaming asks for `stream_options: {include_usage: true}`, forwards every content delta
//!   to `on_token`, and reassembles tool calls by their `index`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::LlmError;
use crate::http::{self, Flow};
use crate::router::ProviderConfig;
use crate::types::{ChatMessage, Completion, CompletionRequest, Role, ToolCall, Usage, normalise_finish};

/// The request body, exactly as sent.
#[derive(Debug, Serialize)]
pub struct WireRequest {
    model: String,
    messages: Vec<WireMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

/// `stream_options`.
#[derive(Debug, Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// One message on the wire.
#[derive(Debug, Serialize)]
struct WireMessage {
    role: Role,
    /// `null` for an assistant message that only calls tools.
    content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireToolCall>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<String>,
}

/// An assistant's tool call on the wire.
#[derive(Debug, Serialize, Deserialize)]
struct WireToolCall {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    function: WireFunctionCall,
}

/// The function part of a tool call: arguments are a JSON string.
#[derive(Debug, Serialize, Deserialize)]
struct WireFunctionCall {
    name: String,
    arguments: String,
}

/// A tool definition on the wire.
#[derive(Debug, Serialize)]
struct WireTool {
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction,
}

/// The function a tool definition describes.
#[derive(Debug, Serialize)]
struct WireFunction {
    name: String,
    description: String,
    parameters: Value,
}

/// Builds the wire body for `model`; `stream` adds `stream: true` and `include_usage`.
pub fn request_body(model: &str, req: &CompletionRequest, stream: bool) -> WireRequest {
    WireRequest {
        model: model.to_string(),
        messages: req.messages.iter().map(wire_message).collect(),
        tools: req
            .tools
            .iter()
            .map(|t| WireTool {
                kind: "function",
                function: WireFunction {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    parameters: t.parameters.clone(),
                },
            })
            .collect(),
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        stream,
        stream_options: stream.then_some(StreamOptions { include_usage: true }),
    }
}

/// One neutral message on the wire.
fn wire_message(m: &ChatMessage) -> WireMessage {
    let calls_only = m.role == Role::Assistant && m.content.is_empty() && !m.tool_calls.is_empty();
    WireMessage {
        role: m.role,
        content: (!calls_only).then(|| m.content.clone()),
        tool_calls: m
            .tool_calls
            .iter()
            .map(|c| WireToolCall {
                id: c.id.clone(),
                kind: "function".to_string(),
                function: WireFunctionCall { name: c.name.clone(), arguments: c.arguments.to_string() },
            })
            .collect(),
        tool_call_id: m.tool_call_id.clone(),
    }
}

/// A non-streamed `chat.completion`.
#[derive(Deserialize)]
struct WireCompletion {
    #[serde(default)]
    model: String,
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// One choice of a completion.
#[derive(Deserialize)]
struct WireChoice {
    message: WireAnswer,
    #[serde(default)]
    finish_reason: Option<String>,
}

/// The assistant message of a choice.
#[derive(Deserialize)]
struct WireAnswer {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

/// OpenAI's usage block.
#[derive(Deserialize, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Self {
        Usage { input_tokens: u.prompt_tokens, output_tokens: u.completion_tokens }
    }
}

/// Parses a tool call's argument string; an empty string is `{}`.
fn parse_arguments(provider: &str, name: &str, text: &str) -> Result<Value, LlmError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(text)
        .map_err(|e| LlmError::bad(provider, format!("the arguments of tool call {name:?} are not JSON: {e}: {text}")))
}

/// The chat completions URL under the base URL.
fn url(provider: &ProviderConfig) -> String {
    format!("{}/chat/completions", provider.base_url.trim_end_matches('/'))
}

/// The POST, with the bearer key when one is configured.
fn post(http: &reqwest::Client, provider: &ProviderConfig, body: &WireRequest) -> reqwest::RequestBuilder {
    let builder = http.post(url(provider)).json(body);
    match &provider.api_key {
        Some(key) => builder.bearer_auth(key),
        None => builder,
    }
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
    let wire: WireCompletion = http::read_json(name, response, timeout).await?;
    let Some(choice) = wire.choices.into_iter().next() else {
        return Err(LlmError::bad(name, "the completion has no choices"));
    };
    let tool_calls = choice
        .message
        .tool_calls
        .into_iter()
        .map(|c| {
            Ok(ToolCall {
                arguments: parse_arguments(name, &c.function.name, &c.function.arguments)?,
                id: c.id,
                name: c.function.name,
            })
        })
        .collect::<Result<Vec<_>, LlmError>>()?;
    Ok(Completion {
        model: if wire.model.is_empty() { model.to_string() } else { wire.model },
        provider: provider.name.clone(),
        content: choice.message.content.unwrap_or_default(),
        tool_calls,
        finish_reason: normalise_finish(choice.finish_reason.as_deref().unwrap_or("stop")),
        usage: wire.usage.map(Usage::from).unwrap_or_default(),
        latency_ms: elapsed_ms(started),
        cost_usd: None,
        tier: None,
        route_reason: None,
    })
}

/// One `chat.completion.chunk`.
#[derive(Deserialize)]
struct WireChunk {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<WireChunkChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// One choice of a chunk.
#[derive(Deserialize)]
struct WireChunkChoice {
    #[serde(default)]
    delta: WireDelta,
    #[serde(default)]
    finish_reason: Option<String>,
}

/// What a chunk adds.
#[derive(Deserialize, Default)]
struct WireDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<WireCallDelta>,
}

/// A piece of a tool call, keyed by `index`.
#[derive(Deserialize)]
struct WireCallDelta {
    index: usize,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunctionDelta>,
}

/// A piece of a tool call's function.
#[derive(Deserialize)]
struct WireFunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// A tool call being reassembled: id, name, argument text so far.
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
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
    let mut calls: BTreeMap<usize, PartialCall> = BTreeMap::new();
    let mut finish = None;
    let mut usage = Usage::default();
    let mut answered_model = None;
    let mut done = false;
    http::each_event(name, response, timeout, |event| {
        if event.data.trim() == "[DONE]" {
            done = true;
            return Ok(Flow::Done);
        }
        let chunk: WireChunk = http::parse_data(name, &event)?;
        if let Some(m) = chunk.model.filter(|m| !m.is_empty()) {
            answered_model = Some(m);
        }
        if let Some(u) = chunk.usage {
            usage = u.into();
        }
        for choice in chunk.choices {
            if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                on_token(&text);
                content.push_str(&text);
            }
            for piece in choice.delta.tool_calls {
                let call = calls.entry(piece.index).or_default();
                if let Some(id) = piece.id {
                    call.id = id;
                }
                if let Some(f) = piece.function {
                    call.name.push_str(f.name.as_deref().unwrap_or_default());
                    call.arguments.push_str(f.arguments.as_deref().unwrap_or_default());
                }
            }
            if choice.finish_reason.is_some() {
                finish = choice.finish_reason;
            }
        }
        Ok(Flow::More)
    })
    .await?;
    if !done && finish.is_none() {
        return Err(LlmError::bad(name, "the stream ended before a finish_reason or [DONE]"));
    }
    let tool_calls = calls
        .into_values()
        .map(|c| Ok(ToolCall { arguments: parse_arguments(name, &c.name, &c.arguments)?, id: c.id, name: c.name }))
        .collect::<Result<Vec<_>, LlmError>>()?;
    Ok(Completion {
        model: answered_model.unwrap_or_else(|| model.to_string()),
        provider: provider.name.clone(),
        content,
        tool_calls,
        finish_reason: normalise_finish(finish.as_deref().unwrap_or("stop")),
        usage,
        latency_ms: elapsed_ms(started),
        cost_usd: None,
        tier: None,
        route_reason: None,
    })
}

/// Milliseconds since `started`, saturating.
pub(crate) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}
