//! agentos-worker-session-replay: the step record of every session (`replay::*`), and the
//! traces of a session.
//!
//! agent-core records each step of a turn with `replay::record` (through a durable queue, so
//! at least once): the user's message, the prompt, every model call and answer, every tool
//! call, approval and result, errors, and the end of the turn ([`kinds`]). This worker keeps
//! them, answers them in order ([`Replay::get`]), totals them ([`Replay::summary`], pure in
//! [`summary`]), searches them ([`Replay::search`], [`search`]) and joins them with the
//! engine's spans ([`Replay::traces`], [`traces`]).
//!
//! Rules it keeps:
//! - Append-only: event `seq` of session `s` lives at `replay:<s>/<seq as 20 digits>` and is
//!   never changed. Recording a `(session_id, seq)` that exists answers `{recorded: false}`
//!   and writes nothing, so a redelivered step is never a duplicate (a differing payload is
//!   logged and dropped: the first record of a step wins). Only [`Replay::delete`] and the
//!   retention sweep ([`Replay::sweep`], `[replay]` in agentos.toml, see [`retention`]) remove
//!   a session's events, and always all of them.
//! - Check and write of one session's step run under a lock (one of [`LOCK_STRIPES`], chosen
//!   by session), so two deliveries of one step racing each other still record it once.
//! - Events are answered by `seq`, whatever order they were recorded in.
//! - Search reads the stored events on each call (no in-memory index): one `state::list` per
//!   session (one `state::list_groups` first when no session is named), then a case-insensitive
//!   substring test per event. The cost is linear in the number of events searched (measured,
//!   release build, 2 cores: about 300 ms over 10,000 events of 20 sessions, 11 ms over one
//!   session's 500); the worker keeps nothing in memory, so a restart loses nothing and needs
//!   no rebuild. An index becomes worth its memory when searches span far more events.
//! - Traces come from the engine (`engine::traces::list` and `engine::traces::tree`): a
//!   session's traces are the distinct `trace_id`s of its events. Spans are kept by the engine
//!   for its newest `memory_max_spans` spans; an older trace is answered with `root: null` and
//!   the times of its events.

mod error;
pub mod kinds;
pub mod register;
pub mod retention;
pub mod search;
pub mod summary;
pub mod traces;

use std::future::Future;

use agentos_kit::WorkerError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use error::ReplayError;
pub use register::{MANIFEST, StateStore, register, run};
pub use summary::Summary;
pub use traces::{Trace, TraceList, TraceTree};

/// The prefix of every replay scope: `replay:<session_id>`.
pub const SCOPE_PREFIX: &str = "replay:";

/// The scope of the retention index: per session, the time of its newest step (kept within
/// [`INDEX_SLACK_MS`]), so a retention sweep reads one small list instead of every step.
pub const INDEX_SCOPE: &str = "replay-index";

/// How far the index may lag a session's newest step: an hour, so a busy session costs one
/// index write an hour, and the sweep, which works in days, is never misled by more.
pub const INDEX_SLACK_MS: u64 = 3_600_000;

/// How many events `replay::get` answers when the request says nothing.
pub const EVENTS_DEFAULT: usize = 1000;

/// The most events one `replay::get` answers; page with `from_seq` past that.
pub const EVENTS_MAX: usize = 10_000;

/// How many events `replay::search` answers when the request says nothing.
pub const SEARCH_DEFAULT: usize = 50;

/// The most events one `replay::search` answers.
pub const SEARCH_MAX: usize = 1000;

/// The longest search query, in characters: longer text is no longer a search.
pub const QUERY_MAX: usize = 1000;

/// How many recent traces `replay::traces` answers without a session.
pub const TRACES_DEFAULT: usize = 20;

/// The most recent traces one `replay::traces` answers.
pub const TRACES_MAX: usize = 200;

/// How many of the engine's newest root spans recent traces are made of. A trace can have a few
/// roots, and the supervisor's health probes (left out) add about 2.6 a second with 13 workers:
/// 1000 covers several minutes of a running stack and stays a small answer.
pub const RECENT_ROOTS: usize = 1000;

/// How many locks the record path stripes sessions over: enough that concurrent sessions rarely
/// share one, few enough to allocate once.
pub const LOCK_STRIPES: usize = 16;

/// The longest event kind, turn id or trace id.
pub const TAG_MAX: usize = 128;

/// One recorded step (the value at `replay:<session_id>/<seq:020>`), a step to record, and the
/// answers of `replay::get` and `replay::search`: the replay contract, shared with every reader.
pub use agentos_protocol::replay::{Event, EventPage, RecordEvent, RecordMany, RecordedMany, SearchResult};

/// The state key of event `seq`.
pub fn seq_key(seq: u64) -> String {
    format!("{seq:020}")
}

/// The replay scope of `session_id`.
pub fn scope(session_id: &str) -> String {
    format!("{SCOPE_PREFIX}{session_id}")
}

/// What `replay::record` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// `false` when the step was recorded before (nothing was written).
    pub recorded: bool,
}

/// `replay::get`: a session's events in `seq` order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetEvents {
    /// The session.
    pub session_id: String,
    /// Only events with `seq` at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_seq: Option<u64>,
    /// At most this many (default [`EVENTS_DEFAULT`], at most [`EVENTS_MAX`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// `replay::summary` and `replay::delete`: one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRef {
    /// The session.
    pub session_id: String,
}

/// `replay::search`: events across sessions whose JSON contains `query`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchEvents {
    /// The text to find, case-insensitively.
    pub query: String,
    /// Only this session's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Only events of this kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// At most this many (default [`SEARCH_DEFAULT`], at most [`SEARCH_MAX`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// What `replay::delete` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedEvents {
    /// The session.
    pub session_id: String,
    /// How many events were deleted.
    pub deleted: usize,
}

/// `replay::traces`: the traces of a session, or recent traces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListTraces {
    /// The session whose traces to list; recent traces of the whole engine when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Without a session: at most this many (default [`TRACES_DEFAULT`], at most [`TRACES_MAX`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Without a session: only the traces of chat turns (root `agent::chat`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub turns: bool,
}

/// `replay::trace`: one trace's span tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceRef {
    /// The trace id.
    pub trace_id: String,
}

/// Where events live and where spans come from. The worker implements it over the engine
/// ([`StateStore`]); tests use an in-memory fake.
pub trait ReplayStore: Send + Sync {
    /// Event `key` of `session_id`, if stored.
    fn get_event(&self, session_id: &str, key: &str)
    -> impl Future<Output = Result<Option<Event>, WorkerError>> + Send;
    /// Stores `event` under its key.
    fn put_event(&self, event: &Event) -> impl Future<Output = Result<(), WorkerError>> + Send;
    /// Every event of `session_id`, in any order.
    fn events(&self, session_id: &str) -> impl Future<Output = Result<Vec<Event>, WorkerError>> + Send;
    /// Deletes event `key` of `session_id`; `true` when there was one.
    fn delete_event(&self, session_id: &str, key: &str) -> impl Future<Output = Result<bool, WorkerError>> + Send;
    /// Every session that has events.
    fn sessions(&self) -> impl Future<Output = Result<Vec<String>, WorkerError>> + Send;
    /// The retention index: every session in it with the time of its newest step.
    fn newest(&self) -> impl Future<Output = Result<Vec<retention::SessionAge>, WorkerError>> + Send;
    /// The index entry of one session, if any.
    fn newest_of(&self, session_id: &str) -> impl Future<Output = Result<Option<u64>, WorkerError>> + Send;
    /// Sets the index entry of `age.session_id`.
    fn set_newest(&self, age: &retention::SessionAge) -> impl Future<Output = Result<(), WorkerError>> + Send;
    /// Removes the index entry of a session.
    fn forget_newest(&self, session_id: &str) -> impl Future<Output = Result<(), WorkerError>> + Send;
    /// The root spans of trace `trace_id` (`engine::traces::list {trace_id}`), internal ones too.
    fn trace_roots(&self, trace_id: &str) -> impl Future<Output = Result<Vec<Value>, WorkerError>> + Send;
    /// The newest `limit` root spans of the engine, newest first.
    fn recent_roots(&self, limit: usize) -> impl Future<Output = Result<Vec<Value>, WorkerError>> + Send;
    /// The span tree of `trace_id` (`engine::traces::tree`): its root nodes.
    fn trace_tree(&self, trace_id: &str) -> impl Future<Output = Result<Vec<Value>, WorkerError>> + Send;
}

/// The `replay::*` verbs over a [`ReplayStore`].
pub struct Replay<S> {
    store: S,
    stripes: [tokio::sync::Mutex<()>; LOCK_STRIPES],
    /// What this process last wrote to the retention index, per session: a cache that only
    /// saves index writes (lost on restart, the index is read again).
    indexed: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

impl<S: ReplayStore> Replay<S> {
    /// The verbs over `store`.
    pub fn new(store: S) -> Self {
        Self {
            store,
            stripes: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
            indexed: std::sync::Mutex::default(),
        }
    }

    fn indexed(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, u64>> {
        self.indexed.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Moves the session's index entry to `at_ms` when it lags by more than
    /// [`INDEX_SLACK_MS`]; never backwards. Called under the session's stripe lock.
    async fn touch_index(&self, session_id: &str, at_ms: u64) -> Result<(), WorkerError> {
        let cached = self.indexed().get(session_id).copied();
        let known = match cached {
            Some(t) => Some(t),
            None => self.store.newest_of(session_id).await?,
        };
        if known.is_some_and(|t| at_ms <= t.saturating_add(INDEX_SLACK_MS)) {
            if cached.is_none() {
                self.indexed().insert(session_id.to_string(), known.unwrap_or(at_ms));
            }
            return Ok(());
        }
        self.store.set_newest(&retention::SessionAge { session_id: session_id.to_string(), newest_ms: at_ms }).await?;
        self.indexed().insert(session_id.to_string(), at_ms);
        Ok(())
    }

    /// The store (tests look inside it).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// `replay::record`: stores the step unless `(session_id, seq)` is recorded already.
    pub async fn record(&self, req: RecordEvent) -> Result<Recorded, ReplayError> {
        check_event(&req)?;
        self.store_checked(Event::from(req)).await
    }

    /// `replay::record_many`: every step checked first (one bad step records none), then each
    /// stored as `replay::record` would, so a batch delivered twice records nothing twice.
    pub async fn record_many(&self, req: RecordMany) -> Result<RecordedMany, ReplayError> {
        for event in &req.events {
            check_event(event)?;
        }
        let mut recorded = 0;
        for event in req.events {
            recorded += usize::from(self.store_checked(Event::from(event)).await?.recorded);
        }
        Ok(RecordedMany { recorded })
    }

    async fn store_checked(&self, event: Event) -> Result<Recorded, ReplayError> {
        let _one_at_a_time = self.stripes[stripe(&event.session_id)].lock().await;
        if let Some(existing) = self.store.get_event(&event.session_id, &event.key()).await? {
            if existing != event {
                tracing::warn!(
                    session = %event.session_id,
                    seq = event.seq,
                    kind = %event.kind,
                    recorded_kind = %existing.kind,
                    "a step with this seq is recorded already with other content; the first record wins"
                );
            }
            return Ok(Recorded { recorded: false });
        }
        self.store.put_event(&event).await?;
        self.touch_index(&event.session_id, event.at_ms).await?;
        Ok(Recorded { recorded: true })
    }

    /// `replay::get`: the session's events from `from_seq`, by `seq`, at most `limit`. A
    /// session without events answers an empty list.
    pub async fn get(&self, req: GetEvents) -> Result<EventPage, ReplayError> {
        check_session(&req.session_id)?;
        let limit = check_limit(req.limit, EVENTS_DEFAULT, EVENTS_MAX)?;
        let from = req.from_seq.unwrap_or(0);
        let mut events = self.sorted(&req.session_id).await?;
        events.retain(|e| e.seq >= from);
        events.truncate(limit);
        Ok(EventPage { session_id: req.session_id, events })
    }

    /// `replay::summary`: the session's totals ([`summary::summarize`]).
    pub async fn summary(&self, req: SessionRef) -> Result<Summary, ReplayError> {
        check_session(&req.session_id)?;
        let events = self.sorted(&req.session_id).await?;
        Ok(summary::summarize(&req.session_id, &events))
    }

    /// `replay::search`: events whose JSON contains `query` (any case), newest first.
    pub async fn search(&self, req: SearchEvents) -> Result<SearchResult, ReplayError> {
        let matcher = search::Matcher::new(&req.query)?;
        let limit = check_limit(req.limit, SEARCH_DEFAULT, SEARCH_MAX)?;
        if let Some(kind) = &req.kind {
            check_kind(kind)?;
        }
        let sessions = match &req.session_id {
            Some(id) => {
                check_session(id)?;
                vec![id.clone()]
            }
            None => self.store.sessions().await?,
        };
        let mut found = Vec::new();
        for session in &sessions {
            let events = self.store.events(session).await?;
            found.extend(
                events
                    .into_iter()
                    .filter(|e| req.kind.as_ref().is_none_or(|k| &e.kind == k))
                    .filter(|e| matcher.matches(e)),
            );
        }
        search::sort_newest_first(&mut found);
        let total = found.len();
        found.truncate(limit);
        Ok(SearchResult { query: req.query, events: found, total })
    }

    /// `replay::delete`: removes every event of the session (when the session itself goes).
    pub async fn delete(&self, req: SessionRef) -> Result<DeletedEvents, ReplayError> {
        check_session(&req.session_id)?;
        let _one_at_a_time = self.stripes[stripe(&req.session_id)].lock().await;
        let mut deleted = 0;
        for event in self.store.events(&req.session_id).await? {
            if self.store.delete_event(&req.session_id, &event.key()).await? {
                deleted += 1;
            }
        }
        self.store.forget_newest(&req.session_id).await?;
        self.indexed().remove(&req.session_id);
        Ok(DeletedEvents { session_id: req.session_id, deleted })
    }

    /// The retention sweep: deletes every step of the sessions [`retention::expired`] picks at
    /// `now_ms`, judged by the retention index ([`INDEX_SCOPE`]; a session missing from it is
    /// read once and added). A session that fails to delete is logged and left for the next
    /// sweep.
    pub async fn sweep(
        &self,
        settings: &retention::ReplaySettings,
        now_ms: u64,
    ) -> Result<retention::SweepReport, ReplayError> {
        let mut ages = self.store.newest().await?;
        // Sessions recorded before the index existed: read once, then indexed.
        let known: std::collections::HashSet<String> = ages.iter().map(|a| a.session_id.clone()).collect();
        for session_id in self.store.sessions().await? {
            if known.contains(&session_id) {
                continue;
            }
            let events = self.store.events(&session_id).await?;
            if let Some(newest_ms) = events.iter().map(|e| e.at_ms).max() {
                let age = retention::SessionAge { session_id, newest_ms };
                self.store.set_newest(&age).await?;
                ages.push(age);
            }
        }
        let mut report = retention::SweepReport::default();
        for session_id in retention::expired(ages, settings, now_ms) {
            match self.delete(SessionRef { session_id: session_id.clone() }).await {
                Ok(deleted) => {
                    report.events += deleted.deleted;
                    report.sessions.push(session_id);
                }
                Err(e) => tracing::warn!(session = %session_id, "retention: could not delete the steps: {e}"),
            }
        }
        Ok(report)
    }

    /// `replay::traces`: with a session, each distinct trace of its events with its root span
    /// (in the order the session first met them); without, the engine's newest root spans.
    pub async fn traces(&self, req: ListTraces) -> Result<TraceList, ReplayError> {
        let Some(session_id) = req.session_id else {
            let limit = check_limit(req.limit, TRACES_DEFAULT, TRACES_MAX)?;
            let roots = self.store.recent_roots(RECENT_ROOTS).await?;
            return Ok(TraceList { traces: traces::recent(roots, limit, req.turns) });
        };
        check_session(&session_id)?;
        let events = self.sorted(&session_id).await?;
        let mut out = Vec::new();
        for seen in traces::of_session(&events) {
            let roots = self.store.trace_roots(&seen.trace_id).await?;
            out.push(traces::joined(seen, roots));
        }
        Ok(TraceList { traces: out })
    }

    /// `replay::trace`: the span tree of one trace; `NOT_FOUND` when the engine has no spans
    /// of it.
    pub async fn trace(&self, req: TraceRef) -> Result<TraceTree, ReplayError> {
        check_tag("trace_id", Some(&req.trace_id))?;
        let roots = self.store.trace_tree(&req.trace_id).await?;
        if roots.is_empty() {
            return Err(ReplayError::TraceNotFound { trace_id: req.trace_id });
        }
        Ok(TraceTree { trace_id: req.trace_id, roots })
    }

    /// The session's events by `seq`.
    async fn sorted(&self, session_id: &str) -> Result<Vec<Event>, ReplayError> {
        let mut events = self.store.events(session_id).await?;
        events.sort_by_key(|e| e.seq);
        Ok(events)
    }
}

/// The lock stripe of `session_id` (FNV-1a: stable and cheap).
/// Whether a step may be recorded: its session, kind, tags and data.
fn check_event(req: &RecordEvent) -> Result<(), ReplayError> {
    check_session(&req.session_id)?;
    check_kind(&req.kind)?;
    check_tag("turn_id", req.turn_id.as_deref())?;
    check_tag("trace_id", req.trace_id.as_deref())?;
    kinds::validate(&req.kind, &req.data)
        .map_err(|problem| ReplayError::InvalidData { kind: req.kind.clone(), problem })
}

fn stripe(session_id: &str) -> usize {
    let hash =
        session_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    (hash % LOCK_STRIPES as u64) as usize
}

/// Checks a session id (the rule of session-lifecycle).
pub fn check_session(id: &str) -> Result<(), ReplayError> {
    agentos_worker_session_lifecycle::check_id(id).map_err(|_| ReplayError::InvalidSessionId { id: id.to_string() })
}

/// Checks an event kind: `[a-z][a-z0-9_]*`, at most [`TAG_MAX`] characters.
pub fn check_kind(kind: &str) -> Result<(), ReplayError> {
    let ok = kind.len() <= TAG_MAX
        && kind.starts_with(|c: char| c.is_ascii_lowercase())
        && kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok { Ok(()) } else { Err(ReplayError::InvalidKind { kind: kind.to_string() }) }
}

/// Checks a turn or trace id when given: 1 to [`TAG_MAX`] of `[A-Za-z0-9._:-]`.
fn check_tag(field: &'static str, value: Option<&str>) -> Result<(), ReplayError> {
    let Some(value) = value else { return Ok(()) };
    let ok = !value.is_empty()
        && value.len() <= TAG_MAX
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if ok { Ok(()) } else { Err(ReplayError::InvalidTag { field, value: value.to_string() }) }
}

/// `limit`, or `default`; `INVALID_INPUT` outside 1..=`max`.
fn check_limit(limit: Option<usize>, default: usize, max: usize) -> Result<usize, ReplayError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ReplayError::InvalidLimit { given: n, max }),
    }
}

#[cfg(test)]
mod tests;
