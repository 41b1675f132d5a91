//! `approval::request`: the record, the diff of a file change, the pending limit, the event.

use std::time::Duration;

use agentos_kit::call;
use agentos_kit::harness::wait_until;
use agentos_worker_approval::{Request, Status};
use agentos_worker_approval_tiers::Tier;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{Stack, T, ask, inbox, try_ask};

#[tokio::test]
async fn a_write_file_request_shows_the_diff_against_the_current_file_and_a_new_file_diffs_from_empty() {
    let stack = Stack::start(Duration::from_secs(300), 8).await;
    std::fs::write(stack.workspace.path().join("notes.md"), "one\ntwo\nthree\n").unwrap();
    let client = stack.client();

    let write = json!({"path": "notes.md", "content": "one\n2\nthree\n"});
    let before = agentos_kit::clock::now_ms();
    let r = ask(&client, "code::write_file", write.clone(), "s1", Some("bot")).await;
    assert_eq!(
        (r.status, r.tier, r.rule.id.as_str(), r.function_id.as_str(), &r.arguments),
        (Status::Pending, Tier::Ask, "builtin:workspace-write", "code::write_file", &write)
    );
    assert_eq!(r.diff.as_deref(), Some("--- a/notes.md\n+++ b/notes.md\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n"));
    assert!(r.created_ms >= before && r.expires_ms == r.created_ms + 300_000, "{r:?}");
    assert_eq!(
        (r.agent.as_deref(), r.hand.as_deref(), r.reason.as_deref()),
        (Some("bot"), Some("coder"), Some("the model wants to"))
    );
    assert_eq!(r.decision, None);

    let new_file = ask(&client, "code::write_file", json!({"path": "new.txt", "content": "hi\n"}), "s1", None).await;
    assert_eq!(new_file.diff.as_deref(), Some("--- a/new.txt\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hi\n"));

    let patch = "--- a/notes.md\n+++ b/notes.md\n@@ -1 +1 @@\n-one\n+1\n";
    let patched = ask(&client, "code::apply_patch", json!({"patch": patch}), "s1", None).await;
    assert_eq!(patched.diff.as_deref(), Some(patch));

    let got: Request = call(&client, "approval::get", &json!({"id": r.id}), T).await.unwrap();
    assert_eq!(got, r);
    stack.stop().await;
}

#[tokio::test]
async fn more_pending_requests_than_allowed_per_agent_is_too_many_pending_naming_them() {
    let stack = Stack::start(Duration::from_secs(300), 2).await;
    let client = stack.client();
    let cmd = |n: usize| json!({"program": "make", "args": [format!("step{n}")]});
    let a = ask(&client, "code::run_command", cmd(1), "s1", Some("bot")).await;
    let b = ask(&client, "code::run_command", cmd(2), "s2", Some("bot")).await;

    let err = try_ask(&client, "code::run_command", cmd(3), "s3", Some("bot")).await.unwrap_err();
    assert_eq!(err.code, "TOO_MANY_PENDING");
    assert!(
        err.message.starts_with(&format!(
            "agent bot in realm default already has 2 pending approval request(s) ({}, {})",
            a.id, b.id
        )),
        "{}",
        err.message
    );
    // Another agent, and a session without an agent, have their own limits.
    ask(&client, "code::run_command", cmd(4), "s4", Some("other")).await;
    ask(&client, "code::run_command", cmd(5), "s1", None).await;

    let decided = json!({"id": a.id, "decision": "deny"});
    let _: Value = call(&client, "approval::decide", &decided, T).await.unwrap();
    ask(&client, "code::run_command", cmd(6), "s3", Some("bot")).await;
    stack.stop().await;
}

#[tokio::test]
async fn every_request_and_decision_is_published_on_agentos_events() {
    let stack = Stack::start(Duration::from_secs(300), 8).await;
    let events = inbox(&stack.stack).await;
    let client = stack.client();
    let r = ask(&client, "code::run_command", json!({"program": "make"}), "s1", None).await;
    let decided: Request =
        call(&client, "approval::decide", &json!({"id": r.id, "decision": "approve"}), T).await.unwrap();

    let seen = events.clone();
    wait_until("both events to arrive", move || {
        let n = seen.all().len();
        async move { n >= 2 }
    })
    .await;
    assert_eq!(
        events.all(),
        vec![
            json!({"event": "approval_requested", "data": serde_json::to_value(&r).unwrap()}),
            json!({"event": "approval_decided", "data": serde_json::to_value(&decided).unwrap()}),
        ]
    );
    stack.stop().await;
}
