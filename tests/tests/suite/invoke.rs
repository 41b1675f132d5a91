//! Registration and invocation between real SDK workers: results, errors, timeouts, void and
//! enqueue actions, disconnects mid-call, and one span tree per call chain.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use iii_sdk::{IIIError, TriggerAction, TriggerRequest};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::harness::{TestEngine, call, call_when_ready, engine_call, register, wait_until, worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_function_is_invoked_by_another_worker_and_answers() {
    let engine = TestEngine::start().await;
    let server = worker(&engine.ws_url, "server");
    register(&server, "math::add", |input: Value| async move {
        let a = input["a"].as_i64().unwrap_or(0);
        let b = input["b"].as_i64().unwrap_or(0);
        Ok(json!({ "sum": a + b }))
    });
    engine.wait_function("math::add").await;
    let client = worker(&engine.ws_url, "client");
    let out = call_when_ready(&client, "math::add", json!({"a": 2, "b": 40})).await;
    assert_eq!(out, json!({"sum": 42}));

    // The SDK sent every registration twice; the function is listed once.
    let listed = call_when_ready(&client, "engine::functions::list", json!({})).await;
    let ids: Vec<&str> =
        listed["functions"].as_array().unwrap().iter().filter_map(|f| f["function_id"].as_str()).collect();
    assert_eq!(ids.iter().filter(|id| **id == "math::add").count(), 1);
    server.shutdown_async().await;
    client.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_error_reaches_the_caller_as_a_remote_error() {
    let engine = TestEngine::start().await;
    let server = worker(&engine.ws_url, "server");
    register(&server, "fail::always", |_: Value| async move { Err(IIIError::Handler("boom".into())) });
    engine.wait_function("fail::always").await;
    let client = worker(&engine.ws_url, "client");
    call_when_ready(&client, "engine::health::check", json!({})).await;
    let err = client.trigger(call("fail::always", json!({}))).await.unwrap_err();
    match err {
        IIIError::Remote { code, message, .. } => {
            assert_eq!(code, "invocation_failed");
            assert!(message.contains("boom"), "{message}");
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
    server.shutdown_async().await;
    client.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_function_fails_at_once_with_function_not_found() {
    let engine = TestEngine::start().await;
    let client = worker(&engine.ws_url, "client");
    call_when_ready(&client, "engine::health::check", json!({})).await;
    let started = Instant::now();
    let err = client.trigger(call("nobody::home", json!({}))).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    match err {
        IIIError::Remote { code, message, .. } => {
            assert_eq!(code, "function_not_found");
            assert_eq!(message, "Function nobody::home not found");
        }
        other => panic!("expected function_not_found, got {other:?}"),
    }
    client.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_times_out_on_the_caller_side() {
    let engine = TestEngine::start().await;
    let server = worker(&engine.ws_url, "server");
    register(&server, "slow::op", |_: Value| async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(json!("late"))
    });
    engine.wait_function("slow::op").await;
    let client = worker(&engine.ws_url, "client");
    call_when_ready(&client, "engine::health::check", json!({})).await;
    let request =
        TriggerRequest { function_id: "slow::op".into(), payload: json!({}), action: None, timeout_ms: Some(300) };
    let err = client.trigger(request).await.unwrap_err();
    assert!(matches!(err, IIIError::Timeout), "{err:?}");
    server.shutdown_async().await;
    client.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_void_call_returns_at_once_and_the_callee_sees_the_caller_id() {
    let engine = TestEngine::start().await;
    let server = worker(&engine.ws_url, "server");
    let seen: Arc<std::sync::Mutex<Vec<Value>>> = Arc::default();
    let seen2 = seen.clone();
    register(&server, "audit::log", move |input: Value| {
        let seen = seen2.clone();
        async move {
            seen.lock().unwrap().push(input);
            Ok(Value::Null)
        }
    });
    engine.wait_function("audit::log").await;
    let client = worker(&engine.ws_url, "client");
    call_when_ready(&client, "engine::health::check", json!({})).await;
    let request = TriggerRequest {
        function_id: "audit::log".into(),
        payload: json!({"n": 1}),
        action: Some(TriggerAction::Void),
        timeout_ms: None,
    };
    assert_eq!(client.trigger(request).await.unwrap(), Value::Null);
    let seen3 = seen.clone();
    wait_until("void call delivered", move || {
        let n = seen3.lock().unwrap().len();
        async move { n == 1 }
    })
    .await;
    let got = seen.lock().unwrap()[0].clone();
    assert_eq!(got["n"], 1);
    assert!(got["_caller_worker_id"].as_str().is_some_and(|s| s.len() == 36), "{got}");
    server.shutdown_async().await;
    client.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueued_call_is_acknowledged_with_a_receipt_and_delivered_later() {
    let engine = TestEngine::start().await;
    let server = worker(&engine.ws_url, "server");
    let count = Arc::new(AtomicUsize::new(0));
    let count2 = count.clone();
    register(&server, "jobs::run", move |input: Value| {
        let count = count2.clone();
        async move {
            assert!(input.get("_caller_worker_id").is_none(), "queue deliveries carry the data unchanged");
            count.fetch_add(1, Ordering::SeqCst);
            Ok(Value::Null)
        }
    });
    engine.wait_function("jobs::run").await;
    let client = worker(&engine.ws_url, "client");
    call_when_ready(&client, "engine::health::check", json!({})).await;
    let request = TriggerRequest {
        function_id: "jobs::run".into(),
        payload: json!({"job": 7}),
        action: Some(TriggerAction::Enqueue { queue: "default".into() }),
        timeout_ms: Some(5000),
    };
    let receipt = client.trigger(request).await.unwrap();
    assert!(receipt["messageReceiptId"].as_str().is_some_and(|s| s.len() == 36), "{receipt}");
    let c = count.clone();
    wait_until("enqueued job delivered", move || {
        let n = c.load(Ordering::SeqCst);
        async move { n == 1 }
    })
    .await;

    // An undeclared queue is an enqueue_error naming the queue.
    let request = TriggerRequest {
        function_id: "jobs::run".into(),
        payload: json!({}),
        action: Some(TriggerAction::Enqueue { queue: "nope".into() }),
        timeout_ms: Some(5000),
    };
    match client.trigger(request).await.unwrap_err() {
        IIIError::Remote { code, message, .. } => {
            assert_eq!(code, "enqueue_error");
            assert!(message.contains("Queue 'nope' not found"), "{message}");
        }
        other => panic!("expected enqueue_error, got {other:?}"),
    }
    server.shutdown_async().await;
    client.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callee_that_disconnects_mid_call_stops_the_call_at_once() {
    let engine = TestEngine::start().await;
    let server = worker(&engine.ws_url, "server");
    register(&server, "hang::forever", |_: Value| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(Value::Null)
    });
    engine.wait_function("hang::forever").await;
    let client = worker(&engine.ws_url, "client");
    call_when_ready(&client, "engine::health::check", json!({})).await;
    let pending = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .trigger(TriggerRequest {
                    function_id: "hang::forever".into(),
                    payload: json!({}),
                    action: None,
                    timeout_ms: Some(20_000),
                })
                .await
        }
    });
    let e = engine.engine.clone();
    wait_until("call in flight", move || {
        let busy = e.workers().iter().any(|w| e.active_invocations(w.id) > 0);
        async move { busy }
    })
    .await;
    let started = Instant::now();
    server.shutdown_async().await;
    let err = pending.await.unwrap().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    match err {
        IIIError::Remote { code, .. } => assert_eq!(code, "invocation_stopped"),
        other => panic!("expected invocation_stopped, got {other:?}"),
    }
    engine.wait_no_function("hang::forever").await;
    client.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_chain_across_three_workers_is_one_span_tree() {
    let engine = TestEngine::start().await;
    let a = worker(&engine.ws_url, "a");
    let b = worker(&engine.ws_url, "b");
    let c = worker(&engine.ws_url, "c");
    register(&c, "chain::c", |_: Value| async move { Ok(json!("c")) });
    let b2 = b.clone();
    register(&b, "chain::b", move |_: Value| {
        let b = b2.clone();
        async move { b.trigger(call("chain::c", json!({}))).await }
    });
    let a2 = a.clone();
    register(&a, "chain::a", move |_: Value| {
        let a = a2.clone();
        async move { a.trigger(call("chain::b", json!({}))).await }
    });
    for f in ["chain::a", "chain::b", "chain::c"] {
        engine.wait_function(f).await;
    }
    let client = worker(&engine.ws_url, "client");
    assert_eq!(call_when_ready(&client, "chain::a", json!({})).await, json!("c"));

    let roots =
        engine_call(&engine.engine, "engine::traces::list", json!({"name": "call chain::a"})).await.unwrap().unwrap();
    let trace_id = roots["spans"][0]["trace_id"].as_str().unwrap().to_string();
    let tree =
        engine_call(&engine.engine, "engine::traces::tree", json!({"trace_id": trace_id})).await.unwrap().unwrap();
    // Walk the engine's own spans (SDK spans may sit between them) and collect the chain.
    fn engine_chain(node: &Value, out: &mut Vec<String>) {
        if let Some(f) = node["function_id"].as_str() {
            out.push(f.to_string());
        }
        for child in node["children"].as_array().into_iter().flatten() {
            engine_chain(child, out);
        }
    }
    let roots = tree["roots"].as_array().unwrap();
    assert_eq!(roots.len(), 1, "one tree: {tree:#}");
    let mut chain = Vec::new();
    engine_chain(&roots[0], &mut chain);
    assert_eq!(chain, vec!["chain::a", "chain::b", "chain::c"]);
    for w in [a, b, c, client] {
        w.shutdown_async().await;
    }
    engine.stop().await;
}
