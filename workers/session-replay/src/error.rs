//! The session-replay worker's typed errors.
//!
//! Rule: every variant has a stable code ([`ReplayError::code`], one of the kit's [`codes`])
//! and a message that says how to fix the problem. Leaving the crate, a [`ReplayError`] becomes
//! the kit's [`WorkerError`], so bus callers get the code back and HTTP clients get it as
//! `{"error":{"code","message"}}` with the matching status.

use agentos_kit::{ErrorCode, WorkerError, codes};

use crate::{QUERY_MAX, TAG_MAX};

/// Why a replay operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The session id breaks the id rule (`INVALID_INPUT`).
    #[error("session id {id:?} is not valid: use 1 to 128 letters, digits, '.', '_', ':' or '-'")]
    InvalidSessionId {
        /// The id as given.
        id: String,
    },
    /// The event kind is not a kind name (`INVALID_INPUT`).
    #[error(
        "event kind {kind:?} is not valid: use 1 to {TAG_MAX} of a-z, 0-9 and '_', starting with a letter (for example \"tool_call\")"
    )]
    InvalidKind {
        /// The kind as given.
        kind: String,
    },
    /// A turn or trace id breaks the id rule (`INVALID_INPUT`).
    #[error("{field} {value:?} is not valid: use 1 to {TAG_MAX} letters, digits, '.', '_', ':' or '-'")]
    InvalidTag {
        /// `turn_id` or `trace_id`.
        field: &'static str,
        /// The value as given.
        value: String,
    },
    /// The event's `data` does not fit its kind (`INVALID_INPUT`).
    #[error("data of a {kind:?} event: {problem}; see the event kinds in docs/api.md (Replay)")]
    InvalidData {
        /// The event kind.
        kind: String,
        /// What is wrong.
        problem: String,
    },
    /// A limit out of range (`INVALID_INPUT`).
    #[error("limit {given} is out of range: ask for 1 to {max}")]
    InvalidLimit {
        /// The limit as given.
        given: usize,
        /// The most allowed.
        max: usize,
    },
    /// A search query that is empty or too long (`INVALID_INPUT`).
    #[error("the search query has {length} characters: give 1 to {QUERY_MAX} characters to look for")]
    InvalidQuery {
        /// Its length after trimming.
        length: usize,
    },
    /// A query parameter that should be a number is not (`INVALID_INPUT`).
    #[error("query parameter {name}={given:?} is not a number: give a whole number, for example ?{name}=10")]
    NotANumber {
        /// The parameter.
        name: &'static str,
        /// Its value.
        given: String,
    },
    /// The engine keeps no spans of the trace (`NOT_FOUND`).
    #[error(
        "no spans of trace {trace_id:?}: the engine keeps only its newest spans (iii-observability memory_max_spans); list recent traces with GET /v1/traces or a session's with GET /v1/traces?session_id=ID"
    )]
    TraceNotFound {
        /// The trace id.
        trace_id: String,
    },
    /// A failure the kit reported (a state or engine call, request decoding), with its own code.
    #[error("{}", .0.message)]
    Worker(#[from] WorkerError),
}

impl ErrorCode for ReplayError {
    fn code(&self) -> &str {
        match self {
            Self::InvalidSessionId { .. }
            | Self::InvalidKind { .. }
            | Self::InvalidTag { .. }
            | Self::InvalidData { .. }
            | Self::InvalidLimit { .. }
            | Self::InvalidQuery { .. }
            | Self::NotANumber { .. } => codes::INVALID_INPUT,
            Self::TraceNotFound { .. } => codes::NOT_FOUND,
            Self::Worker(e) => e.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::error::assert_leaves_as;

    #[test]
    fn every_error_leaves_the_crate_with_its_code_and_message() {
        let table = [
            (ReplayError::InvalidSessionId { id: "a b".into() }, "INVALID_INPUT"),
            (ReplayError::InvalidKind { kind: "Tool".into() }, "INVALID_INPUT"),
            (ReplayError::InvalidTag { field: "trace_id", value: String::new() }, "INVALID_INPUT"),
            (ReplayError::InvalidData { kind: "x".into(), problem: "y".into() }, "INVALID_INPUT"),
            (ReplayError::InvalidLimit { given: 0, max: 5 }, "INVALID_INPUT"),
            (ReplayError::InvalidQuery { length: 0 }, "INVALID_INPUT"),
            (ReplayError::NotANumber { name: "limit", given: "x".into() }, "INVALID_INPUT"),
            (ReplayError::TraceNotFound { trace_id: "t".into() }, "NOT_FOUND"),
            (ReplayError::Worker(WorkerError::new("TIMEOUT", "slow")), "TIMEOUT"),
        ];
        for (err, code) in table {
            assert_leaves_as(&err, code);
        }
    }
}
