//! agentos-kit: the one shared worker library.
//!
//! Every agentos worker connects to the engine the same way, names itself the same way and
//! turns its typed errors into iii errors the same way; that plumbing lives here once.
//! Workers stay plain `iii-sdk` programs, so they also run unmodified on the real iii engine.

use iii_sdk::{III, IIIError, InitOptions, WorkerMetadata};

/// The engine URL a worker uses when none is given.
pub const DEFAULT_ENGINE_URL: &str = "ws://127.0.0.1:49134";

/// The engine URL from `AGENTOS_ENGINE_URL` (or `III_URL`, as iii's own examples use), else
/// the default local engine.
pub fn engine_url() -> String {
    std::env::var("AGENTOS_ENGINE_URL")
        .or_else(|_| std::env::var("III_URL"))
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ENGINE_URL.to_string())
}

/// Connects a worker named `name` (shown by `engine::workers::list`) to `url`.
pub fn connect(url: &str, name: &str) -> III {
    let metadata = WorkerMetadata { name: name.to_string(), ..WorkerMetadata::default() };
    iii_sdk::register_worker(url, InitOptions { metadata: Some(metadata), ..InitOptions::default() })
}

/// A worker-side failure with a stable code, sent to callers as the iii error message
/// `CODE: message` (0.11.6 SDKs carry handler errors as text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct WorkerError {
    /// A stable SCREAMING_SNAKE code.
    pub code: String,
    /// What went wrong and how to fix it.
    pub message: String,
}

impl WorkerError {
    /// An error with this code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into() }
    }
}

impl From<WorkerError> for IIIError {
    fn from(e: WorkerError) -> Self {
        IIIError::Handler(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_error_reaches_callers_with_its_code_first() {
        let e: IIIError = WorkerError::new("NOT_FOUND", "no such realm 'x'; list them with agentos realm list").into();
        assert_eq!(e.to_string(), "handler error: NOT_FOUND: no such realm 'x'; list them with agentos realm list");
    }
}
