//! agentos-worker-agent-core: the agent loop (`agent::*`).
//!
//! `agent::chat` runs one chat turn as a chain of function calls through the engine
//! ([`turn`]): the hand (`hand::get`), the live tools (`engine::functions::list`), the prompt
//! (`context::build`), the model (`llm::complete`, streamed into the caller's event channel),
//! and for every tool call the loop guard (`guard::check`), the allow-list and the tool function
//! itself, until the model answers or the step limit stops it. Sessions (their history: [`history`]) and agent
//! records ([`agents`]) live in engine state, scoped to a realm. `agent::interrupt` stops a
//! session's running turn at its next safe point ([`interrupt`]). No turn is left orphaned: a
//! restart of agent-core or of the engine fails the sessions it cut short and expires their
//! approval requests ([`orphans`], [`lifeline`]).
//!
//! Rules it keeps:
//! - The loop's decisions are a pure state machine ([`turn::machine`]), tested as tables of
//!   inputs and effects; a thin driver carries them out over the [`Bus`] and [`Events`] traits.
//!   [`worker`] supplies the real ones (iii calls and an iii channel), unit tests supply fakes.
//! - No decision is taken in the glue; no provider, tool or hand is special-cased here.

pub mod agents;
pub mod approve;
pub mod history;
pub mod interrupt;
pub mod lifeline;
pub mod orphans;
pub mod record;
pub mod register;
pub mod remember;
pub mod settings;
pub mod tools;
pub mod turn;

#[cfg(test)]
mod tests;

pub use interrupt::Interrupts;
pub use register::{AgentCore, IiiBus, MANIFEST, run, worker};
pub use settings::Settings;
pub use turn::{
    Bus, ChatAnswer, ChatRequest, Events, NoEvents, ToolCallRecord, TurnUsage, chat, chat_interruptible,
    chat_supervised,
};

/// The realm used when a request names none.
pub const DEFAULT_REALM: &str = "default";
