//! The thin glue between the router and the engine: the declaration of `llm::complete`,
//! `llm::models` and `llm::usage` over one shared [`Router`].
//!
//! Rules it keeps:
//! - No decisions here: each handler calls one [`Router`] method (or [`crate::stream::answer`],
//!   which streams into a channel) and encodes the answer.
//! - Providers are read from the environment and the `[llm]` section of `agentos.toml` when the
//!   worker starts. A bad section stops the worker with a message naming the file and the key;
//!   a worker with no provider still starts, and every `llm::complete` then fails with
//!   `NO_PROVIDER` naming the variables.
//! - Channels are opened on the engine this worker is connected to (`III::address`, which is
//!   [`agentos_kit::engine_url`] in production).
//! - `llm::usage` counts in memory since the worker started, and says so (`kept_in`).

use std::future::ready;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use agentos_kit::{ErrorCode, III, Worker, WorkerError, WorkerManifest};
use serde::Deserialize;

use crate::settings::LlmSettings;
use crate::{CompletionRequest, LlmError, Router};

/// The llm-router worker's manifest, derived from [`worker`];
/// `workers/llm-router/iii.worker.yaml` mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// What the llm-router's handlers share: the router, and the engine its streams open channels on.
#[derive(Clone)]
pub struct RouterService {
    /// The one router every call goes through.
    router: Arc<Router>,
    /// The engine this worker is connected to, where `stream` channels are opened.
    engine: Arc<str>,
}

impl RouterService {
    /// `router`, streaming into channels on the engine `iii` is connected to.
    pub fn new(iii: &III, router: Arc<Router>) -> Self {
        Self { router, engine: Arc::from(iii.address()) }
    }
}

/// The llm-router worker: `llm::complete`, `llm::models` and `llm::usage` over one [`RouterService`].
pub fn worker() -> Worker<RouterService, LlmError> {
    Worker::<RouterService, LlmError>::new(
        "llm-router",
        "The LLM router: Anthropic Messages, OpenAI Chat Completions and OpenAI-compatible servers, with streaming (also into an iii channel), tool calls, tier routing, retries, fallback, cooldown, and token and cost accounting.",
    )
    .function(
        "llm::complete",
        "One chat completion: {model?, tier?, messages, tools?, max_tokens?, temperature?, stream?} -> {model, provider, content, tool_calls, finish_reason, usage, latency_ms, cost_usd?, tier?, route_reason}. model (provider/model or a bare id) wins; else tier (fast|standard|deep); else the policy picks a tier from the prompt size, tools and history. stream is a channel writer ref {channel_id, access_key, direction: write}: each text delta is written to it as {event: token, data: {text}} and the channel is closed before the answer returns.",
        |s, req: CompletionRequest| async move { crate::stream::answer(&s.router, &req, &s.engine).await },
    )
    .function(
        "llm::models",
        "The configured models: {} -> {models: [{id, provider, wire, base_url, default, tiers, price: {input_per_mtok, output_per_mtok} | null}], unavailable?: [{provider, needs}]}.",
        |s, _: NoArgs| ready(Ok::<_, WorkerError>(s.router.models())),
    )
    .function(
        "llm::usage",
        "Tokens and cost since the worker started (in memory): {} -> {kept_in, by_model: {provider/model: {calls, input_tokens, output_tokens, cost_usd?, unpriced_calls?}}, total}. cost_usd sums the calls whose price is known; unpriced_calls counts the others.",
        |s, _: NoArgs| ready(Ok::<_, WorkerError>(s.router.usage())),
    )
}

/// A request without arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// The router the environment and `agentos.toml` (the file named by `AGENTOS_CONFIG`)
/// configure, with the start-up log.
///
/// Errors: `INVALID_INPUT` naming the file and the key when the `[llm]` section is wrong.
pub fn configured_router() -> Result<Router, WorkerError> {
    configured_router_from(agentos_kit::config::config_path().as_deref(), &|name| std::env::var(name).ok())
}

/// [`configured_router`] for the config file at `path` (none: the environment alone) and the
/// variables `lookup` reads.
///
/// Errors: as [`configured_router`].
pub fn configured_router_from(
    path: Option<&Path>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Router, WorkerError> {
    let settings: LlmSettings = match path {
        Some(path) => agentos_kit::config::section_of(path, "llm")?,
        None => LlmSettings::default(),
    };
    let file = path.map_or_else(|| "agentos.toml".to_string(), |p| p.display().to_string());
    let resolved = settings.resolve(lookup).map_err(|e| {
        let lines: Vec<String> = e.lines().map(|line| format!("{file}: {line}")).collect();
        WorkerError::invalid_input(lines.join("\n"))
    })?;
    for warning in &resolved.warnings {
        tracing::warn!(worker = MANIFEST.name, "{file}: {warning}");
    }
    if resolved.providers.list.is_empty() {
        tracing::warn!(worker = MANIFEST.name, "{}", resolved.providers.nothing_configured());
    } else {
        tracing::info!(
            worker = MANIFEST.name,
            models = ?resolved.providers.all_models().iter().map(|m| m.id()).collect::<Vec<_>>(),
            tiers = ?resolved.providers.tiers.keys().map(|t| t.as_str()).collect::<Vec<_>>(),
            "providers configured"
        );
    }
    Router::configured(resolved).map_err(|e| e.to_worker_error())
}

/// Runs the llm-router worker as its own process until SIGTERM or SIGINT
/// (`agentos worker llm-router`), configured by the environment and `agentos.toml`.
pub fn run() -> Result<(), WorkerError> {
    let router = Arc::new(configured_router()?);
    worker().run(|iii| Ok(RouterService::new(iii, router)))
}

/// Registers `llm::complete`, `llm::models` and `llm::usage` on `iii`, all served by `router`.
pub fn register(iii: &III, router: Arc<Router>) {
    worker().register(iii, RouterService::new(iii, router), None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_manifest_lists_every_verb_of_the_issue() {
        assert_eq!(MANIFEST.functions, &["llm::complete", "llm::models", "llm::usage"]);
    }

    #[test]
    fn a_bad_llm_section_stops_the_start_naming_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agentos.toml");
        let start = |text: &str| {
            std::fs::write(&path, text).unwrap();
            configured_router_from(Some(&path), &|_| None).map(|_| ()).map_err(|e| (e.code, e.message))
        };
        let file = path.display().to_string();
        assert_eq!(
            start("[llm.providers.groq]\nwire = \"grpc\"\n"),
            Err((
                "INVALID_INPUT".into(),
                format!("{file}: [llm] providers.groq.wire: unknown variant `grpc`, expected `anthropic` or `openai`")
            ))
        );
        assert_eq!(
            start("[llm.providers.local]\nwire = \"openai\"\nmodels = [\"m\"]\n[llm.tiers]\nfast = [\"m\"]\n"),
            Err((
                "INVALID_INPUT".into(),
                format!(
                    "{file}: [llm.providers.local] base_url: required (for example \"http://localhost:11434/v1\" for Ollama)\n{file}: [llm.tiers] fast[0] = \"m\": write provider/model with a declared provider (anthropic, openai, local)"
                )
            ))
        );
        assert_eq!(
            start("[llm]\ndefault_model = \"openai/gpt-4o\"\n"),
            Ok(()),
            "no provider is a warning, not an error"
        );
        assert_eq!(configured_router_from(None, &|_| None).map(|_| ()).map_err(|e| e.message), Ok(()));
    }
}
