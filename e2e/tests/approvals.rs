//! End to end: approvals, sessions, replay and traces on the hot path of a chat turn, through the
//! whole stack against the scripted OpenAI server. A tool call that needs approval blocks the
//! turn, shows up in `GET /v1/approvals`, and is approved (or denied with a note the model reads)
//! over HTTP; an `always` rule approves the next identical call; an unanswered request times out
//! as a denial; a restart of the approval worker loses no pending request; the session's events
//! replay the turn in order; the turn's trace has the tool call under the turn.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use agentos_e2e::chat::ChatStack;
use agentos_test_support::{Reply, ToolCallSpec};
use serde_json::{Value, json};

fn write_file(path: &str, content: &str) -> Reply {
    Reply::tool_calls(vec![ToolCallSpec::new("w1", "code__write_file", json!({"path": path, "content": content}))])
}

/// Polls `GET /v1/approvals` until a request is pending; returns it.
async fn pending(s: &ChatStack) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, list) = s.get("/v1/approvals").await;
        if let Some(first) = list["approvals"].as_array().and_then(|a| a.first()) {
            return first.clone();
        }
        assert!(Instant::now() < deadline, "no pending approval appeared: {list:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a turn in the background; its `/v1/chat` answer arrives on the handle.
fn turn(s: &ChatStack, body: Value) -> tokio::task::JoinHandle<(u16, Value)> {
    let (http, url, key) = (s.http.clone(), format!("{}/v1/chat", s.base), s.key.clone());
    tokio::spawn(async move {
        let response = http.post(url).bearer_auth(key).json(&body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    })
}

async fn decide(s: &ChatStack, id: &str, body: Value) -> (u16, Value) {
    let response = s.post(&format!("/v1/approvals/{id}"), body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Every function id in a span tree, depth first, with its depth.
fn spans(node: &Value, depth: usize, out: &mut Vec<(usize, String)>) {
    out.push((depth, node["function_id"].as_str().unwrap_or(node["name"].as_str().unwrap_or("?")).to_string()));
    for child in node["children"].as_array().into_iter().flatten() {
        spans(child, depth + 1, out);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_waits_for_approval_over_http_and_the_turn_is_replayed_and_traced() {
    let s = ChatStack::start("", &[("a.txt", "old\n")]).await;
    s.llm.push(write_file("a.txt", "new\n"));
    s.llm.push(Reply::text("Written."));
    let chat = turn(&s, json!({"message": "change a.txt", "hand": "coder"}));

    let request = pending(&s).await;
    assert_eq!(request["function_id"], "code::write_file", "{request:#}");
    let diff = request["diff"].as_str().unwrap_or_default();
    assert!(diff.contains("-old") && diff.contains("+new"), "{request:#}");
    assert_eq!(
        std::fs::read_to_string(s.workspace().join("a.txt")).unwrap(),
        "old\n",
        "nothing ran before the decision"
    );
    let id = request["id"].as_str().unwrap();
    let (status, decided) = decide(&s, id, json!({"decision": "approve"})).await;
    assert_eq!(status, 200, "{decided:#}");

    let (status, answer) = chat.await.unwrap();
    assert_eq!(status, 200, "{answer:#}");
    assert_eq!(answer["reply"], "Written.");
    assert_eq!(answer["tool_calls"][0]["ok"], true, "{answer:#}");
    assert_eq!(std::fs::read_to_string(s.workspace().join("a.txt")).unwrap(), "new\n");
    let (status, again) = decide(&s, id, json!({"decision": "deny"})).await;
    assert_eq!(status, 409, "{again:#}");

    // The session and its replay log.
    let session = answer["session_id"].as_str().unwrap();
    let (_, record) = s.get(&format!("/v1/sessions/{session}")).await;
    assert_eq!(record["state"], "done", "{record:#}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let events = loop {
        let (_, log) = s.get(&format!("/v1/sessions/{session}/events")).await;
        let events = log["events"].as_array().cloned().unwrap_or_default();
        // Recording goes through a durable queue: the steps land shortly after the answer.
        if events.len() >= 11 || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "user_message",
            "context_built",
            "llm_request",
            "llm_response",
            "tool_call",
            "approval_requested",
            "approval_decided",
            "tool_result",
            "llm_request",
            "llm_response",
            "turn_done"
        ]
    );
    let response = &events[3];
    assert!(response["data"]["usage"]["input_tokens"].as_u64().unwrap() > 0, "{response:#}");
    assert!(response["duration_ms"].is_u64(), "{response:#}");
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // The trace: the tool call's span sits under the turn's span.
    let trace_id = answer["trace_id"].as_str().unwrap_or_else(|| panic!("the answer names its trace: {answer:#}"));
    let (_, traces) = s.get(&format!("/v1/traces?session_id={session}")).await;
    assert!(traces["traces"].as_array().unwrap().iter().any(|t| t["trace_id"] == trace_id), "{traces:#}");
    let (_, tree) = s.get(&format!("/v1/traces/{trace_id}")).await;
    let mut all = Vec::new();
    for root in tree["roots"].as_array().unwrap() {
        spans(root, 0, &mut all);
    }
    // POST /v1/chat (sse::chat) runs the turn in agent::chat.
    let depth_of = |id: &str| all.iter().find(|(_, f)| f == id).map(|(d, _)| *d);
    let turn_depth = depth_of("agent::chat").unwrap_or_else(|| panic!("no turn span: {all:?}"));
    let tool_depth = depth_of("code::write_file").unwrap_or_else(|| panic!("no tool span: {all:?}"));
    assert!(depth_of("llm::complete").is_some_and(|d| d > turn_depth), "{all:?}");
    assert!(tool_depth > turn_depth, "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_with_a_note_reaches_the_model_and_an_always_rule_approves_the_next_identical_call() {
    let s = ChatStack::start("", &[("a.txt", "old\n")]).await;
    s.llm.push(write_file("a.txt", "new\n"));
    s.llm.push(Reply::text("I will leave it."));
    let chat = turn(&s, json!({"message": "change a.txt"}));
    let request = pending(&s).await;
    let (status, _) =
        decide(&s, request["id"].as_str().unwrap(), json!({"decision": "deny", "note": "edit b.txt instead"})).await;
    assert_eq!(status, 200);
    let (_, answer) = chat.await.unwrap();
    assert!(answer["tool_calls"][0]["blocked"].as_str().unwrap().contains("edit b.txt instead"), "{answer:#}");
    let tool = s.sent(1).into_iter().find(|m| m["role"] == "tool").unwrap();
    assert!(tool["content"].as_str().unwrap().contains("edit b.txt instead"), "{tool}");
    assert_eq!(std::fs::read_to_string(s.workspace().join("a.txt")).unwrap(), "old\n");

    // Approve once "always"; the identical call in a later turn needs nobody.
    s.llm.push(write_file("a.txt", "new\n"));
    s.llm.push(Reply::text("Written."));
    let chat = turn(&s, json!({"message": "change a.txt now"}));
    let request = pending(&s).await;
    let (status, _) =
        decide(&s, request["id"].as_str().unwrap(), json!({"decision": "approve", "scope": "always"})).await;
    assert_eq!(status, 200);
    assert_eq!(chat.await.unwrap().1["tool_calls"][0]["ok"], true);
    s.llm.push(write_file("a.txt", "new\n"));
    s.llm.push(Reply::text("Written again."));
    let (status, answer) = s.chat(json!({"message": "and once more"})).await;
    assert_eq!((status, answer["tool_calls"][0]["ok"].as_bool()), (200, Some(true)), "{answer:#}");
    let (_, history) = s.get("/v1/approvals?all=1").await;
    assert_eq!(history["approvals"].as_array().unwrap().len(), 2, "{history:#}");
    let (_, rules) = s.get("/v1/approvals/rules").await;
    assert_eq!(rules["rules"].as_array().unwrap().len(), 1, "{rules:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_request_times_out_as_a_denial() {
    let s = ChatStack::start("[approval]\ntimeout_secs = 1\n", &[("a.txt", "old\n")]).await;
    s.llm.push(write_file("a.txt", "new\n"));
    s.llm.push(Reply::text("Nobody answered."));
    let (status, answer) = s.chat(json!({"message": "change a.txt"})).await;
    assert_eq!(status, 200, "{answer:#}");
    let blocked = answer["tool_calls"][0]["blocked"].as_str().unwrap();
    assert!(blocked.contains("timed out"), "{blocked}");
    assert_eq!(std::fs::read_to_string(s.workspace().join("a.txt")).unwrap(), "old\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_request_survives_a_restart_of_the_approval_worker() {
    let s = ChatStack::start("", &[("a.txt", "old\n")]).await;
    s.llm.push(write_file("a.txt", "new\n"));
    s.llm.push(Reply::text("Written after the restart."));
    let chat = turn(&s, json!({"message": "change a.txt"}));
    let request = pending(&s).await;

    let response = s.post("/v1/workers/approval/restart", json!({})).await;
    assert_eq!(response.status(), 202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::block_in_place(|| s.stack.all_ready());

    let after = pending(&s).await;
    assert_eq!(after["id"], request["id"]);
    let (status, _) = decide(&s, request["id"].as_str().unwrap(), json!({"decision": "approve"})).await;
    assert_eq!(status, 200);
    let (status, answer) = chat.await.unwrap();
    assert_eq!((status, answer["tool_calls"][0]["ok"].as_bool()), (200, Some(true)), "{answer:#}");
}
