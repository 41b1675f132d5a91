//! Size limits on what clients write, and the retention sweep, over a running engine.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::harness::{TestEngine, call, client, remote};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_log_or_state_write_is_refused_and_the_engine_keeps_serving() {
    let engine = TestEngine::start_with(|c| {
        c.log_max_bytes = 1000;
        c.state_max_value_bytes = 2000;
        c.stream_max_value_bytes = 2000;
    })
    .await;
    let iii = client(&engine.ws_url);

    // 100 × 500 KB of logs was accepted before; now each is refused at once.
    let big = "x".repeat(500 * 1024);
    for _ in 0..100 {
        let (code, message) = remote(call(&iii, "engine::log::info", json!({"message": big})).await);
        assert_eq!(code, "payload_too_large");
        assert!(message.contains("1000 bytes") && message.contains("iii-observability.log_max_bytes"), "{message}");
    }
    // The data counts too.
    let (code, _) =
        remote(call(&iii, "engine::log::warn", json!({"message": "m", "data": {"blob": "y".repeat(1000)}})).await);
    assert_eq!(code, "payload_too_large");
    call(&iii, "engine::log::info", json!({"message": "still here", "data": {"n": 1}})).await.unwrap();
    let logs = call(&iii, "engine::logs::list", json!({})).await.unwrap();
    let bodies: Vec<&str> = logs["logs"].as_array().unwrap().iter().filter_map(|l| l["body"].as_str()).collect();
    assert_eq!(bodies, vec!["still here"]);

    // State: set and update over the limit change nothing.
    call(&iii, "state::set", json!({"scope": "s", "key": "k", "value": {"a": 1}})).await.unwrap();
    let (code, message) =
        remote(call(&iii, "state::set", json!({"scope": "s", "key": "k", "value": "z".repeat(3000)})).await);
    assert_eq!(code, "payload_too_large");
    assert!(message.contains("2000 bytes") && message.contains("iii-state.max_value_bytes"), "{message}");
    let ops = json!([{"type": "set", "path": "b", "value": "z".repeat(3000)}]);
    let (code, _) = remote(call(&iii, "state::update", json!({"scope": "s", "key": "k", "ops": ops})).await);
    assert_eq!(code, "payload_too_large");
    assert_eq!(call(&iii, "state::get", json!({"scope": "s", "key": "k"})).await.unwrap(), json!({"a": 1}));

    // Streams likewise.
    let item = json!({"stream_name": "st", "group_id": "g", "item_id": "i", "data": "z".repeat(3000)});
    let (code, message) = remote(call(&iii, "stream::set", item).await);
    assert_eq!(code, "payload_too_large");
    assert!(message.contains("iii-stream.max_value_bytes"), "{message}");
    let got = call(&iii, "stream::get", json!({"stream_name": "st", "group_id": "g", "item_id": "i"})).await.unwrap();
    assert_eq!(got, Value::Null);

    // Within the limits everything still works.
    call(&iii, "state::set", json!({"scope": "s", "key": "k2", "value": "ok"})).await.unwrap();
    assert_eq!(call(&iii, "state::get", json!({"scope": "s", "key": "k2"})).await.unwrap(), json!("ok"));
    iii.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_sweep_cuts_logs_and_spans_to_the_size_bound() {
    let engine = TestEngine::start_with(|c| {
        c.retention_max_bytes = Some(40_000);
        c.retention_max_age_secs = None;
    })
    .await;
    let iii = client(&engine.ws_url);
    let body = "l".repeat(900);
    for n in 0..200 {
        call(&iii, "engine::log::info", json!({"message": body, "data": {"n": n}})).await.unwrap();
    }
    agentos_engine::retention::sweep_now(&engine.engine).await.unwrap();
    let (spans, logs) = engine.engine.store().trace_log_bytes().unwrap();
    assert!(spans + logs <= 40_000, "{spans} + {logs}");
    let listed = call(&iii, "engine::logs::list", json!({"limit": 1000})).await.unwrap();
    let kept: Vec<i64> =
        listed["logs"].as_array().unwrap().iter().map(|l| l["attributes"]["n"].as_i64().unwrap()).collect();
    assert!(!kept.is_empty() && kept.len() < 200, "{}", kept.len());
    assert_eq!(kept.last(), Some(&199), "the newest are kept");
    iii.shutdown_async().await;
    engine.stop().await;
}
