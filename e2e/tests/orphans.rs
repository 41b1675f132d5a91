//! End to end: no orphaned work. A `kill -9` of agent-core while a tool call waits for
//! approval fails the turn cleanly (`503 WORKER_UNAVAILABLE` naming agent-core on `/v1/chat`, an
//! `error` event on `/v1/chat/stream`), leaves no session waiting and expires the request, so
//! approving it later is `409 TURN_GONE`, never a false `approved`. A `kill -9` of the engine
//! mid-turn (the supervisor restarts it) leaves no session `active` or `waiting_approval`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use agentos_e2e::Stack;
use agentos_e2e::chat::ChatStack;
use agentos_e2e::procs::{engine_pid, kill_9, worker_pid};
use agentos_test_support::{Reply, ToolCallSpec};
use serde_json::{Value, json};

fn write_file(path: &str, content: &str) -> Reply {
    Reply::tool_calls(vec![ToolCallSpec::new("w1", "code__write_file", json!({"path": path, "content": content}))])
}

/// How long a turn's client waits for its answer: longer than any recovery here takes.
const CLIENT_LIMIT: Duration = Duration::from_secs(90);

/// A `/v1/chat` turn in the background: its status and JSON answer (status 0: no answer).
fn json_turn(s: &ChatStack, body: Value) -> tokio::task::JoinHandle<(u16, Value)> {
    let (http, url, key) = (s.http.clone(), format!("{}/v1/chat", s.base), s.key.clone());
    tokio::spawn(async move {
        match http.post(url).bearer_auth(key).json(&body).timeout(CLIENT_LIMIT).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or(Value::Null))
            }
            Err(e) => (0, json!({"client_error": e.to_string()})),
        }
    })
}

/// A `/v1/chat/stream` turn in the background: its status and the whole body once the stream
/// ends (status 0: the connection broke).
fn stream_turn(s: &ChatStack, body: Value) -> tokio::task::JoinHandle<(u16, String)> {
    let (http, url, key) = (s.http.clone(), format!("{}/v1/chat/stream", s.base), s.key.clone());
    tokio::spawn(async move {
        match http.post(url).bearer_auth(key).json(&body).timeout(CLIENT_LIMIT).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    Ok(text) => (status, text),
                    Err(e) => (0, format!("the stream broke: {e}")),
                }
            }
            Err(e) => (0, format!("no answer: {e}")),
        }
    })
}

/// Polls `GET path` until `check` holds on the answer, for at most `limit`; the last answer.
async fn poll(s: &ChatStack, path: &str, limit: Duration, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (_, answer) = s.get(path).await;
        if check(&answer) {
            return answer;
        }
        assert!(Instant::now() < deadline, "GET {path} never satisfied the check; last answer: {answer:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The pending approval requests, once there are `n`.
async fn pending(s: &ChatStack, n: usize) -> Vec<Value> {
    let list =
        poll(s, "/v1/approvals", Duration::from_secs(30), |l| l["approvals"].as_array().is_some_and(|a| a.len() == n))
            .await;
    list["approvals"].as_array().unwrap().clone()
}

async fn decide(s: &ChatStack, id: &str, body: Value) -> (u16, Value) {
    let response = s.post(&format!("/v1/approvals/{id}"), body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Every session that a running turn would hold: `active` or `waiting_approval`.
fn running(sessions: &Value) -> Vec<String> {
    sessions["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["state"] == "active" || s["state"] == "waiting_approval")
        .map(|s| format!("{} ({})", s["id"], s["state"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_agent_core_while_an_approval_waits_fails_the_turn_and_the_request_cannot_be_approved() {
    let s = ChatStack::start("", &[("a.txt", "old\n")]).await;
    s.llm.push(write_file("a.txt", "new\n"));
    s.llm.push(write_file("a.txt", "new\n"));
    let plain = json_turn(&s, json!({"message": "change a.txt", "session_id": "orphan-json"}));
    let streamed = stream_turn(&s, json!({"message": "change a.txt too", "session_id": "orphan-sse"}));
    let requests = pending(&s, 2).await;

    let old = worker_pid(&s.stack, "agent-core").expect("agent-core runs");
    kill_9(old);

    // The clients: a clear 503 naming agent-core, and on the stream an error event, then the end.
    let (status, answer) = tokio::time::timeout(CLIENT_LIMIT, plain).await.unwrap().unwrap();
    assert_eq!(status, 503, "{answer:#}");
    assert_eq!(answer["error"]["code"], "WORKER_UNAVAILABLE", "{answer:#}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("agent-core stopped during the turn; it is being restarted, retry"), "{message}");
    let (status, body) = tokio::time::timeout(CLIENT_LIMIT, streamed).await.unwrap().unwrap();
    assert_eq!(status, 200, "{body}");
    let last = body.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last.starts_with("event: error\ndata: "), "the stream ends with an error event: {body}");
    let data: Value = serde_json::from_str(last.trim_start_matches("event: error\ndata: ")).unwrap();
    assert_eq!(data["code"], "WORKER_UNAVAILABLE", "{body}");
    assert!(data["message"].as_str().unwrap().contains("agent-core"), "{body}");

    // Deciding while agent-core is down already says the turn is gone.
    let (status, refused) = decide(&s, requests[1]["id"].as_str().unwrap(), json!({"decision": "approve"})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("TURN_GONE")), "{refused:#}");

    // agent-core comes back and fails the sessions its death cut short.
    tokio::task::block_in_place(|| {
        s.stack.wait_for("agent-core back", Duration::from_secs(30), |st| {
            let w = Stack::worker(st, "agent-core");
            w["state"] == "ready" && w["pid"].as_u64().is_some_and(|p| p != u64::from(old))
        })
    });
    for id in ["orphan-json", "orphan-sse"] {
        let session =
            poll(&s, &format!("/v1/sessions/{id}"), Duration::from_secs(30), |v| v["state"] == "failed").await;
        assert_eq!(session["last_error"]["code"], "TURN_INTERRUPTED", "{session:#}");
    }

    // The requests expired; approving one is a 409 that says the turn is gone, here and in the CLI.
    poll(&s, "/v1/approvals", Duration::from_secs(30), |l| l["approvals"].as_array().is_some_and(Vec::is_empty)).await;
    for request in &requests {
        let id = request["id"].as_str().unwrap();
        let (_, stored) = s.get(&format!("/v1/approvals/{id}")).await;
        assert_eq!(stored["status"], "denied", "{stored:#}");
        let gone = stored["turn_gone"].as_str().unwrap_or_else(|| panic!("expired: {stored:#}"));
        assert!(gone.contains("agent-core"), "{stored:#}");
        let (status, refused) = decide(&s, id, json!({"decision": "approve"})).await;
        assert_eq!(status, 409, "{refused:#}");
        assert_eq!(refused["error"]["code"], "TURN_GONE", "{refused:#}");
    }
    let id = requests[0]["id"].as_str().unwrap().to_string();
    let out = tokio::task::block_in_place(|| s.stack.agentos(&["approvals", "approve", &id]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("turn gone: approval") && stderr.contains("nothing ran"), "{stderr}");
    assert_eq!(std::fs::read_to_string(s.workspace().join("a.txt")).unwrap(), "old\n", "nothing ran");

    // The restarted agent-core takes turns again.
    s.llm.push(Reply::text("Back."));
    let (status, answer) = s.chat(json!({"message": "still there?", "session_id": "orphan-json"})).await;
    assert_eq!((status, answer["reply"].as_str()), (200, Some("Back.")), "{answer:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_engine_mid_turn_leaves_no_session_running_or_waiting() {
    let s = ChatStack::start("", &[("a.txt", "old\n")]).await;
    // One turn waits for approval, another for the model's answer.
    s.llm.push(write_file("a.txt", "new\n"));
    let waiting = json_turn(&s, json!({"message": "change a.txt", "session_id": "engine-wait"}));
    let request = pending(&s, 1).await.remove(0);
    s.llm.push(Reply::text("Too late.").gated());
    let thinking = stream_turn(&s, json!({"message": "think", "session_id": "engine-llm"}));
    tokio::time::timeout(Duration::from_secs(30), s.llm.gate(0).reached()).await.expect("the model call is in flight");
    let (_, sessions) = s.get("/v1/sessions").await;
    assert_eq!(running(&sessions).len(), 2, "{sessions:#}");

    let engine = engine_pid(&s.stack).expect("the engine runs");
    kill_9(engine);
    // The clients' connections die with the engine; whatever they got, they end.
    for client in
        [tokio::spawn(async move { waiting.await.unwrap().0 }), tokio::spawn(async move { thinking.await.unwrap().0 })]
    {
        tokio::time::timeout(CLIENT_LIMIT, client).await.expect("the client ends").unwrap();
    }
    tokio::task::block_in_place(|| s.stack.all_ready());

    let sessions =
        poll(&s, "/v1/sessions", Duration::from_secs(30), |v| v["sessions"].is_array() && running(v).is_empty()).await;
    for id in ["engine-wait", "engine-llm"] {
        let session = sessions["sessions"].as_array().unwrap().iter().find(|x| x["id"] == id).unwrap();
        assert_eq!(session["state"], "failed", "{session:#}");
        assert_eq!(session["last_error"]["code"], "TURN_INTERRUPTED", "{session:#}");
    }
    let id = request["id"].as_str().unwrap();
    let stored = poll(&s, &format!("/v1/approvals/{id}"), Duration::from_secs(30), |r| r["status"] != "pending").await;
    assert_eq!(stored["turn_gone"], "the engine restarted while it waited", "{stored:#}");
    let (status, refused) = decide(&s, id, json!({"decision": "approve"})).await;
    assert_eq!((status, refused["error"]["code"].as_str()), (409, Some("TURN_GONE")), "{refused:#}");
    s.llm.gate(0).open();
    assert_eq!(std::fs::read_to_string(s.workspace().join("a.txt")).unwrap(), "old\n", "nothing ran");
}
