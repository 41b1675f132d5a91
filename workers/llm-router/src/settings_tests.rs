//! Table tests of `[llm]` parsing and its merge with the environment.

use super::*;
use pretty_assertions::assert_eq;

/// A lookup over fixed variables.
fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
    move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// Parses and resolves `text` under `vars`.
fn resolve(text: &str, vars: &[(&str, &str)]) -> Result<Resolved, String> {
    LlmSettings::from_toml(text)?.resolve(&env(vars))
}

/// `(name, wire, base_url, has_key, default_model, models)` of each configured provider.
fn summary(r: &Resolved) -> Vec<(String, Wire, String, bool, String, Vec<String>)> {
    r.providers
        .list
        .iter()
        .map(|p| {
            (p.name.clone(), p.wire, p.base_url.clone(), p.api_key.is_some(), p.default_model.clone(), p.models.clone())
        })
        .collect()
}

const FULL: &str = r#"
[ports]
http = 1

[llm]
default_model = "anthropic/claude-sonnet-4-5"
timeout_secs = 30
max_retries = 4

[llm.providers.groq]
wire = "openai"
base_url = "https://api.groq.com/openai/v1"
api_key_env = "GROQ_API_KEY"
models = ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"]

[llm.providers.ollama]
wire = "openai"
base_url = "http://localhost:11434/v1"
models = ["qwen2.5-coder"]

[llm.providers.anthropic]
models = ["claude-haiku-4-5", "claude-sonnet-4-5"]

[llm.tiers]
fast = ["groq/llama-3.3-70b-versatile", "openai/gpt-4o-mini"]
standard = ["anthropic/claude-sonnet-4-5", "openai/gpt-4o"]
deep = ["anthropic/claude-opus-4-1"]

[llm.policy]
standard_prompt_tokens = 1000

[llm.prices."groq/llama-3.3-70b-versatile"]
input_per_mtok = 0.59
output_per_mtok = 0.79

[llm.prices."qwen2.5-coder"]
input_per_mtok = 0
output_per_mtok = 0
"#;

#[test]
fn a_full_section_configures_providers_tiers_prices_policy_and_timeouts() {
    let r = resolve(FULL, &[("ANTHROPIC_API_KEY", "a"), ("GROQ_API_KEY", "g")]).unwrap();
    let s = |x: &str| x.to_string();
    assert_eq!(
        summary(&r),
        vec![
            (
                s("anthropic"),
                Wire::Anthropic,
                s(ANTHROPIC_URL),
                true,
                s("claude-sonnet-4-5"),
                vec![s("claude-haiku-4-5")]
            ),
            (
                s("groq"),
                Wire::OpenAi,
                s("https://api.groq.com/openai/v1"),
                true,
                s("llama-3.3-70b-versatile"),
                vec![s("llama-3.1-8b-instant")]
            ),
            (s("ollama"), Wire::OpenAi, s("http://localhost:11434/v1"), false, s("qwen2.5-coder"), vec![]),
        ]
    );
    let tier = |t| r.providers.tiers[&t].iter().map(ModelRef::id).collect::<Vec<_>>();
    assert_eq!(tier(Tier::Fast), ["groq/llama-3.3-70b-versatile", "openai/gpt-4o-mini"]);
    assert_eq!(tier(Tier::Deep), ["anthropic/claude-opus-4-1"]);
    assert_eq!(r.prices.lookup("groq", "llama-3.3-70b-versatile"), Some(Price::new(0.59, 0.79)));
    assert_eq!(r.prices.lookup("ollama", "qwen2.5-coder"), Some(Price::new(0.0, 0.0)));
    assert_eq!(r.prices.lookup("anthropic", "claude-opus-4-1"), Some(Price::new(15.0, 75.0)));
    assert_eq!(r.thresholds, Thresholds { standard_prompt_tokens: 1000, ..Thresholds::default() });
    assert_eq!((r.timeout, r.retry.max_retries), (Duration::from_secs(30), 4));
    assert_eq!(
        r.warnings,
        [
            "[llm.tiers] fast lists openai/gpt-4o-mini, but openai is not configured (set OPENAI_API_KEY or OPENAI_BASE_URL); it is skipped",
            "[llm.tiers] standard lists openai/gpt-4o, but openai is not configured (set OPENAI_API_KEY or OPENAI_BASE_URL); it is skipped",
        ]
    );
}

#[test]
fn a_declared_provider_without_its_key_is_unavailable_not_an_error() {
    let r = resolve(FULL, &[("ANTHROPIC_API_KEY", "a")]).unwrap();
    assert_eq!(r.providers.list.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["anthropic", "ollama"]);
    assert_eq!(r.providers.unavailable, [Unavailable { provider: "groq".into(), needs: "GROQ_API_KEY".into() }]);
    assert!(
        r.warnings.contains(
            &"provider groq is declared in [llm.providers] but GROQ_API_KEY is not set; it is skipped".to_string()
        ),
        "{:?}",
        r.warnings
    );
}

#[test]
fn the_environment_wins_over_the_file_and_merges_with_it() {
    let text = "[llm]\ndefault_model = \"groq/llama-3.3-70b-versatile\"\n[llm.providers.groq]\nwire = \"openai\"\nbase_url = \"http://g/v1\"\nmodels = [\"llama-3.3-70b-versatile\"]\n[llm.providers.openai]\nbase_url = \"http://file/v1\"\n";
    let by_file = resolve(text, &[("OPENAI_API_KEY", "o")]).unwrap();
    assert_eq!(
        by_file.providers.list.iter().map(|p| (p.name.as_str(), p.base_url.as_str())).collect::<Vec<_>>(),
        [("groq", "http://g/v1"), ("openai", "http://file/v1")],
        "default_model puts groq first; the file's base_url applies"
    );
    let by_env = resolve(text, &[("OPENAI_BASE_URL", "http://env/v1"), ("AGENTOS_MODEL", "openai/gpt-4.1")]).unwrap();
    assert_eq!(
        by_env
            .providers
            .list
            .iter()
            .map(|p| (p.name.as_str(), p.base_url.as_str(), p.default_model.as_str()))
            .collect::<Vec<_>>(),
        [("openai", "http://env/v1", "gpt-4.1"), ("groq", "http://g/v1", "llama-3.3-70b-versatile")],
        "AGENTOS_MODEL beats default_model, OPENAI_BASE_URL beats the file, and a URL alone enables openai"
    );
}

#[test]
fn a_default_model_of_an_unconfigured_provider_is_a_warning_naming_what_to_set() {
    let r = resolve("[llm]\ndefault_model = \"claude-opus-4-1\"\n", &[("OPENAI_API_KEY", "o")]).unwrap();
    assert_eq!(
        r.warnings,
        [
            "[llm] default_model \"claude-opus-4-1\" needs the anthropic provider, which is not configured (set ANTHROPIC_API_KEY); the default is openai/gpt-4o-mini instead"
        ]
    );
}

#[test]
fn no_section_is_the_environment_alone() {
    let r = resolve("[ports]\nhttp = 1\n", &[("ANTHROPIC_API_KEY", "a")]).unwrap();
    assert_eq!(r.providers, Providers::from_lookup(&env(&[("ANTHROPIC_API_KEY", "a")])));
    assert_eq!((r.timeout, r.retry, r.warnings.len()), (crate::DEFAULT_TIMEOUT, RetryPolicy::default(), 0));
    assert!(r.providers.tiers.is_empty());
}

#[test]
fn an_unknown_key_is_an_error_naming_it() {
    let cases = [
        ("[llm]\ndefault_modle = \"x\"\n", "[llm] default_modle: unknown field `default_modle`"),
        (
            "[llm.providers.groq]\nwire = \"openai\"\nbase_url = \"http://x\"\nmodel = [\"m\"]\n",
            "[llm] providers.groq.model: unknown field `model`",
        ),
        ("[llm.tiers]\nturbo = [\"openai/x\"]\n", "[llm] tiers.turbo: unknown field `turbo`"),
        ("[llm.prices.x]\ninput = 1\n", "[llm] prices.x.input: unknown field `input`"),
    ];
    for (text, expected) in cases {
        let err = LlmSettings::from_toml(text).unwrap_err();
        assert!(err.starts_with(expected), "{text}\n{err}");
    }
}

#[test]
fn a_bad_wire_is_an_error_naming_the_key_and_the_choices() {
    let err = LlmSettings::from_toml("[llm.providers.groq]\nwire = \"grpc\"\n").unwrap_err();
    assert_eq!(err, "[llm] providers.groq.wire: unknown variant `grpc`, expected `anthropic` or `openai`");
}

#[test]
fn inconsistent_entries_are_all_reported_each_naming_its_key() {
    let text = r#"
[llm]
timeout_secs = 0
[llm.providers.local]
base_url = "localhost:11434"
api_key = "sk-secret"
[llm.providers.vllm]
wire = "openai"
base_url = "http://gpu:8000/v1"
api_key_env = "sk-live-123"
models = []
[llm.providers.openai]
wire = "anthropic"
[llm.tiers]
deep = ["grq/llama", "anthropic/claude-opus-4-1"]
[llm.policy]
standard_prompt_tokens = 5000
deep_prompt_tokens = 5000
[llm.prices."openai/gpt-4o"]
input_per_mtok = -1
output_per_mtok = 1
"#;
    let err = resolve(text, &[]).unwrap_err();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "[llm.providers.local] api_key: the key itself never goes in the file; export it in a variable and name that variable with api_key_env",
            "[llm.providers.local] base_url = \"localhost:11434\": must start with http:// or https://",
            "[llm.providers.vllm] api_key_env = \"sk-live-123\": name the environment variable that holds the key (like GROQ_API_KEY), not the key",
            "[llm.providers.openai] wire: the built-in openai provider speaks openai; declare another server under its own name",
            "[llm.providers.local] wire: required, \"openai\" (any OpenAI-compatible server) or \"anthropic\"",
            "[llm.providers.vllm] models: list at least one model; the first is the provider's default",
            "[llm.tiers] deep[0] = \"grq/llama\": write provider/model with a declared provider (anthropic, openai, local, vllm)",
            "[llm.prices.\"openai/gpt-4o\"] input_per_mtok = -1: must be a price in USD per million tokens, 0 or more",
            "[llm.policy] standard_prompt_tokens (5000) must be below deep_prompt_tokens (5000)",
            "[llm] timeout_secs: must be at least 1",
        ]
    );
}

#[test]
fn a_provider_name_must_fit_in_a_model_id() {
    let err =
        resolve("[llm.providers.\"My/Server\"]\nwire = \"openai\"\nbase_url = \"http://x\"\nmodels = [\"m\"]\n", &[])
            .unwrap_err();
    assert_eq!(
        err,
        "[llm.providers.My/Server]: a provider name is lowercase letters, digits, - and _ (it prefixes model ids)"
    );
}
