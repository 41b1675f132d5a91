//! The thin glue between the cache and the engine: the manifest, the [`Fetcher`] over the bus
//! and the bindings of `context_cache::*`.
//!
//! Rule: no decisions here; each handler decodes, calls one method of [`ContextCache`] and
//! encodes. The cache has no HTTP routes: it serves other workers.

use std::sync::Arc;
use std::time::Duration;

use agentos_kit::{III, RestartPolicy, WorkerError, WorkerManifest, register_typed};
use serde_json::Value;

use crate::{ContextCache, Fetcher, GetOrFetch, Invalidate, KeyRequest, Limits, StatsRequest};

/// The context-cache worker's manifest; `workers/context-cache/iii.worker.yaml` mirrors it.
pub static MANIFEST: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "context-cache",
    description: "A bounded in-process TTL cache of function results: get_or_fetch through the bus with single flight, get, invalidate, hit/miss stats.",
    functions: vec![
        "context_cache::get_or_fetch",
        "context_cache::get",
        "context_cache::invalidate",
        "context_cache::stats",
    ],
    http_routes: vec![],
    depends_on: &[],
    restart: RestartPolicy::Always,
});

/// Runs the context-cache worker as its own process until SIGTERM or SIGINT
/// (`agentos worker context-cache`), bounded by the `[context_cache]` section of the config
/// file (`max_entries`, `max_bytes`).
pub fn run() -> Result<(), WorkerError> {
    let limits: Limits = agentos_kit::config::section("context_cache")?;
    agentos_kit::run_worker(&MANIFEST, |iii| register(iii, limits))
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
    let cache = ContextCache::new(BusFetcher::new(iii.clone()), limits);
    let c = Arc::clone(&cache);
    register_typed(
        iii,
        "context_cache::get_or_fetch",
        "The cached result of a function call, calling it on a miss (one call for concurrent misses): {key?, function_id, input, ttl_ms?, timeout_ms?} -> {value, hit, age_ms}.",
        move |req: GetOrFetch| {
            let c = Arc::clone(&c);
            async move { c.get_or_fetch(req).await }
        },
    );
    let c = Arc::clone(&cache);
    register_typed(
        iii,
        "context_cache::get",
        "A cached value without fetching: {key} -> {value, hit, age_ms}.",
        move |req: KeyRequest| std::future::ready(c.get(req)),
    );
    let c = Arc::clone(&cache);
    register_typed(
        iii,
        "context_cache::invalidate",
        "Drops one key or every key with a prefix: {key} | {prefix} -> {invalidated}.",
        move |req: Invalidate| std::future::ready(c.invalidate(req)),
    );
    register_typed(
        iii,
        "context_cache::stats",
        "Counters: {} -> {hits, misses, entries, evictions, expirations, fetches, coalesced, bytes, max_entries, max_bytes}.",
        move |_: StatsRequest| std::future::ready(Ok::<_, WorkerError>(cache.stats())),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::ManifestFile;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_manifest_is_valid_and_the_yaml_mirrors_it() {
        assert_eq!(MANIFEST.validate(), Ok(()));
        let file: ManifestFile = serde_saphyr::from_str(include_str!("../iii.worker.yaml")).unwrap();
        assert_eq!(MANIFEST.agrees_with(&file), Ok(()));
    }

    #[test]
    fn the_config_section_sets_the_bounds() {
        let limits: Limits =
            agentos_kit::config::section_in("[context_cache]\nmax_entries = 5\n", "context_cache").unwrap();
        assert_eq!(limits, Limits { max_entries: 5, ..Limits::default() });
    }
}
