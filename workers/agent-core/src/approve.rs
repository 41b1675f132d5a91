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

use std::time::{Duration, Instant};

use agentos_kit::WorkerError;
use agentos_protocol::approval::Request;
use agentos_protocol::chat::ChatEvent;
use agentos_protocol::replay::{ApprovalDecided, ApprovalRequested, Decider, Step};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::interrupt::{self, Cancel};
use crate::record::Recorder;
use crate::settings::Settings;
use crate::turn::{Bus, Events, QUICK, TurnContext, set_state};

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

/// Decides whether `function_id` with `arguments` may run now, from the policy's answer
/// `classified`, asking a person when the policy says so.
#[allow(clippy::too_many_arguments)]
pub async fn gate<B: Bus, E: Events>(
    bus: &B,
    events: &mut E,
    rec: &mut Recorder,
    settings: &Settings,
    ctx: &TurnContext,
    function_id: &str,
    arguments: &Value,
    classified: Result<Value, WorkerError>,
    cancel: &Cancel,
) -> Gate {
    let classified = match classified {
        Ok(v) => v,
        Err(e) if e.code == "function_not_found" => return allow_list(settings, function_id),
        Err(e) => {
            return Gate::Denied(format!("the approval policy could not classify this call ({e}), so it was not made"));
        }
    };
    let tier = classified["tier"].as_str().unwrap_or("ask");
    let rule = classified.get("rule").cloned().unwrap_or(Value::Null);
    match tier {
        "auto" => Gate::Run,
        "deny" => Gate::Denied(format!(
            "denied by the approval policy: {} (rule {})",
            classified["reason"].as_str().unwrap_or("this call is not allowed"),
            rule_name(&rule)
        )),
        _ => ask(bus, events, rec, ctx, function_id, arguments, &classified, cancel).await,
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

#[allow(clippy::too_many_arguments)]
async fn ask<B: Bus, E: Events>(
    bus: &B,
    events: &mut E,
    rec: &mut Recorder,
    ctx: &TurnContext,
    function_id: &str,
    arguments: &Value,
    classified: &Value,
    cancel: &Cancel,
) -> Gate {
    let input = json!({
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
    });
    let request = match bus.call("approval::request", input, QUICK).await {
        Ok(r) => r,
        Err(e) => return Gate::Denied(format!("approval could not be requested ({e}), so the call was not made")),
    };
    let Some(id) = request["id"].as_str().map(str::to_string) else {
        return Gate::Denied("the approval worker answered without a request id".to_string());
    };
    events.send(approval_event("approval_requested", &request, ChatEvent::ApprovalRequested)).await;
    let asked = ApprovalRequested {
        approval_id: id.clone(),
        function_id: function_id.to_string(),
        tier: classified["tier"].clone(),
        rule: classified["rule"].clone(),
    };
    rec.record(bus, Step::ApprovalRequested(asked), None);
    set_state(bus, &ctx.session_id, "waiting_approval", None).await;
    let started = Instant::now();
    let decided = tokio::select! {
        biased;
        () = cancel.fired() => None,
        decided = wait(bus, &id, expiry_of(&request)) => Some(decided),
    };
    let interrupted = decided.is_none();
    let decided = match decided {
        Some(decided) => decided,
        None => deny_interrupted(bus, &id, cancel).await,
    };
    set_state(bus, &ctx.session_id, "active", None).await;
    let (gate, decision) = match decided {
        Ok(decided) => {
            events.send(approval_event("approval_decided", &decided, ChatEvent::ApprovalDecided)).await;
            let decision = decided.get("decision").cloned().unwrap_or(Value::Null);
            (verdict(&decision), decision)
        }
        Err(e) => (
            Gate::Denied(format!("no decision could be obtained ({e}), so the call was not made")),
            json!({"decision": "none", "scope": null, "note": e.to_string(), "by": "agent-core"}),
        ),
    };
    let gate = if interrupted {
        Gate::Denied("the turn was interrupted while this call waited for approval".to_string())
    } else {
        gate
    };
    rec.record(bus, Step::ApprovalDecided(decided_step(&id, &decision)), Some(started));
    gate
}

/// The `approval_decided` step of request `id` for `decision` (`{decision, scope, note?, by}`).
fn decided_step(id: &str, decision: &Value) -> ApprovalDecided {
    let text = |key: &str| decision[key].as_str().map(str::to_string);
    ApprovalDecided {
        approval_id: id.to_string(),
        decision: text("decision").unwrap_or_default(),
        scope: text("scope"),
        note: text("note"),
        by: Some(&decision["by"]).filter(|by| !by.is_null()).and_then(|by| Decider::deserialize(by).ok()),
    }
}

/// The `approval_requested` / `approval_decided` event for a request as the approval worker
/// answered it. A request this build cannot read still goes out as it came, under its name (the
/// watchers read it or show it), and the mismatch is logged.
fn approval_event(name: &str, request: &Value, typed: fn(Box<Request>) -> ChatEvent) -> ChatEvent {
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
async fn deny_interrupted<B: Bus>(bus: &B, id: &str, cancel: &Cancel) -> Result<Value, WorkerError> {
    let via = cancel.via().unwrap_or_else(|| interrupt::DEFAULT_VIA.as_str().to_string());
    let input = json!({"id": id, "decision": "deny", "note": interrupt::APPROVAL_NOTE, "by": {"via": via}});
    match bus.call("approval::decide", input, QUICK).await {
        Err(e) if e.code == agentos_kit::codes::CONFLICT => bus.call("approval::get", json!({"id": id}), QUICK).await,
        other => other,
    }
}

/// The gate for a decision `{decision: approve|deny, scope?, note?, by?}`.
fn verdict(decision: &Value) -> Gate {
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
fn expiry_of(request: &Value) -> Instant {
    let now_ms = agentos_kit::clock::now_ms();
    let left = match request["expires_ms"].as_u64() {
        Some(expires) => Duration::from_millis(expires.saturating_sub(now_ms)),
        None => Duration::from_secs(600),
    };
    Instant::now() + left + EXPIRY_GRACE
}

/// Waits for request `id` to be decided, asking again while the approval worker is away.
async fn wait<B: Bus>(bus: &B, id: &str, deadline: Instant) -> Result<Value, WorkerError> {
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
