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
