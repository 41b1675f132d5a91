//! Cost accounting: `cost_usd` per call from the built-in table or `[llm.prices]`, summed by
//! `llm::usage`; `llm::models` shows tiers and prices.

use std::sync::Arc;

use agentos_kit::call;
use agentos_kit::harness::TestStack;
use agentos_test_support::{Reply, ScriptedLlm};
use agentos_worker_llm_router::{MANIFEST, register};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{T, configured};

/// Whether two dollar amounts agree to a billionth of a cent.
fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-12)
}

#[tokio::test]
async fn priced_calls_report_their_cost_and_llm_usage_sums_it_per_model_and_overall() {
    let server = ScriptedLlm::builder().no_auth().start().await.unwrap();
    // gpt-4o-mini: $0.15 in / $0.60 out per million (built in); local/small-model: $1 / $2 (file).
    server.push(Reply::text("one").with_usage(1_000, 500));
    server.push(Reply::text("two").with_usage(2_000, 0));
    server.push(Reply::text("three").with_usage(100_000, 10_000));
    server.push(Reply::text("four").with_usage(7, 3));
    let text = format!(
        r#"
[llm]
default_model = "openai/gpt-4o-mini"
[llm.providers.openai]
models = ["gpt-4o-mini", "unpriced-model"]
[llm.providers.local]
wire = "openai"
base_url = "{url}"
models = ["small-model"]
[llm.tiers]
fast = ["openai/gpt-4o-mini"]
standard = ["local/small-model", "openai/gpt-4o-mini"]
[llm.prices."local/small-model"]
input_per_mtok = 1.0
output_per_mtok = 2.0
"#,
        url = server.openai_base_url()
    );
    let router =
        configured(&text, &[("OPENAI_API_KEY", "sk-test".into()), ("OPENAI_BASE_URL", server.openai_base_url())]);
    let stack = TestStack::start().await;
    stack.worker(&MANIFEST, |iii| register(iii, Arc::new(router))).await;
    let client = stack.client();
    let complete = |body: Value| {
        let client = client.clone();
        async move { call::<_, Value>(&client, "llm::complete", &body, T).await.unwrap() }
    };
    let hi = json!([{"role": "user", "content": "hi"}]);

    let one = complete(json!({"messages": hi})).await;
    let two = complete(json!({"messages": hi, "tier": "fast"})).await;
    let three = complete(json!({"messages": hi, "tier": "standard"})).await;
    let four = complete(json!({"messages": hi, "model": "openai/unpriced-model"})).await;

    assert_eq!((one["model"].as_str(), one["tier"].as_str()), (Some("gpt-4o-mini"), Some("fast")));
    assert!(close(&one["cost_usd"], 0.000_45), "{one}");
    assert!(close(&two["cost_usd"], 0.000_3), "{two}");
    assert_eq!(three["provider"], "local");
    assert!(close(&three["cost_usd"], 0.12), "{three}");
    assert_eq!(four.get("cost_usd"), None, "no price is invented for an unknown model: {four}");

    let usage: Value = call(&client, "llm::usage", &json!({}), T).await.unwrap();
    let mini = &usage["by_model"]["openai/gpt-4o-mini"];
    assert_eq!(
        (&mini["calls"], &mini["input_tokens"], &mini["output_tokens"]),
        (&json!(2), &json!(3_000), &json!(500))
    );
    assert!(close(&mini["cost_usd"], 0.000_75), "{usage}");
    assert!(close(&usage["by_model"]["local/small-model"]["cost_usd"], 0.12), "{usage}");
    assert_eq!(
        usage["by_model"]["openai/unpriced-model"],
        json!({"calls": 1, "input_tokens": 7, "output_tokens": 3, "unpriced_calls": 1})
    );
    let total = &usage["total"];
    assert_eq!((&total["calls"], &total["unpriced_calls"]), (&json!(4), &json!(1)));
    assert!(close(&total["cost_usd"], 0.120_75), "{usage}");

    let models: Value = call(&client, "llm::models", &json!({}), T).await.unwrap();
    let listed: Vec<Value> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| json!([m["id"], m["default"], m["tiers"], m["price"]]))
        .collect();
    assert_eq!(
        listed,
        [
            json!(["openai/gpt-4o-mini", true, ["fast", "standard"], {"input_per_mtok": 0.15, "output_per_mtok": 0.6}]),
            json!(["openai/unpriced-model", false, [], null]),
            json!(["local/small-model", false, ["standard"], {"input_per_mtok": 1.0, "output_per_mtok": 2.0}]),
        ]
    );
    stack.stop().await;
}
