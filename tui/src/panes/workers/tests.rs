//! The workers pane, driven by answers and key presses: snapshots of every state at 80×24 and
//! 160×48, and the requests each key raises.

use std::time::{Duration, Instant};

use insta::assert_snapshot;
use pretty_assertions::assert_eq;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

use super::*;
use crate::event::{AppEvent, AppEventSender, Method, Request};
use crate::testing::{drain, key, key_with, render_pane};

const NAMES: [(&str, &str, u64); 15] = [
    ("agent-core", "The agent turn loop: model calls, tool calls, the step limit", 14),
    ("approval", "Approval requests: queue, decide, remember", 9),
    ("approval-tiers", "Which tier a tool call gets, and why", 4),
    ("code-agent", "Files and shell in the workspace", 11),
    ("context-cache", "Cached context for repeated prompts", 3),
    ("context-manager", "Fits the history into the model's window", 3),
    ("embedding", "Local sentence embeddings", 2),
    ("hand-runner", "Hands: agent personas and their tools", 6),
    ("llm-router", "Routes model calls to providers with fallback", 4),
    ("loop-guard", "Stops tool calls that repeat", 3),
    ("memory", "Long-term memory: add, search, forget", 5),
    ("realm", "Realms, the unit of tenancy", 12),
    ("session-lifecycle", "Sessions: open, rename, close", 8),
    ("session-replay", "Recorded steps and traces", 9),
    ("streaming", "Server-Sent Events for chat and the event feed", 5),
];

fn worker(
    name: &str,
    description: &str,
    functions: u64,
    state: &str,
    pid: Option<u64>,
    uptime_ms: Option<u64>,
) -> Value {
    json!({
        "name": name, "description": description, "state": state, "pid": pid, "restarts": 0,
        "uptime_ms": uptime_ms, "functions_registered": functions, "functions_expected": functions,
        "last_error": null, "launched_at_ms": 10, "ready_after_ms": 150,
    })
}

/// Every worker ready, pids from 41000, uptimes from 3m12s up.
fn healthy() -> Value {
    let workers: Vec<Value> = NAMES
        .iter()
        .enumerate()
        .map(|(i, (name, description, functions))| {
            worker(name, description, *functions, "ready", Some(41_000 + i as u64), Some(192_000 + 1000 * i as u64))
        })
        .collect();
    json!({ "workers": workers })
}

/// The healthy stack with `name` changed by `change`.
fn with(name: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut answer = healthy();
    let row = answer["workers"].as_array_mut().unwrap().iter_mut().find(|w| w["name"] == name).unwrap();
    change(row);
    answer
}

const GAVE_UP: &str =
    "exited with code 1; gave up after 5 restarts within 60s (restart it with `agentos restart realm`)";

/// realm failed: no pid, 5 restarts, its last error.
fn realm_failed() -> Value {
    with("realm", |w| {
        w["state"] = json!("failed");
        w["pid"] = Value::Null;
        w["uptime_ms"] = Value::Null;
        w["restarts"] = json!(5);
        w["functions_registered"] = json!(0);
        w["last_error"] = json!(GAVE_UP);
    })
}

fn pane() -> (WorkersPane, UnboundedReceiver<AppEvent>) {
    let (tx, rx) = AppEventSender::channel();
    (WorkersPane::new(tx, Theme::PLAIN), rx)
}

fn respond(pane: &mut WorkersPane, key: &str, result: Result<Value, ApiError>) {
    pane.on_event(&AppEvent::Response { to: PaneId::Workers, key: key.into(), result });
}

fn log_lines(name: &str) -> Value {
    json!({
        "worker": name,
        "path": format!("/home/ada/.local/state/agentos/logs/{name}.log"),
        "lines": [
            format!("2026-03-02T09:14:01.201Z  INFO agentos_kit::worker: {name} connected to ws://127.0.0.1:49134"),
            format!("2026-03-02T09:14:01.377Z  INFO agentos_kit::worker: registered 14 functions"),
            "2026-03-02T09:15:40.002Z  WARN agentos_worker_agent_core::turn: the model answered slowly (12.4 s); consider a faster model for the coder hand or raise [agent] step_timeout_secs".to_string(),
            "2026-03-02T09:15:41.930Z ERROR agentos_worker_agent_core::turn: tool call shell::exec failed: exit status 2".to_string(),
            "\tat the end of a tab-indented line".to_string(),
        ],
    })
}

/// A pane with the healthy stack and agent-core's log.
fn loaded() -> (WorkersPane, UnboundedReceiver<AppEvent>) {
    let (mut pane, mut rx) = pane();
    respond(&mut pane, "list", Ok(healthy()));
    respond(&mut pane, "logs:agent-core", Ok(log_lines("agent-core")));
    drain(&mut rx);
    (pane, rx)
}

fn requests(rx: &mut UnboundedReceiver<AppEvent>) -> Vec<(Method, String, String)> {
    drain(rx)
        .into_iter()
        .filter_map(|e| match e {
            AppEvent::Request(Request { method, key, path, .. }) => Some((method, key, path)),
            _ => None,
        })
        .collect()
}

fn get(key: &str, path: &str) -> (Method, String, String) {
    (Method::Get, key.to_string(), path.to_string())
}

fn buffer(pane: &mut WorkersPane, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| pane.render(frame, Rect::new(0, 0, width, height))).unwrap();
    terminal.backend().buffer().clone()
}

/// The row of the screen whose text contains `needle`.
fn row_of(buf: &Buffer, needle: &str) -> u16 {
    (0..buf.area.height)
        .find(|y| (0..buf.area.width).map(|x| buf[(x, *y)].symbol()).collect::<String>().contains(needle))
        .unwrap_or_else(|| panic!("{needle} is not on screen"))
}

#[test]
fn a_healthy_stack_at_80x24() {
    let (mut pane, _rx) = loaded();
    assert_snapshot!(render_pane(&mut pane, 80, 24));
}

#[test]
fn a_healthy_stack_at_160x48() {
    let (mut pane, _rx) = loaded();
    assert_snapshot!(render_pane(&mut pane, 160, 48));
}

#[test]
fn a_very_wide_pane_puts_the_log_beside_the_table() {
    let (mut pane, _rx) = loaded();
    assert_snapshot!(render_pane(&mut pane, 200, 30));
}

#[test]
fn a_failed_worker_shows_its_last_error_cut_in_the_row_and_whole_in_the_detail_at_80x24() {
    let (mut pane, _rx) = pane();
    respond(&mut pane, "list", Ok(realm_failed()));
    for _ in 0..11 {
        pane.on_key(key(KeyCode::Down));
    }
    assert_eq!(pane.selected().map(|r| r.name.as_str()), Some("realm"));
    respond(
        &mut pane,
        "logs:realm",
        Ok(json!({"worker": "realm", "path": "/tmp/h/logs/realm.log", "lines": [
            "2026-03-02T09:14:01.201Z ERROR agentos_kit: not a ws:// or wss:// URL: not-a-url",
        ]})),
    );
    assert_snapshot!(render_pane(&mut pane, 80, 24));
}

#[test]
fn a_failed_worker_at_160x48() {
    let (mut pane, _rx) = pane();
    respond(&mut pane, "list", Ok(realm_failed()));
    pane.on_key(key(KeyCode::Char('/')));
    for c in "realm".chars() {
        pane.on_key(key(KeyCode::Char(c)));
    }
    pane.on_key(key(KeyCode::Enter));
    respond(&mut pane, "logs:realm", Ok(json!({"worker": "realm", "path": "/tmp/h/logs/realm.log", "lines": []})));
    assert_snapshot!(render_pane(&mut pane, 160, 48));
}

#[test]
fn a_worker_that_changes_state_flashes_for_two_seconds() {
    let (mut pane, _rx) = loaded();
    respond(&mut pane, "list", Ok(with("memory", |w| w["state"] = json!("backoff"))));
    let screen = buffer(&mut pane, 80, 24);
    let y = row_of(&screen, "memory");
    assert!(screen[(4, y)].modifier.contains(Modifier::REVERSED | Modifier::BOLD), "the changed row flashes");
    let other = row_of(&screen, "loop-guard");
    assert!(!screen[(4, other)].modifier.contains(Modifier::REVERSED), "an unchanged row does not");
    assert_snapshot!(render_pane(&mut pane, 80, 24));
    assert!(!pane.on_tick(Instant::now() + Duration::from_millis(500)), "still flashing: nothing to redraw");
    assert!(pane.on_tick(Instant::now() + FLASH + Duration::from_millis(100)), "the flash ending redraws");
    let screen = buffer(&mut pane, 80, 24);
    assert!(!screen[(4, row_of(&screen, "memory"))].modifier.contains(Modifier::REVERSED));
}

#[test]
fn the_first_answer_flashes_nothing() {
    let (mut pane, _rx) = pane();
    respond(&mut pane, "list", Ok(realm_failed()));
    let screen = buffer(&mut pane, 160, 48);
    assert!(!screen[(4, row_of(&screen, "realm "))].modifier.contains(Modifier::REVERSED));
}

#[test]
fn the_log_tail_follows_the_end_and_pages_back() {
    let (mut pane, _rx) = loaded();
    let lines: Vec<String> = (0..200)
        .map(|i| format!("2026-03-02T09:{:02}:{:02}.000Z  INFO agent-core: step {i}", i / 60, i % 60))
        .collect();
    respond(
        &mut pane,
        "logs:agent-core",
        Ok(json!({"worker": "agent-core", "path": "/tmp/h/logs/agent-core.log", "lines": lines})),
    );
    let following = render_pane(&mut pane, 80, 24);
    assert!(following.contains("step 199"), "{following}");
    assert_snapshot!("log_following", following);
    pane.on_key(key(KeyCode::PageUp));
    assert!(!pane.log().follow);
    let paused = render_pane(&mut pane, 80, 24);
    assert!(!paused.contains("step 199"), "{paused}");
    assert_snapshot!("log_paged_back", paused);
    pane.on_key(key(KeyCode::Char('f')));
    assert!(pane.log().follow);
    assert!(render_pane(&mut pane, 80, 24).contains("step 199"));
}

#[test]
fn the_filter_narrows_the_table_while_typing() {
    let (mut pane, mut rx) = loaded();
    pane.on_key(key(KeyCode::Char('/')));
    assert!(pane.wants_text_input());
    for c in "sess".chars() {
        assert_eq!(pane.on_key(key(KeyCode::Char(c))), EventState::Consumed);
    }
    assert_eq!(
        pane.visible().iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        vec!["session-lifecycle", "session-replay"]
    );
    assert_eq!(
        pane.selected().map(|r| r.name.as_str()),
        Some("session-lifecycle"),
        "the selection moves into the filter"
    );
    assert_eq!(
        requests(&mut rx).last(),
        Some(&get("logs:session-lifecycle", "/v1/workers/session-lifecycle/logs?lines=200"))
    );
    assert_snapshot!(render_pane(&mut pane, 80, 24));
    pane.on_key(key(KeyCode::Enter));
    assert!(!pane.wants_text_input());
    assert_eq!(pane.on_key(key(KeyCode::Char('q'))), EventState::NotConsumed, "q quits once the filter is kept");
    pane.on_key(key(KeyCode::Esc));
    assert_eq!(pane.visible().len(), 15);
}

#[test]
fn a_filter_that_matches_nothing_says_so() {
    let (mut pane, _rx) = loaded();
    pane.on_key(key(KeyCode::Char('/')));
    for c in "zz".chars() {
        pane.on_key(key(KeyCode::Char(c)));
    }
    assert_eq!(pane.selected(), None);
    assert_snapshot!(render_pane(&mut pane, 80, 24));
}

#[test]
fn r_restarts_the_selected_worker_and_the_row_reads_restarting_until_it_changes() {
    let (mut pane, mut rx) = loaded();
    pane.on_key(key(KeyCode::Char('j')));
    pane.on_key(key(KeyCode::Char('r')));
    let raised: Vec<AppEvent> = drain(&mut rx);
    assert!(raised.contains(&AppEvent::Request(Request {
        to: PaneId::Workers,
        key: "restart:approval".into(),
        method: Method::Post,
        path: "/v1/workers/approval/restart".into(),
        body: Some(json!({})),
    })));
    respond(&mut pane, "restart:approval", Ok(json!({"restarting": "approval"})));
    respond(&mut pane, "list", Ok(healthy()));
    let screen = render_pane(&mut pane, 80, 24);
    assert!(screen.contains("restarting…"), "{screen}");
    assert_snapshot!(screen);
    // Ready again under a new pid: the restart is over.
    respond(&mut pane, "list", Ok(with("approval", |w| w["pid"] = json!(52_000))));
    assert!(!render_pane(&mut pane, 80, 24).contains("restarting…"));
}

#[test]
fn a_refused_restart_is_reported_and_the_row_reads_its_state_again() {
    let (mut pane, _rx) = loaded();
    pane.on_key(key(KeyCode::Char('r')));
    let refused =
        ApiError { status: 503, code: "ENGINE_UNAVAILABLE".into(), message: "the supervisor is shutting down".into() };
    respond(&mut pane, "restart:agent-core", Err(refused));
    let screen = render_pane(&mut pane, 160, 24);
    assert!(!screen.contains("restarting…"), "{screen}");
    assert!(
        screen.contains("restarting agent-core failed: ENGINE_UNAVAILABLE: the supervisor is shutting down"),
        "{screen}"
    );
    assert!(pane.on_tick(Instant::now() + NOTICE + Duration::from_millis(100)), "the message going away redraws");
    assert!(!render_pane(&mut pane, 160, 24).contains("restarting agent-core failed"));
}

#[test]
fn before_the_first_answer_the_pane_says_it_is_loading() {
    let (mut pane, _rx) = pane();
    assert_snapshot!(render_pane(&mut pane, 80, 24));
}

#[test]
fn a_failed_list_is_shown_and_rows_already_seen_stay() {
    let (mut pane, _rx) = pane();
    let down =
        ApiError::unreachable("cannot reach agentos at http://127.0.0.1:3111: Connection refused (os error 111)");
    respond(&mut pane, "list", Err(down.clone()));
    assert_snapshot!("list_failed_at_start", render_pane(&mut pane, 80, 24));
    respond(&mut pane, "list", Ok(healthy()));
    respond(&mut pane, "list", Err(down));
    let screen = render_pane(&mut pane, 100, 24);
    assert!(screen.contains("cannot refresh: UNREACHABLE"), "{screen}");
    assert!(screen.contains("agent-core"), "{screen}");
}

#[test]
fn the_table_is_asked_for_at_once_and_the_first_workers_log_with_the_first_answer() {
    let (mut pane, mut rx) = pane();
    assert_eq!(requests(&mut rx), vec![get("list", "/v1/workers")]);
    respond(&mut pane, "list", Ok(healthy()));
    assert_eq!(requests(&mut rx), vec![get("logs:agent-core", "/v1/workers/agent-core/logs?lines=200")]);
}

#[test]
fn polls_come_every_second_while_shown_every_five_otherwise_and_never_two_at_once() {
    let (mut pane, mut rx) = loaded();
    // Drawn: shown.
    render_pane(&mut pane, 80, 24);
    let now = Instant::now();
    pane.on_tick(now + Duration::from_millis(1100));
    assert_eq!(requests(&mut rx), vec![get("list", "/v1/workers")]);
    pane.on_tick(now + Duration::from_millis(2100));
    assert_eq!(
        requests(&mut rx),
        vec![get("logs:agent-core", "/v1/workers/agent-core/logs?lines=200")],
        "the log is due; the table's poll is still out"
    );
    respond(&mut pane, "list", Ok(healthy()));
    respond(&mut pane, "logs:agent-core", Ok(log_lines("agent-core")));
    // Not drawn for a while: hidden, so the table waits 5 s and the log is left alone.
    pane.on_tick(now + Duration::from_secs(4));
    assert_eq!(requests(&mut rx), vec![]);
    pane.on_tick(now + Duration::from_millis(6200));
    assert_eq!(requests(&mut rx), vec![get("list", "/v1/workers")]);
}

#[test]
fn an_answer_about_a_worker_no_longer_selected_is_dropped() {
    let (mut pane, mut rx) = loaded();
    pane.on_key(key(KeyCode::Down));
    assert_eq!(requests(&mut rx), vec![get("logs:approval", "/v1/workers/approval/logs?lines=200")]);
    respond(&mut pane, "logs:agent-core", Ok(log_lines("agent-core")));
    assert_eq!(pane.log().worker.as_deref(), Some("approval"));
    assert!(pane.log().lines.is_empty());
}

#[test]
fn the_selection_follows_its_worker_across_polls() {
    let (mut pane, _rx) = loaded();
    pane.on_key(key(KeyCode::End));
    assert_eq!(pane.selected().map(|r| r.name.as_str()), Some("streaming"));
    let mut fewer = healthy();
    fewer["workers"].as_array_mut().unwrap().remove(0);
    respond(&mut pane, "list", Ok(fewer));
    assert_eq!(pane.selected().map(|r| r.name.as_str()), Some("streaming"));
    pane.on_key(key(KeyCode::Home));
    assert_eq!(pane.selected().map(|r| r.name.as_str()), Some("approval"));
}

#[test]
fn keys_the_pane_does_not_use_are_left_to_the_app() {
    let (mut pane, _rx) = loaded();
    for code in [KeyCode::Char('q'), KeyCode::Char('?'), KeyCode::Char('3'), KeyCode::Esc] {
        assert_eq!(pane.on_key(key(code)), EventState::NotConsumed, "{code:?}");
    }
    assert_eq!(pane.on_key(key_with(KeyCode::Char('r'), KeyModifiers::CONTROL)), EventState::NotConsumed);
}

#[test]
fn error_rows_are_at_most_four_and_cut_with_an_ellipsis() {
    let long = "health check failed: ".repeat(20);
    let rows = error_rows(&long, 30);
    assert_eq!(rows.len(), 4);
    assert!(rows[3].ends_with('…'));
    assert_eq!(error_rows("exited with code 1", 30), vec!["✗ exited with code 1".to_string()]);
}
