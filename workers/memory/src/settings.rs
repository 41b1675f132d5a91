//! The `[memory]` section of `agentos.toml`.
//!
//! ```toml
//! [memory]
//! max_per_agent = 10000          # cap per agent (and for realm-wide memories), enforced on store
//! dedup_threshold = 0.92         # cosine from which a new memory merges into an existing one
//! consolidate_threshold = 0.85   # default cosine for memory::consolidate
//! recency_half_life_days = 30    # recency halves every this many days
//! reembed_interval_secs = 60     # how often memories stored without a vector are retried
//! ```

use agentos_kit::ErrorCode;
use serde::{Deserialize, Serialize};

use crate::error::MemoryError;

/// The memory worker's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The most memories one agent (and the realm-wide group) keeps; the store that goes over
    /// it evicts the lowest retention. 10 000 keeps one agent's recall well inside its
    /// latency budget (the benchmark measures 100 000 per realm).
    pub max_per_agent: usize,
    /// The cosine similarity from which a stored text merges into an existing memory of the
    /// same agent. 0.92 for MiniLM: rephrasings of one fact land above it, related but
    /// different facts below.
    pub dedup_threshold: f64,
    /// The default cosine similarity for `memory::consolidate`.
    pub consolidate_threshold: f64,
    /// Days after which recency halves.
    pub recency_half_life_days: f64,
    /// Seconds between passes that embed memories stored while embeddings were unavailable.
    pub reembed_interval_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_per_agent: 10_000,
            dedup_threshold: 0.92,
            consolidate_threshold: 0.85,
            recency_half_life_days: 30.0,
            reembed_interval_secs: 60,
        }
    }
}

impl Settings {
    /// The `[memory]` section of the config file (defaults without one), checked.
    pub fn load() -> Result<Self, agentos_kit::WorkerError> {
        let settings: Self = agentos_kit::config::section("memory")?;
        settings.check().map_err(|e| e.to_worker_error())?;
        Ok(settings)
    }

    /// Checks the ranges; the error names the key and its range.
    pub fn check(&self) -> Result<(), MemoryError> {
        let bad = |key: &str, range: &str| Err(MemoryError::Invalid(format!("[memory] {key} must be {range}")));
        if self.max_per_agent == 0 {
            return bad("max_per_agent", "at least 1");
        }
        for (key, value) in
            [("dedup_threshold", self.dedup_threshold), ("consolidate_threshold", self.consolidate_threshold)]
        {
            if !(0.0..=1.0).contains(&value) {
                return bad(key, "a number from 0 to 1");
            }
        }
        if self.recency_half_life_days.is_nan() || self.recency_half_life_days <= 0.0 {
            return bad("recency_half_life_days", "a positive number of days");
        }
        if self.reembed_interval_secs == 0 {
            return bad("reembed_interval_secs", "at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_section_is_read_over_the_defaults_and_checked() {
        let s: Settings = agentos_kit::config::section_in("[memory]\nmax_per_agent = 50\n", "memory").unwrap();
        assert_eq!(s, Settings { max_per_agent: 50, ..Settings::default() });
        assert_eq!(s.check(), Ok(()));
        let bad = Settings { dedup_threshold: 1.5, ..Settings::default() };
        assert_eq!(bad.check().unwrap_err().to_string(), "[memory] dedup_threshold must be a number from 0 to 1");
        let err = agentos_kit::config::section_in::<Settings>("[memory]\nmax_per_agnet = 1\n", "memory").unwrap_err();
        assert!(err.contains("unknown field `max_per_agnet`"), "{err}");
    }
}
