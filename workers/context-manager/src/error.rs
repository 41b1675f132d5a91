//! The context-manager's typed errors.
//!
//! Rule: every variant has a stable code (its [`ErrorCode::code`]) and a message that says how
//! to fix the problem. Leaving the crate, a [`ContextError`] becomes the kit's [`WorkerError`],
//! so bus callers get the code back; errors of the functions context-manager calls (an
//! `llm::complete` failure during `context::compact`) keep their own code.

use agentos_kit::{ErrorCode, WorkerError, codes};

/// The code of [`ContextError::TooLarge`].
pub use agentos_kit::codes::CONTEXT_TOO_LARGE;

/// Why a context operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// The parts that can never be dropped do not fit the budget (`CONTEXT_TOO_LARGE`).
    #[error(
        "the prompt cannot fit: the system prompt with its directives ({system} tokens), the new message ({message} tokens) and the tool schemas ({tools} tokens) need {needed} tokens, but the budget is {prompt} tokens ({budget}); shorten the system prompt, the directives or the message, send fewer tools, lower reserve_tokens, or use a model with a larger context window",
        needed = .system + .message + .tools
    )]
    TooLarge {
        /// Tokens of the system message without memories.
        system: u64,
        /// Tokens of the new user message.
        message: u64,
        /// Tokens of the tool schemas.
        tools: u64,
        /// The prompt budget.
        prompt: u64,
        /// Where the budget comes from ([`crate::window::Budget::describe`]).
        budget: String,
    },
    /// The summarising model answered without text (`BAD_RESPONSE`).
    #[error(
        "llm::complete ({model}) answered the summary request without any text; retry, or summarise with another model"
    )]
    EmptySummary {
        /// The model that answered.
        model: String,
    },
    /// A failure the kit reported (a call to another function), with its own code.
    #[error("{}", .0.message)]
    Worker(#[from] WorkerError),
}

impl ErrorCode for ContextError {
    fn code(&self) -> &str {
        match self {
            Self::TooLarge { .. } => CONTEXT_TOO_LARGE,
            Self::EmptySummary { .. } => codes::BAD_RESPONSE,
            Self::Worker(e) => e.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn every_error_leaves_the_crate_with_its_code_and_message() {
        let too_large = ContextError::TooLarge {
            system: 900,
            message: 300,
            tools: 50,
            prompt: 1_000,
            budget: "budget_tokens 1000 minus 0 reserved for the answer".into(),
        };
        assert_eq!(
            too_large.to_worker_error(),
            WorkerError::new(
                "CONTEXT_TOO_LARGE",
                "the prompt cannot fit: the system prompt with its directives (900 tokens), the new message (300 tokens) and the tool schemas (50 tokens) need 1250 tokens, but the budget is 1000 tokens (budget_tokens 1000 minus 0 reserved for the answer); shorten the system prompt, the directives or the message, send fewer tools, lower reserve_tokens, or use a model with a larger context window"
            )
        );
        assert_eq!(ContextError::EmptySummary { model: "m".into() }.to_worker_error().code, "BAD_RESPONSE");
        let inner = WorkerError::new("NO_PROVIDER", "set OPENAI_API_KEY");
        assert_eq!(ContextError::Worker(inner.clone()).to_worker_error(), inner);
    }
}
