//! The thin glue between the router and the engine: the manifest and the bindings of
//! `llm::complete`, `llm::models` and `llm::usage` to one shared [`Router`].
//!
//! Rules it keeps:
//! - No decisions here: each handler calls one [`Router`] method and encodes the answer.
//! - Providers are read from the environment when the worker starts; a worker with none still
//!   starts, and every `llm::complete` then fails with `NO_PROVIDER` naming the variables.
//! - `llm::usage` counts in memory since the worker started, and says so (`kept_in`).

use std::sync::Arc;

use agentos_kit::{III, RestartPolicy, WorkerError, WorkerManifest, register_typed};
use serde::Deserialize;

use crate::{CompletionRequest, Providers, Router};

/// The llm-router worker's manifest; `workers/llm-router/iii.worker.yaml` mirrors it.
pub static MANIFEST: WorkerManifest = WorkerManifest {
    name: "llm-router",
    description: "The LLM router: Anthropic Messages, OpenAI Chat Completions and OpenAI-compatible servers, with streaming, tool calls, retries, fallback, cooldown and token accounting.",
    functions: &["llm::complete", "llm::models", "llm::usage"],
    http_routes: &[],
    depends_on: &[],
    restart: RestartPolicy::Always,
};

/// A request without arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// Runs the llm-router worker as its own process until SIGTERM or SIGINT
/// (`agentos worker llm-router`), with the providers the environment configures.
pub fn run() -> Result<(), WorkerError> {
    let providers = Providers::from_env();
    if providers.list.is_empty() {
        tracing::warn!(worker = MANIFEST.name, "{}", crate::LlmError::nothing_configured());
    } else {
        tracing::info!(worker = MANIFEST.name, models = ?providers.models(), "providers configured");
    }
    let router = Router::new(providers).map_err(WorkerError::from)?;
    agentos_kit::run_worker(&MANIFEST, |iii| register(iii, Arc::new(router)))
}

/// Registers `llm::complete`, `llm::models` and `llm::usage` on `iii`, all served by `router`.
pub fn register(iii: &III, router: Arc<Router>) {
    let r = Arc::clone(&router);
    register_typed(
        iii,
        "llm::complete",
        "One chat completion: {model?, messages, tools?, max_tokens?, temperature?} -> {model, provider, content, tool_calls, finish_reason, usage, latency_ms}.",
        move |req: CompletionRequest| {
            let r = Arc::clone(&r);
            async move { r.complete(&req).await.map_err(WorkerError::from) }
        },
    );
    let r = Arc::clone(&router);
    register_typed(
        iii,
        "llm::models",
        "The configured models: {} -> {models: [{id, provider, wire, base_url, default}]}.",
        move |_: NoArgs| std::future::ready(Ok::<_, WorkerError>(r.models())),
    );
    register_typed(
        iii,
        "llm::usage",
        "Tokens used since the worker started (in memory): {} -> {kept_in, by_model: {provider/model: {calls, input_tokens, output_tokens}}, total}.",
        move |_: NoArgs| std::future::ready(Ok::<_, WorkerError>(router.usage())),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_manifest_lists_every_verb_of_the_issue() {
        assert_eq!(MANIFEST.functions, &["llm::complete", "llm::models", "llm::usage"]);
    }
}
