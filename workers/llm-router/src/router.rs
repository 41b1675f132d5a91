//! The router's decisions, kept pure (no IO, no clock reads): which providers are configured,
//! which provider and model serve a request and in what order, when to retry and how long to
//! wait, and when a failing provider cools down. [`crate::Router`] carries them out.
//!
//! Rules it keeps:
//! - Configuration comes from a lookup function and the `[llm]` section
//!   ([`crate::settings::LlmSettings::resolve`]), so tests never touch the process environment.
//!   `ANTHROPIC_API_KEY` configures Anthropic (`ANTHROPIC_BASE_URL` overrides its URL);
//!   `OPENAI_API_KEY` or `OPENAI_BASE_URL` configures an OpenAI-compatible provider (a base URL
//!   without a key is a local server without auth); `[llm.providers.NAME]` adds more.
//! - A model id is `provider/model` when its first segment names a declared provider; a bare id
//!   goes to the provider that lists it under `models`, else `claude*` to Anthropic, else to
//!   `openai` (or the first configured OpenAI-compatible provider when `openai` is not).
//! - An explicit model wins: it goes to that provider only. Without one the tier policy
//!   ([`crate::policy`]) picks a tier; the tier's list under `[llm.tiers]` is the fallback
//!   chain, followed by the default model. A tier with no usable entry (or no `[llm.tiers]` at
//!   all) uses the default chain: the default model (`AGENTOS_MODEL`, else `default_model`, else
//!   the first provider's own), then every other configured provider with its default model.
//! - Retry 429, 5xx, timeouts and connection failures up to [`RetryPolicy::max_retries`] times,
//!   waiting `base × 2^n`, or the provider's `retry-after` when it is longer, capped.
//! - A provider whose calls failed [`COOLDOWN_AFTER`] times in a row is skipped for
//!   [`COOLDOWN`]; one success resets its count.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::LlmError;
use crate::policy::Tier;
use crate::types::Usage;

/// Which wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Its name in model ids and usage: `anthropic`, `openai` or a `[llm.providers]` name.
    pub name: String,
    /// Its wire format.
    pub wire: Wire,
    /// Its base URL (Anthropic: without `/v1`; OpenAI: with it).
    pub base_url: String,
    /// Its key; `None` for a local server without auth.
    #[serde(skip)]
    pub api_key: Option<String>,
    /// The model used when the request and the default model name none for this provider.
    pub default_model: String,
    /// The other models the config lists for it (`[llm.providers.NAME] models`).
    pub models: Vec<String>,
}

/// A provider the config declares but the environment does not enable (its key is not set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unavailable {
    /// The provider's name.
    pub provider: String,
    /// What to set to enable it.
    pub needs: String,
}

/// A model at a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelRef {
    /// The provider's name.
    pub provider: String,
    /// The model, as the provider names it.
    pub model: String,
}

impl ModelRef {
    /// `provider/model`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }
}

/// Anthropic's public endpoint.
pub const ANTHROPIC_URL: &str = "https://api.anthropic.com";
/// OpenAI's public endpoint.
pub const OPENAI_URL: &str = "https://api.openai.com/v1";
/// Anthropic's default model: a capable, mid-priced tier.
pub const ANTHROPIC_DEFAULT_MODEL: &str = "claude-sonnet-4-5";
/// OpenAI's default model: a capable, mid-priced tier.
pub const OPENAI_DEFAULT_MODEL: &str = "gpt-4o-mini";
/// The providers every installation knows without a `[llm.providers]` section.
pub const BUILTIN_PROVIDERS: [&str; 2] = ["anthropic", "openai"];

/// The configured providers, in fallback order, and the tiers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Providers {
    /// The providers, the default model's first.
    pub list: Vec<ProviderConfig>,
    /// Declared in the config but not enabled by the environment.
    pub unavailable: Vec<Unavailable>,
    /// `[llm.tiers]`: each tier's models, in fallback order (entries of unavailable providers
    /// included; [`Providers::plan`] skips them).
    pub tiers: BTreeMap<Tier, Vec<ModelRef>>,
}

/// Where one attempt goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Index into [`Providers::list`].
    pub provider: usize,
    /// The model to ask for.
    pub model: String,
}

impl Providers {
    /// Reads the provider variables through `lookup` (the process environment in production),
    /// without a config file.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        crate::settings::LlmSettings::default().resolve(lookup).map(|r| r.providers).unwrap_or_default()
    }

    /// The process environment's providers, without a config file.
    pub fn from_env() -> Self {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Whether `name` is a provider a model id may name: configured, declared or built in.
    pub fn is_declared(&self, name: &str) -> bool {
        BUILTIN_PROVIDERS.contains(&name)
            || self.list.iter().any(|p| p.name == name)
            || self.unavailable.iter().any(|u| u.provider == name)
    }

    /// The configured provider called `name`.
    fn index(&self, name: &str) -> Option<usize> {
        self.list.iter().position(|p| p.name == name)
    }

    /// What to set so that provider `name` is configured.
    pub fn needs(&self, name: &str) -> String {
        if let Some(u) = self.unavailable.iter().find(|u| u.provider == name) {
            return u.needs.clone();
        }
        match name {
            "anthropic" => "ANTHROPIC_API_KEY".into(),
            "openai" => "OPENAI_API_KEY or OPENAI_BASE_URL".into(),
            other => format!("a [llm.providers.{other}] section in agentos.toml"),
        }
    }

    /// `(provider, model)` for a model id (see the module rules).
    pub fn resolve(&self, id: &str) -> ModelRef {
        let id = id.trim();
        if let Some((provider, model)) = id.split_once('/')
            && self.is_declared(provider)
        {
            return ModelRef { provider: provider.into(), model: model.into() };
        }
        let lists = |p: &ProviderConfig| p.default_model == id || p.models.iter().any(|m| m == id);
        let provider = if let Some(p) = self.list.iter().find(|p| lists(p)) {
            p.name.clone()
        } else if id.starts_with("claude") {
            "anthropic".into()
        } else if self.index("openai").is_none()
            && let Some(p) = self.list.iter().find(|p| p.wire == Wire::OpenAi)
        {
            p.name.clone()
        } else {
            "openai".into()
        };
        ModelRef { provider, model: id.into() }
    }

    /// Whether `tier` has at least one entry whose provider is configured.
    pub fn tier_usable(&self, tier: Tier) -> bool {
        self.tiers.get(&tier).is_some_and(|refs| refs.iter().any(|r| self.index(&r.provider).is_some()))
    }

    /// The tiers that list `provider/model`.
    pub fn tiers_of(&self, provider: &str, model: &str) -> Vec<Tier> {
        self.tiers
            .iter()
            .filter(|(_, refs)| refs.iter().any(|r| r.provider == provider && r.model == model))
            .map(|(t, _)| *t)
            .collect()
    }

    /// The `NO_PROVIDER` error when nothing is configured, naming the declared providers that
    /// only miss their key.
    pub fn nothing_configured(&self) -> LlmError {
        let base = LlmError::nothing_configured();
        if self.unavailable.is_empty() {
            return base;
        }
        let declared: Vec<String> =
            self.unavailable.iter().map(|u| format!("{} needs {}", u.provider, u.needs)).collect();
        LlmError::NoProvider(format!("{base}; declared in agentos.toml: {}", declared.join(", ")))
    }

    /// The attempts for a request naming `model`, or else routed to `tier` (or neither), in
    /// order, skipping providers that are cooling down at `now`.
    ///
    /// Errors: `NO_PROVIDER` when nothing is configured or the named provider is not;
    /// `PROVIDER_ERROR` when every candidate is cooling down.
    pub fn plan(
        &self,
        model: Option<&str>,
        tier: Option<Tier>,
        health: &Health,
        now: Instant,
    ) -> Result<Vec<Target>, LlmError> {
        if self.list.is_empty() {
            return Err(self.nothing_configured());
        }
        let candidates: Vec<Target> = match model.map(str::trim).filter(|m| !m.is_empty()) {
            Some(id) => {
                let wanted = self.resolve(id);
                let Some(index) = self.index(&wanted.provider) else {
                    return Err(LlmError::NoProvider(format!(
                        "model {id:?} needs the {} provider, which is not configured; set {}, or name a configured provider's model ({})",
                        wanted.provider,
                        self.needs(&wanted.provider),
                        self.list.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                };
                vec![Target { provider: index, model: wanted.model }]
            }
            None => self.chain(tier),
        };
        let ready: Vec<Target> =
            candidates.iter().filter(|t| !health.cooling(&self.list[t.provider].name, now)).cloned().collect();
        if ready.is_empty() {
            let mut names: Vec<&str> = candidates.iter().map(|t| self.list[t.provider].name.as_str()).collect();
            names.dedup();
            return Err(LlmError::CoolingDown(format!(
                "{} failed {COOLDOWN_AFTER} times in a row and cool down for {} s; retry later or check the provider's status",
                names.join(", "),
                COOLDOWN.as_secs()
            )));
        }
        Ok(ready)
    }

    /// The fallback chain for `tier`: its usable entries then the default model, or the
    /// default chain when the tier has none.
    fn chain(&self, tier: Option<Tier>) -> Vec<Target> {
        let default_chain = || -> Vec<Target> {
            self.list.iter().enumerate().map(|(i, p)| Target { provider: i, model: p.default_model.clone() }).collect()
        };
        let Some(tier) = tier.filter(|t| self.tier_usable(*t)) else { return default_chain() };
        let mut chain: Vec<Target> = self
            .tiers
            .get(&tier)
            .into_iter()
            .flatten()
            .filter_map(|r| self.index(&r.provider).map(|i| Target { provider: i, model: r.model.clone() }))
            .collect();
        let default = Target { provider: 0, model: self.list[0].default_model.clone() };
        chain.push(default);
        let mut seen = Vec::new();
        chain.retain(|t| {
            let fresh = !seen.contains(t);
            seen.push(t.clone());
            fresh
        });
        chain
    }

    /// `provider/model` for every provider's default model, the default first.
    pub fn models(&self) -> Vec<String> {
        self.list.iter().map(|p| format!("{}/{}", p.name, p.default_model)).collect()
    }

    /// Every model the configuration names, as `llm::models` lists them: per provider (the
    /// default's first) its default model, its listed models, then the tier entries for it.
    pub fn all_models(&self) -> Vec<ModelRef> {
        let mut out: Vec<ModelRef> = Vec::new();
        for p in &self.list {
            let tiered = self.tiers.values().flatten().filter(|r| r.provider == p.name).map(|r| r.model.clone());
            for model in std::iter::once(p.default_model.clone()).chain(p.models.iter().cloned()).chain(tiered) {
                let r = ModelRef { provider: p.name.clone(), model };
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
        out
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

/// Accumulated usage of one provider/model pair (or of all of them).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct UsageTotals {
    /// Successful calls.
    pub calls: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// What the priced calls cost, in US dollars; absent when none was priced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Calls whose model has no known price (not in `cost_usd`).
    #[serde(skip_serializing_if = "is_zero")]
    pub unpriced_calls: u64,
}

/// For `skip_serializing_if`.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl UsageTotals {
    /// Adds one call of `usage` costing `cost` (`None`: price unknown).
    pub fn add(&mut self, usage: Usage, cost: Option<f64>) {
        self.calls += 1;
        self.input_tokens += usage.input_tokens;
        self.output_tokens += usage.output_tokens;
        match cost {
            Some(c) => self.cost_usd = Some(self.cost_usd.unwrap_or(0.0) + c),
            None => self.unpriced_calls += 1,
        }
    }

    /// The sum of `self` and `other`.
    #[must_use]
    pub fn plus(self, other: &UsageTotals) -> UsageTotals {
        UsageTotals {
            calls: self.calls + other.calls,
            input_tokens: self.input_tokens + other.input_tokens,
            output_tokens: self.output_tokens + other.output_tokens,
            cost_usd: match (self.cost_usd, other.cost_usd) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
            },
            unpriced_calls: self.unpriced_calls + other.unpriced_calls,
        }
    }
}

/// Token counts and costs per `provider/model` since the worker started (in memory only).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageBook {
    totals: BTreeMap<String, UsageTotals>,
}

impl UsageBook {
    /// Adds one successful call; `cost` is `None` when the model's price is unknown.
    pub fn add(&mut self, provider: &str, model: &str, usage: Usage, cost: Option<f64>) {
        self.totals.entry(format!("{provider}/{model}")).or_default().add(usage, cost);
    }

    /// The totals, keyed by `provider/model`.
    pub fn totals(&self) -> &BTreeMap<String, UsageTotals> {
        &self.totals
    }

    /// The sum over every model.
    pub fn total(&self) -> UsageTotals {
        self.totals.values().fold(UsageTotals::default(), |sum, t| sum.plus(t))
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
