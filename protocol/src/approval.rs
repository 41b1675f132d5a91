//! The approval contract: a tool call's tier and the rule behind it (`approval::classify`,
//! `POST /v1/policy/explain`), the request a person decides (the record in
//! `approval:requests`, every `/v1/approvals` answer, the `approval_requested` /
//! `approval_decided` events of a turn and of the live bus), the decision and how far it
//! reaches, and what a decision leaves behind (`always` rules and session grants).
//!
//! The approval workers produce these; `agentos approvals`, `agentos policy explain` and the
//! dashboard's approvals pane and prompt read them.
//!
//! Rules it keeps:
//! - The JSON is the approval workers' own: names in snake_case, optional fields the worker
//!   leaves out are skipped, the ones it sends as `null` stay `null`.
//! - Arguments are the model's, an opaque JSON value.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The tier of a tool call: what happens before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// It runs without asking anyone.
    Auto,
    /// A person approves or denies it first (`approval::request`).
    Ask,
    /// It never runs; the model is told why.
    Deny,
}

impl Tier {
    /// `auto`, `ask` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Ask => "ask",
            Self::Deny => "deny",
        }
    }
}

/// The rule that decided a classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedRule {
    /// The rule's id: its own `id`, or `config#N` / `hand:<name>#N` (1-based), `builtin:…`,
    /// `always-…`, `grant:<session>`, or `default`.
    pub id: String,
    /// `builtin`, `config`, `hand:<name>`, `session` or `always`.
    pub source: String,
    /// The function pattern the rule is written for.
    pub function: String,
    /// The rule's conditions on the arguments, when it has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Value>,
}

/// `approval::classify` and the body of `POST /v1/policy/explain`: the call to judge and where
/// it comes from. Answered by [`Classification`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    /// The function the model wants to call.
    pub function_id: String,
    /// Its arguments (`{}` when left out).
    #[serde(default)]
    pub arguments: Value,
    /// The hand the turn runs as: its `[[approval.rules]]` take part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hand: Option<String>,
    /// The session: its grants take part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The agent (informational: logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The realm (informational: logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
}

/// What `approval::classify` (and `POST /v1/policy/explain`) answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    /// `auto`, `ask` or `deny`.
    pub tier: Tier,
    /// The rule that decided.
    pub rule: MatchedRule,
    /// Why, in words for the person approving (and the model, on a denial).
    pub reason: String,
}

/// Where a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The REST API (`POST /v1/approvals/:id`).
    Http,
    /// `agentos approvals approve|deny`.
    Cli,
    /// The dashboard's approval prompt.
    Tui,
    /// Nobody decided before the request expired.
    Timeout,
}

impl Via {
    /// `http`, `cli`, `tui` or `timeout`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Cli => "cli",
            Self::Tui => "tui",
            Self::Timeout => "timeout",
        }
    }
}

/// Who decided, and through what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct By {
    /// The person, when known (the `x-agentos-user` header over HTTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<String>,
    /// The surface the decision came through.
    pub via: Via,
}

/// Whether a request is still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nobody decided yet.
    Pending,
    /// A person approved it.
    Approved,
    /// A person denied it, or it timed out.
    Denied,
}

impl Status {
    /// `pending`, `approved` or `denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }
}

/// The two answers a person gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Run the call.
    Approve,
    /// Do not run it.
    Deny,
}

impl Verdict {
    /// `approve` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
        }
    }
}

/// How far an approval reaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// This call only.
    #[default]
    Once,
    /// Every call of this function for the rest of the session.
    Session,
    /// Every identical call (same function, same arguments), from now on.
    Always,
}

impl Scope {
    /// `once`, `session` or `always`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Once => "once",
            Self::Session => "session",
            Self::Always => "always",
        }
    }
}

/// The decision on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// `approve` or `deny`.
    pub decision: Verdict,
    /// How far an approval reaches (`once` for a denial).
    pub scope: Scope,
    /// The person's note (shown to the model on a denial).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Who decided, through what.
    pub by: By,
    /// When, in Unix milliseconds.
    pub decided_ms: u64,
    /// The remembered rule an `always` approval made (`agentos approvals forget` takes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
}

impl Decision {
    /// `approved (scope session) by ana via http at 2025-01-31 14:05:00 UTC (note: …)`.
    pub fn summary(&self) -> String {
        let what = match self.decision {
            Verdict::Approve => format!("approved (scope {})", self.scope.as_str()),
            Verdict::Deny => "denied".to_string(),
        };
        let who = self.by.who.as_deref().map(|w| format!(" by {w}")).unwrap_or_default();
        let via = self.by.via.as_str();
        let at = utc_seconds(self.decided_ms).unwrap_or_else(|| format!("{} ms", self.decided_ms));
        let note = self.note.as_deref().map(|n| format!(" (note: {n})")).unwrap_or_default();
        format!("{what}{who} via {via} at {at}{note}")
    }
}

/// An approval request: the record stored at `approval:requests/<id>`, and every answer's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// `apr-` and 12 hex digits.
    pub id: String,
    /// `pending`, `approved` or `denied`.
    pub status: Status,
    /// When it was made, in Unix milliseconds.
    pub created_ms: u64,
    /// When it is denied by timeout if nobody decides, in Unix milliseconds.
    pub expires_ms: u64,
    /// The session whose turn waits on it.
    pub session_id: String,
    /// The agent, if the turn runs as one.
    pub agent: Option<String>,
    /// The hand the turn runs as.
    pub hand: Option<String>,
    /// The realm.
    pub realm: Option<String>,
    /// The function the model wants to call.
    pub function_id: String,
    /// Its arguments, as the model wrote them.
    pub arguments: Value,
    /// Why, in the words the caller gave (the model's, or the policy's).
    pub reason: Option<String>,
    /// The tier approval-tiers gave the call (`ask`).
    pub tier: Tier,
    /// The rule that gave it.
    pub rule: MatchedRule,
    /// The tool call this request gates, when the caller named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// The turn that waits on it, when the caller named it (agent-core does): a request is
    /// expired with its turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    /// Why the turn that waited on it is gone, when it is: the request was expired without a
    /// decision anyone made, and deciding it is `TURN_GONE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_gone: Option<String>,
    /// What the call would change: a unified diff for `code::write_file` (against the current
    /// file) and `code::apply_patch` (the patch itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// The decision, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

/// The body of `POST /v1/approvals/:id`: a person's decision; `who` comes from the
/// `x-agentos-user` header. Answered by the decided [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    /// `approve` or `deny`.
    pub decision: Verdict,
    /// `once` (default), `session` or `always`.
    #[serde(default)]
    pub scope: Scope,
    /// A note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The surface deciding: `http` (default), `cli` or `tui`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
}

/// What `approval::list` and `GET /v1/approvals` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Pending first, then newest first.
    pub approvals: Vec<Request>,
}

/// A remembered `always` approval, stored at `approval:rules/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlwaysRule {
    /// `always-<16 hex digits>`.
    pub id: String,
    /// The function it approves.
    pub function_id: String,
    /// The exact arguments it approves, as canonical JSON (object keys sorted).
    pub arguments: Value,
    /// When it was made, in Unix milliseconds.
    pub created_ms: u64,
    /// Who made it.
    pub by: By,
    /// The request whose approval made it.
    pub from_request: String,
}

/// The functions approved for the rest of one session, stored at `approval:grants/<session_id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionGrant {
    /// The session.
    pub session_id: String,
    /// The function ids approved for it, sorted.
    pub functions: Vec<String>,
    /// When a function was last added, in Unix milliseconds.
    pub updated_ms: u64,
}

/// What `approval::rules` and `GET /v1/approvals/rules` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    /// The `always` rules, newest first.
    pub rules: Vec<AlwaysRule>,
    /// The session grants, newest first.
    pub grants: Vec<SessionGrant>,
}

/// What `approval::delete_rule` and `DELETE /v1/approvals/rules/:id` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deleted {
    /// The id of what was removed.
    pub deleted: String,
}

/// Unix milliseconds as `2025-01-31 14:05:00 UTC` (seconds cut); `None` past the years a
/// calendar library keeps (262 142), so every caller shows the same text for the same instant.
fn utc_seconds(ms: u64) -> Option<String> {
    /// The last second of the year 262 142, the end of chrono's range.
    const LAST_SECOND: u64 = 8_210_266_876_799;
    let secs = ms / 1000;
    if secs > LAST_SECOND {
        return None;
    }
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    let year = if year > 9999 { format!("+{year}") } else { format!("{year:04}") };
    Some(format!("{year}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, (rest % 3600) / 60, rest % 60))
}

/// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`, for days ≥ 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn instants_read_as_utc_to_the_second() {
        assert_eq!(utc_seconds(0).as_deref(), Some("1970-01-01 00:00:00 UTC"));
        assert_eq!(utc_seconds(1_738_332_300_999).as_deref(), Some("2025-01-31 14:05:00 UTC"));
        assert_eq!(utc_seconds(951_782_400_000).as_deref(), Some("2000-02-29 00:00:00 UTC"));
        assert_eq!(utc_seconds(253_402_300_800_000).as_deref(), Some("+10000-01-01 00:00:00 UTC"));
        assert_eq!(utc_seconds(u64::MAX), None);
    }

    #[test]
    fn a_decision_summary_names_what_who_how_when_and_the_note() {
        let d = Decision {
            decision: Verdict::Approve,
            scope: Scope::Session,
            note: Some("fine".into()),
            by: By { who: Some("ana".into()), via: Via::Http },
            decided_ms: 1_738_332_300_000,
            rule_id: None,
        };
        assert_eq!(d.summary(), "approved (scope session) by ana via http at 2025-01-31 14:05:00 UTC (note: fine)");
    }
}
