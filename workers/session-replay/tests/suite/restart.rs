//! What outlives the worker: recorded events, and idempotency across a restart.

use agentos_kit::harness::{TestStack, wait_until};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{get, record, start_replay, start_sessions, step};

#[tokio::test]
async fn a_restarted_worker_still_has_every_event_and_still_refuses_duplicates() {
    let stack = TestStack::start().await;
    start_sessions(&stack).await;
    let first = start_replay(&stack).await;
    let client = stack.client();
    for seq in 1..=3 {
        assert!(record(&client, &step("s1", seq, "user_message", "t1", json!({"text": seq.to_string()}))).await);
    }
    let (_, before) = get(&stack, "/v1/sessions/s1/events").await;
    assert_eq!(before["events"].as_array().unwrap().len(), 3);

    // Stop the worker the way a crash looks to the engine: its connection goes away.
    tokio::task::spawn_blocking(move || first.shutdown()).await.unwrap();
    let engine = stack.engine().clone();
    wait_until("the engine to drop the stopped worker's functions", move || {
        let gone = !engine.has_function("replay::record");
        async move { gone }
    })
    .await;
    start_replay(&stack).await;

    let (status, after) = get(&stack, "/v1/sessions/s1/events").await;
    assert_eq!((status, &after), (200, &before));
    assert!(!record(&client, &step("s1", 2, "user_message", "t1", json!({"text": "2"}))).await);
    assert!(record(&client, &step("s1", 4, "user_message", "t1", json!({"text": "4"}))).await);
    let (_, summary) = get(&stack, "/v1/sessions/s1/summary").await;
    assert_eq!(summary["events"], 4);
    stack.stop().await;
}
