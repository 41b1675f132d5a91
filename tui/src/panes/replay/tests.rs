//! Tests of the replay pane: what each key asks for, paging, playback, and snapshots of every
//! state it shows.

use std::time::{Duration, Instant};

use insta::assert_snapshot;
use pretty_assertions::assert_eq;
use ratatui::crossterm::event::KeyCode;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use super::*;
use crate::event::{Method, Request};
use crate::testing::{drain, key, render_pane};

/// 2024-02-29 13:45:07 UTC.
const T0: u64 = 1_709_214_307_000;
const ID: &str = "3f2a9c1e-7b4d-4e8f-a1b2-c3d4e5f60718";

fn session(id: &str, name: Option<&str>, hand: &str, state: &str, turns: u64, updated: u64) -> Value {
    let mut s = json!({"id": id, "realm": "default", "hand": hand, "state": state, "turns": turns,
                       "created_ms": T0 - 600_000, "updated_ms": updated});
    if let Some(name) = name {
        s["name"] = json!(name);
    }
    s
}

fn sessions() -> Value {
    json!({"sessions": [
        session(ID, Some("bugfix-parser"), "coder", "done", 2, T0 + 4_000),
        session("8e7d6c5b-4a39-4281-9f0e-d1c2b3a4f5e6", Some("weekly report"), "writer", "waiting_approval", 1, T0 - 60_000),
        session("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", None, "coder", "failed", 3, T0 - 3_600_000),
        session("5d4c3b2a-1908-4776-8554-433221100fed", Some("research: vector dbs"), "researcher", "active", 7, T0 - 86_400_000),
    ], "total": 4})
}

fn event(seq: u64, at: u64, turn: u64, kind: &str, data: Value, duration: Option<u64>) -> Value {
    let mut e = json!({"session_id": ID, "seq": turn * 100_000 + seq, "kind": kind, "at_ms": T0 + at,
                       "turn_id": format!("turn-{turn}"), "trace_id": format!("{turn}bf92f3577b34da6a3ce929d0e0e4736"), "data": data});
    if let Some(d) = duration {
        e["duration_ms"] = json!(d);
    }
    e
}

/// Two turns: the first reads a file, asks to write it (approved by ana) and answers; the
/// second runs the tests, which time out.
fn events() -> Value {
    json!({"session_id": ID, "events": [
        event(0, 0, 1, "user_message", json!({"text": "The parser test fails on empty input. Can you fix it?", "hand": "coder", "model": null}), None),
        event(1, 38, 1, "context_built", json!({"messages": 3, "estimated_tokens": 1800, "compacted": false}), Some(36)),
        event(2, 40, 1, "llm_request", json!({"tier": "standard", "messages_count": 3, "tools": ["code::read_file", "code::write_file"]}), None),
        event(3, 605, 1, "llm_response", json!({"model": "claude-sonnet", "provider": "anthropic", "content": "",
            "tool_calls": [{"id": "tc1", "name": "code__read_file", "arguments": {"path": "src/parser.rs"}}], "finish_reason": "tool_calls",
            "usage": {"input_tokens": 1210, "output_tokens": 38}, "cost_usd": 0.0042, "latency_ms": 565}), Some(565)),
        event(4, 606, 1, "tool_call", json!({"id": "tc1", "function_id": "code::read_file", "arguments": {"path": "src/parser.rs"}}), None),
        event(5, 680, 1, "tool_result", json!({"id": "tc1", "function_id": "code::read_file", "ok": true,
            "result": {"path": "src/parser.rs", "content": "pub fn parse(input: &str) -> Ast {\n    Ast::from(input)\n}\n"}}), Some(74)),
        event(6, 682, 1, "llm_request", json!({"tier": "standard", "messages_count": 5, "tools": 2}), None),
        event(7, 1500, 1, "llm_response", json!({"model": "claude-sonnet", "provider": "anthropic",
            "content": "The empty case falls through to `Ast::from`, which panics. I'll return an empty AST first.",
            "tool_calls": [{"id": "tc2", "name": "code__write_file", "arguments": {"path": "src/parser.rs"}}], "finish_reason": "tool_calls",
            "usage": {"input_tokens": 1402, "output_tokens": 96}, "cost_usd": 0.0057, "latency_ms": 818}), Some(818)),
        event(8, 1501, 1, "tool_call", json!({"id": "tc2", "function_id": "code::write_file",
            "arguments": {"path": "src/parser.rs", "content": "pub fn parse(input: &str) -> Ast {\n    if input.is_empty() { return Ast::default(); }\n    Ast::from(input)\n}\n"}}), None),
        event(9, 1510, 1, "approval_requested", json!({"approval_id": "apr-7f3e", "function_id": "code::write_file", "tier": "write", "rule": {"match": "code::write_*", "tier": "write"}}), None),
        event(10, 9800, 1, "approval_decided", json!({"approval_id": "apr-7f3e", "decision": "approve", "scope": "once", "note": "looks right", "by": {"who": "ana", "via": "tui"}}), Some(8290)),
        event(11, 9830, 1, "tool_result", json!({"id": "tc2", "function_id": "code::write_file", "ok": true, "result": {"written": 112}}), Some(8329)),
        event(12, 9832, 1, "llm_request", json!({"tier": "standard", "messages_count": 7, "tools": 2}), None),
        event(13, 10_400, 1, "llm_response", json!({"model": "claude-sonnet", "provider": "anthropic",
            "content": "Fixed: `parse` now returns an empty AST for empty input, so the test passes.", "tool_calls": [], "finish_reason": "stop",
            "usage": {"input_tokens": 1530, "output_tokens": 41}, "cost_usd": 0.0051, "latency_ms": 568}), Some(568)),
        event(14, 10_401, 1, "turn_done", json!({"reply": "Fixed.", "steps": 3, "finish": "stop",
            "usage": {"input_tokens": 4142, "output_tokens": 175, "cost_usd": 0.015, "llm_calls": 3}}), None),
        event(0, 60_000, 2, "user_message", json!({"text": "Run the tests.", "hand": "coder"}), None),
        event(1, 60_030, 2, "llm_request", json!({"tier": "standard", "messages_count": 9, "tools": 2}), None),
        event(2, 60_500, 2, "llm_response", json!({"model": "claude-sonnet", "provider": "anthropic", "content": "",
            "tool_calls": [{"id": "tc3", "name": "code__run_command", "arguments": {"command": "cargo test parser"}}], "finish_reason": "tool_calls",
            "usage": {"input_tokens": 1610, "output_tokens": 22}, "latency_ms": 470}), Some(470)),
        event(3, 60_501, 2, "tool_call", json!({"id": "tc3", "function_id": "code::run_command", "arguments": {"command": "cargo test parser"}}), None),
        event(4, 160_501, 2, "tool_result", json!({"id": "tc3", "function_id": "code::run_command", "ok": false,
            "error": {"code": "TIMEOUT", "message": "code::run_command did not answer within 100s"}}), Some(100_000)),
        event(5, 160_502, 2, "error", json!({"code": "TIMEOUT", "message": "the turn gave up after the tool timed out"}), None),
    ]})
}

fn summary() -> Value {
    json!({"session_id": ID, "events": 21, "turns": 2, "started_ms": T0, "ended_ms": T0 + 160_502, "duration_ms": 160_502,
           "llm_calls": 4, "tool_calls": 3, "input_tokens": 5752, "output_tokens": 197, "cost_usd": 0.015, "errors": 2,
           "approvals": 1, "trace_ids": []})
}

fn respond(pane: &mut ReplayPane, key: &str, result: Result<Value, ApiError>) {
    pane.on_event(&AppEvent::Response { to: PaneId::Replay, key: key.into(), result });
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

fn req(key: &str, path: &str) -> (String, String) {
    (key.to_string(), path.to_string())
}

fn listed() -> (ReplayPane, UnboundedReceiver<AppEvent>) {
    let (tx, mut rx) = AppEventSender::channel();
    let mut pane = ReplayPane::new(tx, Theme::PLAIN, None);
    respond(&mut pane, "sessions", Ok(sessions()));
    respond(&mut pane, &format!("summary:{ID}"), Ok(summary()));
    drain(&mut rx);
    (pane, rx)
}

/// The fixture session opened at its first step, events and totals answered.
fn opened() -> (ReplayPane, UnboundedReceiver<AppEvent>) {
    let (mut pane, mut rx) = listed();
    pane.on_key(key(KeyCode::Enter));
    respond(&mut pane, &format!("events:{ID}"), Ok(events()));
    respond(&mut pane, &format!("summary:{ID}"), Ok(summary()));
    drain(&mut rx);
    (pane, rx)
}

fn step(pane: &ReplayPane) -> usize {
    pane.session().map_or(usize::MAX, |s| s.step)
}

#[test]
fn the_pane_lists_sessions_and_asks_for_the_selected_ones_totals() {
    let (tx, mut rx) = AppEventSender::channel();
    let mut pane = ReplayPane::new(tx, Theme::PLAIN, None);
    assert_eq!(requests(&mut rx), [req("sessions", "/v1/sessions?limit=200")]);
    respond(&mut pane, "sessions", Ok(sessions()));
    assert_eq!(requests(&mut rx), [req(&format!("summary:{ID}"), &format!("/v1/sessions/{ID}/summary"))]);
    pane.on_key(key(KeyCode::Down));
    pane.on_key(key(KeyCode::Up));
    let asked = requests(&mut rx);
    assert_eq!(asked.len(), 1, "each session's totals are asked for once: {asked:?}");
}

#[test]
fn enter_opens_the_session_and_pages_follow_until_one_is_short() {
    let (mut pane, mut rx) = listed();
    pane.on_key(key(KeyCode::Enter));
    assert_eq!(
        requests(&mut rx),
        [
            req(&format!("events:{ID}"), &format!("/v1/sessions/{ID}/events?from_seq=0&limit=1000")),
            req(&format!("summary:{ID}"), &format!("/v1/sessions/{ID}/summary")),
        ]
    );
    let page = |from: u64, n: u64| {
        let events: Vec<Value> = (from..from + n).map(|seq| json!({"session_id": ID, "seq": seq, "kind": "user_message", "at_ms": T0 + seq, "data": {"text": "hi"}})).collect();
        json!({"session_id": ID, "events": events})
    };
    respond(&mut pane, &format!("events:{ID}"), Ok(page(100_000, 1000)));
    assert_eq!(
        requests(&mut rx),
        [req(&format!("events:{ID}"), &format!("/v1/sessions/{ID}/events?from_seq=101000&limit=1000"))]
    );
    assert!(pane.session().is_some_and(|s| s.loading));
    respond(&mut pane, &format!("events:{ID}"), Ok(page(101_000, 3)));
    assert_eq!(requests(&mut rx), []);
    let view = pane.session().unwrap();
    assert_eq!((view.events.len(), view.loading), (1003, false));
}

#[test]
fn a_session_named_on_the_command_line_is_looked_up_then_opened() {
    let (tx, mut rx) = AppEventSender::channel();
    let mut pane = ReplayPane::new(tx, Theme::PLAIN, Some("bugfix parser".into()));
    assert_eq!(
        requests(&mut rx),
        [req("sessions", "/v1/sessions?limit=200"), req("resolve", "/v1/sessions/bugfix%20parser")]
    );
    respond(&mut pane, "resolve", Ok(session(ID, Some("bugfix parser"), "coder", "done", 2, T0)));
    assert_eq!(
        requests(&mut rx),
        [
            req(&format!("events:{ID}"), &format!("/v1/sessions/{ID}/events?from_seq=0&limit=1000")),
            req(&format!("summary:{ID}"), &format!("/v1/sessions/{ID}/summary")),
        ]
    );
    assert_eq!(pane.session().map(|s| s.session.id.as_str()), Some(ID));
}

#[test]
fn an_unknown_session_is_shown_as_not_found_80x24() {
    let (tx, _rx) = AppEventSender::channel();
    let mut pane = ReplayPane::new(tx, Theme::PLAIN, Some("nope".into()));
    let error = ApiError {
        status: 404,
        code: "NOT_FOUND".into(),
        message: "no session nope in realm default; list them with GET /v1/sessions".into(),
    };
    respond(&mut pane, "resolve", Err(error));
    assert_snapshot!(render_pane(&mut pane, 80, 24));
    pane.on_key(key(KeyCode::Esc));
    assert!(pane.session().is_none());
    assert!(!render_pane(&mut pane, 80, 24).contains("not found"));
}

#[test]
fn the_filter_takes_typing_only_after_a_slash() {
    let (mut pane, _rx) = listed();
    assert!(!pane.wants_text_input());
    pane.on_key(key(KeyCode::Char('/')));
    assert!(pane.wants_text_input());
    for c in "WRI".chars() {
        pane.on_key(key(KeyCode::Char(c)));
    }
    assert_eq!(pane.list().shown().map(|s| s.title()).collect::<Vec<_>>(), ["weekly report"]);
    pane.on_key(key(KeyCode::Enter));
    assert!(!pane.wants_text_input());
    assert_eq!(pane.list().filter, "WRI");
    pane.on_key(key(KeyCode::Esc));
    assert_eq!(pane.list().len(), 4, "Esc clears the filter");
}

#[test]
fn bus_changes_refresh_the_list_once_at_a_time() {
    let (mut pane, mut rx) = listed();
    let bus = AppEvent::Bus { event: "session_state".into(), data: json!({}) };
    pane.on_event(&bus);
    pane.on_event(&bus);
    assert_eq!(requests(&mut rx), [req("sessions", "/v1/sessions?limit=200")]);
    respond(&mut pane, "sessions", Ok(sessions()));
    assert_eq!(requests(&mut rx), [req("sessions", "/v1/sessions?limit=200")], "the change seen meanwhile asks again");
    respond(&mut pane, "sessions", Ok(sessions()));
    pane.on_event(&AppEvent::Bus { event: "approval_requested".into(), data: json!({}) });
    assert_eq!(requests(&mut rx), []);
}

#[test]
fn arrows_home_end_and_turn_keys_step_through_the_session() {
    let (mut pane, _rx) = opened();
    pane.on_key(key(KeyCode::Right));
    pane.on_key(key(KeyCode::Char('l')));
    assert_eq!(step(&pane), 2);
    pane.on_key(key(KeyCode::Left));
    assert_eq!(step(&pane), 1);
    pane.on_key(key(KeyCode::End));
    assert_eq!(step(&pane), 20);
    pane.on_key(key(KeyCode::Right));
    assert_eq!(step(&pane), 20, "the last step stays");
    pane.on_key(key(KeyCode::Char('[')));
    assert_eq!(step(&pane), 15, "the start of this turn");
    pane.on_key(key(KeyCode::Char('[')));
    assert_eq!(step(&pane), 0, "the start of the previous turn");
    pane.on_key(key(KeyCode::Char(']')));
    assert_eq!(step(&pane), 15);
    pane.on_key(key(KeyCode::Home));
    assert_eq!(step(&pane), 0);
    pane.on_key(key(KeyCode::Esc));
    assert!(pane.session().is_none());
}

#[test]
fn playback_follows_the_gaps_at_four_times_and_stops_at_the_end() {
    let (mut pane, _rx) = opened();
    pane.on_key(key(KeyCode::Char('+')));
    pane.on_key(key(KeyCode::Char(' ')));
    assert!(pane.session().is_some_and(|s| s.player.playing()));
    // Steps 1 and 2 were recorded 38 ms and 40 ms after step 0: due 9.5 ms and 10 ms after
    // the key at 4×; step 3 (565 ms later) is not.
    assert!(pane.on_tick(Instant::now() + Duration::from_millis(20)));
    assert_eq!(step(&pane), 2);
    pane.on_key(key(KeyCode::Right));
    assert!(!pane.session().is_some_and(|s| s.player.playing()), "stepping by hand pauses");
    pane.on_key(key(KeyCode::Char(' ')));
    let mut now = Instant::now();
    for _ in 0..200 {
        now += Duration::from_millis(100);
        pane.on_tick(now);
    }
    assert_eq!(step(&pane), 20);
    assert!(!pane.session().is_some_and(|s| s.player.playing()));
    pane.on_key(key(KeyCode::Char(' ')));
    assert_eq!(step(&pane), 0, "play at the end starts over");
}

#[test]
fn the_sessions_80x24() {
    let (mut pane, _rx) = listed();
    assert_snapshot!(render_pane(&mut pane, 80, 24));
}

#[test]
fn the_sessions_filtered_while_typing_80x24() {
    let (mut pane, _rx) = listed();
    pane.on_key(key(KeyCode::Char('/')));
    for c in "cod".chars() {
        pane.on_key(key(KeyCode::Char(c)));
    }
    respond(&mut pane, "summary:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", Ok(summary()));
    assert_snapshot!(render_pane(&mut pane, 80, 24));
}

#[test]
fn the_sessions_filtered_160x48() {
    let (mut pane, _rx) = listed();
    pane.on_key(key(KeyCode::Char('/')));
    for c in "re".chars() {
        pane.on_key(key(KeyCode::Char(c)));
    }
    pane.on_key(key(KeyCode::Enter));
    assert_snapshot!(render_pane(&mut pane, 160, 48));
}

#[test]
fn the_first_step_80x24() {
    let (mut pane, _rx) = opened();
    assert_snapshot!(render_pane(&mut pane, 80, 24));
}

#[test]
fn the_first_step_160x48() {
    let (mut pane, _rx) = opened();
    assert_snapshot!(render_pane(&mut pane, 160, 48));
}

#[test]
fn the_approval_decided_step_80x24() {
    let (mut pane, _rx) = opened();
    for _ in 0..10 {
        pane.on_key(key(KeyCode::Right));
    }
    assert_snapshot!(render_pane(&mut pane, 80, 24));
}

#[test]
fn a_model_answer_in_the_middle_160x48() {
    let (mut pane, _rx) = opened();
    for _ in 0..7 {
        pane.on_key(key(KeyCode::Right));
    }
    assert_snapshot!(render_pane(&mut pane, 160, 48));
}

#[test]
fn the_approval_decided_step_160x48() {
    let (mut pane, _rx) = opened();
    for _ in 0..10 {
        pane.on_key(key(KeyCode::Right));
    }
    assert_snapshot!(render_pane(&mut pane, 160, 48));
}

#[test]
fn the_last_step_80x24() {
    let (mut pane, _rx) = opened();
    pane.on_key(key(KeyCode::End));
    assert_snapshot!(render_pane(&mut pane, 80, 24));
}

#[test]
fn the_failed_tool_result_160x48() {
    let (mut pane, _rx) = opened();
    pane.on_key(key(KeyCode::End));
    pane.on_key(key(KeyCode::Left));
    assert_snapshot!(render_pane(&mut pane, 160, 48));
}

#[test]
fn the_progress_line_while_playing_at_4x() {
    let (mut pane, _rx) = opened();
    for _ in 0..4 {
        pane.on_key(key(KeyCode::Right));
    }
    pane.on_key(key(KeyCode::Char('+')));
    pane.on_key(key(KeyCode::Char(' ')));
    let screen = render_pane(&mut pane, 80, 24);
    let progress = screen.lines().last().unwrap_or_default().to_string();
    assert_snapshot!(progress);
    assert!(progress.starts_with(" step 5/21 · ▶ 4×"), "{progress}");
}

#[test]
fn a_session_without_steps_and_a_failed_page() {
    let (mut pane, _rx) = listed();
    pane.on_key(key(KeyCode::Enter));
    respond(&mut pane, &format!("events:{ID}"), Ok(json!({"session_id": ID, "events": []})));
    assert!(render_pane(&mut pane, 80, 24).contains("This session recorded no steps."));
    pane.on_key(key(KeyCode::Char('r')));
    let error = ApiError {
        status: 503,
        code: "function_unavailable".into(),
        message: "session-replay is not connected".into(),
    };
    respond(&mut pane, &format!("events:{ID}"), Err(error));
    assert_snapshot!(render_pane(&mut pane, 80, 12));
}
