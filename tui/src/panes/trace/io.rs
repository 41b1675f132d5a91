//! A span's input, output and error, taken from the session's recorded steps: spans carry
//! none, so the replay events of the same trace are matched to them.
//!
//! Rules it keeps:
//! - Only events of this trace count (`trace_id` equal, not merely mentioned), in the order
//!   they happened (`at_ms`, then `seq`).
//! - A `tool_call` matches the next span of its `function_id` (by start time) that did not
//!   start before the call was recorded, give or take [`CLOCK_SLACK_MS`]; its `tool_result`
//!   (same call `id`) gives the output and the error. A call the gate blocked never ran, so it
//!   takes no span.
//! - An `llm_request` matches the next `llm::complete` span the same way, and the first
//!   `llm_response` after it (before the next request) is its output.
//! - The turn's own span (`agent::chat`, else the first root) gets the `user_message` as
//!   input, the `turn_done` as output and the last `error` event as error.

use std::collections::HashMap;

use serde_json::{Value, json};

use agentos_protocol::chat::ToolResultEvent;
use agentos_protocol::error::ErrorInfo;
use agentos_protocol::replay::{self, Step};

use super::model::SpanTree;
use crate::panes::replay::events::{self, ReplayEvent};

/// The function of a model call's span.
pub const LLM_FUNCTION: &str = "llm::complete";

/// The function of a turn's span.
pub const TURN_FUNCTION: &str = "agent::chat";

/// How far a span may start before the step that announced it was recorded: the two clocks are
/// read at different moments (the event's time is taken in whole ms).
pub const CLOCK_SLACK_MS: i64 = 5;

/// What the replay recorded for one span.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanIo {
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<Value>,
}

/// The input, output and error of every span of `tree` (by index) from `events`, which may
/// hold other traces' events too.
pub fn match_events(tree: &SpanTree, events: &[ReplayEvent]) -> Vec<Option<SpanIo>> {
    let mut io: Vec<Option<SpanIo>> = vec![None; tree.spans.len()];
    let mut events: Vec<&ReplayEvent> =
        events.iter().filter(|e| e.trace_id.as_deref() == Some(tree.trace_id.as_str())).collect();
    events.sort_by_key(|e| (e.at_ms, e.seq));
    let mut spans = SpansByFunction::new(tree);
    match_tools(&events, &mut spans, &mut io);
    match_llm_calls(&events, &mut spans, &mut io);
    match_turn(tree, &events, &mut io);
    io
}

/// The spans of each function by start time, with how many have been matched so far.
struct SpansByFunction<'a> {
    tree: &'a SpanTree,
    queues: HashMap<&'a str, (Vec<usize>, usize)>,
}

impl<'a> SpansByFunction<'a> {
    fn new(tree: &'a SpanTree) -> Self {
        let mut queues: HashMap<&str, (Vec<usize>, usize)> = HashMap::new();
        for (i, span) in tree.spans.iter().enumerate() {
            if let Some(f) = span.function_id.as_deref() {
                queues.entry(f).or_default().0.push(i);
            }
        }
        for (list, _) in queues.values_mut() {
            list.sort_by_key(|&i| (tree.spans[i].start_ns, i));
        }
        Self { tree, queues }
    }

    /// The next unmatched span of `function` that started no earlier than `at_ms` (less the
    /// slack); spans passed over are not matched later either, since events come in order.
    fn take(&mut self, function: &str, at_ms: u64) -> Option<usize> {
        let (list, next) = self.queues.get_mut(function)?;
        let earliest_ns = (i64::try_from(at_ms).unwrap_or(i64::MAX) - CLOCK_SLACK_MS).saturating_mul(1_000_000);
        while let Some(&i) = list.get(*next) {
            *next += 1;
            if self.tree.spans[i].start_ns >= earliest_ns {
                return Some(i);
            }
        }
        None
    }
}

fn match_tools(events: &[&ReplayEvent], spans: &mut SpansByFunction<'_>, io: &mut [Option<SpanIo>]) {
    let results: HashMap<String, ToolResultEvent> = events
        .iter()
        .filter_map(|e| match events::step(e) {
            Step::ToolResult(result) if !result.id.is_empty() => Some((result.id.clone(), result)),
            _ => None,
        })
        .collect();
    for event in events {
        let Step::ToolCall(call) = events::step(event) else { continue };
        if call.id.is_empty() || call.function_id.is_empty() {
            continue;
        }
        let result = results.get(&call.id);
        if result.is_some_and(|r| r.blocked.is_some()) {
            continue;
        }
        let Some(span) = spans.take(&call.function_id, event.at_ms) else { continue };
        io[span] = Some(SpanIo {
            input: Some(call.arguments).filter(|a| !a.is_null()),
            output: result.and_then(|r| r.result.clone()),
            error: result.and_then(|r| r.error.as_ref()).map(error_json),
        });
    }
}

fn match_llm_calls(events: &[&ReplayEvent], spans: &mut SpansByFunction<'_>, io: &mut [Option<SpanIo>]) {
    for (at, request) in events.iter().enumerate().filter(|(_, e)| e.kind == replay::LLM_REQUEST) {
        let Some(span) = spans.take(LLM_FUNCTION, request.at_ms) else { continue };
        let response = events[at + 1..]
            .iter()
            .take_while(|e| e.kind != replay::LLM_REQUEST)
            .find(|e| e.kind == replay::LLM_RESPONSE);
        io[span] =
            Some(SpanIo { input: Some(request.data.clone()), output: response.map(|r| r.data.clone()), error: None });
    }
}

fn match_turn(tree: &SpanTree, events: &[&ReplayEvent], io: &mut [Option<SpanIo>]) {
    let turn_span = tree
        .spans
        .iter()
        .position(|s| s.function_id.as_deref() == Some(TURN_FUNCTION))
        .or((!tree.spans.is_empty()).then_some(0));
    let Some(span) = turn_span else { return };
    let of_kind = |kind: &str| events.iter().rev().find(|e| e.kind == kind).map(|e| e.data.clone());
    let user = events.iter().find(|e| e.kind == replay::USER_MESSAGE).map(|e| e.data.clone());
    let turn = SpanIo { input: user, output: of_kind(replay::TURN_DONE), error: of_kind(replay::ERROR) };
    if turn != SpanIo::default() {
        io[span] = Some(turn);
    }
}

/// A recorded error as the detail shows it: its code, and its message when it has one.
fn error_json(e: &ErrorInfo) -> Value {
    if e.message.is_empty() { json!({"code": e.code}) } else { json!({"code": e.code, "message": e.message}) }
}

/// Where the spans' inputs and outputs stand.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum IoState {
    /// The recorded steps were asked for.
    #[default]
    Searching,
    /// They could not be read: why.
    Failed(String),
    /// Matched, by span index.
    Ready(Vec<Option<SpanIo>>),
}

impl IoState {
    /// What was recorded for span `index`, once matched.
    pub fn of(&self, index: usize) -> Option<&SpanIo> {
        match self {
            IoState::Ready(io) => io.get(index).and_then(Option::as_ref),
            _ => None,
        }
    }
}

/// The span's recorded error and the span's own error, as one JSON value for the detail.
pub fn error_of(span_error: Option<&super::model::SpanError>, recorded: Option<&Value>) -> Option<Value> {
    match (span_error, recorded) {
        (_, Some(recorded)) => Some(recorded.clone()),
        (Some(e), None) => Some(json!({"code": e.code, "message": e.message})),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn span(id: &str, function: &str, start_ms: i64, end_ms: i64, children: Vec<Value>) -> Value {
        json!({"span_id": id, "name": format!("call {function}"), "function_id": function, "status": "ok",
               "start_time_unix_nano": start_ms * 1_000_000, "end_time_unix_nano": end_ms * 1_000_000,
               "children": children})
    }

    fn event(seq: u64, at_ms: u64, kind: &str, data: Value) -> ReplayEvent {
        ReplayEvent {
            session_id: "s".into(),
            seq,
            kind: kind.into(),
            at_ms,
            duration_ms: None,
            turn_id: Some("turn".into()),
            trace_id: Some("t".into()),
            data,
        }
    }

    fn tree() -> SpanTree {
        SpanTree::from_json(&json!({"trace_id": "t", "roots": [span("turn", "agent::chat", 1000, 1100, vec![
            span("llm1", "llm::complete", 1010, 1030, vec![]),
            span("read1", "code::read", 1031, 1035, vec![]),
            span("read2", "code::read", 1036, 1040, vec![]),
            span("llm2", "llm::complete", 1041, 1090, vec![]),
        ])]}))
    }

    fn at(tree: &SpanTree, io: &[Option<SpanIo>], span_id: &str) -> Option<SpanIo> {
        io[tree.position(span_id).unwrap()].clone()
    }

    #[test]
    fn tool_calls_match_spans_of_their_function_in_order_and_blocked_calls_take_none() {
        let tree = tree();
        let events = vec![
            event(1, 1000, "user_message", json!({"text": "hi"})),
            event(2, 1009, "llm_request", json!({"messages_count": 2})),
            event(3, 1030, "llm_response", json!({"content": "", "tool_calls": 3})),
            event(
                4,
                1030,
                "tool_call",
                json!({"id": "c0", "function_id": "code::read", "arguments": {"path": "denied"}}),
            ),
            event(
                5,
                1030,
                "tool_result",
                json!({"id": "c0", "function_id": "code::read", "ok": false, "blocked": "denied"}),
            ),
            event(6, 1031, "tool_call", json!({"id": "c1", "function_id": "code::read", "arguments": {"path": "a"}})),
            event(
                7,
                1035,
                "tool_result",
                json!({"id": "c1", "function_id": "code::read", "ok": true, "result": {"text": "A"}}),
            ),
            event(8, 1036, "tool_call", json!({"id": "c2", "function_id": "code::read", "arguments": {"path": "b"}})),
            event(
                9,
                1040,
                "tool_result",
                json!({"id": "c2", "function_id": "code::read", "ok": false, "error": {"code": "NOT_FOUND"}}),
            ),
            event(10, 1041, "llm_request", json!({"messages_count": 5})),
            event(11, 1090, "llm_response", json!({"content": "done"})),
            event(12, 1100, "turn_done", json!({"reply": "done"})),
        ];
        let io = match_events(&tree, &events);
        assert_eq!(
            at(&tree, &io, "read1"),
            Some(SpanIo { input: Some(json!({"path": "a"})), output: Some(json!({"text": "A"})), error: None })
        );
        assert_eq!(
            at(&tree, &io, "read2"),
            Some(SpanIo { input: Some(json!({"path": "b"})), output: None, error: Some(json!({"code": "NOT_FOUND"})) })
        );
        assert_eq!(at(&tree, &io, "llm1").and_then(|i| i.output), Some(json!({"content": "", "tool_calls": 3})));
        assert_eq!(at(&tree, &io, "llm2").and_then(|i| i.input), Some(json!({"messages_count": 5})));
        let turn = at(&tree, &io, "turn").unwrap();
        assert_eq!((turn.input, turn.output), (Some(json!({"text": "hi"})), Some(json!({"reply": "done"}))));
    }

    #[test]
    fn events_of_other_traces_and_spans_started_before_the_call_are_ignored() {
        let tree = tree();
        let mut other = event(1, 1031, "tool_call", json!({"id": "x", "function_id": "code::read", "arguments": {}}));
        other.trace_id = Some("other".into());
        // Recorded after both read spans started: nothing left to match.
        let late = event(2, 1050, "tool_call", json!({"id": "y", "function_id": "code::read", "arguments": {}}));
        let io = match_events(&tree, &[other, late]);
        assert_eq!(io.iter().flatten().count(), 0);
    }

    #[test]
    fn the_span_error_shows_when_nothing_was_recorded() {
        let e = super::super::model::SpanError { code: "TIMEOUT".into(), message: "slow".into() };
        assert_eq!(error_of(Some(&e), None), Some(json!({"code": "TIMEOUT", "message": "slow"})));
        assert_eq!(error_of(Some(&e), Some(&json!("x"))), Some(json!("x")));
    }
}
