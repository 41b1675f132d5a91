//! Tests of the approvals pane: what it asks for, how the bus keeps it current, what each key
//! sends, and snapshots of the inbox, the history, the detail and the remembered rules.

use insta::assert_snapshot;
use pretty_assertions::assert_eq;
use ratatui::crossterm::event::KeyCode;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use super::*;
use crate::event::Request;
use crate::panes::prompt::tests::{NOW, decided, run_command, write_file};
use crate::testing::{drain, key, render_pane};

fn pane() -> (ApprovalsPane, UnboundedReceiver<AppEvent>) {
    let (tx, mut rx) = AppEventSender::channel();
    let mut p = ApprovalsPane::new(tx, Theme::PLAIN);
    p.now_ms = NOW;
    assert_eq!(drain(&mut rx), [], "nothing is asked for before the pane is shown");
    (p, rx)
}

fn get(key: &str, path: &str) -> AppEvent {
    AppEvent::Request(Request {
        to: PaneId::Approvals,
        key: key.into(),
        method: Method::Get,
        path: path.into(),
        body: None,
    })
}

fn answer(key: &str, result: Value) -> AppEvent {
    AppEvent::Response { to: PaneId::Approvals, key: key.into(), result: Ok(result) }
}

fn bus(event: &str, data: Value) -> AppEvent {
    AppEvent::Bus { event: event.into(), data }
}

/// Two pending requests and three decided ones, as `GET /v1/approvals?all=1` answers.
fn history() -> Value {
    let mut denied = decided(write_file("apr-5d1e0b7c9a20", 1900), "deny", "once", "ana", "tui");
    denied["arguments"]["path"] = json!("Cargo.toml");
    denied["decision"]["note"] =
        json!("do not touch the workspace manifest; add the dependency to crates/parser instead");
    denied["decision"]["decided_ms"] = json!(NOW - 1_800_000);
    let mut always = decided(run_command("apr-0b1c2d3e4f50", 7300), "approve", "always", "ben", "cli");
    always["decision"]["rule_id"] = json!("always-7f3e9a");
    always["decision"]["decided_ms"] = json!(NOW - 7_200_000);
    let mut timed_out = decided(run_command("apr-99aa88bb77cc", 90_000), "deny", "once", "", "timeout");
    timed_out["decision"]["by"] = json!({"via": "timeout"});
    timed_out["decision"]["decided_ms"] = json!(NOW - 86_000_000);
    json!({"approvals": [
        write_file("apr-1a2b3c4d5e6f", 12),
        run_command("apr-77c0ffee0001", 200),
        denied, always, timed_out,
    ]})
}

fn remembered() -> Value {
    json!({
        "rules": [{"id": "always-7f3e9a", "function_id": "code::run_command", "arguments": {"program": "cargo", "args": ["test", "-p", "parser"], "cwd": "crates/parser"},
                   "created_ms": NOW - 7_200_000, "by": {"who": "ben", "via": "cli"}, "from_request": "apr-0b1c2d3e4f50"}],
        "grants": [{"session_id": "3f2a9c1e-77aa-4bbb-8ccc-0123456789ab", "functions": ["code::write_file"], "updated_ms": NOW - 300_000}],
    })
}

fn loaded() -> (ApprovalsPane, UnboundedReceiver<AppEvent>) {
    let (mut p, mut rx) = pane();
    p.on_show();
    assert_eq!(drain(&mut rx), [get("list", "/v1/approvals?all=1"), get("rules", "/v1/approvals/rules")]);
    p.on_event(&answer("list", history()));
    p.on_event(&answer("rules", remembered()));
    (p, rx)
}

fn ids(p: &ApprovalsPane) -> Vec<&str> {
    p.rows.iter().map(|a| a.id.as_str()).collect()
}

#[test]
fn pending_requests_come_first_then_the_latest_decisions() {
    let (p, _rx) = loaded();
    assert_eq!(
        ids(&p),
        ["apr-1a2b3c4d5e6f", "apr-77c0ffee0001", "apr-5d1e0b7c9a20", "apr-0b1c2d3e4f50", "apr-99aa88bb77cc"]
    );
}

#[test]
fn the_bus_updates_the_list_in_place_and_the_selection_follows_its_request() {
    let (mut p, mut rx) = loaded();
    p.on_key(key(KeyCode::Down));
    assert_eq!(p.selected().map(|a| a.id.as_str()), Some("apr-77c0ffee0001"));
    p.on_event(&bus("approval_requested", write_file("apr-new000000001", 1)));
    assert_eq!(ids(&p)[0], "apr-new000000001");
    assert_eq!(p.selected().map(|a| a.id.as_str()), Some("apr-77c0ffee0001"), "the selection stays on its request");
    // A decision that remembers something asks for the rules again.
    p.on_event(&bus(
        "approval_decided",
        decided(run_command("apr-77c0ffee0001", 200), "approve", "session", "ana", "http"),
    ));
    assert_eq!(p.rows.iter().filter(|a| a.is_pending()).count(), 2);
    assert_eq!(drain(&mut rx), [get("rules", "/v1/approvals/rules")]);
}

#[test]
fn decision_keys_decide_the_selected_pending_request_and_nothing_else() {
    let (mut p, mut rx) = loaded();
    p.on_key(key(KeyCode::Char('s')));
    let events = drain(&mut rx);
    let [AppEvent::Request(r)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(
        (r.key.as_str(), r.method, r.path.as_str(), r.body.clone()),
        (
            "decide:apr-1a2b3c4d5e6f",
            Method::Post,
            "/v1/approvals/apr-1a2b3c4d5e6f",
            Some(json!({"decision": "approve", "scope": "session", "via": "tui"}))
        )
    );
    p.on_key(key(KeyCode::Char('n')));
    assert_eq!(drain(&mut rx), [], "one decision at a time");

    p.on_key(key(KeyCode::Char('G')));
    p.on_key(key(KeyCode::Char('y')));
    assert_eq!(drain(&mut rx), [], "a decided request is not decided again");
}

#[test]
fn the_answer_to_a_decision_replaces_the_row_and_a_conflict_is_shown_and_refetched() {
    let (mut p, mut rx) = loaded();
    p.on_key(key(KeyCode::Char('y')));
    drain(&mut rx);
    let done = decided(write_file("apr-1a2b3c4d5e6f", 12), "approve", "once", "", "tui");
    p.on_event(&answer("decide:apr-1a2b3c4d5e6f", done));
    assert!(!p.rows.iter().any(|a| a.id == "apr-1a2b3c4d5e6f" && a.is_pending()));
    assert_eq!(drain(&mut rx), [get("rules", "/v1/approvals/rules")]);

    p.on_key(key(KeyCode::Home));
    p.on_key(key(KeyCode::Char('n')));
    drain(&mut rx);
    let conflict = ApiError {
        status: 409,
        code: "CONFLICT".into(),
        message: "approval apr-77c0ffee0001 was already decided".into(),
    };
    p.on_event(&AppEvent::Response {
        to: PaneId::Approvals,
        key: "decide:apr-77c0ffee0001".into(),
        result: Err(conflict),
    });
    assert_eq!(drain(&mut rx), [get("list", "/v1/approvals?all=1")]);
    assert!(render_pane(&mut p, 80, 24).contains("approval apr-77c0ffee0001 was already decided"));
}

#[test]
fn d_twice_forgets_the_selected_rule() {
    let (mut p, mut rx) = loaded();
    p.on_key(key(KeyCode::Right));
    p.on_key(key(KeyCode::Char('d')));
    assert_eq!(drain(&mut rx), []);
    assert!(render_pane(&mut p, 100, 30).contains("d again forgets it"));
    p.on_key(key(KeyCode::Char('d')));
    assert_eq!(
        drain(&mut rx),
        [AppEvent::Request(Request {
            to: PaneId::Approvals,
            key: "forget:always-7f3e9a".into(),
            method: Method::Delete,
            path: "/v1/approvals/rules/always-7f3e9a".into(),
            body: None
        })]
    );
    p.on_event(&answer("forget:always-7f3e9a", json!({"deleted": "always-7f3e9a"})));
    assert_eq!(p.rules.items.len(), 1);
    // Another key between the two presses keeps the rule.
    p.on_key(key(KeyCode::Char('d')));
    p.on_key(key(KeyCode::Char('x')));
    p.on_key(key(KeyCode::Char('d')));
    assert_eq!(drain(&mut rx), [get("rules", "/v1/approvals/rules")]);
}

#[test]
fn snapshot_inbox_with_a_pending_request_selected() {
    let (mut p, _rx) = loaded();
    assert_snapshot!("inbox_80x24", render_pane(&mut p, 80, 24));
    assert_snapshot!("inbox_160x48", render_pane(&mut p, 160, 48));
}

#[test]
fn snapshot_a_denied_request_with_its_note() {
    let (mut p, _rx) = loaded();
    p.on_key(key(KeyCode::Down));
    p.on_key(key(KeyCode::Down));
    assert_snapshot!("denied_detail_80x24", render_pane(&mut p, 80, 24));
    assert_snapshot!("denied_detail_160x48", render_pane(&mut p, 160, 48));
}

#[test]
fn snapshot_rules_focused() {
    let (mut p, _rx) = loaded();
    p.on_key(key(KeyCode::Right));
    p.on_key(key(KeyCode::Down));
    assert_snapshot!("rules_focused_120x30", render_pane(&mut p, 120, 30));
}

#[test]
fn snapshot_empty_inbox() {
    let (mut p, _rx) = pane();
    p.on_show();
    p.on_event(&answer("list", json!({"approvals": []})));
    p.on_event(&answer("rules", json!({"rules": [], "grants": []})));
    assert_snapshot!("empty_80x24", render_pane(&mut p, 80, 24));
}
