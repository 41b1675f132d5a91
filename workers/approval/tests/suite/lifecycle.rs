//! What outlives a call: expiry with nobody waiting, and a restart of the approval worker.

use std::time::Duration;

use agentos_kit::harness::wait_until;
use agentos_kit::{call, state};
use agentos_worker_approval::{Listing, REQUESTS_SCOPE, Request, Status};
use agentos_worker_approval_tiers::Via;
use pretty_assertions::assert_eq;
use reqwest::Method;
use serde_json::json;

use super::{Stack, T, ask};

/// The stored request `id`.
async fn stored(client: &agentos_kit::III, id: &str) -> Request {
    call(client, "approval::get", &json!({"id": id}), T).await.unwrap()
}

#[tokio::test]
async fn a_request_nobody_decides_is_denied_by_timeout_even_with_nobody_waiting() {
    let stack = Stack::start(Duration::from_millis(400), 8).await;
    let client = stack.client();
    let r = ask(&client, "code::run_command", json!({"program": "make"}), "s1", None).await;
    assert_eq!(r.expires_ms, r.created_ms + 400);

    let c = client.clone();
    let id = r.id.clone();
    wait_until("the request to time out", move || {
        let (c, id) = (c.clone(), id.clone());
        async move { stored(&c, &id).await.status != Status::Pending }
    })
    .await;
    let denied = stored(&client, &r.id).await;
    let d = denied.decision.clone().unwrap();
    assert_eq!(
        (denied.status, d.by.via, d.note.as_deref()),
        (Status::Denied, Via::Timeout, Some("nobody decided within 400 ms"))
    );
    assert!(d.decided_ms >= r.expires_ms, "{d:?}");
    let (status, body) =
        stack.http(Method::POST, &format!("/v1/approvals/{}", r.id), Some(json!({"decision": "approve"}))).await;
    assert_eq!((status, &body["error"]["code"]), (409, &json!("CONFLICT")), "the timeout was the first decision");

    // A waiter on an expiring request gets the denial.
    let r = ask(&client, "code::run_command", json!({"program": "make", "args": ["2"]}), "s1", None).await;
    let waited: Request = call(&client, "approval::wait", &json!({"id": r.id, "timeout_ms": 5_000}), T).await.unwrap();
    assert_eq!((waited.status, waited.decision.unwrap().by.via), (Status::Denied, Via::Timeout));
    stack.stop().await;
}

#[tokio::test]
async fn a_pending_request_survives_a_restart_of_the_approval_worker_and_stays_decidable() {
    let mut stack = Stack::start(Duration::from_secs(300), 8).await;
    let client = stack.client();
    let r = ask(&client, "code::write_file", json!({"path": "a.txt", "content": "x"}), "s1", None).await;

    stack.restart_approval().await;

    let listed: Listing = call(&client, "approval::list", &json!({}), T).await.unwrap();
    assert_eq!(listed.approvals, vec![r.clone()]);
    let (status, body) =
        stack.http(Method::POST, &format!("/v1/approvals/{}", r.id), Some(json!({"decision": "approve"}))).await;
    assert_eq!((status, &body["status"]), (200, &json!("approved")), "{body}");
    let waited: Request = call(&client, "approval::wait", &json!({"id": r.id}), T).await.unwrap();
    assert_eq!(waited.status, Status::Approved);
    stack.stop().await;
}

#[tokio::test]
async fn a_request_that_expired_while_the_worker_was_away_is_denied_when_it_starts_again() {
    let mut stack = Stack::start(Duration::from_secs(300), 8).await;
    let client = stack.client();
    let r = ask(&client, "code::run_command", json!({"program": "make"}), "s1", None).await;
    // While the worker is down, its time runs out.
    stack.approval.1.stop();
    let mut expired = r.clone();
    expired.expires_ms = agentos_kit::clock::now_ms() - 1;
    state::set(&client, REQUESTS_SCOPE, &r.id, &expired).await.unwrap();

    stack.restart_approval().await;
    let c = client.clone();
    let id = r.id.clone();
    wait_until("the start-up sweep to deny it", move || {
        let (c, id) = (c.clone(), id.clone());
        async move { stored(&c, &id).await.status == Status::Denied }
    })
    .await;
    assert_eq!(stored(&client, &r.id).await.decision.unwrap().by.via, Via::Timeout);
    stack.stop().await;
}

#[tokio::test]
async fn a_decision_after_the_expiry_loses_to_the_timeout_even_before_the_timer_ran() {
    let stack = Stack::start(Duration::from_millis(200), 8).await;
    let client = stack.client();
    stack.approval.1.stop();
    let r = ask(&client, "code::run_command", json!({"program": "make"}), "s1", None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stored(&client, &r.id).await.status, Status::Pending, "the stopped timer did not decide it");

    let (status, body) =
        stack.http(Method::POST, &format!("/v1/approvals/{}", r.id), Some(json!({"decision": "approve"}))).await;
    assert_eq!((status, &body["error"]["code"]), (409, &json!("CONFLICT")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("was already decided: denied via timeout"), "{body}");
    let d = stored(&client, &r.id).await.decision.unwrap();
    assert_eq!((d.decision, d.by.via), (agentos_worker_approval::Verdict::Deny, Via::Timeout));
    stack.stop().await;
}

#[tokio::test]
async fn a_turn_that_is_gone_expires_its_requests_and_deciding_one_is_a_409_turn_gone() {
    let stack = Stack::start(Duration::from_secs(300), 8).await;
    let client = stack.client();
    let mine = ask(&client, "code::run_command", json!({"program": "make"}), "s-gone", None).await;
    let other = ask(&client, "code::run_command", json!({"program": "make"}), "s-alive", None).await;

    let input = json!({"session_id": "s-gone", "reason": "agent-core restarted while it waited"});
    let expired: serde_json::Value = call(&client, "approval::expire_turn", &input, T).await.unwrap();
    assert_eq!(expired["expired"].as_array().map(Vec::len), Some(1), "{expired:#}");
    let gone = stored(&client, &mine.id).await;
    assert_eq!(
        (gone.status, gone.turn_gone.as_deref()),
        (Status::Denied, Some("agent-core restarted while it waited"))
    );
    assert_eq!(stored(&client, &other.id).await.status, Status::Pending, "another session's request stays");

    let (status, body) =
        stack.http(Method::POST, &format!("/v1/approvals/{}", mine.id), Some(json!({"decision": "approve"}))).await;
    assert_eq!(status, 409, "{body:#}");
    assert_eq!(body["error"]["code"], "TURN_GONE", "{body:#}");
    let again: serde_json::Value = call(&client, "approval::expire_turn", &input, T).await.unwrap();
    assert_eq!(again["expired"], json!([]), "nothing is expired twice");
}
