//! The router's typed errors, each with a stable code and a message that names the fix.
//!
//! Rules it keeps:
//! - `NO_PROVIDER` names every variable that configures one, so a chat turn without a
//!   provider tells the user exactly what to set — the router never invents an answer.
//! - [`LlmError::is_retryable`] is the one place that says which failures are worth retrying
//!   (429, 5xx, timeouts, connection failures); the router's policy builds on it.

use std::time::Duration;

use agentos_kit::{ErrorCode, codes};

/// The variables that configure a provider, as named in `NO_PROVIDER` messages.
pub const PROVIDER_VARIABLES: &str = "ANTHROPIC_API_KEY (Anthropic), OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (any OpenAI-compatible server such as Ollama, vLLM or LM Studio), or declare a provider under [llm.providers] in agentos.toml; AGENTOS_MODEL picks the default model (`provider/model` or a bare model id)";

/// A failure of one completion.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// No provider is configured, or none serves the requested model.
    #[error("{0}")]
    NoProvider(String),
    /// The provider answered with an error status.
    #[error("{provider} answered HTTP {status}: {message}")]
    Provider {
        /// The provider's name.
        provider: String,
        /// The HTTP status.
        status: u16,
        /// The provider's own error message.
        message: String,
    },
    /// The provider could not be reached (connection refused, reset, DNS).
    #[error("{provider} could not be reached at {url}: {source}; check the base URL and that the server is running")]
    Unreachable {
        /// The provider's name.
        provider: String,
        /// The URL that was called.
        url: String,
        /// The transport failure.
        #[source]
        source: reqwest::Error,
    },
    /// The provider answered 429.
    #[error("{provider} is rate limiting requests: {message}; wait or lower the request rate")]
    RateLimited {
        /// The provider's name.
        provider: String,
        /// The provider's message.
        message: String,
        /// The provider's `retry-after`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// The provider did not answer (or went silent mid-stream) within the client timeout.
    #[error("{provider} did not answer within {} ms; retry, or raise the router's request timeout", after.as_millis())]
    Timeout {
        /// The provider's name.
        provider: String,
        /// The timeout that passed.
        after: Duration,
    },
    /// The provider's answer did not have the documented shape.
    #[error("{provider} sent an answer the router cannot read: {message}")]
    BadResponse {
        /// The provider's name.
        provider: String,
        /// What was wrong with it.
        message: String,
    },
    /// Every candidate provider is cooling down after repeated failures.
    #[error("{0}")]
    CoolingDown(String),
    /// The request itself cannot be sent (for example no messages).
    #[error("{0}")]
    InvalidRequest(String),
    /// The HTTP client could not be built (for example no TLS roots on the machine).
    #[error("the HTTP client could not be built: {0}")]
    Client(#[source] reqwest::Error),
}

impl ErrorCode for LlmError {
    fn code(&self) -> &str {
        match self {
            Self::NoProvider(_) => "NO_PROVIDER",
            Self::Provider { .. } | Self::Unreachable { .. } | Self::CoolingDown(_) | Self::Client(_) => {
                "PROVIDER_ERROR"
            }
            Self::RateLimited { .. } => codes::RATE_LIMITED,
            Self::Timeout { .. } => codes::TIMEOUT,
            Self::BadResponse { .. } => codes::BAD_RESPONSE,
            Self::InvalidRequest(_) => codes::INVALID_INPUT,
        }
    }
}

impl LlmError {
    /// Whether the same request may succeed when sent again: 429, 5xx, timeouts and
    /// connection failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Timeout { .. } | Self::Unreachable { .. } => true,
            Self::Provider { status, .. } => *status >= 500,
            Self::NoProvider(_)
            | Self::BadResponse { .. }
            | Self::CoolingDown(_)
            | Self::InvalidRequest(_)
            | Self::Client(_) => false,
        }
    }

    /// The `NO_PROVIDER` error when nothing is configured.
    pub fn nothing_configured() -> Self {
        Self::NoProvider(format!("no LLM provider is configured; set {PROVIDER_VARIABLES}"))
    }

    /// `BAD_RESPONSE` for `provider`.
    pub(crate) fn bad(provider: &str, message: impl Into<String>) -> Self {
        Self::BadResponse { provider: provider.to_string(), message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn no_provider_names_every_variable_to_set() {
        let err = LlmError::nothing_configured().to_worker_error();
        assert_eq!(err.code, "NO_PROVIDER");
        for var in ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "AGENTOS_MODEL"] {
            assert!(err.message.contains(var), "{var} missing from {}", err.message);
        }
    }

    #[test]
    fn only_rate_limits_server_errors_and_timeouts_are_retried() {
        let provider = |status| LlmError::Provider { provider: "openai".into(), status, message: "x".into() };
        let cases = [
            (provider(500), true),
            (provider(529), true),
            (provider(400), false),
            (provider(401), false),
            (LlmError::RateLimited { provider: "openai".into(), message: "x".into(), retry_after: None }, true),
            (LlmError::Timeout { provider: "openai".into(), after: Duration::from_secs(1) }, true),
            (LlmError::bad("openai", "x"), false),
            (LlmError::nothing_configured(), false),
        ];
        for (err, retry) in cases {
            assert_eq!(err.is_retryable(), retry, "{err}");
        }
    }
}
