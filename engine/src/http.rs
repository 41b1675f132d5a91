//! The REST port (3111): HTTP triggers.
//!
//! A request is matched against the registered `http` triggers (`:param` segments, exact
//! segment count), turned into the iii request payload and handed to the trigger's function. The
//! function's `{status_code, headers, body}` becomes the response. Errors always carry a JSON
//! body `{"error":{"code","message"}}`: unknown route 404, wrong method 405, invalid JSON body
//! 400, body too large 413, handler error 500, condition false 422, `default_timeout` 504.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::engine::{CallOptions, Engine, lock};
use crate::triggers::{self, TriggerEntry};

/// The router of the REST port: everything goes to the dynamic dispatcher.
pub fn router(engine: Engine) -> Router {
    Router::new().fallback(dispatch).with_state(engine)
}

/// A JSON error response in the agentos shape.
pub fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({ "error": { "code": code, "message": message.into() } });
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

async fn dispatch(State(engine): State<Engine>, request: Request) -> Response {
    let method = request.method().as_str().to_string();
    let uri = request.uri().clone();
    let matched = match find_route(&engine, &method, uri.path()) {
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
    let body = match parse_body(&headers, &bytes) {
        Ok(b) => b,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, "invalid_json", message),
    };
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
    });

    let timeout = Duration::from_millis(engine.config().http_default_timeout_ms);
    let entry = matched.trigger;
    let work = async {
        match triggers::condition_passes(&engine, &entry, &payload).await {
            Ok(true) => {}
            Ok(false) => {
                return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({"error": {"code": "condition_not_met", "message": "Request condition not met"}, "skipped": true}))).into_response();
            }
            Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, &e.code, e.message),
        }
        let (result, _) = engine.call(&entry.function_id, payload.clone(), CallOptions::default()).await;
        match result {
            Ok(value) => build_response(value.unwrap_or(Value::Null)),
            Err(e) if e.code == agentos_protocol::codes::FUNCTION_NOT_FOUND => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "function_unavailable",
                format!("the function behind this route ({}) is not registered right now", entry.function_id),
            ),
            Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &e.code, e.message),
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(response) => response,
        Err(_) => error_response(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            format!(
                "{} did not answer within {} ms (iii-http.default_timeout)",
                entry.function_id,
                timeout.as_millis()
            ),
        ),
    }
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
        (percent_decode(k), percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// The `body` field: parsed JSON for `application/json`, the text for other UTF-8 bodies,
/// null when empty. Invalid JSON is an error (the real engine passes null silently).
fn parse_body(headers: &BTreeMap<String, String>, bytes: &Bytes) -> Result<Value, String> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    let is_json = headers.get("content-type").is_some_and(|ct| ct.contains("application/json"));
    if is_json {
        return serde_json::from_slice(bytes).map_err(|e| format!("request body is not valid JSON: {e}"));
    }
    Ok(std::str::from_utf8(bytes).map(|s| Value::String(s.to_string())).unwrap_or(Value::Null))
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
    fn invalid_json_is_an_error_and_text_passes_as_a_string() {
        let json_ct: BTreeMap<String, String> = [("content-type".to_string(), "application/json".to_string())].into();
        assert!(parse_body(&json_ct, &Bytes::from_static(b"{nope")).is_err());
        assert_eq!(parse_body(&json_ct, &Bytes::from_static(b"{\"a\":1}")).unwrap(), json!({"a": 1}));
        assert_eq!(parse_body(&BTreeMap::new(), &Bytes::from_static(b"hi")).unwrap(), json!("hi"));
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
