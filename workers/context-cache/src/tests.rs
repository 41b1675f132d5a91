//! The cache service over a counting fetcher: hits, misses, TTL under tokio's paused clock,
//! single flight, errors that are not cached, and a fetch cancelled half-way.

use std::sync::atomic::{AtomicU64, Ordering};

use pretty_assertions::assert_eq;
use serde_json::json;
use tokio::sync::Semaphore;

use super::*;

/// Answers `{"function": id, "input": input, "call": n}`; holds every call until the gate has
/// a permit when gated, and fails for inputs with `"fail": true`.
struct Counting {
    calls: AtomicU64,
    gate: Option<Arc<Semaphore>>,
}

impl Counting {
    fn open() -> Self {
        Self { calls: AtomicU64::new(0), gate: None }
    }

    fn gated(gate: &Arc<Semaphore>) -> Self {
        Self { calls: AtomicU64::new(0), gate: Some(Arc::clone(gate)) }
    }
}

impl Fetcher for Arc<Counting> {
    async fn fetch(&self, function_id: &str, input: Value, _timeout: Duration) -> Result<Value, WorkerError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(gate) = &self.gate {
            gate.acquire().await.map_err(|e| WorkerError::internal(e.to_string()))?.forget();
        }
        if input.get("fail").is_some() {
            return Err(WorkerError::new("UPSTREAM_DOWN", format!("call {n} failed")));
        }
        Ok(json!({"function": function_id, "input": input, "call": n}))
    }
}

fn req(key: &str, ttl_ms: u64) -> GetOrFetch {
    GetOrFetch {
        key: Some(key.into()),
        function_id: "web::fetch".into(),
        input: json!({"url": "https://example.com"}),
        ttl_ms: Some(ttl_ms),
        timeout_ms: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_hit_within_the_ttl_and_a_new_fetch_after_it() {
    let fetcher = Arc::new(Counting::open());
    let cache = ContextCache::new(Arc::clone(&fetcher), Limits::default());
    let first = cache.get_or_fetch(req("k", 1000)).await.unwrap();
    assert_eq!((first.hit, first.age_ms, first.value["call"].clone()), (false, 0, json!(1)));
    tokio::time::advance(Duration::from_millis(400)).await;
    let second = cache.get_or_fetch(req("k", 1000)).await.unwrap();
    assert_eq!(second, Cached { value: first.value.clone(), hit: true, age_ms: 400 });
    tokio::time::advance(Duration::from_millis(600)).await;
    let third = cache.get_or_fetch(req("k", 1000)).await.unwrap();
    assert_eq!((third.hit, third.value["call"].clone()), (false, json!(2)));
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.fetches, stats.expirations, stats.entries), (1, 2, 2, 1, 1));
}

#[tokio::test]
async fn concurrent_misses_of_one_key_make_one_call() {
    let gate = Arc::new(Semaphore::new(0));
    let fetcher = Arc::new(Counting::gated(&gate));
    let cache = ContextCache::new(Arc::clone(&fetcher), Limits::default());
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move { cache.get_or_fetch(req("k", 60_000)).await })
        })
        .collect();
    // Wait until all eight are in: one fetching, seven waiting on it.
    agentos_kit::harness::wait_until("eight callers", || {
        let s = cache.stats();
        async move { s.fetches + s.coalesced == 8 }
    })
    .await;
    gate.add_permits(1);
    for call in calls {
        let answer = call.await.unwrap().unwrap();
        assert_eq!((answer.hit, answer.value["call"].clone()), (false, json!(1)));
    }
    assert_eq!(fetcher.calls.load(Ordering::SeqCst), 1);
    let stats = cache.stats();
    assert_eq!((stats.fetches, stats.coalesced, stats.misses), (1, 7, 8));
}

#[tokio::test]
async fn a_failed_fetch_reaches_every_waiter_and_is_not_cached() {
    let gate = Arc::new(Semaphore::new(0));
    let fetcher = Arc::new(Counting::gated(&gate));
    let cache = ContextCache::new(Arc::clone(&fetcher), Limits::default());
    let failing = GetOrFetch { input: json!({"fail": true}), ..req("k", 60_000) };
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let (cache, failing) = (Arc::clone(&cache), failing.clone());
            tokio::spawn(async move { cache.get_or_fetch(failing).await })
        })
        .collect();
    agentos_kit::harness::wait_until("three callers", || {
        let s = cache.stats();
        async move { s.fetches + s.coalesced == 3 }
    })
    .await;
    gate.add_permits(1);
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap_err(), WorkerError::new("UPSTREAM_DOWN", "call 1 failed"));
    }
    assert_eq!(cache.stats().entries, 0);
    gate.add_permits(1);
    assert_eq!(cache.get_or_fetch(failing).await.unwrap_err().message, "call 2 failed");
}

#[tokio::test]
async fn a_cancelled_fetch_lets_a_waiter_fetch_instead() {
    let gate = Arc::new(Semaphore::new(0));
    let fetcher = Arc::new(Counting::gated(&gate));
    let cache = ContextCache::new(Arc::clone(&fetcher), Limits::default());
    let leader = {
        let cache = Arc::clone(&cache);
        tokio::spawn(async move { cache.get_or_fetch(req("k", 60_000)).await })
    };
    agentos_kit::harness::wait_until("the first fetch", || {
        let n = fetcher.calls.load(Ordering::SeqCst);
        async move { n == 1 }
    })
    .await;
    let waiter = {
        let cache = Arc::clone(&cache);
        tokio::spawn(async move { cache.get_or_fetch(req("k", 60_000)).await })
    };
    agentos_kit::harness::wait_until("the waiter", || {
        let s = cache.stats();
        async move { s.coalesced == 1 }
    })
    .await;
    leader.abort();
    gate.add_permits(1);
    let answer = waiter.await.unwrap().unwrap();
    assert_eq!((answer.hit, answer.value["call"].clone()), (false, json!(2)));
    assert_eq!(cache.stats().misses, 2);
}

#[tokio::test]
async fn a_key_left_out_is_derived_from_the_function_and_the_canonical_input() {
    let fetcher = Arc::new(Counting::open());
    let cache = ContextCache::new(Arc::clone(&fetcher), Limits::default());
    let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"y": 2, "x": 1}}"#).unwrap();
    let b: Value = serde_json::from_str(r#"{"a": {"x": 1, "y": 2}, "b": 1}"#).unwrap();
    let derived = |input: Value| GetOrFetch { function_id: "web::fetch".into(), input, ..GetOrFetch::default() };
    assert!(!cache.get_or_fetch(derived(a.clone())).await.unwrap().hit);
    assert!(cache.get_or_fetch(derived(b)).await.unwrap().hit);
    let key = format!("web::fetch {}", canonical(&a));
    assert_eq!(key, r#"web::fetch {"a":{"x":1,"y":2},"b":1}"#);
    assert!(cache.get(KeyRequest { key }).unwrap().hit);
}

#[tokio::test]
async fn get_invalidate_and_stats() {
    let fetcher = Arc::new(Counting::open());
    let cache = ContextCache::new(Arc::clone(&fetcher), Limits::default());
    cache.get_or_fetch(req("web:a", 60_000)).await.unwrap();
    cache.get_or_fetch(req("web:b", 60_000)).await.unwrap();
    cache.get_or_fetch(req("db:a", 60_000)).await.unwrap();
    assert_eq!(
        cache.get(KeyRequest { key: "nope".into() }).unwrap(),
        Cached { value: Value::Null, hit: false, age_ms: 0 }
    );
    let inv = |key: Option<&str>, prefix: Option<&str>| {
        cache.invalidate(Invalidate { key: key.map(str::to_string), prefix: prefix.map(str::to_string) })
    };
    assert_eq!(inv(Some("db:a"), None).unwrap(), Invalidated { invalidated: 1 });
    assert_eq!(inv(None, Some("web:")).unwrap(), Invalidated { invalidated: 2 });
    assert_eq!(inv(None, None).unwrap_err().code, "INVALID_INPUT");
    assert_eq!(inv(Some("a"), Some("b")).unwrap_err().code, "INVALID_INPUT");
    let stats = cache.stats();
    assert_eq!(
        stats,
        Stats {
            hits: 0,
            misses: 4,
            entries: 0,
            evictions: 0,
            expirations: 0,
            fetches: 3,
            coalesced: 0,
            bytes: 0,
            max_entries: 10_000,
            max_bytes: 64 * 1024 * 1024,
        }
    );
}

#[tokio::test]
async fn bad_requests_name_the_fix() {
    let cache = ContextCache::new(Arc::new(Counting::open()), Limits::default());
    let bad = |r: GetOrFetch| async { cache.get_or_fetch(r).await.unwrap_err().message };
    assert!(bad(GetOrFetch { function_id: "fetch".into(), ..req("k", 1) }).await.contains("namespace::verb"));
    assert!(
        bad(GetOrFetch { function_id: "context_cache::get".into(), ..req("k", 1) }).await.contains("call it directly")
    );
    assert_eq!(bad(req("k", 0)).await, "ttl_ms is 0: use 1 to 86400000 milliseconds");
    assert!(bad(req("", 10)).await.starts_with("the key has 0 bytes"));
}
