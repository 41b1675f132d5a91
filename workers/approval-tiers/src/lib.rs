//! agentos-worker-approval-tiers: which tool calls run unasked, which a person approves, and
//! which never run (`approval::classify`).
//!
//! agent-core calls `approval::classify` for every tool call the model makes (after the loop
//! guard). The answer is a [`Classification`]: the tier (`auto`, `ask` or `deny`), the rule that
//! decided and why. On `ask` agent-core goes on to `approval::request` and `approval::wait`
//! (the approval worker).
//!
//! The crate is layered like every worker: [`rules`] is the rule grammar (shared with
//! hand-runner, which reads the same rules from `HAND.toml`), [`builtin`] the builtin rules,
//! [`remembered`] what past decisions leave in state, [`settings`] the `[approval]` section,
//! [`policy`] the pure decision with its order of precedence, and [`register()`] the driver that
//! gathers the inputs over the bus.
//!
//! Order of precedence (first step that matches decides; see [`policy`]):
//! 1. a `deny` rule of the hand, the config or the builtin policy;
//! 2. a remembered `always` rule for this exact call, or a session grant for this function → `auto`;
//! 3. the hand's rules; 4. the config's rules; 5. the builtin rules; 6. `[approval] default` (`ask`).

pub mod builtin;
pub mod policy;
pub mod register;
pub mod remembered;
pub mod rules;
pub mod settings;

pub use policy::{Classification, Context, MatchedRule, classify};
pub use register::{Classifier, MANIFEST, register, run, worker};
pub use remembered::{
    AlwaysRule, By, CoversCall, CoversFunction, GRANTS_SCOPE, RULES_SCOPE, SessionGrant, Via, always_rule_id, canonical,
};
pub use rules::{ArgCondition, Rule, Tier, When};
pub use settings::ApprovalSettings;

/// `approval::classify` (and the body of `POST /v1/policy/explain`): the call to judge and where
/// it comes from (the approval contract).
pub use agentos_protocol::approval::ClassifyRequest;

#[cfg(test)]
mod tests;
