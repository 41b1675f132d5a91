//! The realm worker's typed errors.
//!
//! Rule: every variant has a stable code ([`RealmError::code`], one of the kit's
//! [`codes`]) and a message that says how to fix the problem. Leaving the crate, a
//! [`RealmError`] becomes the kit's [`WorkerError`], so bus callers get the code back and HTTP
//! clients get it as `{"error":{"code","message"}}` with the matching status.

use agentos_kit::{ErrorCode, WorkerError, codes};

use crate::{DEFAULT_REALM, ID_MAX, NAME_MAX};

/// Why a realm operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RealmError {
    /// The id is not a slug (`INVALID_INPUT`).
    #[error(
        "realm id {id:?} is not a slug: use 1 to {ID_MAX} characters of a-z, 0-9 and '-', starting with a letter or digit (for example \"team-1\")"
    )]
    InvalidId {
        /// The id as given.
        id: String,
    },
    /// The name is empty or too long (`INVALID_INPUT`).
    #[error("realm name {problem}: give a name of 1 to {NAME_MAX} characters")]
    InvalidName {
        /// What is wrong with it, for example `is empty`.
        problem: String,
    },
    /// An import document does not have the shape realm needs (`INVALID_INPUT`).
    #[error("import document: {problem}")]
    InvalidDocument {
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A realm with this id exists already (`CONFLICT`).
    #[error("realm {id:?} exists already: {fix}")]
    Exists {
        /// The realm id.
        id: String,
        /// What to do instead.
        fix: &'static str,
    },
    /// No realm has this id (`NOT_FOUND`).
    #[error("no realm {id:?}; list the realms with GET /v1/realms or create it with POST /v1/realms")]
    NotFound {
        /// The realm id.
        id: String,
    },
    /// `default` cannot be deleted (`FORBIDDEN`).
    #[error(
        "realm \"{DEFAULT_REALM}\" cannot be deleted: agents, sessions and memory that name no realm live in it; delete another realm, or update this one instead"
    )]
    DefaultIsPermanent,
    /// Realm-scoped state breaks the keying convention, so realm cannot address it (`BAD_STATE`).
    #[error(
        "state scope {scope}: {problem}; values in realm:<id>:* scopes must be JSON objects whose string \"id\" is their key, so fix the worker that wrote it"
    )]
    BadState {
        /// The full scope name.
        scope: String,
        /// What is wrong there.
        problem: String,
    },
    /// A failure the kit reported (a state call, request decoding), with its own code.
    #[error("{}", .0.message)]
    Worker(#[from] WorkerError),
}

impl ErrorCode for RealmError {
    fn code(&self) -> &str {
        match self {
            Self::InvalidId { .. } | Self::InvalidName { .. } | Self::InvalidDocument { .. } => codes::INVALID_INPUT,
            Self::Exists { .. } => codes::CONFLICT,
            Self::NotFound { .. } => codes::NOT_FOUND,
            Self::DefaultIsPermanent => codes::FORBIDDEN,
            Self::BadState { .. } => codes::BAD_STATE,
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
            (RealmError::InvalidId { id: "A".into() }, "INVALID_INPUT"),
            (RealmError::InvalidName { problem: "is empty".into() }, "INVALID_INPUT"),
            (RealmError::InvalidDocument { problem: "x".into() }, "INVALID_INPUT"),
            (RealmError::Exists { id: "a".into(), fix: "pick another id" }, "CONFLICT"),
            (RealmError::NotFound { id: "a".into() }, "NOT_FOUND"),
            (RealmError::DefaultIsPermanent, "FORBIDDEN"),
            (RealmError::BadState { scope: "realm:a:x".into(), problem: "y".into() }, "BAD_STATE"),
            (RealmError::Worker(WorkerError::new("TIMEOUT", "slow")), "TIMEOUT"),
        ];
        for (err, code) in table {
            assert_leaves_as(&err, code);
        }
    }
}
