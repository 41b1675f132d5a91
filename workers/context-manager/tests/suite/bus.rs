//! `context::budget` and `context::estimate` on the bus.

use agentos_kit::call;
use agentos_kit::harness::TestStack;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{T, start_context};

#[tokio::test]
async fn context_budget_names_the_window_of_a_known_model_and_the_default_for_none() {
    let stack = TestStack::start().await;
    start_context(&stack).await;
    let client = stack.client();

    let known: Value =
        call(&client, "context::budget", &json!({"model": "anthropic/claude-sonnet-4-5"}), T).await.unwrap();
    assert_eq!(
        known,
        json!({"model": "anthropic/claude-sonnet-4-5", "context_window": 200_000, "default_reserve": 4096})
    );
    let none: Value = call(&client, "context::budget", &json!({}), T).await.unwrap();
    assert_eq!(none, json!({"model": null, "context_window": 32_768, "default_reserve": 4096}));
    stack.stop().await;
}

#[tokio::test]
async fn context_estimate_counts_text_messages_and_tools_and_rejects_unknown_fields() {
    let stack = TestStack::start().await;
    start_context(&stack).await;
    let client = stack.client();

    let text: Value = call(&client, "context::estimate", &json!({"text": "abcdefgh"}), T).await.unwrap();
    assert_eq!(text, json!({"tokens": 2}));
    let messages: Value = call(
        &client,
        "context::estimate",
        &json!({"text": "abcdefgh", "messages": [{"role": "user", "content": "abcd"}]}),
        T,
    )
    .await
    .unwrap();
    assert_eq!(messages, json!({"tokens": 2 + 4 + 1}));
    let err = call::<_, Value>(&client, "context::estimate", &json!({"txt": "x"}), T).await.unwrap_err();
    assert_eq!(err.code, "INVALID_INPUT");
    assert!(err.message.contains("expected fields: text, messages, tools"), "{}", err.message);
    stack.stop().await;
}
