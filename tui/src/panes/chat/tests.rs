//! The chat pane driven by keys and stream events: snapshots of every visible state, and the
//! requests each action raises.

use insta::assert_snapshot;
use pretty_assertions::assert_eq;
use ratatui::crossterm::event::{KeyCode, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::style::Color;
use ratatui::{Terminal, backend::TestBackend};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use super::*;
use crate::event::Request;
use crate::testing::{drain, key, key_with, render_pane};

const NO_PROVIDER: &str = "no LLM provider is configured: set OPENAI_API_KEY or ANTHROPIC_API_KEY (and optionally AGENTOS_MODEL), then run agentos up again";

fn pane() -> (ChatPane, UnboundedReceiver<AppEvent>) {
    let (tx, rx) = AppEventSender::channel();
    (ChatPane::new(tx, Theme::PLAIN, Some("coder".into())), rx)
}

fn type_text(pane: &mut ChatPane, text: &str) {
    for c in text.chars() {
        pane.on_key(key(KeyCode::Char(c)));
    }
}

fn submit(pane: &mut ChatPane, text: &str) {
    type_text(pane, text);
    pane.on_key(key(KeyCode::Enter));
}

fn event(pane: &mut ChatPane, turn: &str, name: &str, data: Value) {
    pane.on_event(&AppEvent::Stream {
        to: PaneId::Chat,
        key: turn.into(),
        item: StreamItem::Event { name: name.into(), data },
    });
}

fn closed(pane: &mut ChatPane, turn: &str, error: Option<ApiError>) {
    pane.on_event(&AppEvent::Stream { to: PaneId::Chat, key: turn.into(), item: StreamItem::Closed(error) });
}

fn respond(pane: &mut ChatPane, key: &str, result: Result<Value, ApiError>) {
    pane.on_event(&AppEvent::Response { to: PaneId::Chat, key: key.into(), result });
}

fn session_event(pane: &mut ChatPane, turn: &str) {
    event(
        pane,
        turn,
        "session",
        json!({"session_id": "3f2a9c1e-77aa", "realm": "default", "hand": "coder", "agent": null, "model": "openai/gpt-4o-mini"}),
    );
}

fn done(pane: &mut ChatPane, turn: &str, reply: &str, finish: &str) {
    event(pane, turn, "usage", json!({"input_tokens": 1200, "output_tokens": 340, "cost_usd": 0.0123, "llm_calls": 1}));
    event(
        pane,
        turn,
        "done",
        json!({"session_id": "3f2a9c1e-77aa", "reply": reply, "tool_calls": [], "usage": {}, "model": "m", "steps": 1, "finish": finish}),
    );
}

fn streams(events: &[AppEvent]) -> Vec<StreamRequest> {
    events.iter().filter_map(|e| if let AppEvent::OpenStream(s) = e { Some(s.clone()) } else { None }).collect()
}

fn requests(events: &[AppEvent]) -> Vec<Request> {
    events.iter().filter_map(|e| if let AppEvent::Request(r) = e { Some(r.clone()) } else { None }).collect()
}

fn get(key: &str, path: &str) -> Request {
    Request { to: PaneId::Chat, key: key.into(), method: Method::Get, path: path.into(), body: None }
}

/// A pane that answered one question, with its session named.
fn answered(reply: &str) -> (ChatPane, UnboundedReceiver<AppEvent>) {
    let (mut p, mut rx) = pane();
    submit(&mut p, "What does this repo do?");
    session_event(&mut p, "turn-1");
    respond(&mut p, "session:3f2a9c1e-77aa", Ok(json!({"id": "3f2a9c1e-77aa", "name": "repo-tour"})));
    event(&mut p, "turn-1", "token", json!({"text": reply}));
    done(&mut p, "turn-1", reply, "stop");
    closed(&mut p, "turn-1", None);
    drain(&mut rx);
    (p, rx)
}

const REPLY: &str = "It is **agentos**, a terminal-first agent OS:\n\n\
- an *engine* that routes calls between workers\n\
- workers for chat, approvals and replay\n\n\
See [the docs](https://agentos.dev/docs) and run `agentos up`.";

const CODE_REPLY: &str = "Add this to `main.rs`:\n\n```rust\nfn main() {\n    let greeting = \"hello\";\n    println!(\"{greeting}\");\n}\n```\n\nThen `cargo run`.";

// ---- snapshots ----

#[test]
fn an_empty_chat_says_how_to_start() {
    let (mut p, _rx) = pane();
    assert_snapshot!("empty_80x24", render_pane(&mut p, 80, 24));
    assert_snapshot!("empty_160x48", render_pane(&mut p, 160, 48));
}

#[test]
fn a_reply_streams_in_with_its_partial_line_raw() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "What does this repo do?");
    session_event(&mut p, "turn-1");
    event(
        &mut p,
        "turn-1",
        "token",
        json!({"text": "It is **agentos**, a terminal-first agent OS:\n\n- an *engine* that routes "}),
    );
    event(&mut p, "turn-1", "token", json!({"text": "calls\n- workers for **chat"}));
    assert_snapshot!("streaming_80x24", render_pane(&mut p, 80, 24));
    assert!(p.is_working());
    drain(&mut rx);
}

#[test]
fn a_finished_reply_is_rendered_markdown() {
    let (mut p, _rx) = answered(REPLY);
    assert!(!p.is_working());
    assert_snapshot!("finished_80x24", render_pane(&mut p, 80, 24));
    assert_snapshot!("finished_160x48", render_pane(&mut p, 160, 48));
}

#[test]
fn a_code_block_keeps_its_fences_and_is_highlighted() {
    let (tx, _rx) = AppEventSender::channel();
    let mut p = ChatPane::new(tx, Theme { color: true }, None);
    submit(&mut p, "hello world in rust?");
    event(&mut p, "turn-1", "token", json!({"text": CODE_REPLY}));
    done(&mut p, "turn-1", CODE_REPLY, "stop");
    assert_snapshot!("code_block_80x24", render_pane(&mut p, 80, 24));

    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("a test backend");
    terminal.draw(|f| p.render(f, f.area())).expect("drawing");
    let buffer = terminal.backend().buffer();
    let row = (0..24)
        .find(|&y| (0..80).map(|x| buffer[(x, y)].symbol()).collect::<String>().contains("let greeting"))
        .expect("the code is on screen");
    let colours: std::collections::HashSet<Color> =
        (0..80).map(|x| buffer[(x, row)].fg).filter(|c| matches!(c, Color::Rgb(..))).collect();
    assert!(colours.len() > 1, "the code line is highlighted: {colours:?}");
}

/// A turn that listed a folder with a long result.
fn with_tool_call() -> (ChatPane, UnboundedReceiver<AppEvent>) {
    let (mut p, rx) = pane();
    submit(&mut p, "Which files are in src?");
    session_event(&mut p, "turn-1");
    event(&mut p, "turn-1", "token", json!({"text": "Let me look."}));
    event(
        &mut p,
        "turn-1",
        "tool_call",
        json!({"id": "c1", "function_id": "code::list", "arguments": {"path": "src", "depth": 1}}),
    );
    let files: Vec<String> = (1..=14).map(|i| format!("src/module_{i:02}.rs")).collect();
    event(
        &mut p,
        "turn-1",
        "tool_result",
        json!({"id": "c1", "function_id": "code::list", "ok": true, "result": files, "error": null, "blocked": null, "warning": null, "duration_ms": 4}),
    );
    event(&mut p, "turn-1", "token", json!({"text": "There are 14 modules."}));
    done(&mut p, "turn-1", "There are 14 modules.", "stop");
    (p, rx)
}

#[test]
fn a_tool_call_is_collapsed_then_expanded_with_enter() {
    let (mut p, _rx) = with_tool_call();
    assert_snapshot!("tool_collapsed_80x24", render_pane(&mut p, 80, 24));
    p.on_key(key_with(KeyCode::Up, KeyModifiers::ALT));
    assert_snapshot!("tool_selected_80x24", render_pane(&mut p, 80, 24));
    p.on_key(key(KeyCode::Enter));
    assert_snapshot!("tool_expanded_160x48", render_pane(&mut p, 160, 48));
    p.on_key(key(KeyCode::Esc));
    assert_eq!(p.transcript.selected(), None, "Esc unselects");
}

#[test]
fn a_request_refused_before_the_stream_shows_its_code_and_message() {
    let (mut p, _rx) = pane();
    submit(&mut p, "hello");
    closed(&mut p, "turn-1", Some(ApiError { status: 503, code: "NO_PROVIDER".into(), message: NO_PROVIDER.into() }));
    assert!(!p.is_working());
    assert_snapshot!("no_provider_80x24", render_pane(&mut p, 80, 24));
}

#[test]
fn messages_typed_while_the_agent_works_are_queued_under_the_transcript() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "Refactor the parser");
    session_event(&mut p, "turn-1");
    event(&mut p, "turn-1", "token", json!({"text": "Working on it"}));
    for message in ["and add tests", "then update the docs", "also bump the version", "and the changelog"] {
        submit(&mut p, message);
    }
    assert_eq!(streams(&drain(&mut rx)).len(), 1, "queued, not sent");
    p.on_tick(Instant::now() + Duration::from_secs(7));
    assert_snapshot!("queued_80x24", render_pane(&mut p, 80, 24));
}

#[test]
fn ctrl_r_searches_the_sent_messages() {
    let (mut p, _rx) = answered("Done.");
    for message in ["cargo test -p agentos-tui", "explain the approval flow"] {
        submit(&mut p, message);
        let turn = format!("turn-{}", p.turns);
        done(&mut p, &turn, "ok", "stop");
    }
    p.on_key(key_with(KeyCode::Char('r'), KeyModifiers::CONTROL));
    type_text(&mut p, "cargo");
    assert_snapshot!("search_80x24", render_pane(&mut p, 80, 24));
    p.on_key(key(KeyCode::Enter));
    assert_eq!(p.composer.text(), "cargo test -p agentos-tui");
}

#[test]
fn typing_a_command_shows_the_matching_ones() {
    let (mut p, _rx) = pane();
    type_text(&mut p, "/s");
    assert_snapshot!("slash_hint_80x24", render_pane(&mut p, 80, 24));
    let (mut p, _rx) = pane();
    type_text(&mut p, "/");
    assert_snapshot!("slash_all_160x48", render_pane(&mut p, 160, 48));
}

#[test]
fn help_lists_the_commands_and_keys() {
    let (mut p, _rx) = pane();
    submit(&mut p, "/help");
    assert_snapshot!("help_80x24", render_pane(&mut p, 80, 24));
    assert_snapshot!("help_160x48", render_pane(&mut p, 160, 48));
}

fn recorded_events() -> Value {
    json!({"session_id": "9b1d44e0", "events": [
        {"session_id": "9b1d44e0", "seq": 1, "kind": "user_message", "at_ms": 1, "data": {"text": "Why does the build fail?"}},
        {"session_id": "9b1d44e0", "seq": 2, "kind": "llm_response", "at_ms": 2, "data": {"model": "m", "provider": "p", "content": null, "tool_calls": 1, "finish_reason": "tool_calls", "usage": {"input_tokens": 800, "output_tokens": 40}, "cost_usd": 0.002, "latency_ms": 900}},
        {"session_id": "9b1d44e0", "seq": 3, "kind": "tool_call", "at_ms": 3, "data": {"id": "c1", "function_id": "code::run_command", "arguments": {"program": "cargo", "args": ["check"]}}},
        {"session_id": "9b1d44e0", "seq": 4, "kind": "tool_result", "at_ms": 4, "data": {"id": "c1", "function_id": "code::run_command", "ok": false, "error": {"code": "EXIT_STATUS", "message": "cargo exited with 101"}}},
        {"session_id": "9b1d44e0", "seq": 5, "kind": "llm_response", "at_ms": 5, "data": {"model": "m", "provider": "p", "content": "`cargo check` fails: `Parser::new` takes **two** arguments now.", "tool_calls": 0, "finish_reason": "stop", "usage": {"input_tokens": 900, "output_tokens": 60}, "latency_ms": 800}},
        {"session_id": "9b1d44e0", "seq": 6, "kind": "turn_done", "at_ms": 6, "data": {"reply": "…", "usage": {}, "steps": 2, "finish": "stop"}}
    ]})
}

#[test]
fn a_resumed_session_is_rebuilt_from_its_events() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "/sessions build-fix");
    assert_eq!(requests(&drain(&mut rx)), [get("resume:1", "/v1/sessions/build-fix")]);
    respond(
        &mut p,
        "resume:1",
        Ok(json!({"id": "9b1d44e0", "name": "build-fix", "hand": "debugger", "state": "done", "turns": 1})),
    );
    assert_eq!(requests(&drain(&mut rx)), [get("events:1", "/v1/sessions/9b1d44e0/events?limit=10000")]);
    respond(&mut p, "events:1", Ok(recorded_events()));
    assert_snapshot!("resumed_80x24", render_pane(&mut p, 80, 24));
    assert_snapshot!("resumed_160x48", render_pane(&mut p, 160, 48));

    submit(&mut p, "fix it");
    let sent = streams(&drain(&mut rx));
    assert_eq!(sent[0].body, Some(json!({"message": "fix it", "session_id": "9b1d44e0", "hand": "debugger"})));
}

#[test]
fn the_sessions_list_shows_name_state_turns_and_time() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "/sessions");
    assert_eq!(requests(&drain(&mut rx)), [get("sessions", "/v1/sessions?limit=20")]);
    let answer = json!({"sessions": [
        {"id": "3f2a9c1e-77aa", "name": "repo-tour", "state": "active", "turns": 3, "updated_ms": 1_700_000_000_000u64},
        {"id": "9b1d44e0", "state": "failed", "turns": 1, "updated_ms": 1_699_990_000_000u64}
    ], "total": 42});
    respond(&mut p, "sessions", Ok(answer));
    assert_snapshot!("sessions_80x24", render_pane(&mut p, 80, 24));
}

#[test]
fn an_interrupted_turn_says_so() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "Write a long essay");
    session_event(&mut p, "turn-1");
    event(&mut p, "turn-1", "token", json!({"text": "Once upon a time"}));
    p.on_key(key(KeyCode::Esc));
    drain(&mut rx);
    event(
        &mut p,
        "turn-1",
        "done",
        json!({"session_id": "3f2a9c1e-77aa", "reply": "Once upon a time", "finish": "interrupted", "steps": 1}),
    );
    assert!(!p.is_working());
    assert_snapshot!("interrupted_80x24", render_pane(&mut p, 80, 24));
}

#[test]
fn an_event_the_dashboard_does_not_know_is_a_note_never_dropped() {
    let (mut p, _rx) = pane();
    submit(&mut p, "plan it");
    session_event(&mut p, "turn-1");
    event(&mut p, "turn-1", "plan_updated", json!({"steps": 2}));
    assert!(p.transcript.cells().any(|c| *c == Cell::Note("event plan_updated: {\"steps\":2}".into())));
    assert!(p.is_working(), "an unknown event does not end the turn");
}

#[test]
fn a_known_event_that_does_not_fit_is_an_error_cell() {
    let (mut p, _rx) = pane();
    submit(&mut p, "hi");
    event(&mut p, "turn-1", "token", json!({"txt": "x"}));
    assert!(p.transcript.cells().any(|c| matches!(c, Cell::Error { code, message, .. }
        if code == "BAD_EVENT" && message.starts_with("the chat stream sent a `token` event this dashboard cannot read"))));
}

#[test]
fn a_scrolled_transcript_says_there_is_more_below() {
    let (mut p, _rx) = pane();
    for i in 0..30 {
        submit(&mut p, &format!("question {i}"));
        done(&mut p, &format!("turn-{}", i + 1), &format!("answer {i}"), "stop");
    }
    render_pane(&mut p, 80, 24);
    p.on_key(key(KeyCode::PageUp));
    assert_snapshot!("scrolled_80x24", render_pane(&mut p, 80, 24));
    p.on_key(key(KeyCode::End));
    assert!(p.transcript.is_following());
}

// ---- requests ----

#[test]
fn the_first_turn_opens_a_stream_and_the_next_ones_name_the_session() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "hello");
    let first = streams(&drain(&mut rx));
    assert_eq!(
        first,
        [StreamRequest {
            to: PaneId::Chat,
            key: "turn-1".into(),
            method: Method::Post,
            path: "/v1/chat/stream".into(),
            body: Some(json!({"message": "hello", "hand": "coder"}))
        }]
    );
    session_event(&mut p, "turn-1");
    assert_eq!(requests(&drain(&mut rx)), [get("session:3f2a9c1e-77aa", "/v1/sessions/3f2a9c1e-77aa")]);
    done(&mut p, "turn-1", "hi", "stop");
    submit(&mut p, "/model small");
    submit(&mut p, "again");
    let second = streams(&drain(&mut rx));
    assert_eq!(second[0].key, "turn-2");
    assert_eq!(
        second[0].body,
        Some(json!({"message": "again", "session_id": "3f2a9c1e-77aa", "hand": "coder", "model": "small"}))
    );
}

#[test]
fn esc_asks_the_server_to_interrupt_the_session() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "long job");
    session_event(&mut p, "turn-1");
    drain(&mut rx);
    assert!(p.on_key(key(KeyCode::Esc)).is_consumed());
    assert_eq!(
        requests(&drain(&mut rx)),
        [Request {
            to: PaneId::Chat,
            key: "interrupt:turn-1".into(),
            method: Method::Post,
            path: "/v1/chat/interrupt".into(),
            body: Some(json!({"session_id": "3f2a9c1e-77aa"}))
        }]
    );
    respond(&mut p, "interrupt:turn-1", Ok(json!({"interrupted": true})));
    assert!(p.is_working(), "the stream ends the turn with its done");
    event(&mut p, "turn-1", "done", json!({"session_id": "3f2a9c1e-77aa", "reply": "", "finish": "interrupted"}));
    assert!(!p.is_working());
    assert!(p.transcript.cells().any(|c| *c == Cell::Note("turn interrupted".into())));
}

#[test]
fn without_a_session_esc_drops_the_stream() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "hello");
    drain(&mut rx);
    p.on_key(key(KeyCode::Esc));
    assert_eq!(drain(&mut rx), [AppEvent::CloseStream { to: PaneId::Chat, key: "turn-1".into() }]);
    assert!(!p.is_working());
    assert!(p.transcript.cells().any(|c| *c == Cell::Note("turn interrupted".into())));
}

#[test]
fn a_failed_interrupt_drops_the_stream() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "hello");
    session_event(&mut p, "turn-1");
    p.on_key(key(KeyCode::Esc));
    drain(&mut rx);
    respond(
        &mut p,
        "interrupt:turn-1",
        Err(ApiError { status: 404, code: "route_not_found".into(), message: "no route".into() }),
    );
    assert_eq!(drain(&mut rx), [AppEvent::CloseStream { to: PaneId::Chat, key: "turn-1".into() }]);
    assert!(!p.is_working());
}

#[test]
fn rename_patches_the_session_and_shows_the_new_name() {
    let (mut p, mut rx) = answered("hi");
    submit(&mut p, "/rename parser work");
    assert_eq!(
        requests(&drain(&mut rx)),
        [Request {
            to: PaneId::Chat,
            key: "rename".into(),
            method: Method::Patch,
            path: "/v1/sessions/3f2a9c1e-77aa".into(),
            body: Some(json!({"name": "parser work"}))
        }]
    );
    respond(&mut p, "rename", Ok(json!({"id": "3f2a9c1e-77aa", "name": "parser work"})));
    assert_eq!(p.session.name.as_deref(), Some("parser work"));
    p.on_event(&AppEvent::Bus {
        event: "session_renamed".into(),
        data: json!({"id": "3f2a9c1e-77aa", "name": "elsewhere"}),
    });
    assert_eq!(p.session.name.as_deref(), Some("elsewhere"));
    p.on_event(&AppEvent::Bus { event: "session_renamed".into(), data: json!({"id": "other", "name": "not ours"}) });
    assert_eq!(p.session.name.as_deref(), Some("elsewhere"));
}

#[test]
fn rename_without_a_session_says_to_send_a_message_first() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "/rename x");
    assert_eq!(drain(&mut rx), []);
    assert!(p.transcript.cells().any(|c| matches!(c, Cell::Error { code, .. } if code == "NO_SESSION")));
}

#[test]
fn hand_is_validated_before_it_is_used() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "/hand reviewer");
    assert_eq!(requests(&drain(&mut rx)), [get("hand:reviewer", "/v1/hands/reviewer")]);
    respond(
        &mut p,
        "hand:reviewer",
        Err(ApiError {
            status: 404,
            code: "NOT_FOUND".into(),
            message: "no hand reviewer; the hands are: coder".into(),
        }),
    );
    submit(&mut p, "/hand researcher");
    respond(&mut p, "hand:researcher", Ok(json!({"name": "researcher", "description": "reads and summarises"})));
    drain(&mut rx);
    submit(&mut p, "go");
    assert_eq!(streams(&drain(&mut rx))[0].body, Some(json!({"message": "go", "hand": "researcher"})));
    submit(&mut p, "/hand");
    assert_eq!(requests(&drain(&mut rx)), [get("hands", "/v1/hands")]);
}

#[test]
fn an_unknown_command_points_at_help() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "/frobnicate");
    assert_eq!(drain(&mut rx), []);
    assert!(p.transcript.cells().any(|c| matches!(c, Cell::Error { message, .. } if message.contains("/help"))));
}

#[test]
fn new_forgets_the_session_and_clear_keeps_it() {
    let (mut p, mut rx) = answered("hi");
    submit(&mut p, "/clear");
    assert!(p.transcript.is_empty());
    assert!(p.session.id.is_some());
    submit(&mut p, "/new");
    assert_eq!(p.session, Session::default());
    submit(&mut p, "fresh");
    assert_eq!(streams(&drain(&mut rx))[0].body, Some(json!({"message": "fresh", "hand": "coder"})));
}

// ---- the queue ----

#[test]
fn the_queue_drains_one_message_per_finished_turn() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "one");
    submit(&mut p, "two");
    submit(&mut p, "three");
    assert_eq!(streams(&drain(&mut rx)).len(), 1);
    done(&mut p, "turn-1", "1", "stop");
    let sent = streams(&drain(&mut rx));
    assert_eq!(
        (sent[0].key.as_str(), sent[0].body.clone()),
        ("turn-2", Some(json!({"message": "two", "hand": "coder"})))
    );
    // The stream of the first turn closing late changes nothing.
    closed(&mut p, "turn-1", None);
    assert_eq!(streams(&drain(&mut rx)), []);
    closed(&mut p, "turn-2", Some(ApiError { status: 502, code: "PROVIDER_ERROR".into(), message: "upstream".into() }));
    assert_eq!(streams(&drain(&mut rx))[0].body, Some(json!({"message": "three", "hand": "coder"})));
    done(&mut p, "turn-3", "3", "stop");
    assert_eq!(streams(&drain(&mut rx)), []);
    assert!(!p.is_working());
}

#[test]
fn a_stream_that_closes_without_done_ends_the_turn_and_drains_the_queue() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "one");
    submit(&mut p, "two");
    drain(&mut rx);
    event(&mut p, "turn-1", "token", json!({"text": "partial"}));
    closed(&mut p, "turn-1", None);
    assert_eq!(streams(&drain(&mut rx))[0].key, "turn-2");
    assert!(p.transcript.cells().any(|c| *c == Cell::Assistant("partial".into())));
}

#[test]
fn an_interrupt_puts_the_queue_back_in_the_composer() {
    let (mut p, mut rx) = pane();
    submit(&mut p, "one");
    submit(&mut p, "two");
    submit(&mut p, "three");
    drain(&mut rx);
    p.on_key(key(KeyCode::Esc));
    assert_eq!(streams(&drain(&mut rx)), []);
    assert_eq!(p.composer.text(), "two\n\nthree");
}

// ---- keys ----

#[test]
fn up_recalls_sent_messages_and_enter_with_shift_adds_a_line() {
    let (mut p, _rx) = pane();
    submit(&mut p, "/model a");
    type_text(&mut p, "x");
    p.on_key(key_with(KeyCode::Enter, KeyModifiers::SHIFT));
    p.on_key(key_with(KeyCode::Char('j'), KeyModifiers::CONTROL));
    type_text(&mut p, "y");
    assert_eq!(p.composer.text(), "x\n\ny");
    p.on_key(key(KeyCode::Up));
    p.on_key(key(KeyCode::Up));
    p.on_key(key(KeyCode::Up));
    assert_eq!(p.composer.text(), "/model a");
    p.on_key(key(KeyCode::Down));
    assert_eq!(p.composer.text(), "x\n\ny");
}

#[test]
fn the_wheel_and_page_keys_scroll_and_paste_goes_to_the_composer() {
    let (mut p, _rx) = pane();
    for i in 0..20 {
        submit(&mut p, &format!("/model m{i}"));
    }
    render_pane(&mut p, 80, 24);
    let wheel = |kind| MouseEvent { kind, column: 0, row: 0, modifiers: KeyModifiers::NONE };
    assert!(p.on_mouse(wheel(MouseEventKind::ScrollUp)).is_consumed());
    assert!(!p.transcript.is_following());
    p.on_mouse(wheel(MouseEventKind::ScrollDown));
    assert!(p.transcript.is_following());
    assert!(p.on_paste("pasted\ntext").is_consumed());
    assert_eq!(p.composer.text(), "pasted\ntext");
}

#[test]
fn esc_with_nothing_to_stop_is_left_to_the_app() {
    let (mut p, _rx) = pane();
    assert!(!p.on_key(key(KeyCode::Esc)).is_consumed());
    assert!(p.wants_text_input());
}
