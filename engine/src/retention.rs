//! The retention sweep: every `retention_sweep_secs`, spans and logs older than
//! `retention_max_age_secs` are deleted, and spans and logs together are cut to
//! `retention_max_bytes` (the oldest first, each keeping its share); see [`Store::sweep`].
//!
//! Rules it keeps:
//! - Writes never wait for it: inserts only trim by count (one delete by primary key); age and
//!   size are enforced here, off the write path, on a blocking thread.
//! - The sweep holds the store's lock for one transaction plus at most a few MiB of
//!   incremental vacuum, so a call waiting on the store is delayed by milliseconds.
//! - A failed sweep is logged and tried again at the next tick; it never stops the engine.

use std::sync::Arc;
use std::time::Duration;

use crate::config::EngineConfig;
use crate::engine::Engine;
use crate::store::{Retention, Store, StoreError, SweepReport};

/// Why a sweep did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The database refused a statement.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking thread running the sweep panicked or was cancelled.
    #[error("the sweep's thread stopped: {0}")]
    Stopped(#[from] tokio::task::JoinError),
}

impl SweepError {
    /// A stable code for logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Store(e) => e.code(),
            Self::Stopped(_) => "SWEEP_STOPPED",
        }
    }
}

/// The bounds to enforce at `now_ns` under `config`.
pub fn policy(config: &EngineConfig, now_ns: i64) -> Retention {
    let age_ns = |secs: u64| i64::try_from(u128::from(secs) * 1_000_000_000).unwrap_or(i64::MAX);
    Retention {
        older_than_ns: config.retention_max_age_secs.map(|secs| now_ns.saturating_sub(age_ns(secs))),
        max_bytes: config.retention_max_bytes,
    }
}

/// Runs one sweep now, on a blocking thread (spans buffered in memory are written first, so
/// they are swept too).
pub async fn sweep_now(engine: &Engine) -> Result<SweepReport, SweepError> {
    engine.inner.spans.flush().await;
    let retention = policy(engine.config(), crate::trace::now_ns());
    let store: Arc<Store> = engine.store().clone();
    Ok(tokio::task::spawn_blocking(move || store.sweep(&retention)).await??)
}

/// Starts the periodic sweep; it ends when the engine shuts down. With neither an age nor a
/// size bound there is nothing to sweep and no task starts.
pub fn start(engine: &Engine) {
    let config = engine.config();
    if config.retention_max_age_secs.is_none() && config.retention_max_bytes.is_none() {
        return;
    }
    let every = Duration::from_secs(config.retention_sweep_secs.max(1));
    let engine = engine.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        // The first tick is immediate: a database left over-full by an older engine is cut at
        // start-up.
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = engine.shutting_down() => return,
            }
            match sweep_now(&engine).await {
                Ok(report) if report != SweepReport::default() => tracing::debug!(
                    spans = report.spans_deleted,
                    logs = report.logs_deleted,
                    pages = report.pages_released,
                    "retention sweep"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(code = e.code(), "retention sweep failed, tried again in {every:?}: {e}"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_policy_turns_the_age_bound_into_a_cut_off_time() {
        let config = EngineConfig {
            retention_max_age_secs: Some(60),
            retention_max_bytes: Some(1000),
            ..EngineConfig::default()
        };
        let now = 100 * 1_000_000_000;
        assert_eq!(policy(&config, now), Retention { older_than_ns: Some(40 * 1_000_000_000), max_bytes: Some(1000) });
        let unbounded = EngineConfig { retention_max_age_secs: None, retention_max_bytes: None, ..config };
        assert_eq!(policy(&unbounded, now), Retention::default());
        let huge = EngineConfig { retention_max_age_secs: Some(u64::MAX), ..EngineConfig::default() };
        assert_eq!(policy(&huge, now).older_than_ns, Some(now.saturating_sub(i64::MAX)));
    }
}
