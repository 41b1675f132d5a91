//! The scripted LLM server driven by a plain HTTP client, asserting the exact wire output.

mod anthropic;
mod openai;
mod script;

use std::time::Duration;

use agentos_test_support::{ScriptedLlm, parse_sse};
use serde_json::Value;

/// Bound for every wait in these tests.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Posts an OpenAI chat request with a bearer key.
pub async fn post_openai(server: &ScriptedLlm, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .bearer_auth("sk-test")
        .json(&body)
        .send()
        .await
        .expect("request is sent")
}

/// Posts an Anthropic messages request with `x-api-key` and `anthropic-version`.
pub async fn post_anthropic(server: &ScriptedLlm, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/messages", server.base_url()))
        .header("x-api-key", "sk-ant-test")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("request is sent")
}

/// The `data:` payloads of an SSE body, each parsed as JSON except OpenAI's `[DONE]` sentinel.
pub fn data_frames(body: &str) -> Vec<Value> {
    parse_sse(body)
        .into_iter()
        .map(|event| {
            if event.data == "[DONE]" {
                Value::String("[DONE]".to_owned())
            } else {
                serde_json::from_str(&event.data).expect("frame data is JSON")
            }
        })
        .collect()
}
