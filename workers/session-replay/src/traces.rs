//! A session's traces (pure): which engine traces its events ran in, joined with their root
//! spans from `engine::traces::list`.
//!
//! Rules it keeps:
//! - A session's traces are the distinct `trace_id`s of its events, in the order the session
//!   first met them; each carries the `turn_id` of the first event that named the trace.
//! - A trace can have several root spans (spans whose parent the engine did not store, such as
//!   the calls of a handler whose own span is still open or was sent over `/otel` only); its
//!   root is the one that started first, and of those the longest.
//! - Times span every root: `started_ms` is the first root's start, `duration_ms` (fractional)
//!   runs to the last root's end. A trace the engine no longer keeps has `root: null` and the
//!   times of its events.
//! - The engine lists root spans, not traces: recent traces are its newest root spans grouped
//!   by trace id, in the order their newest root appears. Traces of watching the stack are left
//!   out, or they would fill the list: liveness probes (`<worker>::health`, which the supervisor
//!   calls every 5 s per worker), the supervisor's status reads (`/v1/health`, `/v1/workers`,
//!   `/v1/workers/:name/logs`, which the dashboard polls every second or two) and the reads of
//!   replay and traces themselves ([`WATCHING`]), and a worker's own calls of the engine's
//!   built-in functions outside any handler (`state::*`, `stream::*`, `engine::*`, `iii::*`,
//!   `publish`: timers and sweeps, not work anyone asked for).
//! - Spans are passed through as the engine wrote them, so the answer stays the engine's span
//!   format (`trace_id`, `span_id`, `name`, `start_time_unix_nano`, `duration_ms`, ...).

use serde::Deserialize;
use serde_json::Value;

use crate::Event;

/// One trace in a list, what `replay::traces` answers and what `replay::trace` answers (the
/// trace contract, shared with every reader).
pub use agentos_protocol::trace::{TraceList, TraceSummary as Trace, TraceTree};

/// A trace as the session's events saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenTrace {
    /// The trace id.
    pub trace_id: String,
    /// The turn of the first event that named it.
    pub turn_id: Option<String>,
    /// The first event's `at_ms`.
    pub first_ms: u64,
    /// The latest `at_ms + duration_ms` of its events.
    pub last_ms: u64,
}

/// The timing fields of an engine span.
#[derive(Debug, Deserialize)]
struct SpanTimes {
    trace_id: String,
    #[serde(default)]
    function_id: Option<String>,
    start_time_unix_nano: i64,
    end_time_unix_nano: i64,
}

impl SpanTimes {
    fn of(span: &Value) -> Option<Self> {
        serde_json::from_value(span.clone()).ok()
    }

    fn started_ms(&self) -> u64 {
        u64::try_from(self.start_time_unix_nano / 1_000_000).unwrap_or(0)
    }

    fn duration_ms(&self) -> f64 {
        (self.end_time_unix_nano - self.start_time_unix_nano).max(0) as f64 / 1e6
    }
}

/// The distinct traces of `events` (sorted by `seq`), in the order they first appear.
pub fn of_session(events: &[Event]) -> Vec<SeenTrace> {
    let mut seen: Vec<SeenTrace> = Vec::new();
    for event in events {
        let Some(trace_id) = &event.trace_id else { continue };
        let end = event.at_ms.saturating_add(event.duration_ms.unwrap_or(0));
        match seen.iter_mut().find(|t| &t.trace_id == trace_id) {
            Some(trace) => {
                trace.first_ms = trace.first_ms.min(event.at_ms);
                trace.last_ms = trace.last_ms.max(end);
            }
            None => seen.push(SeenTrace {
                trace_id: trace_id.clone(),
                turn_id: event.turn_id.clone(),
                first_ms: event.at_ms,
                last_ms: end,
            }),
        }
    }
    seen
}

/// The root of a trace among its root spans: the first to start, the longest of those.
pub fn pick_root(roots: Vec<Value>) -> Option<Value> {
    roots
        .into_iter()
        .filter_map(|span| SpanTimes::of(&span).map(|t| (t, span)))
        .min_by(|(a, _), (b, _)| {
            a.start_time_unix_nano.cmp(&b.start_time_unix_nano).then(
                (b.end_time_unix_nano - b.start_time_unix_nano).cmp(&(a.end_time_unix_nano - a.start_time_unix_nano)),
            )
        })
        .map(|(_, span)| span)
}

/// A session's trace with its root spans (or the times of its events without any).
pub fn joined(seen: SeenTrace, roots: Vec<Value>) -> Trace {
    match envelope(roots) {
        Some((root, started_ms, duration_ms)) => {
            Trace { trace_id: seen.trace_id, root: Some(root), started_ms, duration_ms, turn_id: seen.turn_id }
        }
        None => Trace {
            trace_id: seen.trace_id,
            root: None,
            started_ms: seen.first_ms,
            duration_ms: seen.last_ms.saturating_sub(seen.first_ms) as f64,
            turn_id: seen.turn_id,
        },
    }
}

/// The root functions of traces that only watch the stack (besides `*::health`): left out of
/// [`recent`].
pub const WATCHING: &[&str] = &[
    "supervisor::http_health",
    "supervisor::http_workers",
    "supervisor::http_logs",
    "replay::http_events",
    "replay::http_summary",
    "replay::http_search",
    "replay::http_traces",
    "replay::http_trace",
];

/// The root function of a chat turn's trace.
pub const TURN: &str = "agent::chat";

/// Whether a root span of `function_id` only watches the stack.
fn watching(function_id: &str) -> bool {
    const BUILTIN: &[&str] = &["state::", "stream::", "engine::", "iii::"];
    function_id.ends_with("::health")
        || WATCHING.contains(&function_id)
        || function_id == "publish"
        || BUILTIN.iter().any(|prefix| function_id.starts_with(prefix))
}

/// Recent traces from the engine's newest root spans (newest first): grouped by trace id in
/// the order they first appear, at most `limit`; with `turns_only`, only chat turns' traces
/// (root [`TURN`]). Traces that only watch the stack and spans without the timing fields are
/// skipped.
pub fn recent(roots: Vec<Value>, limit: usize, turns_only: bool) -> Vec<Trace> {
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    for span in roots {
        let Some(times) = SpanTimes::of(&span) else { continue };
        if times.function_id.as_deref().is_some_and(watching) {
            continue;
        }
        if turns_only && times.function_id.as_deref() != Some(TURN) {
            continue;
        }
        match groups.iter().position(|(id, _)| *id == times.trace_id) {
            Some(i) => groups[i].1.push(span),
            None if groups.len() < limit => groups.push((times.trace_id, vec![span])),
            None => {}
        }
    }
    groups
        .into_iter()
        .filter_map(|(trace_id, spans)| {
            let (root, started_ms, duration_ms) = envelope(spans)?;
            Some(Trace { trace_id, root: Some(root), started_ms, duration_ms, turn_id: None })
        })
        .collect()
}

/// The root of `roots` ([`pick_root`]), the first start (Unix ms) and the time to the last end
/// (ms); `None` without a span that has its times.
fn envelope(roots: Vec<Value>) -> Option<(Value, u64, f64)> {
    let times: Vec<SpanTimes> = roots.iter().filter_map(SpanTimes::of).collect();
    let start = times.iter().map(|t| t.start_time_unix_nano).min()?;
    let end = times.iter().map(|t| t.end_time_unix_nano).max()?;
    let root = pick_root(roots)?;
    let whole =
        SpanTimes { trace_id: String::new(), function_id: None, start_time_unix_nano: start, end_time_unix_nano: end };
    Some((root, whole.started_ms(), whole.duration_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn span(trace: &str, name: &str, start_ms: i64, end_ms: i64) -> Value {
        json!({"trace_id": trace, "span_id": name, "name": name,
               "start_time_unix_nano": start_ms * 1_000_000, "end_time_unix_nano": end_ms * 1_000_000,
               "duration_ms": (end_ms - start_ms) as f64})
    }

    fn event(seq: u64, at_ms: u64, duration_ms: Option<u64>, turn: &str, trace: Option<&str>) -> Event {
        Event {
            session_id: "s".into(),
            seq,
            kind: "x".into(),
            at_ms,
            duration_ms,
            turn_id: Some(turn.into()),
            trace_id: trace.map(str::to_string),
            data: json!({}),
        }
    }

    #[test]
    fn a_session_meets_each_trace_once_in_order_with_its_first_turn_and_time_span() {
        let events = [
            event(1, 100, None, "t1", Some("b")),
            event(2, 110, Some(50), "t1", Some("b")),
            event(3, 200, None, "t2", None),
            event(4, 300, Some(5), "t2", Some("a")),
            event(5, 120, None, "t3", Some("b")),
        ];
        assert_eq!(
            of_session(&events),
            vec![
                SeenTrace { trace_id: "b".into(), turn_id: Some("t1".into()), first_ms: 100, last_ms: 160 },
                SeenTrace { trace_id: "a".into(), turn_id: Some("t2".into()), first_ms: 300, last_ms: 305 },
            ]
        );
    }

    #[test]
    fn the_root_is_the_first_span_to_start_and_the_longest_of_those() {
        let roots = vec![span("t", "late", 20, 30), span("t", "short", 10, 12), span("t", "long", 10, 40)];
        assert_eq!(pick_root(roots).unwrap()["name"], "long");
        assert_eq!(pick_root(vec![json!({"name": "no times"})]), None);
        assert_eq!(pick_root(vec![]), None);
    }

    #[test]
    fn a_trace_spans_all_its_roots_or_else_its_events_times() {
        let seen = SeenTrace { trace_id: "t".into(), turn_id: Some("t1".into()), first_ms: 100, last_ms: 160 };
        let root = span("t", "call agent::chat", 90, 250);
        let late = span("t", "call session::set_state", 240, 300);
        assert_eq!(
            joined(seen.clone(), vec![late, root.clone()]),
            Trace {
                trace_id: "t".into(),
                root: Some(root),
                started_ms: 90,
                duration_ms: 210.0,
                turn_id: Some("t1".into())
            }
        );
        assert_eq!(
            serde_json::to_value(joined(seen, vec![])).unwrap(),
            json!({"trace_id": "t", "root": null, "started_ms": 100, "duration_ms": 60.0, "turn_id": "t1"})
        );
    }

    #[test]
    fn recent_traces_group_root_spans_by_trace_in_the_order_they_appear() {
        let roots = vec![
            span("b", "call b2", 50, 60),
            span("a", "call a", 40, 45),
            span("b", "call b1", 10, 30),
            span("c", "call c", 5, 6),
            json!({"trace_id": "x", "name": "no times"}),
            json!({"trace_id": "h", "function_id": "realm::health", "start_time_unix_nano": 70, "end_time_unix_nano": 71}),
            json!({"trace_id": "w", "function_id": "supervisor::http_workers", "start_time_unix_nano": 72, "end_time_unix_nano": 73}),
            json!({"trace_id": "t", "function_id": "replay::http_traces", "start_time_unix_nano": 74, "end_time_unix_nano": 75}),
            json!({"trace_id": "s", "function_id": "state::list", "start_time_unix_nano": 76, "end_time_unix_nano": 77}),
        ];
        let traces = recent(roots.clone(), 10, false);
        let summary: Vec<(&str, u64, f64, &Value)> = traces
            .iter()
            .map(|t| (t.trace_id.as_str(), t.started_ms, t.duration_ms, &t.root.as_ref().unwrap()["name"]))
            .collect();
        assert_eq!(
            summary,
            vec![("b", 10, 50.0, &json!("call b1")), ("a", 40, 5.0, &json!("call a")), ("c", 5, 1.0, &json!("call c"))]
        );
        let two: Vec<String> = recent(roots.clone(), 2, false).into_iter().map(|t| t.trace_id).collect();
        assert_eq!(two, vec!["b", "a"]);
        let mut with_turn = roots;
        with_turn.push(json!({"trace_id": "turn", "function_id": "agent::chat", "start_time_unix_nano": 1, "end_time_unix_nano": 9}));
        let turns: Vec<String> = recent(with_turn, 10, true).into_iter().map(|t| t.trace_id).collect();
        assert_eq!(turns, vec!["turn"]);
    }
}
