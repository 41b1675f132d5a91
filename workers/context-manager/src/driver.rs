//! The async driver of `context::build` and `context::compact`: it carries out the plan of
//! [`crate::prompt`] and makes the two calls that need the bus, `memory::recall` and
//! `llm::complete`.
//!
//! Rules it keeps:
//! - No decisions here beyond "did the call work": what to keep, what to summarise and how the
//!   prompt looks are [`Plan`]'s.
//! - `memory::recall` gets [`RECALL_TIMEOUT`]; any failure means no memories. A missing memory
//!   worker (`function_not_found`) is normal and logged at debug; other failures at warn,
//!   because they slow or thin out every turn.
//! - During a build a failed summary drops the oldest messages instead (logged at warn, and
//!   visible in the answer); during `context::compact` it is the caller's error, with its code.

use std::time::Duration;

use agentos_kit::chat::{ChatMessage, Completion};
use agentos_kit::{ErrorCode, III, call};

use crate::prompt::{Cut, Plan};
use crate::recall::{Memory, RECALL_K, RecallAnswer, RecallRequest};
use crate::window::Budget;
use crate::{BuildAnswer, BuildRequest, CompactAnswer, CompactRequest, ContextError, DEFAULT_KEEP_LAST, summary};

/// How long a build waits for `memory::recall`: recall is a nice-to-have on the path of every
/// turn, so a slow memory worker may cost a turn at most this much.
pub const RECALL_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a summary may take: a fast model summarising a long transcript needs tens of
/// seconds, and the router retries within this time.
pub const SUMMARY_TIMEOUT: Duration = Duration::from_secs(60);

/// The engine's error code for a call to a function nobody registered.
pub const FUNCTION_NOT_FOUND: &str = "function_not_found";

/// What the worker reads from its environment when it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// The model assumed when a request names none: `AGENTOS_MODEL`, the variable that also
    /// picks the llm-router's default model.
    pub default_model: Option<String>,
}

impl Settings {
    /// Reads the settings through `lookup` (the process environment in production).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let default_model = lookup("AGENTOS_MODEL").map(|m| m.trim().to_string()).filter(|m| !m.is_empty());
        Self { default_model }
    }

    /// The process environment's settings.
    pub fn from_env() -> Self {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }
}

/// The context manager: the worker's connection and settings.
#[derive(Clone)]
pub struct Context {
    iii: III,
    settings: Settings,
}

impl Context {
    /// A context manager calling other functions through `iii`.
    pub fn new(iii: III, settings: Settings) -> Self {
        Self { iii, settings }
    }

    /// The model a request is about: its own, else the default model.
    pub fn model<'a>(&'a self, requested: Option<&'a str>) -> Option<&'a str> {
        requested.map(str::trim).filter(|m| !m.is_empty()).or(self.settings.default_model.as_deref())
    }

    /// `context::build`: plan, recall, cut, summarise if needed, assemble.
    ///
    /// Errors: only [`ContextError::TooLarge`].
    pub async fn build(&self, req: BuildRequest) -> Result<BuildAnswer, ContextError> {
        let budget = Budget::new(self.model(req.model.as_deref()), req.budget_tokens, req.reserve_tokens);
        let mut plan =
            Plan::new(req.system.as_deref(), req.directives, req.history, req.message.as_deref(), &req.tools, budget)?;
        if req.recall
            && let Some(query) = plan.message().map(str::to_string)
        {
            let memories = self.recall(&query, req.realm.as_deref(), req.agent.as_deref()).await;
            plan.add_memories(memories);
        }
        Ok(match plan.cut() {
            Cut::All => plan.finish(0, None),
            Cut::Drop { keep_from } => {
                tracing::info!(dropped = keep_from, "no room for a summary: dropping the oldest messages");
                plan.finish(keep_from, None)
            }
            Cut::Compact { keep_from } => {
                let older = plan.history().get(..keep_from).unwrap_or_default();
                match self.summarise(older, None).await {
                    Ok(text) => {
                        tracing::info!(compacted = keep_from, "older history summarised");
                        plan.finish(keep_from, Some(text))
                    }
                    Err(e) => {
                        let keep_from = plan.drop_cut();
                        tracing::warn!(
                            code = e.code(),
                            dropped = keep_from,
                            "summarising older history failed, dropping the oldest messages instead: {e}"
                        );
                        plan.finish(keep_from, None)
                    }
                }
            }
        })
    }

    /// `context::compact`: summarises all but the last `keep_last` messages.
    ///
    /// Errors: the code of `llm::complete`'s failure, or `BAD_RESPONSE` for an empty summary.
    pub async fn compact(&self, req: CompactRequest) -> Result<CompactAnswer, ContextError> {
        let keep_last = usize::try_from(req.keep_last.unwrap_or(DEFAULT_KEEP_LAST)).unwrap_or(usize::MAX);
        let cut = summary::compact_cut(&req.history, keep_last);
        if cut == 0 {
            return Ok(CompactAnswer { summary: String::new(), history: req.history });
        }
        let older = req.history.get(..cut).unwrap_or_default();
        let text = self.summarise(older, req.model).await?;
        let mut history = Vec::with_capacity(req.history.len() - cut + 1);
        history.push(summary::note(cut, &text));
        history.extend(req.history.into_iter().skip(cut));
        Ok(CompactAnswer { summary: text, history })
    }

    /// The summary of `messages` from `llm::complete`.
    async fn summarise(&self, messages: &[ChatMessage], model: Option<String>) -> Result<String, ContextError> {
        let request = summary::request(messages, model);
        let done: Completion = call(&self.iii, "llm::complete", &request, SUMMARY_TIMEOUT).await?;
        summary::text(&done)
    }

    /// The memories `memory::recall` finds for `query`; none when it fails (see the module
    /// rules).
    async fn recall(&self, query: &str, realm: Option<&str>, agent: Option<&str>) -> Vec<Memory> {
        let request = RecallRequest { query, realm, agent, k: RECALL_K };
        match call::<_, Option<RecallAnswer>>(&self.iii, "memory::recall", &request, RECALL_TIMEOUT).await {
            Ok(answer) => answer.unwrap_or_default().into_memories(),
            Err(e) if e.code == FUNCTION_NOT_FOUND => {
                tracing::debug!("no memory worker (memory::recall is not registered): building without memories");
                Vec::new()
            }
            Err(e) => {
                tracing::warn!(code = e.code, "memory::recall failed, building without memories: {}", e.message);
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_default_model_is_agentos_model_when_set_and_not_blank() {
        let set = Settings::from_lookup(&|name| (name == "AGENTOS_MODEL").then(|| " openai/gpt-4o ".to_string()));
        assert_eq!(set, Settings { default_model: Some("openai/gpt-4o".into()) });
        assert_eq!(Settings::from_lookup(&|_| Some("  ".into())), Settings::default());
        assert_eq!(Settings::from_lookup(&|_| None), Settings::default());
    }

    #[test]
    fn a_requested_model_wins_over_the_default() {
        let ctx = Context::new(III::new("ws://127.0.0.1:1"), Settings { default_model: Some("claude-x".into()) });
        assert_eq!(ctx.model(Some("gpt-4o")), Some("gpt-4o"));
        assert_eq!(ctx.model(Some(" ")), Some("claude-x"));
        assert_eq!(ctx.model(None), Some("claude-x"));
    }
}
