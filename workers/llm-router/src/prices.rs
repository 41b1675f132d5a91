//! What a call costs: a built-in table of OpenAI and Anthropic list prices, overridden and
//! extended by `[llm.prices]`.
//!
//! Rules it keeps:
//! - Prices are US dollars per million tokens, input and output apart; the cost of a call is
//!   `input_tokens × input + output_tokens × output`, divided by a million. Cached-prompt
//!   discounts, batch rates and long-context surcharges are not modelled: the figure is the
//!   standard list price.
//! - A price entry covers a model name exactly, or followed by a snapshot suffix (`-20250514`,
//!   `-2024-08-06`, `-latest`): `claude-sonnet-4-5` prices `claude-sonnet-4-5-20250929`, but
//!   `gpt-4o` does not price `gpt-4o-audio-preview`, nor `claude-opus-4` a future
//!   `claude-opus-4-6`. When several entries match, the longest wins.
//! - The built-in table applies only to the providers named `openai` and `anthropic`, each to
//!   its own vendor's models. Any other provider (Groq, OpenRouter, a local Ollama …) has a price
//!   only when `[llm.prices]` gives one; otherwise the cost is unknown (`None`), never guessed.
//! - `[llm.prices]` keys are `provider/model` (that provider only) or a bare model name (any
//!   provider); a provider-scoped entry beats a bare one, and both beat the built-in table.

use serde::{Deserialize, Serialize};

use crate::types::Usage;

/// A model's list price.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// US dollars per million prompt tokens.
    pub input_per_mtok: f64,
    /// US dollars per million generated tokens.
    pub output_per_mtok: f64,
}

impl Price {
    /// A price of `input` and `output` dollars per million tokens.
    pub const fn new(input: f64, output: f64) -> Self {
        Self { input_per_mtok: input, output_per_mtok: output }
    }

    /// What `usage` costs at this price, in US dollars.
    pub fn cost(&self, usage: Usage) -> f64 {
        // Token counts stay far below 2^53, so the conversions are exact.
        #[allow(clippy::cast_precision_loss)]
        let (input, output) = (usage.input_tokens as f64, usage.output_tokens as f64);
        (input * self.input_per_mtok + output * self.output_per_mtok) / 1_000_000.0
    }
}

/// OpenAI's list prices (standard tier), USD per million tokens.
pub const OPENAI_PRICES: &[(&str, Price)] = &[
    ("gpt-5", Price::new(1.25, 10.0)),
    ("gpt-5-mini", Price::new(0.25, 2.0)),
    ("gpt-5-nano", Price::new(0.05, 0.40)),
    ("gpt-4.1", Price::new(2.0, 8.0)),
    ("gpt-4.1-mini", Price::new(0.40, 1.60)),
    ("gpt-4.1-nano", Price::new(0.10, 0.40)),
    ("gpt-4o", Price::new(2.50, 10.0)),
    ("gpt-4o-2024-05-13", Price::new(5.0, 15.0)),
    ("gpt-4o-mini", Price::new(0.15, 0.60)),
    ("o1", Price::new(15.0, 60.0)),
    ("o1-mini", Price::new(1.10, 4.40)),
    ("o3", Price::new(2.0, 8.0)),
    ("o3-pro", Price::new(20.0, 80.0)),
    ("o3-mini", Price::new(1.10, 4.40)),
    ("o4-mini", Price::new(1.10, 4.40)),
];

/// Anthropic's list prices (prompts up to 200k tokens), USD per million tokens.
pub const ANTHROPIC_PRICES: &[(&str, Price)] = &[
    ("claude-opus-4-5", Price::new(5.0, 25.0)),
    ("claude-opus-4-1", Price::new(15.0, 75.0)),
    ("claude-opus-4-0", Price::new(15.0, 75.0)),
    ("claude-opus-4", Price::new(15.0, 75.0)),
    ("claude-sonnet-4-5", Price::new(3.0, 15.0)),
    ("claude-sonnet-4-0", Price::new(3.0, 15.0)),
    ("claude-sonnet-4", Price::new(3.0, 15.0)),
    ("claude-haiku-4-5", Price::new(1.0, 5.0)),
    ("claude-3-7-sonnet", Price::new(3.0, 15.0)),
    ("claude-3-5-sonnet", Price::new(3.0, 15.0)),
    ("claude-3-5-haiku", Price::new(0.80, 4.0)),
    ("claude-3-opus", Price::new(15.0, 75.0)),
    ("claude-3-haiku", Price::new(0.25, 1.25)),
];

/// Whether entry `name` covers `model`: the same name, or the name and a snapshot suffix.
pub fn covers(name: &str, model: &str) -> bool {
    let Some(rest) = model.strip_prefix(name) else { return false };
    if rest.is_empty() || rest == "-latest" {
        return true;
    }
    let Some(date) = rest.strip_prefix('-') else { return false };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = date.split('-').collect();
    match parts.as_slice() {
        [compact] => digits(compact, 8),
        [y, m, d] => digits(y, 4) && digits(m, 2) && digits(d, 2),
        _ => false,
    }
}

/// The longest entry of `table` covering `model`.
fn longest<'a>(table: impl IntoIterator<Item = (&'a str, Price)>, model: &str) -> Option<Price> {
    table.into_iter().filter(|(name, _)| covers(name, model)).max_by_key(|(name, _)| name.len()).map(|(_, p)| p)
}

/// One `[llm.prices]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceOverride {
    /// The provider it is scoped to; `None` for a bare model name (any provider).
    pub provider: Option<String>,
    /// The model name.
    pub model: String,
    /// The price.
    pub price: Price,
}

/// The built-in table plus the configured entries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceBook {
    overrides: Vec<PriceOverride>,
}

impl PriceBook {
    /// The built-in table only.
    pub fn builtin() -> Self {
        Self::default()
    }

    /// The built-in table under `overrides`.
    pub fn with_overrides(overrides: Vec<PriceOverride>) -> Self {
        Self { overrides }
    }

    /// The price of `model` served by `provider`, when known (see the module rules).
    pub fn lookup(&self, provider: &str, model: &str) -> Option<Price> {
        let scoped = self.overrides.iter().filter(|o| o.provider.as_deref() == Some(provider));
        let bare = self.overrides.iter().filter(|o| o.provider.is_none());
        longest(scoped.map(|o| (o.model.as_str(), o.price)), model)
            .or_else(|| longest(bare.map(|o| (o.model.as_str(), o.price)), model))
            .or_else(|| {
                let table = match provider {
                    "openai" => OPENAI_PRICES,
                    "anthropic" => ANTHROPIC_PRICES,
                    _ => return None,
                };
                longest(table.iter().copied(), model)
            })
    }

    /// What `usage` of `model` at `provider` cost, when the price is known.
    pub fn cost(&self, provider: &str, model: &str, usage: Usage) -> Option<f64> {
        self.lookup(provider, model).map(|p| p.cost(usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn an_entry_covers_its_name_and_snapshots_of_it_only() {
        let cases = [
            ("gpt-4o", "gpt-4o", true),
            ("gpt-4o", "gpt-4o-2024-08-06", true),
            ("claude-sonnet-4-5", "claude-sonnet-4-5-20250929", true),
            ("claude-3-5-sonnet", "claude-3-5-sonnet-latest", true),
            ("gpt-4o", "gpt-4o-mini", false),
            ("gpt-4o", "gpt-4o-audio-preview", false),
            ("claude-opus-4", "claude-opus-4-6", false),
            ("claude-opus-4", "claude-opus-4-20250514", true),
            ("o3", "o3-2025-04-16", true),
            ("o3", "o3-mini", false),
            ("gpt-4o", "gpt-4o-2024-8-6", false),
            ("gpt-4o", "gpt-4", false),
        ];
        for (name, model, expected) in cases {
            assert_eq!(covers(name, model), expected, "{name} covers {model}");
        }
    }

    #[test]
    fn the_builtin_table_prices_current_openai_and_anthropic_models_by_their_own_provider() {
        let book = PriceBook::builtin();
        let cases = [
            ("openai", "gpt-4o-mini-2024-07-18", Some(Price::new(0.15, 0.60))),
            ("openai", "gpt-4o-2024-11-20", Some(Price::new(2.50, 10.0))),
            ("openai", "gpt-4o-2024-05-13", Some(Price::new(5.0, 15.0))),
            ("openai", "gpt-4.1-mini", Some(Price::new(0.40, 1.60))),
            ("openai", "o4-mini", Some(Price::new(1.10, 4.40))),
            ("openai", "o3", Some(Price::new(2.0, 8.0))),
            ("anthropic", "claude-opus-4-1-20250805", Some(Price::new(15.0, 75.0))),
            ("anthropic", "claude-opus-4-5", Some(Price::new(5.0, 25.0))),
            ("anthropic", "claude-sonnet-4-5", Some(Price::new(3.0, 15.0))),
            ("anthropic", "claude-haiku-4-5-20251001", Some(Price::new(1.0, 5.0))),
            ("anthropic", "claude-3-5-haiku-latest", Some(Price::new(0.80, 4.0))),
            ("openai", "llama3.2", None),
            ("openai", "claude-sonnet-4-5", None),
            ("anthropic", "claude-opus-4-6", None),
            ("groq", "gpt-4o", None),
            ("ollama", "llama3.2", None),
        ];
        for (provider, model, expected) in cases {
            assert_eq!(book.lookup(provider, model), expected, "{provider}/{model}");
        }
    }

    #[test]
    fn configured_prices_beat_the_table_scoped_ones_beat_bare_ones() {
        let book = PriceBook::with_overrides(vec![
            PriceOverride { provider: None, model: "gpt-4o".into(), price: Price::new(1.0, 1.0) },
            PriceOverride { provider: Some("openai".into()), model: "gpt-4o".into(), price: Price::new(2.0, 2.0) },
            PriceOverride {
                provider: Some("groq".into()),
                model: "llama-3.3-70b".into(),
                price: Price::new(0.59, 0.79),
            },
        ]);
        assert_eq!(book.lookup("openai", "gpt-4o-2024-08-06"), Some(Price::new(2.0, 2.0)));
        assert_eq!(book.lookup("azure", "gpt-4o"), Some(Price::new(1.0, 1.0)));
        assert_eq!(book.lookup("groq", "llama-3.3-70b"), Some(Price::new(0.59, 0.79)));
        assert_eq!(book.lookup("other", "llama-3.3-70b"), None);
        assert_eq!(book.lookup("openai", "gpt-4o-mini"), Some(Price::new(0.15, 0.60)), "the table still applies");
    }

    #[test]
    fn the_cost_is_tokens_times_the_price_per_million() {
        let cost = Price::new(3.0, 15.0).cost(Usage { input_tokens: 1_000_000, output_tokens: 2_000 });
        assert!((cost - 3.03).abs() < 1e-12, "{cost}");
        assert_eq!(PriceBook::builtin().cost("ollama", "llama3.2", Usage::default()), None);
    }
}
