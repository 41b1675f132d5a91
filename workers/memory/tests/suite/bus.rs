//! `memory::*` on the bus without embeddings: storing, recalling by keywords, the shape
//! context-manager reads, forgetting, realms.

use agentos_kit::call;
use agentos_kit::harness::{TestStack, wait_until};
use agentos_worker_memory::{Memory, RecallRequest, StoreRequest};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{T, ids, recall, recall_text, start_memory, start_realm, store, store_text};

#[tokio::test]
async fn a_stored_memory_is_recalled_got_and_forgotten_over_the_bus() {
    let stack = TestStack::start().await;
    start_memory(&stack).await;
    let client = stack.client();

    let stored = store(
        &client,
        StoreRequest {
            text: "The release branch is cut every Tuesday".into(),
            agent: Some("coder".into()),
            tags: Some(vec!["Process".into()]),
            importance: Some(0.8),
            ..StoreRequest::default()
        },
    )
    .await;
    assert!(!stored.merged);
    let m = &stored.memory;
    assert_eq!(
        (m.realm.as_str(), m.agent.as_deref(), m.tags.clone(), m.importance, m.embedded),
        ("default", Some("coder"), vec!["process".to_string()], 0.8, false)
    );

    // No embedding worker: keywords only, and the answer says so.
    let found = recall(
        &client,
        RecallRequest {
            query: "when is the release branch cut?".into(),
            agent: Some("coder".into()),
            ..RecallRequest::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&found), vec![m.id.clone()]);
    assert!(!found.semantic);
    let note = found.note.clone().unwrap();
    assert!(note.contains("embeddings unavailable") && note.contains("embedding::embed"), "{note}");

    let got: Memory = call(&client, "memory::get", &json!({"id": m.id}), T).await.unwrap();
    // The recall is counted in the background: it may or may not show yet.
    assert!(got.recalls <= 1, "{got:?}");
    assert_eq!(got, Memory { recalls: got.recalls, last_recalled_ms: got.last_recalled_ms, ..m.clone() });
    let forgotten: Value = call(&client, "memory::forget", &json!({"id": m.id}), T).await.unwrap();
    assert_eq!(forgotten, json!({"forgotten": m.id}));
    assert_eq!(ids(&recall_text(&client, "release branch").await), Vec::<String>::new());
    let err = call::<_, Value>(&client, "memory::get", &json!({"id": m.id}), T).await.unwrap_err();
    assert_eq!(err.code, "NOT_FOUND");
    stack.stop().await;
}

#[tokio::test]
async fn the_recall_context_manager_sends_gets_ids_texts_and_scores() {
    let stack = TestStack::start().await;
    start_memory(&stack).await;
    let client = stack.client();
    store_text(&client, "The user prefers tabs over spaces").await;
    // Exactly what context-manager sends (workers/context-manager/src/recall.rs).
    let answer: Value =
        call(&client, "memory::recall", &json!({"query": "tabs or spaces?", "agent": "coder", "k": 5}), T)
            .await
            .unwrap();
    let first = &answer["memories"][0];
    assert_eq!(first["text"], json!("The user prefers tabs over spaces"));
    assert!(first["id"].as_str().unwrap().starts_with("mem-"));
    assert!(first["score"].as_f64().unwrap() > 0.0);
    stack.stop().await;
}

#[tokio::test]
async fn near_duplicates_merge_and_bad_input_is_refused_with_the_fix() {
    let stack = TestStack::start().await;
    start_memory(&stack).await;
    let client = stack.client();
    let first = store_text(&client, "Deploys happen on Fridays.").await;
    let again = store(
        &client,
        StoreRequest {
            text: "deploys happen on fridays".into(),
            tags: Some(vec!["ops".into()]),
            ..StoreRequest::default()
        },
    )
    .await;
    assert!(again.merged);
    assert_eq!(again.memory.id, first.memory.id);
    assert_eq!(again.memory.tags, vec!["ops"]);

    let err = call::<_, Value>(&client, "memory::store", &json!({"text": "  "}), T).await.unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("INVALID_INPUT", "text is empty: send the text to remember")
    );
    let err = call::<_, Value>(&client, "memory::recall", &json!({"query": "x", "k": 500}), T).await.unwrap_err();
    assert_eq!(err.message, "k is 500: ask for 1 to 50 memories");
    let err =
        call::<_, Value>(&client, "memory::store", &json!({"text": "x", "realm": "nowhere"}), T).await.unwrap_err();
    assert_eq!(err.code, "NOT_FOUND");
    assert!(err.message.contains("agentos realm create nowhere"), "{}", err.message);
    stack.stop().await;
}

#[tokio::test]
async fn realms_are_isolated_and_deleting_a_realm_takes_its_memories_along() {
    let stack = TestStack::start().await;
    start_realm(&stack).await;
    start_memory(&stack).await;
    let client = stack.client();
    let _: Value = call(&client, "realm::create", &json!({"id": "team-a"}), T).await.unwrap();

    let secret = store(
        &client,
        StoreRequest {
            text: "The vault passphrase hint is PELICAN_42".into(),
            realm: Some("team-a".into()),
            ..StoreRequest::default()
        },
    )
    .await;
    store_text(&client, "The default realm knows about pelicans too").await;

    let in_default = recall_text(&client, "PELICAN_42 passphrase").await;
    assert!(!ids(&in_default).contains(&secret.memory.id), "{in_default:?}");
    assert!(in_default.memories.iter().all(|m| !m.text.contains("PELICAN_42")));
    let in_team = recall(
        &client,
        RecallRequest {
            query: "PELICAN_42 passphrase".into(),
            realm: Some("team-a".into()),
            ..RecallRequest::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&in_team), vec![secret.memory.id.clone()]);
    let err = call::<_, Value>(&client, "memory::get", &json!({"id": secret.memory.id}), T).await.unwrap_err();
    assert_eq!(err.code, "NOT_FOUND");

    // realm::export carries the memory (the realm-scoped state convention).
    let export: Value = call(&client, "realm::export", &json!({"id": "team-a"}), T).await.unwrap();
    let scopes = export["scopes"].as_object().unwrap();
    assert!(scopes.keys().all(|s| s.starts_with("memory:")), "{scopes:?}");
    assert_eq!(scopes.values().map(|v| v.as_array().unwrap().len()).sum::<usize>(), 1);

    // Deleting the realm deletes the memory scopes; the state trigger on `realms` (which fires
    // after realm::delete answers) drops the index and what memory knew of the realm.
    let _: Value = call(&client, "realm::delete", &json!({"id": "team-a"}), T).await.unwrap();
    wait_until("the deleted realm to be unknown to memory", || {
        let client = client.clone();
        async move {
            let req =
                RecallRequest { query: "PELICAN_42".into(), realm: Some("team-a".into()), ..RecallRequest::default() };
            recall(&client, req).await.is_err_and(|e| e.code == "NOT_FOUND")
        }
    })
    .await;
    // No memory of the realm is left in state (memory sweeps what raced the deletion, such as
    // the recall counts written after the recall above).
    wait_until("the realm's memory scopes to be empty", || {
        let client = client.clone();
        async move {
            let groups: Value = call(&client, "state::list_groups", &json!({}), T).await.unwrap();
            let mut left = 0;
            for scope in groups["groups"].as_array().unwrap().iter().filter_map(Value::as_str) {
                if scope.starts_with("realm:team-a:memory:") {
                    let values: Vec<Value> = call(&client, "state::list", &json!({"scope": scope}), T).await.unwrap();
                    left += values.len();
                }
            }
            left == 0
        }
    })
    .await;
    // Re-created under the same id, the realm starts without the old memory.
    let _: Value = call(&client, "realm::create", &json!({"id": "team-a"}), T).await.unwrap();
    let req = RecallRequest { query: "PELICAN_42".into(), realm: Some("team-a".into()), ..RecallRequest::default() };
    assert_eq!(ids(&recall(&client, req).await.unwrap()), Vec::<String>::new());
    stack.stop().await;
}

#[tokio::test]
async fn evict_and_stats_over_the_bus() {
    let stack = TestStack::start().await;
    start_memory(&stack).await;
    let client = stack.client();
    for (text, importance) in
        [("keep this important fact", 0.9), ("drop this trivial fact", 0.05), ("another useful fact", 0.6)]
    {
        store(&client, StoreRequest { text: text.into(), importance: Some(importance), ..StoreRequest::default() })
            .await;
    }
    let evicted: Value = call(&client, "memory::evict", &json!({"below_importance": 0.1}), T).await.unwrap();
    assert_eq!(evicted["evicted"].as_array().unwrap().len(), 1);
    let stats = super::stats(&client, "default").await;
    assert_eq!((stats.memories, stats.embedded, stats.pending_embedding), (2, 0, 2));
    assert_eq!(stats.agents.get(""), Some(&2));
    stack.stop().await;
}
