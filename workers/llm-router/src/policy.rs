//! The tier policy: which tier serves a request that names no model. Pure functions of the
//! request and the [`Thresholds`]; [`crate::router::Providers::plan`] turns the chosen tier into
//! the fallback chain configured under `[llm.tiers]`.
//!
//! Rules it keeps, in order (the first that applies wins):
//! 1. An explicit `model` wins: no tier ([`Route::model`]).
//! 2. An explicit `tier` (`fast`, `standard`, `deep`) is used as given; any other value is
//!    `INVALID_INPUT` naming the three.
//! 3. Otherwise the request's size decides. The prompt is estimated at one token per
//!    [`CHARS_PER_TOKEN`] characters of message text, tool-call arguments and tool schemas:
//!    - `deep` when the estimate reaches [`DEEP_PROMPT_TOKENS`] or the conversation has at least
//!      [`DEEP_HISTORY_MESSAGES`] non-system messages (a long task that needs the strongest model);
//!    - `standard` when tools are offered (tool use needs a capable model) or the estimate
//!      reaches [`STANDARD_PROMPT_TOKENS`];
//!    - `fast` for a small prompt without tools (titles, summaries, classification).
//!
//! The three thresholds can be changed under `[llm.policy]`; the constants are the defaults.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::LlmError;
use crate::types::{CompletionRequest, Role};

/// Characters per estimated token: the usual rule of thumb for English text and code.
pub const CHARS_PER_TOKEN: u64 = 4;
/// Estimated prompt tokens from which a request goes to `standard` even without tools
/// (a few pages of context).
pub const STANDARD_PROMPT_TOKENS: u64 = 2_000;
/// Estimated prompt tokens from which a request goes to `deep` (a large codebase excerpt or a
/// long document).
pub const DEEP_PROMPT_TOKENS: u64 = 32_000;
/// Non-system messages from which a conversation goes to `deep` (a long multi-step task).
pub const DEEP_HISTORY_MESSAGES: usize = 40;

/// A routing tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Cheap and quick: small prompts without tools.
    Fast,
    /// The everyday model: tool use, medium prompts.
    Standard,
    /// The strongest model: very long prompts and long histories.
    Deep,
}

impl Tier {
    /// Every tier, cheapest first.
    pub const ALL: [Tier; 3] = [Tier::Fast, Tier::Standard, Tier::Deep];

    /// Its name in requests, answers and `[llm.tiers]`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Standard => "standard",
            Self::Deep => "deep",
        }
    }

    /// The tier called `name` (trimmed, case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the policy's size rules switch tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// See [`STANDARD_PROMPT_TOKENS`].
    pub standard_prompt_tokens: u64,
    /// See [`DEEP_PROMPT_TOKENS`].
    pub deep_prompt_tokens: u64,
    /// See [`DEEP_HISTORY_MESSAGES`].
    pub deep_history_messages: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            standard_prompt_tokens: STANDARD_PROMPT_TOKENS,
            deep_prompt_tokens: DEEP_PROMPT_TOKENS,
            deep_history_messages: DEEP_HISTORY_MESSAGES,
        }
    }
}

/// The policy's decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The request's own model, when it named one (then `tier` is `None`).
    pub model: Option<String>,
    /// The tier whose chain serves the request.
    pub tier: Option<Tier>,
    /// Why, in a few words (goes into the answer as `route_reason`).
    pub reason: String,
}

/// The estimated prompt size of `req` in tokens: one per [`CHARS_PER_TOKEN`] characters of the
/// messages' text, their tool calls and the offered tools' names, descriptions and schemas.
pub fn estimate_prompt_tokens(req: &CompletionRequest) -> u64 {
    let messages: usize = req
        .messages
        .iter()
        .map(|m| {
            m.content.chars().count()
                + m.tool_calls.iter().map(|c| c.name.len() + c.arguments.to_string().len()).sum::<usize>()
        })
        .sum();
    let tools: usize =
        req.tools.iter().map(|t| t.name.len() + t.description.chars().count() + t.parameters.to_string().len()).sum();
    let chars = u64::try_from(messages + tools).unwrap_or(u64::MAX);
    chars.div_ceil(CHARS_PER_TOKEN)
}

/// The route for `req` under `thresholds` (see the module rules).
///
/// Errors: `INVALID_INPUT` when `tier` names no tier.
pub fn route(req: &CompletionRequest, thresholds: &Thresholds) -> Result<Route, LlmError> {
    if let Some(model) = req.model.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        return Ok(Route { model: Some(model.to_string()), tier: None, reason: "explicit model".into() });
    }
    if let Some(name) = req.tier.as_deref().filter(|t| !t.trim().is_empty()) {
        let Some(tier) = Tier::parse(name) else {
            return Err(LlmError::InvalidRequest(format!(
                "tier {name:?} is not a tier; use fast, standard or deep, or name a model"
            )));
        };
        return Ok(Route { model: None, tier: Some(tier), reason: "explicit tier".into() });
    }
    let tokens = estimate_prompt_tokens(req);
    let history = req.messages.iter().filter(|m| m.role != Role::System).count();
    let (tier, reason) = if tokens >= thresholds.deep_prompt_tokens {
        (Tier::Deep, format!("~{tokens} prompt tokens >= {}", thresholds.deep_prompt_tokens))
    } else if history >= thresholds.deep_history_messages {
        (Tier::Deep, format!("{history} messages >= {}", thresholds.deep_history_messages))
    } else if !req.tools.is_empty() {
        (Tier::Standard, format!("{} tools offered", req.tools.len()))
    } else if tokens >= thresholds.standard_prompt_tokens {
        (Tier::Standard, format!("~{tokens} prompt tokens >= {}", thresholds.standard_prompt_tokens))
    } else {
        (Tier::Fast, format!("~{tokens} prompt tokens < {}, no tools", thresholds.standard_prompt_tokens))
    };
    Ok(Route { model: None, tier: Some(tier), reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ChatMessage, ToolSpec};
    use agentos_kit::ErrorCode;
    use pretty_assertions::assert_eq;

    fn request(messages: Vec<ChatMessage>, tools: usize) -> CompletionRequest {
        let tools = (0..tools)
            .map(|i| ToolSpec { name: format!("t{i}"), description: String::new(), parameters: serde_json::json!({}) })
            .collect();
        CompletionRequest { messages, tools, ..CompletionRequest::default() }
    }

    /// `(tier, reason)` of the route, or the error's code and message.
    fn decide(req: &CompletionRequest) -> Result<(Option<Tier>, String), String> {
        route(req, &Thresholds::default()).map(|r| (r.tier, r.reason)).map_err(|e| format!("{}: {e}", e.code()))
    }

    #[test]
    fn the_estimate_counts_text_tool_calls_and_tool_schemas_at_four_chars_a_token() {
        let call = crate::types::ToolCall { id: "c".into(), name: "ls".into(), arguments: serde_json::json!({}) };
        let req = request(vec![ChatMessage::user("12345678"), ChatMessage::assistant_calls("1", vec![call])], 1);
        // 8 + 1 + "ls" 2 + "{}" 2 + tool "t0" 2 + "{}" 2 = 17 chars -> 5 tokens
        assert_eq!(estimate_prompt_tokens(&req), 5);
        assert_eq!(estimate_prompt_tokens(&request(vec![], 0)), 0);
    }

    #[test]
    fn an_explicit_model_wins_over_tier_and_size() {
        let req = CompletionRequest {
            model: Some(" openai/gpt-4o ".into()),
            tier: Some("deep".into()),
            ..request(vec![ChatMessage::user("x".repeat(1_000_000))], 3)
        };
        let r = route(&req, &Thresholds::default()).unwrap();
        assert_eq!(r, Route { model: Some("openai/gpt-4o".into()), tier: None, reason: "explicit model".into() });
    }

    #[test]
    fn an_explicit_tier_wins_over_size_and_an_unknown_one_is_refused() {
        let big = request(vec![ChatMessage::user("x".repeat(1_000_000))], 0);
        let fast = CompletionRequest { tier: Some("Fast".into()), ..big.clone() };
        assert_eq!(decide(&fast), Ok((Some(Tier::Fast), "explicit tier".into())));
        let blank = CompletionRequest { tier: Some(" ".into()), model: Some(String::new()), ..big.clone() };
        assert_eq!(decide(&blank).map(|d| d.0), Ok(Some(Tier::Deep)), "blank model and tier are absent");
        let bad = CompletionRequest { tier: Some("turbo".into()), ..big };
        assert_eq!(
            decide(&bad),
            Err("INVALID_INPUT: tier \"turbo\" is not a tier; use fast, standard or deep, or name a model".into())
        );
    }

    #[test]
    fn size_tools_and_history_pick_the_tier_at_the_documented_thresholds() {
        let chars = |tokens: u64| "x".repeat(usize::try_from(tokens * CHARS_PER_TOKEN).unwrap());
        let history = |n: usize| (0..n).map(|_| ChatMessage::user("hi")).collect::<Vec<_>>();
        let with_system = {
            let mut m = vec![ChatMessage::system("rules"); 5];
            m.extend(history(DEEP_HISTORY_MESSAGES - 1));
            m
        };
        let cases: Vec<(CompletionRequest, Tier, String)> = vec![
            (request(history(1), 0), Tier::Fast, "~1 prompt tokens < 2000, no tools".into()),
            (
                request(vec![ChatMessage::user(chars(STANDARD_PROMPT_TOKENS - 1))], 0),
                Tier::Fast,
                "~1999 prompt tokens < 2000, no tools".into(),
            ),
            (request(history(1), 2), Tier::Standard, "2 tools offered".into()),
            (
                request(vec![ChatMessage::user(chars(STANDARD_PROMPT_TOKENS))], 0),
                Tier::Standard,
                "~2000 prompt tokens >= 2000".into(),
            ),
            (request(with_system, 1), Tier::Standard, "1 tools offered".into()),
            (request(history(DEEP_HISTORY_MESSAGES), 1), Tier::Deep, "40 messages >= 40".into()),
            (
                request(vec![ChatMessage::user(chars(DEEP_PROMPT_TOKENS))], 1),
                Tier::Deep,
                "~32001 prompt tokens >= 32000".into(),
            ),
        ];
        for (req, tier, reason) in cases {
            assert_eq!(decide(&req), Ok((Some(tier), reason)), "{} messages", req.messages.len());
        }
    }

    #[test]
    fn thresholds_can_be_moved() {
        let t = Thresholds { standard_prompt_tokens: 1, deep_prompt_tokens: 3, deep_history_messages: 100 };
        let at = |text: &str| route(&request(vec![ChatMessage::user(text)], 0), &t).unwrap().tier;
        assert_eq!(
            (at(""), at("abcd"), at(&"x".repeat(12))),
            (Some(Tier::Fast), Some(Tier::Standard), Some(Tier::Deep))
        );
    }
}
