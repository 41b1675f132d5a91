//! A worker that goes away and comes back: calls and HTTP requests that arrive meanwhile wait
//! for it (within the engine's restart wait) instead of failing at once, and are told which
//! worker they waited for when it does not come back.

use std::time::{Duration, Instant};

use iii_sdk::{IIIError, RegisterTriggerInput};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::harness::{TestEngine, call, call_when_ready, register, worker};

fn echo(iii: &iii_sdk::III) {
    register(iii, "svc::echo", |input: Value| async move { Ok(json!({ "echo": input["text"] })) });
    iii.register_trigger(RegisterTriggerInput {
        trigger_type: "http".into(),
        function_id: "svc::echo".into(),
        config: json!({ "api_path": "echo", "http_method": "POST" }),
        metadata: None,
    })
    .unwrap();
}

/// Starts the echo worker, makes sure it serves, then lets it go away.
async fn served_then_gone(engine: &TestEngine) {
    let first = worker(&engine.ws_url, "echo-worker");
    echo(&first);
    engine.wait_function("svc::echo").await;
    engine.wait_triggers(1).await;
    first.shutdown_async().await;
    engine.wait_no_function("svc::echo").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_arrives_while_its_worker_restarts_waits_and_is_answered() {
    let engine = TestEngine::start().await;
    let client = worker(&engine.ws_url, "client");
    call_when_ready(&client, "engine::health::check", json!({})).await;
    served_then_gone(&engine).await;

    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.trigger(call("svc::echo", json!({"text": "hi"}))).await }
    });
    // The call is on its way while nothing serves the function; then the worker is back.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = worker(&engine.ws_url, "echo-worker");
    echo(&second);
    assert_eq!(pending.await.unwrap().unwrap(), json!({"echo": "hi"}));
    second.shutdown_async().await;
    client.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_for_a_worker_that_does_not_come_back_fails_naming_it_after_the_wait() {
    let engine = TestEngine::start_with(|c| c.restart_wait = Duration::from_millis(300)).await;
    let client = worker(&engine.ws_url, "client");
    call_when_ready(&client, "engine::health::check", json!({})).await;
    served_then_gone(&engine).await;

    let started = Instant::now();
    let err = client.trigger(call("svc::echo", json!({"text": "hi"}))).await.unwrap_err();
    let waited = started.elapsed();
    match err {
        IIIError::Remote { code, message, .. } => {
            assert_eq!(code, "function_not_found");
            assert!(message.contains("echo-worker"), "{message}");
        }
        other => panic!("expected function_not_found, got {other:?}"),
    }
    assert!(waited >= Duration::from_millis(300), "answered after {waited:?}, before the wait was over");
    // An id nobody ever served still fails at once.
    let err = client.trigger(call("svc::never", json!({}))).await.unwrap_err();
    assert!(matches!(err, IIIError::Remote { ref code, .. } if code == "function_not_found"), "{err:?}");
    client.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_to_a_route_whose_worker_restarts_waits_for_it() {
    let engine = TestEngine::start().await;
    served_then_gone(&engine).await;
    let url = format!("{}/echo", engine.http_url);
    let pending =
        tokio::spawn(async move { reqwest::Client::new().post(url).json(&json!({"text": "x"})).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = worker(&engine.ws_url, "echo-worker");
    echo(&second);
    let response = pending.await.unwrap().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    second.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_whose_worker_does_not_come_back_answers_503_naming_it() {
    let engine = TestEngine::start_with(|c| c.restart_wait = Duration::from_millis(300)).await;
    served_then_gone(&engine).await;
    let client = reqwest::Client::new();
    let response = client.post(format!("{}/echo", engine.http_url)).json(&json!({})).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "worker_unavailable");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("echo-worker") && message.contains("POST /echo"), "{message}");
    // A route nobody ever served is still a plain 404.
    let response = client.post(format!("{}/nothing", engine.http_url)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    engine.stop().await;
}
