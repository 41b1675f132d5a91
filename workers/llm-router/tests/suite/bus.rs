//! `llm::*` on the bus: what agent-core sees.

use std::sync::Arc;

use agentos_kit::call;
use agentos_kit::harness::TestStack;
use agentos_test_support::{Reply, ScriptedLlm};
use agentos_worker_llm_router::{MANIFEST, Providers, Router, register};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{DEFAULT_CHAIN, T, openai_router};

#[tokio::test]
async fn with_no_provider_llm_complete_fails_with_no_provider_naming_the_variables_to_set() {
    let stack = TestStack::start().await;
    let router = Arc::new(Router::new(Providers::default()).unwrap());
    stack.worker(&MANIFEST, |iii| register(iii, router)).await;

    let err = call::<_, Value>(
        &stack.client(),
        "llm::complete",
        &json!({"messages": [{"role": "user", "content": "hi"}]}),
        T,
    )
    .await
    .unwrap_err();

    assert_eq!(err.code, "NO_PROVIDER");
    for var in ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "AGENTOS_MODEL"] {
        assert!(err.message.contains(var), "{var} is not named in: {}", err.message);
    }
    let models: Value = call(&stack.client(), "llm::models", &json!({}), T).await.unwrap();
    assert_eq!(models, json!({"models": []}));
    stack.stop().await;
}

#[tokio::test]
async fn llm_complete_on_the_bus_answers_from_the_provider_and_llm_usage_counts_it() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text("Hello from the bus.").with_usage(9, 4));
    let stack = TestStack::start().await;
    let router = Arc::new(openai_router(&server));
    stack.worker(&MANIFEST, |iii| register(iii, router)).await;
    let client = stack.client();

    let mut done: Value =
        call(&client, "llm::complete", &json!({"messages": [{"role": "user", "content": "hi"}]}), T).await.unwrap();
    done["latency_ms"] = json!(0);
    assert_eq!(
        done,
        json!({"model": "gpt-test", "provider": "openai", "content": "Hello from the bus.", "tool_calls": [],
               "finish_reason": "stop", "usage": {"input_tokens": 9, "output_tokens": 4}, "latency_ms": 0,
               "tier": "fast", "route_reason": DEFAULT_CHAIN})
    );
    let usage: Value = call(&client, "llm::usage", &json!({}), T).await.unwrap();
    assert_eq!(
        usage,
        json!({"kept_in": "memory",
               "by_model": {"openai/gpt-test": {"calls": 1, "input_tokens": 9, "output_tokens": 4, "unpriced_calls": 1}},
               "total": {"calls": 1, "input_tokens": 9, "output_tokens": 4, "unpriced_calls": 1}})
    );
    let models: Value = call(&client, "llm::models", &json!({}), T).await.unwrap();
    assert_eq!(
        models,
        json!({"models": [{"id": "openai/gpt-test", "provider": "openai", "wire": "openai",
                           "base_url": server.openai_base_url(), "default": true, "tiers": [], "price": null}]})
    );
    stack.stop().await;
}
