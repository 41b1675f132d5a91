//! Decisions: over HTTP with the key, the first one wins, scopes, and `wait`.

use std::time::{Duration, Instant};

use agentos_kit::call;
use agentos_worker_approval::{Remembered, Request, Status};
use agentos_worker_approval_tiers::Tier;
use pretty_assertions::assert_eq;
use reqwest::Method;
use serde_json::{Value, json};

use super::{KEY, Stack, T, ask, classify, send};

#[tokio::test]
async fn a_decision_over_http_needs_the_key_and_a_second_decision_is_a_409_naming_the_first() {
    let stack = Stack::start(Duration::from_secs(300), 8).await;
    let client = stack.client();
    let r = ask(&client, "code::write_file", json!({"path": "a.txt", "content": "x"}), "s1", None).await;
    let url = format!("{}/v1/approvals/{}", stack.stack.http_url(), r.id);

    let (status, body) = send(Method::POST, url.clone(), None, Some(json!({"decision": "approve"})), None).await;
    assert_eq!((status, &body["error"]["code"]), (401, &json!("UNAUTHORIZED")));
    let (status, body) =
        send(Method::POST, url.clone(), Some("wrong"), Some(json!({"decision": "approve"})), None).await;
    assert_eq!((status, &body["error"]["code"]), (401, &json!("UNAUTHORIZED")));

    let (status, body) = stack
        .http(
            Method::POST,
            &format!("/v1/approvals/{}", r.id),
            Some(json!({"decision": "deny", "note": "not that file"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let decided: Request = serde_json::from_value(body).unwrap();
    assert_eq!(decided.status, Status::Denied);
    let decision = decided.decision.clone().unwrap();
    assert_eq!(
        serde_json::to_value(&decision).unwrap(),
        json!({"decision": "deny", "scope": "once", "note": "not that file", "by": {"who": "ana", "via": "http"}, "decided_ms": decision.decided_ms})
    );

    let (status, body) =
        stack.http(Method::POST, &format!("/v1/approvals/{}", r.id), Some(json!({"decision": "approve"}))).await;
    assert_eq!((status, &body["error"]["code"]), (409, &json!("CONFLICT")), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("approval {} was already decided: denied by ana via http at ", r.id)),
        "{message}"
    );
    let got: Request = call(&client, "approval::get", &json!({"id": r.id}), T).await.unwrap();
    assert_eq!(got, decided, "the second decision changed nothing");

    let (status, body) =
        stack.http(Method::POST, "/v1/approvals/apr-000000000000", Some(json!({"decision": "approve"}))).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("NOT_FOUND")));
    let (status, body) =
        stack.http(Method::POST, &format!("/v1/approvals/{}", r.id), Some(json!({"decision": "maybe"}))).await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!("INVALID_INPUT")));
    stack.stop().await;
}

#[tokio::test]
async fn the_list_and_get_routes_show_pending_requests_and_the_history_with_all() {
    let stack = Stack::start(Duration::from_secs(300), 8).await;
    let client = stack.client();
    let first = ask(&client, "code::run_command", json!({"program": "make"}), "s1", None).await;
    let second = ask(&client, "code::run_command", json!({"program": "make", "args": ["x"]}), "s2", None).await;
    let _: Value = call(&client, "approval::decide", &json!({"id": first.id, "decision": "approve"}), T).await.unwrap();

    let ids = |body: &Value| {
        body["approvals"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let (status, body) = stack.http(Method::GET, "/v1/approvals", None).await;
    assert_eq!((status, ids(&body)), (200, vec![second.id.clone()]));
    let (_, body) = stack.http(Method::GET, "/v1/approvals?all=1", None).await;
    assert_eq!(ids(&body), vec![second.id.clone(), first.id.clone()]);
    let (_, body) = stack.http(Method::GET, "/v1/approvals?all=true&session_id=s1", None).await;
    assert_eq!(ids(&body), vec![first.id.clone()]);
    let (status, body) = stack.http(Method::GET, &format!("/v1/approvals/{}", second.id), None).await;
    assert_eq!((status, body), (200, serde_json::to_value(&second).unwrap()));
    // `rules` is the rules route, never an id.
    let (status, body) = stack.http(Method::GET, "/v1/approvals/rules", None).await;
    assert_eq!((status, body), (200, json!({"rules": [], "grants": []})));
    stack.stop().await;
}

#[tokio::test]
async fn a_session_approval_makes_the_function_auto_for_the_rest_of_that_session_only() {
    let stack = Stack::start(Duration::from_secs(300), 8).await;
    let client = stack.client();
    let r = ask(&client, "code::write_file", json!({"path": "a.txt", "content": "x"}), "s1", None).await;
    let (status, _) = stack
        .http(
            Method::POST,
            &format!("/v1/approvals/{}", r.id),
            Some(json!({"decision": "approve", "scope": "session"})),
        )
        .await;
    assert_eq!(status, 200);

    let next = classify(&client, "code::write_file", &json!({"path": "b.txt", "content": "other"}), "s1").await;
    assert_eq!((next.tier, next.rule.id.as_str(), next.rule.source.as_str()), (Tier::Auto, "grant:s1", "session"));
    let elsewhere = classify(&client, "code::write_file", &json!({"path": "b.txt", "content": "other"}), "s2").await;
    assert_eq!(elsewhere.tier, Tier::Ask);
    let patch = classify(&client, "code::apply_patch", &json!({"patch": ""}), "s1").await;
    assert_eq!(patch.tier, Tier::Ask, "the grant covers the approved function only");

    let rules: Remembered = call(&client, "approval::rules", &json!({}), T).await.unwrap();
    assert_eq!(
        rules.grants.iter().map(|g| (g.session_id.as_str(), g.functions.clone())).collect::<Vec<_>>(),
        vec![("s1", vec!["code::write_file".to_string()])]
    );
    let (status, body) = stack.http(Method::DELETE, "/v1/approvals/rules/grant%3As1", None).await;
    assert_eq!((status, body), (200, json!({"deleted": "grant:s1"})));
    let revoked = classify(&client, "code::write_file", &json!({"path": "b.txt", "content": "other"}), "s1").await;
    assert_eq!(revoked.tier, Tier::Ask);
    stack.stop().await;
}

#[tokio::test]
async fn an_always_approval_makes_the_identical_call_auto_until_it_is_forgotten() {
    let stack = Stack::start(Duration::from_secs(300), 8).await;
    let client = stack.client();
    let args = json!({"program": "cargo", "args": ["test", "-p", "x"]});
    let r = ask(&client, "code::run_command", args.clone(), "s1", None).await;
    let (status, body) = stack
        .http(Method::POST, &format!("/v1/approvals/{}", r.id), Some(json!({"decision": "approve", "scope": "always"})))
        .await;
    assert_eq!(status, 200, "{body}");
    let rule_id = body["decision"]["rule_id"].as_str().unwrap().to_string();

    // The same call in any session, with its keys in another order, is auto.
    let same =
        classify(&client, "code::run_command", &json!({"args": ["test", "-p", "x"], "program": "cargo"}), "s9").await;
    assert_eq!((same.tier, same.rule.id.as_str(), same.rule.source.as_str()), (Tier::Auto, rule_id.as_str(), "always"));
    let different = classify(&client, "code::run_command", &json!({"program": "cargo", "args": ["test"]}), "s1").await;
    assert_eq!(different.tier, Tier::Ask);

    let (status, body) = stack.http(Method::GET, "/v1/approvals/rules", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["rules"],
        json!([{"id": rule_id, "function_id": "code::run_command", "arguments": {"args": ["test", "-p", "x"], "program": "cargo"},
                "created_ms": body["rules"][0]["created_ms"], "by": {"who": "ana", "via": "http"}, "from_request": r.id}])
    );
    let (status, body) = stack.http(Method::DELETE, &format!("/v1/approvals/rules/{rule_id}"), None).await;
    assert_eq!((status, body), (200, json!({"deleted": rule_id})));
    let forgotten = classify(&client, "code::run_command", &args, "s9").await;
    assert_eq!(forgotten.tier, Tier::Ask);
    let (status, body) = stack.http(Method::DELETE, &format!("/v1/approvals/rules/{rule_id}"), None).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("NOT_FOUND")));
    stack.stop().await;
}

#[tokio::test]
async fn wait_returns_as_soon_as_a_decision_arrives_and_the_still_pending_request_after_its_timeout() {
    let stack = Stack::start(Duration::from_secs(300), 8).await;
    let client = stack.client();
    let r = ask(&client, "code::run_command", json!({"program": "make"}), "s1", None).await;

    let started = Instant::now();
    let still: Request = call(&client, "approval::wait", &json!({"id": r.id, "timeout_ms": 200}), T).await.unwrap();
    assert_eq!((still.status, still.decision.is_none()), (Status::Pending, true));
    assert!(started.elapsed() >= Duration::from_millis(200), "{:?}", started.elapsed());

    let waiter = {
        let client = client.clone();
        let id = r.id.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let got: Request =
                call(&client, "approval::wait", &json!({"id": id, "timeout_ms": 20_000}), T + T).await.unwrap();
            (got, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _: Value =
        call(&client, "approval::decide", &json!({"id": r.id, "decision": "approve", "by": {"via": "tui"}}), T)
            .await
            .unwrap();
    let (got, took) = waiter.await.unwrap();
    assert_eq!((got.status, got.decision.unwrap().by.via), (Status::Approved, agentos_worker_approval_tiers::Via::Tui));
    assert!(took < Duration::from_secs(10), "wait returned on the decision, not its timeout: {took:?}");

    let err = call::<_, Value>(&client, "approval::wait", &json!({"id": "apr-nope"}), T).await.unwrap_err();
    assert_eq!(err.code, "NOT_FOUND");
    let err = call::<_, Value>(
        &client,
        "approval::decide",
        &json!({"id": r.id, "decision": "deny", "by": {"via": "timeout"}}),
        T,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "INVALID_INPUT");
    let _ = KEY;
    stack.stop().await;
}
