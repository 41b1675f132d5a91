//! Table tests of the router's pure decisions.

use super::*;
use agentos_kit::ErrorCode;
use pretty_assertions::assert_eq;

/// Providers from a fixed list of variables.
fn providers(vars: &[(&str, &str)]) -> Providers {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
    Providers::from_lookup(&move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
}

/// `(name, default_model, base_url, has_key)` of one provider.
type Summary = (String, String, String, bool);

/// One table row: the variables, and the providers they configure.
type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<Summary>);

/// The [`Summary`] of each provider, in order.
fn summary(p: &Providers) -> Vec<Summary> {
    p.list.iter().map(|c| (c.name.clone(), c.default_model.clone(), c.base_url.clone(), c.api_key.is_some())).collect()
}

/// `(provider name, model)` of each planned attempt.
fn plan(p: &Providers, model: Option<&str>, health: &Health, now: Instant) -> Result<Vec<(String, String)>, String> {
    p.plan(model, None, health, now)
        .map(|targets| targets.into_iter().map(|t| (p.list[t.provider].name.clone(), t.model)).collect())
        .map_err(|e| format!("{}: {e}", e.code()))
}

fn pair(provider: &str, model: &str) -> (String, String) {
    (provider.to_string(), model.to_string())
}

#[test]
fn the_environment_decides_which_providers_exist_and_in_what_order() {
    let cases: Vec<Case> = vec![
        (vec![], vec![]),
        (vec![("ANTHROPIC_API_KEY", "  ")], vec![]),
        (
            vec![("ANTHROPIC_API_KEY", "a")],
            vec![("anthropic".into(), ANTHROPIC_DEFAULT_MODEL.into(), ANTHROPIC_URL.into(), true)],
        ),
        (
            vec![("OPENAI_BASE_URL", "http://localhost:11434/v1")],
            vec![("openai".into(), OPENAI_DEFAULT_MODEL.into(), "http://localhost:11434/v1".into(), false)],
        ),
        (
            vec![("ANTHROPIC_API_KEY", "a"), ("OPENAI_API_KEY", "o"), ("AGENTOS_MODEL", "openai/gpt-4.1")],
            vec![
                ("openai".into(), "gpt-4.1".into(), OPENAI_URL.into(), true),
                ("anthropic".into(), ANTHROPIC_DEFAULT_MODEL.into(), ANTHROPIC_URL.into(), true),
            ],
        ),
        (
            vec![
                ("OPENAI_API_KEY", "o"),
                ("ANTHROPIC_API_KEY", "a"),
                ("ANTHROPIC_BASE_URL", "http://x"),
                ("AGENTOS_MODEL", "claude-haiku-4-5"),
            ],
            vec![
                ("anthropic".into(), "claude-haiku-4-5".into(), "http://x".into(), true),
                ("openai".into(), OPENAI_DEFAULT_MODEL.into(), OPENAI_URL.into(), true),
            ],
        ),
        (
            vec![("OPENAI_BASE_URL", "http://localhost:8080/v1"), ("AGENTOS_MODEL", "llama3.2")],
            vec![("openai".into(), "llama3.2".into(), "http://localhost:8080/v1".into(), false)],
        ),
    ];
    for (vars, expected) in cases {
        assert_eq!(summary(&providers(&vars)), expected, "{vars:?}");
    }
}

#[test]
fn an_explicit_model_wins_and_otherwise_every_provider_is_a_fallback() {
    let both = providers(&[("ANTHROPIC_API_KEY", "a"), ("OPENAI_API_KEY", "o")]);
    let now = Instant::now();
    let h = Health::default();
    assert_eq!(
        plan(&both, None, &h, now),
        Ok(vec![pair("anthropic", ANTHROPIC_DEFAULT_MODEL), pair("openai", OPENAI_DEFAULT_MODEL)])
    );
    assert_eq!(plan(&both, Some("openai/gpt-4.1"), &h, now), Ok(vec![pair("openai", "gpt-4.1")]));
    assert_eq!(plan(&both, Some("gpt-4.1"), &h, now), Ok(vec![pair("openai", "gpt-4.1")]));
    assert_eq!(plan(&both, Some("claude-opus-4-1"), &h, now), Ok(vec![pair("anthropic", "claude-opus-4-1")]));
    assert_eq!(plan(&both, Some(" "), &h, now).map(|p| p.len()), Ok(2), "a blank model is no model");
}

#[test]
fn a_missing_provider_is_no_provider_naming_what_to_set() {
    let now = Instant::now();
    let h = Health::default();
    let none = plan(&providers(&[]), None, &h, now).unwrap_err();
    assert!(none.starts_with("NO_PROVIDER: no LLM provider is configured; set ANTHROPIC_API_KEY"), "{none}");
    let only_openai = providers(&[("OPENAI_API_KEY", "o")]);
    let err = plan(&only_openai, Some("anthropic/claude-x"), &h, now).unwrap_err();
    assert_eq!(
        err,
        "NO_PROVIDER: model \"anthropic/claude-x\" needs the anthropic provider, which is not configured; set ANTHROPIC_API_KEY, or name a configured provider's model (openai)"
    );
}

#[test]
fn retries_back_off_exponentially_honour_retry_after_up_to_the_cap_and_then_move_on() {
    let policy = RetryPolicy::default();
    let server = LlmError::Provider { provider: "p".into(), status: 503, message: "x".into() };
    let client = LlmError::Provider { provider: "p".into(), status: 400, message: "x".into() };
    let limited = |s| LlmError::RateLimited {
        provider: "p".into(),
        message: "x".into(),
        retry_after: Some(Duration::from_secs(s)),
    };
    let timeout = LlmError::Timeout { provider: "p".into(), after: Duration::from_secs(1) };
    let ms = Duration::from_millis;
    let cases = [
        (0, &server, Next::Retry(ms(200))),
        (1, &server, Next::Retry(ms(400))),
        (2, &server, Next::NextProvider),
        (0, &timeout, Next::Retry(ms(200))),
        (0, &client, Next::NextProvider),
        (0, &limited(1), Next::Retry(ms(1000))),
        (1, &limited(0), Next::Retry(ms(400))),
        (0, &limited(60), Next::Retry(ms(10_000))),
    ];
    for (attempt, err, expected) in cases {
        assert_eq!(policy.after(attempt, err), expected, "attempt {attempt}: {err}");
    }
}

#[test]
fn three_failed_calls_in_a_row_cool_a_provider_down_for_thirty_seconds() {
    let both = providers(&[("ANTHROPIC_API_KEY", "a"), ("OPENAI_API_KEY", "o")]);
    let t0 = Instant::now();
    let mut h = Health::default();
    h.failed("anthropic", t0);
    h.failed("anthropic", t0);
    h.succeeded("anthropic");
    h.failed("anthropic", t0);
    h.failed("anthropic", t0);
    assert!(!h.cooling("anthropic", t0), "a success resets the count");
    h.failed("anthropic", t0);
    assert!(h.cooling("anthropic", t0));
    assert_eq!(plan(&both, None, &h, t0), Ok(vec![pair("openai", OPENAI_DEFAULT_MODEL)]));
    let err = plan(&both, Some("claude-x"), &h, t0 + Duration::from_secs(29)).unwrap_err();
    assert!(err.starts_with("PROVIDER_ERROR: anthropic failed 3 times in a row and cool down for 30 s"), "{err}");
    assert_eq!(plan(&both, Some("claude-x"), &h, t0 + COOLDOWN), Ok(vec![pair("anthropic", "claude-x")]));
}

#[test]
fn usage_accumulates_per_provider_and_model() {
    let mut book = UsageBook::default();
    book.add("openai", "gpt", Usage { input_tokens: 10, output_tokens: 5 }, Some(0.5));
    book.add("openai", "gpt", Usage { input_tokens: 1, output_tokens: 2 }, Some(0.25));
    book.add("anthropic", "claude", Usage { input_tokens: 3, output_tokens: 4 }, None);
    let totals: Vec<(String, UsageTotals)> = book.totals().iter().map(|(k, v)| (k.clone(), *v)).collect();
    assert_eq!(
        totals,
        vec![
            (
                "anthropic/claude".into(),
                UsageTotals { calls: 1, input_tokens: 3, output_tokens: 4, cost_usd: None, unpriced_calls: 1 }
            ),
            (
                "openai/gpt".into(),
                UsageTotals { calls: 2, input_tokens: 11, output_tokens: 7, cost_usd: Some(0.75), unpriced_calls: 0 }
            ),
        ]
    );
    assert_eq!(
        book.total(),
        UsageTotals { calls: 3, input_tokens: 14, output_tokens: 11, cost_usd: Some(0.75), unpriced_calls: 1 },
        "the total sums the known costs and counts the calls without a price"
    );
}
