//! `context::compact` on the bus.

use agentos_kit::call;
use agentos_kit::chat::ChatMessage;
use agentos_kit::harness::TestStack;
use agentos_test_support::{Reply, ScriptedLlm};
use agentos_worker_context_manager::CompactAnswer;
use agentos_worker_llm_router::Providers;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{T, history, start_context, start_llm, start_router};

#[tokio::test]
async fn compact_summarises_the_older_messages_and_keeps_tool_results_with_their_call() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text("Earlier: read src/c0.rs and src/c1.rs."));
    let stack = TestStack::start().await;
    start_llm(&stack, &server).await;
    start_context(&stack).await;
    let h = history(3, 4);

    let answer: CompactAnswer =
        call(&stack.client(), "context::compact", &json!({"history": h, "keep_last": 2}), T).await.unwrap();

    // The last two messages are a tool result and an answer: the call before them is kept too.
    let mut kept = vec![ChatMessage::system(
        "[Summary of the 9 earlier messages of this conversation, written by context-manager to fit the context window; not from the user]\nEarlier: read src/c0.rs and src/c1.rs.",
    )];
    kept.extend(h[9..].iter().cloned());
    assert_eq!(answer, CompactAnswer { summary: "Earlier: read src/c0.rs and src/c1.rs.".into(), history: kept });
    let requests = server.requests();
    let transcript = requests[0].body["messages"][1]["content"].as_str().unwrap();
    assert!(transcript.contains("[assistant]\nanswer 1:") && !transcript.contains("looking 2:"), "{transcript}");
    stack.stop().await;
}

#[tokio::test]
async fn a_history_no_longer_than_keep_last_is_returned_unchanged_without_an_llm_call() {
    let server = ScriptedLlm::start().await.unwrap();
    let stack = TestStack::start().await;
    start_llm(&stack, &server).await;
    start_context(&stack).await;
    let h = history(1, 4);

    let answer: CompactAnswer = call(&stack.client(), "context::compact", &json!({"history": h}), T).await.unwrap();

    assert_eq!(answer, CompactAnswer { summary: String::new(), history: h });
    assert_eq!(server.requests().len(), 0);
    stack.stop().await;
}

#[tokio::test]
async fn an_llm_failure_during_compact_reaches_the_caller_with_its_code() {
    let stack = TestStack::start().await;
    start_router(&stack, Providers::default()).await;
    start_context(&stack).await;

    let err =
        call::<_, Value>(&stack.client(), "context::compact", &json!({"history": history(3, 4)}), T).await.unwrap_err();

    assert_eq!(err.code, "NO_PROVIDER", "{}", err.message);
    stack.stop().await;
}
