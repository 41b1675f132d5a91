//! The approval worker's typed errors.
//!
//! Rule: every variant has a stable code ([`ApprovalError::code`]) and a message that says what
//! to do. Leaving the crate, an [`ApprovalError`] becomes the kit's [`WorkerError`], so bus
//! callers get the code back and HTTP clients get it as `{"error":{"code","message"}}` with the
//! status of [`http_status`] (`CONFLICT` is 409, `TOO_MANY_PENDING` 429).

use agentos_kit::{ErrorCode, WorkerError, codes};

use crate::Decision;

/// The code for "this agent (or session) already has as many pending requests as allowed".
pub const TOO_MANY_PENDING: &str = "TOO_MANY_PENDING";

/// The code for "the turn that waited on this request is gone" (HTTP 409).
pub const TURN_GONE: &str = "TURN_GONE";

/// Why an approval operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApprovalError {
    /// No request has this id (`NOT_FOUND`).
    #[error(
        "no approval request {id:?}; `agentos approvals --all` (GET /v1/approvals?all=1) lists the pending and decided ones"
    )]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The request was decided before (`CONFLICT`): the first decision wins.
    #[error("approval {id} was already decided: {}; the first decision wins, nothing was changed", decision.summary())]
    AlreadyDecided {
        /// The request.
        id: String,
        /// Its first decision.
        decision: Box<Decision>,
    },
    /// The turn that waited on the request is gone, so no decision can reach it (`TURN_GONE`).
    #[error(
        "approval {id} can no longer be decided: the turn that waited on it is gone ({reason}), so nothing ran and nothing will; ask again in a new turn of the session"
    )]
    TurnGone {
        /// The request.
        id: String,
        /// Why the turn is gone.
        reason: String,
    },
    /// The agent or session has too many pending requests (`TOO_MANY_PENDING`).
    #[error(
        "{who} already has {} pending approval request(s) ({}), the limit of [approval] max_pending_per_agent; decide them (`agentos approvals approve|deny ID`) before asking for more",
        pending.len(), pending.join(", ")
    )]
    TooManyPending {
        /// `agent A in realm R` or `session S`.
        who: String,
        /// The ids of its pending requests, oldest first.
        pending: Vec<String>,
    },
    /// No remembered rule or grant has this id (`NOT_FOUND`).
    #[error("no remembered rule {id:?}; the rules are: {}. `agentos approvals rules` lists them", known_list(.known))]
    RuleNotFound {
        /// The id asked for.
        id: String,
        /// Every rule and grant id, sorted.
        known: Vec<String>,
    },
    /// The request was not acceptable (`INVALID_INPUT`); the message names the fix.
    #[error("{0}")]
    InvalidInput(String),
    /// A failure the kit reported (a state or bus call), with its own code.
    #[error("{}", .0.message)]
    Worker(#[from] WorkerError),
}

/// `a, b, c`, or `(none)`.
fn known_list(known: &[String]) -> String {
    if known.is_empty() { "(none)".to_string() } else { known.join(", ") }
}

impl ErrorCode for ApprovalError {
    fn code(&self) -> &str {
        match self {
            Self::NotFound { .. } | Self::RuleNotFound { .. } => codes::NOT_FOUND,
            Self::AlreadyDecided { .. } => codes::CONFLICT,
            Self::TooManyPending { .. } => TOO_MANY_PENDING,
            Self::TurnGone { .. } => TURN_GONE,
            Self::InvalidInput(_) => codes::INVALID_INPUT,
            Self::Worker(e) => e.code(),
        }
    }

    /// A route answers with [`http_status`]: `TOO_MANY_PENDING` is a 429, `TURN_GONE` a 409.
    fn status(&self) -> u16 {
        http_status(self.code())
    }
}

/// The HTTP status for a code: the kit's mapping, plus 429 for [`TOO_MANY_PENDING`] and 409
/// for [`TURN_GONE`].
pub fn http_status(code: &str) -> u16 {
    match code {
        TOO_MANY_PENDING => 429,
        TURN_GONE => 409,
        other => agentos_kit::http::status_for(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Scope, Verdict};
    use agentos_kit::error::assert_leaves_as;
    use agentos_worker_approval_tiers::{By, Via};
    use pretty_assertions::assert_eq;

    #[test]
    fn every_error_leaves_the_crate_with_its_code_and_status() {
        let decision = Decision {
            decision: Verdict::Deny,
            scope: Scope::Once,
            note: None,
            by: By { who: None, via: Via::Timeout },
            decided_ms: 1_738_332_300_000,
            rule_id: None,
        };
        let table = [
            (ApprovalError::NotFound { id: "apr-1".into() }, "NOT_FOUND", 404),
            (ApprovalError::AlreadyDecided { id: "apr-1".into(), decision: Box::new(decision) }, "CONFLICT", 409),
            (
                ApprovalError::TooManyPending { who: "session s".into(), pending: vec!["apr-1".into()] },
                "TOO_MANY_PENDING",
                429,
            ),
            (ApprovalError::RuleNotFound { id: "x".into(), known: vec![] }, "NOT_FOUND", 404),
            (ApprovalError::TurnGone { id: "apr-1".into(), reason: "agent-core restarted".into() }, "TURN_GONE", 409),
            (ApprovalError::InvalidInput("bad".into()), "INVALID_INPUT", 400),
            (ApprovalError::Worker(WorkerError::new("TIMEOUT", "slow")), "TIMEOUT", 504),
        ];
        for (err, code, status) in table {
            assert_leaves_as(&err, code);
            assert_eq!((http_status(err.code()), err.status()), (status, status), "{err}");
        }
    }

    #[test]
    fn a_conflict_names_the_first_decision() {
        let decision = Decision {
            decision: Verdict::Approve,
            scope: Scope::Session,
            note: Some("ok for today".into()),
            by: By { who: Some("ana".into()), via: Via::Http },
            decided_ms: 1_738_332_300_000,
            rule_id: None,
        };
        let err = ApprovalError::AlreadyDecided { id: "apr-1".into(), decision: Box::new(decision) };
        assert_eq!(
            err.to_string(),
            "approval apr-1 was already decided: approved (scope session) by ana via http at 2025-01-31 14:05:00 UTC (note: ok for today); the first decision wins, nothing was changed"
        );
        let err = ApprovalError::TooManyPending {
            who: "agent a in realm default".into(),
            pending: vec!["apr-1".into(), "apr-2".into()],
        };
        assert_eq!(
            err.to_string(),
            "agent a in realm default already has 2 pending approval request(s) (apr-1, apr-2), the limit of [approval] max_pending_per_agent; decide them (`agentos approvals approve|deny ID`) before asking for more"
        );
    }
}
