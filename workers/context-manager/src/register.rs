//! The thin glue between the context manager and the engine: the declaration of
//! `context::estimate`, `context::build`, `context::compact` and `context::budget`.
//!
//! Rules it keeps:
//! - No decisions here: each handler calls one function of the crate and encodes its answer.
//! - The default model is read from the environment when the worker starts.

use std::future::ready;
use std::sync::{Arc, LazyLock};

use agentos_kit::{III, Worker, WorkerError, WorkerManifest};

use crate::window::budget_answer;
use crate::{
    BudgetRequest, BuildRequest, CompactRequest, Context, ContextError, EstimateRequest, Settings, estimate_request,
};

/// The context-manager worker's manifest, derived from [`worker`];
/// `workers/context-manager/iii.worker.yaml` mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// The context-manager worker: the `context::*` functions over one [`Context`], whose builds and
/// compactions call other functions through the worker's connection.
pub fn worker() -> Worker<Arc<Context>, ContextError> {
    Worker::<Arc<Context>, ContextError>::new(
        "context-manager",
        "The context manager: estimates tokens, assembles the prompt (system prompt, directives, recalled memory, history) within the model's budget, and compacts older history by summarising it through llm::complete.",
    )
    .function("context::estimate", "Estimated tokens: {text?, messages?, tools?} -> {tokens}.", |_, req: EstimateRequest| {
        ready(Ok::<_, WorkerError>(estimate_request(&req)))
    })
    .function(
        "context::build",
        "The prompt of a chat turn within the model's budget: {system?, directives?, history?, message?, tools?, model?, budget_tokens?, reserve_tokens?, realm?, agent?, recall?} -> {messages, estimated_tokens, budget_tokens, recalled, compacted, summary?, dropped_messages}.",
        |c, req: BuildRequest| async move { c.build(req).await },
    )
    .function(
        "context::compact",
        "Summarises all but the newest messages through llm::complete: {history, keep_last?, model?} -> {summary, history}.",
        |c, req: CompactRequest| async move { c.compact(req).await },
    )
    .function(
        "context::budget",
        "A model's context window: {model?} -> {model, context_window, default_reserve}.",
        |c, req: BudgetRequest| ready(Ok::<_, WorkerError>(budget_answer(c.model(req.model.as_deref())))),
    )
}

/// Runs the context-manager worker as its own process until SIGTERM or SIGINT
/// (`agentos worker context-manager`).
pub fn run() -> Result<(), WorkerError> {
    let settings = Settings::from_env();
    tracing::info!(worker = MANIFEST.name, default_model = ?settings.default_model, "context manager settings");
    worker().run(|iii| Ok(Arc::new(Context::new(iii.clone(), settings))))
}

/// Registers the `context::*` functions on `iii`; builds and compactions call other functions
/// through the same connection.
pub fn register(iii: &III, settings: Settings) {
    worker().register(iii, Arc::new(Context::new(iii.clone(), settings)), None);
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
