//! The memory verbs over a [`Backend`] (the engine's state and the embedding worker): the
//! async driver around the pure parts ([`crate::index`], [`crate::rank`], [`crate::policy`]).
//!
//! Rules it keeps:
//! - State is written first, the index second: an acknowledged store is in state even when
//!   the worker dies right after, and a failed write leaves the index as it was.
//! - Writes to one realm are serialised by that realm's write lock (stores, forgets, merges,
//!   evictions, recall counts, re-embedding), so read-modify-write of a record never loses an
//!   update. Recalls only take the index lock, for the few milliseconds a search lasts, on a
//!   blocking thread.
//! - A realm's index is built on first use from its state scopes and dropped when the realm's
//!   record changes (a `state` trigger on the `realms` scope calls `memory::realm_changed`):
//!   realm import and delete write memory scopes directly, so the next use rebuilds.
//! - Embeddings are best effort. A store without one is kept with `embedded: false`; a recall
//!   without one ranks by keywords and says why in `note`. Memories waiting for a vector are
//!   embedded by a background pass after a recall whose query could be embedded, and every
//!   `reembed_interval_secs`. After an embedding call times out, the worker does not ask again
//!   for [`EMBED_BACKOFF`], so a hung embedding worker cannot slow every recall down.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use agentos_kit::{WorkerError, codes};
use serde::Deserialize;
use serde_json::Value;

use crate::error::MemoryError;
use crate::index::{RealmIndex, Search, VectorChange, decode_embedding};
use crate::policy::{self, EvictRules};
use crate::rank::{Weights, fuse};
use crate::settings::Settings;
use crate::text::terms;
use crate::{
    ConsolidateRequest, Consolidated, EvictRequest, Evicted, Forgotten, Memory, MemoryRef, Merge, Recall,
    RecallRequest, Recalled, Stats, StatsRequest, StoreRequest, Stored, StoredEmbedding, StoredMemory, TEXT_MAX,
    scope_for, scope_prefix, validate, vector,
};

/// How long a store waits for its embedding. The first call may load the model; later ones
/// take tens of milliseconds.
pub const STORE_EMBED_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a recall waits for the query's embedding: context-manager gives the whole recall
/// 2 s, and a recall without embeddings is still useful.
pub const QUERY_EMBED_TIMEOUT: Duration = Duration::from_millis(1500);

/// How long a re-embedding batch may take (32 texts on one core take about a second).
pub const BATCH_EMBED_TIMEOUT: Duration = Duration::from_secs(60);

/// How many memories one re-embedding call carries.
pub const REEMBED_BATCH: usize = 32;

/// How long the worker stops asking a timed-out embedding worker.
pub const EMBED_BACKOFF: Duration = Duration::from_secs(30);

/// The state scope of realm records (owned by the realm worker).
const REALMS_SCOPE: &str = agentos_worker_realm::REALMS_SCOPE;

/// What `embedding::embed` answers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Embeddings {
    /// The model's name.
    pub model: String,
    /// The vectors' dimension.
    pub dims: usize,
    /// One unit vector per text, in order.
    pub vectors: Vec<Vec<f32>>,
}

/// What the memory verbs need from outside: state and embeddings. The worker implements it
/// over the engine ([`crate::register::IiiBackend`]); unit tests over memory.
pub trait Backend: Send + Sync + 'static {
    /// Every state scope name.
    fn scopes(&self) -> impl Future<Output = Result<Vec<String>, WorkerError>> + Send;
    /// Every value of `scope`.
    fn list(&self, scope: &str) -> impl Future<Output = Result<Vec<Value>, WorkerError>> + Send;
    /// The value at `scope`/`key`.
    fn get(&self, scope: &str, key: &str) -> impl Future<Output = Result<Option<Value>, WorkerError>> + Send;
    /// Stores `value` at `scope`/`key`.
    fn set(&self, scope: &str, key: &str, value: Value) -> impl Future<Output = Result<(), WorkerError>> + Send;
    /// Deletes `scope`/`key`; whether there was a value.
    fn delete(&self, scope: &str, key: &str) -> impl Future<Output = Result<bool, WorkerError>> + Send;
    /// Embeds `texts` (`embedding::embed`).
    fn embed(
        &self,
        texts: Vec<String>,
        timeout: Duration,
    ) -> impl Future<Output = Result<Embeddings, WorkerError>> + Send;
    /// Wall-clock Unix milliseconds.
    fn now_ms(&self) -> u64;
}

/// The index of a realm, shared with blocking threads.
type SharedIndex = Arc<Mutex<Option<RealmIndex>>>;

/// One realm's index and locks.
struct Slot {
    /// Serialises the realm's writes and index builds.
    write: Arc<tokio::sync::Mutex<()>>,
    /// The index; `None` until built, and again after the realm changed.
    index: SharedIndex,
    /// Bumped by every invalidation, so a build that raced one is not installed.
    generation: AtomicU64,
}

/// What the worker knows about the embedding worker.
#[derive(Debug, Default)]
struct EmbedHealth {
    skip_until: Option<Instant>,
    last_note: Option<String>,
}

/// The memory service: every verb, over one backend.
pub struct Memories<B> {
    backend: B,
    settings: Settings,
    weights: Weights,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    known_realms: Mutex<HashSet<String>>,
    embed: Mutex<EmbedHealth>,
    reembedding: Mutex<HashSet<String>>,
}

/// Locks a std mutex, recovering from poisoning: the data is a cache or a counter, and a
/// panic elsewhere must not take the worker down.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a write treats the embedding already in state.
enum Persist {
    /// Store exactly this embedding (or none).
    With(Option<StoredEmbedding>),
    /// Keep what state holds for this memory (read-modify-write); nothing is written when
    /// state no longer holds the memory (it was forgotten meanwhile).
    KeepStored,
}

/// The id part of a stored value, to name it when the rest does not decode.
#[derive(Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Option<String>,
}

/// The part of a `state` trigger event `memory::realm_changed` reads.
#[derive(Debug, Clone, Deserialize)]
pub struct RealmChanged {
    /// `state:created`, `state:updated` or `state:deleted`.
    #[serde(default)]
    pub event_type: String,
    /// The realm id (the key in the `realms` scope).
    #[serde(default)]
    pub key: String,
}

impl<B: Backend> Memories<B> {
    /// The service over `backend` with `settings`.
    pub fn new(backend: B, settings: Settings) -> Arc<Self> {
        let weights = Weights { half_life_days: settings.recency_half_life_days, ..Weights::default() };
        Arc::new(Self {
            backend,
            settings,
            weights,
            slots: Mutex::new(HashMap::new()),
            known_realms: Mutex::new(HashSet::new()),
            embed: Mutex::new(EmbedHealth::default()),
            reembedding: Mutex::new(HashSet::new()),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn slot(&self, realm: &str) -> Arc<Slot> {
        lock(&self.slots)
            .entry(realm.to_string())
            .or_insert_with(|| {
                Arc::new(Slot {
                    write: Arc::new(tokio::sync::Mutex::new(())),
                    index: Arc::new(Mutex::new(None)),
                    generation: AtomicU64::new(0),
                })
            })
            .clone()
    }

    /// The realm's write lock, with its index built.
    async fn write(&self, realm: &str) -> Result<(Arc<Slot>, tokio::sync::OwnedMutexGuard<()>), MemoryError> {
        let slot = self.slot(realm);
        let guard = slot.write.clone().lock_owned().await;
        self.build_locked(realm, &slot).await?;
        Ok((slot, guard))
    }

    /// The realm's slot with its index built (taking the write lock only to build it).
    async fn read(&self, realm: &str) -> Result<Arc<Slot>, MemoryError> {
        let slot = self.slot(realm);
        if lock(&slot.index).is_some() {
            return Ok(slot);
        }
        let _guard = slot.write.clone().lock_owned().await;
        self.build_locked(realm, &slot).await?;
        Ok(slot)
    }

    /// Builds the index from state unless it is there; the caller holds the write lock. A build
    /// that an invalidation overtook is thrown away and done again.
    async fn build_locked(&self, realm: &str, slot: &Slot) -> Result<(), MemoryError> {
        for _ in 0..3 {
            if lock(&slot.index).is_some() {
                return Ok(());
            }
            let generation = slot.generation.load(Ordering::SeqCst);
            let index = self.build(realm).await?;
            let mut current = lock(&slot.index);
            if slot.generation.load(Ordering::SeqCst) == generation {
                *current = Some(index);
                return Ok(());
            }
        }
        Err(MemoryError::Worker(WorkerError::new(
            codes::CONFLICT,
            format!("realm '{realm}' kept changing while its memory index was built; retry"),
        )))
    }

    /// A realm's index from its state scopes (see [`crate::scope_for`]).
    async fn build(&self, realm: &str) -> Result<RealmIndex, MemoryError> {
        let started = Instant::now();
        let prefix = scope_prefix(realm);
        let scopes: Vec<String> = self.backend.scopes().await?.into_iter().filter(|s| s.starts_with(&prefix)).collect();
        let mut items: Vec<(Memory, Option<StoredEmbedding>)> = Vec::new();
        for scope in &scopes {
            for value in self.backend.list(scope).await? {
                let stored = decode_stored(realm, scope, value)?;
                items.push((stored.memory, stored.embedding));
            }
        }
        // The most common model wins; vectors of other models wait to be embedded again.
        let mut models: HashMap<&str, usize> = HashMap::new();
        for e in items.iter().filter_map(|(_, e)| e.as_ref()) {
            *models.entry(e.model.as_str()).or_insert(0) += 1;
        }
        let model = models.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0))).map(|(m, _)| m.to_string());
        let mut loaded = Vec::with_capacity(items.len());
        for (memory, embedding) in items {
            let vector = match embedding {
                Some(e) if Some(&e.model) == model.as_ref() => {
                    let v = decode_embedding(&e).map_err(|reason| MemoryError::BadState {
                        scope: scope_for(realm, &memory.id),
                        key: memory.id.clone(),
                        realm: realm.to_string(),
                        reason,
                    })?;
                    Some((e.model, v))
                }
                _ => None,
            };
            loaded.push((memory, vector));
        }
        let count = loaded.len();
        let name = realm.to_string();
        let index = tokio::task::spawn_blocking(move || {
            let mut index = RealmIndex::new(&name)?;
            index.load(loaded)?;
            Ok::<_, MemoryError>(index)
        })
        .await
        .map_err(|e| MemoryError::Index(format!("the index build stopped: {e}")))??;
        tracing::info!(
            realm,
            memories = count,
            scopes = scopes.len(),
            ms = started.elapsed().as_millis() as u64,
            "memory index built"
        );
        Ok(index)
    }

    /// `memory::realm_changed`: drops the realm's index; for a deleted realm also what is known
    /// about it, and then deletes any memory left in its scopes. The realm worker deletes scoped
    /// state before the record, and this event comes after both, so a memory write that raced
    /// the deletion (a store, or the recall counts written after a recall) could otherwise bring
    /// a memory back into a realm that no longer exists. Writes hold the realm's write lock, so
    /// the sweep runs after any that was under way; it is skipped when the realm exists again.
    pub async fn realm_changed(&self, event: &RealmChanged) -> Result<usize, MemoryError> {
        self.invalidate(event);
        if event.event_type != "state:deleted" || event.key == crate::DEFAULT_REALM {
            return Ok(0);
        }
        let realm = event.key.as_str();
        let slot = self.slot(realm);
        let _guard = slot.write.clone().lock_owned().await;
        if self.backend.get(REALMS_SCOPE, realm).await?.is_some() {
            return Ok(0);
        }
        let prefix = scope_prefix(realm);
        let mut swept = 0;
        for scope in self.backend.scopes().await?.into_iter().filter(|s| s.starts_with(&prefix)) {
            for value in self.backend.list(&scope).await? {
                let Some(id) = IdOnly::deserialize(&value).ok().and_then(|i| i.id) else { continue };
                swept += usize::from(self.backend.delete(&scope, &id).await?);
            }
        }
        if swept > 0 {
            tracing::info!(realm, swept, "deleted memories written while the realm was being deleted");
        }
        lock(&self.slots).remove(realm);
        Ok(swept)
    }

    /// Drops realm `realm`'s index (and, for a deleted realm, what is known about it).
    pub fn invalidate(&self, event: &RealmChanged) {
        let realm = event.key.as_str();
        if event.event_type == "state:deleted" {
            lock(&self.known_realms).remove(realm);
        }
        if let Some(slot) = lock(&self.slots).get(realm) {
            slot.generation.fetch_add(1, Ordering::SeqCst);
            *lock(&slot.index) = None;
        }
        tracing::debug!(realm, event = %event.event_type, "realm changed; its memory index is rebuilt on next use");
    }

    /// The realm a request names, checked and existing.
    async fn realm(&self, realm: Option<&str>) -> Result<String, MemoryError> {
        let realm = validate::realm(realm)?;
        self.require_realm(&realm).await?;
        Ok(realm)
    }

    /// `NOT_FOUND` unless `realm` exists (`default` always does).
    async fn require_realm(&self, realm: &str) -> Result<(), MemoryError> {
        if realm == crate::DEFAULT_REALM || lock(&self.known_realms).contains(realm) {
            return Ok(());
        }
        if self.backend.get(REALMS_SCOPE, realm).await?.is_some() {
            lock(&self.known_realms).insert(realm.to_string());
            return Ok(());
        }
        Err(MemoryError::NoRealm(realm.to_string()))
    }

    /// Embeds `texts`; on failure, the note a recall shows.
    async fn embed(&self, texts: Vec<String>, timeout: Duration) -> Result<Embeddings, String> {
        {
            let health = lock(&self.embed);
            if let Some(until) = health.skip_until
                && Instant::now() < until
            {
                return Err(health.last_note.clone().unwrap_or_else(|| "embeddings unavailable".to_string()));
            }
        }
        let n = texts.len();
        let result = self.backend.embed(texts, timeout).await.and_then(|e| check_embeddings(e, n));
        let mut health = lock(&self.embed);
        match result {
            Ok(e) => {
                *health = EmbedHealth::default();
                Ok(e)
            }
            Err(e) => {
                let note = format!(
                    "embeddings unavailable ({}: {}); ranked by keywords, recency and importance only",
                    e.code, e.message
                );
                if e.code == codes::TIMEOUT {
                    health.skip_until = Some(Instant::now() + EMBED_BACKOFF);
                }
                health.last_note = Some(note.clone());
                tracing::debug!(code = %e.code, "embedding failed: {}", e.message);
                Err(note)
            }
        }
    }

    /// One text's `(model, vector)`, or the note why there is none.
    async fn embed_one(&self, text: &str, timeout: Duration) -> Result<(String, Vec<f32>), String> {
        let mut e = self.embed(vec![text.to_string()], timeout).await?;
        let v = e.vectors.pop().unwrap_or_default();
        Ok((e.model, v))
    }

    /// When the embedding worker's model is not the one of the realm's vectors, drops them all
    /// so they are embedded again with the new one.
    fn reconcile_model(&self, slot: &Slot, model: &str) -> bool {
        let mut guard = lock(&slot.index);
        match guard.as_mut() {
            Some(ix) if ix.model().is_some_and(|m| m != model) => {
                tracing::warn!(realm = ix.realm(), old = ?ix.model(), new = model, "the embedding model changed; re-embedding every memory");
                ix.switch_model(model);
                true
            }
            _ => false,
        }
    }

    /// Writes `memory` to state (see [`Persist`]).
    async fn persist(&self, memory: &Memory, embedding: Persist) -> Result<(), MemoryError> {
        let scope = scope_for(&memory.realm, &memory.id);
        let embedding = match embedding {
            Persist::With(e) => e,
            Persist::KeepStored => match self.backend.get(&scope, &memory.id).await? {
                Some(value) => decode_stored(&memory.realm, &scope, value)?.embedding,
                None => return Ok(()),
            },
        };
        let mut memory = memory.clone();
        memory.embedded = embedding.is_some();
        let id = memory.id.clone();
        let value = serde_json::to_value(StoredMemory { memory, embedding })
            .map_err(|e| MemoryError::Index(format!("could not encode a memory: {e}")))?;
        self.backend.set(&scope, &id, value).await?;
        Ok(())
    }

    /// `memory::store`.
    pub async fn store(self: &Arc<Self>, req: StoreRequest) -> Result<Stored, MemoryError> {
        let text = validate::text("text", &req.text)?;
        let agent = validate::agent(req.agent.as_deref())?;
        let tags = validate::tags(req.tags.as_deref())?;
        let importance = validate::unit("importance", req.importance.unwrap_or(crate::IMPORTANCE_DEFAULT))?;
        let realm = self.realm(req.realm.as_deref()).await?;
        let embedded = self.embed_one(&text, STORE_EMBED_TIMEOUT).await.ok();

        let (slot, _guard) = self.write(&realm).await?;
        if let Some((model, _)) = &embedded {
            self.reconcile_model(&slot, model);
        }
        let now = self.backend.now_ms();
        let duplicate = {
            let guard = lock(&slot.index);
            guard.as_ref().and_then(|ix| {
                let v = embedded.as_ref().map(|(m, v)| (m.as_str(), v.as_slice()));
                ix.find_duplicate(agent.as_deref(), &text, v, self.settings.dedup_threshold).cloned()
            })
        };
        let change = |embedded: Option<(String, Vec<f32>)>| match embedded {
            Some((model, vector)) => VectorChange::Set { model, vector },
            None => VectorChange::Clear,
        };
        if let Some(existing) = duplicate {
            let (merged, text_changed) = policy::merge_duplicate(&existing, &text, &tags, importance, now);
            let (persist, change) = if text_changed {
                (Persist::With(stored_embedding(embedded.as_ref())), change(embedded))
            } else {
                (Persist::KeepStored, VectorChange::Keep)
            };
            self.persist(&merged, persist).await?;
            let memory = upsert(&slot, merged, change)?;
            return Ok(Stored { memory, merged: true });
        }
        let memory = Memory {
            id: new_id(),
            text,
            realm: realm.clone(),
            agent,
            tags,
            importance,
            created_ms: now,
            updated_ms: now,
            last_recalled_ms: None,
            recalls: 0,
            merged_from: Vec::new(),
            embedded: false,
        };
        self.persist(&memory, Persist::With(stored_embedding(embedded.as_ref()))).await?;
        let memory = upsert(&slot, memory, change(embedded))?;
        self.enforce_cap(&slot, &memory, now).await?;
        Ok(Stored { memory, merged: false })
    }

    /// Evicts from `fresh`'s group what is over the cap, never `fresh` itself.
    async fn enforce_cap(&self, slot: &Slot, fresh: &Memory, now: u64) -> Result<(), MemoryError> {
        let cap = self.settings.max_per_agent;
        let victims = {
            let guard = lock(&slot.index);
            let Some(ix) = guard.as_ref() else { return Ok(()) };
            let group: Vec<&Memory> = ix.memories().filter(|m| m.agent == fresh.agent && m.id != fresh.id).collect();
            if group.len() < cap {
                return Ok(());
            }
            let rules = self.rules(cap.saturating_sub(1), None, None);
            policy::eviction(&group, &rules, now)
        };
        if !victims.is_empty() {
            tracing::info!(realm = %fresh.realm, agent = ?fresh.agent, evicted = victims.len(), cap, "over the cap per agent; evicted the lowest retention");
        }
        self.delete_all(slot, &fresh.realm, &victims).await
    }

    fn rules(&self, max_per_agent: usize, older_than_days: Option<f64>, below_importance: Option<f64>) -> EvictRules {
        EvictRules {
            max_per_agent,
            older_than_days,
            below_importance,
            half_life_days: self.settings.recency_half_life_days,
        }
    }

    /// Deletes `ids` from state, then from the index.
    async fn delete_all(&self, slot: &Slot, realm: &str, ids: &[String]) -> Result<(), MemoryError> {
        for id in ids {
            self.backend.delete(&scope_for(realm, id), id).await?;
            if let Some(ix) = lock(&slot.index).as_mut() {
                ix.remove(id)?;
            }
        }
        Ok(())
    }

    /// `memory::recall`.
    pub async fn recall(self: &Arc<Self>, req: RecallRequest) -> Result<Recall, MemoryError> {
        let realm = self.realm(req.realm.as_deref()).await?;
        let query = validate::text("query", &req.query)?;
        let agent = validate::agent(req.agent.as_deref())?;
        let tags = validate::tags(req.tags.as_deref())?;
        let k = validate::k(req.k)?;
        // A realm without memories has nothing to rank: answer before embedding the query,
        // which costs a round trip and a model pass on every turn of a fresh realm.
        if lock(&self.read(&realm).await?.index).as_ref().is_some_and(|ix| ix.is_empty()) {
            return Ok(Recall { memories: Vec::new(), semantic: false, note: None });
        }
        let embedded = self.embed_one(&query, QUERY_EMBED_TIMEOUT).await;

        let mut attempt = 0;
        let (memories, semantic, pending, has_vectors) = loop {
            let slot = self.read(&realm).await?;
            if let Ok((model, _)) = &embedded {
                self.reconcile_model(&slot, model);
            }
            let index = slot.index.clone();
            let terms = terms(&query);
            let (vector, model) = match &embedded {
                Ok((m, v)) => (Some(v.clone()), Some(m.clone())),
                Err(_) => (None, None),
            };
            let (agent, tags, weights, now) = (agent.clone(), tags.clone(), self.weights, self.backend.now_ms());
            let searched = tokio::task::spawn_blocking(move || {
                let guard = lock(&index);
                let Some(ix) = guard.as_ref() else { return Ok(None) };
                let search = Search {
                    terms: &terms,
                    vector: vector.as_deref(),
                    model: model.as_deref(),
                    agent: agent.as_deref(),
                    tags: &tags,
                    k,
                };
                let found = ix.search(&search)?;
                let ranked = fuse(found.candidates, found.semantic, now, &weights, k);
                let memories: Vec<Recalled> = ranked
                    .into_iter()
                    .filter_map(|r| {
                        let m = ix.get(&r.id)?;
                        Some(Recalled {
                            id: r.id,
                            text: m.text.clone(),
                            score: r.score,
                            scores: r.scores,
                            tags: m.tags.clone(),
                            agent: m.agent.clone(),
                            created_ms: m.created_ms,
                        })
                    })
                    .collect();
                Ok::<_, MemoryError>(Some((memories, found.semantic, ix.pending_count(), ix.embedded() > 0)))
            })
            .await
            .map_err(|e| MemoryError::Index(format!("the search stopped: {e}")))??;
            match searched {
                Some(found) => break found,
                // The realm changed between the build and the search: build again, once.
                None if attempt == 0 => attempt += 1,
                None => {
                    return Err(MemoryError::Worker(WorkerError::new(
                        codes::CONFLICT,
                        format!("realm '{realm}' is changing; retry the recall"),
                    )));
                }
            }
        };

        let note = match (&embedded, semantic) {
            (Err(note), _) => Some(note.clone()),
            (Ok(_), false) if has_vectors => Some("no stored vector matches the embedding model; memories are being embedded again".to_string()),
            (Ok(_), false) => (pending > 0).then(|| format!("{pending} memories are waiting for an embedding; ranked by keywords, recency and importance meanwhile")),
            (Ok(_), true) if pending > 0 => Some(format!("{pending} memories are waiting for an embedding and were ranked by keywords only")),
            (Ok(_), true) => None,
        };
        let ids: Vec<String> = memories.iter().map(|m| m.id.clone()).collect();
        let this = Arc::clone(self);
        let realm_for_task = realm.clone();
        let reembed = embedded.is_ok() && pending > 0;
        tokio::spawn(async move {
            if let Err(e) = this.note_recalled(&realm_for_task, &ids).await {
                tracing::warn!(realm = %realm_for_task, "could not record recall counts: {e}");
            }
            if reembed {
                this.reembed(&realm_for_task).await;
            }
        });
        Ok(Recall { memories, semantic, note })
    }

    /// Counts a recall of `ids` in their records.
    async fn note_recalled(&self, realm: &str, ids: &[String]) -> Result<(), MemoryError> {
        if ids.is_empty() {
            return Ok(());
        }
        let (slot, _guard) = self.write(realm).await?;
        let now = self.backend.now_ms();
        let updated = lock(&slot.index).as_mut().map(|ix| ix.mark_recalled(ids, now)).unwrap_or_default();
        for memory in updated {
            self.persist(&memory, Persist::KeepStored).await?;
        }
        Ok(())
    }

    /// Embeds the realm's memories that wait for a vector, batch by batch, until none is left
    /// or embedding fails. Only one pass per realm runs at a time.
    pub async fn reembed(&self, realm: &str) -> usize {
        if !lock(&self.reembedding).insert(realm.to_string()) {
            return 0;
        }
        let done = self.reembed_pass(realm).await;
        lock(&self.reembedding).remove(realm);
        match done {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(realm, embedded = n, "embedded memories stored without a vector");
                }
                n
            }
            Err(e) => {
                tracing::warn!(realm, "re-embedding stopped: {e}");
                0
            }
        }
    }

    async fn reembed_pass(&self, realm: &str) -> Result<usize, MemoryError> {
        let mut done = 0;
        loop {
            let slot = self.read(realm).await?;
            let batch = lock(&slot.index).as_ref().map(|ix| ix.pending(REEMBED_BATCH)).unwrap_or_default();
            if batch.is_empty() {
                return Ok(done);
            }
            let texts: Vec<String> = batch.iter().map(|(_, t)| t.clone()).collect();
            let Ok(embeddings) = self.embed(texts, BATCH_EMBED_TIMEOUT).await else { return Ok(done) };
            let (slot, _guard) = self.write(realm).await?;
            self.reconcile_model(&slot, &embeddings.model);
            let mut progress = 0;
            for ((id, text), v) in batch.iter().zip(embeddings.vectors) {
                // Skip memories forgotten or rewritten while the batch was embedded.
                let current = lock(&slot.index).as_ref().and_then(|ix| ix.get(id).cloned());
                let Some(memory) = current.filter(|m| &m.text == text && !m.embedded) else { continue };
                let embedding = stored_embedding(Some(&(embeddings.model.clone(), v.clone())));
                self.persist(&memory, Persist::With(embedding)).await?;
                if lock(&slot.index).as_mut().is_some_and(|ix| ix.set_vector(id, &embeddings.model, &v)) {
                    progress += 1;
                }
            }
            if progress == 0 {
                return Ok(done);
            }
            done += progress;
        }
    }

    /// Re-embeds pending memories of every loaded realm; what the periodic task runs.
    pub async fn reembed_loaded(&self) -> usize {
        let realms: Vec<String> = lock(&self.slots)
            .iter()
            .filter(|(_, slot)| lock(&slot.index).as_ref().is_some_and(|ix| ix.pending_count() > 0))
            .map(|(realm, _)| realm.clone())
            .collect();
        let mut done = 0;
        for realm in realms {
            done += self.reembed(&realm).await;
        }
        done
    }

    /// `memory::get`.
    pub async fn get(&self, req: MemoryRef) -> Result<Memory, MemoryError> {
        let realm = self.realm(req.realm.as_deref()).await?;
        let id = validate::id(&req.id)?;
        let slot = self.read(&realm).await?;
        let found = lock(&slot.index).as_ref().and_then(|ix| ix.get(&id).cloned());
        found.ok_or(MemoryError::NotFound { id, realm })
    }

    /// `memory::forget`. Works from state even when the realm's index cannot be built (a
    /// corrupt record can be forgotten).
    pub async fn forget(&self, req: MemoryRef) -> Result<Forgotten, MemoryError> {
        let realm = self.realm(req.realm.as_deref()).await?;
        let id = validate::id(&req.id)?;
        let slot = self.slot(&realm);
        let _guard = slot.write.clone().lock_owned().await;
        let deleted = self.backend.delete(&scope_for(&realm, &id), &id).await?;
        let indexed = match lock(&slot.index).as_mut() {
            Some(ix) => ix.remove(&id)?.is_some(),
            None => false,
        };
        if !(deleted || indexed) {
            return Err(MemoryError::NotFound { id, realm });
        }
        Ok(Forgotten { forgotten: id })
    }

    /// `memory::consolidate`.
    pub async fn consolidate(&self, req: ConsolidateRequest) -> Result<Consolidated, MemoryError> {
        let realm = self.realm(req.realm.as_deref()).await?;
        let agent = validate::agent(req.agent.as_deref())?;
        let threshold = validate::unit("threshold", req.threshold.unwrap_or(self.settings.consolidate_threshold))?;
        let (slot, _guard) = self.write(&realm).await?;
        let index = slot.index.clone();
        let (groups, compared, not_embedded) = tokio::task::spawn_blocking(move || {
            let guard = lock(&index);
            let Some(ix) = guard.as_ref() else { return (Vec::new(), 0, 0) };
            let mut by_agent: BTreeMap<Option<String>, Vec<&Memory>> = BTreeMap::new();
            let mut not_embedded = 0;
            for m in ix.memories() {
                if agent.is_some() && m.agent != agent {
                    continue;
                }
                if m.embedded {
                    by_agent.entry(m.agent.clone()).or_default().push(m);
                } else {
                    not_embedded += 1;
                }
            }
            let compared = by_agent.values().map(Vec::len).sum();
            let mut clusters: Vec<Vec<Memory>> = Vec::new();
            for group in by_agent.values() {
                let order = policy::seed_order(group);
                let related = |a: usize, b: usize| {
                    ix.similarity(&group[a].id, &group[b].id).is_some_and(|s| f64::from(s) >= threshold)
                };
                for cluster in policy::clusters(&order, related) {
                    clusters.push(cluster.into_iter().map(|i| group[i].clone()).collect());
                }
            }
            (clusters, compared, not_embedded)
        })
        .await
        .map_err(|e| MemoryError::Index(format!("the consolidation stopped: {e}")))?;

        let now = self.backend.now_ms();
        let mut merged = Vec::new();
        for cluster in groups {
            let Some((keep, others)) = cluster.split_first() else { continue };
            let others: Vec<&Memory> = others.iter().collect();
            let memory = policy::merge_cluster(keep, &others, now, TEXT_MAX);
            let embedded = self.embed_one(&memory.text, STORE_EMBED_TIMEOUT).await.ok();
            self.persist(&memory, Persist::With(stored_embedding(embedded.as_ref()))).await?;
            let change = match embedded {
                Some((model, vector)) => VectorChange::Set { model, vector },
                None => VectorChange::Clear,
            };
            upsert(&slot, memory, change)?;
            let ids: Vec<String> = others.iter().map(|m| m.id.clone()).collect();
            self.delete_all(&slot, &realm, &ids).await?;
            merged.push(Merge { id: keep.id.clone(), merged_from: ids });
        }
        Ok(Consolidated { merged, compared, not_embedded })
    }

    /// `memory::evict`.
    pub async fn evict(&self, req: EvictRequest) -> Result<Evicted, MemoryError> {
        let realm = self.realm(req.realm.as_deref()).await?;
        let agent = validate::agent(req.agent.as_deref())?;
        if let Some(days) = req.older_than_days
            && !(days >= 0.0 && days.is_finite())
        {
            return Err(MemoryError::Invalid(format!("older_than_days is {days}: use a number of days, 0 or more")));
        }
        let below = req.below_importance.map(|b| validate::unit("below_importance", b)).transpose()?;
        let rules = self.rules(req.max_per_agent.unwrap_or(self.settings.max_per_agent), req.older_than_days, below);
        let (slot, _guard) = self.write(&realm).await?;
        let now = self.backend.now_ms();
        let victims = {
            let guard = lock(&slot.index);
            let group: Vec<&Memory> = guard
                .as_ref()
                .map(|ix| ix.memories().filter(|m| agent.is_none() || m.agent == agent).collect())
                .unwrap_or_default();
            policy::eviction(&group, &rules, now)
        };
        self.delete_all(&slot, &realm, &victims).await?;
        Ok(Evicted { evicted: victims })
    }

    /// `memory::stats`.
    pub async fn stats(&self, req: StatsRequest) -> Result<Stats, MemoryError> {
        let realm = self.realm(req.realm.as_deref()).await?;
        let slot = self.read(&realm).await?;
        let guard = lock(&slot.index);
        let stats = guard.as_ref().map(|ix| Stats {
            realm: realm.clone(),
            memories: ix.len(),
            embedded: ix.embedded(),
            pending_embedding: ix.pending_count(),
            agents: ix.agent_counts(),
            model: ix.model().map(str::to_string),
            vector_bytes: ix.vector_bytes(),
        });
        Ok(stats.unwrap_or(Stats {
            realm,
            memories: 0,
            embedded: 0,
            pending_embedding: 0,
            agents: BTreeMap::new(),
            model: None,
            vector_bytes: 0,
        }))
    }
}

/// Applies an upsert to the slot's index, if it is built.
fn upsert(slot: &Slot, memory: Memory, change: VectorChange) -> Result<Memory, MemoryError> {
    match lock(&slot.index).as_mut() {
        Some(ix) => ix.upsert(memory, change),
        None => Ok(memory),
    }
}

/// The stored form of an embedding.
fn stored_embedding(embedded: Option<&(String, Vec<f32>)>) -> Option<StoredEmbedding> {
    embedded.map(|(model, v)| StoredEmbedding { model: model.clone(), dims: v.len(), vector: vector::encode(v) })
}

/// A stored value as a memory of `realm` (the scope decides the realm: an import under
/// another id keeps the old one in the value); `BAD_STATE` naming it when it does not decode.
fn decode_stored(realm: &str, scope: &str, value: Value) -> Result<StoredMemory, MemoryError> {
    let mut stored = StoredMemory::deserialize(&value).map_err(|e| MemoryError::BadState {
        scope: scope.to_string(),
        key: IdOnly::deserialize(&value).ok().and_then(|i| i.id).unwrap_or_else(|| "?".to_string()),
        realm: realm.to_string(),
        reason: e.to_string(),
    })?;
    stored.memory.realm = realm.to_string();
    stored.memory.embedded = stored.embedding.is_some();
    Ok(stored)
}

/// Checks an `embedding::embed` answer for `n` texts and makes its vectors unit length.
fn check_embeddings(mut e: Embeddings, n: usize) -> Result<Embeddings, WorkerError> {
    let bad = |what: String| {
        WorkerError::new(
            codes::BAD_RESPONSE,
            format!("embedding::embed answered {what}; the embedding worker and memory disagree on its contract"),
        )
    };
    if e.vectors.len() != n {
        return Err(bad(format!("{} vectors for {n} texts", e.vectors.len())));
    }
    let mut unit = Vec::with_capacity(n);
    for v in &e.vectors {
        if v.len() != e.dims || e.dims == 0 {
            return Err(bad(format!("a vector of {} dimensions where it announced {}", v.len(), e.dims)));
        }
        unit.push(vector::normalised(v).ok_or_else(|| bad("a zero or non-finite vector".to_string()))?);
    }
    e.vectors = unit;
    Ok(e)
}

/// A new memory id: `mem-` and 16 random hex digits (64 bits: no collision within a realm in
/// practice).
fn new_id() -> String {
    let simple = uuid::Uuid::new_v4().simple().to_string();
    format!("mem-{}", &simple[..16])
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
