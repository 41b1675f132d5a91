//! No orphaned work: a turn whose process or engine went away leaves no session `active` or
//! `waiting_approval` and no approval request anyone could still approve.
//!
//! Two things end turns without their finishing: agent-core itself stopping (a crash, `kill -9`)
//! and the engine restarting under a running agent-core (every call in flight is lost with it).
//! For the first, agent-core [`settle`]s when it starts: every session left running before its
//! start becomes `failed` (`session::fail_running`) and the pending approvals of those sessions
//! are expired (`approval::expire_turn`). For the second, the lifeline ([`crate::lifeline`])
//! notices the engine going away; every turn running then ends at once with
//! [`engine_lost`] (the turn's own error path fails its session and expires its approvals), and
//! once the engine is back the same [`settle`] catches what those could not reach.
//!
//! Rules it keeps:
//! - Only sessions last changed before the moment the work was lost are touched: a turn that
//!   started since is alive.
//! - Settling waits for the workers it needs (they may be starting alongside agent-core) and
//!   gives up, logged, after [`SETTLE_FOR`]; a retry never undoes what an earlier try did.

use std::time::{Duration, Instant};

use agentos_kit::{WorkerError, codes};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::turn::{Bus, QUICK, call_as};

/// The code a turn fails with when the work under it was lost (stored as the session's
/// `last_error`).
pub use agentos_kit::codes::TURN_INTERRUPTED;

/// Why the turns running when agent-core stopped are gone.
pub const AGENT_CORE_RESTARTED: &str =
    "agent-core stopped while the turn ran (it crashed or was killed) and was restarted; send the message again";

/// Why the turns running when the engine went away are gone.
pub const ENGINE_RESTARTED: &str =
    "the engine restarted while the turn ran, so the turn's calls were lost; send the message again";

/// Why a request waiting on a turn cut short by an agent-core restart expired.
pub const AGENT_CORE_GONE: &str = "agent-core restarted while it waited";

/// Why a request waiting on a turn cut short by an engine restart expired.
pub const ENGINE_GONE: &str = "the engine restarted while it waited";

/// How long settling keeps trying while the workers it needs are not there: the supervisor
/// starts every worker within seconds, and a restart backoff reaches 30 s at worst.
pub const SETTLE_FOR: Duration = Duration::from_secs(120);

/// The pause between two tries.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// The error of a turn that lost the engine under it.
pub fn engine_lost() -> WorkerError {
    WorkerError::new(TURN_INTERRUPTED, ENGINE_RESTARTED)
}

/// Whether a failed call may succeed if tried again: its worker is starting or restarting, or
/// the engine is reconnecting.
pub fn retryable(e: &WorkerError) -> bool {
    matches!(e.code.as_str(), "function_not_found" | "invocation_stopped" | codes::ENGINE_UNAVAILABLE | codes::TIMEOUT)
}

/// The next pause before trying again after `e`, `waited` into settling; `None` to give up.
pub fn retry_after(e: &WorkerError, waited: Duration) -> Option<Duration> {
    (retryable(e) && waited < SETTLE_FOR).then_some(RETRY_PAUSE)
}

/// What `session::fail_running` answers (only what settling needs).
#[derive(Debug, Clone, Deserialize)]
struct FailedSessions {
    sessions: Vec<FailedSession>,
}

#[derive(Debug, Clone, Deserialize)]
struct FailedSession {
    id: String,
}

/// What settling did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// The sessions marked `failed`.
    pub sessions: Vec<String>,
    /// How many approval requests were expired.
    pub expired: usize,
}

/// Fails every session left running before `before_ms` with `reason` and expires the pending
/// approvals of each with `approval_reason`, waiting for session-lifecycle and approval when
/// they are not up yet.
pub async fn settle<B: Bus>(
    bus: &B,
    before_ms: u64,
    reason: &str,
    approval_reason: &str,
) -> Result<Settled, WorkerError> {
    let started = Instant::now();
    let input = json!({"before_ms": before_ms, "error": {"code": TURN_INTERRUPTED, "message": reason}});
    let failed: FailedSessions =
        retrying(started, || call_as(bus, "session::fail_running", input.clone(), QUICK)).await?;
    let mut settled = Settled { sessions: failed.sessions.into_iter().map(|s| s.id).collect(), expired: 0 };
    for session_id in &settled.sessions {
        settled.expired += expire(bus, started, session_id, None, approval_reason).await?;
    }
    Ok(settled)
}

/// Expires the pending approvals of `session_id` (of `turn_id` only, when given); how many.
pub async fn expire<B: Bus>(
    bus: &B,
    started: Instant,
    session_id: &str,
    turn_id: Option<&str>,
    reason: &str,
) -> Result<usize, WorkerError> {
    let input = json!({"session_id": session_id, "turn_id": turn_id, "reason": reason});
    let expired: Value = retrying(started, || bus.call("approval::expire_turn", input.clone(), QUICK)).await?;
    Ok(expired["expired"].as_array().map_or(0, Vec::len))
}

/// `attempt` until it succeeds, fails for good, or [`SETTLE_FOR`] has passed since `started`.
async fn retrying<T, F, Fut>(started: Instant, attempt: F) -> Result<T, WorkerError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, WorkerError>>,
{
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) => match retry_after(&e, started.elapsed()) {
                Some(pause) => tokio::time::sleep(pause).await,
                None => return Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_worker_or_engine_that_is_coming_back_is_waited_for_and_not_for_ever() {
        let starting = WorkerError::new("function_not_found", "session::fail_running not found");
        assert_eq!(retry_after(&starting, Duration::ZERO), Some(RETRY_PAUSE));
        assert_eq!(
            retry_after(&WorkerError::new("invocation_stopped", "gone"), Duration::from_secs(5)),
            Some(RETRY_PAUSE)
        );
        assert_eq!(retry_after(&starting, SETTLE_FOR), None);
        assert_eq!(retry_after(&WorkerError::invalid_input("bad"), Duration::ZERO), None);
    }
}
