//! Restart decisions, as pure functions over a worker's restart history.
//!
//! Rules (process-compose vocabulary):
//! - Policy `always` restarts after any exit, `on_failure` only after a non-zero exit or a
//!   signal, `no` never.
//! - A worker that ran for [`QUICK_EXIT`] or longer and then died (killed, crashed once) starts
//!   again at once: its callers are waiting for it, and nothing suggests it will die again.
//! - A worker that died within [`QUICK_EXIT`] of its start is in a crash loop: the delay doubles
//!   from [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`], and more than `max_restarts` such restarts
//!   within `window` mark it `failed`: it is shown so and not looped forever. `agentos restart
//!   <worker>` clears that. A run of [`QUICK_EXIT`] or longer resets the backoff.

use std::time::Duration;

use agentos_kit::RestartPolicy;

/// A run shorter than this ended the way a crash loop does: during or right after start-up.
pub const QUICK_EXIT: Duration = Duration::from_secs(2);
/// The first delay of a crash loop.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest restart delay: long enough to stop a crash loop from burning CPU, short enough
/// that a worker whose dependency came back recovers on its own.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Limits on restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartLimits {
    /// Restarts allowed within `window` before the worker is `failed`.
    pub max_restarts: usize,
    /// The sliding window.
    pub window: Duration,
}

impl Default for RestartLimits {
    fn default() -> Self {
        // Five crashes at start-up in a minute is a loop, not bad luck.
        Self { max_restarts: 5, window: Duration::from_secs(60) }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exit code 0.
    Success,
    /// A non-zero exit code.
    Code(i32),
    /// Killed by a signal.
    Signal(i32),
    /// Stopped because its liveness checks failed (the supervisor killed it).
    Unhealthy,
}

impl Exit {
    /// Whether this exit counts as a failure for `on_failure`.
    pub fn is_failure(self) -> bool {
        !matches!(self, Self::Success)
    }

    /// A short human description.
    pub fn describe(self) -> String {
        match self {
            Self::Success => "exited with code 0".into(),
            Self::Code(c) => format!("exited with code {c}"),
            Self::Signal(s) => format!("killed by signal {s}"),
            Self::Unhealthy => "stopped after failing its health checks".into(),
        }
    }
}

/// What to do after an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start it again after this delay.
    RestartAfter(Duration),
    /// Leave it stopped (its policy says so).
    Stay,
    /// Too many restarts: mark it failed.
    Fail,
}

/// A worker's restart history (times are offsets from any fixed origin).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// When each restart after a quick exit happened.
    pub restarts: Vec<Duration>,
    /// The delay used for the last restart after a quick exit; `None` after a long run.
    pub last_backoff: Option<Duration>,
}

/// Decides what follows an exit at `now` after `uptime` of running.
pub fn decide(
    policy: RestartPolicy,
    limits: RestartLimits,
    history: &mut History,
    exit: Exit,
    uptime: Duration,
    now: Duration,
) -> Decision {
    let wanted = match policy {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => exit.is_failure(),
        RestartPolicy::No => false,
    };
    if !wanted {
        return Decision::Stay;
    }
    history.restarts.retain(|t| now.saturating_sub(*t) < limits.window);
    if uptime >= QUICK_EXIT {
        history.last_backoff = None;
        return Decision::RestartAfter(Duration::ZERO);
    }
    if history.restarts.len() >= limits.max_restarts {
        return Decision::Fail;
    }
    let delay = history.last_backoff.map_or(FIRST_BACKOFF, |last| (last * 2).min(MAX_BACKOFF));
    history.restarts.push(now);
    history.last_backoff = Some(delay);
    Decision::RestartAfter(delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn backoff_doubles_from_one_second_and_caps_at_thirty() {
        let mut h = History::default();
        let limits = RestartLimits { max_restarts: 100, window: S(1) };
        let delays: Vec<Decision> =
            (0..7).map(|i| decide(RestartPolicy::Always, limits, &mut h, Exit::Code(1), S(0), S(i * 10))).collect();
        let want = [1, 2, 4, 8, 16, 30, 30].map(|s| Decision::RestartAfter(S(s)));
        assert_eq!(delays, want.to_vec());
    }

    #[test]
    fn a_worker_that_ran_and_died_starts_again_at_once_and_resets_the_backoff() {
        let mut h = History { restarts: vec![], last_backoff: Some(S(16)) };
        let d = decide(RestartPolicy::Always, RestartLimits::default(), &mut h, Exit::Signal(9), QUICK_EXIT, S(100));
        assert_eq!(d, Decision::RestartAfter(Duration::ZERO));
        // Its next crash at start-up begins the backoff from the first delay.
        let d = decide(RestartPolicy::Always, RestartLimits::default(), &mut h, Exit::Code(1), S(0), S(101));
        assert_eq!(d, Decision::RestartAfter(FIRST_BACKOFF));
    }

    #[test]
    fn kills_of_a_running_worker_never_fail_it() {
        let mut h = History::default();
        let limits = RestartLimits { max_restarts: 2, window: S(60) };
        for i in 0..10 {
            let d = decide(RestartPolicy::Always, limits, &mut h, Exit::Signal(9), S(3), S(i * 3));
            assert_eq!(d, Decision::RestartAfter(Duration::ZERO), "kill {i}");
        }
    }

    #[test]
    fn too_many_restarts_in_the_window_fail_the_worker() {
        let mut h = History::default();
        let limits = RestartLimits { max_restarts: 3, window: S(60) };
        let mut last = Decision::Stay;
        for i in 0..4 {
            last = decide(RestartPolicy::Always, limits, &mut h, Exit::Code(1), S(0), S(i));
        }
        assert_eq!(last, Decision::Fail);
    }

    #[test]
    fn old_restarts_leave_the_window() {
        let mut h = History { restarts: vec![S(0), S(1), S(2)], last_backoff: Some(S(1)) };
        let limits = RestartLimits { max_restarts: 3, window: S(60) };
        let d = decide(RestartPolicy::Always, limits, &mut h, Exit::Code(1), S(0), S(120));
        assert_eq!(d, Decision::RestartAfter(S(2)));
        assert_eq!(h.restarts, vec![S(120)]);
    }

    #[test]
    fn policies_decide_who_comes_back() {
        let table = [
            (RestartPolicy::Always, Exit::Success, true),
            (RestartPolicy::Always, Exit::Code(2), true),
            (RestartPolicy::OnFailure, Exit::Success, false),
            (RestartPolicy::OnFailure, Exit::Signal(9), true),
            (RestartPolicy::OnFailure, Exit::Unhealthy, true),
            (RestartPolicy::No, Exit::Code(1), false),
        ];
        for (policy, exit, restarts) in table {
            let d = decide(policy, RestartLimits::default(), &mut History::default(), exit, S(0), S(0));
            assert_eq!(matches!(d, Decision::RestartAfter(_)), restarts, "{policy:?} {exit:?}");
        }
    }
}
