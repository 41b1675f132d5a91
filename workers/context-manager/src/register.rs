//! The thin glue between the context manager and the engine: the manifest and the bindings of
//! `context::estimate`, `context::build`, `context::compact` and `context::budget`.
//!
//! Rules it keeps:
//! - No decisions here: each handler calls one function of the crate and encodes its answer.
//! - The default model is read from the environment when the worker starts.

use std::sync::Arc;

use agentos_kit::{III, RestartPolicy, WorkerError, WorkerManifest, register_typed};

use crate::window::budget_answer;
use crate::{BudgetRequest, BuildRequest, CompactRequest, Context, EstimateRequest, Settings, estimate_request};

/// The context-manager worker's manifest; `workers/context-manager/iii.worker.yaml` mirrors it.
pub static MANIFEST: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "context-manager",
    description: "The context manager: estimates tokens, assembles the prompt (system prompt, directives, recalled memory, history) within the model's budget, and compacts older history by summarising it through llm::complete.",
    functions: vec!["context::estimate", "context::build", "context::compact", "context::budget"],
    http_routes: vec![],
    depends_on: &[],
    restart: RestartPolicy::Always,
});

/// Runs the context-manager worker as its own process until SIGTERM or SIGINT
/// (`agentos worker context-manager`).
pub fn run() -> Result<(), WorkerError> {
    let settings = Settings::from_env();
    tracing::info!(worker = MANIFEST.name, default_model = ?settings.default_model, "context manager settings");
    agentos_kit::run_worker(&MANIFEST, |iii| register(iii, settings))
}

/// Registers the `context::*` functions on `iii`; builds and compactions call other functions
/// through the same connection.
pub fn register(iii: &III, settings: Settings) {
    let ctx = Arc::new(Context::new(iii.clone(), settings));

    register_typed(
        iii,
        "context::estimate",
        "Estimated tokens: {text?, messages?, tools?} -> {tokens}.",
        |req: EstimateRequest| std::future::ready(Ok::<_, WorkerError>(estimate_request(&req))),
    );
    let c = Arc::clone(&ctx);
    register_typed(
        iii,
        "context::build",
        "The prompt of a chat turn within the model's budget: {system?, directives?, history?, message?, tools?, model?, budget_tokens?, reserve_tokens?, realm?, agent?, recall?} -> {messages, estimated_tokens, budget_tokens, recalled, compacted, summary?, dropped_messages}.",
        move |req: BuildRequest| {
            let c = Arc::clone(&c);
            async move { c.build(req).await.map_err(WorkerError::from) }
        },
    );
    let c = Arc::clone(&ctx);
    register_typed(
        iii,
        "context::compact",
        "Summarises all but the newest messages through llm::complete: {history, keep_last?, model?} -> {summary, history}.",
        move |req: CompactRequest| {
            let c = Arc::clone(&c);
            async move { c.compact(req).await.map_err(WorkerError::from) }
        },
    );
    register_typed(
        iii,
        "context::budget",
        "A model's context window: {model?} -> {model, context_window, default_reserve}.",
        move |req: BudgetRequest| {
            std::future::ready(Ok::<_, WorkerError>(budget_answer(ctx.model(req.model.as_deref()))))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_manifest_lists_every_verb_of_the_issue() {
        assert_eq!(MANIFEST.functions, &["context::estimate", "context::build", "context::compact", "context::budget"]);
        assert_eq!(MANIFEST.validate(), Ok(()));
    }
}
