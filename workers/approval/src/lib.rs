//! agentos-worker-approval: the human gate
//! (`approval::request|decide|get|list|wait|expire_turn|rules|delete_rule`).
//!
//! When approval-tiers classifies a tool call as `ask`, agent-core files a [`Request`] here and
//! waits on it; a person approves or denies it from the CLI, the dashboard or the REST API. This
//! crate root holds the records, the typed requests and the pure decisions over them
//! ([`new_request`], [`check_pending_limit`], [`decide`], [`expire_gone`], [`granted`],
//! [`remembered`], [`listing`], [`history_to_prune`]); [`diff`] builds the diff a `code::write_file` request
//! shows; [`service`] is the driver over the engine (state, the expiry timer, waiting, events)
//! and [`register()`] binds it all to the engine.
//!
//! Rules it keeps:
//! - Requests live in the engine's state (scope [`REQUESTS_SCOPE`], key = request id), pending
//!   and decided alike, so they survive a restart of this worker; the newest
//!   [`HISTORY_LIMIT`] decided ones are kept.
//! - The first decision wins: decisions are serialised in the process (one mutex) and a second
//!   one is `CONFLICT` naming the first.
//! - A request nobody decides is denied when its `expires_ms` passes (`by.via = "timeout"`),
//!   whether or not anyone waits on it and across restarts (a sweep at start, then a timer).
//! - Approving with scope `session` stores a grant, with scope `always` a remembered rule for
//!   the identical call; approval-tiers reads both ([`agentos_worker_approval_tiers::remembered`]).
//! - A request outlives no turn: when the turn waiting on it is gone (agent-core or the engine
//!   restarted under it), `approval::expire_turn` expires it ([`expire_gone`]: denied, nothing
//!   ran), and deciding it afterwards is `TURN_GONE` (409), never a false `approved`. Before a
//!   decision on a request that names its turn, agent-core is asked whether the turn still runs
//!   (`agent::running`); one that does not is expired then and there ([`gone_from`]).
//! - Every request and decision is published on the topic [`EVENTS_TOPIC`] as
//!   `{"event": "approval_requested"|"approval_decided", "data": Request}` for live inboxes.

pub mod diff;
mod error;
pub mod register;
pub mod service;

use std::time::Duration;

use agentos_worker_approval_tiers::{AlwaysRule, By, MatchedRule, SessionGrant, Tier, Via, always_rule_id, canonical};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use error::{ApprovalError, TOO_MANY_PENDING, TURN_GONE, http_status};
pub use register::{MANIFEST, register, run, worker};
pub use service::{Approvals, Config};

/// The state scope of approval requests, keyed by request id.
pub const REQUESTS_SCOPE: &str = "approval:requests";

/// The pub/sub topic every request and decision is published on.
pub const EVENTS_TOPIC: &str = "agentos.events";

/// How many decided requests are kept as history: enough for weeks of a busy session's
/// decisions in `agentos approvals --all`, few enough that listing them stays cheap.
pub const HISTORY_LIMIT: usize = 500;

/// A request, its status and decision, and how far a decision reaches: the approval contract,
/// shared with every client.
pub use agentos_protocol::approval::{Decision, Request, Scope, Status, Verdict};

/// `approval::request`: a call that needs a person's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// The session whose turn waits.
    pub session_id: String,
    /// The function the model wants to call.
    pub function_id: String,
    /// Its arguments.
    #[serde(default)]
    pub arguments: Value,
    /// The tier approval-tiers gave (`ask`).
    pub tier: Tier,
    /// The rule that gave it.
    pub rule: MatchedRule,
    /// Why, in the caller's words.
    #[serde(default)]
    pub reason: Option<String>,
    /// The agent.
    #[serde(default)]
    pub agent: Option<String>,
    /// The hand.
    #[serde(default)]
    pub hand: Option<String>,
    /// The realm.
    #[serde(default)]
    pub realm: Option<String>,
    /// The tool call it gates.
    #[serde(default)]
    pub tool_call_id: Option<String>,
    /// The turn that waits on it.
    #[serde(default)]
    pub turn_id: Option<String>,
}

/// `approval::expire_turn`: the turn waiting on a session's requests is gone (agent-core or the
/// engine restarted under it); its pending requests are expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpireTurn {
    /// The session whose turn is gone.
    pub session_id: String,
    /// Only this turn's requests; every pending request of the session when left out.
    #[serde(default)]
    pub turn_id: Option<String>,
    /// Why the turn is gone, in words a person reads (`agent-core restarted while it waited`).
    pub reason: String,
}

/// What `approval::expire_turn` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expired {
    /// The requests it expired, as they are now.
    pub expired: Vec<Request>,
}

/// `approval::decide`: a person's answer to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decide {
    /// The request.
    pub id: String,
    /// `approve` or `deny`.
    pub decision: Verdict,
    /// How far an approval reaches; `once` when left out.
    #[serde(default)]
    pub scope: Scope,
    /// A note (shown to the model on a denial).
    #[serde(default)]
    pub note: Option<String>,
    /// Who decides, through what; `{via: "http"}` when left out.
    #[serde(default)]
    pub by: Option<By>,
}

/// The body of `POST /v1/approvals/:id`: [`Decide`] without the id (the approval contract).
pub use agentos_protocol::approval::DecideBody;

/// `approval::get` and `approval::delete_rule`: one id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Id {
    /// The id.
    pub id: String,
}

/// `approval::wait`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    /// The request.
    pub id: String,
    /// How long to wait at most, in milliseconds: 30 000 when left out, at most 60 000.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// `approval::list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    /// Include decided requests.
    #[serde(default)]
    pub all: bool,
    /// Only this session's.
    #[serde(default)]
    pub session_id: Option<String>,
}

/// `approval::rules`: no arguments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// What `approval::list`, `approval::rules` and `approval::delete_rule` answer (the approval
/// contract).
pub use agentos_protocol::approval::{Deleted, Listing, Remembered};

/// The prefix of a grant's id in [`Remembered`] answers and `delete_rule` (`grant:<session>`),
/// the same id approval-tiers names in a classification.
pub const GRANT_PREFIX: &str = "grant:";

/// The default `wait` timeout: long enough that a waiting turn makes few calls, short enough
/// that a restarted approval worker is noticed within half a minute.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// The longest one `wait` call blocks; the caller asks again (agent-core loops).
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// How long `wait` blocks for `timeout_ms`.
pub fn wait_for(timeout_ms: Option<u64>) -> Duration {
    timeout_ms.map_or(DEFAULT_WAIT, Duration::from_millis).min(MAX_WAIT)
}

/// Checks `req` and makes the pending [`Request`] `id` of it at `now_ms`, expiring after
/// `timeout`, with `diff`.
pub fn new_request(
    id: String,
    req: NewRequest,
    now_ms: u64,
    timeout: Duration,
    diff: Option<String>,
) -> Result<Request, ApprovalError> {
    check_new(&req)?;
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    Ok(Request {
        id,
        status: Status::Pending,
        created_ms: now_ms,
        expires_ms: now_ms.saturating_add(timeout_ms),
        session_id: req.session_id,
        agent: req.agent,
        hand: req.hand,
        realm: req.realm,
        function_id: req.function_id,
        arguments: if req.arguments.is_null() { Value::Object(serde_json::Map::new()) } else { req.arguments },
        reason: req.reason,
        tier: req.tier,
        rule: req.rule,
        tool_call_id: req.tool_call_id,
        turn_id: req.turn_id,
        turn_gone: None,
        diff,
        decision: None,
    })
}

/// What is wrong with a new request, if anything.
pub fn check_new(req: &NewRequest) -> Result<(), ApprovalError> {
    if req.session_id.trim().is_empty() {
        return Err(ApprovalError::InvalidInput(
            "approval::request: session_id is empty; send the session whose turn waits on the decision".into(),
        ));
    }
    if req.function_id.trim().is_empty() {
        return Err(ApprovalError::InvalidInput(
            "approval::request: function_id is empty; send the function the model wants to call".into(),
        ));
    }
    if req.tier != Tier::Ask {
        return Err(ApprovalError::InvalidInput(format!(
            "approval::request: tier is {}, but only ask calls need a person (auto calls run, deny calls never run); send the tier approval::classify gave",
            req.tier.as_str()
        )));
    }
    Ok(())
}

/// Who the pending limit counts for: the agent in its realm, else the session.
pub fn pending_owner(agent: Option<&str>, realm: Option<&str>, session_id: &str) -> String {
    match agent {
        Some(agent) => format!("agent {agent} in realm {}", realm.unwrap_or("default")),
        None => format!("session {session_id}"),
    }
}

/// `TOO_MANY_PENDING` when the owner of `req` already has `max` pending requests in `existing`.
pub fn check_pending_limit(existing: &[Request], req: &NewRequest, max: usize) -> Result<(), ApprovalError> {
    let owner = pending_owner(req.agent.as_deref(), req.realm.as_deref(), &req.session_id);
    let mut pending: Vec<&Request> = existing
        .iter()
        .filter(|r| r.status == Status::Pending)
        .filter(|r| pending_owner(r.agent.as_deref(), r.realm.as_deref(), &r.session_id) == owner)
        .collect();
    if pending.len() < max {
        return Ok(());
    }
    pending.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
    Err(ApprovalError::TooManyPending { who: owner, pending: pending.iter().map(|r| r.id.clone()).collect() })
}

/// The request decided as `input` says at `now_ms`, or `CONFLICT` naming the first decision.
/// A denial reaches only this call: `session` or `always` with `deny` is `INVALID_INPUT`.
/// An `always` approval names the rule it makes ([`always_rule_id`]).
pub fn decide(request: &Request, input: &Decide, now_ms: u64) -> Result<Request, ApprovalError> {
    if let Some(reason) = &request.turn_gone {
        return Err(ApprovalError::TurnGone { id: request.id.clone(), reason: reason.clone() });
    }
    if let Some(first) = &request.decision {
        return Err(ApprovalError::AlreadyDecided { id: request.id.clone(), decision: Box::new(first.clone()) });
    }
    if input.decision == Verdict::Deny && input.scope != Scope::Once {
        return Err(ApprovalError::InvalidInput(format!(
            "scope {} applies to approvals only; a denial is for this call alone, so send scope once (or leave it out)",
            input.scope.as_str()
        )));
    }
    let by = input.by.clone().unwrap_or(By { who: None, via: Via::Http });
    let rule_id = (input.decision == Verdict::Approve && input.scope == Scope::Always)
        .then(|| always_rule_id(&request.function_id, &request.arguments));
    let note = input.note.clone().filter(|n| !n.trim().is_empty());
    let mut decided = request.clone();
    decided.status = match input.decision {
        Verdict::Approve => Status::Approved,
        Verdict::Deny => Status::Denied,
    };
    decided.decision =
        Some(Decision { decision: input.decision, scope: input.scope, note, by, decided_ms: now_ms, rule_id });
    Ok(decided)
}

/// Whether `request` is one `approval::expire_turn` for `session_id` (and `turn_id`, when
/// given) expires: it is pending and waits on that session's (that turn's) turn.
pub fn waits_on(request: &Request, session_id: &str, turn_id: Option<&str>) -> bool {
    request.status == Status::Pending
        && request.session_id == session_id
        && turn_id.is_none_or(|t| request.turn_id.as_deref() == Some(t))
}

/// `request` expired at `now_ms` because its turn is gone for `reason`: denied (nothing runs),
/// decided by nobody (`by.via = "timeout"`), with `turn_gone` set so a later decision is
/// `TURN_GONE`. A request already decided is left as it is (`None`).
pub fn expire_gone(request: &Request, reason: &str, now_ms: u64) -> Option<Request> {
    if request.decision.is_some() {
        return None;
    }
    let mut expired = request.clone();
    expired.status = Status::Denied;
    expired.turn_gone = Some(reason.to_string());
    expired.decision = Some(Decision {
        decision: Verdict::Deny,
        scope: Scope::Once,
        note: Some(format!("expired: the turn that waited on it is gone ({reason}); nothing ran")),
        by: By { who: None, via: Via::Timeout },
        decided_ms: now_ms,
        rule_id: None,
    });
    Some(expired)
}

/// Why a pending request's turn is gone, from agent-core's answer to `agent::running` for its
/// session: `Ok(running)`, or the error code of the call. `None` when the turn may still wait
/// (it runs, or agent-core could not say: a slow answer is no proof of death).
pub fn gone_from(answer: Result<bool, &str>) -> Option<&'static str> {
    match answer {
        Ok(false) => Some("agent-core no longer runs the turn that waited"),
        Err("function_not_found" | "invocation_stopped") => Some("agent-core is not running, so its turn is gone"),
        _ => None,
    }
}

/// The decision a request gets when its time is up.
pub fn timeout_decision(request: &Request, timeout: Duration) -> Decide {
    Decide {
        id: request.id.clone(),
        decision: Verdict::Deny,
        scope: Scope::Once,
        note: Some(format!("nobody decided within {}", spoken(timeout))),
        by: Some(By { who: None, via: Via::Timeout }),
    }
}

/// `300 s`, or `400 ms` for less than whole seconds.
fn spoken(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// The decision to apply to `stored` at `now_ms`: `input`, unless the request is still pending
/// past its expiry and `input` is not already the timeout's, in which case the timeout decides
/// first (`true`: the caller's decision came too late).
pub fn overdue(stored: &Request, input: Decide, now_ms: u64, timeout: Duration) -> (Decide, bool) {
    let from_timeout = input.by.as_ref().is_some_and(|b| b.via == Via::Timeout);
    if stored.decision.is_none() && now_ms >= stored.expires_ms && !from_timeout {
        (timeout_decision(stored, timeout), true)
    } else {
        (input, false)
    }
}

/// The session grant after approving `function_id` for the rest of `session_id`: `existing`
/// (if any) with the function added, kept sorted and without duplicates.
pub fn granted(existing: Option<SessionGrant>, session_id: &str, function_id: &str, now_ms: u64) -> SessionGrant {
    let mut functions = existing.map(|g| g.functions).unwrap_or_default();
    functions.push(function_id.to_string());
    functions.sort();
    functions.dedup();
    SessionGrant { session_id: session_id.to_string(), functions, updated_ms: now_ms }
}

/// The remembered rule an `always` approval of `decided` makes.
pub fn remembered(decided: &Request) -> Option<AlwaysRule> {
    let decision = decided.decision.as_ref()?;
    let id = decision.rule_id.clone()?;
    Some(AlwaysRule {
        id,
        function_id: decided.function_id.clone(),
        arguments: canonical(&decided.arguments),
        created_ms: decision.decided_ms,
        by: decision.by.clone(),
        from_request: decided.id.clone(),
    })
}

/// The requests an `approval::list` shows: pending ones (and decided ones with `all`), of
/// `session_id` when given; pending first, then newest first.
pub fn listing(mut requests: Vec<Request>, all: bool, session_id: Option<&str>) -> Vec<Request> {
    requests.retain(|r| (all || r.status == Status::Pending) && session_id.is_none_or(|s| r.session_id == s));
    requests.sort_by(|a, b| {
        let rank = |r: &Request| u8::from(r.status != Status::Pending);
        rank(a).cmp(&rank(b)).then(b.created_ms.cmp(&a.created_ms)).then(b.id.cmp(&a.id))
    });
    requests
}

/// The ids of the decided requests beyond the newest `keep` (by decision time), to delete.
pub fn history_to_prune(requests: &[Request], keep: usize) -> Vec<String> {
    let mut decided: Vec<(u64, &str)> =
        requests.iter().filter_map(|r| r.decision.as_ref().map(|d| (d.decided_ms, r.id.as_str()))).collect();
    decided.sort_by(|a, b| b.cmp(a));
    decided.into_iter().skip(keep).map(|(_, id)| id.to_string()).collect()
}

/// A new request id: `apr-` and 12 hex digits (48 random bits: unique among the few thousand
/// requests a stack keeps, and short enough to type).
pub fn new_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("apr-{}", hex.get(..12).unwrap_or(&hex))
}

#[cfg(test)]
mod tests;
