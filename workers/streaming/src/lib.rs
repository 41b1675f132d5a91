//! agentos-worker-streaming: the streaming surfaces of the chat API (`sse::*`).
//!
//! `POST /v1/chat` runs `agent::chat` and answers with the turn as JSON; `POST /v1/chat/stream`
//! runs it with an event channel and relays every event as a Server-Sent Event; `POST /v1/chat/completions` and `GET /v1/models` put an OpenAI-compatible
//! face on the same turns, so any OpenAI client can talk to an agentos hand (the hand is the
//! model). The HTTP body streams through the engine's response channel (iii's streamed HTTP
//! responses), frame by frame.
//!
//! This module holds the pure translations (SSE framing, OpenAI requests, answers and chunks,
//! turn errors and their HTTP statuses); [`register`] is the glue. A turn's events and answer
//! are read as the chat contract's types ([`agentos_protocol::chat`]), never field by field.
//!
//! Rules it keeps:
//! - A turn whose agent-core went away is a `503 WORKER_UNAVAILABLE` naming agent-core
//!   ([`turn_error`]), never the engine's bare `invocation_stopped`.
//! - A message or a conversation too large is a 413 ([`chat_status`]), never a 500.

pub mod register;

use agentos_kit::WorkerError;
use agentos_protocol::chat::{ChatAnswer, ChatEvent, TurnUsage, finish};
use agentos_protocol::error::ErrorInfo;
use serde::Deserialize;
use serde_json::{Value, json};

pub use agentos_kit::codes::{CONTEXT_TOO_LARGE, MESSAGE_TOO_LARGE, TURN_INTERRUPTED, WORKER_UNAVAILABLE};

/// The error a client reads for a failed `agent::chat` call: the engine's codes for a vanished
/// or absent agent-core become [`WORKER_UNAVAILABLE`] with a message naming it; every other
/// error is the turn's own.
pub fn turn_error(e: WorkerError) -> WorkerError {
    match e.code.as_str() {
        "invocation_stopped" => WorkerError::new(
            WORKER_UNAVAILABLE,
            "agent-core stopped during the turn; it is being restarted, retry (the turn did not finish; `agentos status` and `agentos logs agent-core` say more)",
        ),
        "function_not_found" => WorkerError::new(
            WORKER_UNAVAILABLE,
            "agent-core is not running (agent::chat is not registered); it is being started or restarted, retry (`agentos status` and `agentos logs agent-core` say more)",
        ),
        _ => e,
    }
}

/// The HTTP status of a chat turn's error code: the contract's (413 for input too large, 503
/// for a turn whose worker went away, …).
pub fn chat_status(code: &str) -> u16 {
    agentos_kit::http::status_for(code)
}

/// The `{code, message}` of an `error` event as an error.
pub fn event_error(data: &Value) -> WorkerError {
    match ErrorInfo::deserialize(data) {
        Ok(e) if e.message.is_empty() => WorkerError::new(e.code, "the turn failed without saying why"),
        Ok(e) => WorkerError::new(e.code, e.message),
        Err(_) => WorkerError::new(agentos_kit::codes::INTERNAL, "the turn failed without saying why"),
    }
}

pub use register::{MANIFEST, Streaming, run, worker};

/// One Server-Sent Event: `event: <name>` and the JSON data on one `data:` line.
pub fn sse_event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// One unnamed Server-Sent Event (the OpenAI stream format): `data: <text>`.
pub fn sse_data(text: &str) -> String {
    format!("data: {text}\n\n")
}

/// The events that end a turn's stream.
pub fn is_terminal(event: &str) -> bool {
    ChatEvent::is_terminal(event)
}

/// An OpenAI chat message as clients send it: content is a string or a list of parts.
#[derive(Debug, Clone, Deserialize)]
pub struct OpenAiMessage {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// A string, an array of `{type: "text", text}` parts, or null.
    #[serde(default)]
    pub content: Value,
}

/// The part of an OpenAI chat-completions request agentos uses; other fields are accepted and
/// ignored, as OpenAI clients send many.
#[derive(Debug, Clone, Deserialize)]
pub struct CompletionsRequest {
    /// The hand to talk to.
    pub model: String,
    /// The conversation; the last message must be the user's.
    pub messages: Vec<OpenAiMessage>,
    /// Stream chunks as Server-Sent Events.
    #[serde(default)]
    pub stream: bool,
    /// `{include_usage: true}` adds a usage chunk before `[DONE]`.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
}

/// OpenAI's `stream_options`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamOptions {
    /// Send a final chunk with the usage.
    #[serde(default)]
    pub include_usage: bool,
}

/// The text of a message's content.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The hand a model id names: the id itself, or what follows `agentos/`.
pub fn hand_of(model: &str) -> &str {
    model.strip_prefix("agentos/").unwrap_or(model)
}

/// Turns an OpenAI request into the `agent::chat` input: the last user message is the message,
/// everything before it is the history. Errors say what is wrong with the request.
pub fn chat_input(req: &CompletionsRequest) -> Result<Value, String> {
    let Some((last, earlier)) = req.messages.split_last() else {
        return Err("messages is empty; send at least one user message".to_string());
    };
    if last.role != "user" {
        return Err(format!("the last message must be the user's, not {:?}", last.role));
    }
    let message = text_of(&last.content);
    if message.trim().is_empty() {
        return Err("the last user message has no text".to_string());
    }
    let mut history = Vec::new();
    for m in earlier {
        let role = match m.role.as_str() {
            "system" | "developer" => "system",
            "user" => "user",
            "assistant" => "assistant",
            // Tool results of the client's own tools have no counterpart here: agentos runs its
            // tools itself. They are left out rather than sent without their calls.
            _ => continue,
        };
        history.push(json!({"role": role, "content": text_of(&m.content)}));
    }
    Ok(json!({"message": message, "hand": hand_of(&req.model), "history": history}))
}

/// The OpenAI `finish_reason` of an agentos turn.
pub fn finish_reason(finish: &str) -> &'static str {
    if finish == finish::STEP_LIMIT { "length" } else { "stop" }
}

/// A turn's usage as JSON (an answer's `usage`), read; missing counts are 0.
fn usage_of(usage: &Value) -> TurnUsage {
    TurnUsage::deserialize(usage).unwrap_or_default()
}

/// OpenAI's usage object from an agentos usage.
pub fn openai_usage(usage: &Value) -> Value {
    usage_body(&usage_of(usage))
}

/// OpenAI's usage object for a turn's usage.
fn usage_body(usage: &TurnUsage) -> Value {
    let (input, output) = (usage.input_tokens, usage.output_tokens);
    json!({"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output})
}

/// An `agent::chat` answer as JSON, read; one that is not an answer reads as an empty reply
/// (and the mismatch is logged).
pub fn answer_of(answer: &Value) -> ChatAnswer {
    ChatAnswer::deserialize(answer).unwrap_or_else(|e| {
        tracing::warn!("agent::chat answered with a shape this worker cannot read ({e}); the reply is empty");
        ChatAnswer {
            session_id: String::new(),
            reply: String::new(),
            tool_calls: Vec::new(),
            usage: TurnUsage::default(),
            model: String::new(),
            steps: 0,
            finish: finish::STOP.to_string(),
            trace_id: None,
        }
    })
}

/// The non-streamed answer (`chat.completion`) for an `agent::chat` answer as JSON; an answer
/// that is not one is an empty reply.
pub fn completion_answer(id: &str, created: u64, model: &str, answer: &Value) -> Value {
    completion_body(id, created, model, &answer_of(answer))
}

/// The non-streamed answer (`chat.completion`) for a turn's answer.
pub fn completion_body(id: &str, created: u64, model: &str, answer: &ChatAnswer) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": answer.reply},
            "finish_reason": finish_reason(&answer.finish),
        }],
        "usage": usage_body(&answer.usage),
    })
}

/// One `chat.completion.chunk` with `delta` and `finish_reason`.
pub fn chunk(id: &str, created: u64, model: &str, delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    })
}

/// The usage chunk (`choices` empty), sent when the client asked for it; `usage` is a turn's
/// usage as JSON.
pub fn usage_chunk(id: &str, created: u64, model: &str, usage: &Value) -> Value {
    json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": openai_usage(usage),
    })
}

/// The `GET /v1/models` answer for the hands `hand::list` returned.
pub fn models_answer(hands: &Value) -> Value {
    let data: Vec<Value> = hands["hands"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["name"].as_str())
        .map(|name| json!({"id": name, "object": "model", "created": 0, "owned_by": "agentos"}))
        .collect();
    json!({"object": "list", "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn request(messages: Value) -> CompletionsRequest {
        serde_json::from_value(json!({"model": "agentos/coder", "messages": messages, "temperature": 0.2})).unwrap()
    }

    #[test]
    fn events_are_framed_as_server_sent_events() {
        assert_eq!(sse_event("token", &json!({"text": "a\nb"})), "event: token\ndata: {\"text\":\"a\\nb\"}\n\n");
        assert_eq!(sse_data("[DONE]"), "data: [DONE]\n\n");
    }

    #[test]
    fn an_openai_conversation_becomes_a_message_and_its_history() {
        let req = request(json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {}}]},
            {"role": "assistant", "content": "hello"},
            {"role": "tool", "tool_call_id": "x", "content": "ignored"},
            {"role": "user", "content": "read a.txt"}
        ]));
        assert_eq!(
            chat_input(&req).unwrap(),
            json!({
                "message": "read a.txt",
                "hand": "coder",
                "history": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"}
                ]
            })
        );
    }

    #[test]
    fn a_conversation_must_end_with_the_users_text() {
        assert!(chat_input(&request(json!([]))).unwrap_err().contains("messages is empty"));
        let err = chat_input(&request(json!([{"role": "assistant", "content": "x"}]))).unwrap_err();
        assert!(err.contains("must be the user's"), "{err}");
        assert!(chat_input(&request(json!([{"role": "user", "content": " "}]))).unwrap_err().contains("no text"));
    }

    #[test]
    fn answers_and_chunks_have_the_openai_shape() {
        let answer = json!({
            "session_id": "s1", "reply": "Hi.", "tool_calls": [], "model": "openai/m", "steps": 1, "finish": "step_limit",
            "usage": {"input_tokens": 3, "output_tokens": 2, "llm_calls": 1}
        });
        let body = completion_answer("chatcmpl-1", 5, "coder", &answer);
        assert_eq!(body["choices"][0]["message"], json!({"role": "assistant", "content": "Hi."}));
        assert_eq!(body["choices"][0]["finish_reason"], "length");
        assert_eq!(body["usage"], json!({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}));
        let c = chunk("chatcmpl-1", 5, "coder", json!({"content": "Hi"}), None);
        assert_eq!(c["choices"][0], json!({"index": 0, "delta": {"content": "Hi"}, "finish_reason": null}));
        assert_eq!(usage_chunk("i", 5, "m", &answer["usage"])["choices"], json!([]));
    }

    #[test]
    fn a_vanished_agent_core_is_a_503_naming_it_and_too_large_input_a_413() {
        let e = turn_error(WorkerError::new("invocation_stopped", "worker disconnected"));
        assert_eq!((e.code.as_str(), chat_status(&e.code)), (WORKER_UNAVAILABLE, 503));
        assert!(e.message.starts_with("agent-core stopped during the turn; it is being restarted, retry"), "{e}");
        let e = turn_error(WorkerError::new("function_not_found", "agent::chat"));
        assert_eq!(e.code, WORKER_UNAVAILABLE);
        assert!(e.message.starts_with("agent-core is not running"), "{e}");
        let own = WorkerError::new(MESSAGE_TOO_LARGE, "the message is 9 bytes");
        assert_eq!(turn_error(own.clone()), own);
        let table = [
            (MESSAGE_TOO_LARGE, 413),
            (CONTEXT_TOO_LARGE, 413),
            (TURN_INTERRUPTED, 503),
            ("NOT_FOUND", 404),
            ("INVALID_INPUT", 400),
            ("PROVIDER_ERROR", 502),
        ];
        for (code, status) in table {
            assert_eq!(chat_status(code), status, "{code}");
        }
        assert_eq!(event_error(&json!({"code": "X", "message": "m"})), WorkerError::new("X", "m"));
    }

    #[test]
    fn hands_are_listed_as_models() {
        let hands = json!({"hands": [{"name": "coder"}, {"name": "reviewer"}], "errors": []});
        let ids: Vec<Value> =
            models_answer(&hands)["data"].as_array().unwrap().iter().map(|m| m["id"].clone()).collect();
        assert_eq!(ids, vec![json!("coder"), json!("reviewer")]);
    }
}
