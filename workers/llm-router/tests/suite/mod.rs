//! One module per concern; each test starts its own [`ScriptedLlm`].

mod anthropic;
mod bus;
mod channel;
mod cost;
mod openai;
mod resilience;
mod tiers;

use std::time::Duration;

use agentos_test_support::ScriptedLlm;
use agentos_worker_llm_router::{
    ChatMessage, Completion, CompletionRequest, LlmSettings, Providers, RetryPolicy, Router, ToolSpec,
};
use serde_json::json;

/// The route reason of a one-word question without `[llm.tiers]`.
pub const DEFAULT_CHAIN: &str =
    "~1 prompt tokens < 2000, no tools; no usable fast models in [llm.tiers], default chain";

/// How long a bus call may take in tests: generous for a loaded CI machine.
pub const T: Duration = Duration::from_secs(10);

/// A router configured by exactly these variables, retrying quickly.
pub fn router(vars: &[(&str, String)]) -> Router {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
    let providers = Providers::from_lookup(&move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
    Router::new(providers)
        .unwrap()
        .with_policy(RetryPolicy { base: Duration::from_millis(20), ..RetryPolicy::default() })
}

/// A router configured by `[llm]` config text and exactly these variables, retrying quickly.
pub fn configured(text: &str, vars: &[(&str, String)]) -> Router {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
    let resolved = LlmSettings::from_toml(text)
        .unwrap()
        .resolve(&move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .unwrap();
    Router::configured(resolved)
        .unwrap()
        .with_policy(RetryPolicy { base: Duration::from_millis(20), ..RetryPolicy::default() })
}

/// A router whose only provider is the server's OpenAI side, default model `gpt-test`.
pub fn openai_router(server: &ScriptedLlm) -> Router {
    router(&[
        ("OPENAI_API_KEY", "sk-test".into()),
        ("OPENAI_BASE_URL", server.openai_base_url()),
        ("AGENTOS_MODEL", "openai/gpt-test".into()),
    ])
}

/// A router whose only provider is the server's Anthropic side, default model `claude-test`.
pub fn anthropic_router(server: &ScriptedLlm) -> Router {
    router(&[
        ("ANTHROPIC_API_KEY", "sk-ant-test".into()),
        ("ANTHROPIC_BASE_URL", server.base_url()),
        ("AGENTOS_MODEL", "claude-test".into()),
    ])
}

/// A one-message request.
pub fn ask(text: &str) -> CompletionRequest {
    CompletionRequest { messages: vec![ChatMessage::user(text)], ..CompletionRequest::default() }
}

/// The weather tool used by tool-call tests.
pub fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: "Current weather for a city".into(),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    }
}

/// The completion with its latency zeroed, so whole completions compare.
pub fn timeless(mut c: Completion) -> Completion {
    c.latency_ms = 0;
    c
}
