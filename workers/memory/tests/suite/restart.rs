//! A restarted memory worker loses nothing: its index is rebuilt from state.

use agentos_kit::harness::TestStack;
use agentos_worker_memory::{RecallRequest, StoreRequest};
use pretty_assertions::assert_eq;

use super::{recall, start_embedding, start_memory, stats, store, wait_gone};

#[tokio::test]
async fn a_restarted_memory_worker_rebuilds_its_index_from_state_and_recalls_the_same() {
    let stack = TestStack::start().await;
    start_embedding(&stack).await;
    let memory = start_memory(&stack).await;
    let client = stack.client();

    let texts = [
        ("The staging database is postgres 16 on db-staging-2", Some("ops"), &["infra"][..]),
        ("Production deploys need two approvals", Some("ops"), &["process"][..]),
        ("The user likes concise answers with code first", None, &[][..]),
        ("Invoices are sent on the first business day of the month", Some("billing"), &[][..]),
        ("Our CI cache lives in /var/cache/ci and is wiped weekly", Some("ops"), &["infra", "ci"][..]),
    ];
    for (text, agent, tags) in texts {
        let tags = tags.iter().map(|t| t.to_string()).collect();
        store(
            &client,
            StoreRequest {
                text: text.into(),
                agent: agent.map(str::to_string),
                tags: Some(tags),
                ..StoreRequest::default()
            },
        )
        .await;
    }
    let queries = [
        RecallRequest { query: "which database does staging use".into(), ..RecallRequest::default() },
        RecallRequest {
            query: "how do releases get approved".into(),
            agent: Some("ops".into()),
            ..RecallRequest::default()
        },
        RecallRequest {
            query: "cache".into(),
            tags: Some(vec!["infra".into()]),
            k: Some(2),
            ..RecallRequest::default()
        },
    ];
    let mut before = Vec::new();
    for q in &queries {
        before.push(recall(&client, q.clone()).await.unwrap());
    }
    assert!(before.iter().all(|r| r.semantic && !r.memories.is_empty()), "{before:?}");
    let stats_before = stats(&client, "default").await;

    // Drop the worker's connection (as a crash would) and start a new one.
    let shutdown = memory.clone();
    tokio::task::spawn_blocking(move || shutdown.shutdown()).await.unwrap();
    wait_gone(&stack, "memory::recall").await;
    start_memory(&stack).await;

    let stats_after = stats(&client, "default").await;
    assert_eq!(
        (stats_after.memories, stats_after.embedded, stats_after.agents.clone()),
        (stats_before.memories, stats_before.embedded, stats_before.agents.clone())
    );
    for (q, old) in queries.iter().zip(&before) {
        let new = recall(&client, q.clone()).await.unwrap();
        assert!(new.semantic);
        let ranking = |r: &agentos_worker_memory::Recall| -> Vec<(String, f64, Option<f64>)> {
            r.memories.iter().map(|m| (m.id.clone(), m.scores.bm25, m.scores.cosine)).collect()
        };
        assert_eq!(ranking(&new), ranking(old), "{}", q.query);
    }
    stack.stop().await;
}
