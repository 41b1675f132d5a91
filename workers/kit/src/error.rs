//! The one error type a worker function returns, and the stable codes it carries.
//!
//! Rule: every failure a worker reports has a SCREAMING_SNAKE code from [`codes`] (or its own,
//! equally stable) and a message that says how to fix it. On the wire a [`WorkerError`] becomes
//! the iii handler error `CODE: message`, which iii-sdk 0.11.6 carries as text; the kit's
//! [`crate::typed::call`] parses the code back out, so codes survive a hop through the engine.

use iii_sdk::IIIError;

/// Stable error codes shared by every worker: the contract's ([`agentos_protocol::error::codes`]);
/// HTTP statuses for them are [`crate::http::status_for`].
pub mod codes {
    pub use agentos_protocol::error::codes::*;
}

/// The prefix iii-sdk 0.11.6 puts before a handler's error text (`IIIError::Handler`).
const HANDLER_PREFIX: &str = "handler error: ";

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

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// [`codes::INVALID_INPUT`] with this message.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(codes::INVALID_INPUT, message)
    }

    /// [`codes::NOT_FOUND`] with this message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(codes::NOT_FOUND, message)
    }

    /// [`codes::CONFLICT`] with this message.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(codes::CONFLICT, message)
    }

    /// [`codes::INTERNAL`] with this message.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(codes::INTERNAL, message)
    }

    /// Reads `handler error: CODE: message` (what a kit worker's error looks like after the
    /// engine) back into its code and message. `None` when the text has another shape.
    pub fn from_handler_text(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(HANDLER_PREFIX)?;
        let (code, message) = rest.split_once(": ")?;
        is_code(code).then(|| Self::new(code, message))
    }
}

/// What every worker's error enum says about itself: a stable code and an HTTP status, so the
/// kit turns it into a bus error (`CODE: message`) or an HTTP error body without knowing it.
///
/// An enum that wraps a [`WorkerError`] (a failed call, a state read) answers that error's code
/// and displays only its message: `#[error("{}", .0.message)] Worker(#[from] WorkerError)`.
pub trait ErrorCode: std::fmt::Display + Send + 'static {
    /// The stable SCREAMING_SNAKE code.
    fn code(&self) -> &str;

    /// The HTTP status a route answers with for this error; by default the one the contract
    /// gives the code ([`crate::http::status_for`]).
    fn status(&self) -> u16 {
        crate::http::status_for(self.code())
    }

    /// The error as it leaves the worker: its code and its message.
    fn to_worker_error(&self) -> WorkerError {
        WorkerError::new(self.code(), self.to_string())
    }
}

impl ErrorCode for WorkerError {
    fn code(&self) -> &str {
        &self.code
    }

    fn to_worker_error(&self) -> WorkerError {
        self.clone()
    }
}

/// What every error enum's test checks for each variant: `err` has `code`, and leaves the
/// worker as that code with its own message (a wrapped [`WorkerError`] with the inner message).
///
/// # Panics
/// When either does not hold, naming the error.
pub fn assert_leaves_as(err: &impl ErrorCode, code: &str) {
    assert_eq!(err.code(), code, "the code of {err}");
    assert_eq!(err.to_worker_error(), WorkerError::new(code, err.to_string()), "how {err} leaves the worker");
}

/// Whether `s` looks like a stable code: SCREAMING_SNAKE, starting with a letter.
fn is_code(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

impl From<WorkerError> for IIIError {
    fn from(e: WorkerError) -> Self {
        IIIError::Handler(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_worker_error_reaches_callers_with_its_code_first() {
        let e: IIIError = WorkerError::not_found("no such realm 'x'; list them with agentos realm list").into();
        assert_eq!(e.to_string(), "handler error: NOT_FOUND: no such realm 'x'; list them with agentos realm list");
    }

    #[test]
    fn handler_text_parses_back_into_the_same_error() {
        let original = WorkerError::conflict("realm 'x' exists: pick another name");
        let text = IIIError::from(original.clone()).to_string();
        assert_eq!(WorkerError::from_handler_text(&text), Some(original));
    }

    #[test]
    fn handler_text_without_a_code_is_not_parsed() {
        assert_eq!(WorkerError::from_handler_text("handler error: invalid type: map"), None);
        assert_eq!(WorkerError::from_handler_text("handler error: oops"), None);
        assert_eq!(WorkerError::from_handler_text("NOT_FOUND: no handler prefix"), None);
        assert_eq!(WorkerError::from_handler_text("handler error: Not_Found: mixed case"), None);
    }
}
