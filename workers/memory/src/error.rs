//! The memory worker's typed errors.
//!
//! Rule: every variant has a stable code (its [`ErrorCode::code`]) and a message that says how to
//! fix the problem. Leaving the crate, a [`MemoryError`] becomes the kit's [`WorkerError`], so
//! bus callers and HTTP clients get the code back; failures of the functions memory calls
//! (`state::*`) keep their own code.

use agentos_kit::{ErrorCode, WorkerError, codes};

/// Why a memory operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MemoryError {
    /// The request is malformed: a field is empty, too long or out of range (`INVALID_INPUT`).
    #[error("{0}")]
    Invalid(String),
    /// No memory has this id in this realm (`NOT_FOUND`).
    #[error(
        "no memory '{id}' in realm '{realm}'; find ids with `agentos memory search QUERY --realm {realm}` or GET /v1/memory/search?q=…&realm={realm}"
    )]
    NotFound {
        /// The id asked for.
        id: String,
        /// The realm searched.
        realm: String,
    },
    /// The realm does not exist (`NOT_FOUND`).
    #[error(
        "no realm '{0}'; create it with `agentos realm create {0}` (POST /v1/realms) or leave realm out for 'default'"
    )]
    NoRealm(String),
    /// A stored memory no longer decodes (`BAD_STATE`): reported, never dropped silently.
    #[error(
        "state {scope}/{key} is not a memory record: {reason}; repair the value or delete it (agentos memory forget {key} --realm {realm})"
    )]
    BadState {
        /// The state scope.
        scope: String,
        /// The key (the memory id, when the value has one).
        key: String,
        /// The realm the scope belongs to.
        realm: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The in-process index failed (`INTERNAL`): a bug, since it lives in memory.
    #[error(
        "the memory index failed: {0}; restart the memory worker (`agentos restart memory`), which rebuilds it from state"
    )]
    Index(String),
    /// A failure the kit reported (a `state::*` call), with its own code.
    #[error("{}", .0.message)]
    Worker(#[from] WorkerError),
}

impl ErrorCode for MemoryError {
    fn code(&self) -> &str {
        match self {
            Self::Invalid(_) => codes::INVALID_INPUT,
            Self::NotFound { .. } | Self::NoRealm(_) => codes::NOT_FOUND,
            Self::BadState { .. } => codes::BAD_STATE,
            Self::Index(_) => codes::INTERNAL,
            Self::Worker(e) => e.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn each_error_leaves_with_its_stable_code_and_a_fix() {
        let e = MemoryError::NotFound { id: "mem-1".into(), realm: "default".into() }.to_worker_error();
        assert_eq!(e.code, "NOT_FOUND");
        assert!(e.message.contains("agentos memory search"), "{}", e.message);
        let e = MemoryError::NoRealm("team".into()).to_worker_error();
        assert_eq!(e.code, "NOT_FOUND");
        assert!(e.message.contains("agentos realm create team"), "{}", e.message);
        assert_eq!(MemoryError::Invalid("text is empty".into()).to_worker_error().code, "INVALID_INPUT");
        let inner = WorkerError::new("TIMEOUT", "state::set did not answer");
        assert_eq!(MemoryError::Worker(inner.clone()).to_worker_error(), inner);
    }
}
