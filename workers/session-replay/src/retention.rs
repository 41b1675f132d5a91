//! Retention of the step record: `[replay]` in agentos.toml bounds how long a session's steps
//! are kept and how many sessions keep theirs.
//!
//! Rules it keeps:
//! - A session is judged by its newest step (`at_ms`): it goes whole, never a step at a time,
//!   so a replay is never missing its beginning.
//! - [`expired`] is pure: sessions older than `retention_days`, then every session beyond the
//!   newest `max_sessions`. The driver ([`crate::Replay::sweep`]) lists, decides, deletes.
//! - A sweep reads the retention index (`replay-index`: per session, its newest step's time,
//!   written at most once an hour per session by `replay::record`), not the steps; a session
//!   missing from the index (recorded before it existed) is read once and added. It runs every
//!   `sweep_secs` (default hourly), off any request path.

use serde::{Deserialize, Serialize};

/// Milliseconds in a day.
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// The `[replay]` section of agentos.toml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplaySettings {
    /// Sessions whose newest step is older than this many days lose their steps; 0 keeps them
    /// whatever their age.
    pub retention_days: u64,
    /// Only the newest this many sessions (by newest step) keep their steps; 0 means no bound.
    pub max_sessions: usize,
    /// Seconds between sweeps.
    pub sweep_secs: u64,
}

impl Default for ReplaySettings {
    /// 30 days and 1 000 sessions: a month of history to replay, and at about 1 KB a step on
    /// disk (the retention bench, docs/benchmarks.md) and 6 steps a turn, 1 000 sessions of 20
    /// turns are about 120 MB at most.
    fn default() -> Self {
        Self { retention_days: 30, max_sessions: 1000, sweep_secs: 3600 }
    }
}

impl ReplaySettings {
    /// Whether any bound is set (no sweep runs otherwise).
    pub fn bounded(&self) -> bool {
        self.retention_days > 0 || self.max_sessions > 0
    }
}

/// A session and the time of its newest step (Unix ms): an entry of the retention index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAge {
    /// The session id.
    pub session_id: String,
    /// Its newest step's `at_ms`.
    pub newest_ms: u64,
}

/// The sessions whose steps go at `now_ms`: older than `retention_days`, then those beyond the
/// newest `max_sessions` (ties broken by id, so the answer is stable).
pub fn expired(mut sessions: Vec<SessionAge>, settings: &ReplaySettings, now_ms: u64) -> Vec<String> {
    sessions.sort_by(|a, b| b.newest_ms.cmp(&a.newest_ms).then_with(|| a.session_id.cmp(&b.session_id)));
    let cutoff = (settings.retention_days > 0).then(|| now_ms.saturating_sub(settings.retention_days * DAY_MS));
    let keep = if settings.max_sessions > 0 { settings.max_sessions } else { usize::MAX };
    sessions
        .into_iter()
        .enumerate()
        .filter(|(rank, s)| *rank >= keep || cutoff.is_some_and(|c| s.newest_ms < c))
        .map(|(_, s)| s.session_id)
        .collect()
}

/// What one sweep did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SweepReport {
    /// Sessions whose steps were deleted.
    pub sessions: Vec<String>,
    /// Steps deleted.
    pub events: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn age(id: &str, newest_ms: u64) -> SessionAge {
        SessionAge { session_id: id.into(), newest_ms }
    }

    #[test]
    fn sessions_older_than_the_retention_and_beyond_the_newest_n_expire() {
        let now = 100 * DAY_MS;
        let sessions =
            vec![age("old", 60 * DAY_MS), age("a", 99 * DAY_MS), age("b", 98 * DAY_MS), age("c", 97 * DAY_MS)];
        let by_age = ReplaySettings { retention_days: 30, max_sessions: 0, sweep_secs: 1 };
        assert_eq!(expired(sessions.clone(), &by_age, now), vec!["old"]);
        let by_count = ReplaySettings { retention_days: 0, max_sessions: 2, sweep_secs: 1 };
        assert_eq!(expired(sessions.clone(), &by_count, now), vec!["c", "old"]);
        let both = ReplaySettings { retention_days: 30, max_sessions: 3, sweep_secs: 1 };
        assert_eq!(expired(sessions.clone(), &both, now), vec!["old"]);
        let none = ReplaySettings { retention_days: 0, max_sessions: 0, sweep_secs: 1 };
        assert!(!none.bounded());
        assert_eq!(expired(sessions, &none, now), Vec::<String>::new());
    }

    #[test]
    fn the_replay_section_is_read_strictly_with_defaults() {
        let s: ReplaySettings = agentos_kit::config::section_in("[replay]\nretention_days = 7\n", "replay").unwrap();
        assert_eq!(s, ReplaySettings { retention_days: 7, ..ReplaySettings::default() });
        let s: ReplaySettings = agentos_kit::config::section_in("", "replay").unwrap();
        assert_eq!(s, ReplaySettings { retention_days: 30, max_sessions: 1000, sweep_secs: 3600 });
        let err =
            agentos_kit::config::section_in::<ReplaySettings>("[replay]\nmax_session = 1\n", "replay").unwrap_err();
        assert!(err.starts_with("[replay] max_session: unknown field"), "{err}");
    }
}
