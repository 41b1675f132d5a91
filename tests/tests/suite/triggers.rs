//! Built-in trigger types (cron, subscribe/publish, state) and worker-provided trigger types.

use std::sync::{Arc, Mutex};

use iii_sdk::{RegisterTriggerInput, RegisterTriggerType, TriggerConfig};
use pretty_assertions::assert_eq;
use provider_handler::Handler;
use serde_json::{Value, json};

use super::harness::{TestEngine, call_when_ready, engine_call, register, wait_until, worker};

/// Every payload a recording function received, in order.
type Seen = Arc<Mutex<Vec<Value>>>;

/// A handler that records what it receives and answers null.
type Recording = std::future::Ready<Result<Value, iii_sdk::IIIError>>;

/// Collects every payload a function receives.
fn recorder() -> (Seen, impl Fn(Value) -> Recording + Send + Sync + 'static) {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s = seen.clone();
    (seen, move |v: Value| {
        s.lock().unwrap().push(v);
        std::future::ready(Ok(Value::Null))
    })
}

async fn wait_count(seen: &Arc<Mutex<Vec<Value>>>, n: usize, what: &str) {
    let seen = seen.clone();
    wait_until(what, move || {
        let len = seen.lock().unwrap().len();
        async move { len >= n }
    })
    .await;
}

fn trigger(trigger_type: &str, function_id: &str, config: Value) -> RegisterTriggerInput {
    RegisterTriggerInput { trigger_type: trigger_type.into(), function_id: function_id.into(), config, metadata: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_second_cron_fires_with_the_iii_payload() {
    let engine = TestEngine::start().await;
    let w = worker(&engine.ws_url, "cron");
    let (seen, handler) = recorder();
    register(&w, "tick::run", handler);
    w.register_trigger(trigger("cron", "tick::run", json!({"expression": "* * * * * *"}))).unwrap();
    wait_count(&seen, 2, "two cron ticks").await;
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(first["trigger"], "cron");
    assert!(first["job_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(first["scheduled_time"].as_str().is_some_and(|s| s.ends_with("+00:00")), "{first}");
    assert!(first["actual_time"].is_string());
    // The SDK registered the trigger twice; it still fires once per second, not twice.
    let before = seen.lock().unwrap().len();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let fired = seen.lock().unwrap().len() - before;
    assert!((1..=3).contains(&fired), "fired {fired} times in ~2 s");
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_fans_out_to_every_subscriber_of_the_topic() {
    let engine = TestEngine::start().await;
    let w1 = worker(&engine.ws_url, "sub1");
    let w2 = worker(&engine.ws_url, "sub2");
    let (seen1, h1) = recorder();
    let (seen2, h2) = recorder();
    let (other, h3) = recorder();
    register(&w1, "sub::one", h1);
    register(&w2, "sub::two", h2);
    register(&w2, "sub::other", h3);
    w1.register_trigger(trigger("subscribe", "sub::one", json!({"topic": "orders"}))).unwrap();
    w2.register_trigger(trigger("subscribe", "sub::two", json!({"topic": "orders"}))).unwrap();
    w2.register_trigger(trigger("subscribe", "sub::other", json!({"topic": "else"}))).unwrap();
    engine.wait_triggers(3).await;
    let publisher = worker(&engine.ws_url, "pub");
    call_when_ready(&publisher, "publish", json!({"topic": "orders", "data": {"id": 1}})).await;
    wait_count(&seen1, 1, "subscriber one").await;
    wait_count(&seen2, 1, "subscriber two").await;
    assert_eq!(seen1.lock().unwrap()[0], json!({"id": 1}));
    assert_eq!(seen2.lock().unwrap()[0], json!({"id": 1}));
    assert!(other.lock().unwrap().is_empty());
    for w in [w1, w2, publisher] {
        w.shutdown_async().await;
    }
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_triggers_fire_with_the_change_and_respect_filters() {
    let engine = TestEngine::start().await;
    let w = worker(&engine.ws_url, "watch");
    let (seen, handler) = recorder();
    register(&w, "watch::users", handler);
    w.register_trigger(trigger("state", "watch::users", json!({"scope": "users"}))).unwrap();
    engine.wait_triggers(1).await;
    engine.wait_function("watch::users").await;
    let e = &engine.engine;
    engine_call(e, "state::set", json!({"scope": "other", "key": "k", "value": 1})).await.unwrap();
    engine_call(e, "state::set", json!({"scope": "users", "key": "k1", "value": {"v": 1}})).await.unwrap();
    engine_call(e, "state::set", json!({"scope": "users", "key": "k1", "value": {"v": 2}})).await.unwrap();
    engine_call(e, "state::delete", json!({"scope": "users", "key": "k1"})).await.unwrap();
    wait_count(&seen, 3, "three state events").await;
    let events = seen.lock().unwrap().clone();
    assert_eq!(
        events,
        vec![
            json!({"type": "state", "event_type": "state:created", "scope": "users", "key": "k1", "old_value": null, "new_value": {"v": 1}}),
            json!({"type": "state", "event_type": "state:updated", "scope": "users", "key": "k1", "old_value": {"v": 1}, "new_value": {"v": 2}}),
            json!({"type": "state", "event_type": "state:deleted", "scope": "users", "key": "k1", "old_value": {"v": 2}, "new_value": null}),
        ]
    );
    w.shutdown_async().await;
    engine.stop().await;
}

mod provider_handler {
    //! A custom trigger handler that records what the engine forwards.
    use std::sync::{Arc, Mutex};

    use iii_sdk::{IIIError, TriggerConfig, TriggerHandler};

    pub struct Handler(pub Arc<Mutex<Vec<TriggerConfig>>>);

    impl TriggerHandler for Handler {
        fn register_trigger<'a, 'b>(
            &'a self,
            config: TriggerConfig,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), IIIError>> + Send + 'b>>
        where
            'a: 'b,
        {
            self.0.lock().unwrap().push(config);
            Box::pin(async { Ok(()) })
        }

        fn unregister_trigger<'a, 'b>(
            &'a self,
            _config: TriggerConfig,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), IIIError>> + Send + 'b>>
        where
            'a: 'b,
        {
            Box::pin(async { Ok(()) })
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_for_a_type_registered_later_reaches_its_provider() {
    let engine = TestEngine::start().await;
    // The trigger comes first: the real engine would drop it; we keep it pending.
    let user = worker(&engine.ws_url, "user");
    let (_seen, handler) = recorder();
    register(&user, "hook::fire", handler);
    user.register_trigger(trigger("webhook::incoming", "hook::fire", json!({"path": "/gh"}))).unwrap();
    engine.wait_triggers(1).await;

    let provider = worker(&engine.ws_url, "provider");
    let forwarded: Arc<Mutex<Vec<TriggerConfig>>> = Arc::default();
    provider.register_trigger_type(RegisterTriggerType::new(
        "webhook::incoming",
        "Incoming webhooks",
        Handler(forwarded.clone()),
    ));
    let f = forwarded.clone();
    wait_until("trigger forwarded to the provider", move || {
        let n = f.lock().unwrap().len();
        async move { n >= 1 }
    })
    .await;
    let got = forwarded.lock().unwrap()[0].clone();
    assert_eq!(got.function_id, "hook::fire");
    assert_eq!(got.config, json!({"path": "/gh"}));

    let types = engine_call(&engine.engine, "engine::trigger-types::list", json!({})).await.unwrap().unwrap();
    assert!(types["trigger_types"].as_array().unwrap().iter().any(|t| t["id"] == "webhook::incoming"));
    user.shutdown_async().await;
    provider.shutdown_async().await;
    engine.stop().await;
}
