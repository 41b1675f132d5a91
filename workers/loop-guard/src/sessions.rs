//! One [`Guard`] per session, in memory, bounded; and the typed requests and answers of
//! `guard::*`.
//!
//! Rules it keeps:
//! - Histories live only in this process. A loop guard watches one turn, so losing it on a
//!   restart costs at most one turn's detection; writing every tool call to `state::*` first
//!   would slow down every call of every turn for that.
//! - Memory is bounded: a session idle for longer than [`Sessions::idle`] (1 h by default) is
//!   dropped, and beyond [`Sessions::cap`] sessions (10 000 by default) the least recently
//!   checked one is dropped to make room. A dropped session starts again clean.
//! - Time is a parameter (`now`), so the table is as pure as the guard and its tests need no
//!   clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use agentos_kit::{ErrorCode, codes};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Counts, Guard, Limits, ToolCall, Verdict};

/// How long a session may stay unchecked before it is dropped: an hour is far longer than any
/// turn, and a session that comes back after it starts a new turn anyway.
pub const IDLE: Duration = Duration::from_secs(60 * 60);

/// The most sessions kept at once. A session costs a few kilobytes at most, so 10 000 is tens
/// of megabytes in the worst case, and more concurrently active sessions than that is not a
/// single-machine workload.
pub const CAP: usize = 10_000;

/// How often idle sessions are swept: often enough that memory follows load, rarely enough that
/// the O(sessions) scan costs nothing.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// `guard::check`: may this session make this tool call now?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The chat session.
    pub session_id: String,
    /// The turn within the session; a new one starts the guard's turn afresh. Left out, the
    /// session's current turn continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    /// The function the model wants to call.
    pub function_id: String,
    /// The arguments it wants to call it with.
    #[serde(default)]
    pub arguments: Value,
}

/// `guard::reset` and `guard::stats`: a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The chat session.
    pub session_id: String,
}

/// What `guard::reset` answers: `{reset: true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetAnswer {
    /// Always true: after the call the session has no history, whether or not it had one.
    pub reset: bool,
}

/// What `guard::stats` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// The session asked about.
    pub session_id: String,
    /// Whether the guard holds a history for it (false: never checked, reset, or dropped).
    pub tracked: bool,
    /// The current turn, if checks named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    /// Turns seen since the session's guard was created.
    pub turns: u64,
    /// Verdicts of the current turn.
    pub turn: Counts,
    /// Verdicts since the session's guard was created.
    pub total: Counts,
}

/// Why a `guard::*` request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// A required text field is empty (`INVALID_INPUT`).
    #[error("{field} is empty: pass the {what}")]
    EmptyField {
        /// The field.
        field: &'static str,
        /// What belongs in it.
        what: &'static str,
    },
}

impl ErrorCode for GuardError {
    fn code(&self) -> &str {
        match self {
            Self::EmptyField { .. } => codes::INVALID_INPUT,
        }
    }
}

/// A session's guard and when it was last checked.
#[derive(Debug)]
struct Entry {
    /// The guard.
    guard: Guard,
    /// The last check (or reset) of the session.
    seen: Instant,
}

/// Every session's guard.
#[derive(Debug)]
pub struct Sessions {
    /// Guards by session id.
    map: HashMap<String, Entry>,
    /// The most sessions kept.
    cap: usize,
    /// How long a session may stay unchecked.
    idle: Duration,
    /// When idle sessions were last swept.
    swept: Option<Instant>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self::new(CAP, IDLE)
    }
}

impl Sessions {
    /// A table of at most `cap` sessions (at least 1) that drops sessions idle for `idle`.
    pub fn new(cap: usize, idle: Duration) -> Self {
        Self { map: HashMap::new(), cap: cap.max(1), idle, swept: None }
    }

    /// The most sessions kept.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// How long a session may stay unchecked before it is dropped.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// How many sessions are kept now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no session is kept.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// `guard::check` at `now`: enters the request's turn, then decides on the call.
    pub fn check(&mut self, req: CheckRequest, limits: &Limits, now: Instant) -> Result<Verdict, GuardError> {
        non_empty(&req.session_id, "session_id", "chat session id")?;
        non_empty(
            &req.function_id,
            "function_id",
            "id of the function the model wants to call, for example code::read_file",
        )?;
        self.sweep(now);
        if !self.map.contains_key(&req.session_id) {
            self.make_room();
        }
        let entry = self.map.entry(req.session_id).or_insert_with(|| Entry { guard: Guard::new(), seen: now });
        entry.seen = now;
        entry.guard.enter_turn(req.turn_id.as_deref());
        Ok(entry.guard.check(&ToolCall { function_id: req.function_id, arguments: req.arguments }, limits))
    }

    /// `guard::reset`: drops the session's history.
    pub fn reset(&mut self, req: &SessionRequest, now: Instant) -> Result<ResetAnswer, GuardError> {
        non_empty(&req.session_id, "session_id", "chat session id")?;
        self.map.remove(&req.session_id);
        self.sweep(now);
        Ok(ResetAnswer { reset: true })
    }

    /// `guard::stats`: the session's counts; zeros with `tracked: false` for a session the guard
    /// does not hold.
    pub fn stats(&mut self, req: &SessionRequest, now: Instant) -> Result<Stats, GuardError> {
        non_empty(&req.session_id, "session_id", "chat session id")?;
        self.sweep(now);
        let guard = self.map.get(&req.session_id).map(|e| &e.guard);
        Ok(Stats {
            session_id: req.session_id.clone(),
            tracked: guard.is_some(),
            turn_id: guard.and_then(Guard::turn_id).map(str::to_string),
            turns: guard.map_or(0, Guard::turns),
            turn: guard.map(Guard::turn_counts).unwrap_or_default(),
            total: guard.map(Guard::total_counts).unwrap_or_default(),
        })
    }

    /// Drops sessions idle for longer than [`Sessions::idle`], at most once a minute.
    fn sweep(&mut self, now: Instant) {
        if self.swept.is_some_and(|at| now.saturating_duration_since(at) < SWEEP_EVERY) {
            return;
        }
        self.swept = Some(now);
        let idle = self.idle;
        self.map.retain(|_, e| now.saturating_duration_since(e.seen) <= idle);
    }

    /// Drops the least recently checked session while the table is full.
    fn make_room(&mut self) {
        while self.map.len() >= self.cap {
            let Some(oldest) = self.map.iter().min_by_key(|(_, e)| e.seen).map(|(id, _)| id.clone()) else {
                return;
            };
            self.map.remove(&oldest);
        }
    }
}

/// `INVALID_INPUT` when `value` is empty or blank.
fn non_empty(value: &str, field: &'static str, what: &'static str) -> Result<(), GuardError> {
    if value.trim().is_empty() { Err(GuardError::EmptyField { field, what }) } else { Ok(()) }
}
