//! The glue: the manifest, the relay from a turn's event channel to the HTTP response channel,
//! and the bindings of `/v1/chat`, `/v1/chat/stream`, `/v1/chat/completions` and `/v1/models`.
//!
//! Rules it keeps:
//! - Requests are checked before the stream starts, so bad input is a plain 4xx JSON error; so
//!   is a turn that fails before its first event (a message too large, an unknown hand, no
//!   agent-core): the stream opens with the turn's first event.
//! - `/v1/chat` is served here, not by agent-core, so a turn whose agent-core dies is still
//!   answered: `503 WORKER_UNAVAILABLE` naming it ([`crate::turn_error`]).
//! - Once streaming, failures arrive as an `error` event (OpenAI: an `error` chunk), never as a
//!   cut connection without a word.
//! - A client that goes away does not stop the turn: its events are still read (so agent-core is
//!   never blocked on a full channel) and the turn is recorded as usual.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use agentos_kit::channel::{self, ChannelReader, ChannelWriter, Event};
use agentos_kit::http::{HttpRequest, HttpResponse};
use agentos_kit::{III, Worker, WorkerError, WorkerManifest, codes};
use agentos_protocol::chat::{ChatAnswer, ChatEvent};
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::{
    CompletionsRequest, answer_of, chat_input, chat_status, chunk, completion_body, event_error, finish_reason,
    is_terminal, models_answer, sse_data, sse_event, turn_error, usage_chunk,
};

/// The pub/sub topic approval and session workers publish their events on.
pub const EVENTS_TOPIC: &str = "agentos.events";

/// How many events a slow `/v1/events` client may fall behind before it misses some.
const EVENTS_BACKLOG: usize = 1024;

/// How often an idle `/v1/events` stream gets a comment line: keeps proxies from closing it and
/// notices a client that left.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// The streaming worker's manifest, derived from [`worker`]; `workers/streaming/iii.worker.yaml`
/// mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// The longest a turn may run.
const TURN_TIMEOUT: Duration = Duration::from_secs(3600);

/// How long to keep reading events after the turn answered (the writer closes before that).
const DRAIN: Duration = Duration::from_secs(2);

/// The keys a `/v1/chat/stream` body may have.
const CHAT_KEYS: &[&str] = &["message", "session_id", "hand", "agent", "realm", "model"];

/// What the handlers share: the connection (turns call `agent::chat`, streams open response
/// channels) and the in-process fan-out of `agentos.events` to every open `/v1/events` stream.
#[derive(Clone)]
pub struct Streaming {
    iii: III,
    events: broadcast::Sender<Event>,
}

impl Streaming {
    /// The service over `iii`, with no `/v1/events` client yet.
    pub fn new(iii: III) -> Self {
        let (events, _) = broadcast::channel::<Event>(EVENTS_BACKLOG);
        Self { iii, events }
    }
}

/// The streaming worker: the chat, OpenAI-compatible and live-event routes, and the
/// subscriber of [`EVENTS_TOPIC`] behind `/v1/events`.
pub fn worker() -> Worker<Streaming, WorkerError> {
    Worker::new(
        "streaming",
        "Chat turns as JSON (/v1/chat) and as Server-Sent Events (/v1/chat/stream), and the OpenAI-compatible API (/v1/chat/completions, /v1/models) in front of agent::chat, and the live event stream (/v1/events).",
    )
    // POST /v1/chat: one turn, answered as JSON when it is complete.
    .route("sse::chat", "POST", "/v1/chat", |s: Streaming, req| chat(s.iii, req))
    // POST /v1/chat/stream: one turn as Server-Sent Events.
    .route("sse::chat_stream", "POST", "/v1/chat/stream", |s: Streaming, req| chat_stream(s.iii, req))
    // POST /v1/chat/completions: OpenAI-compatible chat completions.
    .route("sse::completions", "POST", "/v1/chat/completions", |s: Streaming, req| completions(s.iii, req))
    // GET /v1/models: the hands, as OpenAI models.
    .route("sse::models", "GET", "/v1/models", |s: Streaming, _req| async move {
        let hands: Value = agentos_kit::call(&s.iii, "hand::list", &json!({}), Duration::from_secs(10)).await?;
        Ok(HttpResponse::ok(models_answer(&hands)))
    })
    // GET /v1/events: every approval and session event, live.
    .route("sse::events", "GET", "/v1/events", |s: Streaming, req| {
        let events = s.events.subscribe();
        live_events(s.iii, req, events)
    })
    // Live events: one subscription to the topic, fanned out in process to every open stream.
    .subscribe(
        EVENTS_TOPIC,
        "sse::on_event",
        "Receives agentos.events publications ({event, data}) and relays them to /v1/events clients.",
        |s: Streaming, event: Event| {
            // No receiver means no client is listening: nothing to do.
            let _ = s.events.send(event);
            std::future::ready(Ok::<_, WorkerError>(()))
        },
    )
}

/// Runs the streaming worker as its own process until SIGTERM or SIGINT
/// (`agentos worker streaming`).
pub fn run() -> Result<(), WorkerError> {
    worker().run(|iii| Ok(Streaming::new(iii.clone())))
}

/// Checks a `/v1/chat/stream` body and returns the `agent::chat` input.
pub fn check_chat_body(body: &Value) -> Result<Map<String, Value>, WorkerError> {
    let Some(map) = body.as_object() else {
        return Err(WorkerError::invalid_input(
            "the body must be a JSON object like {\"message\": \"hi\"} (with content-type: application/json)",
        ));
    };
    if let Some(key) = map.keys().find(|k| !CHAT_KEYS.contains(&k.as_str())) {
        return Err(WorkerError::invalid_input(format!(
            "unknown field {key:?}; the fields are {}",
            CHAT_KEYS.join(", ")
        )));
    }
    match map.get("message").and_then(Value::as_str) {
        Some(m) if !m.trim().is_empty() => Ok(map.clone()),
        _ => Err(WorkerError::invalid_input("\"message\" must be a non-empty string")),
    }
}

/// The JSON error response for a failed turn.
fn error_response(e: WorkerError) -> HttpResponse {
    let e = turn_error(e);
    HttpResponse::error(chat_status(&e.code), &e.code, e.message)
}

/// `POST /v1/chat`: the `agent::chat` input is the body (no event channel: nobody would read it).
async fn chat(iii: III, req: HttpRequest) -> Result<HttpResponse, WorkerError> {
    let Some(mut input) = req.body.as_object().cloned() else {
        return Err(WorkerError::invalid_input(
            "the body must be a JSON object like {\"message\": \"hi\"} (with content-type: application/json)",
        ));
    };
    input.remove("events");
    match agentos_kit::call::<Value, Value>(&iii, "agent::chat", &Value::Object(input), TURN_TIMEOUT).await {
        Ok(answer) => Ok(HttpResponse::ok(answer)),
        Err(e) => Ok(error_response(e)),
    }
}

/// The turn's first item, or its error when it failed before its first event (the route then
/// answers a plain JSON error instead of opening the stream).
async fn opening(turn: &mut mpsc::Receiver<Relayed>) -> Result<Option<Relayed>, WorkerError> {
    match turn.recv().await {
        Some(Relayed::Event(event)) if event.event == "error" => Err(event_error(&event.data)),
        Some(Relayed::Finished(Err(e))) => Err(e),
        other => Ok(other),
    }
}

/// The first item, then the rest of the turn.
async fn next(first: &mut Option<Relayed>, turn: &mut mpsc::Receiver<Relayed>) -> Option<Relayed> {
    match first.take() {
        Some(item) => Some(item),
        None => turn.recv().await,
    }
}

async fn chat_stream(iii: III, req: HttpRequest) -> Result<HttpResponse, WorkerError> {
    let input = check_chat_body(&req.body)?;
    let mut turn = start_turn(iii.clone(), Value::Object(input));
    let mut first = match opening(&mut turn).await {
        Ok(first) => first,
        Err(e) => return Ok(error_response(e)),
    };
    let mut out = open_sse(&iii, &req).await?;
    let mut terminal = false;
    let mut client = true;
    while let Some(item) = next(&mut first, &mut turn).await {
        let frame = match item {
            Relayed::Event(event) => {
                terminal |= is_terminal(&event.event);
                sse_event(&event.event, &event.data)
            }
            // The events did not get through (or not all): say how it ended anyway.
            Relayed::Finished(Ok(answer)) if !terminal => sse_event("done", &answer),
            Relayed::Finished(Err(e)) if !terminal => {
                let e = turn_error(e);
                sse_event("error", &json!({"code": e.code, "message": e.message}))
            }
            Relayed::Finished(_) => continue,
        };
        client = client && out.write(frame.as_bytes()).await.is_ok();
    }
    finish(out, client).await;
    Ok(HttpResponse::streamed())
}

async fn completions(iii: III, req: HttpRequest) -> Result<HttpResponse, WorkerError> {
    let request: CompletionsRequest = req.body_as()?;
    let input = chat_input(&request).map_err(WorkerError::invalid_input)?;
    let model = request.model.clone();
    let created = agentos_kit::clock::now_ms() / 1000;
    if !request.stream {
        let answer = match agentos_kit::call::<_, Value>(&iii, "agent::chat", &input, TURN_TIMEOUT).await {
            Ok(answer) => answer_of(&answer),
            Err(e) => return Ok(error_response(e)),
        };
        let id = if answer.session_id.is_empty() {
            "chatcmpl-agentos".to_string()
        } else {
            format!("chatcmpl-{}", answer.session_id)
        };
        return Ok(HttpResponse::ok(completion_body(&id, created, &model, &answer)));
    }
    let include_usage = request.stream_options.is_some_and(|o| o.include_usage);
    let mut turn = start_turn(iii.clone(), input);
    let mut first = match opening(&mut turn).await {
        Ok(first) => first,
        Err(e) => return Ok(error_response(e)),
    };
    let mut out = open_sse(&iii, &req).await?;
    let mut id = "chatcmpl-agentos".to_string();
    let mut ended = false;
    let mut client = true;
    while let Some(item) = next(&mut first, &mut turn).await {
        let frames: Vec<String> = match item {
            Relayed::Event(event) => match ChatEvent::from_parts(&event.event, event.data) {
                Ok(ChatEvent::Session(session)) => {
                    id = format!("chatcmpl-{}", session.session_id);
                    vec![chunk(&id, created, &model, json!({"role": "assistant", "content": ""}), None).to_string()]
                }
                Ok(ChatEvent::Token(token)) => {
                    vec![chunk(&id, created, &model, json!({"content": token.text}), None).to_string()]
                }
                Ok(ChatEvent::Done(answer)) => {
                    ended = true;
                    done_frames(&id, created, &model, &answer, include_usage)
                }
                Ok(ChatEvent::Error(error)) => {
                    ended = true;
                    vec![json!({"error": error}).to_string(), "[DONE]".to_string()]
                }
                Err(e) => {
                    tracing::debug!(event = %event.event, "a chat event this worker cannot read ({e}); not relayed");
                    continue;
                }
                // Tool calls run inside agentos; an OpenAI client only sees the text.
                Ok(_) => continue,
            },
            Relayed::Finished(Ok(answer)) if !ended => {
                done_frames(&id, created, &model, &answer_of(&answer), include_usage)
            }
            Relayed::Finished(Err(e)) if !ended => {
                let e = turn_error(e);
                vec![json!({"error": {"code": e.code, "message": e.message}}).to_string(), "[DONE]".to_string()]
            }
            Relayed::Finished(_) => continue,
        };
        for frame in frames {
            client = client && out.write(sse_data(&frame).as_bytes()).await.is_ok();
        }
    }
    finish(out, client).await;
    Ok(HttpResponse::streamed())
}

/// Streams every published event to one client until it leaves.
async fn live_events(
    iii: III,
    req: HttpRequest,
    mut events: tokio::sync::broadcast::Receiver<Event>,
) -> Result<HttpResponse, WorkerError> {
    use tokio::sync::broadcast::error::RecvError;
    let mut out = open_sse(&iii, &req).await?;
    loop {
        let frame = match tokio::time::timeout(KEEPALIVE, events.recv()).await {
            Ok(Ok(event)) => sse_event(&event.event, &event.data),
            Ok(Err(RecvError::Lagged(missed))) => sse_event("lagged", &json!({"missed": missed})),
            Ok(Err(RecvError::Closed)) => break,
            Err(_) => ": keepalive\n\n".to_string(),
        };
        if out.write(frame.as_bytes()).await.is_err() {
            // The client left.
            return Ok(HttpResponse::streamed());
        }
    }
    finish(out, true).await;
    Ok(HttpResponse::streamed())
}

/// The last chunks of a streamed completion: the finish reason, the usage when asked, `[DONE]`.
fn done_frames(id: &str, created: u64, model: &str, answer: &ChatAnswer, include_usage: bool) -> Vec<String> {
    let reason = finish_reason(&answer.finish);
    let mut frames = vec![chunk(id, created, model, json!({}), Some(reason)).to_string()];
    if include_usage {
        frames.push(usage_chunk(id, created, model, &json!(answer.usage)).to_string());
    }
    frames.push("[DONE]".to_string());
    frames
}

/// Opens the request's response channel as an event stream and sends the headers at once (a
/// comment line starts the body, so the client sees the stream open before the first token).
async fn open_sse(iii: &III, req: &HttpRequest) -> Result<ChannelWriter, WorkerError> {
    let Some(response) = &req.response else {
        return Err(WorkerError::new(
            codes::INTERNAL,
            "the engine sent no response channel; streaming needs an iii engine with streamed HTTP responses",
        ));
    };
    let mut out = ChannelWriter::open(iii.address(), response).await?;
    let headers = BTreeMap::from([
        ("content-type".to_string(), "text/event-stream; charset=utf-8".to_string()),
        ("cache-control".to_string(), "no-cache".to_string()),
        ("x-accel-buffering".to_string(), "no".to_string()),
    ]);
    out.start_http_response(200, &headers).await?;
    out.write(b": agentos\n\n").await?;
    Ok(out)
}

async fn finish(out: ChannelWriter, client: bool) {
    if !client {
        tracing::info!("the client left before the turn ended; the turn was completed and recorded");
        return;
    }
    if let Err(e) = out.close().await {
        tracing::debug!("closing the response stream: {e}");
    }
}

/// What the relay hands to the route: the turn's events in order, then its result.
enum Relayed {
    Event(Event),
    Finished(Result<Value, WorkerError>),
}

/// Starts `agent::chat` with `input` and an event channel; the events and then the call's
/// result arrive on the returned receiver.
fn start_turn(iii: III, mut input: Value) -> mpsc::Receiver<Relayed> {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        let pair = match channel::create(&iii, 256).await {
            Ok(pair) => pair,
            Err(e) => {
                let _ = tx.send(Relayed::Finished(Err(e))).await;
                return;
            }
        };
        input["events"] = json!(pair.writer);
        let caller = iii.clone();
        let mut call = tokio::spawn(async move {
            agentos_kit::call::<Value, Value>(&caller, "agent::chat", &input, TURN_TIMEOUT).await
        });
        let mut result = None;
        match ChannelReader::open(iii.address(), &pair.reader).await {
            Ok(mut reader) => loop {
                let next = if result.is_some() {
                    // The turn answered; its writer closed before that, so only leftovers remain.
                    match tokio::time::timeout(DRAIN, reader.next_event()).await {
                        Ok(next) => next,
                        Err(_) => break,
                    }
                } else {
                    tokio::select! {
                        next = reader.next_event() => next,
                        done = &mut call => {
                            result = Some(joined(done));
                            continue;
                        }
                    }
                };
                match next {
                    Ok(Some(event)) => {
                        // A gone receiver means the route gave up; keep reading so the turn is not blocked.
                        let _ = tx.send(Relayed::Event(event)).await;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!("event stream: {e}");
                        break;
                    }
                }
            },
            Err(e) => tracing::warn!("cannot read the turn's events ({e}); only its result is relayed"),
        }
        let result = match result {
            Some(r) => r,
            None => joined((&mut call).await),
        };
        let _ = tx.send(Relayed::Finished(result)).await;
    });
    rx
}

fn joined(done: Result<Result<Value, WorkerError>, tokio::task::JoinError>) -> Result<Value, WorkerError> {
    done.unwrap_or_else(|e| Err(WorkerError::internal(format!("the turn task failed: {e}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_body_is_checked_before_streaming() {
        assert!(check_chat_body(&json!({"message": "hi", "hand": "coder"})).is_ok());
        assert!(check_chat_body(&json!("hi")).unwrap_err().message.contains("JSON object"));
        assert!(check_chat_body(&json!({"message": ""})).unwrap_err().message.contains("non-empty"));
        let err = check_chat_body(&json!({"message": "hi", "events": {}})).unwrap_err();
        assert!(err.message.contains("unknown field \"events\""), "{err}");
    }
}
