//! The cache itself: entries with a time to live, bounded by count and bytes, evicted least
//! recently used first. Pure: the caller passes the time, so tests need no clock.
//!
//! Rules it keeps:
//! - An entry is served only before it expires; an expired entry found by a read is removed
//!   and counted as an expiration (and the read as a miss).
//! - The size of an entry is its key plus its value's compact JSON, in bytes.
//! - When an insert goes over either bound, expired entries go first (at most one full sweep
//!   per [`SWEEP_EVERY`]), then the least recently used ones. A value larger than the byte
//!   bound alone is not cached at all.
//! - A read of a live entry makes it the most recently used.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

/// The least time between two sweeps of expired entries: a sweep visits every entry, and an
/// insert at the bounds must not pay that every time.
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The cache's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The most entries kept.
    pub max_entries: usize,
    /// The most bytes kept (keys plus JSON values).
    pub max_bytes: usize,
}

impl Default for Limits {
    /// 10 000 entries or 64 MiB: room for every tool result of many sessions, small next to
    /// the rest of a stack.
    fn default() -> Self {
        Self { max_entries: 10_000, max_bytes: 64 * 1024 * 1024 }
    }
}

/// One cached value.
#[derive(Debug, Clone)]
struct Entry {
    value: Value,
    stored: Instant,
    expires: Instant,
    bytes: usize,
    tick: u64,
}

/// The counters `context_cache::stats` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads that found nothing live.
    pub misses: u64,
    /// Entries dropped to stay within the bounds.
    pub evictions: u64,
    /// Entries dropped because their time to live ran out.
    pub expirations: u64,
}

/// A bounded TTL cache with LRU eviction.
#[derive(Debug)]
pub struct Cache {
    limits: Limits,
    entries: HashMap<String, Entry>,
    lru: BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
    last_sweep: Option<Instant>,
    counters: Counters,
}

/// The size an entry counts for.
pub fn size_of(key: &str, value: &Value) -> usize {
    key.len() + serde_json::to_vec(value).map_or(0, |v| v.len())
}

impl Cache {
    /// An empty cache within `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            entries: HashMap::new(),
            lru: BTreeMap::new(),
            tick: 0,
            bytes: 0,
            last_sweep: None,
            counters: Counters::default(),
        }
    }

    /// Its bounds.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// How many entries it holds (expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.lru.remove(&entry.tick);
        self.bytes -= entry.bytes;
        Some(entry)
    }

    /// The live value of `key` and its age, counting a hit or a miss.
    pub fn get(&mut self, key: &str, now: Instant) -> Option<(Value, Duration)> {
        let found = self.peek(key, now);
        if found.is_some() {
            self.counters.hits += 1;
        } else {
            self.counters.misses += 1;
        }
        found
    }

    /// Like [`Cache::get`] without counting a hit or a miss (the entry still becomes the most
    /// recently used, and an expired one is still removed).
    pub fn peek(&mut self, key: &str, now: Instant) -> Option<(Value, Duration)> {
        let expired = self.entries.get(key).map(|e| e.expires <= now)?;
        if expired {
            self.remove(key);
            self.counters.expirations += 1;
            return None;
        }
        let tick = self.next_tick();
        let entry = self.entries.get_mut(key)?;
        self.lru.remove(&entry.tick);
        entry.tick = tick;
        self.lru.insert(tick, key.to_string());
        Some((entry.value.clone(), now.saturating_duration_since(entry.stored)))
    }

    /// Stores `value` under `key` for `ttl`, replacing what was there, then evicts to stay
    /// within the bounds. `false` (nothing stored) when the value alone is over the byte bound.
    pub fn insert(&mut self, key: &str, value: Value, ttl: Duration, now: Instant) -> bool {
        self.remove(key);
        let bytes = size_of(key, &value);
        if bytes > self.limits.max_bytes || self.limits.max_entries == 0 {
            return false;
        }
        let tick = self.next_tick();
        self.entries.insert(key.to_string(), Entry { value, stored: now, expires: now + ttl, bytes, tick });
        self.lru.insert(tick, key.to_string());
        self.bytes += bytes;
        if self.over() && self.last_sweep.is_none_or(|t| now.saturating_duration_since(t) >= SWEEP_EVERY) {
            self.sweep(now);
        }
        while self.over() {
            let Some((_, oldest)) = self.lru.pop_first() else { break };
            if let Some(e) = self.entries.remove(&oldest) {
                self.bytes -= e.bytes;
                self.counters.evictions += 1;
            }
        }
        true
    }

    fn over(&self) -> bool {
        self.entries.len() > self.limits.max_entries || self.bytes > self.limits.max_bytes
    }

    /// Removes every expired entry; how many.
    pub fn sweep(&mut self, now: Instant) -> usize {
        self.last_sweep = Some(now);
        let expired: Vec<String> =
            self.entries.iter().filter(|(_, e)| e.expires <= now).map(|(k, _)| k.clone()).collect();
        for key in &expired {
            self.remove(key);
        }
        self.counters.expirations += expired.len() as u64;
        expired.len()
    }

    /// Removes `key`; whether it was there.
    pub fn invalidate(&mut self, key: &str) -> bool {
        self.remove(key).is_some()
    }

    /// Removes every key starting with `prefix` (all of them for `""`); how many.
    pub fn invalidate_prefix(&mut self, prefix: &str) -> usize {
        let keys: Vec<String> = self.entries.keys().filter(|k| k.starts_with(prefix)).cloned().collect();
        for key in &keys {
            self.remove(key);
        }
        keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    const TTL: Duration = Duration::from_secs(10);

    fn cache(max_entries: usize, max_bytes: usize) -> Cache {
        Cache::new(Limits { max_entries, max_bytes })
    }

    #[test]
    fn a_value_is_served_until_its_ttl_runs_out_with_its_age() {
        let t0 = Instant::now();
        let mut c = cache(10, 1000);
        assert!(c.insert("k", json!({"v": 1}), TTL, t0));
        assert_eq!(c.get("k", t0 + Duration::from_secs(4)), Some((json!({"v": 1}), Duration::from_secs(4))));
        assert_eq!(c.get("k", t0 + TTL), None);
        assert_eq!(c.len(), 0);
        assert_eq!(c.counters(), Counters { hits: 1, misses: 1, evictions: 0, expirations: 1 });
    }

    #[test]
    fn the_least_recently_used_entry_goes_first_when_full() {
        let t0 = Instant::now();
        let mut c = cache(2, 1000);
        c.insert("a", json!(1), TTL, t0);
        c.insert("b", json!(2), TTL, t0);
        // Reading a makes b the least recently used.
        assert!(c.get("a", t0).is_some());
        c.insert("c", json!(3), TTL, t0);
        assert_eq!(c.peek("b", t0), None);
        assert!(c.peek("a", t0).is_some() && c.peek("c", t0).is_some());
        assert_eq!(c.counters().evictions, 1);
    }

    #[test]
    fn the_byte_bound_evicts_and_a_value_over_it_alone_is_not_cached() {
        let t0 = Instant::now();
        let mut c = cache(100, 20);
        // "a" + "\"xxxxxxxxx\"" = 12 bytes each.
        c.insert("a", json!("xxxxxxxxx"), TTL, t0);
        assert_eq!(c.bytes(), 12);
        c.insert("b", json!("xxxxxxxxx"), TTL, t0);
        assert_eq!((c.len(), c.bytes()), (1, 12));
        assert!(c.peek("b", t0).is_some());
        assert!(!c.insert("huge", json!("x".repeat(50)), TTL, t0));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn expired_entries_are_swept_before_live_ones_are_evicted() {
        let t0 = Instant::now();
        let mut c = cache(2, 1000);
        c.insert("short", json!(1), Duration::from_secs(1), t0);
        c.insert("long", json!(2), TTL, t0);
        c.insert("new", json!(3), TTL, t0 + Duration::from_secs(2));
        assert!(c.peek("long", t0 + Duration::from_secs(2)).is_some());
        assert_eq!(c.counters(), Counters { hits: 0, misses: 0, evictions: 0, expirations: 1 });
    }

    #[test]
    fn replacing_a_key_keeps_one_entry_and_counts_its_bytes_once() {
        let t0 = Instant::now();
        let mut c = cache(10, 1000);
        c.insert("k", json!("aaaa"), TTL, t0);
        c.insert("k", json!("bb"), TTL, t0);
        assert_eq!((c.len(), c.bytes()), (1, 5));
    }

    #[test]
    fn invalidation_by_key_and_by_prefix() {
        let t0 = Instant::now();
        let mut c = cache(10, 1000);
        for k in ["web:a", "web:b", "db:a"] {
            c.insert(k, json!(k), TTL, t0);
        }
        assert!(c.invalidate("db:a"));
        assert!(!c.invalidate("db:a"));
        assert_eq!(c.invalidate_prefix("web:"), 2);
        assert!(c.is_empty() && c.bytes() == 0);
        c.insert("x", json!(1), TTL, t0);
        assert_eq!(c.invalidate_prefix(""), 1);
    }
}
