//! The `/v1/memory` routes through the engine's REST port.

use agentos_kit::harness::TestStack;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{KEY, start_memory};

async fn send(req: reqwest::RequestBuilder) -> (u16, Value, Option<String>) {
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    (status, response.json().await.unwrap_or(Value::Null), location)
}

#[tokio::test]
async fn the_memory_routes_store_search_get_and_forget() {
    let stack = TestStack::start().await;
    start_memory(&stack).await;
    let http = reqwest::Client::new();
    let base = format!("{}/v1/memory", stack.http_url());

    let (status, created, location) = send(
        http.post(&base)
            .bearer_auth(KEY)
            .json(&json!({"text": "Staging lives at staging.example.net", "tags": ["infra", "urls"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["merged"], json!(false));
    let id = created["memory"]["id"].as_str().unwrap().to_string();
    assert_eq!(location, Some(format!("/v1/memory/{id}?realm=default")));

    // The same words again: merged, the first wording kept.
    let (status, merged, _) =
        send(http.post(&base).bearer_auth(KEY).json(&json!({"text": "staging lives at staging.example.net!"}))).await;
    assert_eq!((status, merged["merged"].clone(), merged["memory"]["id"].clone()), (200, json!(true), json!(id)));

    let (status, found, _) = send(http.get(format!("{base}/search")).bearer_auth(KEY).query(&[
        ("q", "where is staging?"),
        ("k", "3"),
        ("tags", "infra"),
    ]))
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["memories"][0]["id"], json!(id));
    assert_eq!(found["semantic"], json!(false));
    let (_, none, _) =
        send(http.get(format!("{base}/search")).bearer_auth(KEY).query(&[("q", "staging"), ("tags", "other")])).await;
    assert_eq!(none["memories"], json!([]));

    let (status, got, _) = send(http.get(format!("{base}/{id}")).bearer_auth(KEY)).await;
    assert_eq!((status, got["text"].clone()), (200, json!("Staging lives at staging.example.net")));
    let (status, deleted, _) = send(http.delete(format!("{base}/{id}")).bearer_auth(KEY)).await;
    assert_eq!((status, deleted), (200, json!({"forgotten": id})));
    let (status, missing, _) = send(http.get(format!("{base}/{id}")).bearer_auth(KEY)).await;
    assert_eq!((status, missing["error"]["code"].clone()), (404, json!("NOT_FOUND")));
    stack.stop().await;
}

#[tokio::test]
async fn the_routes_need_the_key_and_a_search_needs_a_query() {
    let stack = TestStack::start().await;
    start_memory(&stack).await;
    let http = reqwest::Client::new();
    let base = format!("{}/v1/memory", stack.http_url());
    let (status, body, _) = send(http.get(format!("{base}/search")).query(&[("q", "x")])).await;
    assert_eq!((status, body["error"]["code"].clone()), (401, json!("UNAUTHORIZED")));
    let (status, body, _) = send(http.get(format!("{base}/search")).bearer_auth(KEY)).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().contains("needs ?q="), "{body}");
    let (status, body, _) = send(http.post(&base).bearer_auth(KEY).json(&json!({"txt": "typo"}))).await;
    assert_eq!((status, body["error"]["code"].clone()), (400, json!("INVALID_INPUT")));
    stack.stop().await;
}
