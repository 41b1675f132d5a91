//! `/v1/sessions` over the engine's REST port: auth, filters, names in URLs, JSON errors.

use agentos_kit::call;
use agentos_kit::harness::TestStack;
use agentos_worker_session_lifecycle::{OpenSession, Session};
use pretty_assertions::assert_eq;
use reqwest::Method;
use serde_json::{Value, json};

use super::{KEY, T, start_sessions};

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
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Opens a session on the bus.
async fn open(stack: &TestStack, id: &str, name: Option<&str>, realm: &str) -> Session {
    let req = OpenSession {
        id: Some(id.into()),
        name: name.map(str::to_string),
        realm: Some(realm.into()),
        hand: "coder".into(),
        agent: None,
        model: None,
    };
    call(&stack.client(), "session::open", &req, T).await.unwrap()
}

#[tokio::test]
async fn every_session_route_answers_401_json_without_the_bearer_key() {
    let stack = TestStack::start().await;
    start_sessions(&stack).await;
    let base = stack.http_url();
    for (method, path) in [
        (Method::GET, "/v1/sessions"),
        (Method::GET, "/v1/sessions/s1"),
        (Method::PATCH, "/v1/sessions/s1"),
        (Method::POST, "/v1/sessions/s1/close"),
    ] {
        let (status, body) = send(method.clone(), format!("{base}{path}"), None, Some(json!({}))).await;
        assert_eq!((status, &body["error"]["code"]), (401, &json!("UNAUTHORIZED")), "{method} {path}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn list_get_rename_and_close_answer_with_the_key() {
    let stack = TestStack::start().await;
    start_sessions(&stack).await;
    let base = format!("{}/v1/sessions", stack.http_url());
    open(&stack, "s:1", Some("first"), "default").await;
    open(&stack, "s2", None, "team").await;

    let (status, list) = send(Method::GET, format!("{base}?realm=team"), Some(KEY), None).await;
    assert_eq!(status, 200);
    assert_eq!(list["sessions"].as_array().unwrap().iter().map(|s| &s["id"]).collect::<Vec<_>>(), vec!["s2"]);
    assert_eq!(list["total"], 1);
    let (_, active) = send(Method::GET, format!("{base}?state=active&limit=1"), Some(KEY), None).await;
    assert_eq!((active["sessions"].as_array().unwrap().len(), &active["total"]), (1, &json!(2)));

    // An id with ':' arrives percent-encoded, as the CLI sends it.
    let (status, got) = send(Method::GET, format!("{base}/s%3A1"), Some(KEY), None).await;
    assert_eq!((status, &got["name"]), (200, &json!("first")));
    let (status, by_name) = send(Method::GET, format!("{base}/first"), Some(KEY), None).await;
    assert_eq!((status, &by_name["id"]), (200, &json!("s:1")));

    let (status, renamed) = send(Method::PATCH, format!("{base}/s2"), Some(KEY), Some(json!({"name": "second"}))).await;
    assert_eq!((status, &renamed["name"], &renamed["realm"]), (200, &json!("second"), &json!("team")));
    let (status, by_name) = send(Method::GET, format!("{base}/second?realm=team"), Some(KEY), None).await;
    assert_eq!((status, &by_name["id"]), (200, &json!("s2")));

    let (status, closed) = send(Method::POST, format!("{base}/first/close"), Some(KEY), None).await;
    assert_eq!((status, &closed["id"], &closed["state"]), (200, &json!("s:1"), &json!("done")));
    stack.stop().await;
}

#[tokio::test]
async fn a_taken_name_is_409_an_unknown_session_404_and_bad_input_400() {
    let stack = TestStack::start().await;
    start_sessions(&stack).await;
    let base = format!("{}/v1/sessions", stack.http_url());
    open(&stack, "s1", Some("taken"), "default").await;
    open(&stack, "s2", None, "default").await;

    let (status, body) = send(Method::PATCH, format!("{base}/s2"), Some(KEY), Some(json!({"name": "taken"}))).await;
    assert_eq!((status, &body["error"]["code"]), (409, &json!("CONFLICT")));
    assert!(body["error"]["message"].as_str().unwrap().contains("pick another name"), "{body}");

    let (status, body) = send(Method::GET, format!("{base}/nobody"), Some(KEY), None).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("NOT_FOUND")));
    assert!(body["error"]["message"].as_str().unwrap().contains("GET /v1/sessions"), "{body}");

    for (method, url, body) in [
        (Method::GET, format!("{base}?state=paused"), None),
        (Method::GET, format!("{base}?limit=0"), None),
        (Method::GET, format!("{base}?realm=Not_A_Realm"), None),
        (Method::PATCH, format!("{base}/s2"), Some(json!({"nam": "typo"}))),
    ] {
        let (status, answer) = send(method.clone(), url.clone(), Some(KEY), body).await;
        assert_eq!((status, &answer["error"]["code"]), (400, &json!("INVALID_INPUT")), "{method} {url}");
    }
    stack.stop().await;
}
