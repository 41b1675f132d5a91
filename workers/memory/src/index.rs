//! One realm's in-process index: the memories, their BM25 rows, their vectors, and what
//! filters and duplicate detection need. It is a cache of state, rebuilt from it on start.
//!
//! Rules it keeps:
//! - Every memory has one row, shared by the keyword index and the vector matrix;
//!   rows of removed memories are reused.
//! - All vectors come from one embedding model ([`RealmIndex::model`]). A vector of another
//!   model or dimension is not stored: its memory waits to be embedded again, like one stored
//!   while the embedding worker was away. [`RealmIndex::switch_model`] drops every vector when
//!   the embedding worker's model changes.
//! - `embedded` on each memory says whether its row holds a vector, and nothing else.
//! - A recall's candidates are the best keyword matches and the nearest vectors (each list
//!   `max(4k, 40)` long, filters applied inside both), every candidate with both of its signals
//!   where they exist: a keyword match gets its cosine; a vector match that was not among the
//!   keyword matches gets BM25 0.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use crate::error::MemoryError;
use crate::keyword::Keyword;
use crate::rank::Candidate;
use crate::text::{normalised, terms};
use crate::vector::Matrix;
use crate::{Memory, vector};

/// The agent token of realm-wide memories.
const NO_AGENT: u32 = 0;

/// The agent token of a free row.
const FREE: u32 = u32::MAX;

/// Names to small numbers, for the filter columns.
#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<String, u32>,
}

impl Interner {
    /// The number of `name`, assigning the next one (from 1) when it is new.
    fn intern(&mut self, name: &str) -> u32 {
        let next = u32::try_from(self.ids.len() + 1).unwrap_or(FREE - 1);
        *self.ids.entry(name.to_string()).or_insert(next)
    }

    /// The number of `name`, if it was ever interned.
    fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }
}

/// One indexed memory.
#[derive(Debug)]
struct Entry {
    memory: Memory,
    tags: Vec<u32>,
    text_key: u64,
}

/// A memory and its vector as `(model, vector)`, for [`RealmIndex::load`].
pub type Loaded = (Memory, Option<(String, Vec<f32>)>);

/// What happens to a memory's vector on [`RealmIndex::upsert`].
#[derive(Debug, Clone, PartialEq)]
pub enum VectorChange {
    /// Keep the vector the memory has (none for a new memory).
    Keep,
    /// Store this vector of this model.
    Set {
        /// The model that made it.
        model: String,
        /// The unit vector.
        vector: Vec<f32>,
    },
    /// Drop the vector (the text changed and no new one could be made).
    Clear,
}

/// A recall as the index runs it.
#[derive(Debug, Clone, Copy)]
pub struct Search<'a> {
    /// The query's terms ([`crate::text::terms`]).
    pub terms: &'a [String],
    /// The query's vector, of [`Search::model`].
    pub vector: Option<&'a [f32]>,
    /// The model of `vector`.
    pub model: Option<&'a str>,
    /// Only this agent's memories and the realm-wide ones.
    pub agent: Option<&'a str>,
    /// Only memories with every one of these tags.
    pub tags: &'a [String],
    /// How many memories the recall returns.
    pub k: usize,
}

/// What a search found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// The candidates, unranked.
    pub candidates: Vec<Candidate>,
    /// Whether vectors took part (the query had a vector of the index's model).
    pub semantic: bool,
}

/// One realm's index.
pub struct RealmIndex {
    realm: String,
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    by_id: HashMap<String, u32>,
    row_agent: Vec<u32>,
    by_text: HashMap<(u32, u64), Vec<u32>>,
    agents: Interner,
    tags: Interner,
    keyword: Keyword,
    vectors: Matrix,
    model: Option<String>,
}

impl RealmIndex {
    /// An empty index for `realm`.
    pub fn new(realm: &str) -> Result<Self, MemoryError> {
        Ok(Self {
            realm: realm.to_string(),
            entries: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            row_agent: Vec::new(),
            by_text: HashMap::new(),
            agents: Interner::default(),
            tags: Interner::default(),
            keyword: Keyword::new(),
            vectors: Matrix::new(),
            model: None,
        })
    }

    /// The realm it indexes.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// How many memories it holds.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The embedding model of its vectors, once it has had one.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// How many memories have a vector.
    pub fn embedded(&self) -> usize {
        self.vectors.count()
    }

    /// Bytes the vectors take.
    pub fn vector_bytes(&self) -> usize {
        self.vectors.bytes()
    }

    /// The memory `id`.
    pub fn get(&self, id: &str) -> Option<&Memory> {
        self.by_id.get(id).and_then(|&row| self.entry(row)).map(|e| &e.memory)
    }

    /// Every memory, in row order.
    pub fn memories(&self) -> impl Iterator<Item = &Memory> {
        self.entries.iter().flatten().map(|e| &e.memory)
    }

    /// Memories per agent (`""` for realm-wide ones).
    pub fn agent_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for m in self.memories() {
            *counts.entry(m.agent.clone().unwrap_or_default()).or_insert(0) += 1;
        }
        counts
    }

    /// The ids and texts of the memories waiting for a vector, oldest first, at most `limit`.
    pub fn pending(&self, limit: usize) -> Vec<(String, String)> {
        let mut pending: Vec<&Memory> = self.memories().filter(|m| !m.embedded).collect();
        pending.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then_with(|| a.id.cmp(&b.id)));
        pending.into_iter().take(limit).map(|m| (m.id.clone(), m.text.clone())).collect()
    }

    /// How many memories wait for a vector.
    pub fn pending_count(&self) -> usize {
        self.len() - self.vectors.count()
    }

    fn entry(&self, row: u32) -> Option<&Entry> {
        self.entries.get(row as usize).and_then(Option::as_ref)
    }

    fn text_key(text: &str) -> u64 {
        let mut h = DefaultHasher::new();
        normalised(text).hash(&mut h);
        h.finish()
    }

    fn agent_token(&mut self, agent: Option<&str>) -> u32 {
        agent.map_or(NO_AGENT, |a| self.agents.intern(a))
    }

    /// Adds `memory`, or replaces the memory of its id, and applies `change` to its vector.
    /// The memory's realm is set to the index's and `embedded` to whether it has a vector.
    pub fn upsert(&mut self, mut memory: Memory, change: VectorChange) -> Result<Memory, MemoryError> {
        memory.realm.clone_from(&self.realm);
        let row = match self.by_id.get(&memory.id).copied() {
            Some(row) => {
                self.unlink(row)?;
                row
            }
            None => self.allocate(),
        };
        let agent = self.agent_token(memory.agent.as_deref());
        let tags: Vec<u32> = memory.tags.iter().map(|t| self.tags.intern(t)).collect();
        self.keyword.insert(row, &terms(&memory.text));
        match change {
            VectorChange::Keep => {}
            VectorChange::Clear => self.vectors.clear(row),
            VectorChange::Set { model, vector } => self.set_vector_row(row, &model, &vector),
        }
        memory.embedded = self.vectors.has(row);
        let text_key = Self::text_key(&memory.text);
        self.by_text.entry((agent, text_key)).or_default().push(row);
        self.by_id.insert(memory.id.clone(), row);
        self.row_agent[row as usize] = agent;
        let stored = memory.clone();
        self.entries[row as usize] = Some(Entry { memory, tags, text_key });
        Ok(stored)
    }

    /// Stores a vector at `row` when it fits the index's model (see the module rules).
    fn set_vector_row(&mut self, row: u32, model: &str, v: &[f32]) {
        if self.model.as_deref() != Some(model) {
            if self.vectors.count() > 0 && !(self.vectors.count() == 1 && self.vectors.has(row)) {
                return;
            }
            self.vectors.reset();
            self.model = Some(model.to_string());
        }
        if !self.vectors.set(row, v) {
            self.vectors.clear(row);
        }
    }

    /// Gives memory `id` a vector of `model`; `false` when the memory is gone or the vector
    /// does not fit the index's model.
    pub fn set_vector(&mut self, id: &str, model: &str, v: &[f32]) -> bool {
        let Some(row) = self.by_id.get(id).copied() else { return false };
        self.set_vector_row(row, model, v);
        let has = self.vectors.has(row);
        if let Some(Some(e)) = self.entries.get_mut(row as usize) {
            e.memory.embedded = has;
        }
        has
    }

    /// Drops every vector and adopts `model`: every memory then waits to be embedded again.
    pub fn switch_model(&mut self, model: &str) {
        self.vectors.reset();
        self.model = Some(model.to_string());
        for e in self.entries.iter_mut().flatten() {
            e.memory.embedded = false;
        }
    }

    fn allocate(&mut self) -> u32 {
        if let Some(row) = self.free.pop() {
            return row;
        }
        let row = u32::try_from(self.entries.len()).unwrap_or(FREE - 1);
        self.entries.push(None);
        self.row_agent.push(FREE);
        row
    }

    /// Takes `row` out of the keyword index and the duplicate map, keeping its vector.
    fn unlink(&mut self, row: u32) -> Result<(), MemoryError> {
        let Some(entry) = self.entries.get_mut(row as usize).and_then(Option::take) else { return Ok(()) };
        self.keyword.remove(row, &terms(&entry.memory.text));
        let agent = self.row_agent[row as usize];
        if let Some(rows) = self.by_text.get_mut(&(agent, entry.text_key)) {
            rows.retain(|&r| r != row);
            if rows.is_empty() {
                self.by_text.remove(&(agent, entry.text_key));
            }
        }
        self.row_agent[row as usize] = FREE;
        Ok(())
    }

    /// Removes memory `id`; the memory when it was there.
    pub fn remove(&mut self, id: &str) -> Result<Option<Memory>, MemoryError> {
        let Some(row) = self.by_id.remove(id) else { return Ok(None) };
        let memory = self.entry(row).map(|e| e.memory.clone());
        self.unlink(row)?;
        self.vectors.clear(row);
        self.free.push(row);
        Ok(memory)
    }

    /// Notes that a recall returned `ids` at `now_ms`; the updated memories.
    pub fn mark_recalled(&mut self, ids: &[String], now_ms: u64) -> Vec<Memory> {
        let mut updated = Vec::new();
        for id in ids {
            let Some(&row) = self.by_id.get(id) else { continue };
            if let Some(Some(e)) = self.entries.get_mut(row as usize) {
                e.memory.recalls += 1;
                e.memory.last_recalled_ms = Some(now_ms);
                updated.push(e.memory.clone());
            }
        }
        updated
    }

    /// The memory of the same agent that `text` (with `vector` of `model`) duplicates: one
    /// with the same normalised text, else the nearest with a cosine of at least `threshold`.
    pub fn find_duplicate(
        &self,
        agent: Option<&str>,
        text: &str,
        vector: Option<(&str, &[f32])>,
        threshold: f64,
    ) -> Option<&Memory> {
        let agent = match agent {
            None => NO_AGENT,
            Some(a) => self.agents.get(a)?,
        };
        if let Some(rows) = self.by_text.get(&(agent, Self::text_key(text))) {
            let norm = normalised(text);
            if let Some(e) = rows.iter().filter_map(|&r| self.entry(r)).find(|e| normalised(&e.memory.text) == norm) {
                return Some(&e.memory);
            }
        }
        let (model, v) = vector?;
        if self.model.as_deref() != Some(model) {
            return None;
        }
        let q = self.vectors.query(v)?;
        let best = self.vectors.top(&q, 1, |r| self.row_agent[r as usize] == agent).into_iter().next()?;
        (f64::from(best.score) >= threshold).then(|| self.entry(best.row).map(|e| &e.memory)).flatten()
    }

    /// The approximate cosine of two memories; `None` when either has no vector.
    pub fn similarity(&self, a: &str, b: &str) -> Option<f32> {
        self.vectors.similarity(*self.by_id.get(a)?, *self.by_id.get(b)?)
    }

    /// The candidates of a recall (see the module rules).
    pub fn search(&self, s: &Search<'_>) -> Result<Found, MemoryError> {
        let mut tag_tokens = Vec::with_capacity(s.tags.len());
        for t in s.tags {
            match self.tags.get(t) {
                Some(tok) => tag_tokens.push(tok),
                // No memory ever had this tag: nothing can carry them all.
                None => return Ok(Found::default()),
            }
        }
        let allowed: Option<Vec<u32>> = s.agent.map(|a| {
            let mut allowed = vec![NO_AGENT];
            allowed.extend(self.agents.get(a));
            allowed
        });
        let pool = (s.k * 4).max(40);
        let keep = |r: u32| {
            let agent_ok = allowed.as_ref().is_none_or(|a| a.contains(&self.row_agent[r as usize]));
            agent_ok
                && (tag_tokens.is_empty()
                    || self.entry(r).is_some_and(|e| tag_tokens.iter().all(|t| e.tags.contains(t))))
        };
        let hits = self.keyword.search(s.terms, keep, pool);
        let query = match (s.vector, s.model) {
            (Some(v), Some(model)) if self.model.as_deref() == Some(model) => self.vectors.query(v),
            _ => None,
        };
        let semantic = query.is_some();

        let mut found: BTreeMap<u32, (f64, Option<f64>)> = BTreeMap::new();
        for &(row, bm25) in &hits.rows {
            let cosine = query.as_ref().and_then(|q| self.vectors.score(q, row)).map(f64::from);
            found.insert(row, (bm25, cosine));
        }
        if let Some(q) = &query {
            for hit in self.vectors.top(q, pool, keep) {
                found.entry(hit.row).or_insert((0.0, Some(f64::from(hit.score))));
            }
        }
        let candidates = found
            .into_iter()
            .filter_map(|(row, (bm25, cosine))| {
                let m = &self.entry(row)?.memory;
                let keyword = if hits.idf_sum > 0.0 { bm25 / hits.idf_sum } else { 0.0 };
                Some(Candidate {
                    id: m.id.clone(),
                    bm25,
                    keyword,
                    cosine,
                    importance: m.importance,
                    updated_ms: m.updated_ms,
                    created_ms: m.created_ms,
                })
            })
            .collect();
        Ok(Found { candidates, semantic })
    }

    /// Loads many memories at once, in one keyword transaction: what a rebuild from state and
    /// the benchmark use. After an error the index is incomplete and must be dropped.
    pub fn load(&mut self, items: Vec<Loaded>) -> Result<(), MemoryError> {
        for (memory, v) in items {
            let change = match v {
                Some((model, vector)) => VectorChange::Set { model, vector },
                None => VectorChange::Keep,
            };
            self.upsert(memory, change)?;
        }
        self.vectors.shrink();
        Ok(())
    }
}

/// A vector as read from state: decoded, or why it could not be.
pub fn decode_embedding(e: &crate::StoredEmbedding) -> Result<Vec<f32>, String> {
    vector::decode(&e.vector, e.dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rank::{Weights, fuse};
    use crate::vector::tests::unit;
    use pretty_assertions::assert_eq;

    const NOW: u64 = 1_000 * 86_400_000;

    fn mem(id: &str, text: &str, agent: Option<&str>, tags: &[&str]) -> Memory {
        Memory {
            id: id.into(),
            text: text.into(),
            realm: "elsewhere".into(),
            agent: agent.map(str::to_string),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            importance: 0.5,
            created_ms: NOW,
            updated_ms: NOW,
            last_recalled_ms: None,
            recalls: 0,
            merged_from: vec![],
            embedded: true,
        }
    }

    fn set(model: &str, v: Vec<f32>) -> VectorChange {
        VectorChange::Set { model: model.into(), vector: v }
    }

    fn recall(
        ix: &RealmIndex,
        query: &str,
        vector: Option<&[f32]>,
        agent: Option<&str>,
        tags: &[String],
    ) -> Vec<String> {
        let terms = terms(query);
        let s = Search { terms: &terms, vector, model: Some("m"), agent, tags, k: 5 };
        let found = ix.search(&s).unwrap();
        fuse(found.candidates, found.semantic, NOW, &Weights::default(), 5).into_iter().map(|r| r.id).collect()
    }

    #[test]
    fn an_upsert_takes_the_realm_of_the_index_and_reports_its_vector() {
        let mut ix = RealmIndex::new("default").unwrap();
        let m = ix.upsert(mem("a", "alpha", None, &[]), VectorChange::Keep).unwrap();
        assert_eq!((m.realm.as_str(), m.embedded), ("default", false));
        let m = ix.upsert(mem("b", "beta", None, &[]), set("m", unit(1, 8))).unwrap();
        assert!(m.embedded);
        assert_eq!((ix.len(), ix.embedded(), ix.pending_count()), (2, 1, 1));
        assert_eq!(ix.pending(10), vec![("a".to_string(), "alpha".to_string())]);
    }

    #[test]
    fn replacing_a_memory_reindexes_its_text_and_keeps_its_vector() {
        let mut ix = RealmIndex::new("default").unwrap();
        let v = unit(3, 8);
        ix.upsert(mem("a", "old words", None, &[]), set("m", v.clone())).unwrap();
        ix.upsert(mem("a", "new words", None, &["t"]), VectorChange::Keep).unwrap();
        assert_eq!(ix.len(), 1);
        assert_eq!(recall(&ix, "old", None, None, &[]), Vec::<String>::new());
        assert_eq!(recall(&ix, "new", None, None, &["t".into()]), vec!["a"]);
        assert_eq!(recall(&ix, "zzz", Some(&v), None, &[]), vec!["a"]);
    }

    #[test]
    fn removed_rows_are_reused_and_forgotten_everywhere() {
        let mut ix = RealmIndex::new("default").unwrap();
        ix.upsert(mem("a", "alpha", None, &[]), set("m", unit(1, 8))).unwrap();
        assert_eq!(ix.remove("a").unwrap().map(|m| m.id), Some("a".to_string()));
        assert_eq!(ix.remove("a").unwrap(), None);
        ix.upsert(mem("b", "beta", None, &[]), VectorChange::Keep).unwrap();
        assert_eq!(ix.entries.len(), 1);
        assert_eq!(ix.embedded(), 0);
        assert_eq!(recall(&ix, "alpha", Some(&unit(1, 8)), None, &[]), Vec::<String>::new());
        assert!(ix.find_duplicate(None, "alpha", None, 0.9).is_none());
    }

    #[test]
    fn an_agent_filter_keeps_that_agents_and_realm_wide_memories() {
        let mut ix = RealmIndex::new("default").unwrap();
        let v = unit(5, 8);
        ix.upsert(mem("mine", "shared word", Some("a1"), &[]), set("m", v.clone())).unwrap();
        ix.upsert(mem("theirs", "shared word", Some("a2"), &[]), set("m", v.clone())).unwrap();
        ix.upsert(mem("realm", "shared word", None, &[]), set("m", v.clone())).unwrap();
        let mut found = recall(&ix, "shared", Some(&v), Some("a1"), &[]);
        found.sort();
        assert_eq!(found, vec!["mine", "realm"]);
        assert_eq!(recall(&ix, "shared", Some(&v), Some("nobody"), &[]), vec!["realm"]);
        assert_eq!(recall(&ix, "shared", Some(&v), None, &[]).len(), 3);
    }

    #[test]
    fn a_tag_filter_requires_every_tag_in_both_lists() {
        let mut ix = RealmIndex::new("default").unwrap();
        let v = unit(5, 8);
        ix.upsert(mem("both", "word", None, &["x", "y"]), set("m", v.clone())).unwrap();
        ix.upsert(mem("one", "word", None, &["x"]), set("m", v.clone())).unwrap();
        let xy = ["x".to_string(), "y".to_string()];
        assert_eq!(recall(&ix, "word", Some(&v), None, &xy), vec!["both"]);
        assert_eq!(recall(&ix, "unrelated", Some(&v), None, &xy), vec!["both"]);
        assert_eq!(recall(&ix, "word", Some(&v), None, &["nope".to_string()]), Vec::<String>::new());
    }

    #[test]
    fn duplicates_are_the_same_normalised_text_or_a_close_vector_of_the_same_agent() {
        let mut ix = RealmIndex::new("default").unwrap();
        let v = unit(9, 16);
        ix.upsert(mem("a", "The user prefers tabs.", Some("a1"), &[]), set("m", v.clone())).unwrap();
        assert_eq!(ix.find_duplicate(Some("a1"), "the user PREFERS tabs", None, 0.92).map(|m| &m.id[..]), Some("a"));
        assert!(ix.find_duplicate(Some("a2"), "the user prefers tabs", None, 0.92).is_none());
        assert!(ix.find_duplicate(None, "the user prefers tabs", None, 0.92).is_none());
        // A slightly perturbed vector is a duplicate; a different one is not.
        let near: Vec<f32> = v.iter().zip(unit(10, 16)).map(|(a, b)| a + 0.05 * b).collect();
        let near = vector::normalised(&near).unwrap();
        assert_eq!(
            ix.find_duplicate(Some("a1"), "other words", Some(("m", &near)), 0.92).map(|m| &m.id[..]),
            Some("a")
        );
        assert!(ix.find_duplicate(Some("a1"), "other words", Some(("m", &unit(11, 16))), 0.92).is_none());
        assert!(ix.find_duplicate(Some("a1"), "other words", Some(("other-model", &near)), 0.92).is_none());
    }

    #[test]
    fn a_vector_of_another_model_waits_and_switching_models_drops_all_vectors() {
        let mut ix = RealmIndex::new("default").unwrap();
        ix.upsert(mem("a", "alpha", None, &[]), set("m", unit(1, 8))).unwrap();
        let b = ix.upsert(mem("b", "beta", None, &[]), set("m2", unit(2, 8))).unwrap();
        assert!(!b.embedded);
        assert_eq!(ix.model(), Some("m"));
        ix.switch_model("m2");
        assert_eq!((ix.embedded(), ix.pending_count()), (0, 2));
        assert!(ix.memories().all(|m| !m.embedded));
        assert!(ix.set_vector("b", "m2", &unit(2, 8)));
        assert!(!ix.set_vector("gone", "m2", &unit(2, 8)));
        assert_eq!(ix.get("b").map(|m| m.embedded), Some(true));
    }

    #[test]
    fn the_first_vector_of_a_model_may_replace_a_lone_vector_of_its_own_row() {
        let mut ix = RealmIndex::new("default").unwrap();
        ix.upsert(mem("a", "alpha", None, &[]), set("m", unit(1, 8))).unwrap();
        let a = ix.upsert(mem("a", "alpha", None, &[]), set("m2", unit(1, 4))).unwrap();
        assert!(a.embedded);
        assert_eq!(ix.model(), Some("m2"));
    }

    #[test]
    fn a_bulk_load_indexes_everything_like_single_upserts() {
        let mut ix = RealmIndex::new("default").unwrap();
        let items: Vec<_> = (0..5000)
            .map(|i| (mem(&format!("m{i}"), &format!("note {i}"), None, &[]), Some(("m".to_string(), unit(i, 8)))))
            .collect();
        ix.load(items).unwrap();
        assert_eq!((ix.len(), ix.embedded()), (5000, 5000));
        assert_eq!(recall(&ix, "4321", None, None, &[]), vec!["m4321"]);
    }

    #[test]
    fn recall_marks_update_counts_and_times() {
        let mut ix = RealmIndex::new("default").unwrap();
        ix.upsert(mem("a", "alpha", None, &[]), VectorChange::Keep).unwrap();
        let updated = ix.mark_recalled(&["a".into(), "gone".into()], NOW + 5);
        assert_eq!(updated.len(), 1);
        assert_eq!((updated[0].recalls, updated[0].last_recalled_ms), (1, Some(NOW + 5)));
    }
}
