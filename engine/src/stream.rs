//! Streams: the `stream::*` functions, `stream` triggers, and the browser-facing stream socket
//! on the stream port (3112).
//!
//! Items live in the store under (stream, group, item). Every change is pushed to the clients
//! that joined the matching (stream, group[, item]) and fires the matching `stream` triggers.
//! A worker may take over one stream's storage by registering `stream::<op>(<name>)`
//! (the Node/Python `createStream` hook); the engine then calls that function instead.
//! An item whose JSON is over `iii-stream.max_value_bytes` is refused with `payload_too_large`
//! and nothing changes.

use std::collections::HashMap;
use std::sync::Mutex;

use agentos_protocol::ErrorBody;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::builtins::store_error;
use crate::engine::{CallMeta, Engine, lock};
use crate::trace::now_ms;
use crate::triggers;
use crate::update_ops::apply_ops;

/// The config key of the largest item `stream::set` and `stream::update` write.
const LIMIT_KEY: &str = "iii-stream.max_value_bytes";

/// Browser clients subscribed to stream groups or items.
#[derive(Default)]
pub struct StreamHub {
    subscriptions: Mutex<HashMap<(Uuid, String), Subscription>>,
}

struct Subscription {
    stream_name: String,
    group_id: String,
    item_id: Option<String>,
    tx: mpsc::UnboundedSender<String>,
}

/// Pushes an event to every client joined to its (stream, group) and, for item subscriptions,
/// the item.
fn push(engine: &Engine, stream_name: &str, group_id: &str, item_id: Option<&str>, event: &Value) {
    let message = json!({
        "type": "stream", "timestamp": now_ms(), "streamName": stream_name, "groupId": group_id,
        "id": item_id, "event": event,
    })
    .to_string();
    for sub in lock(&engine.inner.streams.subscriptions).values() {
        let item_matches = sub.item_id.is_none() || sub.item_id.as_deref() == item_id;
        if sub.stream_name == stream_name && sub.group_id == group_id && item_matches {
            let _ = sub.tx.send(message.clone());
        }
    }
}

/// Fires `stream` triggers and pushes to clients.
fn emit(
    engine: &Engine,
    stream_name: &str,
    group_id: &str,
    item_id: Option<&str>,
    event: Value,
    traceparent: Option<String>,
) {
    push(engine, stream_name, group_id, item_id, &event);
    let targets: Vec<_> = triggers::of_type(engine, "stream")
        .into_iter()
        .filter(|t| {
            let c = &t.config;
            let field = |k: &str| c.get(k).and_then(Value::as_str);
            field("stream_name") == Some(stream_name)
                && field("group_id").is_none_or(|g| g == group_id)
                && field("item_id").is_none_or(|i| Some(i) == item_id)
        })
        .collect();
    let payload = json!({
        "type": "stream", "timestamp": now_ms(), "streamName": stream_name, "groupId": group_id,
        "id": item_id, "event": event,
    });
    triggers::fire_sequential(engine, targets, payload, traceparent);
}

#[derive(Deserialize)]
struct ItemInput {
    stream_name: String,
    group_id: String,
    item_id: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    ops: Vec<Value>,
}

#[derive(Deserialize)]
struct GroupInput {
    stream_name: String,
    #[serde(default)]
    group_id: String,
}

#[derive(Deserialize)]
struct SendInput {
    stream_name: String,
    group_id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    id: Option<String>,
}

fn err(code: &str, e: impl std::fmt::Display) -> ErrorBody {
    ErrorBody::new(code, e.to_string())
}

/// Calls a worker's `stream::<op>(<name>)` override when one is registered.
async fn overridden(
    engine: &Engine,
    op: &str,
    stream_name: &str,
    input: &Value,
    meta: &CallMeta,
) -> Option<Result<Value, ErrorBody>> {
    let id = format!("stream::{op}({stream_name})");
    if !engine.has_function(&id) {
        return None;
    }
    let opts = crate::engine::CallOptions { traceparent: meta.traceparent.clone(), ..Default::default() };
    Some(engine.call(&id, input.clone(), opts).await.0.map(|v| v.unwrap_or(Value::Null)))
}

/// Registers `stream::*`.
pub fn register_builtins(engine: &Engine) {
    engine.register_typed("stream::get", "Get a stream item", |engine, input: Value, meta| async move {
        let i: ItemInput = parse(&input)?;
        if let Some(r) = overridden(&engine, "get", &i.stream_name, &input, &meta).await {
            return r;
        }
        let v = engine
            .store()
            .stream_get(&i.stream_name, &i.group_id, &i.item_id)
            .map_err(|e| err("STREAM_GET_ERROR", e))?;
        Ok(v.unwrap_or(Value::Null))
    });
    engine.register_typed("stream::set", "Set a stream item", |engine, input: Value, meta| async move {
        let i: ItemInput = parse(&input)?;
        if let Some(r) = overridden(&engine, "set", &i.stream_name, &input, &meta).await {
            return r;
        }
        let data = i.data.clone();
        let (old, _, ()) = engine
            .store()
            .stream_update(&i.stream_name, &i.group_id, &i.item_id, engine.config().stream_max_value_bytes, |_| {
                (Some(data), ())
            })
            .map_err(|e| store_error(e, "STREAM_SET_ERROR", LIMIT_KEY))?;
        let kind = if old.is_some() { "update" } else { "create" };
        emit(
            &engine,
            &i.stream_name,
            &i.group_id,
            Some(&i.item_id),
            json!({"type": kind, "data": i.data}),
            meta.traceparent,
        );
        Ok(json!({ "old_value": old, "new_value": i.data }))
    });
    engine.register_typed(
        "stream::update",
        "Apply update ops to a stream item",
        |engine, input: Value, meta| async move {
            let i: ItemInput = parse(&input)?;
            if let Some(r) = overridden(&engine, "update", &i.stream_name, &input, &meta).await {
                return r;
            }
            let ops = i.ops.clone();
            let (old, new, errors) = engine
                .store()
                .stream_update(&i.stream_name, &i.group_id, &i.item_id, engine.config().stream_max_value_bytes, |old| {
                    let (new, errors) = apply_ops(old, &ops);
                    (Some(new), errors)
                })
                .map_err(|e| store_error(e, "STREAM_UPDATE_ERROR", LIMIT_KEY))?;
            let kind = if old.is_some() { "update" } else { "create" };
            emit(
                &engine,
                &i.stream_name,
                &i.group_id,
                Some(&i.item_id),
                json!({"type": kind, "data": new}),
                meta.traceparent,
            );
            Ok(crate::update_ops::update_answer(old.as_ref(), new.as_ref().unwrap_or(&Value::Null), &errors))
        },
    );
    engine.register_typed("stream::delete", "Delete a stream item", |engine, input: Value, meta| async move {
        let i: ItemInput = parse(&input)?;
        if let Some(r) = overridden(&engine, "delete", &i.stream_name, &input, &meta).await {
            return r;
        }
        let (old, _, ()) = engine
            .store()
            .stream_update(&i.stream_name, &i.group_id, &i.item_id, usize::MAX, |_| (None, ()))
            .map_err(|e| err("STREAM_DELETE_ERROR", e))?;
        if let Some(old) = &old {
            emit(
                &engine,
                &i.stream_name,
                &i.group_id,
                Some(&i.item_id),
                json!({"type": "delete", "data": old}),
                meta.traceparent,
            );
        }
        Ok(json!({ "old_value": old }))
    });
    engine.register_typed(
        "stream::list",
        "List the items of a stream group",
        |engine, input: Value, meta| async move {
            let g: GroupInput = parse(&input)?;
            if let Some(r) = overridden(&engine, "list", &g.stream_name, &input, &meta).await {
                return r;
            }
            let items = engine
                .store()
                .stream_list(&g.stream_name, &g.group_id)
                .map_err(|e| err("STREAM_GET_GROUP_ERROR", e))?;
            Ok(Value::Array(items.into_iter().map(|(_, v)| v).collect()))
        },
    );
    engine.register_typed(
        "stream::list_groups",
        "List the groups of a stream",
        |engine, input: Value, meta| async move {
            let g: GroupInput = parse(&input)?;
            if let Some(r) = overridden(&engine, "list_groups", &g.stream_name, &input, &meta).await {
                return r;
            }
            let groups =
                engine.store().stream_groups(&g.stream_name).map_err(|e| err("STREAM_LIST_GROUPS_ERROR", e))?;
            Ok(json!(groups))
        },
    );
    engine.register_typed("stream::list_all", "List every stream and its groups", |engine, _: Value, _| async move {
        let all = engine.store().stream_all().map_err(|e| err("STREAM_LIST_ALL_ERROR", e))?;
        let count = all.len();
        let streams: Vec<Value> = all.into_iter().map(|(id, groups)| json!({"id": id, "groups": groups})).collect();
        Ok(json!({ "stream": streams, "count": count }))
    });
    engine.register_typed(
        "stream::send",
        "Send a custom event to a stream group",
        |engine, input: SendInput, meta| async move {
            let event = json!({ "type": "event", "event": { "type": input.kind, "data": input.data } });
            emit(&engine, &input.stream_name, &input.group_id, input.id.as_deref(), event, meta.traceparent);
            Ok(Value::Null)
        },
    );
}

fn parse<T: serde::de::DeserializeOwned>(input: &Value) -> Result<T, ErrorBody> {
    serde_json::from_value(input.clone()).map_err(|e| {
        ErrorBody::new(agentos_protocol::codes::DESERIALIZATION_ERROR, format!("Failed to deserialize input: {e}"))
    })
}

// ---- the browser stream socket ---------------------------------------------------------------

/// The router of the stream port.
pub fn router(engine: Engine, worker_security: std::sync::Arc<crate::rbac::ListenerSecurity>) -> Router {
    Router::new().route("/", get(upgrade)).with_state(crate::ws::Listener { engine, security: worker_security })
}

/// The stream socket's door: a browser page (an `Origin` header) only from an origin listed in
/// `iii-stream.allowed_origins`; any other client passes the worker socket's authentication.
async fn upgrade(
    State(listener): State<crate::ws::Listener>,
    axum::extract::ConnectInfo(addr): axum::extract::ConnectInfo<std::net::SocketAddr>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let crate::ws::Listener { engine, security } = listener;
    let origin = headers.get(axum::http::header::ORIGIN).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if let Some(origin) = origin {
        let stream_origins = crate::rbac::ListenerSecurity {
            allowed_origins: engine.config().stream_allowed_origins.clone(),
            ..crate::rbac::ListenerSecurity::default()
        };
        if !stream_origins.origin_allowed(Some(&origin)) {
            tracing::warn!(%addr, %origin, "stream handshake refused: origin not allowed");
            let body = agentos_protocol::error::ErrorResponse::new(
                "origin_not_allowed",
                format!("origin {origin} may not open the stream socket; add it to iii-stream.allowed_origins"),
            );
            return (axum::http::StatusCode::FORBIDDEN, axum::Json(body)).into_response();
        }
    } else if let Err(response) = crate::ws::authenticate(&engine, &security, &headers, uri.query(), addr).await {
        return response;
    }
    ws.on_upgrade(move |socket| serve_client(engine, socket))
}

#[derive(Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: String,
    data: JoinData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JoinData {
    subscription_id: String,
    stream_name: String,
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    id: Option<String>,
}

async fn serve_client(engine: Engine, socket: WebSocket) {
    let client = Uuid::new_v4();
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if sink.send(WsMessage::Text(text.into())).await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(frame)) = stream.next().await {
        let WsMessage::Text(text) = frame else { continue };
        let Ok(frame) = serde_json::from_str::<ClientFrame>(&text) else {
            tracing::debug!(%client, "stream client sent an unreadable frame; ignored");
            continue;
        };
        let d = frame.data;
        let key = (client, d.subscription_id.clone());
        let join_payload = json!({
            "subscription_id": d.subscription_id, "stream_name": d.stream_name,
            "group_id": d.group_id, "id": d.id, "context": Value::Null,
        });
        match frame.kind.as_str() {
            "join" => {
                if !join_allowed(&engine, &join_payload).await {
                    let _ = tx.send(json!({"event": {"type": "unauthorized"}}).to_string());
                    continue;
                }
                lock(&engine.inner.streams.subscriptions).insert(
                    key,
                    Subscription {
                        stream_name: d.stream_name.clone(),
                        group_id: d.group_id.clone(),
                        item_id: d.id.clone(),
                        tx: tx.clone(),
                    },
                );
                let data = match &d.id {
                    Some(item) => engine
                        .store()
                        .stream_get(&d.stream_name, &d.group_id, item)
                        .ok()
                        .flatten()
                        .unwrap_or(Value::Null),
                    None => Value::Array(
                        engine
                            .store()
                            .stream_list(&d.stream_name, &d.group_id)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(_, v)| v)
                            .collect(),
                    ),
                };
                let sync = json!({
                    "type": "stream", "timestamp": now_ms(), "streamName": d.stream_name, "groupId": d.group_id,
                    "id": d.id, "event": {"type": "sync", "data": data},
                });
                let _ = tx.send(sync.to_string());
            }
            "leave" if lock(&engine.inner.streams.subscriptions).remove(&key).is_some() => {
                fire_join_leave(&engine, "stream:leave", join_payload);
            }
            _ => {}
        }
    }
    let left: Vec<Subscription> = {
        let mut subs = lock(&engine.inner.streams.subscriptions);
        let keys: Vec<_> = subs.keys().filter(|(c, _)| *c == client).cloned().collect();
        keys.iter().filter_map(|k| subs.remove(k)).collect()
    };
    for sub in left {
        let payload = json!({"stream_name": sub.stream_name, "group_id": sub.group_id, "id": sub.item_id, "context": Value::Null});
        fire_join_leave(&engine, "stream:leave", payload);
    }
    drop(tx);
    let _ = writer.await;
}

/// Runs the `stream:join` triggers; any of them answering `{"unauthorized": true}` refuses.
async fn join_allowed(engine: &Engine, payload: &Value) -> bool {
    for t in triggers::of_type(engine, "stream:join") {
        if let Ok(Some(answer)) = engine.deliver(&t.function_id, payload.clone(), None).await
            && answer.get("unauthorized") == Some(&Value::Bool(true))
        {
            return false;
        }
    }
    true
}

fn fire_join_leave(engine: &Engine, kind: &str, payload: Value) {
    let targets = triggers::of_type(engine, kind);
    triggers::fire_sequential(engine, targets, payload, None);
}
