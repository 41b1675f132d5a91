//! Recall with the real embedding model: meaning without shared words, rare identifiers that
//! only keywords pin down, and memories embedded after the embedding worker comes back.

use agentos_kit::harness::TestStack;
use agentos_worker_memory::{RecallRequest, StoreRequest};
use pretty_assertions::assert_eq;

use super::{ids, recall, recall_text, start_embedding, start_memory, stats, store, store_text, wait_embedded};

/// Memories about other things, for the target to stand out from.
const UNRELATED: &[&str] = &[
    "Quarterly revenue grew twelve percent",
    "The deploy pipeline runs integration tests before every release",
    "Invoices are due within thirty days",
    "The office coffee machine is on the third floor",
    "Postgres backups are taken every night at two",
    "The team standup happens at nine thirty",
    "Rust edition 2024 is used across the workspace",
    "The customer asked for a refund on order 1182",
];

#[tokio::test]
async fn a_query_sharing_no_word_with_a_memory_finds_it_by_meaning() {
    let stack = TestStack::start().await;
    start_embedding(&stack).await;
    start_memory(&stack).await;
    let client = stack.client();
    for text in UNRELATED {
        store_text(&client, text).await;
    }
    let cat = store_text(&client, "The cat slept on the warm mat").await;
    assert!(cat.memory.embedded);

    let found = recall_text(&client, "feline napping").await;
    assert!(found.semantic, "{found:?}");
    assert_eq!(found.note, None);
    assert_eq!(found.memories[0].id, cat.memory.id, "{found:?}");
    // No keyword matched: the memory was found by its embedding alone.
    assert_eq!(found.memories[0].scores.bm25, 0.0);
    assert!(found.memories[0].scores.cosine.unwrap() > 0.3, "{found:?}");
    stack.stop().await;
}

#[tokio::test]
async fn a_rare_identifier_is_found_by_keyword_where_embeddings_alone_miss_it() {
    let stack = TestStack::start().await;
    start_embedding(&stack).await;
    start_memory(&stack).await;
    let client = stack.client();
    // Texts about quota errors in general read closer to the bare identifier than the one
    // memory that holds it.
    let decoys = [
        "Quota errors like ERR_QUOTA_7730 mean the storage quota of the tenant is exceeded",
        "When an ERR_QUOTA error appears, raise the tenant's quota in the admin console",
        "The quota service returns error codes prefixed with ERR_QUOTA",
    ];
    for text in decoys {
        store_text(&client, text).await;
    }
    for text in UNRELATED {
        store_text(&client, text).await;
    }
    let target = store_text(&client, "Billing export aborted overnight with ERR_QUOTA_7731").await;

    let found =
        recall(&client, RecallRequest { query: "ERR_QUOTA_7731".into(), k: Some(10), ..RecallRequest::default() })
            .await
            .unwrap();
    assert!(found.semantic);
    assert_eq!(found.memories[0].id, target.memory.id, "{found:?}");
    // By cosine alone the target would not come first: a decoy is closer to the query.
    let best_cosine = found
        .memories
        .iter()
        .max_by(|a, b| a.scores.cosine.unwrap_or(-1.0).total_cmp(&b.scores.cosine.unwrap_or(-1.0)))
        .unwrap();
    assert_ne!(best_cosine.id, target.memory.id, "{found:?}");
    // And the exact identifier gives it the best keyword score by far.
    assert!(found.memories[1..].iter().all(|m| m.scores.bm25 < found.memories[0].scores.bm25 / 2.0), "{found:?}");
    stack.stop().await;
}

#[tokio::test]
async fn memories_stored_while_the_embedding_worker_was_away_are_embedded_when_it_returns() {
    let stack = TestStack::start().await;
    start_memory(&stack).await;
    let client = stack.client();
    for text in UNRELATED {
        store_text(&client, text).await;
    }
    let cat =
        store(&client, StoreRequest { text: "The cat slept on the warm mat".into(), ..StoreRequest::default() }).await;
    assert!(!cat.memory.embedded);
    let before = recall_text(&client, "feline napping").await;
    assert!(!before.semantic);
    assert_eq!(ids(&before), Vec::<String>::new());

    start_embedding(&stack).await;
    // The first recall that can embed its query starts the re-embedding pass.
    recall_text(&client, "feline napping").await;
    wait_embedded(&client, "default").await;
    assert_eq!(stats(&client, "default").await.embedded, UNRELATED.len() + 1);
    let after = recall_text(&client, "feline napping").await;
    assert!(after.semantic);
    assert_eq!(after.memories[0].id, cat.memory.id, "{after:?}");
    stack.stop().await;
}
