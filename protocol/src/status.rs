//! The status contract: one row per worker as the supervisor reports it
//! (`supervisor::status`, `GET /v1/workers`), read by `agentos status` and the dashboard's
//! workers pane.
//!
//! Rules it keeps:
//! - The row is the supervisor's: every field is written, absent values as `null`, except
//!   `problem`, written only while a worker is degraded.
//! - A reader takes what a row has: a missing number reads as none (or 0), a state this build
//!   does not know reads as [`WorkerState::Unknown`].

use serde::{Deserialize, Serialize};

/// A worker's state as `status` shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WorkerState {
    /// Waiting for its dependencies.
    Pending,
    /// Process started; not ready yet.
    Starting,
    /// Functions registered and health answered.
    Ready,
    /// Waiting to be restarted.
    Backoff,
    /// Too many restarts; left stopped.
    Failed,
    /// Stopped (by policy or by shutdown).
    Stopped,
    /// A state this build does not know (a reader's view; the supervisor never reports it).
    #[default]
    #[serde(other)]
    Unknown,
}

impl WorkerState {
    /// The wire spelling: `pending`, `starting`, `ready`, `backoff`, `failed`, `stopped`, or
    /// `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Starting => "starting",
            Self::Ready => "ready",
            Self::Backoff => "backoff",
            Self::Failed => "failed",
            Self::Stopped => "stopped",
            Self::Unknown => "unknown",
        }
    }
}

/// One row of `status`: a worker and how it is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    /// The worker's name (`realm`, `agent-core`, …).
    #[serde(default)]
    pub name: String,
    /// What it does, in a few words.
    #[serde(default)]
    pub description: String,
    /// Its state.
    #[serde(default)]
    pub state: WorkerState,
    /// Its process, while one runs.
    #[serde(default)]
    pub pid: Option<u32>,
    /// How many times it was restarted.
    #[serde(default)]
    pub restarts: u32,
    /// How long its process has run, while one runs.
    #[serde(default)]
    pub uptime_ms: Option<u64>,
    /// How many of its functions the engine lists.
    #[serde(default)]
    pub functions_registered: usize,
    /// How many functions its manifest declares (plus its health function).
    #[serde(default)]
    pub functions_expected: usize,
    /// Why it last failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// What its health says is wrong while it still serves (a degraded worker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// When its latest process was launched, from the supervisor's start.
    #[serde(default)]
    pub launched_at_ms: Option<u64>,
    /// How long that process took to become ready.
    #[serde(default)]
    pub ready_after_ms: Option<u64>,
}

/// What `GET /v1/workers` and `supervisor::status` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerList {
    /// One row per worker, in start order.
    #[serde(default)]
    pub workers: Vec<WorkerStatus>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn a_state_nobody_knows_reads_as_unknown_and_a_missing_number_as_none() {
        let row: WorkerStatus =
            serde_json::from_value(json!({"name": "x", "state": "paused"})).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((row.state, row.pid, row.restarts), (WorkerState::Unknown, None, 0));
    }
}
