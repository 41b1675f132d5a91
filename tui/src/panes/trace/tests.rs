//! Tests of the trace pane: what each key asks for, and snapshots of every state it shows.

use insta::assert_snapshot;
use pretty_assertions::assert_eq;
use ratatui::crossterm::event::KeyCode;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use super::*;
use crate::event::{ApiError, Method, Request};
use crate::testing::{drain, key, render_pane};

/// 2024-02-29 13:45:07 UTC.
const T0: i64 = 1_709_214_307_000;
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn span(id: &str, function: &str, worker: &str, from_ms: i64, to_ms: i64, children: Vec<Value>) -> Value {
    json!({
        "trace_id": TRACE, "span_id": id, "parent_span_id": null, "name": format!("call {function}"),
        "function_id": function, "worker_id": worker, "status": "ok",
        "start_time_unix_nano": (T0 + from_ms) * 1_000_000, "end_time_unix_nano": (T0 + to_ms) * 1_000_000,
        "duration_ms": (to_ms - from_ms) as f64,
        "attributes": [["function_id", function], ["worker_id", worker], ["caller_worker_id", "9d1e77c0-5b1f-4c1e-9a55-0f3e2b7d6c11"]],
        "children": children,
    })
}

fn failed(mut span: Value, code: &str, message: &str) -> Value {
    span["status"] = json!("error");
    span["error"] = json!({"code": code, "message": message});
    span
}

const AGENT: &str = "9d1e77c0-5b1f-4c1e-9a55-0f3e2b7d6c11";
const LLM: &str = "2b7f1c3a-8e4d-4f0a-b1c2-7d9e0f1a2b3c";
const CODE: &str = "c0de0001-aaaa-4bbb-8ccc-0123456789ab";

/// A chat turn: the HTTP route, the turn, its context, three model calls and two tools, the
/// second of which timed out.
fn tree() -> Value {
    json!({"trace_id": TRACE, "roots": [span("a0", "agent::http_chat", AGENT, 0, 1240, vec![
        span("a1", "agent::chat", AGENT, 3, 1238, vec![
            span("s1", "session::open", "5e55a0a1-0000-4000-8000-000000000001", 5, 9, vec![]),
            span("c1", "context::build", "c7c7c7c7-0000-4000-8000-000000000002", 10, 42, vec![
                span("m1", "memory::recall", "3e3e3e3e-0000-4000-8000-000000000003", 12, 30, vec![]),
            ]),
            span("l1", "llm::complete", LLM, 45, 610, vec![]),
            span("g1", "guard::check", "6a6a6a6a-0000-4000-8000-000000000004", 612, 614, vec![]),
            span("p1", "approval::classify", "7b7b7b7b-0000-4000-8000-000000000005", 612, 616, vec![]),
            span("r1", "code::read_file", CODE, 617, 690, vec![]),
            span("l2", "llm::complete", LLM, 692, 980, vec![]),
            failed(span("x1", "code::run_command", CODE, 982, 1090, vec![]), "TIMEOUT", "code::run_command did not answer within 100ms"),
            span("l3", "llm::complete", LLM, 1092, 1235, vec![]),
        ]),
    ])]})
}

fn event(seq: u64, at: i64, kind: &str, data: Value) -> Value {
    json!({"session_id": "bugfix-1", "seq": 100_000 + seq, "kind": kind, "at_ms": T0 + at, "turn_id": "turn-1",
           "trace_id": TRACE, "data": data})
}

/// The session's recorded steps of the trace, newest first as the search answers them.
fn search() -> Value {
    let mut events = vec![
        event(0, 4, "user_message", json!({"text": "The parser test fails on empty input. Can you fix it?"})),
        event(1, 42, "context_built", json!({"messages": 3, "estimated_tokens": 1800, "compacted": false})),
        event(
            2,
            44,
            "llm_request",
            json!({"model": null, "tier": "standard", "messages_count": 3, "tools": ["code::read_file", "code::run_command"]}),
        ),
        event(
            3,
            610,
            "llm_response",
            json!({"model": "claude-sonnet", "provider": "anthropic", "content": "",
            "tool_calls": [{"id": "tc1", "name": "code__read_file", "arguments": {"path": "src/parser.rs"}}],
            "finish_reason": "tool_calls", "usage": {"input_tokens": 1210, "output_tokens": 38}, "cost_usd": 0.0042, "latency_ms": 565}),
        ),
        event(
            4,
            616,
            "tool_call",
            json!({"id": "tc1", "function_id": "code::read_file", "arguments": {"path": "src/parser.rs"}}),
        ),
        event(
            5,
            690,
            "tool_result",
            json!({"id": "tc1", "function_id": "code::read_file", "ok": true,
            "result": {"path": "src/parser.rs", "content": "pub fn parse(input: &str) -> Ast {\n    Ast::from(input)\n}\n"}}),
        ),
        event(6, 691, "llm_request", json!({"tier": "standard", "messages_count": 5, "tools": 2})),
        event(
            7,
            980,
            "llm_response",
            json!({"model": "claude-sonnet", "provider": "anthropic", "content": "",
            "tool_calls": [{"id": "tc2", "name": "code__run_command", "arguments": {"command": "cargo test parser"}}],
            "finish_reason": "tool_calls", "usage": {"input_tokens": 1402, "output_tokens": 25}, "latency_ms": 288}),
        ),
        event(
            8,
            981,
            "tool_call",
            json!({"id": "tc2", "function_id": "code::run_command", "arguments": {"command": "cargo test parser"}}),
        ),
        event(
            9,
            1090,
            "tool_result",
            json!({"id": "tc2", "function_id": "code::run_command", "ok": false,
            "error": {"code": "TIMEOUT", "message": "code::run_command did not answer within 100ms"}}),
        ),
        event(10, 1091, "llm_request", json!({"tier": "standard", "messages_count": 7, "tools": 2})),
        event(
            11,
            1235,
            "llm_response",
            json!({"model": "claude-sonnet", "provider": "anthropic",
            "content": "The test run timed out; the fix is in place.", "tool_calls": [], "finish_reason": "stop",
            "usage": {"input_tokens": 1500, "output_tokens": 60}, "latency_ms": 143}),
        ),
        event(
            12,
            1238,
            "turn_done",
            json!({"reply": "The test run timed out; the fix is in place.", "steps": 3, "finish": "stop"}),
        ),
    ];
    events.reverse();
    json!({"query": TRACE, "events": events, "total": 13})
}

fn list() -> Value {
    let root = |id: &str, function: &str| {
        let mut s = span(id, function, AGENT, 0, 0, vec![]);
        s.as_object_mut().map(|o| o.remove("children"));
        s
    };
    json!({"traces": [
        {"trace_id": TRACE, "root": root("a0", "agent::http_chat"), "started_ms": T0, "duration_ms": 1240.0},
        {"trace_id": "8c1d0f5e2a9b4c7d8e6f0a1b2c3d4e5f", "root": failed(root("b0", "agent::http_chat"), "PROVIDER_ERROR", "429"),
         "started_ms": T0 - 95_000, "duration_ms": 30_512.4},
        {"trace_id": "1f2e3d4c5b6a79881f2e3d4c5b6a7988", "root": root("c0", "hand::trigger"), "started_ms": T0 - 3_600_000, "duration_ms": 0.42},
        {"trace_id": "aa11bb22cc33dd44ee55ff6677889900", "root": null, "started_ms": T0 - 7_200_000, "duration_ms": 12.0},
    ]})
}

fn respond(pane: &mut TracePane, key: &str, result: Result<Value, ApiError>) {
    pane.on_event(&AppEvent::Response { to: PaneId::Trace, key: key.into(), result });
}

fn requests(rx: &mut UnboundedReceiver<AppEvent>) -> Vec<(String, String)> {
    drain(rx)
        .into_iter()
        .filter_map(|e| match e {
            AppEvent::Request(Request { key, path, method: Method::Get, .. }) => Some((key, path)),
            _ => None,
        })
        .collect()
}

/// A pane opened on the fixture trace, tree and recorded steps answered.
fn open_trace() -> (TracePane, UnboundedReceiver<AppEvent>) {
    let (tx, mut rx) = AppEventSender::channel();
    let mut pane = TracePane::new(tx, Theme::PLAIN, Some(TRACE.into()));
    respond(&mut pane, "list", Ok(list()));
    respond(&mut pane, &format!("tree:{TRACE}"), Ok(tree()));
    respond(&mut pane, &format!("io:{TRACE}"), Ok(search()));
    drain(&mut rx);
    (pane, rx)
}

fn select(pane: &mut TracePane, function: &str, nth: usize) {
    pane.on_key(key(KeyCode::Home));
    let view = pane.view().unwrap();
    let rows: Vec<usize> = view.visible().to_vec();
    let target = rows
        .iter()
        .filter(|&&i| view.tree.spans[i].function_id.as_deref() == Some(function))
        .nth(nth)
        .copied()
        .unwrap();
    let row = rows.iter().position(|&i| i == target).unwrap();
    for _ in 0..row {
        pane.on_key(key(KeyCode::Down));
    }
}

#[test]
fn the_pane_asks_for_the_recent_traces_and_opening_one_asks_for_its_tree_and_steps() {
    let (tx, mut rx) = AppEventSender::channel();
    let mut pane = TracePane::new(tx, Theme::PLAIN, None);
    assert_eq!(requests(&mut rx), [("list".to_string(), "/v1/traces?turns=1&limit=50".to_string())]);
    respond(&mut pane, "list", Ok(list()));
    pane.on_key(key(KeyCode::Down));
    pane.on_key(key(KeyCode::Enter));
    assert_eq!(
        requests(&mut rx),
        [
            (
                "tree:8c1d0f5e2a9b4c7d8e6f0a1b2c3d4e5f".to_string(),
                "/v1/traces/8c1d0f5e2a9b4c7d8e6f0a1b2c3d4e5f".to_string()
            ),
            (
                "io:8c1d0f5e2a9b4c7d8e6f0a1b2c3d4e5f".to_string(),
                "/v1/replay/search?q=8c1d0f5e2a9b4c7d8e6f0a1b2c3d4e5f&limit=1000".to_string()
            ),
        ]
    );
    pane.on_key(key(KeyCode::Char('r')));
    assert_eq!(requests(&mut rx).len(), 2, "r reloads the open trace");
    pane.on_key(key(KeyCode::Esc));
    assert!(pane.view().is_none());
    pane.on_key(key(KeyCode::Char('r')));
    assert_eq!(requests(&mut rx), [("list".to_string(), "/v1/traces?turns=1&limit=50".to_string())]);
}

#[test]
fn an_answer_for_a_trace_no_longer_open_is_dropped() {
    let (tx, _rx) = AppEventSender::channel();
    let mut pane = TracePane::new(tx, Theme::PLAIN, Some("old".into()));
    pane.open(TRACE.into());
    respond(&mut pane, "tree:old", Ok(tree()));
    assert_eq!(pane.view().map(|v| v.load.clone()), Some(view::TreeLoad::Loading));
}

#[test]
fn an_opened_trace_teaches_the_list_its_span_count() {
    let (mut pane, _rx) = open_trace();
    pane.on_key(key(KeyCode::Esc));
    assert_eq!(pane.list().known.get(TRACE), Some(&Known { spans: 12, errors: 1 }));
}

#[test]
fn left_collapses_then_climbs_and_right_expands_then_descends() {
    let (mut pane, _rx) = open_trace();
    select(&mut pane, "context::build", 0);
    pane.on_key(key(KeyCode::Left));
    let view = pane.view().unwrap();
    assert_eq!(view.visible().len(), 11);
    pane.on_key(key(KeyCode::Left));
    let view = pane.view().unwrap();
    assert_eq!(view.tree.spans[view.selected().unwrap()].label(), "agent::chat");
    pane.on_key(key(KeyCode::Right));
    pane.on_key(key(KeyCode::Down));
    pane.on_key(key(KeyCode::Right));
    pane.on_key(key(KeyCode::Right));
    let view = pane.view().unwrap();
    assert_eq!((view.visible().len(), view.tree.spans[view.selected().unwrap()].label()), (12, "memory::recall"));
}

#[test]
fn a_reload_keeps_the_selected_span_and_the_collapsed_subtrees() {
    let (mut pane, _rx) = open_trace();
    select(&mut pane, "context::build", 0);
    pane.on_key(key(KeyCode::Left));
    select(&mut pane, "code::read_file", 0);
    respond(&mut pane, &format!("tree:{TRACE}"), Ok(tree()));
    let view = pane.view().unwrap();
    assert_eq!((view.visible().len(), view.tree.spans[view.selected().unwrap()].label()), (11, "code::read_file"));
}

#[test]
fn the_recent_traces_80x24() {
    let (tx, _rx) = AppEventSender::channel();
    let mut pane = TracePane::new(tx, Theme::PLAIN, None);
    respond(&mut pane, "list", Ok(list()));
    assert_snapshot!(render_pane(&mut pane, 80, 24));
}

#[test]
fn the_recent_traces_160x48_with_a_known_span_count() {
    let (mut pane, _rx) = open_trace();
    pane.on_key(key(KeyCode::Esc));
    pane.on_key(key(KeyCode::Down));
    assert_snapshot!(render_pane(&mut pane, 160, 48));
}

#[test]
fn no_traces_yet_and_a_failed_list() {
    let (tx, _rx) = AppEventSender::channel();
    let mut pane = TracePane::new(tx, Theme::PLAIN, None);
    respond(&mut pane, "list", Ok(json!({"traces": []})));
    assert_snapshot!("no_traces_yet", render_pane(&mut pane, 80, 6));
    let error = ApiError {
        status: 503,
        code: "function_unavailable".into(),
        message: "session-replay is not connected".into(),
    };
    respond(&mut pane, "list", Err(error));
    assert_snapshot!("the_list_failed", render_pane(&mut pane, 80, 6));
}

#[test]
fn the_span_tree_and_waterfall_80x24() {
    let (mut pane, _rx) = open_trace();
    assert_snapshot!(render_pane(&mut pane, 80, 24));
}

#[test]
fn the_span_tree_and_waterfall_160x48() {
    let (mut pane, _rx) = open_trace();
    select(&mut pane, "llm::complete", 1);
    assert_snapshot!(render_pane(&mut pane, 160, 48));
}

#[test]
fn a_failed_span_with_its_input_and_error_80x24() {
    let (mut pane, _rx) = open_trace();
    select(&mut pane, "code::run_command", 0);
    pane.on_key(key(KeyCode::Enter));
    assert_snapshot!(render_pane(&mut pane, 80, 24));
}

#[test]
fn a_tool_span_with_its_input_and_output_160x48() {
    let (mut pane, _rx) = open_trace();
    select(&mut pane, "code::read_file", 0);
    pane.on_key(key(KeyCode::Enter));
    assert_snapshot!(render_pane(&mut pane, 160, 48));
}

#[test]
fn a_model_call_span_160x48() {
    let (mut pane, _rx) = open_trace();
    select(&mut pane, "llm::complete", 0);
    pane.on_key(key(KeyCode::Enter));
    assert_snapshot!(render_pane(&mut pane, 160, 48));
}

#[test]
fn the_detail_scrolls_a_page_at_a_time() {
    let (mut pane, _rx) = open_trace();
    select(&mut pane, "llm::complete", 0);
    pane.on_key(key(KeyCode::Enter));
    render_pane(&mut pane, 80, 24);
    pane.on_key(key(KeyCode::PageDown));
    let screen = render_pane(&mut pane, 80, 24);
    assert!(!screen.contains("duration "), "the summary scrolled away:\n{screen}");
    assert!(pane.view().is_some_and(|v| v.detail_open), "paging scrolls, the detail stays open");
}

#[test]
fn a_collapsed_subtree_80x24() {
    let (mut pane, _rx) = open_trace();
    select(&mut pane, "context::build", 0);
    pane.on_key(key(KeyCode::Left));
    assert_snapshot!(render_pane(&mut pane, 80, 24));
}

#[test]
fn a_trace_that_is_not_found_80x24() {
    let (tx, _rx) = AppEventSender::channel();
    let mut pane = TracePane::new(tx, Theme::PLAIN, Some("0123abcd".into()));
    let error = ApiError {
        status: 404,
        code: "NOT_FOUND".into(),
        message: "the engine keeps no span of trace 0123abcd; list recent traces with GET /v1/traces".into(),
    };
    respond(&mut pane, "tree:0123abcd", Err(error));
    assert_snapshot!(render_pane(&mut pane, 80, 24));
    pane.on_key(key(KeyCode::Backspace));
    assert!(pane.view().is_none(), "Backspace leads back to the list");
}

#[test]
fn without_recorded_steps_the_detail_says_so() {
    let (tx, _rx) = AppEventSender::channel();
    let mut pane = TracePane::new(tx, Theme::PLAIN, Some(TRACE.into()));
    respond(&mut pane, &format!("tree:{TRACE}"), Ok(tree()));
    pane.on_key(key(KeyCode::Enter));
    let searching = render_pane(&mut pane, 100, 30);
    assert!(searching.contains("looking for the steps the session recorded"), "{searching}");
    respond(&mut pane, &format!("io:{TRACE}"), Ok(json!({"query": TRACE, "events": [], "total": 0})));
    pane.on_key(key(KeyCode::Down));
    let none = render_pane(&mut pane, 100, 30);
    assert!(none.contains("no recorded input or output"), "{none}");
}
