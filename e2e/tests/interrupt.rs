//! End to end: interrupting a chat turn through the whole stack (`agentos up` with every worker
//! as its own process, a scripted OpenAI server). A streamed turn whose model is still answering
//! is stopped by `POST /v1/chat/interrupt`: the stream ends cleanly with `usage` and `done`
//! (`finish: "interrupted"`), keeping what the model had said, and the session is `done`. A turn
//! waiting for an approval is stopped the same way, and its request is denied with a note
//! instead of being left pending. Interrupting a session with no running turn answers `false`;
//! a body without `session_id` is a 400.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use agentos_e2e::chat::ChatStack;
use agentos_test_support::{Reply, ToolCallSpec};
use serde_json::{Value, json};

/// How long any one step may take on a loaded 2-core machine.
const STEP: Duration = Duration::from_secs(30);

/// Reads a Server-Sent Events body event by event as it arrives.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    fn new(response: reqwest::Response) -> Self {
        Self { response, buffer: String::new() }
    }

    /// The next event, or `None` once the stream has ended.
    async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event: ") {
                        event = Some(e.to_string());
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(d).ok();
                    }
                }
                match (event, data) {
                    (Some(event), Some(data)) => return Some((event, data)),
                    _ => continue,
                }
            }
            let chunk = tokio::time::timeout(STEP, self.response.chunk()).await.expect("the stream went quiet");
            self.buffer.push_str(std::str::from_utf8(&chunk.unwrap()?).unwrap());
        }
    }

    /// Reads until an event named `name`; every event read, that one last.
    async fn until(&mut self, name: &str) -> Vec<(String, Value)> {
        let mut seen = Vec::new();
        while let Some(event) = self.next().await {
            let found = event.0 == name;
            seen.push(event);
            if found {
                return seen;
            }
        }
        panic!("the stream ended before `{name}`: {seen:#?}");
    }
}

async fn interrupt(s: &ChatStack, body: Value) -> (u16, Value) {
    let response = s.post("/v1/chat/interrupt", body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Polls `GET path` until `ready` holds for its answer; returns that answer.
async fn poll(s: &ChatStack, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + STEP;
    loop {
        let (_, answer) = s.get(path).await;
        if ready(&answer) {
            return answer;
        }
        assert!(Instant::now() < deadline, "GET {path} never got there: {answer:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_streamed_turn_ends_with_done_and_the_session_is_done() {
    let s = ChatStack::start("", &[]).await;
    s.llm.push(Reply::text("Once upon a time there was a very long essay.").gated());

    let (status, none) = interrupt(&s, json!({"session_id": "nobody-runs-this"})).await;
    assert_eq!((status, none), (200, json!({"interrupted": false})));
    let (status, bad) = interrupt(&s, json!({})).await;
    assert_eq!((status, bad["error"]["code"].as_str()), (400, Some("INVALID_INPUT")), "{bad:#}");

    let response = s.post("/v1/chat/stream", json!({"message": "Write a long essay", "session_id": "essay-1"})).await;
    assert_eq!(response.status(), 200);
    let mut events = Events::new(response);
    let first = events.until("token").await;
    assert_eq!(first[0].0, "session", "{first:#?}");
    assert!(s.llm.gate(0).is_reached());

    let (status, answer) = interrupt(&s, json!({"session_id": "essay-1"})).await;
    assert_eq!((status, answer), (200, json!({"interrupted": true})));

    let rest = events.until("done").await;
    let names: Vec<&str> = rest.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(&names[names.len() - 2..], ["usage", "done"], "{rest:#?}");
    let done = &rest.last().unwrap().1;
    assert_eq!(done["finish"], "interrupted", "{done:#}");
    assert_eq!(done["session_id"], "essay-1");
    let reply = done["reply"].as_str().unwrap();
    assert!(reply.ends_with("The turn was interrupted before it finished."), "{reply}");
    assert!(reply.starts_with(first.last().unwrap().1["text"].as_str().unwrap()), "what was said is kept: {reply}");
    assert_eq!(events.next().await, None, "the stream ends after done");

    let session = poll(&s, "/v1/sessions/essay-1", |v| v["state"] == "done").await;
    assert_eq!(session["turns"], 1, "{session:#}");
    let (_, again) = interrupt(&s, json!({"session_id": "essay-1"})).await;
    assert_eq!(again, json!({"interrupted": false}), "a turn that ended is not running");

    // The next turn of the session sees the interrupted one.
    s.llm.gate(0).open();
    s.llm.push(Reply::text("Shorter then."));
    let (status, next) = s.chat(json!({"message": "Shorter, please", "session_id": "essay-1"})).await;
    assert_eq!((status, next["finish"].as_str()), (200, Some("stop")), "{next:#}");
    let sent = s.sent(s.llm.requests().len() - 1);
    assert!(sent.iter().any(|m| m["content"].as_str().is_some_and(|c| c.contains("interrupted"))), "{sent:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupting_a_turn_that_waits_for_approval_denies_the_request() {
    let s = ChatStack::start("", &[("a.txt", "old\n")]).await;
    let write = ToolCallSpec::new("w1", "code__write_file", json!({"path": "a.txt", "content": "new\n"}));
    s.llm.push(Reply::tool_calls(vec![write]));

    let response = s.post("/v1/chat/stream", json!({"message": "change a.txt", "session_id": "wait-1"})).await;
    let mut events = Events::new(response);
    let requested = events.until("approval_requested").await;
    let id = requested.last().unwrap().1["id"].as_str().unwrap().to_string();
    poll(&s, "/v1/sessions/wait-1", |v| v["state"] == "waiting_approval").await;

    let (status, answer) = interrupt(&s, json!({"session_id": "wait-1"})).await;
    assert_eq!((status, answer), (200, json!({"interrupted": true})));

    let rest = events.until("done").await;
    let done = &rest.last().unwrap().1;
    assert_eq!(done["finish"], "interrupted", "{done:#}");
    assert_eq!(
        done["tool_calls"][0]["blocked"], "the turn was interrupted while this call waited for approval",
        "{done:#}"
    );
    assert_eq!(s.llm.requests().len(), 1, "the model is not asked again");

    let (_, request) = s.get(&format!("/v1/approvals/{id}")).await;
    assert_eq!(request["status"], "denied", "{request:#}");
    assert_eq!(request["decision"]["note"], "the turn was interrupted");
    assert_eq!(request["decision"]["by"]["via"], "tui");
    let (_, pending) = s.get("/v1/approvals").await;
    assert_eq!(pending["approvals"], json!([]), "nothing is left pending");
    assert_eq!(std::fs::read_to_string(s.workspace().join("a.txt")).unwrap(), "old\n", "the write never ran");
    poll(&s, "/v1/sessions/wait-1", |v| v["state"] == "done").await;
}
