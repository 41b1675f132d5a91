//! The automatic `<name>::health` function every worker registers.
//!
//! Rule: health answers at once from memory (no IO, no calls), so "live" means the worker's
//! connection and handler loop work, and a slow dependency never makes it look dead. The
//! supervisor calls it with a short timeout; the Workers pane shows its answer.

use std::time::Instant;

use iii_sdk::{FunctionRef, III, RegisterFunctionMessage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::manifest::WorkerManifest;

/// What `<name>::health` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"` when the worker answers at all.
    pub status: String,
    /// The worker's name.
    pub worker: String,
    /// The agentos version (one version for every crate in the workspace).
    pub version: String,
    /// Milliseconds since the health function was registered (roughly, since the worker started).
    pub uptime_ms: u64,
    /// The worker's process id.
    pub pid: u32,
}

/// Registers `<name>::health` on `iii`. Uptime counts from this call.
pub fn register_health(iii: &III, name: &str) -> FunctionRef {
    let started = Instant::now();
    let worker = name.to_string();
    let message = RegisterFunctionMessage::with_id(format!("{name}::health"))
        .with_description(format!("Liveness of the {name} worker: status, version, uptime and pid."));
    iii.register_function_with(message, move |_input: Value| {
        let health = Health {
            status: "ok".to_string(),
            worker: worker.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            pid: std::process::id(),
        };
        async move { Ok(serde_json::to_value(health)?) }
    })
}

/// Registers the health function of `manifest` ([`WorkerManifest::health_function_id`]).
pub fn register_manifest_health(iii: &III, manifest: &WorkerManifest) -> FunctionRef {
    register_health(iii, manifest.name)
}
