//! `state::*` through real SDK clients: exact output shapes and atomic updates.

use iii_sdk::TriggerRequest;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::harness::{TestEngine, call, call_when_ready, quiet_worker, worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_functions_answer_with_the_iii_shapes() {
    let engine = TestEngine::start().await;
    let c = worker(&engine.ws_url, "client");
    call_when_ready(&c, "engine::health::check", json!({})).await;
    let run = |f: &'static str, p: Value| {
        let c = c.clone();
        async move { c.trigger(call(f, p)).await.unwrap() }
    };
    assert_eq!(run("state::get", json!({"scope": "s", "key": "missing"})).await, Value::Null);
    assert_eq!(
        run("state::set", json!({"scope": "s", "key": "a", "value": {"n": 1}})).await,
        json!({"old_value": null, "new_value": {"n": 1}})
    );
    assert_eq!(
        run("state::set", json!({"scope": "s", "key": "b", "data": 2})).await,
        json!({"old_value": null, "new_value": 2})
    );
    assert_eq!(run("state::get", json!({"scope": "s", "key": "a"})).await, json!({"n": 1}));
    assert_eq!(run("state::list", json!({"scope": "s"})).await, json!([{"n": 1}, 2]));
    assert_eq!(run("state::list_groups", json!({})).await, json!({"groups": ["s"]}));
    assert_eq!(
        run("state::update", json!({"scope": "s", "key": "a", "ops": [{"type": "increment", "path": "n", "by": 4}, {"type": "increment", "path": "bad", "by": 1}, {"type": "set", "path": "t", "value": "x"}]})).await,
        json!({"old_value": {"n": 1}, "new_value": {"n": 5, "bad": 1, "t": "x"}})
    );
    let with_error =
        run("state::update", json!({"scope": "s", "key": "a", "ops": [{"type": "increment", "path": "t", "by": 1}]}))
            .await;
    assert_eq!(with_error["errors"][0]["code"], "increment.not_number");
    assert_eq!(run("state::delete", json!({"scope": "s", "key": "b"})).await, json!(2));
    // A malformed input is a deserialization_error naming the function.
    let err = c.trigger(call("state::get", json!({"scope": 5}))).await.unwrap_err();
    assert!(err.to_string().contains("deserialization_error"), "{err}");
    c.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_increments_lose_no_update() {
    let engine = TestEngine::start().await;
    let clients: Vec<_> = (0..5).map(|i| quiet_worker(&engine.ws_url, &format!("inc{i}"))).collect();
    for c in &clients {
        call_when_ready(c, "engine::health::check", json!({})).await;
    }
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = clients[i % clients.len()].clone();
        tasks.push(tokio::spawn(async move {
            let op = json!({"scope": "counters", "key": "hits", "ops": [{"type": "increment", "path": "n", "by": 1}]});
            c.trigger(TriggerRequest {
                function_id: "state::update".into(),
                payload: op,
                action: None,
                timeout_ms: Some(10_000),
            })
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let v = call_when_ready(&clients[0], "state::get", json!({"scope": "counters", "key": "hits"})).await;
    assert_eq!(v, json!({"n": 50}));
    for c in clients {
        c.shutdown_async().await;
    }
    engine.stop().await;
}
