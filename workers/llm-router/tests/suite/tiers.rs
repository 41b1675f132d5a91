//! Tier routing from `[llm.tiers]`: the policy's tier picks the configured chain.

use agentos_kit::ErrorCode;
use agentos_test_support::{Reply, ScriptedLlm};
use agentos_worker_llm_router::{ChatMessage, CompletionRequest, Router};
use pretty_assertions::assert_eq;

use super::{ask, configured, weather_tool};

/// Anthropic and a file-declared OpenAI-compatible `local` provider without a key, both on
/// `server` (which must accept keyless requests), with one tier chain each.
fn tiered(server: &ScriptedLlm) -> Router {
    let text = format!(
        r#"
[llm]
default_model = "anthropic/claude-sonnet-4-5"

[llm.providers.local]
wire = "openai"
base_url = "{}"
models = ["small-model"]

[llm.tiers]
fast = ["local/small-model"]
standard = ["anthropic/claude-sonnet-4-5"]
deep = ["anthropic/claude-opus-4-1", "local/small-model"]
"#,
        server.openai_base_url()
    );
    configured(&text, &[("ANTHROPIC_API_KEY", "sk-ant".into()), ("ANTHROPIC_BASE_URL", server.base_url())])
}

/// `(path, model)` of every request the server received.
fn sent(server: &ScriptedLlm) -> Vec<(String, String)> {
    server.requests().into_iter().map(|r| (r.path, r.body["model"].as_str().unwrap_or_default().to_string())).collect()
}

/// One routing case: the request, then the expected provider, tier, reason and `(path, model)`.
type Case<'a> = (CompletionRequest, &'a str, Option<&'a str>, &'a str, (String, String));

fn pair(path: &str, model: &str) -> (String, String) {
    (path.to_string(), model.to_string())
}

#[tokio::test]
async fn each_kind_of_request_goes_to_the_first_model_of_its_tier() {
    let server = ScriptedLlm::builder().no_auth().start().await.unwrap();
    let router = tiered(&server);
    let long = "word ".repeat(40_000);
    let cases: Vec<Case> = vec![
        (
            ask("hi"),
            "local",
            Some("fast"),
            "~1 prompt tokens < 2000, no tools",
            pair("/v1/chat/completions", "small-model"),
        ),
        (
            CompletionRequest { tools: vec![weather_tool()], ..ask("weather?") },
            "anthropic",
            Some("standard"),
            "1 tools offered",
            pair("/v1/messages", "claude-sonnet-4-5"),
        ),
        (
            ask(&long),
            "anthropic",
            Some("deep"),
            "~50000 prompt tokens >= 32000",
            pair("/v1/messages", "claude-opus-4-1"),
        ),
        (
            CompletionRequest { tier: Some("deep".into()), ..ask("hi") },
            "anthropic",
            Some("deep"),
            "explicit tier",
            pair("/v1/messages", "claude-opus-4-1"),
        ),
        (
            CompletionRequest {
                model: Some("local/small-model".into()),
                tier: Some("deep".into()),
                tools: vec![weather_tool()],
                ..ask("hi")
            },
            "local",
            None,
            "explicit model",
            pair("/v1/chat/completions", "small-model"),
        ),
    ];
    for (i, (req, provider, tier, reason, request)) in cases.into_iter().enumerate() {
        server.push(Reply::text("ok"));
        let done = router.complete(&req).await.unwrap();
        assert_eq!(
            (done.provider.as_str(), done.tier.as_deref(), done.route_reason.as_deref()),
            (provider, tier, Some(reason)),
            "case {i}"
        );
        assert_eq!(sent(&server)[i], request, "case {i}");
    }
}

#[tokio::test]
async fn a_failing_tier_model_falls_back_along_the_tier_then_to_the_default_model() {
    let server = ScriptedLlm::builder().no_auth().start().await.unwrap();
    server.push_anthropic(Reply::status(404, "model claude-opus-4-1 not found"));
    server.push_openai(Reply::status(400, "context too long"));
    server.push_anthropic(Reply::text("From the default."));
    let router = tiered(&server);

    let done = router.complete(&CompletionRequest { tier: Some("deep".into()), ..ask("hi") }).await.unwrap();

    assert_eq!((done.model.as_str(), done.content.as_str()), ("claude-sonnet-4-5", "From the default."));
    assert_eq!(
        sent(&server),
        [
            pair("/v1/messages", "claude-opus-4-1"),
            pair("/v1/chat/completions", "small-model"),
            pair("/v1/messages", "claude-sonnet-4-5")
        ]
    );
    assert_eq!(server.remaining(), 0, "each scripted failure was consumed by its own model");
}

#[tokio::test]
async fn a_tier_whose_providers_are_not_configured_uses_the_default_chain_and_says_so() {
    let server = ScriptedLlm::builder().no_auth().start().await.unwrap();
    server.push(Reply::text("ok"));
    let text = format!(
        "[llm]\ndefault_model = \"openai/gpt-test\"\n[llm.providers.groq]\nwire = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_env = \"GROQ_API_KEY\"\nmodels = [\"llama\"]\n[llm.tiers]\nfast = [\"groq/llama\"]\n[llm.providers.openai]\nbase_url = \"{}\"\n",
        server.openai_base_url()
    );
    let router = configured(&text, &[]);

    let done = router
        .complete(&CompletionRequest { messages: vec![ChatMessage::user("hi")], ..Default::default() })
        .await
        .unwrap();

    assert_eq!((done.provider.as_str(), done.model.as_str()), ("openai", "gpt-test"));
    assert_eq!(
        done.route_reason.as_deref(),
        Some("~1 prompt tokens < 2000, no tools; no usable fast models in [llm.tiers], default chain")
    );
    let models = router.models();
    assert_eq!(
        serde_json::to_value(&models.unavailable).unwrap(),
        serde_json::json!([{"provider": "groq", "needs": "GROQ_API_KEY"}])
    );
}

#[tokio::test]
async fn an_unknown_tier_is_invalid_input_and_nothing_is_sent() {
    let server = ScriptedLlm::start().await.unwrap();
    let router = tiered(&server);

    let err = router.complete(&CompletionRequest { tier: Some("turbo".into()), ..ask("hi") }).await.unwrap_err();

    assert_eq!(
        (err.code(), err.to_string().as_str()),
        ("INVALID_INPUT", "tier \"turbo\" is not a tier; use fast, standard or deep, or name a model")
    );
    assert!(server.requests().is_empty());
}
