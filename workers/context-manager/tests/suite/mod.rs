//! One module per concern, each test booting its own [`TestStack`].

mod build;
mod bus;
mod compact;

use std::sync::Arc;
use std::time::Duration;

use agentos_kit::chat::{ChatMessage, Role, ToolCall};
use agentos_kit::harness::TestStack;
use agentos_kit::{III, RestartPolicy, WorkerManifest};
use agentos_test_support::ScriptedLlm;
use agentos_worker_context_manager::{MANIFEST, Settings, register};
use agentos_worker_llm_router::{Providers, RetryPolicy, Router};
use serde_json::json;

/// How long a bus call may take in tests: generous for a loaded CI machine.
pub const T: Duration = Duration::from_secs(20);

/// Registers the context-manager worker on `stack` with no default model.
pub async fn start_context(stack: &TestStack) -> III {
    stack.worker(&MANIFEST, |iii| register(iii, Settings::default())).await
}

/// Registers a real llm-router worker on `stack` whose only provider is `server`'s OpenAI side
/// (default model `gpt-test`), retrying quickly.
pub async fn start_llm(stack: &TestStack, server: &ScriptedLlm) -> III {
    let vars = [
        ("OPENAI_API_KEY".to_string(), "sk-test".to_string()),
        ("OPENAI_BASE_URL".to_string(), server.openai_base_url()),
        ("AGENTOS_MODEL".to_string(), "openai/gpt-test".to_string()),
    ];
    let providers = Providers::from_lookup(&move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
    start_router(stack, providers).await
}

/// Registers a real llm-router worker on `stack` over `providers`, retrying quickly.
pub async fn start_router(stack: &TestStack, providers: Providers) -> III {
    let router = Router::new(providers)
        .unwrap()
        .with_policy(RetryPolicy { base: Duration::from_millis(20), ..RetryPolicy::default() });
    let router = Arc::new(router);
    stack.worker(&agentos_worker_llm_router::MANIFEST, |iii| agentos_worker_llm_router::register(iii, router)).await
}

/// A stand-in for the memory worker (which does not exist yet): it registers `memory::recall`.
pub static MEMORY: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "memory",
    description: "A test stand-in answering memory::recall.",
    functions: vec!["memory::recall"],
    http_routes: vec![],
    depends_on: &[],
    restart: RestartPolicy::No,
});

fn call(id: &str) -> ToolCall {
    ToolCall { id: id.into(), name: "code::read_file".into(), arguments: json!({"path": format!("src/{id}.rs")}) }
}

/// `turns` turns of user question, assistant tool call, tool result, assistant answer, each
/// message about `words` words long.
pub fn history(turns: usize, words: usize) -> Vec<ChatMessage> {
    let text = |what: &str, i: usize| format!("{what} {i}: {}", "lorem ipsum ".repeat(words / 2));
    (0..turns)
        .flat_map(|i| {
            let id = format!("c{i}");
            [
                ChatMessage::user(text("question", i)),
                ChatMessage::assistant_calls(text("looking", i), vec![call(&id)]),
                ChatMessage::tool_result(id, text("file", i)),
                ChatMessage::new(Role::Assistant, text("answer", i)),
            ]
        })
        .collect()
}
