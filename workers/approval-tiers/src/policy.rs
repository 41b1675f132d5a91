//! The decision: which tier a tool call gets, and which rule says so. Pure but for one read-only
//! look at the disk (where a safe command's arguments lead, [`builtin::escaping_argument`]): the
//! driver gathers the hand's rules, the session's grant and the remembered rule, then calls
//! [`classify`].
//!
//! Order of precedence (the first step that matches decides):
//! 1. **deny**: the first `deny` rule that matches, from the hand, then the config, then the
//!    builtin denials. Nothing overrides a denial: not a remembered approval, not a grant.
//! 2. **remembered**: an `always` rule for this exact call, then a session grant for this
//!    function → `auto`.
//! 3. **hand** rules, in file order (first match wins).
//! 4. **config** rules (`[approval]`), in file order.
//! 5. **builtin** rules ([`crate::builtin`]).
//! 6. the **default** (`[approval] default`, else `ask`).

use std::path::Path;

use serde_json::Value;

use crate::builtin;
use crate::remembered::{AlwaysRule, CoversCall, CoversFunction, SessionGrant};
use crate::rules::{Rule, Tier};
use crate::settings::ApprovalSettings;

/// The rule that decided a classification, and what `approval::classify` answers (the approval
/// contract).
pub use agentos_protocol::approval::{Classification, MatchedRule};

/// Everything besides the call that the decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// `[approval]`: the config rules and the default.
    pub settings: &'a ApprovalSettings,
    /// The hand's name and its rules, when the call comes from a hand.
    pub hand: Option<(&'a str, &'a [Rule])>,
    /// The `always` rule stored under this call's id, if any (checked again here).
    pub always: Option<&'a AlwaysRule>,
    /// The session's grant, if any.
    pub grant: Option<&'a SessionGrant>,
    /// The workspace root (canonical), when known: a safe command whose arguments lead out of
    /// it is not `auto` ([`builtin::escaping_argument`]).
    pub workspace: Option<&'a Path>,
}

/// Classifies a call of `function_id` with `arguments` (see the module doc for the order).
pub fn classify(function_id: &str, arguments: &Value, ctx: &Context<'_>) -> Classification {
    let hand_rules = ctx.hand.map(|(name, rules)| (format!("hand:{name}"), rules));
    let config_rules = ("config".to_string(), ctx.settings.rules.as_slice());
    let lists: Vec<(String, &[Rule])> = hand_rules.into_iter().chain(std::iter::once(config_rules)).collect();

    // 1. denials
    for (source, rules) in &lists {
        if let Some((i, rule)) = first_match(rules, function_id, arguments, |r| r.tier == Tier::Deny) {
            return from_rule(source, i, rule);
        }
    }
    if let Some(m) = builtin::deny(function_id, arguments) {
        return from_builtin(m);
    }
    // 2. remembered decisions
    if let Some(rule) = ctx.always.filter(|r| r.covers(function_id, arguments)) {
        let who = rule.by.who.as_deref().map(|w| format!(" by {w}")).unwrap_or_default();
        return Classification {
            tier: Tier::Auto,
            rule: MatchedRule {
                id: rule.id.clone(),
                source: "always".into(),
                function: rule.function_id.clone(),
                when: Some(rule.arguments.clone()),
            },
            reason: format!(
                "approved always{who} (request {}); `agentos approvals forget {}` removes it",
                rule.from_request, rule.id
            ),
        };
    }
    if let Some(grant) = ctx.grant.filter(|g| g.covers(function_id)) {
        return Classification {
            tier: Tier::Auto,
            rule: MatchedRule {
                id: format!("grant:{}", grant.session_id),
                source: "session".into(),
                function: function_id.to_string(),
                when: None,
            },
            reason: format!("{function_id} was approved for the rest of session {}", grant.session_id),
        };
    }
    // 3. and 4. hand, then config rules
    for (source, rules) in &lists {
        if let Some((i, rule)) = first_match(rules, function_id, arguments, |_| true) {
            return from_rule(source, i, rule);
        }
    }
    // 5. builtin rules
    if let Some(m) = builtin::decide(function_id, arguments, ctx.workspace) {
        return from_builtin(m);
    }
    // 6. the default
    let (tier, source) = match ctx.settings.default {
        Some(tier) => (tier, "config"),
        None => (Tier::Ask, "builtin"),
    };
    Classification {
        tier,
        rule: MatchedRule { id: "default".into(), source: source.into(), function: "*".into(), when: None },
        reason: format!(
            "no rule covers {function_id}, so the default applies ([approval] default = \"{}\")",
            tier.as_str()
        ),
    }
}

/// The first rule (with its index) that covers the call and passes `filter`.
fn first_match<'r>(
    rules: &'r [Rule],
    function_id: &str,
    arguments: &Value,
    filter: impl Fn(&Rule) -> bool,
) -> Option<(usize, &'r Rule)> {
    rules.iter().enumerate().find(|(_, r)| filter(r) && r.matches(function_id, arguments))
}

/// The classification of rule `i` of `source`.
fn from_rule(source: &str, i: usize, rule: &Rule) -> Classification {
    let id = rule.id.clone().unwrap_or_else(|| format!("{source}#{}", i + 1));
    let reason = rule.reason.clone().unwrap_or_else(|| {
        let whose = match source.strip_prefix("hand:") {
            Some(hand) => format!("hand {hand}'s rule"),
            None => "the [approval] rule".to_string(),
        };
        format!("{whose} {id} ({}) says {}", rule.describe(), rule.tier.as_str())
    });
    Classification {
        tier: rule.tier,
        rule: MatchedRule {
            id,
            source: source.to_string(),
            function: rule.function.clone(),
            when: rule.when.as_ref().and_then(|w| serde_json::to_value(w).ok()),
        },
        reason,
    }
}

/// The classification of a builtin rule.
fn from_builtin(m: builtin::BuiltinMatch) -> Classification {
    Classification {
        tier: m.tier,
        rule: MatchedRule { id: m.id.into(), source: "builtin".into(), function: m.function.into(), when: None },
        reason: m.reason,
    }
}
