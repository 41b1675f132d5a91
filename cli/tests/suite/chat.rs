//! `agentos chat "…"`, piped and `--json`: the real binary against a scripted
//! `/v1/chat/stream` whose events arrive cut across chunks and with delays.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

use super::fake::{FakeStack, KEY, Step, chunked, error, event, sse};

const SESSION: &str = "3f2a9c4e-1b7d-4c1e-9a55-2f0c8d1e6b10";

fn done() -> Value {
    json!({
        "session_id": SESSION,
        "reply": "Hello\nDone.",
        "tool_calls": [{"id": "c1", "function_id": "code::read_file", "arguments": {"path": "src/main.rs"},
                        "ok": true, "result": "x".repeat(1229), "duration_ms": 3}],
        "usage": {"input_tokens": 1234, "output_tokens": 56, "cost_usd": 0.0012, "llm_calls": 2},
        "model": "anthropic/claude-sonnet",
        "steps": 2
    })
}

/// A whole turn: session, tokens, a tool call and its result, an unknown event, usage, done.
fn turn_body() -> String {
    [
        event("session", &json!({"session_id": SESSION, "realm": "default", "hand": "coder"})),
        event("token", &json!({"text": "Hel"})),
        event("token", &json!({"text": "lo"})),
        event(
            "tool_call",
            &json!({"id": "c1", "function_id": "code::read_file", "arguments": {"path": "src/main.rs"}}),
        ),
        event(
            "tool_result",
            &json!({"id": "c1", "function_id": "code::read_file", "ok": true, "result": "x".repeat(1229), "duration_ms": 3}),
        ),
        event(
            "approval_requested",
            &json!({"id": "a1", "status": "pending", "created_ms": 1, "expires_ms": 300_001, "session_id": "3f2a9c4e",
                    "agent": null, "hand": "coder", "realm": null, "function_id": "code::write_file",
                    "arguments": {"path": "a.txt", "content": "x"}, "reason": null, "tier": "ask",
                    "rule": {"id": "builtin:workspace-write", "source": "builtin", "function": "code::write_file|apply_patch"}}),
        ),
        event("token", &json!({"text": "\nDone."})),
        event("usage", &json!({"input_tokens": 1234, "output_tokens": 56, "cost_usd": 0.0012, "llm_calls": 2})),
        event("done", &done()),
    ]
    .concat()
}

const RENDERED: &str = "Hello\n\
                        ⚙ code::read_file {\"path\":\"src/main.rs\"}\n\
                        \x20 ↳ ok · 1.2 KiB · 3 ms\n\
                        \n\
                        Done.\n\
                        session 3f2a… · 2 steps · 1,234 in / 56 out tokens · $0.0012\n";

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_turn_prints_tokens_tool_cells_and_the_footer_from_a_stream_cut_anywhere() {
    let stack = FakeStack::start(|_| sse(chunked(&turn_body(), 7, Duration::from_millis(2)))).await;
    let out = stack.agentos(&["chat", "--hand", "coder", "--realm", "default", "hi"], None).await;
    assert_eq!(stdout(&out), RENDERED, "stderr: {}", stderr(&out));
    assert!(out.status.success(), "{out:?}");

    let requests = stack.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!((requests[0].method.as_str(), requests[0].uri.as_str()), ("POST", "/v1/chat/stream"));
    assert_eq!(requests[0].authorization.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(requests[0].body, json!({"message": "hi", "hand": "coder", "realm": "default"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_printed_before_the_turn_ends() {
    let gate = Arc::new(Notify::new());
    let held = gate.clone();
    let stack = FakeStack::start(move |_| {
        sse(vec![
            Step::Send(event("session", &json!({"session_id": SESSION, "realm": "default"}))),
            Step::Send(event("token", &json!({"text": "Hel"}))),
            Step::Wait(held.clone()),
            Step::Send(event("token", &json!({"text": "lo"}))),
            Step::Send(event("done", &json!({"session_id": SESSION, "reply": "Hello", "steps": 1}))),
        ])
    })
    .await;
    let mut child = stack.command(&["chat", "hi"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut pipe = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.starts_with(b"Hel") {
        let mut buf = [0u8; 64];
        let Ok(read) = tokio::time::timeout_at(deadline.into(), pipe.read(&mut buf)).await else {
            panic!("the first token was not printed while the turn ran (stdout so far: {seen:?})");
        };
        let n = read.unwrap();
        assert!(n > 0, "stdout closed before the first token: {seen:?}");
        seen.extend_from_slice(&buf[..n]);
    }
    gate.notify_one();
    pipe.read_to_end(&mut seen).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.unwrap().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&seen),
        "Hello\nsession 3f2a… · 1 step · 0 in / 0 out tokens\n",
        "the rest of the turn follows once the server goes on"
    );
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_event_exits_1_with_the_fix_on_stderr() {
    let stack = FakeStack::start(|_| {
        sse(vec![
            Step::Send(event("session", &json!({"session_id": SESSION, "realm": "default"}))),
            Step::Send(event(
                "error",
                &json!({"code": "NO_PROVIDER", "message": "no LLM provider is configured; set ANTHROPIC_API_KEY"}),
            )),
        ])
    })
    .await;
    let out = stack.agentos(&["chat", "hi"], None).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "agentos: NO_PROVIDER: no LLM provider is configured; set ANTHROPIC_API_KEY; fix: export ANTHROPIC_API_KEY or OPENAI_API_KEY (and optionally AGENTOS_MODEL) in the shell that runs `agentos up`, then `agentos down` and `agentos up` again\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_2xx_answer_exits_1_with_the_servers_message_and_the_fix() {
    let stack = FakeStack::start(|_| error(404, "route_not_found", "no route for POST /v1/chat/stream")).await;
    let out = stack.agentos(&["chat", "hi"], None).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(err.starts_with("agentos: route_not_found: no route for POST /v1/chat/stream; fix: "), "{err}");
    assert!(err.contains("`agentos status`"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_ends_before_done_is_an_error() {
    let stack = FakeStack::start(|_| {
        sse(vec![
            Step::Send(event("session", &json!({"session_id": SESSION}))),
            Step::Send(event("token", &json!({"text": "half"}))),
        ])
    })
    .await;
    let out = stack.agentos(&["chat", "hi"], None).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(stdout(&out), "half\n");
    assert!(stderr(&out).contains("the chat stream ended before the turn finished; fix:"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_stdin_is_the_message_and_json_prints_the_done_payload() {
    let stack = FakeStack::start(|_| sse(chunked(&turn_body(), 64, Duration::ZERO))).await;
    let out = stack.agentos(&["chat", "--json", "--session", "s-0", "--model", "m"], Some("what is in\nsrc/?\n")).await;
    assert!(out.status.success(), "{out:?}");
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, done());
    assert_eq!(stack.requests()[0].body, json!({"message": "what is in\nsrc/?", "session_id": "s-0", "model": "m"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_message_is_refused_before_anything_is_sent() {
    let stack = FakeStack::start(|_| error(500, "INTERNAL", "must not be called")).await;
    let out = stack.agentos(&["chat"], Some("  \n")).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("the message is empty; fix:"), "{}", stderr(&out));
    assert!(stack.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_running_stack_chat_says_to_start_one() {
    let home = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentos"))
        .args(["chat", "hi"])
        .env("AGENTOS_HOME", home.path())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "agentos: agentos is not running; start it with `agentos up`\n");
}
