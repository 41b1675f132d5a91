//! Context windows and the prompt budget.
//!
//! Rules it keeps:
//! - A model's window comes from [`WINDOWS`] by the longest matching prefix of its bare name:
//!   the part after the last `/` (`openai/gpt-4o` → `gpt-4o`), lower-cased. Unknown and local
//!   models get [`DEFAULT_WINDOW`]: small enough for most local servers, and a prompt that fits
//!   a small window fits a large one.
//! - The prompt budget (messages plus tool schemas) is the window minus the reserve for the
//!   answer. When the caller gives `budget_tokens` it is taken as the window it already worked
//!   out, so only an explicit `reserve_tokens` is subtracted from it; from the table, the reserve
//!   defaults to [`DEFAULT_RESERVE`].

use serde::Serialize;

/// The window assumed for a model the table does not know (or no model at all): 32k tokens.
pub const DEFAULT_WINDOW: u64 = 32_768;

/// Tokens kept free for the answer when the caller names no reserve: enough for a long answer
/// or a few tool calls.
pub const DEFAULT_RESERVE: u64 = 4_096;

/// Context windows (input tokens) by model-name prefix; the longest matching prefix wins.
/// Where a provider caps input below the advertised window (GPT-5: 400k in total, at most 272k
/// of it input) the input cap is listed.
pub const WINDOWS: &[(&str, u64)] = &[
    ("claude", 200_000),
    ("gpt-5", 272_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4.5", 128_000),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4-32k", 32_768),
    ("gpt-4", 8_192),
    ("gpt-3.5-turbo", 16_385),
    ("o1-mini", 128_000),
    ("o1-preview", 128_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("gemini", 1_048_576),
    ("llama", 128_000),
    ("mistral-large", 128_000),
    ("mistral", 32_768),
    ("mixtral", 32_768),
    ("deepseek", 64_000),
    ("qwen", 32_768),
    ("command-r", 128_000),
    ("gemma", 8_192),
];

/// The bare, lower-cased model name the table is keyed by.
pub fn model_key(model: &str) -> String {
    model.rsplit('/').next().unwrap_or(model).trim().to_ascii_lowercase()
}

/// The context window of `model` ([`DEFAULT_WINDOW`] when unknown or absent).
pub fn context_window(model: Option<&str>) -> u64 {
    let Some(model) = model else { return DEFAULT_WINDOW };
    let key = model_key(model);
    WINDOWS
        .iter()
        .filter(|(prefix, _)| key.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map_or(DEFAULT_WINDOW, |(_, window)| *window)
}

/// The `context::budget` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BudgetAnswer {
    /// The model looked up (the request's, else the worker's default model); `null` when none.
    pub model: Option<String>,
    /// Its context window in tokens.
    pub context_window: u64,
    /// The tokens kept free for the answer unless a build names another reserve.
    pub default_reserve: u64,
}

/// `context::budget` for `model`.
pub fn budget_answer(model: Option<&str>) -> BudgetAnswer {
    BudgetAnswer {
        model: model.map(str::to_string),
        context_window: context_window(model),
        default_reserve: DEFAULT_RESERVE,
    }
}

/// How many tokens a prompt may take, and where that number comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// The model the window was looked up for, if any.
    pub model: Option<String>,
    /// The window: the caller's `budget_tokens`, else the model's context window.
    pub window: u64,
    /// Whether `window` is the caller's `budget_tokens`.
    pub given: bool,
    /// Tokens kept free for the answer.
    pub reserve: u64,
    /// What the prompt (messages and tool schemas) may take: `window − reserve`.
    pub prompt: u64,
}

impl Budget {
    /// The budget for `model` with the caller's optional `budget_tokens` and `reserve_tokens`
    /// (see the module rules).
    pub fn new(model: Option<&str>, budget_tokens: Option<u64>, reserve_tokens: Option<u64>) -> Self {
        let (window, given) = match budget_tokens {
            Some(tokens) => (tokens, true),
            None => (context_window(model), false),
        };
        let reserve = reserve_tokens.unwrap_or(if given { 0 } else { DEFAULT_RESERVE });
        Self { model: model.map(str::to_string), window, given, reserve, prompt: window.saturating_sub(reserve) }
    }

    /// Where the number comes from, for error messages.
    pub fn describe(&self) -> String {
        let source = if self.given {
            format!("budget_tokens {}", self.window)
        } else {
            match &self.model {
                Some(model) => format!("the {}-token context window of {model}", self.window),
                None => format!("the default {}-token context window (no model named)", self.window),
            }
        };
        format!("{source} minus {} reserved for the answer", self.reserve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn known_models_get_their_window_by_the_longest_prefix_of_the_bare_name() {
        let table = [
            ("claude-sonnet-4-5", 200_000),
            ("anthropic/claude-3-5-haiku-latest", 200_000),
            ("openai/gpt-4o-mini", 128_000),
            ("gpt-4.1-mini", 1_047_576),
            ("gpt-4", 8_192),
            ("gpt-4-turbo-2024-04-09", 128_000),
            ("o1-mini", 128_000),
            ("o3-mini", 200_000),
            ("o4-mini", 200_000),
            ("GPT-5", 272_000),
            ("llama3.1:8b", 128_000),
            ("openrouter/meta-llama/llama-3.3-70b", 128_000),
            ("gemini-2.5-pro", 1_048_576),
        ];
        for (model, window) in table {
            assert_eq!(context_window(Some(model)), window, "{model}");
        }
    }

    #[test]
    fn unknown_local_and_absent_models_get_the_default_window() {
        assert_eq!(context_window(Some("my-finetune")), DEFAULT_WINDOW);
        assert_eq!(context_window(Some("scripted-model")), DEFAULT_WINDOW);
        assert_eq!(context_window(Some("")), DEFAULT_WINDOW);
        assert_eq!(context_window(None), DEFAULT_WINDOW);
    }

    #[test]
    fn the_table_budget_subtracts_the_default_reserve() {
        let b = Budget::new(Some("gpt-4o"), None, None);
        assert_eq!(
            b,
            Budget { model: Some("gpt-4o".into()), window: 128_000, given: false, reserve: 4_096, prompt: 123_904 }
        );
        assert_eq!(b.describe(), "the 128000-token context window of gpt-4o minus 4096 reserved for the answer");
        assert_eq!(Budget::new(None, None, Some(1_000)).prompt, DEFAULT_WINDOW - 1_000);
    }

    #[test]
    fn a_given_budget_is_the_window_and_only_an_explicit_reserve_is_subtracted() {
        assert_eq!(Budget::new(Some("gpt-4o"), Some(2_000), None).prompt, 2_000);
        let b = Budget::new(None, Some(2_000), Some(500));
        assert_eq!((b.window, b.reserve, b.prompt), (2_000, 500, 1_500));
        assert_eq!(b.describe(), "budget_tokens 2000 minus 500 reserved for the answer");
        assert_eq!(Budget::new(None, Some(100), Some(500)).prompt, 0, "never below zero");
    }

    #[test]
    fn the_budget_answer_names_the_model_window_and_reserve() {
        assert_eq!(
            budget_answer(Some("claude-opus-4")),
            BudgetAnswer { model: Some("claude-opus-4".into()), context_window: 200_000, default_reserve: 4_096 }
        );
        assert_eq!(
            budget_answer(None),
            BudgetAnswer { model: None, context_window: DEFAULT_WINDOW, default_reserve: DEFAULT_RESERVE }
        );
    }
}
