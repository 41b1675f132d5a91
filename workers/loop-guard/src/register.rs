//! The thin glue between the guard and the engine: the declaration of `guard::check`,
//! `guard::reset` and `guard::stats` over [`Sessions`].
//!
//! Rules it keeps:
//! - No decisions here: every handler locks the table, calls one method with the current
//!   instant and encodes the answer.
//! - The table is behind a `Mutex` because the SDK may run handlers concurrently; a poisoned
//!   lock is recovered, never a panic (a guard that takes a worker down would stop every turn).
//! - The limits are read from the environment before the worker connects, so a bad value stops
//!   it with a message naming the variable.

use std::future::{Ready, ready};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use agentos_kit::{III, Worker, WorkerError, WorkerManifest};

use crate::{CheckRequest, GuardError, Limits, SessionRequest, Sessions};

/// The loop-guard worker's manifest, derived from [`worker`];
/// `workers/loop-guard/iii.worker.yaml` mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// The loop-guard worker's service: one in-memory session table judged by one set of limits.
#[derive(Debug, Clone)]
pub struct GuardService {
    /// Every session's guard, shared by every call.
    table: Arc<Mutex<Sessions>>,
    /// The thresholds every check is judged by.
    limits: Limits,
}

impl GuardService {
    /// An empty session table judged by `limits`.
    pub fn new(limits: Limits) -> Self {
        Self { table: Arc::new(Mutex::new(Sessions::default())), limits }
    }

    /// Runs `f` on the table. The guard decides synchronously, so the handler's future is
    /// already finished when the kit's adapter polls it.
    fn with<T>(&self, f: impl FnOnce(&mut Sessions, &Limits) -> T) -> Ready<T> {
        ready(f(&mut lock(&self.table), &self.limits))
    }
}

/// The loop-guard worker: `guard::check`, `guard::reset` and `guard::stats` over a [`GuardService`].
pub fn worker() -> Worker<GuardService, GuardError> {
    Worker::<GuardService, GuardError>::new(
        "loop-guard",
        "The loop guard: catches the same tool call repeated, A-B-A-B cycles and runaway turns; warns, then blocks with a message the model sees.",
    )
    .function(
        "guard::check",
        "Before a tool call: {session_id, turn_id?, function_id, arguments} -> {action: allow|warn|block, reason?, rule?}.",
        |s, req: CheckRequest| {
            s.with(|sessions, limits| {
                let verdict = sessions.check(req, limits, Instant::now());
                if let Ok(v) = &verdict
                    && let Some(rule) = v.rule
                {
                    tracing::info!(action = ?v.action, ?rule, "loop guard fired");
                }
                verdict
            })
        },
    )
    .function("guard::reset", "Drops a session's call history: {session_id} -> {reset: true}.", |s, req: SessionRequest| {
        s.with(|sessions, _| sessions.reset(&req, Instant::now()))
    })
    .function(
        "guard::stats",
        "A session's verdict counts: {session_id} -> {tracked, turn_id?, turns, turn, total}.",
        |s, req: SessionRequest| s.with(|sessions, _| sessions.stats(&req, Instant::now())),
    )
}

/// Runs the loop-guard worker as its own process until SIGTERM or SIGINT
/// (`agentos worker loop-guard`). Refuses to start, naming the variable, when a limit in the
/// environment is invalid.
pub fn run() -> Result<(), WorkerError> {
    let limits = Limits::from_env().map_err(|e| WorkerError::invalid_input(format!("{}: {e}", MANIFEST.name)))?;
    tracing::info!(
        worker = MANIFEST.name,
        repeat_warn = limits.repeat_warn,
        repeat_block = limits.repeat_block,
        max_calls = limits.max_calls,
        "loop guard limits"
    );
    worker().run(|_| Ok(GuardService::new(limits)))
}

/// Registers `guard::check`, `guard::reset` and `guard::stats` on `iii`, over one in-memory
/// session table judged by `limits`.
pub fn register(iii: &III, limits: Limits) {
    worker().register(iii, GuardService::new(limits), None);
}

/// The table, recovered if a handler panicked while holding it: the worst a half-done check
/// leaves behind is one session's history one call off.
fn lock(table: &Mutex<Sessions>) -> MutexGuard<'_, Sessions> {
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn every_verb_of_the_issue_is_a_function() {
        assert_eq!(MANIFEST.functions, &["guard::check", "guard::reset", "guard::stats"]);
    }
}
