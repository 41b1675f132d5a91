//! The thin glue between the replay domain and the engine: the manifest, the bindings of
//! `replay::*` ids and the `/v1/sessions/:id/{events,summary}`, `/v1/replay/search` and
//! `/v1/traces` routes to [`Replay`], and [`StateStore`], the [`ReplayStore`] over the
//! engine's `state::*` and `engine::traces::*`.
//!
//! Rules it keeps:
//! - No decisions here: every handler decodes, calls one domain method and encodes.
//! - A route's `:id` is percent-decoded; it is a session id (the CLI resolves names through
//!   `GET /v1/sessions/:id` first) or a trace id.
//! - The worker keeps nothing in memory but its locks and a cache of its own index writes: a
//!   restarted worker answers from the
//!   engine's state.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use agentos_kit::http::{HttpRequest, HttpResponse};
use agentos_kit::state::{self, STATE_TIMEOUT};
use agentos_kit::{III, Worker, WorkerError, WorkerManifest, call};
use agentos_worker_session_lifecycle::percent_decode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::retention::{ReplaySettings, SessionAge};
use crate::{
    Event, GetEvents, INDEX_SCOPE, ListTraces, RecordEvent, RecordMany, Replay, ReplayError, ReplayStore, SCOPE_PREFIX,
    SearchEvents, SessionRef, TraceRef, scope,
};

/// The session-replay worker's manifest, derived from [`worker`];
/// `workers/session-replay/iii.worker.yaml` mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// How long an `engine::traces::*` call may take: it flushes the span writer and reads the
/// engine's database, which is milliseconds; 10 s only trips when the engine is wedged.
const TRACES_TIMEOUT: Duration = Duration::from_secs(10);

/// How many root spans one trace may have that are looked at: SDK spans without their parent
/// are roots too, and a trace rarely has more than a handful.
const ROOTS_PER_TRACE: usize = 100;

/// The worker's service: the replay domain over the engine's state and traces.
type Service = Arc<Replay<StateStore>>;

/// The session-replay worker: every `replay::*` function and the replay and trace routes over
/// [`Replay`].
pub fn worker() -> Worker<Service, ReplayError> {
    Worker::new(
        "session-replay",
        "The step record of every session (model calls, tool calls, approvals, errors): record idempotently, replay in order, summarise, search, and join a session with its engine traces.",
    )
    .function(
        "replay::record",
        "Records one step of a session, once per (session_id, seq): {session_id, seq, kind, at_ms, duration_ms?, turn_id?, trace_id?, data} -> {recorded}.",
        |r: Service, req: RecordEvent| async move { r.record(req).await },
    )
    .function(
        "replay::record_many",
        "Records several steps, each once per (session_id, seq); one invalid step records none: {events: [step]} -> {recorded}.",
        |r: Service, req: RecordMany| async move { r.record_many(req).await },
    )
    .function(
        "replay::get",
        "A session's steps by seq: {session_id, from_seq?, limit?} -> {session_id, events}.",
        |r: Service, req: GetEvents| async move { r.get(req).await },
    )
    .function(
        "replay::summary",
        "A session's totals: {session_id} -> {events, turns, started_ms, ended_ms, duration_ms, llm_calls, tool_calls, input_tokens, output_tokens, cost_usd?, errors, approvals, trace_ids}.",
        |r: Service, req: SessionRef| async move { r.summary(req).await },
    )
    .function(
        "replay::search",
        "Steps whose JSON contains a text, any case, newest first: {query, session_id?, kind?, limit?} -> {query, events, total}.",
        |r: Service, req: SearchEvents| async move { r.search(req).await },
    )
    .function(
        "replay::delete",
        "Deletes every recorded step of a session: {session_id} -> {session_id, deleted}.",
        |r: Service, req: SessionRef| async move { r.delete(req).await },
    )
    .function(
        "replay::traces",
        "A session's traces with their root spans, or recent traces: {session_id?, limit?, turns?} -> {traces: [{trace_id, root, started_ms, duration_ms, turn_id?}]}.",
        |r: Service, req: ListTraces| async move { r.traces(req).await },
    )
    .function(
        "replay::trace",
        "One trace's span tree: {trace_id} -> {trace_id, roots}.",
        |r: Service, req: TraceRef| async move { r.trace(req).await },
    )
    // GET /v1/sessions/:id/events?from_seq=&limit=: the session's steps by seq.
    .route("replay::http_events", "GET", "/v1/sessions/:id/events", |r, req| async move {
        let get = GetEvents {
            session_id: session_id(&req)?,
            from_seq: number(&req, "from_seq")?,
            limit: number(&req, "limit")?.map(usize_of),
        };
        Ok(HttpResponse::ok(r.get(get).await?))
    })
    // GET /v1/sessions/:id/summary: the session's totals.
    .route("replay::http_summary", "GET", "/v1/sessions/:id/summary", |r, req| async move {
        Ok(HttpResponse::ok(r.summary(SessionRef { session_id: session_id(&req)? }).await?))
    })
    // GET /v1/replay/search?q=&session_id=&kind=&limit=: matching steps across sessions.
    .route("replay::http_search", "GET", "/v1/replay/search", |r, req| async move {
        let search = SearchEvents {
            query: req.query("q").unwrap_or_default().to_string(),
            session_id: req.query("session_id").map(str::to_string),
            kind: req.query("kind").map(str::to_string),
            limit: number(&req, "limit")?.map(usize_of),
        };
        Ok(HttpResponse::ok(r.search(search).await?))
    })
    // GET /v1/traces?session_id=&limit=: a session's traces, or recent ones.
    .route("replay::http_traces", "GET", "/v1/traces", |r, req| async move {
        let list = ListTraces {
            session_id: req.query("session_id").map(str::to_string),
            limit: number(&req, "limit")?.map(usize_of),
            turns: matches!(req.query("turns"), Some("1" | "true")),
        };
        Ok(HttpResponse::ok(r.traces(list).await?))
    })
    // GET /v1/traces/:id: one trace's span tree.
    .route("replay::http_trace", "GET", "/v1/traces/:id", |r, req| async move {
        let trace_id = percent_decode(req.path_param("id")?);
        Ok(HttpResponse::ok(r.trace(TraceRef { trace_id }).await?))
    })
}

/// Runs the session-replay worker as its own process until SIGTERM or SIGINT
/// (`agentos worker session-replay`); once everything is registered, the retention sweep
/// starts as `[replay]` says.
pub fn run() -> Result<(), WorkerError> {
    let settings: ReplaySettings = agentos_kit::config::section("replay")?;
    worker()
        .on_register(move |r| start_retention(Arc::clone(r.service), settings))
        .run(|iii| Ok(Arc::new(Replay::new(StateStore::new(iii.clone())))))
}

/// Sweeps expired sessions every `sweep_secs` (the first sweep a minute after start, so a
/// starting stack is not slowed); nothing starts when `[replay]` sets no bound.
pub fn start_retention<S: ReplayStore + 'static>(replay: Arc<Replay<S>>, settings: ReplaySettings) {
    if !settings.bounded() {
        tracing::info!("[replay] sets no retention bound: steps are kept until their session is deleted");
        return;
    }
    /// Time for the stack to come up before the first sweep reads every session.
    const FIRST_SWEEP: Duration = Duration::from_secs(60);
    let every = Duration::from_secs(settings.sweep_secs.max(1));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + FIRST_SWEEP, every);
        loop {
            ticks.tick().await;
            match replay.sweep(&settings, agentos_kit::clock::now_ms()).await {
                Ok(report) if !report.sessions.is_empty() => tracing::info!(
                    sessions = report.sessions.len(),
                    events = report.events,
                    "retention: deleted the steps of expired sessions"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!("retention sweep failed, tried again in {every:?}: {e}"),
            }
        }
    });
}

/// Registers every `replay::*` function and route on `iii`; routes check
/// `Authorization: Bearer <api_key>` (with `None` they refuse every request).
pub fn register(iii: &III, api_key: Option<Arc<str>>) {
    worker().register(iii, Arc::new(Replay::new(StateStore::new(iii.clone()))), api_key);
}

/// The percent-decoded `:id` of a `/v1/sessions/:id/…` route.
fn session_id(req: &HttpRequest) -> Result<String, ReplayError> {
    Ok(percent_decode(req.path_param("id")?))
}

/// Query parameter `name` as a whole number, if given.
fn number(req: &HttpRequest, name: &'static str) -> Result<Option<u64>, ReplayError> {
    req.query(name)
        .map(|text| text.trim().parse::<u64>().map_err(|_| ReplayError::NotANumber { name, given: text.to_string() }))
        .transpose()
}

/// A limit as `usize`; one beyond `usize` is out of range anyway, and the domain says so.
fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The answer of `state::list_groups`.
#[derive(Debug, Deserialize)]
struct Groups {
    /// Every scope name, sorted.
    groups: Vec<String>,
}

/// The answer of `engine::traces::list` (paging fields ignored).
#[derive(Debug, Deserialize)]
struct SpanPage {
    /// Root spans.
    spans: Vec<Value>,
}

/// The answer of `engine::traces::tree`.
#[derive(Debug, Deserialize)]
struct SpanTree {
    /// Root nodes with their `children`.
    roots: Vec<Value>,
}

pub use agentos_kit::state::StateStore;

/// [`ReplayStore`] over the engine: events in `replay:<session_id>`, spans from
/// `engine::traces::*`.
impl ReplayStore for StateStore {
    async fn get_event(&self, session_id: &str, key: &str) -> Result<Option<Event>, WorkerError> {
        state::get(self.iii(), &scope(session_id), key).await
    }

    async fn put_event(&self, event: &Event) -> Result<(), WorkerError> {
        state::set(self.iii(), &scope(&event.session_id), &event.key(), event).await
    }

    async fn events(&self, session_id: &str) -> Result<Vec<Event>, WorkerError> {
        state::list(self.iii(), &scope(session_id)).await
    }

    async fn delete_event(&self, session_id: &str, key: &str) -> Result<bool, WorkerError> {
        state::delete(self.iii(), &scope(session_id), key).await
    }

    async fn sessions(&self) -> Result<Vec<String>, WorkerError> {
        // The kit has no helper for `state::list_groups`; this is the same typed call.
        let answer: Groups = call(self.iii(), "state::list_groups", &json!({}), STATE_TIMEOUT).await?;
        Ok(answer.groups.iter().filter_map(|g| g.strip_prefix(SCOPE_PREFIX)).map(str::to_string).collect())
    }

    async fn newest(&self) -> Result<Vec<SessionAge>, WorkerError> {
        state::list(self.iii(), INDEX_SCOPE).await
    }

    async fn newest_of(&self, session_id: &str) -> Result<Option<u64>, WorkerError> {
        let age: Option<SessionAge> = state::get(self.iii(), INDEX_SCOPE, session_id).await?;
        Ok(age.map(|a| a.newest_ms))
    }

    async fn set_newest(&self, age: &SessionAge) -> Result<(), WorkerError> {
        state::set(self.iii(), INDEX_SCOPE, &age.session_id, age).await
    }

    async fn forget_newest(&self, session_id: &str) -> Result<(), WorkerError> {
        state::delete(self.iii(), INDEX_SCOPE, session_id).await.map(drop)
    }

    async fn trace_roots(&self, trace_id: &str) -> Result<Vec<Value>, WorkerError> {
        let query = json!({"trace_id": trace_id, "include_internal": true, "limit": ROOTS_PER_TRACE});
        let page: SpanPage = call(self.iii(), "engine::traces::list", &query, TRACES_TIMEOUT).await?;
        Ok(page.spans)
    }

    async fn recent_roots(&self, limit: usize) -> Result<Vec<Value>, WorkerError> {
        let query = json!({"limit": limit, "sort_by": "start", "sort_order": "desc"});
        let page: SpanPage = call(self.iii(), "engine::traces::list", &query, TRACES_TIMEOUT).await?;
        Ok(page.spans)
    }

    async fn trace_tree(&self, trace_id: &str) -> Result<Vec<Value>, WorkerError> {
        let tree: SpanTree =
            call(self.iii(), "engine::traces::tree", &json!({"trace_id": trace_id}), TRACES_TIMEOUT).await?;
        Ok(tree.roots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn every_verb_of_the_issue_is_a_function_and_the_manifest_is_valid() {
        for id in [
            "replay::record",
            "replay::get",
            "replay::summary",
            "replay::search",
            "replay::http_traces",
            "replay::http_trace",
        ] {
            assert!(MANIFEST.functions.contains(&id), "{id} is missing");
        }
        assert_eq!(MANIFEST.validate(), Ok(()));
    }

    #[test]
    fn numbers_in_the_query_are_read_or_refused_naming_the_parameter() {
        let mut req = HttpRequest::default();
        assert_eq!(number(&req, "limit"), Ok(None));
        req.query_params.insert("limit".into(), " 20 ".into());
        assert_eq!(number(&req, "limit"), Ok(Some(20)));
        req.query_params.insert("limit".into(), "-1".into());
        assert_eq!(number(&req, "limit"), Err(ReplayError::NotANumber { name: "limit", given: "-1".into() }));
    }
}
