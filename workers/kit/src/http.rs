//! Functions behind `http` triggers: the request and response shapes, stable error statuses,
//! bearer auth, and route registration.
//!
//! Rules it keeps (design overview §5):
//! - JSON everywhere; every error is `{"error":{"code","message"}}` with the status
//!   [`status_for`] gives its code, never the engine's generic 500.
//! - Every route but `GET /v1/health` needs `Authorization: Bearer <key>`, checked in constant
//!   time before the handler runs.
//! - A route is registered as a function plus its `http` trigger in one call, so a route can
//!   never exist without its function or the other way round.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use agentos_protocol::error::{ErrorInfo, ErrorResponse};
use iii_sdk::{FunctionRef, III, RegisterFunctionMessage, RegisterTriggerInput, Trigger};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::channel::ChannelRef;
use crate::error::{WorkerError, codes};
use crate::manifest::HttpRoute;
use crate::typed;

/// The one route that answers without an API key.
pub const PUBLIC_ROUTE: (&str, &str) = ("GET", "/v1/health");

/// The environment variable that carries the API key to workers (and overrides the key file).
pub const API_KEY_ENV: &str = "AGENTOS_API_KEY";

/// What a function behind an `http` trigger receives (spec §3.4). Unknown keys (`trigger`,
/// `request_body`, `response` channels) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// Upper-case method.
    #[serde(default)]
    pub method: String,
    /// The registered route pattern (for example `/v1/realms/:id`), not the concrete URL path.
    #[serde(default)]
    pub path: String,
    /// `:param` values, raw (not percent-decoded).
    #[serde(default)]
    pub path_params: BTreeMap<String, String>,
    /// Query values, URL-decoded; a repeated key keeps its last value.
    #[serde(default)]
    pub query_params: BTreeMap<String, String>,
    /// Headers with lower-case names.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The JSON body, or `null` when there is none or it is not `application/json`.
    #[serde(default)]
    pub body: Value,
    /// The response channel: a handler that streams its answer writes status, headers and body
    /// there ([`crate::channel::ChannelWriter::start_http_response`]) and returns
    /// [`HttpResponse::streamed`].
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "channel_or_none")]
    pub response: Option<ChannelRef>,
}

/// A channel reference, or `None` for anything else: an engine without streamed responses (or
/// with another shape) must not make every route fail to decode.
fn channel_or_none<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<ChannelRef>, D::Error> {
    Ok(serde_json::from_value(Value::deserialize(de)?).ok())
}

impl HttpRequest {
    /// A header by name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// A query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query_params.get(name).map(String::as_str)
    }

    /// A path parameter the route pattern declares; `INVALID_INPUT` when it is missing.
    pub fn path_param(&self, name: &str) -> Result<&str, WorkerError> {
        self.path_params.get(name).map(String::as_str).ok_or_else(|| {
            WorkerError::invalid_input(format!(
                "{} {}: path parameter :{name} is missing from the URL",
                self.method, self.path
            ))
        })
    }

    /// The body decoded into `T` (the engine's `_caller_worker_id` is not there, but the rules of
    /// [`typed::decode`] apply); `INVALID_INPUT` naming the route and the expected fields.
    pub fn body_as<T: DeserializeOwned>(&self) -> Result<T, WorkerError> {
        typed::decode(&format!("{} {}", self.method, self.path), self.body.clone())
    }
}

/// What a function behind an `http` trigger returns (spec §3.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// HTTP status.
    pub status_code: u16,
    /// Extra response headers. Without `content-type` the engine sends the body as JSON.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body (JSON unless a `content-type` header says otherwise).
    #[serde(default)]
    pub body: Value,
    /// The answer went through the request's response channel; the function returns `null`.
    #[serde(skip)]
    pub streamed: bool,
}

impl HttpResponse {
    /// A JSON response with this status and body.
    pub fn json(status: u16, body: impl Serialize) -> Self {
        let body = serde_json::to_value(body).unwrap_or_else(|e| {
            json!(ErrorResponse::new(codes::INTERNAL, format!("could not encode the response: {e}")))
        });
        Self { status_code: status, headers: BTreeMap::new(), body, streamed: false }
    }

    /// The answer was (or is being) written to the request's response channel.
    pub fn streamed() -> Self {
        Self { status_code: 200, headers: BTreeMap::new(), body: Value::Null, streamed: true }
    }

    /// `200` with this JSON body.
    pub fn ok(body: impl Serialize) -> Self {
        Self::json(200, body)
    }

    /// An error response: `{"error":{"code","message"}}` with this status.
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self::json(status, ErrorResponse::new(code, message))
    }

    /// This response with one more header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.insert(name.to_string(), value.into());
        self
    }

    /// The value the engine expects back from the function.
    pub fn into_value(self) -> Value {
        if self.streamed {
            return Value::Null;
        }
        json!({"status_code": self.status_code, "headers": self.headers, "body": self.body})
    }
}

/// A worker's error as clients see it: its code and message.
impl From<&WorkerError> for ErrorInfo {
    fn from(e: &WorkerError) -> Self {
        Self::new(e.code.clone(), e.message.clone())
    }
}

impl From<WorkerError> for HttpResponse {
    fn from(e: WorkerError) -> Self {
        Self::error(status_for(&e.code), &e.code, e.message)
    }
}

/// The HTTP status for a stable error code: the contract's table
/// ([`agentos_protocol::error::status_for`]); unknown codes are 500.
pub fn status_for(code: &str) -> u16 {
    agentos_protocol::error::status_for(code)
}

/// Whether a route needs the API key: all but `GET /v1/health`.
pub fn needs_auth(method: &str, path: &str) -> bool {
    let path = format!("/{}", path.trim_matches('/'));
    !(method.eq_ignore_ascii_case(PUBLIC_ROUTE.0) && path == PUBLIC_ROUTE.1)
}

/// The API key from [`API_KEY_ENV`], if set and non-empty.
pub fn api_key_from_env() -> Option<Arc<str>> {
    std::env::var(API_KEY_ENV).ok().map(|k| k.trim().to_string()).filter(|k| !k.is_empty()).map(Arc::from)
}

/// Checks `Authorization: Bearer <api_key>` unless the route is `GET /v1/health`. The key is
/// compared in constant time; a failure is a 401 JSON error saying where the key comes from.
/// An empty `api_key` accepts nobody.
pub fn check_bearer(req: &HttpRequest, api_key: &str) -> Result<(), HttpResponse> {
    if !needs_auth(&req.method, &req.path) {
        return Ok(());
    }
    if api_key.is_empty() {
        return Err(HttpResponse::error(
            401,
            codes::UNAUTHORIZED,
            format!("this worker was started without an API key ({API_KEY_ENV}), so its routes refuse every request; start it through `agentos up`, or set {API_KEY_ENV}"),
        )
        .with_header("www-authenticate", "Bearer"));
    }
    let presented = req.header("authorization").and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    match presented {
        Some(token) if !api_key.is_empty() && constant_time_eq(token.as_bytes(), api_key.as_bytes()) => Ok(()),
        found => {
            let what = if found.is_some() { "wrong API key" } else { "missing API key" };
            Err(HttpResponse::error(
                401,
                codes::UNAUTHORIZED,
                format!("{what}: pass the key from the api_key file in the agentos config dir ($AGENTOS_HOME/config/api_key, or ~/.config/agentos/api_key) as Authorization: Bearer <key>, or set {API_KEY_ENV}"),
            )
            .with_header("www-authenticate", "Bearer"))
        }
    }
}

/// Compares two byte strings in time that depends only on their lengths, so a wrong key's
/// matching prefix cannot be measured.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// What [`register_route`] registered: keep it to unregister the route.
#[derive(Clone)]
pub struct RegisteredRoute {
    /// The function behind the route.
    pub function: FunctionRef,
    /// The `http` trigger.
    pub trigger: Trigger,
}

/// Registers `route.function_id` and its `http` trigger (`api_path`, `http_method`). The handler
/// runs only after the bearer check (a route other than the public one refuses every request
/// when `auth` holds no key); its
/// `WorkerError` becomes a JSON error with [`status_for`] its code. `manifest_name` names the
/// worker in the function's description and in logs.
///
/// # Panics
/// When the function id is already registered on this `iii` (see [`typed::register_typed`]).
pub fn register_route<F, Fut>(
    iii: &III,
    manifest_name: &str,
    route: HttpRoute,
    auth: Option<Arc<str>>,
    handler: F,
) -> Result<RegisteredRoute, WorkerError>
where
    F: Fn(HttpRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HttpResponse, WorkerError>> + Send + 'static,
{
    let function_id = route.function_id;
    let message = RegisterFunctionMessage::with_id(function_id.to_string())
        .with_description(format!("{manifest_name}: {} {}", route.method, route.path));
    let function = iii.register_function_with(message, move |input: Value| {
        let started = match serde_json::from_value::<HttpRequest>(input) {
            Err(e) => Err(HttpResponse::error(
                400,
                codes::INVALID_INPUT,
                format!("{function_id}: not an HTTP trigger request: {e}"),
            )),
            // No key configured: fail closed (an empty key accepts nobody), except the public route.
            Ok(req) => match check_bearer(&req, auth.as_deref().unwrap_or_default()) {
                Err(denied) => Err(denied),
                Ok(()) => Ok(handler(req)),
            },
        };
        async move {
            let response = match started {
                Ok(fut) => fut.await.unwrap_or_else(|e| {
                    if status_for(&e.code) >= 500 {
                        tracing::warn!(function_id, code = %e.code, message = %e.message, "http handler failed");
                    }
                    HttpResponse::from(e)
                }),
                Err(denied) => denied,
            };
            Ok(response.into_value())
        }
    });
    let trigger = iii
        .register_trigger(RegisterTriggerInput {
            trigger_type: "http".to_string(),
            function_id: function_id.to_string(),
            config: json!({"api_path": route.path, "http_method": route.method}),
            metadata: None,
        })
        .map_err(|e| {
            WorkerError::internal(format!("{manifest_name}: could not register {} {}: {e}", route.method, route.path))
        })?;
    Ok(RegisteredRoute { function, trigger })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn request(method: &str, path: &str, authorization: Option<&str>) -> HttpRequest {
        let mut req = HttpRequest { method: method.into(), path: path.into(), ..HttpRequest::default() };
        if let Some(a) = authorization {
            req.headers.insert("authorization".into(), a.into());
        }
        req
    }

    #[test]
    fn stable_codes_map_to_their_statuses_and_unknown_codes_to_500() {
        let table = [
            ("NOT_FOUND", 404),
            ("INVALID_INPUT", 400),
            ("BAD_REQUEST", 400),
            ("UNAUTHORIZED", 401),
            ("FORBIDDEN", 403),
            ("CONFLICT", 409),
            ("RATE_LIMITED", 429),
            ("TIMEOUT", 504),
            ("ENGINE_UNAVAILABLE", 503),
            ("function_not_found", 503),
            ("invocation_stopped", 503),
            ("BAD_STATE", 500),
            ("PROVIDER_ERROR", 502),
            ("NO_PROVIDER", 503),
            ("MODEL_MISSING", 503),
            ("SOMETHING_ELSE", 500),
        ];
        for (code, status) in table {
            assert_eq!(status_for(code), status, "{code}");
        }
    }

    #[test]
    fn an_error_response_has_the_agentos_error_shape() {
        let r = HttpResponse::from(WorkerError::not_found("no realm 'x'"));
        assert_eq!(
            r.into_value(),
            json!({"status_code": 404, "headers": {}, "body": {"error": {"code": "NOT_FOUND", "message": "no realm 'x'"}}})
        );
    }

    #[test]
    fn only_get_v1_health_is_public() {
        assert!(!needs_auth("GET", "/v1/health"));
        assert!(!needs_auth("get", "v1/health/"));
        assert!(needs_auth("POST", "/v1/health"));
        assert!(needs_auth("GET", "/v1/healthz"));
        assert!(needs_auth("GET", "/v1/realms"));
        assert!(needs_auth("GET", "/other"));
    }

    #[test]
    fn the_right_bearer_passes_and_anything_else_is_a_401_naming_the_fix() {
        assert_eq!(check_bearer(&request("GET", "/v1/realms", Some("Bearer s3cret")), "s3cret"), Ok(()));
        assert_eq!(check_bearer(&request("GET", "/v1/realms", Some("bearer  s3cret ")), "s3cret"), Ok(()));
        assert_eq!(check_bearer(&request("GET", "/v1/health", None), "s3cret"), Ok(()));
        for (auth, what) in [
            (None, "missing API key"),
            (Some("Bearer s3cre"), "wrong API key"),
            (Some("Bearer s3cretX"), "wrong API key"),
            (Some("Basic s3cret"), "missing API key"),
            (Some("s3cret"), "missing API key"),
        ] {
            let denied = check_bearer(&request("GET", "/v1/realms", auth), "s3cret").unwrap_err();
            assert_eq!(
                denied,
                HttpResponse::error(
                    401,
                    "UNAUTHORIZED",
                    format!("{what}: pass the key from the api_key file in the agentos config dir ($AGENTOS_HOME/config/api_key, or ~/.config/agentos/api_key) as Authorization: Bearer <key>, or set AGENTOS_API_KEY")
                )
                .with_header("www-authenticate", "Bearer"),
                "{auth:?}"
            );
        }
    }

    #[test]
    fn an_empty_configured_key_accepts_nobody() {
        assert!(check_bearer(&request("GET", "/v1/realms", Some("Bearer ")), "").is_err());
        assert!(check_bearer(&request("GET", "/v1/realms", Some("Bearer x")), "").is_err());
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abc\0"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn a_trigger_payload_decodes_and_ignores_channel_keys() {
        let req: HttpRequest = serde_json::from_value(json!({
            "query_params": {"x": "3"}, "path_params": {"id": "42"},
            "headers": {"content-type": "application/json"}, "path": "/echo/:id", "method": "POST",
            "body": {"hello": "world"}, "trigger": {"type": "http"}, "response": {"channel_id": "c"}
        }))
        .unwrap();
        assert_eq!(req.path_param("id"), Ok("42"));
        assert_eq!(req.query("x"), Some("3"));
        assert_eq!(req.header("Content-Type"), Some("application/json"));
        assert_eq!(req.path_param("nope").unwrap_err().code, "INVALID_INPUT");
        assert_eq!(req.response, None);
        let full = json!({"response": {"channel_id": "c", "access_key": "k", "direction": "write"}});
        assert_eq!(serde_json::from_value::<HttpRequest>(full).unwrap().response.unwrap().access_key, "k");
    }

    #[test]
    fn a_body_that_does_not_fit_names_the_route_and_the_fields() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Create {
            name: String,
        }
        let req = HttpRequest {
            method: "POST".into(),
            path: "/v1/realms".into(),
            body: json!({"nam": 1}),
            ..HttpRequest::default()
        };
        let err = req.body_as::<Create>().unwrap_err();
        assert_eq!(
            err,
            WorkerError::invalid_input("POST /v1/realms: unknown field `nam`, expected `name`; expected fields: name")
        );
    }
}
