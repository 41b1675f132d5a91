//! `POST /v1/policy/explain` over the REST port.

use agentos_kit::harness::TestStack;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{KEY, start_tiers};

async fn explain(stack: &TestStack, bearer: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(format!("{}/v1/policy/explain", stack.http_url())).json(&body);
    if let Some(key) = bearer {
        req = req.bearer_auth(key);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn explain_answers_the_classification_with_the_key_and_a_json_error_without_it() {
    let stack = TestStack::start().await;
    start_tiers(&stack, "").await;

    let (status, body) = explain(&stack, None, json!({"function_id": "code::read_file", "arguments": {}})).await;
    assert_eq!((status, &body["error"]["code"]), (401, &json!("UNAUTHORIZED")));

    let call = json!({"function_id": "code::run_command", "arguments": {"program": "find", "args": [".", "-delete"]}});
    let (status, body) = explain(&stack, Some(KEY), call).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({
                "tier": "ask",
                "rule": {"id": "builtin:command", "source": "builtin", "function": "code::run_command"},
                "reason": "`find -delete` can run programs, delete or write files, so a person approves `find . -delete`"
            })
        )
    );

    let (status, body) = explain(&stack, Some(KEY), json!({"function": "code::read_file"})).await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!("INVALID_INPUT")), "{body}");
    stack.stop().await;
}
