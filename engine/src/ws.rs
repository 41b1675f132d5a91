//! The worker socket (`ws://host:49134/`) and the telemetry socket (`/otel`); the same port
//! serves channel sockets (`/ws/channels/{id}`, see [`crate::channels`]).
//!
//! Per connection: senders write to the socket under one async lock (see
//! [`crate::engine::Outbound`]), and one reader handles frames in order. Invocations are
//! spawned so they run concurrently. A frame that does not parse is logged and dropped (and
//! answered when it is an invoke whose id can be read); the connection stays up. Frames over
//! the configured limit get a `frame_too_large` answer.

use std::net::SocketAddr;

use agentos_protocol::{ErrorBody, Message, TriggerAction, codes};
use axum::Router;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::engine::{CallOptions, Engine, FunctionEntry, Target, WorkerConn, WorkerId};
use crate::trace::now_ms;

/// The router of the worker port.
pub fn router(engine: Engine) -> Router {
    Router::new()
        .route("/", get(worker_upgrade))
        .route("/otel", get(otel_upgrade))
        .route("/ws/channels/{channel_id}", get(crate::channels::upgrade))
        .with_state(engine)
}

async fn worker_upgrade(
    State(engine): State<Engine>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    // Let tungstenite accept somewhat more than the limit so that an oversized frame can be
    // answered with a clear error instead of a dropped connection; far larger frames still
    // close the socket with 1009 (message too big).
    let limit = engine.config().max_frame_bytes;
    let hard_cap = limit.saturating_mul(2).max(limit + 1024 * 1024);
    ws.max_message_size(hard_cap).max_frame_size(hard_cap).on_upgrade(move |socket| serve_worker(engine, socket, addr))
}

async fn otel_upgrade(State(engine): State<Engine>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| serve_otel(engine, socket))
}

async fn serve_worker(engine: Engine, socket: WebSocket, addr: SocketAddr) {
    let worker_id = Uuid::new_v4();
    let (sink, mut stream) = socket.split();
    let tx: crate::engine::Outbound = std::sync::Arc::new(tokio::sync::Mutex::new(sink));

    engine.add_worker(WorkerConn {
        id: worker_id,
        tx: tx.clone(),
        ip_address: addr.ip().to_string(),
        connected_at_ms: now_ms(),
        metadata: json!({}),
    });
    // Clean-up runs when this guard drops: on a normal return and also if anything below
    // panics, so a crashed connection task never leaves routes or waiting calls behind.
    let _cleanup = CleanupOnDrop { engine: engine.clone(), worker_id };
    tracing::info!(%worker_id, %addr, "worker connected");
    let hello = Message::WorkerRegistered { worker_id: worker_id.to_string() };
    let _ = engine.send_to(worker_id, &hello).await;
    crate::builtins::engine_fns::fire_workers_available(&engine, "worker_connected", worker_id);

    let limit = engine.config().max_frame_bytes;
    let mut shutdown = engine.inner.shutdown.subscribe();
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let Some(frame) = frame else { break };
        let text = match frame {
            Ok(WsMessage::Text(text)) => text.to_string(),
            Ok(WsMessage::Binary(bytes)) => {
                if crate::telemetry::is_telemetry_frame(&bytes) {
                    crate::telemetry::ingest(&engine, &bytes);
                    continue;
                }
                match String::from_utf8(bytes.to_vec()) {
                    Ok(text) => text,
                    Err(_) => {
                        tracing::warn!(%worker_id, "binary frame that is neither telemetry nor UTF-8 JSON; dropped");
                        continue;
                    }
                }
            }
            // tungstenite answers pings itself; pongs and closes need nothing from us.
            Ok(WsMessage::Ping(_) | WsMessage::Pong(_)) => continue,
            Ok(WsMessage::Close(_)) => break,
            Err(err) => {
                tracing::info!(%worker_id, "worker socket error: {err}");
                break;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        if text.len() > limit {
            reject_oversized(&engine, worker_id, &text, limit).await;
            continue;
        }
        match serde_json::from_str::<Message>(&text) {
            Ok(msg) => handle(&engine, worker_id, msg).await,
            Err(err) => answer_malformed(&engine, worker_id, &text, &err).await,
        }
    }

    tracing::info!(%worker_id, "worker disconnected");
    let _ = tx.lock().await.close().await;
}

struct CleanupOnDrop {
    engine: Engine,
    worker_id: WorkerId,
}

impl Drop for CleanupOnDrop {
    fn drop(&mut self) {
        self.engine.remove_worker(self.worker_id);
    }
}

/// Answers an oversized frame: an invoke with a readable id gets an error result.
async fn reject_oversized(engine: &Engine, worker_id: WorkerId, text: &str, limit: usize) {
    let message = format!(
        "frame of {} bytes exceeds the engine's limit of {limit} bytes (iii-worker-manager.max_frame_bytes)",
        text.len()
    );
    tracing::warn!(%worker_id, "{message}");
    if let Some((id, function_id)) = invocation_of(text) {
        let _ = engine.send_to(worker_id, &error_result(id, function_id, codes::FRAME_TOO_LARGE, message)).await;
    }
}

/// A frame that did not decode: logged and dropped; an invoke whose id can be read is answered
/// so its caller does not wait for a timeout.
async fn answer_malformed(engine: &Engine, worker_id: WorkerId, text: &str, err: &serde_json::Error) {
    let kind = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    tracing::warn!(%worker_id, frame_type = %kind, "json decode error: {err}; frame dropped");
    if kind == "invokefunction"
        && let Some((id, function_id)) = invocation_of(text)
    {
        let reply = error_result(id, function_id, "invalid_frame", format!("malformed invokefunction frame: {err}"));
        let _ = engine.send_to(worker_id, &reply).await;
    }
}

fn invocation_of(text: &str) -> Option<(Uuid, String)> {
    let value: Value = serde_json::from_str(text).ok()?;
    if value.get("type").and_then(Value::as_str) != Some("invokefunction") {
        return None;
    }
    let id = value.get("invocation_id")?.as_str()?.parse().ok()?;
    let function_id = value.get("function_id").and_then(Value::as_str).unwrap_or_default().to_string();
    Some((id, function_id))
}

fn error_result(invocation_id: Uuid, function_id: String, code: &str, message: String) -> Message {
    Message::InvocationResult {
        invocation_id,
        function_id,
        result: None,
        error: Some(ErrorBody::new(code, message)),
        traceparent: None,
        baggage: None,
    }
}

/// Handles one decoded frame from a worker.
async fn handle(engine: &Engine, worker_id: WorkerId, msg: Message) {
    log_frame(worker_id, &msg);
    match msg {
        Message::RegisterFunction { id, description, request_format, response_format, metadata, invocation } => {
            if invocation.is_some() {
                tracing::error!(%worker_id, function_id = %id,
                    "HTTP-invoked functions need the iii-http-functions worker, which this engine does not provide; registration dropped");
                return;
            }
            engine.register_worker_function(
                worker_id,
                id,
                FunctionEntry {
                    target: Target::Worker(worker_id),
                    description,
                    request_format,
                    response_format,
                    metadata,
                },
            );
        }
        Message::UnregisterFunction { id } => {
            engine.unregister_worker_function(worker_id, &id);
        }
        Message::RegisterTriggerType { id, description, trigger_request_format, call_request_format } => {
            crate::triggers::register_type(
                engine,
                worker_id,
                id,
                description,
                trigger_request_format,
                call_request_format,
            )
            .await;
        }
        Message::UnregisterTriggerType { id } => crate::triggers::unregister_type(engine, worker_id, &id),
        Message::RegisterTrigger { id, trigger_type, function_id, config, metadata } => {
            crate::triggers::register(engine, Some(worker_id), id, trigger_type, function_id, config, metadata).await;
        }
        Message::UnregisterTrigger { id, .. } => crate::triggers::unregister(engine, Some(worker_id), &id).await,
        Message::TriggerRegistrationResult { id, error, .. } => match error {
            Some(e) => {
                tracing::warn!(%worker_id, trigger_id = %id, "trigger provider refused trigger: {}: {}", e.code, e.message)
            }
            None => tracing::debug!(%worker_id, trigger_id = %id, "trigger provider accepted trigger"),
        },
        Message::InvokeFunction { invocation_id, function_id, data, traceparent, baggage, action } => {
            invoke_from_worker(engine, worker_id, invocation_id, function_id, data, traceparent, baggage, action).await;
        }
        Message::InvocationResult { invocation_id, result, error, traceparent, .. } => {
            let outcome = match error {
                Some(e) => Err(e),
                None => Ok(result.filter(|v| !v.is_null())),
            };
            engine.complete(worker_id, invocation_id, outcome, traceparent);
        }
        Message::RegisterService { id, .. } => tracing::debug!(%worker_id, service_id = %id, "service registered"),
        Message::Ping => {
            let _ = engine.send_to(worker_id, &Message::Pong).await;
        }
        Message::Pong | Message::WorkerRegistered { .. } | Message::Reattach { .. } => {}
        _ => tracing::debug!(%worker_id, "frame type not handled by this engine"),
    }
}

/// One debug line per frame: its type and the id it is about (`AGENTOS_LOG=debug`).
fn log_frame(worker_id: WorkerId, msg: &Message) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let (kind, id) = match msg {
        Message::RegisterFunction { id, .. } => ("registerfunction", id.clone()),
        Message::UnregisterFunction { id } => ("unregisterfunction", id.clone()),
        Message::RegisterTriggerType { id, .. } => ("registertriggertype", id.clone()),
        Message::UnregisterTriggerType { id } => ("unregistertriggertype", id.clone()),
        Message::RegisterTrigger { id, trigger_type, .. } => ("registertrigger", format!("{id} ({trigger_type})")),
        Message::UnregisterTrigger { id, .. } => ("unregistertrigger", id.clone()),
        Message::TriggerRegistrationResult { id, .. } => ("triggerregistrationresult", id.clone()),
        Message::InvokeFunction { function_id, invocation_id, .. } => {
            ("invokefunction", format!("{function_id} {}", invocation_id.map(|i| i.to_string()).unwrap_or_default()))
        }
        Message::InvocationResult { function_id, invocation_id, .. } => {
            ("invocationresult", format!("{function_id} {invocation_id}"))
        }
        Message::RegisterService { id, .. } => ("registerservice", id.clone()),
        Message::Ping => ("ping", String::new()),
        Message::Pong => ("pong", String::new()),
        Message::WorkerRegistered { worker_id } => ("workerregistered", worker_id.clone()),
        Message::Reattach { .. } => ("reattach", String::new()),
        _ => ("other", String::new()),
    };
    tracing::debug!(%worker_id, frame = kind, "{id}");
}

#[allow(clippy::too_many_arguments)]
async fn invoke_from_worker(
    engine: &Engine,
    worker_id: WorkerId,
    invocation_id: Option<Uuid>,
    function_id: String,
    mut data: Value,
    traceparent: Option<String>,
    baggage: Option<String>,
    action: Option<TriggerAction>,
) {
    match action {
        Some(TriggerAction::Enqueue { queue }) => {
            let outcome =
                crate::queue::enqueue(engine, &queue, &function_id, data, traceparent.clone(), baggage.clone());
            if let Some(id) = invocation_id {
                let (result, error) = match outcome {
                    Ok(receipt) => (Some(json!({ "messageReceiptId": receipt })), None),
                    Err(e) => (None, Some(e)),
                };
                let reply =
                    Message::InvocationResult { invocation_id: id, function_id, result, error, traceparent, baggage };
                let _ = engine.send_to(worker_id, &reply).await;
            }
        }
        Some(TriggerAction::Void) => {
            inject_caller(&mut data, worker_id);
            let engine = engine.clone();
            tokio::spawn(async move {
                let opts = CallOptions { traceparent, baggage, caller: Some(worker_id), ..CallOptions::default() };
                if let (Err(e), _) = engine.call(&function_id, data, opts).await {
                    tracing::warn!(%worker_id, %function_id, "void call failed: {}: {}", e.code, e.message);
                }
            });
        }
        None => {
            inject_caller(&mut data, worker_id);
            let engine = engine.clone();
            tokio::spawn(async move {
                let opts = CallOptions {
                    traceparent,
                    baggage: baggage.clone(),
                    caller: Some(worker_id),
                    invocation_id,
                    deadline: None,
                };
                let (outcome, span_header) = engine.call(&function_id, data, opts).await;
                // A call without an id wants no answer (the SDKs never do this without `void`).
                let Some(invocation_id) = invocation_id else { return };
                let (result, error) = match outcome {
                    Ok(v) => (v.filter(|v| !v.is_null()), None),
                    Err(e) => (None, Some(e)),
                };
                let reply = Message::InvocationResult {
                    invocation_id,
                    function_id,
                    result,
                    error,
                    traceparent: Some(span_header),
                    baggage,
                };
                let _ = engine.send_to(worker_id, &reply).await;
            });
        }
    }
}

/// Adds `_caller_worker_id` to object payloads from a worker socket, as the real engine does.
fn inject_caller(data: &mut Value, worker_id: WorkerId) {
    if let Some(obj) = data.as_object_mut() {
        obj.insert("_caller_worker_id".to_string(), Value::String(worker_id.to_string()));
    }
}

async fn serve_otel(engine: Engine, mut socket: WebSocket) {
    while let Some(Ok(frame)) = socket.next().await {
        match frame {
            WsMessage::Binary(bytes) => crate::telemetry::ingest(&engine, &bytes),
            WsMessage::Close(_) => break,
            // Text frames on /otel are ignored, as in the real engine.
            _ => {}
        }
    }
}
