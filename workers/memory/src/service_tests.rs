//! The service over an in-memory backend: the mechanics of storing, merging, rebuilding,
//! re-embedding, evicting and consolidating. The fake embedder gives every distinct text its
//! own pseudo-random unit vector (same text, same vector) unless a test pins one: it has no
//! semantics, and none of these tests claims any (the integration suite uses the real model).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::AtomicU64;

use agentos_kit::ErrorCode;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::vector::tests::unit;

const DAY: u64 = 86_400_000;
const START: u64 = 1_000 * DAY;

/// State in a map, a switchable embedder and a settable clock.
#[derive(Default)]
struct Fake {
    state: Mutex<BTreeMap<(String, String), Value>>,
    /// `None`: the embedding worker is missing; else its model.
    model: Mutex<Option<String>>,
    /// Vectors pinned per text.
    pinned: Mutex<HashMap<String, Vec<f32>>>,
    now: AtomicU64,
    embed_calls: AtomicU64,
}

impl Fake {
    fn up(model: &str) -> Self {
        let fake = Self::default();
        *lock(&fake.model) = Some(model.to_string());
        fake.now.store(START, Ordering::SeqCst);
        fake
    }

    fn down() -> Self {
        let fake = Self::default();
        fake.now.store(START, Ordering::SeqCst);
        fake
    }

    fn vector_of(&self, text: &str) -> Vec<f32> {
        if let Some(v) = lock(&self.pinned).get(text) {
            return v.clone();
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        unit(h.finish(), 16)
    }

    fn values(&self, prefix: &str) -> Vec<Value> {
        lock(&self.state).iter().filter(|((s, _), _)| s.starts_with(prefix)).map(|(_, v)| v.clone()).collect()
    }
}

impl Backend for Arc<Fake> {
    async fn scopes(&self) -> Result<Vec<String>, WorkerError> {
        let mut scopes: Vec<String> = lock(&self.state).keys().map(|(s, _)| s.clone()).collect();
        scopes.dedup();
        Ok(scopes)
    }

    async fn list(&self, scope: &str) -> Result<Vec<Value>, WorkerError> {
        Ok(lock(&self.state).iter().filter(|((s, _), _)| s == scope).map(|(_, v)| v.clone()).collect())
    }

    async fn get(&self, scope: &str, key: &str) -> Result<Option<Value>, WorkerError> {
        Ok(lock(&self.state).get(&(scope.to_string(), key.to_string())).cloned())
    }

    async fn set(&self, scope: &str, key: &str, value: Value) -> Result<(), WorkerError> {
        lock(&self.state).insert((scope.to_string(), key.to_string()), value);
        Ok(())
    }

    async fn delete(&self, scope: &str, key: &str) -> Result<bool, WorkerError> {
        Ok(lock(&self.state).remove(&(scope.to_string(), key.to_string())).is_some())
    }

    async fn embed(&self, texts: Vec<String>, _timeout: Duration) -> Result<Embeddings, WorkerError> {
        self.embed_calls.fetch_add(1, Ordering::SeqCst);
        let Some(model) = lock(&self.model).clone() else {
            return Err(WorkerError::new("function_not_found", "Function embedding::embed not found"));
        };
        let vectors: Vec<Vec<f32>> = texts.iter().map(|t| self.vector_of(t)).collect();
        Ok(Embeddings { model, dims: 16, vectors })
    }

    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

fn service(fake: &Arc<Fake>) -> Arc<Memories<Arc<Fake>>> {
    Memories::new(Arc::clone(fake), Settings::default())
}

fn store(text: &str) -> StoreRequest {
    StoreRequest { text: text.into(), ..StoreRequest::default() }
}

fn query(q: &str) -> RecallRequest {
    RecallRequest { query: q.into(), ..RecallRequest::default() }
}

fn ids(r: &Recall) -> Vec<String> {
    r.memories.iter().map(|m| m.id.clone()).collect()
}

#[tokio::test]
async fn recall_in_a_realm_without_memories_answers_without_embedding_the_query() {
    let fake = Arc::new(Fake::up("m"));
    let svc = service(&fake);
    let recall = svc.recall(query("anything at all")).await.unwrap();
    assert_eq!(recall, Recall { memories: vec![], semantic: false, note: None });
    assert_eq!(fake.embed_calls.load(Ordering::SeqCst), 0);
    svc.store(store("the staging database listens on 6543")).await.unwrap();
    let before = fake.embed_calls.load(Ordering::SeqCst);
    let recall = svc.recall(query("which port does staging use?")).await.unwrap();
    assert_eq!(recall.memories.len(), 1);
    assert_eq!(fake.embed_calls.load(Ordering::SeqCst), before + 1, "a realm with memories embeds the query");
}

#[tokio::test]
async fn without_embeddings_a_memory_is_stored_pending_and_found_by_keywords() {
    let fake = Arc::new(Fake::down());
    let svc = service(&fake);
    let stored = svc.store(store("Deploy failed with ERR_QUOTA_7731")).await.unwrap();
    assert!(!stored.merged);
    assert!(!stored.memory.embedded);
    assert!(stored.memory.id.starts_with("mem-") && stored.memory.id.len() == 20, "{}", stored.memory.id);
    let recall = svc.recall(query("err_quota_7731")).await.unwrap();
    assert_eq!(ids(&recall), vec![stored.memory.id.clone()]);
    assert!(!recall.semantic);
    let note = recall.note.unwrap();
    assert!(note.starts_with("embeddings unavailable (function_not_found: "), "{note}");
    assert_eq!(recall.memories[0].scores.cosine, None);
    assert_eq!(svc.get(MemoryRef { id: stored.memory.id.clone(), realm: None }).await.unwrap(), stored.memory);
}

#[tokio::test]
async fn a_memory_stored_while_embeddings_were_down_is_embedded_once_they_are_back() {
    let fake = Arc::new(Fake::down());
    let svc = service(&fake);
    let stored = svc.store(store("The build cache lives in /var/cache/ci")).await.unwrap();
    assert_eq!(svc.stats(StatsRequest::default()).await.unwrap().pending_embedding, 1);
    *lock(&fake.model) = Some("m".into());
    assert_eq!(svc.reembed("default").await, 1);
    let stats = svc.stats(StatsRequest::default()).await.unwrap();
    assert_eq!((stats.embedded, stats.pending_embedding, stats.model.as_deref()), (1, 0, Some("m")));
    let record = &fake.values("realm:default:memory:")[0];
    assert_eq!(record["embedded"], json!(true));
    assert_eq!(record["embedding"]["model"], json!("m"));
    // Semantic now: the query's own vector finds it without a shared word.
    let v = fake.vector_of("The build cache lives in /var/cache/ci");
    lock(&fake.pinned).insert("zzz".into(), v);
    let recall = svc.recall(query("zzz")).await.unwrap();
    assert!(recall.semantic);
    assert_eq!(ids(&recall), vec![stored.memory.id]);
}

#[tokio::test]
async fn the_same_text_again_merges_into_the_older_memory() {
    let fake = Arc::new(Fake::up("m"));
    let svc = service(&fake);
    let first = svc
        .store(StoreRequest { tags: Some(vec!["style".into()]), importance: Some(0.3), ..store("User prefers tabs.") })
        .await
        .unwrap();
    fake.now.store(START + 5, Ordering::SeqCst);
    let second = svc
        .store(StoreRequest { tags: Some(vec!["Editor".into()]), importance: Some(0.8), ..store("user prefers TABS") })
        .await
        .unwrap();
    assert!(second.merged);
    assert_eq!(
        second.memory,
        Memory {
            tags: vec!["editor".into(), "style".into()],
            importance: 0.8,
            updated_ms: START + 5,
            ..first.memory.clone()
        }
    );
    assert_eq!(fake.values("realm:default:memory:").len(), 1);
    // The merge kept the stored vector.
    assert_eq!(fake.values("realm:default:memory:")[0]["embedded"], json!(true));
}

#[tokio::test]
async fn a_near_identical_vector_of_the_same_agent_merges_and_the_longer_text_wins() {
    let fake = Arc::new(Fake::up("m"));
    let v = unit(42, 16);
    lock(&fake.pinned).insert("Tabs, not spaces".into(), v.clone());
    lock(&fake.pinned).insert("The user wants tabs rather than spaces".into(), v.clone());
    let svc = service(&fake);
    let with_agent = |text: &str, agent: &str| StoreRequest { agent: Some(agent.into()), ..store(text) };
    let first = svc.store(with_agent("Tabs, not spaces", "a1")).await.unwrap();
    let other_agent = svc.store(with_agent("The user wants tabs rather than spaces", "a2")).await.unwrap();
    assert!(!other_agent.merged);
    let second = svc.store(with_agent("The user wants tabs rather than spaces", "a1")).await.unwrap();
    assert!(second.merged);
    assert_eq!(second.memory.id, first.memory.id);
    assert_eq!(second.memory.text, "The user wants tabs rather than spaces");
    assert!(second.memory.embedded);
}

#[tokio::test]
async fn realms_are_isolated_and_an_unknown_realm_is_not_found() {
    let fake = Arc::new(Fake::up("m"));
    fake.set(REALMS_SCOPE, "team", json!({"id": "team", "name": "team"})).await.unwrap();
    let svc = service(&fake);
    let secret = StoreRequest { realm: Some("team".into()), ..store("The launch code is ORANGE-17") };
    let stored = svc.store(secret).await.unwrap();
    assert_eq!(stored.memory.realm, "team");
    assert!(fake.values("realm:team:memory:").len() == 1 && fake.values("realm:default:").is_empty());
    assert_eq!(ids(&svc.recall(query("launch code ORANGE-17")).await.unwrap()), Vec::<String>::new());
    let in_team = RecallRequest { realm: Some("team".into()), ..query("launch code ORANGE-17") };
    assert_eq!(ids(&svc.recall(in_team).await.unwrap()), vec![stored.memory.id.clone()]);
    let missing = svc.get(MemoryRef { id: stored.memory.id, realm: None }).await.unwrap_err();
    assert_eq!(missing.code(), "NOT_FOUND");
    let nowhere = svc.store(StoreRequest { realm: Some("nowhere".into()), ..store("x") }).await.unwrap_err();
    assert_eq!(nowhere, MemoryError::NoRealm("nowhere".into()));
}

#[tokio::test]
async fn a_new_service_over_the_same_state_recalls_the_same_memories() {
    let fake = Arc::new(Fake::up("m"));
    let svc = service(&fake);
    for text in ["alpha notes on rust", "beta notes on go", "gamma notes on rust and go"] {
        svc.store(store(text)).await.unwrap();
    }
    let before = svc.recall(query("rust notes")).await.unwrap();
    let restarted = service(&fake);
    let after = restarted.recall(query("rust notes")).await.unwrap();
    assert_eq!(ids(&after), ids(&before));
    assert_eq!(
        after.memories.iter().map(|m| m.scores.bm25).collect::<Vec<_>>(),
        before.memories.iter().map(|m| m.scores.bm25).collect::<Vec<_>>()
    );
    assert_eq!(restarted.stats(StatsRequest::default()).await.unwrap().embedded, 3);
}

#[tokio::test]
async fn a_realm_change_drops_the_index_so_memories_written_to_state_directly_are_seen() {
    // Keywords only: the fake vectors would make every memory a (meaningless) semantic match.
    let fake = Arc::new(Fake::down());
    let svc = service(&fake);
    svc.store(store("first")).await.unwrap();
    // What realm::import does: values straight into the scopes, then the realm record.
    let imported = json!({"id": "mem-imported", "text": "imported fact about kiwis", "realm": "old-realm",
        "tags": [], "importance": 0.5, "created_ms": 1, "updated_ms": 1});
    fake.set(&scope_for("default", "mem-imported"), "mem-imported", imported).await.unwrap();
    assert_eq!(ids(&svc.recall(query("kiwis")).await.unwrap()), Vec::<String>::new());
    svc.invalidate(&RealmChanged { event_type: "state:updated".into(), key: "default".into() });
    let found = svc.recall(query("kiwis")).await.unwrap();
    assert_eq!(ids(&found), vec!["mem-imported"]);
    let m = svc.get(MemoryRef { id: "mem-imported".into(), realm: None }).await.unwrap();
    assert_eq!(m.realm, "default");
}

#[tokio::test]
async fn a_store_over_the_cap_evicts_the_lowest_retention_of_that_agent() {
    let fake = Arc::new(Fake::up("m"));
    let svc = Memories::new(Arc::clone(&fake), Settings { max_per_agent: 2, ..Settings::default() });
    let low = svc.store(StoreRequest { importance: Some(0.1), ..store("low importance note") }).await.unwrap();
    let high = svc.store(StoreRequest { importance: Some(0.9), ..store("high importance note") }).await.unwrap();
    let other = svc
        .store(StoreRequest { agent: Some("a1".into()), importance: Some(0.0), ..store("agent note") })
        .await
        .unwrap();
    let fresh = svc.store(StoreRequest { importance: Some(0.0), ..store("fresh unimportant note") }).await.unwrap();
    let mut left: Vec<String> =
        fake.values("realm:default:memory:").iter().map(|v| v["id"].as_str().unwrap().to_string()).collect();
    left.sort();
    let mut expected = vec![high.memory.id, other.memory.id, fresh.memory.id];
    expected.sort();
    assert_eq!(left, expected);
    assert!(svc.get(MemoryRef { id: low.memory.id, realm: None }).await.is_err());
}

#[tokio::test]
async fn evict_applies_age_and_importance_rules_and_reports_the_ids() {
    let fake = Arc::new(Fake::up("m"));
    let svc = service(&fake);
    let old_weak = svc.store(StoreRequest { importance: Some(0.1), ..store("old weak") }).await.unwrap();
    svc.store(StoreRequest { importance: Some(0.9), ..store("old strong") }).await.unwrap();
    fake.now.store(START + 40 * DAY, Ordering::SeqCst);
    svc.store(StoreRequest { importance: Some(0.1), ..store("new weak") }).await.unwrap();
    let req = EvictRequest { older_than_days: Some(30.0), below_importance: Some(0.5), ..EvictRequest::default() };
    assert_eq!(svc.evict(req).await.unwrap(), Evicted { evicted: vec![old_weak.memory.id] });
    assert_eq!(fake.values("realm:default:memory:").len(), 2);
    let bad = svc.evict(EvictRequest { below_importance: Some(2.0), ..EvictRequest::default() }).await.unwrap_err();
    assert_eq!(bad.code(), "INVALID_INPUT");
}

#[tokio::test]
async fn consolidation_merges_related_memories_into_the_most_important_one() {
    let fake = Arc::new(Fake::up("m"));
    // Two vectors at cosine 0.88: related (≥ 0.85) but not duplicates (< 0.92).
    let base = unit(7, 16);
    let u = unit(8, 16);
    let along = vector::dot(&u, &base);
    let ortho = vector::normalised(&u.iter().zip(&base).map(|(x, b)| x - along * b).collect::<Vec<_>>()).unwrap();
    let sin = (1.0f32 - 0.88 * 0.88).sqrt();
    let near: Vec<f32> = base.iter().zip(&ortho).map(|(b, o)| 0.88 * b + sin * o).collect();
    lock(&fake.pinned).insert("Deploys use blue-green".into(), base);
    lock(&fake.pinned).insert("Blue-green deploys bake for 5 minutes".into(), vector::normalised(&near).unwrap());
    let svc = service(&fake);
    let keep = svc.store(StoreRequest { importance: Some(0.9), ..store("Deploys use blue-green") }).await.unwrap();
    let other = svc.store(store("Blue-green deploys bake for 5 minutes")).await.unwrap();
    svc.store(store("Lunch is at noon")).await.unwrap();
    let sim = {
        let slot = svc.slot("default");
        let guard = lock(&slot.index);
        guard.as_ref().unwrap().similarity(&keep.memory.id, &other.memory.id).unwrap()
    };
    assert!((0.85..0.92).contains(&sim), "similarity {sim} should be between the thresholds");
    let done = svc.consolidate(ConsolidateRequest::default()).await.unwrap();
    assert_eq!(
        done,
        Consolidated {
            merged: vec![Merge { id: keep.memory.id.clone(), merged_from: vec![other.memory.id.clone()] }],
            compared: 3,
            not_embedded: 0,
        }
    );
    let merged = svc.get(MemoryRef { id: keep.memory.id, realm: None }).await.unwrap();
    assert_eq!(merged.text, "Deploys use blue-green. Blue-green deploys bake for 5 minutes");
    assert_eq!(merged.merged_from, vec![other.memory.id.clone()]);
    assert!(merged.embedded);
    assert_eq!(fake.values("realm:default:memory:").len(), 2);
    assert!(svc.get(MemoryRef { id: other.memory.id, realm: None }).await.is_err());
}

#[tokio::test]
async fn forget_deletes_from_state_and_index_and_then_is_not_found() {
    let fake = Arc::new(Fake::up("m"));
    let svc = service(&fake);
    let m = svc.store(store("temporary")).await.unwrap().memory;
    let r = MemoryRef { id: m.id.clone(), realm: None };
    assert_eq!(svc.forget(r.clone()).await.unwrap(), Forgotten { forgotten: m.id.clone() });
    assert!(fake.values("realm:default:memory:").is_empty());
    assert_eq!(ids(&svc.recall(query("temporary")).await.unwrap()), Vec::<String>::new());
    assert_eq!(svc.forget(r).await.unwrap_err().code(), "NOT_FOUND");
}

#[tokio::test]
async fn recall_counts_are_written_to_state() {
    let fake = Arc::new(Fake::up("m"));
    let svc = service(&fake);
    let m = svc.store(store("counted fact")).await.unwrap().memory;
    fake.now.store(START + 7, Ordering::SeqCst);
    svc.note_recalled("default", std::slice::from_ref(&m.id)).await.unwrap();
    let record = &fake.values("realm:default:memory:")[0];
    assert_eq!((record["recalls"].clone(), record["last_recalled_ms"].clone()), (json!(1), json!(START + 7)));
    assert!(record["embedding"].is_object(), "the vector is kept: {record}");
}

#[tokio::test]
async fn a_corrupt_record_is_bad_state_naming_it_and_can_still_be_forgotten() {
    let fake = Arc::new(Fake::up("m"));
    let scope = scope_for("default", "mem-broken");
    fake.set(&scope, "mem-broken", json!({"id": "mem-broken", "txt": "no text field"})).await.unwrap();
    let svc = service(&fake);
    let err = svc.recall(query("anything")).await.unwrap_err();
    assert_eq!(err.code(), "BAD_STATE");
    assert!(
        err.to_string().starts_with(&format!("state {scope}/mem-broken is not a memory record: missing field `text`")),
        "{err}"
    );
    assert!(err.to_string().contains("agentos memory forget mem-broken --realm default"), "{err}");
    svc.forget(MemoryRef { id: "mem-broken".into(), realm: None }).await.unwrap();
    assert_eq!(ids(&svc.recall(query("anything")).await.unwrap()), Vec::<String>::new());
}

#[tokio::test]
async fn a_new_embedding_model_re_embeds_every_memory() {
    let fake = Arc::new(Fake::up("old"));
    let svc = service(&fake);
    svc.store(store("one")).await.unwrap();
    svc.store(store("two")).await.unwrap();
    *lock(&fake.model) = Some("new".into());
    let recall = svc.recall(query("one")).await.unwrap();
    assert!(!recall.semantic);
    let note = recall.note.unwrap();
    assert!(note.starts_with("2 memories are waiting for an embedding"), "{note}");
    // The recall started a re-embedding pass in the background; this one may find it running.
    svc.reembed("default").await;
    agentos_kit::harness::wait_until("both memories embedded with the new model", || {
        let svc = Arc::clone(&svc);
        async move { svc.stats(StatsRequest::default()).await.is_ok_and(|s| s.embedded == 2) }
    })
    .await;
    let stats = svc.stats(StatsRequest::default()).await.unwrap();
    assert_eq!((stats.model.as_deref(), stats.embedded), (Some("new"), 2));
    assert!(fake.values("realm:default:memory:").iter().all(|v| v["embedding"]["model"] == json!("new")));
}

#[tokio::test]
async fn an_embedding_answer_of_the_wrong_shape_is_refused() {
    let e = Embeddings { model: "m".into(), dims: 3, vectors: vec![vec![1.0, 0.0]] };
    assert_eq!(check_embeddings(e, 1).unwrap_err().code, "BAD_RESPONSE");
    let e = Embeddings { model: "m".into(), dims: 2, vectors: vec![] };
    assert!(check_embeddings(e, 1).unwrap_err().message.contains("0 vectors for 1 texts"));
    let e = Embeddings { model: "m".into(), dims: 2, vectors: vec![vec![3.0, 4.0]] };
    assert_eq!(check_embeddings(e, 1).unwrap().vectors, vec![vec![0.6, 0.8]]);
}

#[tokio::test]
async fn a_deleted_realms_leftover_memories_are_swept_unless_it_exists_again() {
    let fake = Arc::new(Fake::down());
    fake.set(REALMS_SCOPE, "team", json!({"id": "team"})).await.unwrap();
    let svc = service(&fake);
    let in_team = |text: &str| StoreRequest { realm: Some("team".into()), ..store(text) };
    svc.store(in_team("written while the realm was being deleted")).await.unwrap();
    let deleted = RealmChanged { event_type: "state:deleted".into(), key: "team".into() };

    // Re-created before the event was handled: nothing is swept.
    assert_eq!(svc.realm_changed(&deleted).await.unwrap(), 0);
    assert_eq!(fake.values("realm:team:memory:").len(), 1);

    fake.delete(REALMS_SCOPE, "team").await.unwrap();
    assert_eq!(svc.realm_changed(&deleted).await.unwrap(), 1);
    assert!(fake.values("realm:team:memory:").is_empty());
    let gone = svc.recall(RecallRequest { realm: Some("team".into()), ..query("realm") }).await.unwrap_err();
    assert_eq!(gone, MemoryError::NoRealm("team".into()));
}
