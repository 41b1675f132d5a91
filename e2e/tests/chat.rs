//! End to end: chat turns through the whole stack (`agentos up` with every worker as its own
//! process) against a scripted local LLM server speaking the real OpenAI wire format: a tool
//! call that reads a file, a provider error retried, a provider that never answers, a tool loop
//! stopped by the loop guard, path escapes refused, the SSE and OpenAI-compatible surfaces read
//! by plain HTTP clients, and `agentos chat` in the shell.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use agentos_e2e::chat::ChatStack;
use agentos_test_support::{Reply, ToolCallSpec};
use futures_util::StreamExt;
use serde_json::{Value, json};

fn read_file(id: &str, path: &str) -> ToolCallSpec {
    ToolCallSpec::new(id, "code__read_file", json!({"path": path}))
}

/// Splits a Server-Sent Events body into (event, data) pairs.
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = Some(e.to_string());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).ok();
                }
            }
            Some((event?, data?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_reads_a_file_through_code_read_file_and_answers_from_its_content() {
    let s = ChatStack::start("", &[("notes.txt", "The launch code is 4242.\n")]).await;
    s.llm.push(Reply::tool_calls(vec![read_file("call_1", "notes.txt")]));
    s.llm.push(Reply::text("The launch code is 4242."));

    let (status, answer) = s.chat(json!({"message": "What is the launch code in notes.txt?", "hand": "coder"})).await;
    assert_eq!(status, 200, "{answer:#}");
    assert_eq!(answer["reply"], "The launch code is 4242.");
    assert_eq!(answer["steps"], 2);
    let call = &answer["tool_calls"][0];
    assert_eq!((call["function_id"].as_str(), call["ok"].as_bool()), (Some("code::read_file"), Some(true)));

    // The model was offered the coder's tools under provider-safe names, and its second request
    // carried the file's content as the tool result.
    let tools = s.llm.requests()[0].body["tools"].as_array().unwrap().clone();
    let read = tools.iter().find(|t| t["function"]["name"] == "code__read_file").expect("code__read_file offered");
    assert_eq!(read["function"]["parameters"]["required"], json!(["path"]), "{read:#}");
    let second = s.sent(1);
    let result = second.iter().find(|m| m["role"] == "tool").unwrap();
    assert_eq!(result["tool_call_id"], "call_1");
    assert!(result["content"].as_str().unwrap().contains("The launch code is 4242."), "{result}");

    // The session continues: the next turn sends the earlier exchange.
    s.llm.push(Reply::text("You asked about the launch code."));
    let (_, next) = s.chat(json!({"message": "What did I ask?", "session_id": answer["session_id"]})).await;
    assert_eq!(next["reply"], "You asked about the launch code.");
    let third = s.sent(2);
    assert!(third.iter().any(|m| m["content"] == "What is the launch code in notes.txt?"), "{third:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_turn_sends_every_event_in_order_as_server_sent_events() {
    let s = ChatStack::start("", &[("a.txt", "alpha")]).await;
    s.llm.push(Reply::tool_calls(vec![read_file("c1", "a.txt")]));
    s.llm.push(Reply::text("It says alpha, nothing more."));

    let response = s.post("/v1/chat/stream", json!({"message": "read a.txt"})).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let body = response.text().await.unwrap();
    let events = sse_events(&body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"session"), "{body}");
    let call = names.iter().position(|n| *n == "tool_call").unwrap();
    let result = names.iter().position(|n| *n == "tool_result").unwrap();
    let first_token = names.iter().position(|n| *n == "token").unwrap();
    assert!(call < result && result < first_token, "{names:?}");
    assert_eq!(&names[names.len() - 2..], ["usage", "done"], "{names:?}");
    let text: String = events.iter().filter(|(n, _)| n == "token").map(|(_, d)| d["text"].as_str().unwrap()).collect();
    assert_eq!(text, "It says alpha, nothing more.");
    assert!(names.iter().filter(|n| **n == "token").count() > 1, "the answer was streamed in pieces: {names:?}");
    assert_eq!(events.last().unwrap().1["reply"], "It says alpha, nothing more.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_error_is_retried_and_the_turn_completes() {
    let s = ChatStack::start("", &[]).await;
    s.llm.push(Reply::status(500, "upstream exploded"));
    s.llm.push(Reply::text("Fine now."));
    let (status, answer) = s.chat(json!({"message": "hello"})).await;
    assert_eq!((status, answer["reply"].as_str()), (200, Some("Fine now.")), "{answer:#}");
    assert_eq!(s.llm.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_never_answers_ends_the_turn_with_a_clear_timeout() {
    let s = ChatStack::start("[llm]\ntimeout_secs = 1\nmax_retries = 0\n", &[]).await;
    s.llm.push(Reply::Hang);
    let started = std::time::Instant::now();
    let (status, answer) = s.chat(json!({"message": "hello"})).await;
    assert_eq!(status, 504, "{answer:#}");
    assert_eq!(answer["error"]["code"], "TIMEOUT", "{answer:#}");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_repeating_one_call_is_stopped_by_the_loop_guard() {
    let s = ChatStack::start("", &[("a.txt", "alpha")]).await;
    for i in 0..6 {
        s.llm.push(Reply::tool_calls(vec![read_file(&format!("c{i}"), "a.txt")]));
    }
    s.llm.push(Reply::text("I will stop repeating myself."));
    let (status, answer) = s.chat(json!({"message": "read a.txt again and again"})).await;
    assert_eq!(status, 200, "{answer:#}");
    let calls = answer["tool_calls"].as_array().unwrap();
    let blocked: Vec<&Value> = calls.iter().filter(|c| c["blocked"].is_string()).collect();
    assert!(!blocked.is_empty(), "no call was blocked: {calls:#?}");
    assert!(blocked[0]["blocked"].as_str().unwrap().contains("code::read_file"), "{:#?}", blocked[0]);
    // The model read why, in the tool result of the blocked call.
    let last = s.sent(s.llm.requests().len() - 1);
    assert!(last.iter().any(|m| m["role"] == "tool" && m["content"].as_str().unwrap().starts_with("Not run:")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_outside_the_workspace_are_refused_and_the_model_is_told() {
    let s = ChatStack::start("", &[("inside.txt", "ok")]).await;
    let outside = s.workspace().parent().unwrap().join("agentos-e2e-secret.txt");
    std::fs::write(&outside, "secret").unwrap();
    s.llm.push(Reply::tool_calls(vec![
        read_file("c1", "../agentos-e2e-secret.txt"),
        read_file("c2", outside.to_str().unwrap()),
        read_file("c3", "/etc/passwd"),
    ]));
    s.llm.push(Reply::text("I may not read those."));
    let (status, answer) = s.chat(json!({"message": "read the secrets"})).await;
    std::fs::remove_file(&outside).unwrap();
    assert_eq!(status, 200, "{answer:#}");
    for call in answer["tool_calls"].as_array().unwrap() {
        assert_eq!(call["ok"], false, "{call:#}");
        let message = call["error"]["message"].as_str().unwrap();
        assert!(message.contains("workspace"), "{message}");
    }
    let sent = s.sent(1);
    assert!(sent.iter().all(|m| !m["content"].as_str().unwrap_or_default().contains("secret\n")));
    assert!(!serde_json::to_string(&sent).unwrap().contains("root:x:0:0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_compatible_endpoint_serves_a_plain_client_streamed_and_not() {
    let s = ChatStack::start("", &[]).await;
    let models: Value =
        s.http.get(format!("{}/v1/models", s.base)).bearer_auth(&s.key).send().await.unwrap().json().await.unwrap();
    assert!(models["data"].as_array().unwrap().iter().any(|m| m["id"] == "coder"), "{models:#}");

    s.llm.push(Reply::text("Hello from coder."));
    let body = json!({"model": "coder", "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}]});
    let response = s.post("/v1/chat/completions", body).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["choices"][0]["message"], json!({"role": "assistant", "content": "Hello from coder."}));
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert!(answer["usage"]["total_tokens"].as_u64().unwrap() > 0);
    // The client's system message reached the model after the hand's prompt.
    assert!(s.sent(0).iter().any(|m| m["content"] == "Be terse."));

    s.llm.push(Reply::text("Streaming works fine."));
    let body = json!({"model": "coder", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "stream"}]});
    let response = s.post("/v1/chat/completions", body).await;
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    let data: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    let chunks: Vec<Value> = data[..data.len() - 1].iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk"), "{text}");
    let content: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(content, "Streaming works fine.");
    assert!(chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "stop"));
    assert!(chunks.last().unwrap()["usage"]["total_tokens"].as_u64().unwrap() > 0, "{text}");

    let bad =
        s.post("/v1/chat/completions", json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(bad.status(), 404);
    let missing = s.post("/v1/chat/completions", json!({"model": "coder", "messages": []})).await;
    assert_eq!(missing.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agentos_chat_streams_a_turn_to_the_terminal() {
    let s = ChatStack::start("", &[("a.txt", "alpha")]).await;
    s.llm.push(Reply::tool_calls(vec![read_file("c1", "a.txt")]));
    s.llm.push(Reply::text("The file says alpha."));
    let stack = &s.stack;
    let out = tokio::task::block_in_place(|| stack.agentos(&["chat", "--hand", "coder", "what is in a.txt?"]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("code::read_file"), "{stdout}");
    assert!(stdout.contains("The file says alpha."), "{stdout}");
}
