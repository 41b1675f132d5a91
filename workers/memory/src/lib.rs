//! agentos-worker-memory: long-term memory for agents (`memory::*`) with hybrid recall.
//!
//! A memory is a short text an agent (or a person) wants found again later, with its realm, an
//! optional agent, tags and an importance. Recall ranks memories by BM25 keyword relevance
//! ([`keyword`]: FTS5's formula over an in-memory inverted index) and by the cosine similarity of sentence embeddings (the
//! `embedding` worker's `all-minilm-l6-v2`, [`vector`]), fused with recency and importance
//! ([`rank`]).
//!
//! The crate is split by concept:
//! - [`text`]: terms for BM25, normalised text for duplicates, joining merged texts;
//! - [`vector`]: the stored form of vectors and the quantised in-process matrix;
//! - [`keyword`]: the BM25 inverted index;
//! - [`index`]: one realm's in-process index (records, keyword index, vectors, filters);
//! - [`rank`]: the fusion formula (pure);
//! - [`validate`]: request fields, cleaned or refused with the fix;
//! - [`policy`]: duplicates, consolidation clusters and the eviction order (pure);
//! - [`service`]: the verbs over a [`service::Backend`] (state and embeddings), with the
//!   per-realm locking, lazy loading and re-embedding;
//! - [`worker()`]: the engine glue and the `/v1/memory` routes.
//!
//! Rules it keeps:
//! - The engine's state is the truth; the indexes are a cache rebuilt from it. Memories live in
//!   the realm-scoped state scopes `realm:<realm>:memory:<xx>` ([`scope_for`]), 64 shards chosen
//!   by a hash of the id, each value a [`StoredMemory`] whose `id` is its key (the realm
//!   convention, so realm export, import and delete carry memories along). Shards keep each
//!   `state::list` answer far below the 16 MiB frame limit of the worker socket: one unsharded
//!   scope would reach it at about 7 000 memories with their vectors.
//! - Realms are strictly isolated: every verb works on one realm (`default` when none is
//!   named, else one the realm worker created: `NOT_FOUND` otherwise), and each realm has its
//!   own index.
//! - Memory works without embeddings: a memory stored while the embedding worker is missing is
//!   kept with `embedded: false` and embedded later; recall then ranks by keywords, recency and
//!   importance and says so (`semantic: false` and a `note`).

pub mod error;
pub mod index;
pub mod keyword;
pub mod policy;
pub mod rank;
pub mod register;
pub mod service;
pub mod settings;
pub mod text;
pub mod validate;
pub mod vector;

use serde::{Deserialize, Serialize};

pub use error::MemoryError;
pub use register::{MANIFEST, register, run, worker};
pub use service::{Backend, Embeddings, Memories};
pub use settings::Settings;

/// The realm used when a request names none.
pub const DEFAULT_REALM: &str = agentos_worker_realm::DEFAULT_REALM;

/// How many state scopes one realm's memories are spread over.
pub const SHARDS: u64 = 64;

/// The longest memory text, in characters. The embedding model reads only the first ~256
/// word pieces anyway; the rest is still found by keywords.
pub const TEXT_MAX: usize = 16_000;

/// The most tags one memory may carry.
pub const TAGS_MAX: usize = 32;

/// The most memories one recall returns.
pub const K_MAX: usize = 50;

/// How many memories a recall returns when `k` is left out.
pub const K_DEFAULT: usize = 5;

/// The importance of a memory stored without one.
pub const IMPORTANCE_DEFAULT: f64 = 0.5;

/// One memory, as every verb answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// The id, unique in its realm (`mem-` and 16 hex digits).
    pub id: String,
    /// What is remembered.
    pub text: String,
    /// The realm it belongs to.
    pub realm: String,
    /// The agent it belongs to; `None` for a realm-wide memory every agent of the realm sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Lower-case tags, sorted.
    #[serde(default)]
    pub tags: Vec<String>,
    /// How much it matters, 0 to 1.
    pub importance: f64,
    /// When it was first stored (Unix ms).
    pub created_ms: u64,
    /// When its text, tags or importance last changed (Unix ms); recency counts from here.
    pub updated_ms: u64,
    /// When a recall last returned it (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_recalled_ms: Option<u64>,
    /// How many recalls returned it.
    #[serde(default)]
    pub recalls: u64,
    /// The ids of the memories merged into this one (duplicates and consolidations).
    #[serde(default)]
    pub merged_from: Vec<String>,
    /// Whether it has an embedding of the current model (else it waits to be embedded).
    #[serde(default)]
    pub embedded: bool,
}

/// A memory's embedding as stored next to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEmbedding {
    /// The model that made it.
    pub model: String,
    /// Its dimension.
    pub dims: usize,
    /// Base64 of its little-endian `f32`s ([`vector::encode`]).
    pub vector: String,
}

/// What one state value holds: the memory and, once embedded, its vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMemory {
    /// The memory.
    #[serde(flatten)]
    pub memory: Memory,
    /// Its embedding, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<StoredEmbedding>,
}

/// The state scope that holds memory `id` of `realm`: `realm:<realm>:memory:<xx>`, where `xx`
/// is the FNV-1a hash of the id modulo [`SHARDS`], in hex.
pub fn scope_for(realm: &str, id: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{}{:02x}", scope_prefix(realm), h % SHARDS)
}

/// The prefix of every memory scope of `realm`: `realm:<realm>:memory:`.
pub fn scope_prefix(realm: &str) -> String {
    format!("{}:", agentos_worker_realm::scope_name(realm, "memory"))
}

/// `memory::store`: remember a text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreRequest {
    /// What to remember (1 to 16 000 characters).
    pub text: String,
    /// The realm (default `default`); it must exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// The agent it belongs to; left out, it is realm-wide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Tags (case-insensitive, at most 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// How much it matters, 0 to 1 (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<f64>,
}

/// What `memory::store` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    /// The memory as stored (the older one when `merged`).
    pub memory: Memory,
    /// Whether the text was a near-duplicate and was merged into an existing memory.
    pub merged: bool,
}

/// `memory::recall`: find memories about a query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallRequest {
    /// What to look for.
    pub query: String,
    /// The realm (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Only this agent's memories and the realm-wide ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Only memories carrying every one of these tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// How many to return (default 5, at most 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
}

/// The parts of a recalled memory's score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// BM25 of the query's terms (0 when no term matched).
    pub bm25: f64,
    /// Cosine similarity of the embeddings; `null` when it was not computed (no semantic
    /// search, or the memory is not embedded yet).
    pub cosine: Option<f64>,
    /// `0.5^(age / half-life)` from `updated_ms`.
    pub recency: f64,
    /// The memory's importance.
    pub importance: f64,
}

/// One recalled memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recalled {
    /// The memory's id.
    pub id: String,
    /// Its text.
    pub text: String,
    /// The fused score (higher is better; see [`rank`]).
    pub score: f64,
    /// What the score is made of.
    pub scores: Scores,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its agent, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// When it was stored.
    pub created_ms: u64,
}

/// What `memory::recall` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recall {
    /// The memories, best first.
    pub memories: Vec<Recalled>,
    /// Whether embeddings took part in the ranking.
    pub semantic: bool,
    /// Why recall was not semantic, or what else limited it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `memory::get` and `memory::forget`: one memory by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryRef {
    /// The memory's id.
    pub id: String,
    /// Its realm (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
}

/// What `memory::forget` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forgotten {
    /// The id that was deleted.
    pub forgotten: String,
}

/// `memory::consolidate`: merge clusters of related memories.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsolidateRequest {
    /// The realm (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Only this agent's memories (left out: every agent's, and the realm-wide ones, each
    /// group on its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The cosine similarity from which two memories are related (default 0.85).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
}

/// One merge a consolidation made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Merge {
    /// The memory that was kept, with the merged text.
    pub id: String,
    /// The memories merged into it (now deleted).
    pub merged_from: Vec<String>,
}

/// What `memory::consolidate` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consolidated {
    /// The merges made.
    pub merged: Vec<Merge>,
    /// How many memories were compared.
    pub compared: usize,
    /// How many were left out because they have no embedding yet.
    pub not_embedded: usize,
}

/// `memory::evict`: delete what is old, unimportant or over the cap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvictRequest {
    /// The realm (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Only this agent's memories (left out: every group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The most memories an agent (and the realm-wide group) may keep (default: the
    /// `[memory] max_per_agent` setting, 10 000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_agent: Option<usize>,
    /// Evict memories not updated nor recalled for this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than_days: Option<f64>,
    /// Evict memories less important than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below_importance: Option<f64>,
}

/// What `memory::evict` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evicted {
    /// The ids deleted.
    pub evicted: Vec<String>,
}

/// `memory::stats`: counts for one realm.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsRequest {
    /// The realm (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
}

/// What `memory::stats` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// The realm.
    pub realm: String,
    /// How many memories it holds.
    pub memories: usize,
    /// How many of them are embedded.
    pub embedded: usize,
    /// How many wait for an embedding.
    pub pending_embedding: usize,
    /// Memories per agent (`""` for the realm-wide ones).
    pub agents: std::collections::BTreeMap<String, usize>,
    /// The embedding model of the stored vectors, once there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Bytes the vectors take in memory.
    pub vector_bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn a_memory_id_always_maps_to_the_same_of_64_shard_scopes() {
        let scope = scope_for("default", "mem-0123456789abcdef");
        assert_eq!(scope, scope_for("default", "mem-0123456789abcdef"));
        assert!(scope.starts_with("realm:default:memory:"), "{scope}");
        assert_eq!(scope.len(), "realm:default:memory:".len() + 2);
        let shards: std::collections::BTreeSet<String> =
            (0..2000).map(|i| scope_for("r", &format!("mem-{i:016x}"))).collect();
        assert_eq!(shards.len(), 64);
    }

    #[test]
    fn the_scope_prefix_of_one_realm_does_not_cover_another() {
        assert!(!scope_for("a-b", "x").starts_with(&scope_prefix("a")));
    }

    #[test]
    fn a_stored_memory_is_one_flat_object_keyed_by_id() {
        let stored = StoredMemory {
            memory: Memory {
                id: "mem-1".into(),
                text: "hi".into(),
                realm: "default".into(),
                agent: None,
                tags: vec![],
                importance: 0.5,
                created_ms: 1,
                updated_ms: 1,
                last_recalled_ms: None,
                recalls: 0,
                merged_from: vec![],
                embedded: true,
            },
            embedding: Some(StoredEmbedding { model: "m".into(), dims: 1, vector: vector::encode(&[1.0]) }),
        };
        let value = serde_json::to_value(&stored).unwrap();
        assert_eq!(
            value,
            json!({"id": "mem-1", "text": "hi", "realm": "default", "tags": [], "importance": 0.5, "created_ms": 1,
                   "updated_ms": 1, "recalls": 0, "merged_from": [], "embedded": true,
                   "embedding": {"model": "m", "dims": 1, "vector": "AACAPw=="}})
        );
        assert_eq!(serde_json::from_value::<StoredMemory>(value).unwrap(), stored);
    }

    #[test]
    fn the_recall_request_context_manager_sends_is_accepted() {
        let req: RecallRequest = serde_json::from_value(json!({"query": "q", "agent": "a1", "k": 5})).unwrap();
        assert_eq!(
            req,
            RecallRequest { query: "q".into(), agent: Some("a1".into()), k: Some(5), ..Default::default() }
        );
    }
}
