//! The thin glue between the guard and the engine: the manifest and the bindings of
//! `guard::check`, `guard::reset` and `guard::stats` to [`Sessions`].
//!
//! Rules it keeps:
//! - No decisions here: every handler locks the table, calls one method with the current
//!   instant and encodes the answer.
//! - The table is behind a `Mutex` because the SDK may run handlers concurrently; a poisoned
//!   lock is recovered, never a panic (a guard that takes a worker down would stop every turn).
//! - The limits are read from the environment before the worker connects, so a bad value stops
//!   it with a message naming the variable.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use agentos_kit::{III, RestartPolicy, WorkerError, WorkerManifest, register_typed};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{CheckRequest, GuardError, Limits, SessionRequest, Sessions};

/// The loop-guard worker's manifest; `workers/loop-guard/iii.worker.yaml` mirrors it.
pub static MANIFEST: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "loop-guard",
    description: "The loop guard: catches the same tool call repeated, A-B-A-B cycles and runaway turns; warns, then blocks with a message the model sees.",
    functions: vec!["guard::check", "guard::reset", "guard::stats"],
    http_routes: vec![],
    depends_on: &[],
    restart: RestartPolicy::Always,
});

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
    agentos_kit::run_worker(&MANIFEST, |iii| register(iii, limits))
}

/// Registers `guard::check`, `guard::reset` and `guard::stats` on `iii`, over one in-memory
/// session table judged by `limits`.
pub fn register(iii: &III, limits: Limits) {
    let table = Arc::new(Mutex::new(Sessions::default()));

    bind(
        iii,
        &table,
        "guard::check",
        "Before a tool call: {session_id, turn_id?, function_id, arguments} -> {action: allow|warn|block, reason?, rule?}.",
        move |sessions, req: CheckRequest| {
            let verdict = sessions.check(req, &limits, Instant::now());
            if let Ok(v) = &verdict
                && let Some(rule) = v.rule
            {
                tracing::info!(action = ?v.action, ?rule, "loop guard fired");
            }
            verdict
        },
    );
    bind(
        iii,
        &table,
        "guard::reset",
        "Drops a session's call history: {session_id} -> {reset: true}.",
        |sessions, req: SessionRequest| sessions.reset(&req, Instant::now()),
    );
    bind(
        iii,
        &table,
        "guard::stats",
        "A session's verdict counts: {session_id} -> {tracked, turn_id?, turns, turn, total}.",
        |sessions, req: SessionRequest| sessions.stats(&req, Instant::now()),
    );
}

/// Registers `id` as `f` over the shared table. The guard decides synchronously, so the
/// handler's future is already finished when the kit's adapter polls it.
fn bind<Req, Resp, F>(iii: &III, table: &Arc<Mutex<Sessions>>, id: &str, description: &str, f: F)
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
    F: Fn(&mut Sessions, Req) -> Result<Resp, GuardError> + Send + Sync + 'static,
{
    let table = Arc::clone(table);
    register_typed(iii, id, description, move |req: Req| {
        std::future::ready(f(&mut lock(&table), req).map_err(WorkerError::from))
    });
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
