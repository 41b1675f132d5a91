//! The session-lifecycle worker's typed errors.
//!
//! Rule: every variant has a stable code ([`SessionError::code`], one of the kit's [`codes`])
//! and a message that says how to fix the problem. Leaving the crate, a [`SessionError`]
//! becomes the kit's [`WorkerError`], so bus callers get the code back and HTTP clients get it
//! as `{"error":{"code","message"}}` with the matching status.

use agentos_kit::{ErrorCode, WorkerError, codes};

use crate::{ID_MAX, LABEL_MAX, LIST_MAX, NAME_MAX};

/// Why a session operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The session id breaks the id rule (`INVALID_INPUT`).
    #[error("session id {id:?} is not valid: use 1 to {ID_MAX} letters, digits, '.', '_', ':' or '-'")]
    InvalidId {
        /// The id as given.
        id: String,
    },
    /// The realm is not a realm id (`INVALID_INPUT`).
    #[error(
        "realm {realm:?} is not a realm id: use 1 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit (list them with `agentos realm list`)"
    )]
    InvalidRealm {
        /// The realm as given.
        realm: String,
    },
    /// The name is empty, too long or has control characters (`INVALID_INPUT`).
    #[error("session name {problem}: give a name of 1 to {NAME_MAX} printable characters")]
    InvalidName {
        /// What is wrong with it, for example `is empty`.
        problem: String,
    },
    /// A hand, agent or model name is empty, too long or has control characters (`INVALID_INPUT`).
    #[error("{field} {value:?} is not valid: give 1 to {LABEL_MAX} printable characters")]
    InvalidLabel {
        /// `hand`, `agent` or `model`.
        field: &'static str,
        /// The value as given.
        value: String,
    },
    /// The state is not one of the four (`INVALID_INPUT`).
    #[error("session state {given:?} is not valid: use active, waiting_approval, done or failed")]
    InvalidState {
        /// The state as given.
        given: String,
    },
    /// A list limit out of range (`INVALID_INPUT`).
    #[error("limit {given} is out of range: ask for 1 to {LIST_MAX} sessions")]
    InvalidLimit {
        /// The limit as given.
        given: usize,
    },
    /// `session::get` named neither an id nor a name (`INVALID_INPUT`).
    #[error("name the session: give {{\"id\": ...}} or {{\"name\": ..., \"realm\"?: ...}}")]
    NoKey,
    /// No session matches (`NOT_FOUND`).
    #[error("no session {what}{}; list sessions with GET /v1/sessions or `agentos sessions`", realm.as_ref().map(|r| format!(" in realm {r:?}")).unwrap_or_default())]
    NotFound {
        /// How the session was named, for example `with id "abc"`.
        what: String,
        /// The realm searched, when only one was.
        realm: Option<String>,
    },
    /// Another session of the realm has the name (`CONFLICT`).
    #[error(
        "realm {realm:?} already has a session named {name:?} (session {holder}); pick another name, or rename that session first"
    )]
    NameTaken {
        /// The name asked for.
        name: String,
        /// The realm.
        realm: String,
        /// The session that has the name.
        holder: String,
    },
    /// The id belongs to a session of another realm (`CONFLICT`).
    #[error("session {id:?} belongs to realm {realm:?}: open it in that realm, or use another id")]
    IdInOtherRealm {
        /// The id asked for.
        id: String,
        /// The realm that holds it.
        realm: String,
    },
    /// A failure the kit reported (a state call, request decoding), with its own code.
    #[error("{}", .0.message)]
    Worker(#[from] WorkerError),
}

impl ErrorCode for SessionError {
    fn code(&self) -> &str {
        match self {
            Self::InvalidId { .. }
            | Self::InvalidRealm { .. }
            | Self::InvalidName { .. }
            | Self::InvalidLabel { .. }
            | Self::InvalidState { .. }
            | Self::InvalidLimit { .. }
            | Self::NoKey => codes::INVALID_INPUT,
            Self::NotFound { .. } => codes::NOT_FOUND,
            Self::NameTaken { .. } | Self::IdInOtherRealm { .. } => codes::CONFLICT,
            Self::Worker(e) => e.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::error::assert_leaves_as;
    use pretty_assertions::assert_eq;

    #[test]
    fn every_error_leaves_the_crate_with_its_code_and_message() {
        let table = [
            (SessionError::InvalidId { id: "a b".into() }, "INVALID_INPUT"),
            (SessionError::InvalidRealm { realm: "A".into() }, "INVALID_INPUT"),
            (SessionError::InvalidName { problem: "is empty".into() }, "INVALID_INPUT"),
            (SessionError::InvalidLabel { field: "hand", value: String::new() }, "INVALID_INPUT"),
            (SessionError::InvalidState { given: "paused".into() }, "INVALID_INPUT"),
            (SessionError::InvalidLimit { given: 0 }, "INVALID_INPUT"),
            (SessionError::NoKey, "INVALID_INPUT"),
            (SessionError::NotFound { what: "with id \"x\"".into(), realm: None }, "NOT_FOUND"),
            (SessionError::NameTaken { name: "n".into(), realm: "default".into(), holder: "s1".into() }, "CONFLICT"),
            (SessionError::IdInOtherRealm { id: "s1".into(), realm: "team".into() }, "CONFLICT"),
            (SessionError::Worker(WorkerError::new("TIMEOUT", "slow")), "TIMEOUT"),
        ];
        for (err, code) in table {
            assert_leaves_as(&err, code);
        }
    }

    #[test]
    fn not_found_says_how_to_list_sessions_and_where_it_looked() {
        let anywhere = SessionError::NotFound { what: "with id \"x\"".into(), realm: None };
        assert_eq!(
            anywhere.to_string(),
            "no session with id \"x\"; list sessions with GET /v1/sessions or `agentos sessions`"
        );
        let in_realm = SessionError::NotFound { what: "named \"n\"".into(), realm: Some("team".into()) };
        assert_eq!(
            in_realm.to_string(),
            "no session named \"n\" in realm \"team\"; list sessions with GET /v1/sessions or `agentos sessions`"
        );
    }
}
