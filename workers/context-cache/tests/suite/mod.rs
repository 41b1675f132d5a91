//! `context_cache::*` over the bus, fetching from a counting test function.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agentos_kit::harness::TestStack;
use agentos_kit::{III, RestartPolicy, WorkerError, WorkerManifest, call, register_typed};
use agentos_worker_context_cache::{Cached, Limits, MANIFEST, Stats, register};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(20);

/// A worker whose `probe::lookup` counts its calls, takes 200 ms, and fails for `{"fail": true}`.
static PROBE: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "probe",
    description: "A test worker with a slow, counting lookup.",
    functions: vec!["probe::lookup"],
    http_routes: vec![],
    depends_on: &[],
    restart: RestartPolicy::No,
});

#[derive(serde::Deserialize)]
struct Lookup {
    #[serde(default)]
    q: String,
    #[serde(default)]
    fail: bool,
}

async fn start(stack: &TestStack) -> Arc<AtomicU64> {
    let calls = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&calls);
    stack
        .worker(&PROBE, move |iii| {
            register_typed(iii, "probe::lookup", "Counts and answers.", move |req: Lookup| {
                let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    if req.fail {
                        return Err(WorkerError::new("LOOKUP_FAILED", "the upstream is down; try later"));
                    }
                    Ok(json!({"answer": format!("result for {}", req.q), "call": n}))
                }
            });
        })
        .await;
    stack.worker(&MANIFEST, |iii| register(iii, Limits::default())).await;
    calls
}

async fn fetch(client: &III, key: &str, input: Value) -> Result<Cached, WorkerError> {
    let req = json!({"key": key, "function_id": "probe::lookup", "input": input, "ttl_ms": 60_000});
    call(client, "context_cache::get_or_fetch", &req, T).await
}

#[tokio::test]
async fn a_result_is_fetched_once_then_served_from_the_cache() {
    let stack = TestStack::start().await;
    let calls = start(&stack).await;
    let client = stack.client();
    let first = fetch(&client, "q:rust", json!({"q": "rust"})).await.unwrap();
    assert_eq!((first.hit, first.value.clone()), (false, json!({"answer": "result for rust", "call": 1})));
    let second = fetch(&client, "q:rust", json!({"q": "rust"})).await.unwrap();
    assert!(second.hit);
    assert_eq!(second.value, first.value);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let got: Cached = call(&client, "context_cache::get", &json!({"key": "q:rust"}), T).await.unwrap();
    assert!(got.hit);
    stack.stop().await;
}

#[tokio::test]
async fn concurrent_misses_over_the_bus_make_one_call() {
    let stack = TestStack::start().await;
    let calls = start(&stack).await;
    let client = stack.client();
    let all: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { fetch(&client, "q:same", json!({"q": "same"})).await })
        })
        .collect();
    for one in all {
        let answer = one.await.unwrap().unwrap();
        assert_eq!(answer.value["call"], json!(1));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let stats: Stats = call(&client, "context_cache::stats", &json!({}), T).await.unwrap();
    // Callers that came during the fetch waited for it; any that came after hit the cache.
    assert_eq!((stats.fetches, stats.hits + stats.coalesced, stats.misses), (1, 5, 1 + stats.coalesced));
    stack.stop().await;
}

#[tokio::test]
async fn a_failing_function_keeps_its_code_and_is_not_cached() {
    let stack = TestStack::start().await;
    let calls = start(&stack).await;
    let client = stack.client();
    let err = fetch(&client, "q:bad", json!({"fail": true})).await.unwrap_err();
    assert_eq!((err.code.as_str(), err.message.as_str()), ("LOOKUP_FAILED", "the upstream is down; try later"));
    fetch(&client, "q:bad", json!({"fail": true})).await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let missing = call::<_, Value>(
        &client,
        "context_cache::get_or_fetch",
        &json!({"function_id": "nobody::here", "input": {}}),
        T,
    )
    .await
    .unwrap_err();
    assert!(missing.message.contains("nobody::here"), "{missing:?}");
    stack.stop().await;
}

#[tokio::test]
async fn invalidation_makes_the_next_read_fetch_again() {
    let stack = TestStack::start().await;
    let calls = start(&stack).await;
    let client = stack.client();
    fetch(&client, "web:a", json!({"q": "a"})).await.unwrap();
    fetch(&client, "web:b", json!({"q": "b"})).await.unwrap();
    let dropped: Value = call(&client, "context_cache::invalidate", &json!({"prefix": "web:"}), T).await.unwrap();
    assert_eq!(dropped, json!({"invalidated": 2}));
    let again = fetch(&client, "web:a", json!({"q": "a"})).await.unwrap();
    assert!(!again.hit);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let stats: Stats = call(&client, "context_cache::stats", &json!({}), T).await.unwrap();
    assert_eq!((stats.hits, stats.misses, stats.fetches, stats.entries), (0, 3, 3, 1));
    stack.stop().await;
}
