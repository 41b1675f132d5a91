//! What a person can answer to an approval request, and the `POST /v1/approvals/:id` body each
//! answer sends (docs/api.md, Approvals).
//!
//! Rules it keeps:
//! - Every body says `"via": "tui"`, so the decision's history names the dashboard.
//! - A denial is always `once` (the API refuses `session` and `always` with `deny`); a note is
//!   sent only when it says something.

use agentos_protocol::approval::{DecideBody, Scope, Verdict, Via};
use serde_json::{Value, json};

use crate::event::segment;

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// `y`: this call.
    Once,
    /// `s`: every call of the function in this session.
    Session,
    /// `a`: every call with exactly these arguments, in any session.
    Always,
    /// `n`: not this call.
    Deny,
    /// `N`: not this call, and why, for the model.
    DenyWithNote(String),
}

impl Choice {
    /// The JSON body of the decision.
    pub fn body(&self) -> Value {
        let (decision, scope) = match self {
            Choice::Once => (Verdict::Approve, Scope::Once),
            Choice::Session => (Verdict::Approve, Scope::Session),
            Choice::Always => (Verdict::Approve, Scope::Always),
            Choice::Deny | Choice::DenyWithNote(_) => (Verdict::Deny, Scope::Once),
        };
        let note = match self {
            Choice::DenyWithNote(note) if !note.trim().is_empty() => Some(note.trim().to_string()),
            _ => None,
        };
        json!(DecideBody { decision, scope, note, via: Some(Via::Tui) })
    }

    /// The request path deciding request `id`.
    pub fn path(id: &str) -> String {
        format!("/v1/approvals/{}", segment(id))
    }

    /// What the answer does, for the line shown while it is on its way.
    pub fn describe(&self) -> &'static str {
        match self {
            Choice::Once => "approve once",
            Choice::Session => "approve for this session",
            Choice::Always => "approve always",
            Choice::Deny => "deny",
            Choice::DenyWithNote(_) => "deny with a note",
        }
    }
}

/// The line that says what `a` stores (the server remembers exact calls), in `width` cells
/// when the long form does not fit.
pub fn always_line(function_id: &str, width: usize) -> String {
    let long = format!("always: approve {function_id} with exactly these arguments, in every session");
    if long.chars().count() <= width {
        long
    } else {
        format!("always: {function_id} with exactly these arguments, in every session")
    }
}

/// The line that says what `s` grants.
pub fn session_line(function_id: &str, session: &str, width: usize) -> String {
    let long = format!("session: approve every {function_id} call in session {session}");
    if long.chars().count() <= width { long } else { format!("session: every {function_id} call in session {session}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn each_answer_sends_its_decision_and_scope_via_the_dashboard() {
        assert_eq!(Choice::Once.body(), json!({"decision": "approve", "scope": "once", "via": "tui"}));
        assert_eq!(Choice::Session.body(), json!({"decision": "approve", "scope": "session", "via": "tui"}));
        assert_eq!(Choice::Always.body(), json!({"decision": "approve", "scope": "always", "via": "tui"}));
        assert_eq!(Choice::Deny.body(), json!({"decision": "deny", "scope": "once", "via": "tui"}));
        assert_eq!(
            Choice::DenyWithNote("  use the staging db ".into()).body(),
            json!({"decision": "deny", "scope": "once", "via": "tui", "note": "use the staging db"})
        );
        assert_eq!(Choice::DenyWithNote(" ".into()).body(), Choice::Deny.body());
        assert_eq!(Choice::path("apr-1a2b"), "/v1/approvals/apr-1a2b");
    }
}
