//! agentos-worker-llm-router: the LLM router (`llm::*`).
//!
//! agent-core calls `llm::complete` with a provider-neutral [`CompletionRequest`]; the router
//! picks a provider and model ([`policy`] for the tier, [`router`] for the chain), speaks that
//! provider's real wire format ([`openai`] for OpenAI and every OpenAI-compatible server,
//! [`anthropic`] for Anthropic Messages), retries, falls back, cools failing providers down,
//! and books the tokens and their cost ([`prices`]). Providers, tiers, prices and thresholds
//! come from the environment and the `[llm]` section of `agentos.toml` ([`settings`]).
//!
//! Rules it keeps:
//! - Decisions are pure and live in [`policy`], [`router`], [`prices`] and [`settings`];
//!   [`Router`] is the thin async driver that carries them out (HTTP, sleeps, locks), and
//!   [`stream`] the glue that streams an answer into an iii channel.
//! - With no provider configured a call fails with `NO_PROVIDER` naming the variables to set;
//!   there is never a made-up answer.
//! - A streamed attempt that already forwarded tokens is never retried or sent elsewhere: the
//!   listener would see the text twice.
//! - A cost is reported only for a model whose price is known; it is never guessed.
//! - Usage is counted per `provider/model` in memory since the worker started; it is lost on
//!   restart (the ledger worker is where spend becomes durable).

pub mod anthropic;
pub mod error;
mod http;
pub mod openai;
pub mod policy;
pub mod prices;
pub mod register;
pub mod router;
pub mod settings;
pub mod stream;
pub mod types;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use agentos_kit::ErrorCode;
use serde::Serialize;

pub use error::LlmError;
pub use policy::{Thresholds, Tier};
pub use prices::{Price, PriceBook};
pub use register::{MANIFEST, RouterService, register, run, worker};
pub use router::{Providers, RetryPolicy, UsageTotals};
pub use settings::{LlmSettings, Resolved};
pub use types::{ChatMessage, Completion, CompletionRequest, Role, ToolCall, ToolSpec, Usage};

use router::{Health, Next, ProviderConfig, Unavailable, UsageBook, Wire};

/// How long a provider may stay silent (before the headers, reading a body, or between two
/// stream chunks) before the attempt is a `TIMEOUT`: long prompts on slow models can take a
/// minute before the first byte. `[llm] timeout_secs` changes it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long connecting may take: a provider that cannot accept a TCP connection in 10 s is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A text-delta listener for streamed completions.
type OnToken<'a> = &'a mut (dyn FnMut(&str) + Send);

/// The router: configured providers, prices and policy, an HTTP client, and the in-memory
/// health and usage books.
pub struct Router {
    providers: Providers,
    prices: PriceBook,
    thresholds: Thresholds,
    http: reqwest::Client,
    policy: RetryPolicy,
    timeout: Duration,
    health: Mutex<Health>,
    usage: Mutex<UsageBook>,
}

/// One configured model, as `llm::models` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// `provider/model`.
    pub id: String,
    /// The provider's name.
    pub provider: String,
    /// Its wire format.
    pub wire: Wire,
    /// Its base URL.
    pub base_url: String,
    /// Whether this is the model used when a request names none and its tier has no models.
    pub default: bool,
    /// The tiers whose chains list it (`[llm.tiers]`).
    pub tiers: Vec<Tier>,
    /// Its price per million tokens; `null` when unknown (calls then report no cost).
    pub price: Option<Price>,
}

/// The `llm::models` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelsAnswer {
    /// Every configured model, the default first; empty when nothing is configured.
    pub models: Vec<ModelInfo>,
    /// Providers declared in `agentos.toml` whose key is not set, with the variable to set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<Unavailable>,
}

/// The `llm::usage` answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageAnswer {
    /// Always `"memory"`: counts are kept since the worker started and lost on restart.
    pub kept_in: &'static str,
    /// Totals per `provider/model`.
    pub by_model: BTreeMap<String, UsageTotals>,
    /// The sum over every model.
    pub total: UsageTotals,
}

/// Locks `m`, recovering from poisoning: the books hold counters, and a counter one call off is
/// better than a router that panics for every later turn.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Router {
    /// A router over `providers` with the built-in prices, the default tier thresholds, retry
    /// policy and timeout.
    ///
    /// Errors: `PROVIDER_ERROR` when the HTTP client cannot be built (no TLS roots).
    pub fn new(providers: Providers) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT).build().map_err(LlmError::Client)?;
        Ok(Self {
            providers,
            prices: PriceBook::builtin(),
            thresholds: Thresholds::default(),
            http,
            policy: RetryPolicy::default(),
            timeout: DEFAULT_TIMEOUT,
            health: Mutex::new(Health::default()),
            usage: Mutex::new(UsageBook::default()),
        })
    }

    /// A router for a resolved configuration (environment and `[llm]` merged).
    ///
    /// Errors: as [`Router::new`].
    pub fn configured(config: Resolved) -> Result<Self, LlmError> {
        Ok(Self::new(config.providers)?
            .with_prices(config.prices)
            .with_thresholds(config.thresholds)
            .with_policy(config.retry)
            .with_timeout(config.timeout))
    }

    /// The same router with another retry policy.
    #[must_use]
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The same router with another idle timeout (see [`DEFAULT_TIMEOUT`]).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same router with another price table.
    #[must_use]
    pub fn with_prices(mut self, prices: PriceBook) -> Self {
        self.prices = prices;
        self
    }

    /// The same router with other tier thresholds.
    #[must_use]
    pub fn with_thresholds(mut self, thresholds: Thresholds) -> Self {
        self.thresholds = thresholds;
        self
    }

    /// One completion, not streamed.
    pub async fn complete(&self, req: &CompletionRequest) -> Result<Completion, LlmError> {
        self.run(req, None).await
    }

    /// One streamed completion: every text delta goes to `on_token` as it arrives, and the
    /// whole answer is returned at the end.
    pub async fn stream(
        &self,
        req: &CompletionRequest,
        mut on_token: impl FnMut(&str) + Send,
    ) -> Result<Completion, LlmError> {
        self.run(req, Some(&mut on_token)).await
    }

    /// What is configured: every model with its tiers and price.
    pub fn models(&self) -> ModelsAnswer {
        let models = self
            .providers
            .all_models()
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let p = self.providers.list.iter().find(|p| p.name == r.provider)?;
                Some(ModelInfo {
                    id: r.id(),
                    provider: p.name.clone(),
                    wire: p.wire,
                    base_url: p.base_url.clone(),
                    default: i == 0,
                    tiers: self.providers.tiers_of(&r.provider, &r.model),
                    price: self.prices.lookup(&r.provider, &r.model),
                })
            })
            .collect();
        ModelsAnswer { models, unavailable: self.providers.unavailable.clone() }
    }

    /// Tokens used and their cost since the worker started.
    pub fn usage(&self) -> UsageAnswer {
        let book = lock(&self.usage);
        UsageAnswer { kept_in: "memory", by_model: book.totals().clone(), total: book.total() }
    }

    /// The plan, carried out: attempts, retries with waits, fallback, books.
    async fn run(&self, req: &CompletionRequest, mut on_token: Option<OnToken<'_>>) -> Result<Completion, LlmError> {
        if req.messages.is_empty() {
            return Err(LlmError::InvalidRequest("messages is empty: send at least one user message".into()));
        }
        let route = policy::route(req, &self.thresholds)?;
        let plan = self.providers.plan(route.model.as_deref(), route.tier, &lock(&self.health), Instant::now())?;
        let mut reason = route.reason;
        if let Some(tier) = route.tier.filter(|t| !self.providers.tier_usable(*t)) {
            reason.push_str(&format!("; no usable {tier} models in [llm.tiers], default chain"));
        }
        let mut last = None;
        for target in plan {
            let Some(provider) = self.providers.list.get(target.provider) else { continue };
            let mut attempt = 0;
            loop {
                let mut emitted = false;
                match self.attempt(provider, &target.model, req, on_token.as_deref_mut(), &mut emitted).await {
                    Ok(mut done) => {
                        lock(&self.health).succeeded(&provider.name);
                        done.cost_usd = self
                            .prices
                            .cost(&done.provider, &done.model, done.usage)
                            .or_else(|| self.prices.cost(&done.provider, &target.model, done.usage));
                        done.tier = route.tier.map(|t| t.as_str().to_string());
                        done.route_reason = Some(reason);
                        lock(&self.usage).add(&done.provider, &done.model, done.usage, done.cost_usd);
                        return Ok(done);
                    }
                    Err(e) if emitted => {
                        lock(&self.health).failed(&provider.name, Instant::now());
                        return Err(e);
                    }
                    Err(e) => match self.policy.after(attempt, &e) {
                        Next::Retry(wait) => {
                            tracing::warn!(
                                provider = provider.name,
                                attempt,
                                code = e.code(),
                                wait_ms = wait.as_millis(),
                                "retrying: {e}"
                            );
                            tokio::time::sleep(wait).await;
                            attempt += 1;
                        }
                        Next::NextProvider => {
                            tracing::warn!(
                                provider = provider.name,
                                code = e.code(),
                                "giving up on this provider: {e}"
                            );
                            lock(&self.health).failed(&provider.name, Instant::now());
                            last = Some(e);
                            break;
                        }
                    },
                }
            }
        }
        Err(last.unwrap_or_else(|| self.providers.nothing_configured()))
    }

    /// One attempt against one provider; `emitted` turns true once a token was forwarded.
    async fn attempt<'f>(
        &self,
        provider: &ProviderConfig,
        model: &str,
        req: &CompletionRequest,
        on_token: Option<&mut (dyn FnMut(&str) + Send + 'f)>,
        emitted: &mut bool,
    ) -> Result<Completion, LlmError> {
        let (http, t) = (&self.http, self.timeout);
        match (provider.wire, on_token) {
            (Wire::OpenAi, None) => openai::complete(http, provider, model, req, t).await,
            (Wire::Anthropic, None) => anthropic::complete(http, provider, model, req, t).await,
            (Wire::OpenAi, Some(f)) => {
                openai::stream(http, provider, model, req, t, |s| {
                    *emitted = true;
                    f(s);
                })
                .await
            }
            (Wire::Anthropic, Some(f)) => {
                anthropic::stream(http, provider, model, req, t, |s| {
                    *emitted = true;
                    f(s);
                })
                .await
            }
        }
    }
}
