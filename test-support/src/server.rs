//! The axum server behind [`ScriptedLlm`](crate::ScriptedLlm): routing, auth, recording and
//! rendering scripted replies.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::reply::Content;
use crate::{Auth, Provider, RecordedRequest, Shared, anthropic, lock, openai};

pub(crate) fn spawn(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let app = Router::new()
        .route("/v1/chat/completions", post(chat_openai))
        .route("/v1/messages", post(chat_anthropic))
        .route("/v1/models", get(models))
        .fallback(not_found)
        .with_state(Arc::clone(&shared));
    tokio::spawn(async move {
        let stop = async move { shared.stopped().await };
        // The only error is the listener failing, which ends the server either way.
        let _ = axum::serve(listener, app).with_graceful_shutdown(stop).await;
    });
}

/// Records a request and returns its body parsed (`Err` with the raw text when not JSON).
fn record(
    shared: &Shared,
    provider: Option<Provider>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, String> {
    let parsed = if body.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice::<Value>(body).map_err(|_| String::from_utf8_lossy(body).into_owned())
    };
    let recorded = RecordedRequest {
        provider,
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect(),
        body: parsed.clone().unwrap_or_else(Value::String),
    };
    let count = {
        let mut requests = lock(&shared.requests);
        requests.push(recorded);
        requests.len()
    };
    shared.request_count.send_replace(count);
    parsed
}

fn error_body(provider: Provider, status: u16, message: &str) -> Value {
    match provider {
        Provider::OpenAi => openai::error(status, message),
        Provider::Anthropic => anthropic::error(status, message),
    }
}

/// A JSON response with the provider's request-id header.
fn json_response(provider: Provider, status: u16, body: &Value, request_id: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    if let Ok(value) = HeaderValue::from_str(request_id) {
        let name = match provider {
            Provider::OpenAi => "x-request-id",
            Provider::Anthropic => "request-id",
        };
        response.headers_mut().insert(name, value);
    }
    response
}

fn error_response(provider: Provider, status: u16, message: &str) -> Response {
    json_response(provider, status, &error_body(provider, status, message), "req_scripted_error")
}

/// The provider's auth check: `None` when the request may proceed.
fn check_auth(shared: &Shared, provider: Provider, headers: &HeaderMap) -> Option<Response> {
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if provider == Provider::Anthropic && header_str("anthropic-version").is_none() {
        return Some(error_response(provider, 400, "anthropic-version: header is required"));
    }
    let key = match provider {
        Provider::OpenAi => header_str("authorization").and_then(|v| v.strip_prefix("Bearer ")),
        Provider::Anthropic => header_str("x-api-key"),
    }
    .map(str::trim)
    .filter(|key| !key.is_empty());
    let accepted = match (&shared.auth, key) {
        (Auth::None, _) => true,
        (Auth::AnyKey, key) => key.is_some(),
        (Auth::Exact(expected), key) => key == Some(expected.as_str()),
    };
    if accepted {
        return None;
    }
    let message = match (provider, key) {
        (Provider::OpenAi, None) => {
            "You didn't provide an API key. You need to provide your API key in an Authorization \
             header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        }
        (Provider::OpenAi, Some(_)) => "Incorrect API key provided.",
        (Provider::Anthropic, None) => "x-api-key header is required",
        (Provider::Anthropic, Some(_)) => "invalid x-api-key",
    };
    Some(error_response(provider, 401, message))
}

async fn chat_openai(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    chat(&shared, Provider::OpenAi, &method, &uri, &headers, &body).await
}

async fn chat_anthropic(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    chat(&shared, Provider::Anthropic, &method, &uri, &headers, &body).await
}

async fn chat(
    shared: &Arc<Shared>,
    provider: Provider,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let parsed = record(shared, Some(provider), method, uri, headers, body);
    if let Some(rejection) = check_auth(shared, provider, headers) {
        return rejection;
    }
    let Ok(request @ Value::Object(_)) = parsed else {
        return error_response(provider, 400, "The request body is not a JSON object.");
    };
    let Some(scripted) = lock(&shared.script).pop(provider) else {
        return error_response(provider, 500, "agentos-test-support: the script has no reply left for this request");
    };
    let n = {
        let mut count = lock(&shared.chat_count);
        *count += 1;
        *count
    };
    let id = match provider {
        Provider::OpenAi => format!("chatcmpl-scripted-{n}"),
        Provider::Anthropic => format!("msg_scripted_{n}"),
    };
    let request_id = format!("req_scripted_{n}");
    let model = request.get("model").and_then(Value::as_str).unwrap_or(crate::DEFAULT_MODEL).to_owned();
    let streamed = request.get("stream").and_then(Value::as_bool) == Some(true);
    let gate = scripted.gate;

    let (text, calls) = match scripted.content {
        Content::Hang => {
            shared.stopped().await;
            return error_response(provider, 503, "agentos-test-support: server stopped");
        }
        Content::Status { status, message, retry_after } => {
            if let Some(gate) = gate {
                gate.mark_reached();
                tokio::select! {
                    () = gate.wait_open() => {}
                    () = shared.stopped() => {}
                }
            }
            let mut response = json_response(provider, status, &error_body(provider, status, &message), &request_id);
            if let Some(seconds) = retry_after {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            return response;
        }
        Content::Answer { text, calls } => (text, calls),
    };

    if !streamed {
        let body = match provider {
            Provider::OpenAi => openai::completion(&id, &model, text.as_deref(), &calls, scripted.usage),
            Provider::Anthropic => anthropic::message(&id, &model, text.as_deref(), &calls, scripted.usage),
        };
        if let Some(gate) = gate {
            gate.mark_reached();
            tokio::select! {
                () = gate.wait_open() => {}
                () = shared.stopped() => {
                    return error_response(provider, 503, "agentos-test-support: server stopped");
                }
            }
        }
        return json_response(provider, 200, &body, &request_id);
    }

    let (frames, gate_at) = match provider {
        Provider::OpenAi => {
            let include_usage = request.pointer("/stream_options/include_usage").and_then(Value::as_bool) == Some(true);
            openai::stream(&id, &model, text.as_deref(), &calls, scripted.usage, include_usage)
        }
        Provider::Anthropic => anthropic::stream(&id, &model, text.as_deref(), &calls, scripted.usage),
    };
    sse_response(provider, shared, frames, gate.map(|g| (g, gate_at)), &request_id)
}

/// Streams SSE frames, each written separately, pausing at the gate if there is one.
fn sse_response(
    provider: Provider,
    shared: &Arc<Shared>,
    frames: Vec<String>,
    gate: Option<(crate::Gate, usize)>,
    request_id: &str,
) -> Response {
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        for (index, frame) in frames.into_iter().enumerate() {
            if let Some((gate, at)) = &gate
                && *at == index
            {
                gate.mark_reached();
                tokio::select! {
                    () = gate.wait_open() => {}
                    () = shared.stopped() => return,
                }
            }
            if tx.send(Bytes::from(frame)).is_err() {
                return;
            }
            // Yield so each frame tends to reach the socket on its own, as real servers send them.
            tokio::task::yield_now().await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|frame| (Ok::<_, Infallible>(frame), rx))
    });
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        let name = match provider {
            Provider::OpenAi => "x-request-id",
            Provider::Anthropic => "request-id",
        };
        headers.insert(name, value);
    }
    response
}

async fn models(State(shared): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let provider = if headers.contains_key("anthropic-version") { Provider::Anthropic } else { Provider::OpenAi };
    // A GET has no body worth parsing; the record keeps `Value::Null`.
    let _ = record(&shared, Some(provider), &method, &uri, &headers, &[]);
    if let Some(rejection) = check_auth(&shared, provider, &headers) {
        return rejection;
    }
    let body = match provider {
        Provider::OpenAi => openai::models(&shared.models),
        Provider::Anthropic => anthropic::models(&shared.models),
    };
    json_response(provider, 200, &body, "req_scripted_models")
}

async fn not_found(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _ = record(&shared, None, &method, &uri, &headers, &body);
    let message = format!("agentos-test-support: no route for {method} {}", uri.path());
    error_response(Provider::OpenAi, 404, &message)
}
