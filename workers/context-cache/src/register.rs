//! The thin glue between the cache and the engine: the [`Fetcher`] over the bus and the
//! declaration of `context_cache::*`.
//!
//! Rule: no decisions here; each handler decodes, calls one method of [`ContextCache`] and
//! encodes. The cache has no HTTP routes: it serves other workers.

use std::future::ready;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use agentos_kit::{III, Worker, WorkerError, WorkerManifest};
use serde_json::Value;

use crate::{ContextCache, Fetcher, GetOrFetch, Invalidate, KeyRequest, Limits, StatsRequest};

/// The context-cache worker's manifest, derived from [`worker`];
/// `workers/context-cache/iii.worker.yaml` mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// The cache the worker serves: one per process, fetching through the bus.
pub type BusCache = Arc<ContextCache<BusFetcher>>;

/// The context-cache worker: the `context_cache::*` functions over one [`BusCache`].
pub fn worker() -> Worker<BusCache> {
    Worker::<BusCache>::new(
        "context-cache",
        "A bounded in-process TTL cache of function results: get_or_fetch through the bus with single flight, get, invalidate, hit/miss stats.",
    )
    .function(
        "context_cache::get_or_fetch",
        "The cached result of a function call, calling it on a miss (one call for concurrent misses): {key?, function_id, input, ttl_ms?, timeout_ms?} -> {value, hit, age_ms}.",
        |c, req: GetOrFetch| async move { c.get_or_fetch(req).await },
    )
    .function(
        "context_cache::get",
        "A cached value without fetching: {key} -> {value, hit, age_ms}.",
        |c, req: KeyRequest| ready(c.get(req)),
    )
    .function(
        "context_cache::invalidate",
        "Drops one key or every key with a prefix: {key} | {prefix} -> {invalidated}.",
        |c, req: Invalidate| ready(c.invalidate(req)),
    )
    .function(
        "context_cache::stats",
        "Counters: {} -> {hits, misses, entries, evictions, expirations, fetches, coalesced, bytes, max_entries, max_bytes}.",
        |c, _: StatsRequest| ready(Ok::<_, WorkerError>(c.stats())),
    )
}

/// Runs the context-cache worker as its own process until SIGTERM or SIGINT
/// (`agentos worker context-cache`), bounded by the `[context_cache]` section of the config
/// file (`max_entries`, `max_bytes`).
pub fn run() -> Result<(), WorkerError> {
    let limits: Limits = agentos_kit::config::section("context_cache")?;
    worker().run(|iii| Ok(ContextCache::new(BusFetcher::new(iii.clone()), limits)))
}

/// Fetches through the bus.
#[derive(Clone)]
pub struct BusFetcher {
    iii: III,
}

impl BusFetcher {
    /// A fetcher over `iii`.
    pub fn new(iii: III) -> Self {
        Self { iii }
    }
}

impl Fetcher for BusFetcher {
    async fn fetch(&self, function_id: &str, input: Value, timeout: Duration) -> Result<Value, WorkerError> {
        agentos_kit::call(&self.iii, function_id, &input, timeout).await
    }
}

/// Registers the `context_cache::*` functions on `iii`, over a cache within `limits`.
pub fn register(iii: &III, limits: Limits) {
    worker().register(iii, ContextCache::new(BusFetcher::new(iii.clone()), limits), None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_config_section_sets_the_bounds() {
        let limits: Limits =
            agentos_kit::config::section_in("[context_cache]\nmax_entries = 5\n", "context_cache").unwrap();
        assert_eq!(limits, Limits { max_entries: 5, ..Limits::default() });
    }
}
