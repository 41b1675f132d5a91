//! Interactive `agentos chat` in a real terminal: the binary runs under `script` (util-linux),
//! which gives it a pseudo-terminal on stdin and stdout, so the TTY branch, the prompt, `/new`,
//! `/exit` and Ctrl-C (a `\x03` typed into the terminal) are exercised as a person would.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

use super::fake::{FakeStack, KEY, Step, event, sse};

/// How long the terminal may take to show what a step waits for.
const STEP_LIMIT: Duration = Duration::from_secs(20);

/// A turn that answers `reply` in session `session`.
fn turn(session: &str, reply: &str) -> Vec<Step> {
    vec![
        Step::Send(event("session", &json!({"session_id": session, "realm": "default"}))),
        Step::Send(event("token", &json!({"text": reply}))),
        Step::Send(event("done", &json!({"session_id": session, "reply": reply, "steps": 1}))),
    ]
}

/// Waits until the terminal output holds `needle` `times` times.
async fn wait_for(screen: &Mutex<String>, needle: &str, times: usize) {
    let deadline = Instant::now() + STEP_LIMIT;
    loop {
        let seen = screen.lock().unwrap().clone();
        if seen.matches(needle).count() >= times {
            return;
        }
        assert!(Instant::now() < deadline, "the terminal never showed {needle:?} ×{times}; it shows:\n{seen}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_chat_keeps_the_session_until_new_and_ctrl_c_abandons_only_the_turn() {
    let never = Arc::new(Notify::new());
    let held = never.clone();
    let stack = FakeStack::start(move |r| match r.body["message"].as_str().unwrap_or_default() {
        "first" => sse(turn("s-1", "one")),
        "second" => sse(vec![
            Step::Send(event("session", &json!({"session_id": "s-1"}))),
            Step::Send(event("token", &json!({"text": "partial"}))),
            Step::Wait(held.clone()),
        ]),
        "after" => sse(turn("s-1", "two")),
        _ => sse(turn("s-3", "three")),
    })
    .await;
    let command = format!("exec '{}' chat --hand coder", env!("CARGO_BIN_EXE_agentos"));
    let mut child = tokio::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("AGENTOS_HOME", stack.path())
        .env("AGENTOS_API_KEY", KEY)
        .env("NO_COLOR", "1")
        .env("SHELL", "/bin/sh")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("util-linux `script` runs the CLI in a pseudo-terminal; install util-linux");
    let mut keys = child.stdin.take().unwrap();
    let mut output = child.stdout.take().unwrap();
    let screen = Arc::new(Mutex::new(String::new()));
    let sink = screen.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 1024];
        while let Ok(n) = output.read(&mut buf).await {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });

    wait_for(&screen, "you › ", 1).await;
    keys.write_all(b"first\n").await.unwrap();
    wait_for(&screen, "session s-1 · 1 step", 1).await;
    keys.write_all(b"second\n").await.unwrap();
    wait_for(&screen, "partial", 1).await;
    keys.write_all(b"\x03").await.unwrap();
    wait_for(&screen, "(interrupted)", 1).await;
    keys.write_all(b"after\n").await.unwrap();
    wait_for(&screen, "session s-1 · 1 step", 2).await;
    keys.write_all(b"/new\n").await.unwrap();
    wait_for(&screen, "new session", 1).await;
    keys.write_all(b"third\n").await.unwrap();
    wait_for(&screen, "session s-3 · 1 step", 1).await;
    keys.write_all(b"/exit\n").await.unwrap();
    let status = tokio::time::timeout(STEP_LIMIT, child.wait()).await.expect("/exit ends the session").unwrap();
    let seen = screen.lock().unwrap().clone();
    assert!(status.success(), "{status}; the terminal shows:\n{seen}");
    assert!(!seen.contains('\x1b'), "NO_COLOR is respected on a terminal:\n{seen:?}");

    let bodies: Vec<_> = stack.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(
        bodies,
        vec![
            json!({"message": "first", "hand": "coder"}),
            json!({"message": "second", "session_id": "s-1", "hand": "coder"}),
            json!({"message": "after", "session_id": "s-1", "hand": "coder"}),
            json!({"message": "third", "hand": "coder"}),
        ]
    );
    drop(never);
}
