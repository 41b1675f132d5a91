//! `/v1/hands` over the engine's REST port: auth, statuses, JSON errors.

use agentos_kit::harness::TestStack;
use pretty_assertions::assert_eq;
use reqwest::Method;
use serde_json::{Value, json};

use super::{KEY, answer, fake_agent, hand_text, start_hands, write_hand};

/// Sends `method url` with an optional bearer and JSON body; answers the status and the JSON body.
async fn send(method: Method, url: String, bearer: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn every_hand_route_answers_401_json_without_the_bearer_key() {
    let dir = tempfile::tempdir().unwrap();
    let stack = TestStack::start().await;
    start_hands(&stack, dir.path()).await;
    let base = stack.http_url();

    let routes = [
        (Method::GET, "/v1/hands"),
        (Method::GET, "/v1/hands/coder"),
        (Method::POST, "/v1/hands/reload"),
        (Method::POST, "/v1/hands/coder/trigger"),
    ];
    for (method, path) in routes {
        let (status, body) = send(method.clone(), format!("{base}{path}"), None, Some(json!({}))).await;
        assert_eq!((status, &body["error"]["code"]), (401, &json!("UNAUTHORIZED")), "{method} {path}");
        let (status, _) = send(method.clone(), format!("{base}{path}"), Some("wrong-key"), None).await;
        assert_eq!(status, 401, "{method} {path} with a wrong key");
    }
    stack.stop().await;
}

#[tokio::test]
async fn list_get_and_reload_answer_with_the_key_and_a_missing_hand_is_a_404_json_error() {
    let dir = tempfile::tempdir().unwrap();
    let stack = TestStack::start().await;
    start_hands(&stack, dir.path()).await;
    let hands = format!("{}/v1/hands", stack.http_url());

    let (status, listed) = send(Method::GET, hands.clone(), Some(KEY), None).await;
    assert_eq!(status, 200);
    let names: Vec<&Value> = listed["hands"].as_array().unwrap().iter().map(|h| &h["name"]).collect();
    assert_eq!(names, vec!["coder", "explorer", "reviewer", "tester"]);
    assert_eq!(listed["errors"], json!([]));
    assert_eq!(listed["hands"][0]["system_prompt"], Value::Null, "a summary leaves the prompt out");

    let (status, coder) = send(Method::GET, format!("{hands}/coder"), Some(KEY), None).await;
    assert_eq!(
        (status, &coder["name"], &coder["source"], &coder["tier"]),
        (200, &json!("coder"), &json!("builtin"), &json!("standard"))
    );
    assert!(coder["system_prompt"].as_str().unwrap().contains("code::apply_patch"));

    let (status, body) = send(Method::GET, format!("{hands}/ghost"), Some(KEY), None).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("NOT_FOUND")));

    write_hand(dir.path(), "ops", &hand_text("ops", ""));
    let (status, reloaded) = send(Method::POST, format!("{hands}/reload"), Some(KEY), None).await;
    assert_eq!((status, reloaded), (200, json!({"hands": 5, "errors": []})));
    let (status, ops) = send(Method::GET, format!("{hands}/ops"), Some(KEY), None).await;
    assert_eq!((status, &ops["description"]), (200, &json!("The ops test hand.")));
    stack.stop().await;
}

#[tokio::test]
async fn trigger_over_http_answers_agent_chats_reply_and_maps_its_errors_to_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let stack = TestStack::start().await;
    start_hands(&stack, dir.path()).await;
    let hands = format!("{}/v1/hands", stack.http_url());

    let body = json!({"message": "hello"});
    let (status, error) = send(Method::POST, format!("{hands}/coder/trigger"), Some(KEY), Some(body.clone())).await;
    assert_eq!((status, &error["error"]["code"]), (503, &json!("AGENT_NOT_RUNNING")), "{error}");

    let calls = fake_agent(&stack).await;
    let (status, got) = send(Method::POST, format!("{hands}/coder/trigger"), Some(KEY), Some(body)).await;
    assert_eq!((status, got), (200, answer(1, "hello")));
    assert_eq!(calls.all(), vec![json!({"message": "hello", "hand": "coder"})]);

    let table = [
        ("coder", json!({}), 400, "INVALID_INPUT"),
        ("coder", json!({"mesage": "typo"}), 400, "INVALID_INPUT"),
        ("ghost", json!({"message": "hi"}), 404, "NOT_FOUND"),
    ];
    for (name, body, status, code) in table {
        let (got, answer) = send(Method::POST, format!("{hands}/{name}/trigger"), Some(KEY), Some(body.clone())).await;
        assert_eq!((got, &answer["error"]["code"]), (status, &json!(code)), "{name} {body}: {answer}");
    }
    assert_eq!(calls.all().len(), 1, "no further call reached agent::chat");
    stack.stop().await;
}
