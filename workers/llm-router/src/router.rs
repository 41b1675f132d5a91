//! The router's decisions, kept pure (no IO, no clock reads): which providers are configured,
//! which provider and model serve a request and in what order, when to retry and how long to
//! wait, and when a failing provider cools down. [`crate::Router`] carries them out.
//!
//! Rules it keeps:
//! - Configuration comes from a lookup function ([`Providers::from_lookup`]), so tests never
//!   touch the process environment. `ANTHROPIC_API_KEY` configures Anthropic
//!   (`ANTHROPIC_BASE_URL` overrides its URL); `OPENAI_API_KEY` or `OPENAI_BASE_URL` configures
//!   an OpenAI-compatible provider (a base URL without a key is a local server without auth).
//! - An explicit model wins: `provider/model` goes to that provider only, a bare model id to
//!   the provider its name belongs to (`claude*` → Anthropic, else OpenAI-compatible). Without
//!   one, `AGENTOS_MODEL` picks the first provider and model, and every other configured
//!   provider follows with its default model: that is the fallback chain.
//! - Retry 429, 5xx, timeouts and connection failures up to [`RetryPolicy::max_retries`] times,
//!   waiting `base × 2^n`, or the provider's `retry-after` when it is longer, capped.
//! - A provider whose calls failed [`COOLDOWN_AFTER`] times in a row is skipped for
//!   [`COOLDOWN`]; one success resets its count.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::LlmError;
use crate::types::Usage;

/// Which wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Wire {
    /// Anthropic Messages.
    Anthropic,
    /// OpenAI Chat Completions (OpenAI and every compatible server).
    #[serde(rename = "openai")]
    OpenAi,
}

/// One configured provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderConfig {
    /// Its name in model ids and usage: `anthropic` or `openai`.
    pub name: String,
    /// Its wire format.
    pub wire: Wire,
    /// Its base URL (Anthropic: without `/v1`; OpenAI: with it).
    pub base_url: String,
    /// Its key; `None` for a local server without auth.
    #[serde(skip)]
    pub api_key: Option<String>,
    /// The model used when the request and `AGENTOS_MODEL` name none for this provider.
    pub default_model: String,
}

/// Anthropic's public endpoint.
pub const ANTHROPIC_URL: &str = "https://api.anthropic.com";
/// OpenAI's public endpoint.
pub const OPENAI_URL: &str = "https://api.openai.com/v1";
/// Anthropic's default model: a capable, mid-priced tier.
pub const ANTHROPIC_DEFAULT_MODEL: &str = "claude-sonnet-4-5";
/// OpenAI's default model: a capable, mid-priced tier.
pub const OPENAI_DEFAULT_MODEL: &str = "gpt-4o-mini";

/// The configured providers, in fallback order, and the default model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Providers {
    /// The providers, the default model's first.
    pub list: Vec<ProviderConfig>,
}

/// Where one attempt goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Index into [`Providers::list`].
    pub provider: usize,
    /// The model to ask for.
    pub model: String,
}

/// A value that is set and not blank.
fn present(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Splits `provider/model`; a bare id is attributed by its name.
fn split_model(id: &str) -> (&str, &str) {
    match id.split_once('/') {
        Some((p @ ("anthropic" | "openai"), model)) => (p, model),
        _ if id.starts_with("claude") => ("anthropic", id),
        _ => ("openai", id),
    }
}

impl Providers {
    /// Reads the provider variables through `lookup` (the process environment in production).
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut list = Vec::new();
        if let Some(key) = present(lookup, "ANTHROPIC_API_KEY") {
            list.push(ProviderConfig {
                name: "anthropic".into(),
                wire: Wire::Anthropic,
                base_url: present(lookup, "ANTHROPIC_BASE_URL").unwrap_or_else(|| ANTHROPIC_URL.into()),
                api_key: Some(key),
                default_model: ANTHROPIC_DEFAULT_MODEL.into(),
            });
        }
        let openai_key = present(lookup, "OPENAI_API_KEY");
        let openai_url = present(lookup, "OPENAI_BASE_URL");
        if openai_key.is_some() || openai_url.is_some() {
            list.push(ProviderConfig {
                name: "openai".into(),
                wire: Wire::OpenAi,
                base_url: openai_url.unwrap_or_else(|| OPENAI_URL.into()),
                api_key: openai_key,
                default_model: OPENAI_DEFAULT_MODEL.into(),
            });
        }
        if let Some(model) = present(lookup, "AGENTOS_MODEL") {
            let (provider, bare) = split_model(&model);
            if let Some(at) = list.iter().position(|p| p.name == provider) {
                let mut chosen = list.remove(at);
                chosen.default_model = bare.to_string();
                list.insert(0, chosen);
            }
        }
        Self { list }
    }

    /// The process environment's providers.
    pub fn from_env() -> Self {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// The attempts for a request naming `model` (or none), in order, skipping providers that
    /// are cooling down at `now`.
    ///
    /// Errors: `NO_PROVIDER` when nothing is configured or the named provider is not;
    /// `PROVIDER_ERROR` when every candidate is cooling down.
    pub fn plan(&self, model: Option<&str>, health: &Health, now: Instant) -> Result<Vec<Target>, LlmError> {
        if self.list.is_empty() {
            return Err(LlmError::nothing_configured());
        }
        let candidates: Vec<Target> = match model.map(str::trim).filter(|m| !m.is_empty()) {
            Some(id) => {
                let (provider, bare) = split_model(id);
                let Some(index) = self.list.iter().position(|p| p.name == provider) else {
                    let variable =
                        if provider == "anthropic" { "ANTHROPIC_API_KEY" } else { "OPENAI_API_KEY or OPENAI_BASE_URL" };
                    return Err(LlmError::NoProvider(format!(
                        "model {id:?} needs the {provider} provider, which is not configured; set {variable}, or name a configured provider's model ({})",
                        self.list.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                };
                vec![Target { provider: index, model: bare.to_string() }]
            }
            None => self
                .list
                .iter()
                .enumerate()
                .map(|(i, p)| Target { provider: i, model: p.default_model.clone() })
                .collect(),
        };
        let ready: Vec<Target> =
            candidates.iter().filter(|t| !health.cooling(&self.list[t.provider].name, now)).cloned().collect();
        if ready.is_empty() {
            let names: Vec<&str> = candidates.iter().map(|t| self.list[t.provider].name.as_str()).collect();
            return Err(LlmError::CoolingDown(format!(
                "{} failed {COOLDOWN_AFTER} times in a row and cool down for {} s; retry later or check the provider's status",
                names.join(", "),
                COOLDOWN.as_secs()
            )));
        }
        Ok(ready)
    }

    /// `provider/model` for every provider's default model, the default first.
    pub fn models(&self) -> Vec<String> {
        self.list.iter().map(|p| format!("{}/{}", p.name, p.default_model)).collect()
    }
}

/// When to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt, per provider.
    pub max_retries: u32,
    /// The first backoff; it doubles with every retry.
    pub base: Duration,
    /// The longest wait, even when `retry-after` asks for more (the caller is waiting on a
    /// chat turn; a longer wait is better spent on the next provider).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    /// 2 retries, 200 ms doubling, waits capped at 10 s.
    fn default() -> Self {
        Self { max_retries: 2, base: Duration::from_millis(200), cap: Duration::from_secs(10) }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait this long, then send the same request to the same provider again.
    Retry(Duration),
    /// Give up on this provider and try the next one in the plan.
    NextProvider,
}

impl RetryPolicy {
    /// The decision after attempt number `attempt` (0 = the first) failed with `err`.
    pub fn after(&self, attempt: u32, err: &LlmError) -> Next {
        if !err.is_retryable() || attempt >= self.max_retries {
            return Next::NextProvider;
        }
        let backoff = self.base.saturating_mul(2u32.saturating_pow(attempt));
        let wait = match err {
            LlmError::RateLimited { retry_after: Some(after), .. } => backoff.max(*after),
            _ => backoff,
        };
        Next::Retry(wait.min(self.cap))
    }
}

/// Consecutive failed calls that put a provider into cooldown.
pub const COOLDOWN_AFTER: u32 = 3;
/// How long a cooled-down provider is skipped: long enough to stop hammering an outage, short
/// enough that a blip does not lose the provider for the session.
pub const COOLDOWN: Duration = Duration::from_secs(30);

/// Per-provider failure counts and cooldowns.
#[derive(Debug, Clone, Default)]
pub struct Health {
    providers: HashMap<String, ProviderHealth>,
}

/// One provider's record.
#[derive(Debug, Clone, Copy, Default)]
struct ProviderHealth {
    failures: u32,
    cooled_until: Option<Instant>,
}

impl Health {
    /// Whether `provider` is cooling down at `now`.
    pub fn cooling(&self, provider: &str, now: Instant) -> bool {
        self.providers.get(provider).and_then(|h| h.cooled_until).is_some_and(|until| now < until)
    }

    /// A call to `provider` failed (after its retries) at `now`.
    pub fn failed(&mut self, provider: &str, now: Instant) {
        let h = self.providers.entry(provider.to_string()).or_default();
        h.failures += 1;
        if h.failures >= COOLDOWN_AFTER {
            h.cooled_until = Some(now + COOLDOWN);
            h.failures = 0;
        }
    }

    /// A call to `provider` succeeded.
    pub fn succeeded(&mut self, provider: &str) {
        self.providers.remove(provider);
    }
}

/// Accumulated usage of one provider/model pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct UsageTotals {
    /// Successful calls.
    pub calls: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
}

/// Token counts per `provider/model` since the worker started (in memory only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageBook {
    totals: BTreeMap<String, UsageTotals>,
}

impl UsageBook {
    /// Adds one successful call.
    pub fn add(&mut self, provider: &str, model: &str, usage: Usage) {
        let t = self.totals.entry(format!("{provider}/{model}")).or_default();
        t.calls += 1;
        t.input_tokens += usage.input_tokens;
        t.output_tokens += usage.output_tokens;
    }

    /// The totals, keyed by `provider/model`.
    pub fn totals(&self) -> &BTreeMap<String, UsageTotals> {
        &self.totals
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
