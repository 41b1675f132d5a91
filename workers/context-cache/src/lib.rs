//! agentos-worker-context-cache: a TTL cache for expensive lookups (`context_cache::*`).
//!
//! `context_cache::get_or_fetch {key?, function_id, input, ttl_ms?}` answers the cached result of
//! calling `function_id` with `input`, calling it through the bus only on a miss. Concurrent
//! misses of one key make one call (single flight): the others wait for its answer.
//!
//! It is a cache, so it lives in the worker's memory only: a restart starts empty, and nothing
//! is lost that a new call cannot fetch again. Durable data belongs in `state::*`.
//!
//! The crate is split in two: [`cache`] (the bounded TTL + LRU map, pure) and this module (the
//! verbs over a [`Fetcher`], with single flight). [`worker()`] declares them to the engine.
//!
//! Rules it keeps:
//! - A failed fetch is never cached: every caller waiting on it gets the error, and the next
//!   call tries again.
//! - A key left out is `function_id` plus the canonical JSON of `input` (object keys sorted),
//!   so equal inputs share an entry however their keys were ordered.
//! - A function of `context_cache::*` cannot be fetched through the cache (it would wait on
//!   itself).

pub mod cache;
pub mod register;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use agentos_kit::WorkerError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;

pub use cache::{Cache, Counters, Limits};
pub use register::{BusCache, MANIFEST, register, run, worker};

/// The time to live of an entry when the request gives none: one minute.
pub const DEFAULT_TTL_MS: u64 = 60_000;

/// The longest time to live: one day. A longer-lived value belongs in state.
pub const MAX_TTL_MS: u64 = 86_400_000;

/// How long a fetch may take when the request gives no `timeout_ms`.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// The longest fetch timeout: ten minutes, the engine's HTTP timeout under `agentos up`.
pub const MAX_TIMEOUT_MS: u64 = 600_000;

/// The longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// How the cache calls a function on a miss. The worker implements it over the bus
/// ([`register::BusFetcher`]); tests with counting fakes.
pub trait Fetcher: Send + Sync + 'static {
    /// Calls `function_id` with `input`, waiting at most `timeout`.
    fn fetch(
        &self,
        function_id: &str,
        input: Value,
        timeout: Duration,
    ) -> impl Future<Output = Result<Value, WorkerError>> + Send;
}

/// `context_cache::get_or_fetch`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GetOrFetch {
    /// The cache key; left out, it is derived from `function_id` and `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The function whose result is cached.
    pub function_id: String,
    /// Its input.
    #[serde(default)]
    pub input: Value,
    /// How long the result stays fresh (default 60 000, at most 86 400 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// How long a fetch may take (default 30 000, at most 600 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// What `context_cache::get_or_fetch` and `context_cache::get` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cached {
    /// The value (`null` for a `get` that missed).
    pub value: Value,
    /// Whether it came from the cache.
    pub hit: bool,
    /// How old the cached value is (0 for a fresh fetch).
    pub age_ms: u64,
}

/// `context_cache::get`: a cached value, without fetching.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// The key.
    pub key: String,
}

/// `context_cache::invalidate`: one key, or every key with a prefix (`""`: everything).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invalidate {
    /// The key to drop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The prefix of the keys to drop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// What `context_cache::invalidate` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalidated {
    /// How many entries were dropped.
    pub invalidated: usize,
}

/// `context_cache::stats`: no arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsRequest {}

/// What `context_cache::stats` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads that found nothing live (each `get_or_fetch` miss either fetched or waited).
    pub misses: u64,
    /// Entries held (expired ones not swept yet included).
    pub entries: usize,
    /// Entries dropped to stay within the bounds.
    pub evictions: u64,
    /// Entries dropped because their time ran out.
    pub expirations: u64,
    /// Calls made to fetch a value.
    pub fetches: u64,
    /// Misses that waited for another caller's fetch instead of calling.
    pub coalesced: u64,
    /// Bytes held.
    pub bytes: usize,
    /// The entry bound.
    pub max_entries: usize,
    /// The byte bound.
    pub max_bytes: usize,
}

/// The outcome a fetch shares with every caller waiting on it.
type Outcome = Option<Result<Value, WorkerError>>;

/// Locks a std mutex, recovering from poisoning: a panic elsewhere must not take every later
/// call down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The cache service.
pub struct ContextCache<F> {
    fetcher: F,
    cache: Mutex<Cache>,
    inflight: Arc<Mutex<HashMap<String, watch::Receiver<Outcome>>>>,
    fetches: Mutex<(u64, u64)>,
}

/// Removes a key's in-flight entry when its fetch ends, also when the fetching call is
/// dropped half-way: waiters then see the channel close and try again.
struct Flight {
    inflight: Arc<Mutex<HashMap<String, watch::Receiver<Outcome>>>>,
    key: String,
}

impl Drop for Flight {
    fn drop(&mut self) {
        lock(&self.inflight).remove(&self.key);
    }
}

impl<F: Fetcher> ContextCache<F> {
    /// An empty cache within `limits` that fetches through `fetcher`.
    pub fn new(fetcher: F, limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            fetcher,
            cache: Mutex::new(Cache::new(limits)),
            inflight: Arc::new(Mutex::new(HashMap::new())),
            fetches: Mutex::new((0, 0)),
        })
    }

    /// `context_cache::get_or_fetch`.
    pub async fn get_or_fetch(&self, req: GetOrFetch) -> Result<Cached, WorkerError> {
        let function_id = req.function_id.trim().to_string();
        check_function(&function_id)?;
        let ttl = Duration::from_millis(bounded("ttl_ms", req.ttl_ms, DEFAULT_TTL_MS, MAX_TTL_MS)?);
        let timeout = Duration::from_millis(bounded("timeout_ms", req.timeout_ms, DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS)?);
        let key = match req.key {
            Some(key) => check_key(key)?,
            None => check_key(format!("{function_id} {}", canonical(&req.input)))?,
        };
        let mut counted = false;
        loop {
            // A read counts once, even when a cancelled fetch makes it look again.
            let found = {
                let mut cache = lock(&self.cache);
                if counted { cache.peek(&key, Instant::now()) } else { cache.get(&key, Instant::now()) }
            };
            counted = true;
            if let Some((value, age)) = found {
                return Ok(Cached { value, hit: true, age_ms: millis(age) });
            }
            let (mut rx, leader) = {
                let mut inflight = lock(&self.inflight);
                match inflight.get(&key) {
                    Some(rx) => (rx.clone(), None),
                    None => {
                        let (tx, rx) = watch::channel(None);
                        inflight.insert(key.clone(), rx.clone());
                        (rx, Some(tx))
                    }
                }
            };
            if let Some(tx) = leader {
                let flight = Flight { inflight: Arc::clone(&self.inflight), key: key.clone() };
                lock(&self.fetches).0 += 1;
                let result = self.fetcher.fetch(&function_id, req.input.clone(), timeout).await;
                if let Ok(value) = &result {
                    lock(&self.cache).insert(&key, value.clone(), ttl, Instant::now());
                }
                // Waiters may all be gone; the result is still cached.
                let _ = tx.send(Some(result.clone()));
                drop(flight);
                return result.map(|value| Cached { value, hit: false, age_ms: 0 });
            }
            lock(&self.fetches).1 += 1;
            let outcome = rx.wait_for(Option::is_some).await.ok().and_then(|o| o.clone());
            if let Some(result) = outcome {
                return result.map(|value| Cached { value, hit: false, age_ms: 0 });
            }
            // The fetching call was dropped before it answered: look again, maybe fetch.
        }
    }

    /// `context_cache::get`.
    pub fn get(&self, req: KeyRequest) -> Result<Cached, WorkerError> {
        let key = check_key(req.key)?;
        Ok(match lock(&self.cache).get(&key, Instant::now()) {
            Some((value, age)) => Cached { value, hit: true, age_ms: millis(age) },
            None => Cached { value: Value::Null, hit: false, age_ms: 0 },
        })
    }

    /// `context_cache::invalidate`.
    pub fn invalidate(&self, req: Invalidate) -> Result<Invalidated, WorkerError> {
        let invalidated = match (req.key, req.prefix) {
            (Some(key), None) => usize::from(lock(&self.cache).invalidate(&key)),
            (None, Some(prefix)) => lock(&self.cache).invalidate_prefix(&prefix),
            _ => {
                return Err(WorkerError::invalid_input(
                    "context_cache::invalidate needs exactly one of {\"key\": …} or {\"prefix\": …} (\"\" drops everything)",
                ));
            }
        };
        Ok(Invalidated { invalidated })
    }

    /// `context_cache::stats`.
    pub fn stats(&self) -> Stats {
        let cache = lock(&self.cache);
        let c = cache.counters();
        let (fetches, coalesced) = *lock(&self.fetches);
        let limits = cache.limits();
        Stats {
            hits: c.hits,
            misses: c.misses,
            entries: cache.len(),
            evictions: c.evictions,
            expirations: c.expirations,
            fetches,
            coalesced,
            bytes: cache.bytes(),
            max_entries: limits.max_entries,
            max_bytes: limits.max_bytes,
        }
    }
}

/// Whole milliseconds of `d`.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `value` within 1..=`max`, `default` when absent.
fn bounded(field: &str, value: Option<u64>, default: u64, max: u64) -> Result<u64, WorkerError> {
    match value {
        None => Ok(default),
        Some(v) if (1..=max).contains(&v) => Ok(v),
        Some(v) => Err(WorkerError::invalid_input(format!("{field} is {v}: use 1 to {max} milliseconds"))),
    }
}

/// A function id the cache may call.
fn check_function(id: &str) -> Result<(), WorkerError> {
    let Some((ns, verb)) = id.split_once("::") else {
        return Err(WorkerError::invalid_input(format!(
            "function_id {id:?} is not `namespace::verb`; name the function whose result to cache, e.g. code::read_file"
        )));
    };
    if ns.is_empty() || verb.is_empty() {
        return Err(WorkerError::invalid_input(format!("function_id {id:?} is not `namespace::verb`")));
    }
    if ns == "context_cache" {
        return Err(WorkerError::invalid_input(format!(
            "{id} cannot be fetched through the cache itself; call it directly"
        )));
    }
    Ok(())
}

/// A key that is not empty and at most [`MAX_KEY_BYTES`].
fn check_key(key: String) -> Result<String, WorkerError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(WorkerError::invalid_input(format!(
            "the key has {} bytes: use 1 to {MAX_KEY_BYTES} (or leave it out to derive one from function_id and input)",
            key.len()
        )));
    }
    Ok(key)
}

/// `value` as compact JSON with object keys sorted at every level.
pub fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let ordered: std::collections::BTreeMap<&String, Value> =
                    map.iter().map(|(k, v)| (k, sorted(v))).collect();
                Value::Object(ordered.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

#[cfg(test)]
mod tests;
