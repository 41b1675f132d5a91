//! The durable queue: retries with backoff, the dead-letter queue and redrive.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agentos_engine::config::QueueConfig;
use iii_sdk::{IIIError, RegisterTriggerInput, TriggerAction, TriggerRequest};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::harness::{TestEngine, call_when_ready, engine_call, register, wait_until, worker};

async fn engine_with_fast_retries() -> TestEngine {
    TestEngine::start_with(|c| {
        c.queues.insert(
            "fast".into(),
            QueueConfig { max_retries: 2, backoff_ms: 20, poll_interval_ms: 20, ..QueueConfig::default() },
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_is_retried_then_dead_lettered_and_can_be_redriven() {
    let engine = engine_with_fast_retries().await;
    let w = worker(&engine.ws_url, "jobs");
    let attempts = Arc::new(AtomicUsize::new(0));
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (a, h) = (attempts.clone(), healthy.clone());
    register(&w, "jobs::flaky", move |_: Value| {
        let (a, h) = (a.clone(), h.clone());
        async move {
            a.fetch_add(1, Ordering::SeqCst);
            if h.load(Ordering::SeqCst) { Ok(json!("done")) } else { Err(IIIError::Handler("not yet".into())) }
        }
    });
    engine.wait_function("jobs::flaky").await;
    let request = TriggerRequest {
        function_id: "jobs::flaky".into(),
        payload: json!({"order": 9}),
        action: Some(TriggerAction::Enqueue { queue: "fast".into() }),
        timeout_ms: Some(5000),
    };
    let receipt = w.trigger(request).await.unwrap();
    let id = receipt["messageReceiptId"].as_str().unwrap().to_string();

    // One attempt plus max_retries (2) retries, then the dead-letter queue.
    let e = engine.engine.clone();
    wait_until("job dead-lettered", move || {
        let e = e.clone();
        async move {
            let dlq = engine_call(&e, "engine::queue::dlq_messages", json!({"topic": "fast"})).await.unwrap().unwrap();
            dlq["messages"].as_array().is_some_and(|m| m.len() == 1)
        }
    })
    .await;
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    let dlq =
        engine_call(&engine.engine, "engine::queue::dlq_messages", json!({"topic": "fast"})).await.unwrap().unwrap();
    let message = &dlq["messages"][0];
    assert_eq!(message["id"], id);
    assert_eq!(message["data"], json!({"order": 9}));
    assert!(message["last_error"].as_str().is_some_and(|e| e.contains("not yet")), "{message}");

    // Fixed: redrive delivers it and the queue empties.
    healthy.store(true, Ordering::SeqCst);
    let redriven = call_when_ready(&w, "iii::queue::redrive", json!({"queue": "fast"})).await;
    assert_eq!(redriven, json!({"queue": "fast", "redriven": 1}));
    let e = engine.engine.clone();
    wait_until("queue empty", move || {
        let e = e.clone();
        async move {
            let stats = engine_call(&e, "engine::queue::topic_stats", json!({"topic": "fast"})).await.unwrap().unwrap();
            stats == json!({"topic": "fast", "ready": 0, "running": 0, "dead": 0})
        }
    })
    .await;
    assert_eq!(attempts.load(Ordering::SeqCst), 4);
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_publish_gives_each_subscribed_function_its_own_copy() {
    let engine = TestEngine::start().await;
    let w = worker(&engine.ws_url, "subs");
    let (a, b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    for (id, counter) in [("mail::send", a.clone()), ("audit::write", b.clone())] {
        register(&w, id, move |_: Value| {
            let c = counter.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                Ok(Value::Null)
            }
        });
        // `queue` is what the SDK's IIITrigger::Queue emits; it must work like durable:subscriber.
        w.register_trigger(RegisterTriggerInput {
            trigger_type: "queue".into(),
            function_id: id.into(),
            config: json!({"topic": "signup"}),
            metadata: None,
        })
        .unwrap();
    }
    engine.wait_triggers(2).await;
    call_when_ready(&w, "iii::durable::publish", json!({"topic": "signup", "data": {"user": "ada"}})).await;
    let (a2, b2) = (a.clone(), b.clone());
    wait_until("both subscribers ran", move || {
        let done = a2.load(Ordering::SeqCst) == 1 && b2.load(Ordering::SeqCst) == 1;
        async move { done }
    })
    .await;
    w.shutdown_async().await;
    engine.stop().await;
}
