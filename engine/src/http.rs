//! The REST port (3111): HTTP triggers.
//!
//! A request is matched against the registered `http` triggers (`:param` segments, exact
//! segment count), turned into the iii request payload and handed to the trigger's function.
//! Errors always carry a JSON body `{"error":{"code","message"}}`: unknown route 404, wrong
//! method 405, invalid JSON body 400, body too large 413, handler error 500, condition false
//! 422, `default_timeout` 504.
//!
//! A request carrying a credential header more than once (`Authorization` or
//! `Proxy-Authorization`, in any letter case) is answered `400 duplicate_header` before any
//! routing or function runs: with two values, the engine's choice and a proxy's or a handler's
//! could differ, which is how an authorization check is bypassed.
//!
//! Every request opens two channels (spec §3.4): `request_body`, a read ref carrying the raw
//! bytes of a non-JSON body (closed empty for JSON, whose `body` is the parsed value), and
//! `response`, a write ref the handler may stream its answer into. Whichever comes first
//! decides the response: a non-null result from the function (`{status_code, headers, body}`),
//! or the first binary frame or Close on `response`, after which the status and headers set
//! by `set_status`/`set_headers` go out and each body frame is sent as it arrives until the
//! writer closes. `default_timeout` bounds only the time until the response starts.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use tokio::sync::mpsc;

use crate::channels::{Created, DEFAULT_BUFFER_SIZE, Direction, Frame};
use crate::engine::{CallOptions, Engine, lock};
use crate::triggers::{self, TriggerEntry};

/// The router of the REST port: everything goes to the dynamic dispatcher.
pub fn router(engine: Engine) -> Router {
    Router::new().fallback(dispatch).with_state(engine)
}

/// A JSON error response in the agentos shape.
pub fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = agentos_protocol::error::ErrorResponse::new(code, message);
    (status, axum::Json(body)).into_response()
}

/// A matched route: the trigger and its path parameters.
struct Matched {
    trigger: TriggerEntry,
    path_params: Map<String, Value>,
    pattern: String,
}

enum RouteMatch {
    Found(Box<Matched>),
    WrongMethod(Vec<String>),
    NotFound,
    /// Nothing matches, and the worker that served a matching route went away and did not
    /// come back in time.
    Departed {
        worker: String,
        pattern: String,
    },
}

/// [`find_route`], and when nothing matches but a departed worker served a matching route,
/// waits for it to come back ([`crate::departed`]); if it does not, names it.
async fn find_route_or_wait(engine: &Engine, method: &str, path: &str) -> RouteMatch {
    let found = find_route(engine, method, path);
    if !matches!(found, RouteMatch::NotFound) {
        return found;
    }
    let normalized = triggers::normalize_path(path);
    let segments: Vec<&str> = if normalized.is_empty() { Vec::new() } else { normalized.split('/').collect() };
    let Some((worker, pattern)) =
        engine.inner.departed.route(method, |pattern| match_pattern(pattern, &segments).is_some())
    else {
        return found;
    };
    let back =
        crate::departed::wait_for(engine, engine.config().restart_wait, || match find_route(engine, method, path) {
            RouteMatch::NotFound => None,
            other => Some(other),
        })
        .await;
    back.unwrap_or(RouteMatch::Departed { worker, pattern })
}

/// Finds the route for (method, path). Static segments beat parameters, so `/users/me` wins
/// over `/users/:id` whatever the registration order.
fn find_route(engine: &Engine, method: &str, path: &str) -> RouteMatch {
    let path = triggers::normalize_path(path);
    let segments: Vec<&str> = if path.is_empty() { Vec::new() } else { path.split('/').collect() };
    // Match under the lock (no await inside) and copy out only the winner: the table is read
    // on every request and must not be cloned each time.
    let mut best: Option<(usize, String, Map<String, Value>, String)> = None;
    let mut allowed = Vec::new();
    for ((route_method, pattern), trigger_id) in lock(&engine.inner.triggers.routes).iter() {
        let Some((score, params)) = match_pattern(pattern, &segments) else { continue };
        if route_method != method && !(method == "HEAD" && route_method == "GET") {
            allowed.push(route_method.clone());
            continue;
        }
        if best.as_ref().is_none_or(|(s, ..)| score > *s) {
            best = Some((score, trigger_id.clone(), params, pattern.clone()));
        }
    }
    match best {
        Some((_, trigger_id, path_params, pattern)) => match triggers::get(engine, &trigger_id) {
            Some(trigger) => RouteMatch::Found(Box::new(Matched { trigger, path_params, pattern })),
            None => RouteMatch::NotFound,
        },
        None if !allowed.is_empty() => {
            allowed.sort();
            allowed.dedup();
            RouteMatch::WrongMethod(allowed)
        }
        None => RouteMatch::NotFound,
    }
}

/// Matches a pattern like `users/:id` (or `users/{id}`) against path segments. The score counts
/// static segments, so more specific routes win.
fn match_pattern(pattern: &str, segments: &[&str]) -> Option<(usize, Map<String, Value>)> {
    let parts: Vec<&str> = if pattern.is_empty() { Vec::new() } else { pattern.split('/').collect() };
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Map::new();
    let mut score = 0;
    for (part, seg) in parts.iter().zip(segments) {
        let name = part.strip_prefix(':').or_else(|| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')));
        match name {
            Some(name) => {
                // Path params come from raw segments and are not percent-decoded (as in iii).
                params.insert(name.to_string(), Value::String((*seg).to_string()));
            }
            None if part == seg => score += 1,
            None => return None,
        }
    }
    Some((score, params))
}

/// Headers that must appear at most once. Header names are matched without regard to case
/// (hyper lowercases them), so `Authorization` and `authorization` count as the same header.
const SINGLE_HEADERS: [HeaderName; 2] = [header::AUTHORIZATION, header::PROXY_AUTHORIZATION];

/// The first header of [`SINGLE_HEADERS`] that `headers` carries more than once.
fn duplicated_header(headers: &HeaderMap) -> Option<&'static str> {
    SINGLE_HEADERS.iter().find(|name| headers.get_all(*name).iter().nth(1).is_some()).map(HeaderName::as_str)
}

async fn dispatch(State(engine): State<Engine>, request: Request) -> Response {
    if let Some(name) = duplicated_header(request.headers()) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "duplicate_header",
            format!("the request carries the {name} header more than once; send it exactly once"),
        );
    }
    let method = request.method().as_str().to_string();
    let uri = request.uri().clone();
    let matched = match find_route_or_wait(&engine, &method, uri.path()).await {
        RouteMatch::Found(m) => *m,
        RouteMatch::WrongMethod(allowed) => {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not allowed on {}; allowed: {}", uri.path(), allowed.join(", ")),
            );
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                response.headers_mut().insert(header::ALLOW, v);
            }
            return response;
        }
        RouteMatch::Departed { worker, pattern } => {
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "worker_unavailable",
                format!(
                    "{worker} serves {method} /{pattern} and is restarting; it did not come back within {}s, retry in a moment (agentos status shows it)",
                    engine.config().restart_wait.as_secs_f32()
                ),
            );
        }
        RouteMatch::NotFound => {
            if method == "OPTIONS" {
                return StatusCode::NO_CONTENT.into_response();
            }
            return error_response(
                StatusCode::NOT_FOUND,
                "route_not_found",
                format!("no route for {method} {}", uri.path()),
            );
        }
    };

    let headers = lowercase_headers(request.headers());
    let query_params = query_map(uri.query().unwrap_or_default());
    let limit = engine.config().http_body_limit_bytes;
    let Ok(bytes) = axum::body::to_bytes(request.into_body(), limit).await else {
        return error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request body exceeds {limit} bytes (iii-http.body_limit)"),
        );
    };
    let is_json = headers.get("content-type").is_some_and(|ct| ct.contains("application/json"));
    let (body, raw_body) = if is_json {
        match parse_json_body(&bytes) {
            Ok(b) => (b, Bytes::new()),
            Err(message) => return error_response(StatusCode::BAD_REQUEST, "invalid_json", message),
        }
    } else {
        (Value::Null, bytes)
    };
    let (channels, response_rx) = RequestChannels::open(&engine, raw_body);
    let trigger_pattern =
        matched.trigger.config.get("api_path").and_then(Value::as_str).unwrap_or(&matched.pattern).to_string();
    let payload = json!({
        "query_params": query_params,
        "path_params": matched.path_params,
        "headers": headers,
        "path": trigger_pattern,
        "method": method,
        "body": body,
        "trigger": { "type": "http", "path": trigger_pattern, "method": method },
        "request_body": channels.request_body.channel_ref(Direction::Read),
        "response": channels.response.channel_ref(Direction::Write),
    });
    answer(&engine, &matched.trigger, payload, channels, response_rx).await
}

/// Runs the route's condition and then its function, and answers with whichever comes first:
/// the function's result or the start of a streamed response. `default_timeout` bounds the
/// time until the response starts, not a streamed body.
async fn answer(
    engine: &Engine,
    entry: &TriggerEntry,
    payload: Value,
    channels: RequestChannels,
    mut response_rx: mpsc::Receiver<Frame>,
) -> Response {
    let timeout = Duration::from_millis(engine.config().http_default_timeout_ms);
    let deadline = tokio::time::Instant::now() + timeout;
    let timed_out = || {
        error_response(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!(
                "{} did not answer within {} ms (iii-http.default_timeout)",
                entry.function_id,
                timeout.as_millis()
            ),
        )
    };
    match tokio::time::timeout_at(deadline, triggers::condition_passes(engine, entry, &payload)).await {
        Err(_) => return timed_out(),
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => {
            return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({"error": {"code": "condition_not_met", "message": "Request condition not met"}, "skipped": true}))).into_response();
        }
        Ok(Err(e)) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, &e.code, e.message),
    }
    // The call runs as its own task: once the handler streams its response, it may keep
    // running (and return null) after this function has answered.
    let call = {
        let engine = engine.clone();
        let function_id = entry.function_id.clone();
        tokio::spawn(async move { engine.call(&function_id, payload, CallOptions::default()).await.0 })
    };
    let abort = call.abort_handle();
    match tokio::time::timeout_at(deadline, first_answer(call, &mut response_rx, &entry.function_id)).await {
        Ok(Answer::Respond(response)) => response,
        Ok(Answer::Stream(head, first)) => head.into_response(streamed_body(first, response_rx, channels)),
        Err(_) => {
            abort.abort();
            timed_out()
        }
    }
}

/// How many bytes of a request body go into one channel frame: the SDKs' own chunk size.
const BODY_CHUNK: usize = 64 * 1024;

/// The two channels of one request (spec §3.4): the worker reads the raw request body from
/// one and may stream its response into the other. Both leave the channel table when this
/// drops, that is when the request or its streamed response ends; a worker still writing
/// then gets a Close.
struct RequestChannels {
    engine: Engine,
    request_body: Created,
    response: Created,
    body_writer: Option<tokio::task::AbortHandle>,
}

impl RequestChannels {
    /// Opens both channels. `raw_body` is written into the request body channel, which is then
    /// closed (at once when it is empty, as for JSON requests).
    fn open(engine: &Engine, raw_body: Bytes) -> (Self, mpsc::Receiver<Frame>) {
        let now = tokio::time::Instant::now();
        let (request_body, tx) = engine.channels().create_engine_writer(DEFAULT_BUFFER_SIZE, now);
        let (response, rx) = engine.channels().create_engine_reader(DEFAULT_BUFFER_SIZE, now);
        let body_writer = (!raw_body.is_empty()).then(|| {
            tokio::spawn(async move {
                let mut offset = 0;
                while offset < raw_body.len() {
                    let end = raw_body.len().min(offset + BODY_CHUNK);
                    // Fails only when the request is over or nobody reads; either way, stop.
                    if tx.send(Frame::Binary(raw_body.slice(offset..end))).await.is_err() {
                        return;
                    }
                    offset = end;
                }
            })
            .abort_handle()
        });
        (Self { engine: engine.clone(), request_body, response, body_writer }, rx)
    }
}

impl Drop for RequestChannels {
    fn drop(&mut self) {
        if let Some(task) = &self.body_writer {
            task.abort();
        }
        self.engine.channels().remove(self.request_body.id);
        self.engine.channels().remove(self.response.id);
    }
}

/// What decides the response: the function's result, or the response channel.
enum Answer {
    /// A finished response (the function's value, or its error).
    Respond(Response),
    /// The handler streams: the head it set, and the first body frame (none when the writer
    /// closed without data).
    Stream(StreamHead, Option<Bytes>),
}

/// Waits for whichever comes first: a non-null result (or an error) from the function, or
/// the first binary frame or Close on the response channel. A null result alone decides
/// nothing: the handler may still be about to stream.
async fn first_answer(
    mut call: tokio::task::JoinHandle<crate::engine::CallResult>,
    response: &mut mpsc::Receiver<Frame>,
    function_id: &str,
) -> Answer {
    let mut head = StreamHead::default();
    let mut call_done = false;
    loop {
        tokio::select! {
            joined = &mut call, if !call_done => match joined {
                Ok(Ok(Some(value))) => return Answer::Respond(build_response(value)),
                Ok(Ok(None)) => call_done = true,
                Ok(Err(e)) if e.code == agentos_protocol::codes::FUNCTION_NOT_FOUND => {
                    return Answer::Respond(error_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "function_unavailable",
                        format!("the function behind this route ({function_id}) is not registered right now"),
                    ));
                }
                Ok(Err(e)) => return Answer::Respond(error_response(StatusCode::INTERNAL_SERVER_ERROR, &e.code, e.message)),
                Err(e) => {
                    return Answer::Respond(error_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal_error",
                        format!("the call of {function_id} ended abnormally: {e}"),
                    ));
                }
            },
            frame = response.recv() => match frame {
                Some(Frame::Text(text)) => head.apply(text.as_str()),
                Some(Frame::Binary(bytes)) => return Answer::Stream(head, Some(bytes)),
                None => return Answer::Stream(head, None),
            },
        }
    }
}

/// The status and headers a streaming handler set with `set_status` / `set_headers`.
#[derive(Debug, Default, PartialEq)]
struct StreamHead {
    status: Option<u16>,
    headers: BTreeMap<String, String>,
}

impl StreamHead {
    /// Applies one control message; anything else is logged and ignored.
    fn apply(&mut self, text: &str) {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            tracing::warn!("response channel: a text frame that is not JSON; ignored");
            return;
        };
        match message.get("type").and_then(Value::as_str) {
            Some("set_status") => {
                match message.get("status_code").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()) {
                    Some(code @ 100..=599) => self.status = Some(code),
                    _ => tracing::warn!("response channel: set_status needs a status_code in 100..599; ignored"),
                }
            }
            Some("set_headers") => match message.get("headers") {
                Some(Value::Object(map)) => {
                    for (name, value) in map {
                        let value = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
                        self.headers.insert(name.to_ascii_lowercase(), value);
                    }
                }
                _ => tracing::warn!("response channel: set_headers needs a headers object; ignored"),
            },
            other => tracing::warn!(kind = ?other, "response channel: unknown control message; ignored"),
        }
    }

    /// The response head around a streamed body; `application/octet-stream` unless the
    /// handler set a content type.
    fn into_response(self, body: Body) -> Response {
        let mut response = Response::new(body);
        *response.status_mut() = self.status.and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::OK);
        for (name, value) in &self.headers {
            match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                (Ok(name), Ok(value)) => {
                    response.headers_mut().insert(name, value);
                }
                _ => tracing::warn!(header = %name, "response channel: invalid header; skipped"),
            }
        }
        if !response.headers().contains_key(header::CONTENT_TYPE) {
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
        }
        response
    }
}

/// The streamed body: each binary frame goes out as it arrives (nothing waits for the end),
/// until the writer closes. If the client goes away, the body is dropped with the channels,
/// and the writer gets a Close.
fn streamed_body(first: Option<Bytes>, rx: mpsc::Receiver<Frame>, channels: RequestChannels) -> Body {
    let stream = futures_util::stream::unfold((first, rx, channels), |(mut first, mut rx, channels)| async move {
        loop {
            let bytes = match first.take() {
                Some(bytes) => bytes,
                None => match rx.recv().await? {
                    Frame::Binary(bytes) => bytes,
                    Frame::Text(_) => {
                        tracing::debug!("response channel: a text frame after the body started; ignored");
                        continue;
                    }
                },
            };
            // An empty chunk would read as the end of a chunked body.
            if !bytes.is_empty() {
                return Some((Ok::<Bytes, std::convert::Infallible>(bytes), (first, rx, channels)));
            }
        }
    });
    Body::from_stream(stream)
}

fn lowercase_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    // A repeated header keeps its last value, as in iii.
    headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_ascii_lowercase(), v.to_string())))
        .collect()
}

fn query_map(query: &str) -> BTreeMap<String, String> {
    // A repeated key keeps its last value; values are URL-decoded.
    url_pairs(query).collect()
}

fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (agentos_protocol::url::decode_query(k), agentos_protocol::url::decode_query(v))
    })
}

/// The `body` field of a JSON request: the parsed value, null when empty. Invalid JSON is an
/// error (the real engine passes null silently).
fn parse_json_body(bytes: &Bytes) -> Result<Value, String> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|e| format!("request body is not valid JSON: {e}"))
}

/// Turns a handler's `{status_code, headers, body}` into a response (spec §3.4).
pub fn build_response(value: Value) -> Response {
    let obj = value.as_object().cloned().unwrap_or_default();
    let status = obj
        .get("status_code")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut headers: HashMap<String, String> = HashMap::new();
    match obj.get("headers") {
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                headers.insert(k.clone(), v);
            }
        }
        Some(Value::Array(lines)) => {
            for line in lines.iter().filter_map(Value::as_str) {
                if let Some((k, v)) = line.split_once(':') {
                    headers.insert(k.trim().to_string(), v.trim().to_string());
                }
            }
        }
        _ => {}
    }
    let body = obj.get("body").cloned().unwrap_or_else(|| json!({}));
    let user_ct = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.clone());
    let bytes: Vec<u8> = match (&user_ct, &body) {
        (None, body) => {
            headers.insert("content-type".into(), "application/json".into());
            body.to_string().into_bytes()
        }
        (Some(_), Value::String(s)) => s.clone().into_bytes(),
        (Some(_), Value::Null) => Vec::new(),
        (Some(_), other) => other.to_string().into_bytes(),
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_parameter_segment_captures_the_raw_value() {
        let (score, params) = match_pattern("echo/:id", &["echo", "4%202"]).unwrap();
        assert_eq!(score, 1);
        assert_eq!(Value::Object(params), json!({"id": "4%202"}));
    }

    #[test]
    fn a_credential_header_sent_twice_in_any_case_is_found() {
        let mut headers = HeaderMap::new();
        headers.append("authorization", HeaderValue::from_static("Bearer a"));
        headers.append("x-other", HeaderValue::from_static("1"));
        headers.append("x-other", HeaderValue::from_static("2"));
        assert_eq!(duplicated_header(&headers), None);
        headers.append(HeaderName::from_static("authorization"), HeaderValue::from_static("Bearer b"));
        assert_eq!(duplicated_header(&headers), Some("authorization"));
        let mut headers = HeaderMap::new();
        headers.append("Proxy-Authorization", HeaderValue::from_static("a"));
        headers.append("PROXY-AUTHORIZATION", HeaderValue::from_static("a"));
        assert_eq!(duplicated_header(&headers), Some("proxy-authorization"));
    }

    #[test]
    fn segment_counts_must_match() {
        assert!(match_pattern("a/:b", &["a"]).is_none());
        assert!(match_pattern("", &[]).is_some());
    }

    #[test]
    fn query_values_are_decoded_and_the_last_repeat_wins() {
        let q = query_map("x=1&y=a%20b&x=3&z=c+d");
        assert_eq!(q.get("x").map(String::as_str), Some("3"));
        assert_eq!(q.get("y").map(String::as_str), Some("a b"));
        assert_eq!(q.get("z").map(String::as_str), Some("c d"));
    }

    #[test]
    fn invalid_json_is_an_error_and_an_empty_body_is_null() {
        assert!(parse_json_body(&Bytes::from_static(b"{nope")).is_err());
        assert_eq!(parse_json_body(&Bytes::from_static(b"{\"a\":1}")).unwrap(), json!({"a": 1}));
        assert_eq!(parse_json_body(&Bytes::new()).unwrap(), Value::Null);
    }

    #[test]
    fn set_status_and_set_headers_shape_the_streamed_head() {
        let mut head = StreamHead::default();
        head.apply(r#"{"type":"set_status","status_code":201}"#);
        head.apply(r#"{"type":"set_headers","headers":{"Content-Type":"text/event-stream","x-n":1}}"#);
        head.apply(r#"{"type":"set_headers","headers":{"cache-control":"no-cache"}}"#);
        let expected = StreamHead {
            status: Some(201),
            headers: [
                ("cache-control".to_string(), "no-cache".to_string()),
                ("content-type".to_string(), "text/event-stream".to_string()),
                ("x-n".to_string(), "1".to_string()),
            ]
            .into(),
        };
        assert_eq!(head, expected);
        let response = head.into_response(Body::empty());
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
    }

    #[test]
    fn a_status_out_of_range_and_unknown_messages_are_ignored() {
        let mut head = StreamHead::default();
        head.apply(r#"{"type":"set_status","status_code":99}"#);
        head.apply(r#"{"type":"set_status","status_code":600}"#);
        head.apply(r#"{"type":"something_else"}"#);
        head.apply("not json");
        head.apply(r#"{"type":"set_headers","headers":["a: b"]}"#);
        assert_eq!(head, StreamHead::default());
    }

    #[test]
    fn a_streamed_body_without_content_type_is_octet_stream_with_status_200() {
        let response = StreamHead::default().into_response(Body::empty());
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/octet-stream");
    }

    #[test]
    fn a_handler_without_content_type_answers_json() {
        let r = build_response(json!({"status_code": 201, "body": {"ok": true}}));
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));
    }

    #[test]
    fn an_invalid_status_gives_200() {
        assert_eq!(build_response(json!({"status_code": 9999})).status(), StatusCode::OK);
    }
}
