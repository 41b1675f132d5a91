//! Running one worker as its own process: `agentos worker <name>` ends up here.
//!
//! Rules it keeps:
//! - A worker connects to [`crate::engine_url`] under its manifest name, registers its health
//!   function and its own functions, and then only waits for SIGTERM or SIGINT; it never exits
//!   because the engine went away. The SDK reconnects by itself every 2 s (fixed, forever) and
//!   replays every registration, so an engine restart needs nothing from the worker.
//! - Shutdown is orderly: the connection is closed (pending calls fail at the engine with
//!   `invocation_stopped`) before the process exits.

use iii_sdk::III;

use crate::error::{WorkerError, codes};
use crate::health::{HealthStatus, register_manifest_health_with};
use crate::manifest::WorkerManifest;

/// Runs the worker described by `manifest` until SIGTERM or SIGINT.
///
/// Connects to [`crate::engine_url`] (`AGENTOS_ENGINE_URL`, else the local default) as
/// `manifest.name`, registers `<name>::health`, then calls `register` inside a small
/// current-thread tokio runtime (so it may `tokio::spawn` background tasks, which run while
/// the worker waits). `AGENTOS_WORKER_NAME`, set by the supervisor, is informational: a
/// mismatch is logged, the manifest name wins. Function handlers themselves run on the SDK's
/// connection thread. The SDK reconnects every 2 s while the engine is away.
///
/// Errors: `INVALID_INPUT` when the manifest breaks its rules ([`WorkerManifest::validate`]),
/// `INTERNAL` when the runtime or the signal handlers cannot be set up.
pub fn run_worker(manifest: &WorkerManifest, register: impl FnOnce(&III)) -> Result<(), WorkerError> {
    run_worker_with_health(manifest, HealthStatus::default(), register)
}

/// Like [`run_worker`], with `<name>::health` answering from `health`: the worker keeps a clone
/// and reports a problem there (health then says `"degraded"`) when it cannot do its job.
///
/// Errors: as [`run_worker`].
pub fn run_worker_with_health(
    manifest: &WorkerManifest,
    health: HealthStatus,
    register: impl FnOnce(&III),
) -> Result<(), WorkerError> {
    manifest.validate().map_err(|problems| {
        WorkerError::invalid_input(format!("worker manifest {:?} is invalid: {}", manifest.name, problems.join("; ")))
    })?;
    if let Ok(given) = std::env::var("AGENTOS_WORKER_NAME")
        && given != manifest.name
    {
        tracing::warn!(
            given,
            name = manifest.name,
            "AGENTOS_WORKER_NAME differs from the manifest name; using the manifest name"
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| WorkerError::internal(format!("{}: cannot start the tokio runtime: {e}", manifest.name)))?;

    let url = crate::engine_url();
    if !(url.starts_with("ws://") || url.starts_with("wss://")) {
        return Err(WorkerError::invalid_input(format!(
            "{}: the engine URL {url:?} is not a ws:// or wss:// URL; fix AGENTOS_ENGINE_URL (for example ws://127.0.0.1:49134)",
            manifest.name
        )));
    }
    tracing::info!(worker = manifest.name, %url, "connecting to the engine");
    let iii = crate::connect(&url, manifest.name);
    {
        let _entered = runtime.enter();
        register_manifest_health_with(&iii, manifest, health);
        register(&iii);
    }
    tracing::info!(
        worker = manifest.name,
        functions = manifest.functions.len(),
        "registered; waiting for SIGTERM or SIGINT"
    );

    let waited = runtime.block_on(wait_for_stop_signal());
    tracing::info!(worker = manifest.name, "stopping");
    iii.shutdown();
    waited.map(drop).map_err(|e| {
        WorkerError::new(codes::INTERNAL, format!("{}: cannot listen for stop signals: {e}", manifest.name))
    })
}

/// Resolves at the first SIGTERM or SIGINT (Ctrl-C elsewhere than Unix).
#[cfg(unix)]
async fn wait_for_stop_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let which = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    tracing::info!(signal = which, "stop signal received");
    Ok(which)
}

/// Resolves at Ctrl-C (non-Unix fallback).
#[cfg(not(unix))]
async fn wait_for_stop_signal() -> std::io::Result<&'static str> {
    tokio::signal::ctrl_c().await?;
    Ok("ctrl-c")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::RestartPolicy;

    #[test]
    fn an_invalid_manifest_stops_the_worker_before_it_connects() {
        static BAD: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
            name: "Bad Name",
            description: "A worker whose manifest breaks the naming rules.",
            functions: vec![],
            http_routes: vec![],
            depends_on: &[],
            restart: RestartPolicy::No,
        });
        let err = run_worker(&BAD, |_| panic!("register must not run")).unwrap_err();
        assert_eq!(err.code, codes::INVALID_INPUT);
        assert!(
            err.message.starts_with(r#"worker manifest "Bad Name" is invalid: name "Bad Name" must be kebab-case"#),
            "{}",
            err.message
        );
    }
}
