//! The REST calls the loop carries out for the panes: one JSON call, one SSE stream, and the
//! parsing both share.
//!
//! Rules it keeps:
//! - Every call carries `Authorization: Bearer <key>` (when there is a key) and
//!   `x-agentos-user: <user>`.
//! - A 2xx answer is its JSON body (an empty body is `null`, a body that is not JSON a string).
//! - Anything else is an [`ApiError`]: the API's `{"error": {code, message}}` when the body has
//!   one, else `HTTP_<status>` with the body's text. Failing to reach the port at all is
//!   [`ApiError::unreachable`]; a call that outlives [`REQUEST_TIMEOUT`] is `TIMEOUT`.
//! - Chat calls (`/v1/chat…`) and streams have no overall deadline: a turn takes as long as the
//!   model does. They still give up on connecting after [`CONNECT_TIMEOUT`].

use std::time::Duration;

use agentos_protocol::error::ErrorResponse;
use eventsource_stream::Event as SseEvent;
use serde::Deserialize;
use serde_json::Value;

use crate::event::{ApiError, Method, StreamItem};

/// How long a JSON call may take (chat calls excepted): the API's slowest listing answers in well
/// under a second, so 30 s only trips on a stack that is stuck.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting to the REST port may take: it is on this machine, so a connect that takes
/// longer means the port is filtered or the machine is stalled.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The header naming the person at the dashboard.
pub const USER_HEADER: &str = "x-agentos-user";

/// Where the stack is and who asks.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub client: reqwest::Client,
    /// The REST base URL, without a trailing slash.
    pub base: String,
    pub key: Option<String>,
    pub user: String,
}

impl Endpoint {
    /// An endpoint with its own HTTP client.
    pub fn new(base: &str, key: Option<String>, user: String) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT).build()?;
        Ok(Self { client, base: base.trim_end_matches('/').to_string(), key, user })
    }

    /// `method path` with the key, the user and the JSON body; the deadline is the caller's.
    pub fn build(&self, method: Method, path: &str, body: Option<&Value>) -> reqwest::RequestBuilder {
        let method = match method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut req = self.client.request(method, format!("{}{path}", self.base)).header(USER_HEADER, &self.user);
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        req
    }

    /// The "cannot reach" error for a transport failure.
    pub fn unreachable(&self, error: &reqwest::Error) -> ApiError {
        ApiError::unreachable(format!("cannot reach agentos at {}: {}", self.base, root_cause(error)))
    }
}

/// Whether `path` is a chat call, which has no overall deadline.
pub fn is_chat(path: &str) -> bool {
    path.starts_with("/v1/chat")
}

/// What a JSON call ended in, and whether it failed to reach the stack at all.
pub struct Outcome {
    pub result: Result<Value, ApiError>,
    pub unreachable: bool,
}

/// Carries out one JSON call.
pub async fn call(endpoint: &Endpoint, method: Method, path: &str, body: Option<&Value>) -> Outcome {
    let mut req = endpoint.build(method, path, body);
    if !is_chat(path) {
        req = req.timeout(REQUEST_TIMEOUT);
    }
    let response = match req.send().await {
        Ok(response) => response,
        Err(e) if e.is_timeout() => return Outcome { result: Err(timed_out()), unreachable: false },
        Err(e) => return Outcome { result: Err(endpoint.unreachable(&e)), unreachable: true },
    };
    let status = response.status().as_u16();
    match response.bytes().await {
        Ok(bytes) if (200..300).contains(&status) => Outcome { result: Ok(body_value(&bytes)), unreachable: false },
        Ok(bytes) => Outcome { result: Err(api_error(status, &bytes)), unreachable: false },
        Err(e) if e.is_timeout() => Outcome { result: Err(timed_out()), unreachable: false },
        Err(e) => Outcome { result: Err(endpoint.unreachable(&e)), unreachable: true },
    }
}

fn timed_out() -> ApiError {
    ApiError {
        status: 0,
        code: "TIMEOUT".into(),
        message: format!(
            "no answer within {} s; the stack may be overloaded (see `agentos status`)",
            REQUEST_TIMEOUT.as_secs()
        ),
    }
}

/// A 2xx body: `null` when empty, its JSON, or its text when it is not JSON.
pub fn body_value(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// The longest body text an error carries when the body is not the API's error shape.
const ERROR_TEXT_MAX: usize = 200;

/// A body that is not the API's error shape but still says something: `{"error": "text"}`.
#[derive(Deserialize)]
struct TextError {
    error: String,
}

/// The error of a non-2xx answer with `body`: the API's `{"error": {code, message}}`, else the
/// status and what the body says.
pub fn api_error(status: u16, body: &[u8]) -> ApiError {
    let (code, message) = match serde_json::from_slice::<ErrorResponse>(body) {
        Ok(ErrorResponse { error }) => (Some(error.code), Some(error.message).filter(|m| !m.is_empty())),
        Err(_) => (None, serde_json::from_slice::<TextError>(body).ok().map(|t| t.error)),
    };
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let fallback = || {
        if text.is_empty() {
            reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("no message")
                .to_string()
        } else {
            text.chars().take(ERROR_TEXT_MAX).collect()
        }
    };
    ApiError {
        status,
        code: code.unwrap_or_else(|| format!("HTTP_{status}")),
        message: message.unwrap_or_else(fallback),
    }
}

/// The innermost cause of a transport error ("Connection refused (os error 111)"), which says
/// more than reqwest's outer "error sending request for url".
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// An SSE `data:` field: its JSON, or the text itself when it is not JSON.
pub fn event_data(data: &str) -> Value {
    serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_string()))
}

/// One SSE event as a stream item.
pub fn stream_item(event: &SseEvent) -> StreamItem {
    StreamItem::Event { name: event.event.clone(), data: event_data(&event.data) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn an_api_error_body_gives_its_code_and_message() {
        let body = br#"{"error": {"code": "NOT_FOUND", "message": "no worker named 'x'; known: realm"}}"#;
        assert_eq!(
            api_error(404, body),
            ApiError { status: 404, code: "NOT_FOUND".into(), message: "no worker named 'x'; known: realm".into() }
        );
    }

    #[test]
    fn an_error_body_without_the_api_shape_keeps_the_status_and_its_text() {
        assert_eq!(
            api_error(502, b"bad gateway\n"),
            ApiError { status: 502, code: "HTTP_502".into(), message: "bad gateway".into() }
        );
        assert_eq!(
            api_error(503, b""),
            ApiError { status: 503, code: "HTTP_503".into(), message: "Service Unavailable".into() }
        );
        assert_eq!(api_error(400, br#"{"error": "plain"}"#).message, "plain");
        assert_eq!(api_error(500, "x".repeat(500).as_bytes()).message.len(), ERROR_TEXT_MAX);
    }

    #[test]
    fn a_success_body_is_json_null_when_empty_and_text_when_not_json() {
        assert_eq!(body_value(br#"{"workers": []}"#), json!({"workers": []}));
        assert_eq!(body_value(b""), Value::Null);
        assert_eq!(body_value(b" \n"), Value::Null);
        assert_eq!(body_value(b"ok"), json!("ok"));
    }

    #[test]
    fn an_sse_event_keeps_its_name_and_parses_its_data() {
        let event = SseEvent { event: "token".into(), data: r#"{"text": "hi"}"#.into(), ..SseEvent::default() };
        assert_eq!(stream_item(&event), StreamItem::Event { name: "token".into(), data: json!({"text": "hi"}) });
        let done = SseEvent { event: "message".into(), data: "[DONE]".into(), ..SseEvent::default() };
        assert_eq!(stream_item(&done), StreamItem::Event { name: "message".into(), data: json!("[DONE]") });
    }

    #[test]
    fn only_chat_calls_go_without_a_deadline() {
        assert!(is_chat("/v1/chat"));
        assert!(is_chat("/v1/chat/stream"));
        assert!(!is_chat("/v1/workers"));
        assert!(!is_chat("/v1/sessions/chat"));
    }

    #[test]
    fn the_root_cause_of_a_nested_error_is_the_innermost() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let outer = std::io::Error::other(Wrapper(inner));
        assert_eq!(root_cause(&outer), "Connection refused");
    }

    #[derive(Debug)]
    struct Wrapper(std::io::Error);
    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("error sending request")
        }
    }
    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
}
