//! End to end: bounded chat input. A message over `[agent] max_message_bytes` is a 413
//! `MESSAGE_TOO_LARGE` on `/v1/chat`, `/v1/chat/stream` and `/v1/chat/completions`, and nothing
//! of it is stored (no session, no replay step, no model call); a conversation too large for the
//! model's window is a 413 `CONTEXT_TOO_LARGE`, never a 500.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use agentos_e2e::chat::ChatStack;
use serde_json::{Value, json};

async fn post(s: &ChatStack, path: &str, body: Value) -> (u16, Value) {
    let response = s.post(path, body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_is_413_on_every_chat_route_and_nothing_is_stored() {
    let s = ChatStack::start("", &[]).await;
    // 300 KiB: over the default 256 KiB.
    let big = "x".repeat(300 * 1024);
    let routes = [
        ("/v1/chat", json!({"message": big, "session_id": "big"})),
        ("/v1/chat/stream", json!({"message": big, "session_id": "big"})),
        ("/v1/chat/completions", json!({"model": "coder", "messages": [{"role": "user", "content": big}]})),
        (
            "/v1/chat/completions",
            json!({"model": "coder", "stream": true, "messages": [{"role": "user", "content": big}]}),
        ),
    ];
    for (path, body) in routes {
        let (status, answer) = post(&s, path, body).await;
        assert_eq!(status, 413, "{path}: {answer:#}");
        assert_eq!(answer["error"]["code"], "MESSAGE_TOO_LARGE", "{path}: {answer:#}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("over the limit of 262144 bytes ([agent] max_message_bytes in agentos.toml)"),
            "{path}: {message}"
        );
    }
    let (_, sessions) = s.get("/v1/sessions").await;
    assert_eq!(sessions["sessions"], json!([]), "no session: {sessions:#}");
    let (status, _) = s.get("/v1/sessions/big").await;
    assert_eq!(status, 404);
    let (_, events) = s.get("/v1/sessions/big/events").await;
    assert!(events["events"].as_array().is_none_or(Vec::is_empty), "no replay step: {events:#}");
    assert!(s.llm.requests().is_empty(), "no model call");

    // Under the limit but beyond the model's window (32 768 tokens for an unknown model).
    let (status, answer) = post(&s, "/v1/chat", json!({"message": "word ".repeat(40_000), "session_id": "huge"})).await;
    assert_eq!(status, 413, "{answer:#}");
    assert_eq!(answer["error"]["code"], "CONTEXT_TOO_LARGE", "{answer:#}");
    assert!(s.llm.requests().is_empty(), "no model call");
}
