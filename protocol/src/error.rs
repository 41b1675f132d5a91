//! The error every surface shows: a stable code and a message, alone (`{code, message}`: a chat
//! `error` event, a failed tool call) or as the body of every non-2xx REST answer
//! (`{"error": {code, message}}`).
//!
//! Rules it keeps:
//! - The code is stable (SCREAMING_SNAKE for agentos' own, snake_case for the engine's); clients
//!   branch on it, never on the message.
//! - The message says what went wrong and, usually, how to fix it; a body without one still
//!   reads (an empty message).

use serde::{Deserialize, Serialize};

/// The stable codes that cross process boundaries: the generic ones every worker uses, and
/// those one worker reports and others (the streaming routes, the CLI, the dashboard) act on.
/// A code a single worker keeps to itself lives with its error enum.
pub mod codes {
    /// The request did not have the expected shape (HTTP 400).
    pub const INVALID_INPUT: &str = "INVALID_INPUT";
    /// The request was well-formed but not acceptable (HTTP 400).
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    /// No or a wrong API key (HTTP 401).
    pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
    /// The caller may not do this (HTTP 403).
    pub const FORBIDDEN: &str = "FORBIDDEN";
    /// The named thing does not exist (HTTP 404).
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// The thing exists already or changed underneath (HTTP 409).
    pub const CONFLICT: &str = "CONFLICT";
    /// Too many requests; retry later (HTTP 429).
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// A called function did not answer in time (HTTP 504).
    pub const TIMEOUT: &str = "TIMEOUT";
    /// The engine is not reachable from this worker (HTTP 503).
    pub const ENGINE_UNAVAILABLE: &str = "ENGINE_UNAVAILABLE";
    /// A called function answered with a value of the wrong shape (HTTP 500).
    pub const BAD_RESPONSE: &str = "BAD_RESPONSE";
    /// A stored value no longer matches the type that reads it (HTTP 500). Never reset silently.
    pub const BAD_STATE: &str = "BAD_STATE";
    /// A bug or an unexpected failure inside the worker (HTTP 500).
    pub const INTERNAL: &str = "INTERNAL";
    /// A channel could not be opened, written or read (HTTP 502).
    pub const CHANNEL_FAILED: &str = "CHANNEL_FAILED";
    /// The LLM provider failed after the router's retries (llm-router; HTTP 502).
    pub const PROVIDER_ERROR: &str = "PROVIDER_ERROR";
    /// No LLM provider is configured (llm-router; HTTP 503 until someone configures one).
    pub const NO_PROVIDER: &str = "NO_PROVIDER";
    /// A local model is not installed yet (embedding; HTTP 503).
    pub const MODEL_MISSING: &str = "MODEL_MISSING";
    /// A chat message over `[agent] max_message_bytes` (agent-core; HTTP 413).
    pub const MESSAGE_TOO_LARGE: &str = "MESSAGE_TOO_LARGE";
    /// A conversation that cannot fit the model's window (context-manager; HTTP 413).
    pub const CONTEXT_TOO_LARGE: &str = "CONTEXT_TOO_LARGE";
    /// A turn cut short by a restart under it (agent-core; HTTP 503: send it again).
    pub const TURN_INTERRUPTED: &str = "TURN_INTERRUPTED";
    /// The worker a request needs is not there (any more); retry once it is back (HTTP 503).
    pub const WORKER_UNAVAILABLE: &str = "WORKER_UNAVAILABLE";
    /// The engine's: no function registered under the id (HTTP 503 at a route: its worker is
    /// not running).
    pub const FUNCTION_NOT_FOUND: &str = "function_not_found";
    /// The engine's: the callee went away during the call (HTTP 503).
    pub const INVOCATION_STOPPED: &str = "invocation_stopped";
}

/// The HTTP status for a stable code, the same wherever the error surfaces. A code nobody
/// mapped is a 500: a server-side surprise.
pub fn status_for(code: &str) -> u16 {
    use codes::*;
    match code {
        INVALID_INPUT | BAD_REQUEST => 400,
        UNAUTHORIZED => 401,
        FORBIDDEN => 403,
        NOT_FOUND => 404,
        CONFLICT => 409,
        MESSAGE_TOO_LARGE | CONTEXT_TOO_LARGE => 413,
        RATE_LIMITED => 429,
        CHANNEL_FAILED | PROVIDER_ERROR => 502,
        // The worker behind the request is not (yet, or any more) there: a client may retry.
        ENGINE_UNAVAILABLE | FUNCTION_NOT_FOUND | INVOCATION_STOPPED | NO_PROVIDER | MODEL_MISSING
        | WORKER_UNAVAILABLE | TURN_INTERRUPTED => 503,
        TIMEOUT => 504,
        _ => 500,
    }
}

/// `{code, message}`: what went wrong, as the model and the clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorInfo {
    /// The stable code (`NO_PROVIDER`, `NOT_FOUND`, `function_not_found`, …).
    pub code: String,
    /// What went wrong, and usually how to fix it.
    #[serde(default)]
    pub message: String,
}

impl ErrorInfo {
    /// An error with this code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into() }
    }
}

/// `{"error": {code, message}}`: the body of every non-2xx answer of the REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error.
    pub error: ErrorInfo,
}

impl ErrorResponse {
    /// The body for an error with this code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { error: ErrorInfo::new(code, message) }
    }
}

impl From<ErrorInfo> for ErrorResponse {
    fn from(error: ErrorInfo) -> Self {
        Self { error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn an_error_body_nests_the_code_and_message_under_error() {
        let body = ErrorResponse::new("NOT_FOUND", "no worker named 'x'");
        assert_eq!(
            serde_json::to_value(&body).unwrap_or_default(),
            json!({"error": {"code": "NOT_FOUND", "message": "no worker named 'x'"}})
        );
    }

    #[test]
    fn a_body_without_a_message_still_reads() {
        let body: ErrorResponse =
            serde_json::from_value(json!({"error": {"code": "HTTP_ERROR"}})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body, ErrorResponse::new("HTTP_ERROR", ""));
    }
}
