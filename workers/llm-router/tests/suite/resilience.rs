//! Retries, timeouts and fallback against the scripted server.

use std::time::Duration;

use agentos_kit::ErrorCode;
use agentos_test_support::{Reply, ScriptedLlm};
use agentos_worker_llm_router::{RetryPolicy, UsageTotals};
use pretty_assertions::assert_eq;

use super::{anthropic_router, ask, openai_router, router};

#[tokio::test]
async fn a_server_error_is_retried_and_the_retry_succeeds() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::status(500, "boom"));
    server.push(Reply::text("Recovered."));
    let router = openai_router(&server);

    let done = router.complete(&ask("hi")).await.unwrap();

    assert_eq!(done.content, "Recovered.");
    assert_eq!(server.requests().len(), 2);
    let usage = router.usage();
    assert_eq!(
        usage.total,
        UsageTotals { calls: 1, input_tokens: 10, output_tokens: 5, cost_usd: None, unpriced_calls: 1 },
        "the failed attempt books nothing"
    );
}

#[tokio::test]
async fn a_rate_limit_is_retried_after_the_providers_retry_after() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::rate_limited(0));
    server.push(Reply::text("Fine now."));

    let done = anthropic_router(&server).stream(&ask("hi"), |_| {}).await.unwrap();

    assert_eq!((done.content.as_str(), server.requests().len()), ("Fine now.", 2));
}

#[tokio::test]
async fn a_provider_that_keeps_failing_gives_its_last_error_with_status_and_message() {
    let server = ScriptedLlm::start().await.unwrap();
    for _ in 0..3 {
        server.push(Reply::status(503, "overloaded, try later"));
    }

    let err = openai_router(&server).complete(&ask("hi")).await.unwrap_err();

    assert_eq!(
        (err.code(), err.to_string().as_str()),
        ("PROVIDER_ERROR", "openai answered HTTP 503: overloaded, try later")
    );
    assert_eq!(server.requests().len(), 3, "the first attempt and two retries");
}

#[tokio::test]
async fn a_hanging_provider_is_a_timeout() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::Hang);
    let router = openai_router(&server)
        .with_timeout(Duration::from_millis(200))
        .with_policy(RetryPolicy { max_retries: 0, ..RetryPolicy::default() });

    let err = router.complete(&ask("hi")).await.unwrap_err();

    assert_eq!(err.code(), "TIMEOUT");
    assert_eq!(err.to_string(), "openai did not answer within 200 ms; retry, or raise the router's request timeout");
}

#[tokio::test]
async fn a_rejected_provider_falls_back_to_the_next_configured_one() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push_anthropic(Reply::status(401, "invalid x-api-key"));
    server.push_openai(Reply::text("From the fallback."));
    let router = router(&[
        ("ANTHROPIC_API_KEY", "sk-ant".into()),
        ("ANTHROPIC_BASE_URL", server.base_url()),
        ("OPENAI_API_KEY", "sk-test".into()),
        ("OPENAI_BASE_URL", server.openai_base_url()),
    ]);

    let done = router.complete(&ask("hi")).await.unwrap();

    assert_eq!((done.provider.as_str(), done.content.as_str()), ("openai", "From the fallback."));
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/messages", "/v1/chat/completions"], "a 401 is not retried, the next provider is asked");
}

#[tokio::test]
async fn a_provider_that_failed_three_calls_in_a_row_cools_down_and_is_not_called() {
    let server = ScriptedLlm::start().await.unwrap();
    for _ in 0..3 {
        server.push(Reply::status(500, "down"));
    }
    let router = openai_router(&server).with_policy(RetryPolicy { max_retries: 0, ..RetryPolicy::default() });
    for _ in 0..3 {
        assert_eq!(router.complete(&ask("hi")).await.unwrap_err().code(), "PROVIDER_ERROR");
    }

    let err = router.complete(&ask("hi")).await.unwrap_err();

    assert_eq!(
        (err.code(), err.to_string().as_str()),
        (
            "PROVIDER_ERROR",
            "openai failed 3 times in a row and cool down for 30 s; retry later or check the provider's status"
        )
    );
    assert_eq!(server.requests().len(), 3, "the cooled-down provider was not called");
}
