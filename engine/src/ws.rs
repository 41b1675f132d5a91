//! The worker socket (`ws://host:49134/`) and the telemetry socket (`/otel`); the same port
//! serves channel sockets (`/ws/channels/{id}`, see [`crate::channels`]).
//!
//! Per connection: senders write to the socket under one async lock (see
//! [`crate::engine::Outbound`]), and one reader handles frames in order. Invocations are
//! spawned so they run concurrently. A frame that does not parse is logged and dropped (and
//! answered when it is an invoke whose id can be read); the connection stays up. Frames over
//! the configured limit get a `frame_too_large` answer.

use std::net::SocketAddr;
use std::sync::Arc;

use agentos_protocol::{ErrorBody, Message, TriggerAction, codes};
use axum::Router;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::engine::{CallMeta, Engine, FunctionEntry, Target, WorkerConn, WorkerId};
use crate::rbac::{AuthResult, ListenerSecurity, Session};
use crate::trace::now_ms;

/// The router of a worker-socket listener with these security settings.
pub fn router(engine: Engine, security: Arc<ListenerSecurity>) -> Router {
    Router::new()
        .route("/", get(worker_upgrade))
        .route("/otel", get(otel_upgrade))
        .route("/ws/channels/{channel_id}", get(crate::channels::upgrade))
        .with_state(Listener { engine, security })
}

/// A listener's state: the engine and the listener's own rules.
#[derive(Clone)]
pub struct Listener {
    pub engine: Engine,
    pub security: Arc<ListenerSecurity>,
}

impl axum::extract::FromRef<Listener> for Engine {
    fn from_ref(listener: &Listener) -> Engine {
        listener.engine.clone()
    }
}

/// Checks a handshake before the upgrade: its `Origin` against the listener's allow-list (403),
/// then the listener's auth function (401 when it refuses or fails). Nothing is read from a
/// socket that did not pass.
pub async fn authenticate(
    engine: &Engine,
    security: &Arc<ListenerSecurity>,
    headers: &HeaderMap,
    query: Option<&str>,
    addr: SocketAddr,
) -> Result<Session, Response> {
    let origin = headers.get(axum::http::header::ORIGIN).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if !security.origin_allowed(origin.as_deref()) {
        tracing::warn!(%addr, origin = origin.as_deref().unwrap_or_default(), "worker handshake refused: origin not allowed");
        let message = format!(
            "origin {} may not connect to the worker socket; add it to iii-worker-manager.allowed_origins",
            origin.unwrap_or_default()
        );
        return Err(refusal(StatusCode::FORBIDDEN, "origin_not_allowed", message));
    }
    let Some(auth_fn) = security.rbac.as_ref().and_then(|r| r.auth_function_id.clone()) else {
        return Ok(Session { security: security.clone(), auth: AuthResult::open() });
    };
    let input = crate::rbac::auth_input(headers, query, &addr.ip().to_string());
    let answer = engine.call_quiet(&auth_fn, input, CallMeta::default()).await;
    let refused = |message: String| {
        tracing::warn!(%addr, "worker handshake refused: {message}");
        refusal(StatusCode::UNAUTHORIZED, "AUTH_ERROR", message)
    };
    match answer {
        Ok(Some(value)) => match serde_json::from_value::<AuthResult>(value) {
            Ok(auth) => Ok(Session { security: security.clone(), auth }),
            Err(e) => Err(refused(format!("the auth function {auth_fn} answered an invalid result: {e}"))),
        },
        Ok(None) => Err(refused(format!("the auth function {auth_fn} returned no result"))),
        Err(e) => Err(refused(e.message)),
    }
}

fn refusal(status: StatusCode, code: &str, message: String) -> Response {
    let body = agentos_protocol::error::ErrorResponse::new(code, message);
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
    }
    response
}

async fn worker_upgrade(
    State(listener): State<Listener>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let Listener { engine, security } = listener;
    let session = match authenticate(&engine, &security, &headers, uri.query(), addr).await {
        Ok(session) => Arc::new(session),
        Err(response) => return response,
    };
    // Let tungstenite accept somewhat more than the limit so that an oversized frame can be
    // answered with a clear error instead of a dropped connection; far larger frames still
    // close the socket with 1009 (message too big).
    let limit = engine.config().max_frame_bytes;
    let hard_cap = limit.saturating_mul(2).max(limit + 1024 * 1024);
    ws.max_message_size(hard_cap)
        .max_frame_size(hard_cap)
        .on_upgrade(move |socket| serve_worker(engine, socket, addr, session))
}

async fn otel_upgrade(
    State(listener): State<Listener>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    uri: Uri,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // The same gate as worker connections, so telemetry cannot bypass authentication.
    if let Err(response) = authenticate(&listener.engine, &listener.security, &headers, uri.query(), addr).await {
        return response;
    }
    let engine = listener.engine;
    ws.on_upgrade(move |socket| serve_otel(engine, socket))
}

async fn serve_worker(engine: Engine, socket: WebSocket, addr: SocketAddr, session: Arc<Session>) {
    let worker_id = Uuid::new_v4();
    let (sink, mut stream) = socket.split();
    let tx: crate::engine::Outbound = std::sync::Arc::new(tokio::sync::Mutex::new(sink));

    engine.add_worker(WorkerConn {
        id: worker_id,
        tx: tx.clone(),
        ip_address: addr.ip().to_string(),
        connected_at_ms: now_ms(),
        metadata: json!({}),
        session: session.clone(),
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
            Ok(msg) => handle(&engine, worker_id, &session, msg).await,
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
async fn handle(engine: &Engine, worker_id: WorkerId, session: &Session, msg: Message) {
    log_frame(worker_id, &msg);
    match msg {
        Message::RegisterFunction { id, description, request_format, response_format, metadata, invocation } => {
            if invocation.is_some() {
                tracing::error!(%worker_id, function_id = %id,
                    "HTTP-invoked functions need the iii-http-functions worker, which this engine does not provide; registration dropped");
                return;
            }
            let Some((id, description, metadata)) =
                vet_function(engine, worker_id, session, id, description, metadata).await
            else {
                return;
            };
            let entry = FunctionEntry {
                target: Target::Worker(worker_id),
                description,
                request_format,
                response_format,
                metadata,
            };
            if let Err(reason) = engine.register_worker_function(worker_id, id.clone(), entry) {
                refuse_registration(worker_id, "function", &id, &reason);
            }
        }
        Message::UnregisterFunction { id } => {
            engine.unregister_worker_function(worker_id, &session.registered_id(&id));
        }
        Message::RegisterTriggerType { id, description, trigger_request_format, call_request_format } => {
            let Some((id, description)) = vet_trigger_type(engine, worker_id, session, id, description).await else {
                return;
            };
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
            let Some(trigger) =
                vet_trigger(engine, worker_id, session, id, trigger_type, function_id, config, &metadata).await
            else {
                return;
            };
            let (id, trigger_type, function_id, config) = trigger;
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
            let call = Invocation { invocation_id, function_id, data, traceparent, baggage, action };
            invoke_from_worker(engine, worker_id, session, call).await;
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

/// A refused registration: the protocol has no answer for it, so the engine log says why.
fn refuse_registration(worker_id: WorkerId, what: &str, id: &str, reason: &str) {
    tracing::warn!(%worker_id, "{what} registration refused: {id}: {reason}");
}

/// Asks the session's rules and its listener's hook whether a function may be registered;
/// returns the (possibly rewritten, prefixed) id, description and metadata.
async fn vet_function(
    engine: &Engine,
    worker_id: WorkerId,
    session: &Session,
    id: String,
    description: Option<String>,
    metadata: Option<Value>,
) -> Option<(String, Option<String>, Option<Value>)> {
    if !session.auth.allow_function_registration {
        refuse_registration(worker_id, "function", &id, "this connection may not register functions");
        return None;
    }
    let (mut id, mut description, mut metadata) = (id, description, metadata);
    if let Some(hook) = session.hook(|r| r.on_function_registration_function_id.as_ref()) {
        let input = json!({ "function_id": id, "description": description, "metadata": metadata, "context": session.auth.context });
        let answer = ask_hook(engine, worker_id, &hook, input, "function", &id).await?;
        if let Some(v) = answer.get("function_id").and_then(Value::as_str) {
            id = v.to_string();
        }
        if let Some(v) = answer.get("description").and_then(Value::as_str) {
            description = Some(v.to_string());
        }
        if let Some(v) = answer.get("metadata") {
            metadata = Some(v.clone());
        }
    }
    Some((session.registered_id(&id), description, metadata))
}

async fn vet_trigger_type(
    engine: &Engine,
    worker_id: WorkerId,
    session: &Session,
    id: String,
    description: String,
) -> Option<(String, String)> {
    if !session.auth.allow_trigger_type_registration {
        refuse_registration(worker_id, "trigger type", &id, "this connection may not register trigger types");
        return None;
    }
    let (mut id, mut description) = (id, description);
    if let Some(hook) = session.hook(|r| r.on_trigger_type_registration_function_id.as_ref()) {
        let input = json!({ "trigger_type_id": id, "description": description, "context": session.auth.context });
        let answer = ask_hook(engine, worker_id, &hook, input, "trigger type", &id).await?;
        if let Some(v) = answer.get("trigger_type_id").and_then(Value::as_str) {
            id = v.to_string();
        }
        if let Some(v) = answer.get("description").and_then(Value::as_str) {
            description = v.to_string();
        }
    }
    Some((id, description))
}

#[allow(clippy::too_many_arguments)]
async fn vet_trigger(
    engine: &Engine,
    worker_id: WorkerId,
    session: &Session,
    id: String,
    trigger_type: String,
    function_id: String,
    config: Value,
    metadata: &Option<Value>,
) -> Option<(String, String, String, Value)> {
    if let Some(allowed) = &session.auth.allowed_trigger_types
        && !allowed.contains(&trigger_type)
    {
        refuse_registration(
            worker_id,
            "trigger",
            &id,
            &format!("trigger type {trigger_type} is not allowed for this connection"),
        );
        return None;
    }
    let (mut id, mut trigger_type, mut function_id, mut config) = (id, trigger_type, function_id, config);
    if let Some(hook) = session.hook(|r| r.on_trigger_registration_function_id.as_ref()) {
        let input = json!({
            "trigger_id": id, "trigger_type": trigger_type, "function_id": function_id,
            "config": config, "metadata": metadata, "context": session.auth.context,
        });
        let answer = ask_hook(engine, worker_id, &hook, input, "trigger", &id).await?;
        if let Some(v) = answer.get("trigger_id").and_then(Value::as_str) {
            id = v.to_string();
        }
        if let Some(v) = answer.get("trigger_type").and_then(Value::as_str) {
            trigger_type = v.to_string();
        }
        if let Some(v) = answer.get("function_id").and_then(Value::as_str) {
            function_id = v.to_string();
        }
        if let Some(v) = answer.get("config") {
            config = v.clone();
        }
    }
    if let Err(reason) = crate::triggers::may_take(engine, worker_id, &id, &trigger_type, &config) {
        refuse_registration(worker_id, "trigger", &id, &reason);
        return None;
    }
    Some((id, trigger_type, session.registered_id(&function_id), config))
}

/// Calls a registration hook; an object answer allows the registration, anything else refuses it.
async fn ask_hook(
    engine: &Engine,
    worker_id: WorkerId,
    hook: &str,
    input: Value,
    what: &str,
    id: &str,
) -> Option<Value> {
    let meta = CallMeta { caller: Some(worker_id), ..CallMeta::default() };
    match engine.call_quiet(hook, input, meta).await {
        Ok(Some(v)) if v.is_object() => Some(v),
        Ok(other) => {
            refuse_registration(worker_id, what, id, &format!("{hook} answered {other:?}"));
            None
        }
        Err(e) => {
            refuse_registration(worker_id, what, id, &format!("{hook}: {}: {}", e.code, e.message));
            None
        }
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

/// One `invokefunction` frame from a worker.
struct Invocation {
    invocation_id: Option<Uuid>,
    function_id: String,
    data: Value,
    traceparent: Option<String>,
    baggage: Option<String>,
    action: Option<TriggerAction>,
}

/// Runs a worker's invocation: refused with `FORBIDDEN` when its session may not call the
/// function, handed to the listener's middleware when there is one, else dispatched. A call
/// with an id is answered with an `invocationresult`; `void` calls are not.
async fn invoke_from_worker(engine: &Engine, worker_id: WorkerId, session: &Session, call: Invocation) {
    let Invocation { invocation_id, function_id, data, traceparent, baggage, action } = call;
    let answer = {
        let function_id = function_id.clone();
        move |result: Result<Option<Value>, ErrorBody>, traceparent: Option<String>, baggage: Option<String>| {
            let (result, error) = match result {
                Ok(v) => (v.filter(|v| !v.is_null()), None),
                Err(e) => (None, Some(e)),
            };
            invocation_id.map(|invocation_id| Message::InvocationResult {
                invocation_id,
                function_id: function_id.clone(),
                result,
                error,
                traceparent,
                baggage,
            })
        }
    };
    // Metadata is looked up (and copied) only when a metadata filter will read it.
    let metadata = if session.reads_metadata() { engine.function_metadata(&function_id) } else { None };
    if !session.may_call(&function_id, metadata.as_ref()) {
        tracing::warn!(%worker_id, %function_id, "call refused: {}", session.refusal(&function_id));
        let error = ErrorBody::new("FORBIDDEN", session.refusal(&function_id));
        if let Some(reply) = answer(Err(error), traceparent, baggage) {
            let _ = engine.send_to(worker_id, &reply).await;
        }
        return;
    }
    let meta = CallMeta { traceparent: traceparent.clone(), baggage: baggage.clone(), caller: Some(worker_id) };
    if let Some(middleware) = session.middleware_for(&function_id).map(str::to_string) {
        let input =
            json!({ "function_id": function_id, "payload": data, "action": action, "context": session.auth.context });
        let engine = engine.clone();
        tokio::spawn(async move {
            let result = engine.call_quiet(&middleware, input, meta).await;
            if let Some(reply) = answer(result, traceparent, baggage) {
                let _ = engine.send_to(worker_id, &reply).await;
            }
        });
        return;
    }
    match action {
        // Enqueues answer at once, in frame order, so a worker's enqueues keep their order.
        Some(TriggerAction::Enqueue { .. }) => {
            let result = engine.dispatch(&function_id, data, action, meta).await;
            if let Some(reply) = answer(result, traceparent, baggage) {
                let _ = engine.send_to(worker_id, &reply).await;
            }
        }
        Some(TriggerAction::Void) => {
            let _ = engine.dispatch(&function_id, data, action, meta).await;
        }
        None => {
            let engine = engine.clone();
            tokio::spawn(async move {
                let mut data = data;
                crate::engine::inject_caller(&mut data, Some(worker_id));
                let opts = crate::engine::CallOptions {
                    traceparent,
                    baggage: baggage.clone(),
                    caller: Some(worker_id),
                    invocation_id,
                    deadline: None,
                };
                let (outcome, span_header) = engine.call(&function_id, data, opts).await;
                // A call without an id wants no answer (the SDKs never do this without `void`).
                if let Some(reply) = answer(outcome, Some(span_header), baggage) {
                    let _ = engine.send_to(worker_id, &reply).await;
                }
            });
        }
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
