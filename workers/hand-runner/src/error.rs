//! The hand-runner's typed errors.
//!
//! Rule: every variant has a stable code ([`HandError::code`]) and a message that says how to
//! fix the problem. Leaving the crate, a [`HandError`] becomes the kit's [`WorkerError`], so bus
//! callers get the code back and HTTP clients get it as `{"error":{"code","message"}}` with the
//! status of [`http_status`].

use agentos_kit::{ErrorCode, WorkerError, codes};

/// The code for "`agent::chat` is not registered": the agent-core worker is not running
/// (HTTP 503, like any service that is not up).
pub const AGENT_NOT_RUNNING: &str = "AGENT_NOT_RUNNING";

/// Why a hand operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandError {
    /// No hand has this name (`NOT_FOUND`).
    #[error(
        "no hand {name:?}; the hands are: {}. Add hands/{name}/HAND.toml to the hands dir and call hand::reload (POST /v1/hands/reload)",
        known_list(.known)
    )]
    NotFound {
        /// The name asked for.
        name: String,
        /// Every loaded hand's name, sorted.
        known: Vec<String>,
    },
    /// A trigger without a message for a hand without a schedule prompt (`INVALID_INPUT`).
    #[error(
        "hand {name:?} has no schedule prompt, so a trigger needs a message: send {{\"name\": \"{name}\", \"message\": \"...\"}}"
    )]
    NoMessage {
        /// The hand.
        name: String,
    },
    /// `agent::chat` is not registered (`AGENT_NOT_RUNNING`).
    #[error(
        "agent::chat is not registered: the agent-core worker is not running; start the stack with `agentos up` (or `agentos worker agent-core`) and check `agentos status`"
    )]
    AgentNotRunning,
    /// A cron firing whose trigger is not a current hand schedule (`NOT_FOUND`).
    #[error(
        "cron trigger {job_id:?} is not a current hand schedule ({why}); hand::run_scheduled is only for the cron triggers hand-runner registers, use hand::trigger to run a hand"
    )]
    UnknownJob {
        /// The trigger id from the cron payload.
        job_id: String,
        /// What did not match.
        why: String,
    },
    /// A failure the kit reported (a state or bus call, request decoding), with its own code.
    #[error("{}", .0.message)]
    Worker(#[from] WorkerError),
}

/// `a, b, c`, or `(none loaded)`.
fn known_list(known: &[String]) -> String {
    if known.is_empty() { "(none loaded)".to_string() } else { known.join(", ") }
}

impl ErrorCode for HandError {
    fn code(&self) -> &str {
        match self {
            Self::NotFound { .. } | Self::UnknownJob { .. } => codes::NOT_FOUND,
            Self::NoMessage { .. } => codes::INVALID_INPUT,
            Self::AgentNotRunning => AGENT_NOT_RUNNING,
            Self::Worker(e) => e.code(),
        }
    }

    /// A route answers with [`http_status`]: a missing agent-core is a 503.
    fn status(&self) -> u16 {
        http_status(self.code())
    }
}

/// The HTTP status for a code: the kit's mapping, plus 503 for [`AGENT_NOT_RUNNING`].
pub fn http_status(code: &str) -> u16 {
    match code {
        AGENT_NOT_RUNNING => 503,
        other => agentos_kit::http::status_for(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::error::assert_leaves_as;
    use pretty_assertions::assert_eq;

    #[test]
    fn every_error_leaves_the_crate_with_its_code_and_status() {
        let table = [
            (HandError::NotFound { name: "x".into(), known: vec!["coder".into()] }, "NOT_FOUND", 404),
            (HandError::NoMessage { name: "x".into() }, "INVALID_INPUT", 400),
            (HandError::AgentNotRunning, "AGENT_NOT_RUNNING", 503),
            (HandError::UnknownJob { job_id: "j".into(), why: "gone".into() }, "NOT_FOUND", 404),
            (HandError::Worker(WorkerError::new("TIMEOUT", "slow")), "TIMEOUT", 504),
        ];
        for (err, code, status) in table {
            assert_leaves_as(&err, code);
            assert_eq!((http_status(err.code()), err.status()), (status, status), "{err}");
        }
    }

    #[test]
    fn not_found_lists_the_known_hands_and_the_fix() {
        let err = HandError::NotFound { name: "cdoer".into(), known: vec!["coder".into(), "reviewer".into()] };
        assert_eq!(
            err.to_string(),
            "no hand \"cdoer\"; the hands are: coder, reviewer. Add hands/cdoer/HAND.toml to the hands dir and call hand::reload (POST /v1/hands/reload)"
        );
    }
}
