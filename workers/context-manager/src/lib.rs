//! agentos-worker-context-manager: the context manager (`context::*`).
//!
//! agent-core calls `context::build` at the start of every chat turn: it assembles the prompt
//! (system prompt, standing directives, recalled memory, history, the new message) within the
//! model's token budget, compacting older history through `llm::complete` when it does not fit.
//! `context::estimate` counts tokens, `context::compact` summarises a history on request, and
//! `context::budget` names a model's window.
//!
//! Where things live:
//! - [`estimate`]: the heuristic token estimator (no tokenizer download);
//! - [`window`]: the context-window table and the prompt budget;
//! - [`prompt`]: assembly and what history to keep ([`prompt::Plan`]);
//! - [`summary`]: the transcript, the summary request and note, the compact cut;
//! - [`recall`]: the `memory::recall` request and the lenient reading of its answer;
//! - [`driver`]: the async steps that call `memory::recall` and `llm::complete`;
//! - [`worker()`]: the declaration of the functions.
//!
//! Rules it keeps:
//! - Every decision is a plain function tested directly; the driver only calls them and the
//!   two bus functions.
//! - A build never fails because of memory or summarising: a missing memory worker means no
//!   memories, a failed summary means the oldest messages are dropped (and the answer says so).
//!   It fails only with `CONTEXT_TOO_LARGE`, when the parts that are never dropped do not fit.
//! - Nothing is kept between calls: every answer follows from its request (and the default
//!   model of the worker's environment).

pub mod driver;
pub mod error;
pub mod estimate;
pub mod prompt;
pub mod recall;
pub mod register;
pub mod summary;
pub mod window;

#[cfg(test)]
mod prompt_tests;

use agentos_kit::chat::{ChatMessage, ToolSpec};
use serde::{Deserialize, Serialize};

pub use driver::{Context, Settings};
pub use error::{CONTEXT_TOO_LARGE, ContextError};
pub use recall::Memory;
pub use register::{MANIFEST, register, run, worker};
pub use window::BudgetAnswer;

/// The `context::estimate` request: any mix of text, messages and tool schemas.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstimateRequest {
    /// Plain text.
    #[serde(default)]
    pub text: Option<String>,
    /// Chat messages, each with its overhead.
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
    /// Tool schemas.
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
}

/// The `context::estimate` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EstimateAnswer {
    /// The estimated tokens of everything in the request.
    pub tokens: u64,
}

/// `context::estimate`: the sum of the estimates of the request's parts.
pub fn estimate_request(req: &EstimateRequest) -> EstimateAnswer {
    let text = req.text.as_deref().map_or(0, estimate::text_tokens);
    EstimateAnswer { tokens: text + estimate::messages_tokens(&req.messages) + estimate::tools_tokens(&req.tools) }
}

/// Serde's default for `recall`: on.
fn yes() -> bool {
    true
}

/// The `context::build` request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildRequest {
    /// The agent's system prompt.
    #[serde(default)]
    pub system: Option<String>,
    /// Standing directives, listed under the system prompt.
    #[serde(default)]
    pub directives: Vec<String>,
    /// The conversation so far, oldest first.
    #[serde(default)]
    pub history: Vec<ChatMessage>,
    /// The new user message; absent or blank means none (the prompt ends with the history).
    #[serde(default)]
    pub message: Option<String>,
    /// The tool schemas the turn will send; they count against the budget.
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// The chat model, for its context window; the worker's default model when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// The window to fit, overriding the model's (see [`window`]).
    #[serde(default)]
    pub budget_tokens: Option<u64>,
    /// Tokens kept free for the answer (default 4096 with the model's window, 0 with
    /// `budget_tokens`).
    #[serde(default)]
    pub reserve_tokens: Option<u64>,
    /// The realm to recall memories from.
    #[serde(default)]
    pub realm: Option<String>,
    /// The agent whose memories to recall.
    #[serde(default)]
    pub agent: Option<String>,
    /// Whether to ask `memory::recall` (default true).
    #[serde(default = "yes")]
    pub recall: bool,
}

/// The `context::build` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildAnswer {
    /// The prompt, in order: system, summary note, kept history, new user message.
    pub messages: Vec<ChatMessage>,
    /// The estimate of `messages` plus the tool schemas; never above `budget_tokens`.
    pub estimated_tokens: u64,
    /// The prompt budget: the window minus the reserve.
    pub budget_tokens: u64,
    /// The memories that went into the system message.
    pub recalled: Vec<Memory>,
    /// Whether older history was replaced by a summary note.
    pub compacted: bool,
    /// The summary, when `compacted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// History messages left out without a summary (0 when everything fitted or was
    /// summarised).
    pub dropped_messages: u64,
}

/// The number of messages `context::compact` keeps when the request names none.
pub const DEFAULT_KEEP_LAST: u64 = 6;

/// The `context::compact` request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompactRequest {
    /// The history to compact, oldest first.
    pub history: Vec<ChatMessage>,
    /// How many of the newest messages to keep as they are (default 6; more when the cut would
    /// separate tool results from their call).
    #[serde(default)]
    pub keep_last: Option<u64>,
    /// The model that writes the summary; the `fast` tier when absent.
    #[serde(default)]
    pub model: Option<String>,
}

/// The `context::compact` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompactAnswer {
    /// The summary of the older messages; empty when nothing was old enough to compact.
    pub summary: String,
    /// The summary note followed by the kept messages (the history unchanged when nothing was
    /// compacted).
    pub history: Vec<ChatMessage>,
}

/// The `context::budget` request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetRequest {
    /// The model; the worker's default model when absent.
    #[serde(default)]
    pub model: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn an_estimate_adds_text_messages_and_tools() {
        let req: EstimateRequest = serde_json::from_value(json!({
            "text": "abcdefgh",
            "messages": [{"role": "user", "content": "abcd"}],
            "tools": [{"name": "ls"}]
        }))
        .unwrap();
        let tool_json = r#"{"name":"ls","description":"","parameters":{"type":"object","properties":{}}}"#;
        assert_eq!(
            estimate_request(&req),
            EstimateAnswer { tokens: 2 + (estimate::MESSAGE_OVERHEAD + 1) + estimate::text_tokens(tool_json) }
        );
        assert_eq!(estimate_request(&EstimateRequest::default()), EstimateAnswer { tokens: 0 });
    }

    #[test]
    fn a_build_request_recalls_by_default_and_rejects_unknown_fields() {
        let req: BuildRequest = serde_json::from_value(json!({"message": "hi"})).unwrap();
        assert!(req.recall);
        assert!(serde_json::from_value::<BuildRequest>(json!({"mesage": "hi"})).is_err());
    }
}
