//! `/v1/realms` over the engine's REST port: auth, statuses, JSON errors.

use agentos_kit::harness::TestStack;
use pretty_assertions::assert_eq;
use reqwest::Method;
use serde_json::{Value, json};

use super::{KEY, start_realm};

/// Sends `method url` with an optional bearer and JSON body; answers the status, the
/// `location` header and the JSON body.
async fn send(method: Method, url: String, bearer: Option<&str>, body: Option<Value>) -> (u16, Option<String>, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    (status, location, resp.json().await.unwrap())
}

#[tokio::test]
async fn every_realm_route_answers_401_json_without_the_bearer_key() {
    let stack = TestStack::start().await;
    start_realm(&stack).await;
    let base = stack.http_url();

    let routes = [
        (Method::GET, "/v1/realms"),
        (Method::POST, "/v1/realms"),
        (Method::GET, "/v1/realms/default"),
        (Method::PATCH, "/v1/realms/default"),
        (Method::DELETE, "/v1/realms/default"),
        (Method::GET, "/v1/realms/default/export"),
        (Method::POST, "/v1/realms/import"),
    ];
    for (method, path) in routes {
        let (status, _, body) = send(method.clone(), format!("{base}{path}"), None, Some(json!({}))).await;
        assert_eq!((status, &body["error"]["code"]), (401, &json!("UNAUTHORIZED")), "{method} {path}");
        let (status, _, _) = send(method.clone(), format!("{base}{path}"), Some("wrong-key"), None).await;
        assert_eq!(status, 401, "{method} {path} with a wrong key");
    }
    stack.stop().await;
}

#[tokio::test]
async fn create_is_201_with_a_location_and_get_list_patch_delete_answer_with_the_key() {
    let stack = TestStack::start().await;
    start_realm(&stack).await;
    let base = stack.http_url();
    let realms = format!("{base}/v1/realms");

    let (status, location, created) = send(
        Method::POST,
        realms.clone(),
        Some(KEY),
        Some(json!({"id": "team", "name": "Team", "settings": {"hand": "coder"}})),
    )
    .await;
    assert_eq!((status, location.as_deref()), (201, Some("/v1/realms/team")));
    let at = created["created_ms"].clone();
    assert_eq!(
        created,
        json!({"id": "team", "name": "Team", "description": "", "created_ms": at, "updated_ms": at, "settings": {"hand": "coder"}})
    );

    let (status, _, got) = send(Method::GET, format!("{realms}/team"), Some(KEY), None).await;
    assert_eq!((status, &got), (200, &created));

    let (status, _, listed) = send(Method::GET, realms.clone(), Some(KEY), None).await;
    assert_eq!(status, 200);
    let ids: Vec<&Value> = listed["realms"].as_array().unwrap().iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, vec![&json!("default"), &json!("team")]);

    let (status, _, patched) =
        send(Method::PATCH, format!("{realms}/team"), Some(KEY), Some(json!({"description": "ours"}))).await;
    assert_eq!((status, &patched["description"], &patched["name"]), (200, &json!("ours"), &json!("Team")));

    let (status, _, deleted) = send(Method::DELETE, format!("{realms}/team"), Some(KEY), None).await;
    assert_eq!((status, deleted), (200, json!({"id": "team", "scopes": [], "items": 0})));
    let (status, _, _) = send(Method::GET, format!("{realms}/team"), Some(KEY), None).await;
    assert_eq!(status, 404);
    stack.stop().await;
}

#[tokio::test]
async fn a_missing_realm_is_a_404_json_error_naming_the_fix() {
    let stack = TestStack::start().await;
    start_realm(&stack).await;

    let (status, _, body) = send(Method::GET, format!("{}/v1/realms/ghost", stack.http_url()), Some(KEY), None).await;
    assert_eq!(
        (status, body),
        (
            404,
            json!({"error": {
                "code": "NOT_FOUND",
                "message": "no realm \"ghost\"; list the realms with GET /v1/realms or create it with POST /v1/realms"
            }})
        )
    );
    stack.stop().await;
}

#[tokio::test]
async fn default_cannot_be_deleted_over_http_and_the_answer_is_403() {
    let stack = TestStack::start().await;
    start_realm(&stack).await;
    let url = format!("{}/v1/realms/default", stack.http_url());

    let (status, _, body) = send(Method::DELETE, url.clone(), Some(KEY), None).await;
    assert_eq!((status, &body["error"]["code"]), (403, &json!("FORBIDDEN")));
    let (status, _, body) = send(Method::GET, url, Some(KEY), None).await;
    assert_eq!((status, &body["id"]), (200, &json!("default")));
    stack.stop().await;
}

#[tokio::test]
async fn bad_bodies_are_400_and_a_taken_id_is_409() {
    let stack = TestStack::start().await;
    start_realm(&stack).await;
    let realms = format!("{}/v1/realms", stack.http_url());

    let table = [
        (Method::POST, realms.clone(), json!({"id": "Not A Slug"}), 400, "INVALID_INPUT"),
        (Method::POST, realms.clone(), json!({"name": "no id"}), 400, "INVALID_INPUT"),
        (Method::POST, realms.clone(), json!({"id": "x", "colour": "red"}), 400, "INVALID_INPUT"),
        (Method::POST, realms.clone(), json!({"id": "default"}), 409, "CONFLICT"),
        (Method::PATCH, format!("{realms}/default"), json!({"id": "renamed"}), 400, "INVALID_INPUT"),
        (Method::POST, format!("{realms}/import"), json!({"scopes": {}}), 400, "INVALID_INPUT"),
    ];
    for (method, url, body, status, code) in table {
        let (got, _, answer) = send(method.clone(), url.clone(), Some(KEY), Some(body.clone())).await;
        assert_eq!((got, &answer["error"]["code"]), (status, &json!(code)), "{method} {url} {body}: {answer}");
    }
    stack.stop().await;
}
