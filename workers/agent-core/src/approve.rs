//! The approval gate of a tool call: `approval::classify` says `auto`, `ask` or `deny`; `ask`
//! becomes a pending request (`approval::request`) that blocks the turn until a person decides
//! (`approval::wait`, from any surface: HTTP, CLI, TUI) or the request times out (denied).
//!
//! Rules it keeps:
//! - Fail closed: when the policy cannot be read or a request cannot be made, the call is not
//!   made and the model is told why. Only when no approval worker is registered at all does the
//!   `[agent] allow` list decide (a stack run without the approval workers).
//! - A restart of the approval worker while a turn waits is survived: the wait is asked again
//!   until the request's own deadline (pending requests live in engine state).
//! - An interrupted turn does not leave its request pending: the request is denied with
//!   [`interrupt::APPROVAL_NOTE`] (best effort: a decision that came first stands) and the call
//!   is not made, whatever the decision.
//! - The decisions here are pure ([`screen`], [`request_input`], [`verdict`]) and the turn's
//!   state machine takes them in order; the calls (`classify`, [`wait`], [`deny_interrupted`])
//!   are made by its driver.

use std::time::{Duration, Instant};

use agentos_kit::WorkerError;
use agentos_protocol::approval::Request;
use agentos_protocol::chat::ChatEvent;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::interrupt;
use crate::settings::Settings;
use crate::turn::{Bus, QUICK, TurnContext};

/// How long one `approval::wait` call may block before it is asked again.
const WAIT_SLICE: Duration = Duration::from_secs(30);

/// How long past a request's expiry the turn keeps asking (the approval worker decides expired
/// requests itself; this is for a worker that is down at that moment).
const EXPIRY_GRACE: Duration = Duration::from_secs(60);

/// A pause between two tries while the approval worker is away.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// What the gate decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Make the call.
    Run,
    /// Do not; the reason goes to the model.
    Denied(String),
}

/// `approval::classify` of a call: the policy's `{tier, rule, reason}`. Independent of the loop
/// guard, so the turn asks both at once.
pub async fn classify<B: Bus>(
    bus: &B,
    ctx: &TurnContext,
    function_id: &str,
    arguments: &Value,
) -> Result<Value, WorkerError> {
    let input = json!({
        "function_id": function_id,
        "arguments": arguments,
        "hand": ctx.hand,
        "session_id": ctx.session_id,
        "agent": ctx.agent,
        "realm": ctx.realm,
    });
    bus.call("approval::classify", input, QUICK).await
}

/// An approval tier, as the policy names it (`approval::classify`'s `tier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Runs without asking.
    Auto,
    /// A person decides.
    Ask,
    /// Never runs.
    Deny,
}

impl Tier {
    /// The tier of the policy's answer `classified`; anything but `auto` or `deny` asks a person.
    pub fn of(classified: &Value) -> Self {
        match classified["tier"].as_str() {
            Some("auto") => Self::Auto,
            Some("deny") => Self::Deny,
            _ => Self::Ask,
        }
    }
}

/// What the approval policy's answer makes of a call, before anyone is asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Screened {
    /// Decided without a person.
    Decided(Gate),
    /// A person decides; the policy's answer `{tier, rule, reason}` goes with the request.
    Ask(Value),
}

/// Whether `function_id` may run, from the policy's answer `classified`, or whether a person
/// must be asked.
pub fn screen(settings: &Settings, function_id: &str, classified: Result<Value, WorkerError>) -> Screened {
    let classified = match classified {
        Ok(v) => v,
        Err(e) if e.code == "function_not_found" => return Screened::Decided(allow_list(settings, function_id)),
        Err(e) => {
            return Screened::Decided(Gate::Denied(format!(
                "the approval policy could not classify this call ({e}), so it was not made"
            )));
        }
    };
    match Tier::of(&classified) {
        Tier::Auto => Screened::Decided(Gate::Run),
        Tier::Deny => {
            let rule = classified.get("rule").cloned().unwrap_or(Value::Null);
            Screened::Decided(Gate::Denied(format!(
                "denied by the approval policy: {} (rule {})",
                classified["reason"].as_str().unwrap_or("this call is not allowed"),
                rule_name(&rule)
            )))
        }
        Tier::Ask => Screened::Ask(classified),
    }
}

/// The `[agent] allow` list, for a stack without approval workers.
fn allow_list(settings: &Settings, function_id: &str) -> Gate {
    if settings.allows(function_id) {
        Gate::Run
    } else {
        Gate::Denied(format!(
            "{function_id} needs approval, no approval worker is running, and it is not on the allow-list; the person can allow it with `allow = [\"{function_id}\"]` under [agent] in agentos.toml"
        ))
    }
}

fn rule_name(rule: &Value) -> String {
    rule.get("id").and_then(Value::as_str).map_or_else(|| rule.to_string(), str::to_string)
}

/// The `approval::request` input for a call the policy `classified` as one to ask about.
pub fn request_input(ctx: &TurnContext, function_id: &str, arguments: &Value, classified: &Value) -> Value {
    json!({
        "session_id": ctx.session_id,
        "turn_id": ctx.turn_id,
        "function_id": function_id,
        "arguments": arguments,
        "tier": classified["tier"],
        "rule": classified["rule"],
        "reason": classified["reason"],
        "agent": ctx.agent,
        "hand": ctx.hand,
        "realm": ctx.realm,
    })
}

/// The `approval_requested` / `approval_decided` event for a request as the approval worker
/// answered it. A request this build cannot read still goes out as it came, under its name (the
/// watchers read it or show it), and the mismatch is logged.
pub(crate) fn approval_event(name: &str, request: &Value, typed: fn(Box<Request>) -> ChatEvent) -> ChatEvent {
    match Request::deserialize(request) {
        Ok(request) => typed(Box::new(request)),
        Err(e) => {
            tracing::warn!(
                event = name,
                "the approval worker answered a request this agent-core cannot read ({e}); it is sent as it came"
            );
            ChatEvent::Unknown { event: name.to_string(), data: request.clone() }
        }
    }
}

/// Denies request `id` because its turn was interrupted; the request as decided, whoever
/// decided it first (a `CONFLICT` is answered with the request as it stands).
pub async fn deny_interrupted<B: Bus>(bus: &B, id: &str, via: &str) -> Result<Value, WorkerError> {
    let input = json!({"id": id, "decision": "deny", "note": interrupt::APPROVAL_NOTE, "by": {"via": via}});
    match bus.call("approval::decide", input, QUICK).await {
        Err(e) if e.code == agentos_kit::codes::CONFLICT => bus.call("approval::get", json!({"id": id}), QUICK).await,
        other => other,
    }
}

/// The gate for a decision `{decision: approve|deny, scope?, note?, by?}`.
pub fn verdict(decision: &Value) -> Gate {
    if decision["decision"] == "approve" {
        return Gate::Run;
    }
    let who = match decision["by"]["via"].as_str() {
        Some("timeout") => "nobody decided in time; the request timed out".to_string(),
        Some(via) => format!("the person denied this call (via {via})"),
        None => "the person denied this call".to_string(),
    };
    match decision["note"].as_str().filter(|n| !n.trim().is_empty()) {
        Some(note) => Gate::Denied(format!("{who}. Their note: {note}")),
        None => Gate::Denied(format!("{who}.")),
    }
}

/// When to stop asking: the request's expiry plus a grace period, or 10 minutes when it names none.
pub fn expiry_of(request: &Value) -> Instant {
    let now_ms = agentos_kit::clock::now_ms();
    let left = match request["expires_ms"].as_u64() {
        Some(expires) => Duration::from_millis(expires.saturating_sub(now_ms)),
        None => Duration::from_secs(600),
    };
    Instant::now() + left + EXPIRY_GRACE
}

/// Waits for request `id` to be decided, asking again while the approval worker is away.
pub async fn wait<B: Bus>(bus: &B, id: &str, deadline: Instant) -> Result<Value, WorkerError> {
    loop {
        let slice = WAIT_SLICE.min(deadline.saturating_duration_since(Instant::now()));
        if slice.is_zero() {
            return Err(WorkerError::new(
                agentos_kit::codes::TIMEOUT,
                format!("approval {id} was not decided in time"),
            ));
        }
        let input = json!({"id": id, "timeout_ms": u64::try_from(slice.as_millis()).unwrap_or(u64::MAX)});
        match bus.call("approval::wait", input, slice + Duration::from_secs(10)).await {
            Ok(request) if request.get("decision").is_some_and(|d| !d.is_null()) => return Ok(request),
            Ok(_) => {}
            Err(e) if retryable(&e) => tokio::time::sleep(RETRY_PAUSE).await,
            Err(e) => return Err(e),
        }
    }
}

/// Errors of a worker that is restarting or an engine that is reconnecting.
fn retryable(e: &WorkerError) -> bool {
    matches!(e.code.as_str(), "function_not_found" | "invocation_stopped" | "ENGINE_UNAVAILABLE" | "TIMEOUT")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_decision_becomes_a_gate_with_the_note_for_the_model() {
        assert_eq!(verdict(&json!({"decision": "approve", "scope": "once"})), Gate::Run);
        assert_eq!(
            verdict(&json!({"decision": "deny", "note": "use the staging db", "by": {"via": "cli"}})),
            Gate::Denied("the person denied this call (via cli). Their note: use the staging db".into())
        );
        assert_eq!(
            verdict(&json!({"decision": "deny", "by": {"via": "timeout"}})),
            Gate::Denied("nobody decided in time; the request timed out.".into())
        );
    }
}
