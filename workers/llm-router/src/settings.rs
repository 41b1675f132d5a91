//! The `[llm]` section of `agentos.toml`, merged with the environment into the router's
//! configuration ([`Resolved`]).
//!
//! ```toml
//! [llm]
//! default_model = "anthropic/claude-sonnet-4-5"   # AGENTOS_MODEL overrides it
//! timeout_secs = 120                              # idle timeout of one provider call
//! max_retries = 2                                 # retries per provider on 429/5xx/timeouts
//!
//! [llm.providers.groq]                            # any OpenAI-compatible server by base URL
//! wire = "openai"                                 # or "anthropic"
//! base_url = "https://api.groq.com/openai/v1"
//! api_key_env = "GROQ_API_KEY"                    # the variable holding the key; omit for
//!                                                 # servers without auth (Ollama, llama.cpp)
//! models = ["llama-3.3-70b-versatile"]            # the first is the provider's default
//!
//! [llm.providers.anthropic]                       # the built-in providers can be refined
//! models = ["claude-sonnet-4-5", "claude-haiku-4-5"]
//!
//! [llm.tiers]                                     # fallback chains the tier policy routes to
//! fast = ["groq/llama-3.3-70b-versatile", "openai/gpt-4o-mini"]
//! standard = ["anthropic/claude-sonnet-4-5", "openai/gpt-4o"]
//! deep = ["anthropic/claude-opus-4-1"]
//!
//! [llm.policy]                                    # where the tier policy switches tiers
//! standard_prompt_tokens = 2000
//! deep_prompt_tokens = 32000
//! deep_history_messages = 40
//!
//! [llm.prices."groq/llama-3.3-70b-versatile"]     # USD per million tokens
//! input_per_mtok = 0.59
//! output_per_mtok = 0.79
//! ```
//!
//! Rules it keeps:
//! - Strict: an unknown key, a bad value or an inconsistent entry is an error naming the key,
//!   and the worker does not start (the caller prefixes the file's path).
//! - Keys never go in the file: `api_key` is refused; `api_key_env` names the variable.
//! - The environment wins over the file: `AGENTOS_MODEL` over `default_model`,
//!   `ANTHROPIC_BASE_URL` / `OPENAI_BASE_URL` over the built-in providers' `base_url`.
//! - The built-in `anthropic` provider is enabled by its key (`ANTHROPIC_API_KEY`, or the
//!   `api_key_env` given); `openai` by its key or a base URL (env or file); any other provider
//!   by its section, and by its `api_key_env` variable when it names one. A declared provider
//!   whose key is missing is listed as unavailable (with a warning at start), never an error:
//!   the same file serves machines with different keys.
//! - Tier entries and scoped price keys are `provider/model` with a declared provider.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::policy::{Thresholds, Tier};
use crate::prices::{Price, PriceBook, PriceOverride};
use crate::router::{
    ANTHROPIC_DEFAULT_MODEL, ANTHROPIC_URL, BUILTIN_PROVIDERS, ModelRef, OPENAI_DEFAULT_MODEL, OPENAI_URL,
    ProviderConfig, Providers, RetryPolicy, Unavailable, Wire,
};

/// The `[llm]` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSettings {
    /// The model used when a request names none and its tier has no models: `provider/model`
    /// or a bare id. `AGENTOS_MODEL` overrides it.
    #[serde(default)]
    pub default_model: Option<String>,
    /// How long a provider may stay silent before an attempt times out, in seconds
    /// (default 120).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Retries per provider on 429, 5xx, timeouts and connection failures (default 2).
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// Providers by name.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSettings>,
    /// The tiers' fallback chains.
    #[serde(default)]
    pub tiers: TierSettings,
    /// The tier policy's thresholds.
    #[serde(default)]
    pub policy: PolicySettings,
    /// Prices by `provider/model` or bare model name.
    #[serde(default)]
    pub prices: BTreeMap<String, Price>,
}

/// `[llm.providers.NAME]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// `openai` or `anthropic`; required except for the built-in providers.
    #[serde(default)]
    pub wire: Option<Wire>,
    /// The base URL (OpenAI-compatible: with `/v1`; Anthropic: without); required except for
    /// the built-in providers.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The environment variable holding the key; absent for a server without auth.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The models it serves; the first is its default.
    #[serde(default)]
    pub models: Vec<String>,
    /// Refused: the key itself never goes in the file.
    #[serde(default)]
    pub api_key: Option<IgnoredAny>,
}

/// `[llm.tiers]`: each tier's `provider/model` entries, in fallback order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSettings {
    /// Small prompts without tools.
    #[serde(default)]
    pub fast: Vec<String>,
    /// Tool use and medium prompts.
    #[serde(default)]
    pub standard: Vec<String>,
    /// Very long prompts and histories.
    #[serde(default)]
    pub deep: Vec<String>,
}

impl TierSettings {
    /// The entries of `tier`.
    pub fn get(&self, tier: Tier) -> &[String] {
        match tier {
            Tier::Fast => &self.fast,
            Tier::Standard => &self.standard,
            Tier::Deep => &self.deep,
        }
    }
}

/// `[llm.policy]`: overrides of the tier policy's thresholds ([`crate::policy`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// Estimated prompt tokens from which a request goes to `standard`.
    #[serde(default)]
    pub standard_prompt_tokens: Option<u64>,
    /// Estimated prompt tokens from which a request goes to `deep`.
    #[serde(default)]
    pub deep_prompt_tokens: Option<u64>,
    /// Non-system messages from which a request goes to `deep`.
    #[serde(default)]
    pub deep_history_messages: Option<usize>,
}

/// The router's configuration: the section merged with the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The providers and tiers.
    pub providers: Providers,
    /// The price table.
    pub prices: PriceBook,
    /// The tier policy's thresholds.
    pub thresholds: Thresholds,
    /// The idle timeout of one provider call.
    pub timeout: Duration,
    /// The retry policy.
    pub retry: RetryPolicy,
    /// What is configured but will not be used, for the start-up log.
    pub warnings: Vec<String>,
}

/// A value that is set and not blank.
fn present(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Whether `name` can be a provider name: lowercase letters, digits, `-` and `_`.
fn valid_name(name: &str) -> bool {
    name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Whether `name` can be an environment variable's name.
fn valid_variable(name: &str) -> bool {
    name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl LlmSettings {
    /// The `[llm]` section of config text (for tests and tools; the worker reads the file
    /// through [`agentos_kit::config::section`]).
    pub fn from_toml(text: &str) -> Result<Self, String> {
        agentos_kit::config::section_in(text, "llm")
    }

    /// The configuration these settings and the variables `lookup` reads describe.
    ///
    /// Errors: every inconsistency, one per line, each naming its key.
    pub fn resolve(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Resolved, String> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut providers = self.providers(lookup, &mut errors);
        self.choose_default(&mut providers, lookup, &mut warnings);
        providers.tiers = self.tiers(&providers, &mut errors, &mut warnings);
        let prices = self.prices(&providers, &mut errors);
        let thresholds = self.thresholds(&mut errors);
        let timeout = match self.timeout_secs {
            Some(0) => {
                errors.push("[llm] timeout_secs: must be at least 1".to_string());
                crate::DEFAULT_TIMEOUT
            }
            Some(secs) => Duration::from_secs(secs),
            None => crate::DEFAULT_TIMEOUT,
        };
        let retry = RetryPolicy {
            max_retries: self.max_retries.unwrap_or(RetryPolicy::default().max_retries),
            ..RetryPolicy::default()
        };
        for u in &providers.unavailable {
            warnings.push(format!(
                "provider {} is declared in [llm.providers] but {} is not set; it is skipped",
                u.provider, u.needs
            ));
        }
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        Ok(Resolved { providers, prices, thresholds, timeout, retry, warnings })
    }

    /// The built-in providers, then the declared ones by name.
    fn providers(&self, lookup: &dyn Fn(&str) -> Option<String>, errors: &mut Vec<String>) -> Providers {
        let mut out = Providers::default();
        for (name, p) in &self.providers {
            let key = format!("[llm.providers.{name}]");
            if p.api_key.is_some() {
                errors.push(format!(
                    "{key} api_key: the key itself never goes in the file; export it in a variable and name that variable with api_key_env"
                ));
            }
            if let Some(var) = &p.api_key_env
                && !valid_variable(var)
            {
                errors.push(format!(
                    "{key} api_key_env = {var:?}: name the environment variable that holds the key (like GROQ_API_KEY), not the key"
                ));
            }
            if let Some(url) = &p.base_url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                errors.push(format!("{key} base_url = {url:?}: must start with http:// or https://"));
            }
            if p.models.iter().any(|m| m.trim().is_empty()) {
                errors.push(format!("{key} models: a model name is empty"));
            }
        }
        // The built-in providers.
        for (name, wire, url_var, url, default) in [
            ("anthropic", Wire::Anthropic, "ANTHROPIC_BASE_URL", ANTHROPIC_URL, ANTHROPIC_DEFAULT_MODEL),
            ("openai", Wire::OpenAi, "OPENAI_BASE_URL", OPENAI_URL, OPENAI_DEFAULT_MODEL),
        ] {
            let file = self.providers.get(name);
            if let Some(w) = file.and_then(|f| f.wire)
                && w != wire
            {
                errors.push(format!(
                    "[llm.providers.{name}] wire: the built-in {name} provider speaks {name}; declare another server under its own name"
                ));
            }
            let key_var =
                file.and_then(|f| f.api_key_env.clone()).unwrap_or_else(|| format!("{}_API_KEY", name.to_uppercase()));
            let key = present(lookup, &key_var);
            let env_url = present(lookup, url_var);
            let file_url = file.and_then(|f| f.base_url.clone());
            let enabled = match wire {
                Wire::Anthropic => key.is_some(),
                Wire::OpenAi => key.is_some() || env_url.is_some() || file_url.is_some(),
            };
            let models = file.map(|f| f.models.clone()).unwrap_or_default();
            if enabled {
                out.list.push(ProviderConfig {
                    name: name.into(),
                    wire,
                    base_url: env_url.or(file_url).unwrap_or_else(|| url.into()),
                    api_key: key,
                    default_model: models.first().cloned().unwrap_or_else(|| default.into()),
                    models: models.into_iter().skip(1).collect(),
                });
            } else if file.is_some() {
                let needs = match wire {
                    Wire::Anthropic => key_var,
                    Wire::OpenAi => format!("{key_var} or {url_var}"),
                };
                out.unavailable.push(Unavailable { provider: name.into(), needs });
            }
        }
        // The declared ones.
        for (name, p) in self.providers.iter().filter(|(n, _)| !BUILTIN_PROVIDERS.contains(&n.as_str())) {
            let key = format!("[llm.providers.{name}]");
            let mut complete = true;
            if !valid_name(name) {
                errors.push(format!(
                    "{key}: a provider name is lowercase letters, digits, - and _ (it prefixes model ids)"
                ));
                complete = false;
            }
            let Some(wire) = p.wire else {
                errors
                    .push(format!("{key} wire: required, \"openai\" (any OpenAI-compatible server) or \"anthropic\""));
                continue;
            };
            let Some(base_url) = p.base_url.clone() else {
                errors.push(format!("{key} base_url: required (for example \"http://localhost:11434/v1\" for Ollama)"));
                continue;
            };
            let Some((default_model, others)) = p.models.split_first() else {
                errors.push(format!("{key} models: list at least one model; the first is the provider's default"));
                continue;
            };
            if !complete {
                continue;
            }
            let api_key = match &p.api_key_env {
                None => None,
                Some(var) => match present(lookup, var) {
                    Some(k) => Some(k),
                    None => {
                        out.unavailable.push(Unavailable { provider: name.clone(), needs: var.clone() });
                        continue;
                    }
                },
            };
            out.list.push(ProviderConfig {
                name: name.clone(),
                wire,
                base_url,
                api_key,
                default_model: default_model.clone(),
                models: others.to_vec(),
            });
        }
        out
    }

    /// Moves the default model's provider to the front with that model as its default.
    fn choose_default(
        &self,
        providers: &mut Providers,
        lookup: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<String>,
    ) {
        let chosen = present(lookup, "AGENTOS_MODEL").map(|m| (m, "AGENTOS_MODEL")).or_else(|| {
            self.default_model
                .as_deref()
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(|m| (m.to_string(), "[llm] default_model"))
        });
        let Some((id, source)) = chosen else { return };
        let wanted = providers.resolve(&id);
        match providers.list.iter().position(|p| p.name == wanted.provider) {
            Some(at) => {
                let mut first = providers.list.remove(at);
                if first.default_model != wanted.model {
                    first.models.retain(|m| *m != wanted.model);
                    let previous = std::mem::replace(&mut first.default_model, wanted.model);
                    // A default the file listed stays listed; the built-in fallback model does not.
                    if self.providers.get(&first.name).is_some_and(|f| f.models.contains(&previous)) {
                        first.models.insert(0, previous);
                    }
                }
                providers.list.insert(0, first);
            }
            None if providers.list.is_empty() => {}
            None => warnings.push(format!(
                "{source} {id:?} needs the {} provider, which is not configured (set {}); the default is {}/{} instead",
                wanted.provider,
                providers.needs(&wanted.provider),
                providers.list[0].name,
                providers.list[0].default_model
            )),
        }
    }

    /// `[llm.tiers]`, each entry checked.
    fn tiers(
        &self,
        providers: &Providers,
        errors: &mut Vec<String>,
        warnings: &mut Vec<String>,
    ) -> BTreeMap<Tier, Vec<ModelRef>> {
        let mut out = BTreeMap::new();
        for tier in Tier::ALL {
            let mut refs = Vec::new();
            for (i, entry) in self.tiers.get(tier).iter().enumerate() {
                match entry.trim().split_once('/') {
                    Some((provider, model)) if providers.is_declared(provider) && !model.is_empty() => {
                        let r = ModelRef { provider: provider.into(), model: model.into() };
                        if !providers.list.iter().any(|p| p.name == provider) {
                            warnings.push(format!(
                                "[llm.tiers] {tier} lists {entry}, but {provider} is not configured (set {}); it is skipped",
                                providers.needs(provider)
                            ));
                        }
                        refs.push(r);
                    }
                    _ => errors.push(format!(
                        "[llm.tiers] {tier}[{i}] = {entry:?}: write provider/model with a declared provider ({})",
                        declared_names(self)
                    )),
                }
            }
            if !refs.is_empty() {
                out.insert(tier, refs);
            }
        }
        out
    }

    /// `[llm.prices]`, each entry checked.
    fn prices(&self, providers: &Providers, errors: &mut Vec<String>) -> PriceBook {
        let mut overrides = Vec::new();
        for (key, price) in &self.prices {
            for (field, value) in [("input_per_mtok", price.input_per_mtok), ("output_per_mtok", price.output_per_mtok)]
            {
                if !value.is_finite() || value < 0.0 {
                    errors.push(format!(
                        "[llm.prices.{key:?}] {field} = {value}: must be a price in USD per million tokens, 0 or more"
                    ));
                }
            }
            let (provider, model) = match key.split_once('/') {
                Some((p, m)) if providers.is_declared(p) => (Some(p.to_string()), m.to_string()),
                _ => (None, key.clone()),
            };
            if model.trim().is_empty() {
                errors.push(format!("[llm.prices.{key:?}]: name a model (provider/model or a bare model name)"));
            }
            overrides.push(PriceOverride { provider, model, price: *price });
        }
        PriceBook::with_overrides(overrides)
    }

    /// `[llm.policy]` over the defaults.
    fn thresholds(&self, errors: &mut Vec<String>) -> Thresholds {
        let d = Thresholds::default();
        let p = &self.policy;
        let t = Thresholds {
            standard_prompt_tokens: p.standard_prompt_tokens.unwrap_or(d.standard_prompt_tokens),
            deep_prompt_tokens: p.deep_prompt_tokens.unwrap_or(d.deep_prompt_tokens),
            deep_history_messages: p.deep_history_messages.unwrap_or(d.deep_history_messages),
        };
        if t.standard_prompt_tokens >= t.deep_prompt_tokens {
            errors.push(format!(
                "[llm.policy] standard_prompt_tokens ({}) must be below deep_prompt_tokens ({})",
                t.standard_prompt_tokens, t.deep_prompt_tokens
            ));
        }
        if t.deep_history_messages == 0 {
            errors.push("[llm.policy] deep_history_messages: must be at least 1".to_string());
        }
        t
    }
}

/// The provider names a model id may start with, for error messages.
fn declared_names(settings: &LlmSettings) -> String {
    let mut names: Vec<&str> = BUILTIN_PROVIDERS.to_vec();
    names.extend(settings.providers.keys().map(String::as_str).filter(|n| !BUILTIN_PROVIDERS.contains(n)));
    names.join(", ")
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
