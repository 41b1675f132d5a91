//! How big `engine.db` grows over 10 000 chat turns, with and without retention.
//!
//! Each turn writes what a chat turn with one tool call writes today (read from agent-core's
//! turn, session-lifecycle and this worker): the session history (one state value, growing
//! by a user message, a tool result and an answer), the session record twice and its index
//! entry, six replay steps through `Replay::record` (each also an enqueued job, stored and then
//! deleted), 30 spans (the turn's calls: realm, hand, history, session, functions list,
//! context, two model calls, guard, the tool, and each replay delivery with its state get
//! and set) and 3 log records. Sessions have 20 turns; the turns are spread over `--days`
//! simulated days (default 60) on a simulated clock, so age bounds act as they would.
//!
//! "without": the engine's count bounds only (`memory_max_spans`, `logs_max_count`, 10 000
//! each, as before retention existed) and no replay retention. "with": the defaults, the
//! engine sweep (7 days, 64 MiB of spans and logs) and the replay sweep (30 days, 1 000
//! sessions) every simulated hour (the engine sweeps every minute in a running stack; an hour
//! of a simulated day's 167 turns is what one real sweep would face at that pace).
//!
//! Runs against the engine's store and this worker's domain directly (no sockets), on one
//! thread. `cargo bench -p agentos-worker-session-replay --bench retention [-- --turns N --days D]`.

// A bench that cannot write its rows has nothing to measure: failing loudly is the point.
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use agentos_engine::store::{Job, JobStatus, Retention, SpanRecord, Store};
use agentos_kit::WorkerError;
use agentos_worker_session_replay::retention::{ReplaySettings, SessionAge};
use agentos_worker_session_replay::{Event, INDEX_SCOPE, RecordEvent, Replay, ReplayStore, SCOPE_PREFIX, scope};
use serde_json::{Value, json};

const NS_PER_MS: i64 = 1_000_000;
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;
const TURNS_PER_SESSION: u64 = 20;
const SPANS_PER_TURN: usize = 30;
const LOGS_PER_TURN: usize = 3;
/// The engine's count bounds (`memory_max_spans`, `logs_max_count` defaults).
const KEEP: usize = 10_000;

/// [`ReplayStore`] straight over the engine's store, as `state::*` would reach it.
struct Direct(Arc<Store>);

fn sql(e: agentos_engine::store::StoreError) -> WorkerError {
    WorkerError::internal(e.to_string())
}

impl ReplayStore for Direct {
    async fn get_event(&self, session_id: &str, key: &str) -> Result<Option<Event>, WorkerError> {
        let value = self.0.state_get(&scope(session_id), key).map_err(sql)?;
        value.map(serde_json::from_value).transpose().map_err(|e| WorkerError::internal(e.to_string()))
    }
    async fn put_event(&self, event: &Event) -> Result<(), WorkerError> {
        let value = serde_json::to_value(event).map_err(|e| WorkerError::internal(e.to_string()))?;
        self.0.state_set(&scope(&event.session_id), &event.key(), &value, usize::MAX).map_err(sql)?;
        Ok(())
    }
    async fn events(&self, session_id: &str) -> Result<Vec<Event>, WorkerError> {
        let values = self.0.state_list(&scope(session_id)).map_err(sql)?;
        values
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(|e| WorkerError::internal(e.to_string())))
            .collect()
    }
    async fn delete_event(&self, session_id: &str, key: &str) -> Result<bool, WorkerError> {
        Ok(self.0.state_delete(&scope(session_id), key).map_err(sql)?.is_some())
    }
    async fn sessions(&self) -> Result<Vec<String>, WorkerError> {
        let groups = self.0.state_groups().map_err(sql)?;
        Ok(groups.iter().filter_map(|g| g.strip_prefix(SCOPE_PREFIX)).map(str::to_string).collect())
    }
    async fn newest(&self) -> Result<Vec<SessionAge>, WorkerError> {
        let values = self.0.state_list(INDEX_SCOPE).map_err(sql)?;
        values
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(|e| WorkerError::internal(e.to_string())))
            .collect()
    }
    async fn newest_of(&self, session_id: &str) -> Result<Option<u64>, WorkerError> {
        let value = self.0.state_get(INDEX_SCOPE, session_id).map_err(sql)?;
        Ok(value.and_then(|v| v.get("newest_ms").and_then(Value::as_u64)))
    }
    async fn set_newest(&self, age: &SessionAge) -> Result<(), WorkerError> {
        let value = serde_json::to_value(age).map_err(|e| WorkerError::internal(e.to_string()))?;
        self.0.state_set(INDEX_SCOPE, &age.session_id, &value, usize::MAX).map_err(sql)?;
        Ok(())
    }
    async fn forget_newest(&self, session_id: &str) -> Result<(), WorkerError> {
        self.0.state_delete(INDEX_SCOPE, session_id).map_err(sql)?;
        Ok(())
    }
    async fn trace_roots(&self, _: &str) -> Result<Vec<Value>, WorkerError> {
        Ok(Vec::new())
    }
    async fn recent_roots(&self, _: usize) -> Result<Vec<Value>, WorkerError> {
        Ok(Vec::new())
    }
    async fn trace_tree(&self, _: &str) -> Result<Vec<Value>, WorkerError> {
        Ok(Vec::new())
    }
}

/// Text of about `n` bytes that does not compress to nothing (SQLite does not compress, but
/// keep it honest anyway).
fn text(n: usize, seed: u64) -> String {
    let words = ["engine", "state", "the", "turn", "tool", "reads", "a", "file", "and", "answers", "with", "diff"];
    let mut out = String::with_capacity(n + 8);
    let mut i = seed;
    while out.len() < n {
        out.push_str(words[(i % words.len() as u64) as usize]);
        out.push(' ');
        i = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 7;
    }
    out
}

/// The replay steps of one turn with one tool call.
fn steps(turn: u64) -> Vec<(&'static str, Value)> {
    vec![
        ("user_message", json!({"text": text(200, turn), "hand": "coder", "model": "openai/gpt-4o-mini"})),
        (
            "context_built",
            json!({"messages": 2 * (turn % TURNS_PER_SESSION) + 1, "estimated_tokens": 1800, "compacted": false}),
        ),
        ("llm_request", json!({"model": "openai/gpt-4o-mini", "messages_count": 5, "tools": 6})),
        (
            "tool_call",
            json!({"id": format!("call_{turn}"), "function_id": "code::read_file", "arguments": {"path": "src/lib.rs"}}),
        ),
        (
            "tool_result",
            json!({"id": format!("call_{turn}"), "function_id": "code::read_file", "ok": true, "result": {"content": text(1500, turn + 1)}}),
        ),
        (
            "llm_response",
            json!({"model": "openai/gpt-4o-mini", "provider": "openai", "content": text(800, turn + 2),
            "tool_calls": 0, "finish_reason": "stop", "usage": {"input_tokens": 2100, "output_tokens": 210}, "latency_ms": 900}),
        ),
    ]
}

fn span(turn: u64, n: usize, at_ns: i64) -> SpanRecord {
    let names = [
        "agent::chat",
        "realm::get",
        "hand::get",
        "state::get",
        "session::open",
        "engine::functions::list",
        "context::build",
        "llm::complete",
        "guard::check",
        "code::read_file",
        "state::set",
        "replay::record",
    ];
    let function = names[n % names.len()];
    SpanRecord {
        trace_id: format!("{turn:032x}"),
        span_id: format!("{:016x}", turn * 100 + n as u64),
        parent_span_id: (n > 0).then(|| format!("{:016x}", turn * 100)),
        remote_span_id: None,
        name: format!("call {function}"),
        function_id: Some(function.to_string()),
        worker_id: Some("5b3c9a2e-8d0f-4c1e-9a7b-2f6d1e0c3b4a".into()),
        caller_worker_id: Some("0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f".into()),
        internal: false,
        start_ns: at_ns + n as i64 * 1000,
        end_ns: at_ns + n as i64 * 1000 + 500,
        status: "ok".into(),
        error_code: None,
        error_message: None,
        service_name: "agentos".into(),
        attributes: vec![("iii.worker".into(), "agent-core".into()), ("otel.kind".into(), "server".into())],
    }
}

struct Figures {
    file: u64,
    wal: u64,
    used: u64,
    free_pages: u64,
    spans: usize,
    logs: usize,
    replay_events: usize,
    replay_sessions: usize,
    trace_log_bytes: u64,
    write_us_per_turn: f64,
    engine_sweeps: usize,
    engine_sweep_ms: (f64, f64),
    replay_sweeps: usize,
    replay_sweep_ms: (f64, f64),
}

fn mean_max(samples: &[Duration]) -> (f64, f64) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    (ms.iter().sum::<f64>() / ms.len() as f64, ms.iter().copied().fold(0.0, f64::max))
}

async fn run(turns: u64, days: u64, retention: bool) -> Figures {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(dir.path()).expect("store opens"));
    let replay = Replay::new(Direct(store.clone()));
    let settings = ReplaySettings::default();
    let start_ms: u64 = 1_800_000_000_000;
    let step_ms = days * DAY_MS / turns.max(1);
    let (mut next_engine_sweep, mut next_replay_sweep) = (start_ms + HOUR_MS, start_ms + HOUR_MS);
    let (mut engine_sweeps, mut replay_sweeps) = (Vec::new(), Vec::new());
    let mut writing = Duration::ZERO;
    let mut history: Vec<Value> = Vec::new();
    for turn in 0..turns {
        let now_ms = start_ms + turn * step_ms;
        let session = format!("s{:05}", turn / TURNS_PER_SESSION);
        let in_session = turn % TURNS_PER_SESSION;
        if in_session == 0 {
            history.clear();
        }
        let began = Instant::now();
        // Session-lifecycle: the record on open and when the turn ends, and the index entry.
        let record = json!({"id": session, "realm": "default", "name": text(30, turn), "state": "active",
            "turns": in_session + 1, "created_ms": now_ms, "updated_ms": now_ms, "hand": "coder"});
        store.state_set("realm:default:sessions", &session, &record, usize::MAX).expect("set");
        store
            .state_set("sessions:index", &session, &json!({"id": session, "realm": "default"}), usize::MAX)
            .expect("set");
        // The turn's replay steps, each through the queue and then recorded.
        for (i, (kind, data)) in steps(turn).into_iter().enumerate() {
            let event = RecordEvent {
                session_id: session.clone(),
                seq: (in_session + 1) * 100_000 + i as u64,
                kind: kind.into(),
                at_ms: now_ms + i as u64,
                duration_ms: Some(12),
                turn_id: Some(format!("turn-{turn}")),
                trace_id: Some(format!("{turn:032x}")),
                data,
            };
            let job = Job {
                id: format!("job-{turn}-{i}"),
                queue: "default".into(),
                function_id: "replay::record".into(),
                data: serde_json::to_value(&event).expect("json"),
                traceparent: None,
                baggage: None,
                group_key: None,
                attempts: 0,
                next_at_ms: now_ms as i64,
                status: JobStatus::Ready,
                last_error: None,
                created_ms: now_ms as i64,
            };
            store.job_insert(&job).expect("enqueue");
            replay.record(event).await.expect("record");
            store.job_delete(&job.id).expect("delivered");
        }
        // The history grows by the user's message, the tool result and the answer.
        history.push(json!({"role": "user", "content": text(200, turn)}));
        history.push(json!({"role": "tool", "content": text(1500, turn + 1)}));
        history.push(json!({"role": "assistant", "content": text(800, turn + 2)}));
        let value = json!({"id": session, "messages": history, "updated_ms": now_ms});
        store.state_set("realm:default:history", &session, &value, usize::MAX).expect("set");
        store.state_set("realm:default:sessions", &session, &record, usize::MAX).expect("set");
        let at_ns = now_ms as i64 * NS_PER_MS;
        let spans: Vec<SpanRecord> = (0..SPANS_PER_TURN).map(|n| span(turn, n, at_ns)).collect();
        store.spans_insert(&spans, KEEP).expect("spans");
        let logs: Vec<Value> = (0..LOGS_PER_TURN)
            .map(|n| {
                json!({"timestamp_unix_nano": at_ns + n as i64, "observed_timestamp_unix_nano": at_ns,
                "severity_number": 9, "severity_text": "INFO", "body": text(160, turn + n as u64),
                "attributes": {"session_id": session}, "trace_id": format!("{turn:032x}"), "span_id": null,
                "resource": {}, "service_name": "llm-router", "instrumentation_scope_name": "agentos-engine",
                "instrumentation_scope_version": "0.1.0"})
            })
            .collect();
        store.logs_insert(&logs, KEEP).expect("logs");
        writing += began.elapsed();

        if retention && now_ms >= next_engine_sweep {
            next_engine_sweep += HOUR_MS;
            let policy = Retention {
                older_than_ns: Some((now_ms - 7 * DAY_MS) as i64 * NS_PER_MS),
                max_bytes: Some(64 * 1024 * 1024),
            };
            let began = Instant::now();
            store.sweep(&policy).expect("engine sweep");
            engine_sweeps.push(began.elapsed());
        }
        if retention && now_ms >= next_replay_sweep {
            next_replay_sweep += HOUR_MS;
            let began = Instant::now();
            replay.sweep(&settings, now_ms).await.expect("replay sweep");
            replay_sweeps.push(began.elapsed());
        }
    }
    let size = store.size().expect("size");
    let wal = std::fs::metadata(dir.path().join("engine.db-wal")).map(|m| m.len()).unwrap_or(0);
    let (span_bytes, log_bytes) = store.trace_log_bytes().expect("bytes");
    let sessions = replay.store().sessions().await.expect("sessions");
    let mut replay_events = 0;
    for s in &sessions {
        replay_events += replay.store().events(s).await.expect("events").len();
    }
    Figures {
        file: size.file_bytes(),
        wal,
        used: size.used_bytes(),
        free_pages: size.freelist_count,
        spans: store.spans_query("1 = 1", &[]).expect("spans").len(),
        logs: store.logs_all().expect("logs").len(),
        replay_events,
        replay_sessions: sessions.len(),
        trace_log_bytes: span_bytes + log_bytes,
        write_us_per_turn: writing.as_secs_f64() * 1e6 / turns.max(1) as f64,
        engine_sweeps: engine_sweeps.len(),
        engine_sweep_ms: mean_max(&engine_sweeps),
        replay_sweeps: replay_sweeps.len(),
        replay_sweep_ms: mean_max(&replay_sweeps),
    }
}

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --all-targets` runs this without `--bench`: a short smoke run.
    let smoke = !args.iter().any(|a| a == "--bench");
    let turns = arg(&args, "--turns", if smoke { 200 } else { 10_000 });
    let days = arg(&args, "--days", 60);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mb = |b: u64| b as f64 / 1_000_000.0;
    println!("{turns} turns over {days} simulated days, {TURNS_PER_SESSION} turns a session\n");
    println!(
        "| retention | engine.db | in use | free pages | WAL | spans | logs | span+log bytes | replay steps (sessions) | writes per turn | engine sweep mean / max (n) | replay sweep mean / max (n) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for retention in [false, true] {
        eprintln!("running {} retention…", if retention { "with" } else { "without" });
        let f = runtime.block_on(run(turns, days, retention));
        println!(
            "| {} | {:.1} MB | {:.1} MB | {} | {:.1} MB | {} | {} | {:.1} MB | {} ({}) | {:.0} µs | {:.1} / {:.1} ms ({}) | {:.0} / {:.0} ms ({}) |",
            if retention { "with (defaults)" } else { "without" },
            mb(f.file),
            mb(f.used),
            f.free_pages,
            mb(f.wal),
            f.spans,
            f.logs,
            mb(f.trace_log_bytes),
            f.replay_events,
            f.replay_sessions,
            f.write_us_per_turn,
            f.engine_sweep_ms.0,
            f.engine_sweep_ms.1,
            f.engine_sweeps,
            f.replay_sweep_ms.0,
            f.replay_sweep_ms.1,
            f.replay_sweeps,
        );
    }
}
