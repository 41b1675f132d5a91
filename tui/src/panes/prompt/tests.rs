//! Tests of the approval prompt: the queue the bus and the server keep, the request each key
//! sends, what answers do to it, the keys it leaves to the pane below, and snapshots of every
//! state it shows over a chat-sized area.

use std::time::{Duration, Instant};

use insta::assert_snapshot;
use pretty_assertions::assert_eq;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::widgets::Paragraph;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use super::*;
use crate::event::{Request, StreamItem};
use crate::testing::{drain, key, key_with, screen};

/// 2025-03-04 10:00:00 UTC.
pub const NOW: u64 = 1_741_082_400_000;
pub const SESSION: &str = "3f2a9c1e-77aa-4bbb-8ccc-0123456789ab";

const PARSER: &str = "pub fn parse(input: &str) -> Result<Ast, ParseError> {\n    if input.trim().is_empty() {\n        return Err(ParseError::Empty);\n    }\n    Ok(Ast::from(input))\n}\n";

const DIFF: &str = "--- a/src/parser.rs\n+++ b/src/parser.rs\n@@ -1,3 +1,6 @@\n-pub fn parse(input: &str) -> Ast {\n-    Ast::from(input)\n+pub fn parse(input: &str) -> Result<Ast, ParseError> {\n+    if input.trim().is_empty() {\n+        return Err(ParseError::Empty);\n+    }\n+    Ok(Ast::from(input))\n }\n";

/// A pending `code::write_file` asked `age_s` seconds before [`NOW`], with its diff.
pub fn write_file(id: &str, age_s: u64) -> Value {
    json!({
        "id": id, "status": "pending", "created_ms": NOW - age_s * 1000, "expires_ms": NOW - age_s * 1000 + 300_000,
        "session_id": SESSION, "agent": null, "hand": "coder", "realm": null,
        "function_id": "code::write_file", "arguments": {"path": "src/parser.rs", "content": PARSER},
        "reason": "code::write_file changes files in the workspace, so a person approves it", "tier": "ask",
        "rule": {"id": "builtin:workspace-write", "source": "builtin", "function": "code::write_file|apply_patch"},
        "tool_call_id": "call_1", "diff": DIFF,
    })
}

/// A pending `code::run_command` (no diff).
pub fn run_command(id: &str, age_s: u64) -> Value {
    json!({
        "id": id, "status": "pending", "created_ms": NOW - age_s * 1000, "expires_ms": NOW - age_s * 1000 + 300_000,
        "session_id": SESSION, "hand": "coder",
        "function_id": "code::run_command", "arguments": {"program": "cargo", "args": ["test", "-p", "parser"], "cwd": "crates/parser"},
        "reason": "`cargo` is not on the builtin safe list, so a person approves `cargo test -p parser`", "tier": "ask",
        "rule": {"id": "builtin:command", "source": "builtin", "function": "code::run_command"},
    })
}

/// The same request, decided.
pub fn decided(mut request: Value, decision: &str, scope: &str, who: &str, via: &str) -> Value {
    request["status"] = json!(if decision == "approve" { "approved" } else { "denied" });
    request["decision"] =
        json!({"decision": decision, "scope": scope, "by": {"who": who, "via": via}, "decided_ms": NOW - 2000});
    request
}

fn prompt() -> (ApprovalPrompt, UnboundedReceiver<AppEvent>) {
    let (tx, mut rx) = AppEventSender::channel();
    let mut p = ApprovalPrompt::new(tx, Theme::PLAIN);
    p.now_ms = NOW;
    let asked = drain(&mut rx);
    assert_eq!(asked, [get("pending", "/v1/approvals")]);
    (p, rx)
}

fn get(key: &str, path: &str) -> AppEvent {
    AppEvent::Request(Request {
        to: PaneId::Prompt,
        key: key.into(),
        method: Method::Get,
        path: path.into(),
        body: None,
    })
}

fn bus(event: &str, data: Value) -> AppEvent {
    AppEvent::Bus { event: event.into(), data }
}

fn answer(key: &str, result: Result<Value, ApiError>) -> AppEvent {
    AppEvent::Response { to: PaneId::Prompt, key: key.into(), result }
}

fn api_error(status: u16, code: &str, message: &str) -> ApiError {
    ApiError { status, code: code.into(), message: message.into() }
}

/// The prompt over a chat-sized area: a stand-in transcript fills the screen first, so the
/// snapshot shows what the box covers and what it leaves.
fn over_chat(p: &mut ApprovalPrompt, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| {
            let area = Rect::new(0, 0, width, height);
            let transcript: Vec<String> =
                (0..height).map(|i| format!(" › chat transcript line {i} stays visible above the prompt")).collect();
            frame.render_widget(Paragraph::new(transcript.join("\n")), area);
            p.render(frame, area);
        })
        .unwrap();
    screen(terminal.backend())
}

fn decision_sent(rx: &mut UnboundedReceiver<AppEvent>) -> (String, String, Value) {
    let events = drain(rx);
    let [AppEvent::Request(r)] = events.as_slice() else { panic!("one request expected: {events:?}") };
    assert_eq!((r.to, r.method), (PaneId::Prompt, Method::Post));
    (r.key.clone(), r.path.clone(), r.body.clone().unwrap_or(Value::Null))
}

#[test]
fn the_queue_is_oldest_first_without_duplicates_and_the_server_list_fills_it() {
    let (mut p, _rx) = prompt();
    p.on_event(&answer("pending", Ok(json!({"approvals": [run_command("apr-new", 5), write_file("apr-old", 60)]}))));
    p.on_event(&bus("approval_requested", write_file("apr-mid", 30)));
    p.on_event(&bus("approval_requested", write_file("apr-mid", 30)));
    assert_eq!(p.queue.ids(), ["apr-old", "apr-mid", "apr-new"]);
    assert_eq!((p.pending(), p.is_open()), (3, true));

    // Decided anywhere: gone at once, and a stale pending list does not bring it back.
    p.on_event(&bus("approval_decided", decided(write_file("apr-mid", 30), "approve", "once", "ana", "cli")));
    assert_eq!(p.queue.ids(), ["apr-old", "apr-new"]);
    p.on_event(&answer("pending", Ok(json!({"approvals": [write_file("apr-mid", 30), write_file("apr-old", 60)]}))));
    assert_eq!(p.queue.ids(), ["apr-old"]);
    p.on_event(&bus("approval_requested", write_file("apr-mid", 30)));
    assert_eq!(p.queue.ids(), ["apr-old"], "a decided request never comes back");
}

#[test]
fn the_pending_list_is_asked_for_again_when_the_connection_comes_back() {
    let (mut p, mut rx) = prompt();
    p.on_event(&AppEvent::Connection(Connection::Up));
    assert_eq!(drain(&mut rx), [], "no loss, no refetch");
    p.on_event(&AppEvent::Connection(Connection::Lost("connection refused".into())));
    p.on_event(&AppEvent::Connection(Connection::Up));
    assert_eq!(drain(&mut rx), [get("pending", "/v1/approvals")]);
}

#[test]
fn each_key_sends_its_decision_for_the_request_on_screen() {
    let cases = [
        ('y', json!({"decision": "approve", "scope": "once", "via": "tui"})),
        ('s', json!({"decision": "approve", "scope": "session", "via": "tui"})),
        ('a', json!({"decision": "approve", "scope": "always", "via": "tui"})),
        ('n', json!({"decision": "deny", "scope": "once", "via": "tui"})),
    ];
    for (c, body) in cases {
        let (mut p, mut rx) = prompt();
        p.on_event(&bus("approval_requested", write_file("apr-1a2b3c4d5e6f", 12)));
        assert_eq!(p.on_key(key(KeyCode::Char(c))), EventState::Consumed);
        assert_eq!(
            decision_sent(&mut rx),
            ("decide:apr-1a2b3c4d5e6f".into(), "/v1/approvals/apr-1a2b3c4d5e6f".into(), body),
            "key {c}"
        );
        // While the answer is on its way, further keys send nothing.
        p.on_key(key(KeyCode::Char('y')));
        assert_eq!(drain(&mut rx), []);
        p.on_event(&answer(
            "decide:apr-1a2b3c4d5e6f",
            Ok(decided(write_file("apr-1a2b3c4d5e6f", 12), "approve", "once", "", "tui")),
        ));
        assert!(!p.is_open(), "an answer removes the request");
    }
}

#[test]
fn capital_n_takes_a_note_and_sends_it_with_the_denial() {
    let (mut p, mut rx) = prompt();
    p.on_event(&bus("approval_requested", write_file("apr-1", 12)));
    p.on_key(key_with(KeyCode::Char('N'), KeyModifiers::SHIFT));
    for c in "use the staging db".chars() {
        assert_eq!(p.on_key(key(KeyCode::Char(c))), EventState::Consumed);
    }
    // The note takes every key, Tab and PgDn included, until Enter or Esc.
    assert_eq!(p.on_key(key(KeyCode::Tab)), EventState::Consumed);
    assert_eq!(drain(&mut rx), []);
    p.on_key(key(KeyCode::Enter));
    let (_, _, body) = decision_sent(&mut rx);
    assert_eq!(body, json!({"decision": "deny", "scope": "once", "via": "tui", "note": "use the staging db"}));

    // Esc leaves the note without sending anything.
    let (mut p, mut rx) = prompt();
    p.on_event(&bus("approval_requested", write_file("apr-1", 12)));
    p.on_key(key(KeyCode::Char('N')));
    p.on_key(key(KeyCode::Char('x')));
    p.on_key(key(KeyCode::Esc));
    assert_eq!((p.mode.clone(), drain(&mut rx)), (Mode::Keys, vec![]));
}

#[test]
fn a_conflict_removes_the_request_and_says_so_in_the_next_one() {
    let (mut p, mut rx) = prompt();
    p.on_event(&bus("approval_requested", write_file("apr-1", 20)));
    p.on_event(&bus("approval_requested", run_command("apr-2", 10)));
    p.on_key(key(KeyCode::Char('y')));
    drain(&mut rx);
    let message = "approval apr-1 was already decided: denied (scope once) by ana via cli at 2025-03-04 09:59:58 UTC; the first decision wins, nothing was changed";
    p.on_event(&answer("decide:apr-1", Err(api_error(409, "CONFLICT", message))));
    assert_eq!(p.queue.ids(), ["apr-2"]);
    assert_eq!(p.notice.as_ref().map(|n| n.text.as_str()), Some(message));
    assert!(over_chat(&mut p, 80, 24).contains("approval apr-1 was already decided"));
    // The notice fades.
    assert!(p.on_tick(Instant::now() + NOTICE_FOR + Duration::from_secs(1)));
    assert_eq!(p.notice, None);

    // With nothing left to decide, the notice shows alone and every key goes to the pane below.
    p.on_event(&bus("approval_decided", decided(run_command("apr-2", 10), "approve", "session", "ana", "cli")));
    assert!(p.is_open(), "the notice about apr-2 shows");
    assert_eq!(p.on_key(key(KeyCode::Char('y'))), EventState::NotConsumed);
    assert_eq!(p.pending(), 0);
}

#[test]
fn other_errors_stay_on_the_prompt_and_the_request_can_be_answered_again() {
    let (mut p, mut rx) = prompt();
    p.on_event(&bus("approval_requested", write_file("apr-1", 12)));
    p.on_key(key(KeyCode::Char('a')));
    drain(&mut rx);
    p.on_event(&answer(
        "decide:apr-1",
        Err(api_error(503, "function_unavailable", "the approval worker is not connected")),
    ));
    assert_eq!(p.queue.ids(), ["apr-1"]);
    assert!(matches!(p.queue.head().map(|e| &e.sending), Some(Sending::Failed(m)) if m.contains("not connected")));
    p.on_key(key(KeyCode::Char('y')));
    assert_eq!(decision_sent(&mut rx).0, "decide:apr-1");
}

#[test]
fn keys_the_prompt_does_not_use_go_to_the_pane_below_and_stray_letters_are_eaten() {
    let (mut p, mut rx) = prompt();
    assert_eq!(p.on_key(key(KeyCode::Char('y'))), EventState::NotConsumed, "nothing to decide: nothing taken");
    p.on_event(&bus("approval_requested", write_file("apr-1", 12)));
    for code in [KeyCode::Tab, KeyCode::BackTab, KeyCode::PageUp, KeyCode::PageDown, KeyCode::Esc] {
        assert_eq!(p.on_key(key(code)), EventState::NotConsumed, "{code:?}");
    }
    assert_eq!(p.on_key(key_with(KeyCode::Char('2'), KeyModifiers::ALT)), EventState::NotConsumed);
    assert_eq!(p.on_key(key_with(KeyCode::Char('l'), KeyModifiers::CONTROL)), EventState::NotConsumed);
    for c in ['x', 'q', '3', '?', ' '] {
        assert_eq!(p.on_key(key(KeyCode::Char(c))), EventState::Consumed, "{c}");
    }
    assert_eq!(p.on_key(key(KeyCode::Enter)), EventState::Consumed);
    assert_eq!(drain(&mut rx), []);
    let wheel = ratatui::crossterm::event::MouseEvent {
        kind: ratatui::crossterm::event::MouseEventKind::ScrollDown,
        column: 0,
        row: 0,
        modifiers: KeyModifiers::NONE,
    };
    assert_eq!(p.on_mouse(wheel), EventState::NotConsumed);
}

#[test]
fn j_and_k_scroll_the_call_within_its_lines() {
    let (mut p, _rx) = prompt();
    p.on_event(&bus("approval_requested", write_file("apr-1", 12)));
    let top = over_chat(&mut p, 80, 24);
    for _ in 0..50 {
        p.on_key(key(KeyCode::Char('j')));
    }
    let bottom = over_chat(&mut p, 80, 24);
    assert_ne!(top, bottom);
    assert!(bottom.contains("Ok(Ast::from(input))"), "{bottom}");
    p.on_key(key(KeyCode::Char('k')));
    p.on_key(key(KeyCode::Home));
    assert_eq!(over_chat(&mut p, 80, 24), top);
}

#[test]
fn other_answers_and_streams_are_ignored() {
    let (mut p, _rx) = prompt();
    p.on_event(&AppEvent::Stream { to: PaneId::Prompt, key: "x".into(), item: StreamItem::Closed(None) });
    p.on_event(&bus("session_state", json!({"id": "s1", "state": "done"})));
    p.on_event(&bus("approval_requested", json!({"status": "pending"})));
    assert!(!p.is_open());
}

#[test]
fn snapshot_write_file_with_its_diff() {
    let (mut p, _rx) = prompt();
    p.on_event(&bus("approval_requested", write_file("apr-1a2b3c4d5e6f", 12)));
    assert_snapshot!("write_file_80x24", over_chat(&mut p, 80, 24));
    assert_snapshot!("write_file_160x48", over_chat(&mut p, 160, 48));
}

#[test]
fn snapshot_run_command_without_a_diff() {
    let (mut p, _rx) = prompt();
    p.on_event(&bus("approval_requested", run_command("apr-77c0ffee0001", 40)));
    assert_snapshot!("run_command_80x24", over_chat(&mut p, 80, 24));
}

#[test]
fn snapshot_first_of_three() {
    let (mut p, _rx) = prompt();
    p.on_event(&answer(
        "pending",
        Ok(json!({"approvals": [write_file("apr-3", 5), run_command("apr-2", 20), run_command("apr-1", 90)]})),
    ));
    assert_snapshot!("queue_1_of_3_80x24", over_chat(&mut p, 80, 24));
    assert_snapshot!("queue_1_of_3_160x48", over_chat(&mut p, 160, 48));
}

#[test]
fn snapshot_the_note_input() {
    let (mut p, _rx) = prompt();
    p.on_event(&bus("approval_requested", write_file("apr-1", 12)));
    p.on_key(key(KeyCode::Char('N')));
    for c in "keep the old signature, callers depend on it".chars() {
        p.on_key(key(KeyCode::Char(c)));
    }
    assert_snapshot!("note_80x24", over_chat(&mut p, 80, 24));
}

#[test]
fn snapshot_sending_and_a_refused_decision() {
    let (mut p, _rx) = prompt();
    p.on_event(&bus("approval_requested", run_command("apr-1", 12)));
    p.on_key(key(KeyCode::Char('s')));
    assert_snapshot!("sending_80x24", over_chat(&mut p, 80, 24));
    p.on_event(&answer("decide:apr-1", Err(api_error(500, "INTERNAL", "state::set failed: disk full"))));
    assert_snapshot!("error_80x24", over_chat(&mut p, 80, 24));
}

#[test]
fn snapshot_a_small_area_is_covered_whole() {
    let (mut p, _rx) = prompt();
    p.on_event(&bus("approval_requested", write_file("apr-1", 12)));
    assert_snapshot!("small_60x14", over_chat(&mut p, 60, 14));
}

/// The whole app: the prompt floats over the chat, takes its keys first and leaves the rest.
mod in_the_app {
    use super::*;
    use crate::testing::render_app;
    use crate::{App, AppOptions};
    use pretty_assertions::assert_eq;

    fn app() -> (App, UnboundedReceiver<AppEvent>) {
        let (tx, mut rx) = AppEventSender::channel();
        let options = AppOptions { theme: Theme::PLAIN, pane: PaneId::Chat, session: None, trace: None, hand: None };
        let app = App::new(tx, options);
        drain(&mut rx);
        (app, rx)
    }

    fn decisions(events: &[AppEvent]) -> Vec<(String, Option<Value>)> {
        events
            .iter()
            .filter_map(|e| match e {
                AppEvent::Request(r) if r.to == PaneId::Prompt && r.method == Method::Post => {
                    Some((r.path.clone(), r.body.clone()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_request_shows_over_the_chat_and_one_key_decides_it() {
        let (mut app, mut rx) = app();
        app.on_event(&bus("approval_requested", run_command("apr-1", 5)));
        let screen = render_app(&mut app, 80, 24);
        assert!(screen.contains("Approvals (1)"), "the tab bar counts it:\n{screen}");
        assert!(screen.contains("┌ Approval "), "{screen}");
        assert!(screen.contains("cargo test -p parser"), "{screen}");

        app.on_key(key(KeyCode::Char('x')));
        assert_eq!(decisions(&drain(&mut rx)), [], "a stray letter is eaten");
        app.on_key(key(KeyCode::Char('y')));
        assert_eq!(
            decisions(&drain(&mut rx)),
            [("/v1/approvals/apr-1".to_string(), Some(json!({"decision": "approve", "scope": "once", "via": "tui"})))]
        );
        app.on_event(&bus("approval_decided", decided(run_command("apr-1", 5), "approve", "once", "", "tui")));
        let screen = render_app(&mut app, 80, 24);
        assert!(!screen.contains("┌ Approval"), "{screen}");
        assert!(!screen.contains("Approvals (1)"), "{screen}");
    }

    #[test]
    fn tab_still_moves_between_panes_while_a_request_waits() {
        let (mut app, _rx) = app();
        app.on_event(&bus("approval_requested", write_file("apr-1", 5)));
        app.on_key(key(KeyCode::Tab));
        assert_eq!(app.shown(), PaneId::Approvals);
        app.on_key(key_with(KeyCode::Char('1'), KeyModifiers::ALT));
        assert_eq!(app.shown(), PaneId::Chat);
    }
}
