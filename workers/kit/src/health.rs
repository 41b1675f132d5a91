//! The automatic `<name>::health` function every worker registers.
//!
//! Rule: health answers at once from memory (no IO, no calls), so "live" means the worker's
//! connection and handler loop work, and a slow dependency never makes it look dead. The
//! supervisor calls it with a short timeout; the Workers pane shows its answer.
//!
//! A worker that runs but cannot do its job (a model file missing, say) stays live and reports
//! it: it keeps a [`HealthStatus`] handle, sets a problem there when it finds one, and health
//! answers `"degraded"` with that problem (which names the fix) until the worker clears it.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use iii_sdk::{FunctionRef, III, RegisterFunctionMessage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::manifest::WorkerManifest;

/// [`Health::status`] of a worker that can do its job.
pub const OK: &str = "ok";

/// [`Health::status`] of a worker that runs but reports a problem ([`Health::problem`]).
pub const DEGRADED: &str = "degraded";

/// A worker's own word on whether it can do its job, shared between the worker (which sets and
/// clears a problem) and its health function (which reads it). Cloning shares the same status;
/// the default is healthy.
#[derive(Debug, Clone, Default)]
pub struct HealthStatus {
    problem: Arc<RwLock<Option<String>>>,
}

impl HealthStatus {
    /// A healthy status.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reports a problem: health answers `"degraded"` with `problem`, which should name the fix.
    pub fn degrade(&self, problem: impl Into<String>) {
        *self.problem.write().unwrap_or_else(PoisonError::into_inner) = Some(problem.into());
    }

    /// Clears the problem: health answers `"ok"` again.
    pub fn recover(&self) {
        *self.problem.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The current problem, if any.
    pub fn problem(&self) -> Option<String> {
        self.problem.read().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// What `<name>::health` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// [`OK`], or [`DEGRADED`] when the worker reported a problem through its [`HealthStatus`].
    pub status: String,
    /// The worker's name.
    pub worker: String,
    /// The agentos version (one version for every crate in the workspace).
    pub version: String,
    /// Milliseconds since the health function was registered (roughly, since the worker started).
    pub uptime_ms: u64,
    /// The worker's process id.
    pub pid: u32,
    /// What keeps a degraded worker from doing its job, and how to fix it; absent when `"ok"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Registers `<name>::health` on `iii`, always `"ok"`. Uptime counts from this call.
pub fn register_health(iii: &III, name: &str) -> FunctionRef {
    register_health_with(iii, name, HealthStatus::default())
}

/// Registers `<name>::health` on `iii`, answering from `status`. Uptime counts from this call.
pub fn register_health_with(iii: &III, name: &str, status: HealthStatus) -> FunctionRef {
    let started = Instant::now();
    let worker = name.to_string();
    let message = RegisterFunctionMessage::with_id(format!("{name}::health"))
        .with_description(format!("Liveness of the {name} worker: status, version, uptime and pid."));
    iii.register_function_with(message, move |_input: Value| {
        let problem = status.problem();
        let health = Health {
            status: if problem.is_some() { DEGRADED } else { OK }.to_string(),
            worker: worker.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            pid: std::process::id(),
            problem,
        };
        async move { Ok(serde_json::to_value(health)?) }
    })
}

/// Registers the health function of `manifest` ([`WorkerManifest::health_function_id`]).
pub fn register_manifest_health(iii: &III, manifest: &WorkerManifest) -> FunctionRef {
    register_health(iii, manifest.name)
}

/// Registers the health function of `manifest`, answering from `status`.
pub fn register_manifest_health_with(iii: &III, manifest: &WorkerManifest, status: HealthStatus) -> FunctionRef {
    register_health_with(iii, manifest.name, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_is_healthy_until_a_problem_is_reported_and_again_once_it_is_cleared() {
        let status = HealthStatus::new();
        let shared = status.clone();
        assert_eq!(status.problem(), None);
        shared.degrade("the model is missing; fix: agentos models install");
        assert_eq!(status.problem().as_deref(), Some("the model is missing; fix: agentos models install"));
        shared.recover();
        assert_eq!(status.problem(), None);
    }
}
