//! The `Worker` builder's blocking functions, through the engine, and its declared schemas.

use std::time::Duration;

use agentos_kit::harness::TestStack;
use agentos_kit::{Worker, WorkerError, call};
use pretty_assertions::assert_eq;
use serde::{Deserialize, Serialize};
use serde_json::json;

const T: Duration = Duration::from_secs(5);

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Count {
    n: u64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Total {
    total: u64,
}

/// A worker whose service is a base added to every count, its functions on the blocking pool.
fn counter() -> Worker<u64> {
    Worker::new("kit-counter", "Adds on the blocking pool; a test worker for blocking functions.")
        .blocking_function("counter::add", "Adds n to the base: {n} -> {total}.", |base: u64, req: Count| {
            std::thread::sleep(Duration::from_millis(10));
            Ok::<_, WorkerError>(Total { total: base + req.n })
        })
        .request_format(json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}))
        .blocking_function("counter::refuse", "Never adds: {n} -> NOT_FOUND.", |_: u64, req: Count| {
            Err::<Total, _>(WorkerError::not_found(format!("no counter {}", req.n)))
        })
        .blocking_function(
            "counter::panic",
            "Panics: {n} -> INTERNAL.",
            |_: u64, _: Count| -> Result<Total, WorkerError> { panic!("the counter broke") },
        )
}

#[test]
fn a_declared_schema_is_read_back_by_function_id() {
    let worker = counter();
    assert_eq!(worker.request_format_of("counter::add").unwrap()["required"], json!(["n"]));
    assert_eq!(worker.request_format_of("counter::refuse"), None);
    assert_eq!(worker.request_format_of("counter::nope"), None);
    assert_eq!(worker.manifest().functions, vec!["counter::add", "counter::refuse", "counter::panic"]);
}

#[tokio::test]
async fn a_blocking_function_answers_keeps_its_error_code_and_a_panic_is_internal() {
    let stack = TestStack::start().await;
    let worker = counter();
    stack.worker(worker.manifest(), |iii| worker.register(iii, 40, None)).await;
    let client = stack.client();

    let total: Total = call(&client, "counter::add", &Count { n: 2 }, T).await.unwrap();
    assert_eq!(total, Total { total: 42 });

    let err = call::<_, Total>(&client, "counter::refuse", &Count { n: 7 }, T).await.unwrap_err();
    assert_eq!(err, WorkerError::not_found("no counter 7"));

    let err = call::<_, Total>(&client, "counter::panic", &Count { n: 1 }, T).await.unwrap_err();
    assert_eq!(err.code, "INTERNAL");
    assert!(err.message.starts_with("counter::panic: the blocking task failed"), "{}", err.message);

    let err = call::<_, Total>(&client, "counter::add", &json!({"n": 1, "m": 2}), T).await.unwrap_err();
    assert_eq!(err.code, "INVALID_INPUT");
    stack.stop().await;
}
