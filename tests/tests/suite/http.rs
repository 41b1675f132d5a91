//! HTTP triggers on the REST port, called with reqwest.

use std::time::Duration;

use iii_sdk::RegisterTriggerInput;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::harness::{TestEngine, register, wait_until, worker};

async fn http_engine() -> TestEngine {
    TestEngine::start_with(|c| {
        c.http_default_timeout_ms = 800;
        c.restart_wait = Duration::from_millis(300);
    })
    .await
}

fn http_trigger(function_id: &str, path: &str, method: &str) -> RegisterTriggerInput {
    RegisterTriggerInput {
        trigger_type: "http".into(),
        function_id: function_id.into(),
        config: json!({ "api_path": path, "http_method": method }),
        metadata: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_trigger_gets_the_request_and_shapes_the_response() {
    let engine = http_engine().await;
    let w = worker(&engine.ws_url, "web");
    register(&w, "web::echo", |req: Value| async move {
        Ok(json!({
            "status_code": 201,
            "headers": { "x-echo": "yes" },
            "body": {
                "path_params": req["path_params"], "query_params": req["query_params"],
                "body": req["body"], "method": req["method"], "path": req["path"],
                "custom_header": req["headers"]["x-custom"],
            }
        }))
    });
    w.register_trigger(http_trigger("web::echo", "/echo/:id", "POST")).unwrap();
    engine.wait_triggers(1).await;
    engine.wait_function("web::echo").await;

    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/echo/42?x=3&y=a%20b", engine.http_url))
        .header("X-Custom", "abc")
        .json(&json!({"hello": "world"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(response.headers()["x-echo"], "yes");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "path_params": {"id": "42"}, "query_params": {"x": "3", "y": "a b"},
            "body": {"hello": "world"}, "method": "POST", "path": "/echo/:id", "custom_header": "abc",
        })
    );
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_errors_are_json_with_a_code_and_a_message() {
    let engine = http_engine().await;
    let w = worker(&engine.ws_url, "web");
    register(&w, "web::slow", |_: Value| async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        Ok(json!({}))
    });
    register(&w, "web::fail", |_: Value| async move { Err(iii_sdk::IIIError::Handler("kaput".into())) });
    register(&w, "web::ok", |_: Value| async move { Ok(json!({"body": {"ok": true}})) });
    w.register_trigger(http_trigger("web::slow", "slow", "GET")).unwrap();
    w.register_trigger(http_trigger("web::fail", "fail", "GET")).unwrap();
    w.register_trigger(http_trigger("web::ok", "ok", "POST")).unwrap();
    engine.wait_triggers(3).await;
    for f in ["web::slow", "web::fail", "web::ok"] {
        engine.wait_function(f).await;
    }
    let client = reqwest::Client::new();
    let expect = |status: u16, code: &'static str| {
        move |r: (u16, Value)| {
            assert_eq!(r.0, status, "{}", r.1);
            assert_eq!(r.1["error"]["code"], code, "{}", r.1);
            assert!(r.1["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.1);
        }
    };
    async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
    let base = &engine.http_url;
    expect(404, "route_not_found")(send(client.get(format!("{base}/missing"))).await);
    expect(405, "method_not_allowed")(send(client.get(format!("{base}/ok"))).await);
    expect(504, "timeout")(send(client.get(format!("{base}/slow"))).await);
    expect(500, "invocation_failed")(send(client.get(format!("{base}/fail"))).await);
    let bad = client.post(format!("{base}/ok")).header("content-type", "application/json").body("{not json");
    expect(400, "invalid_json")(send(bad).await);
    // The engine is still serving after all of that.
    let good = send(client.post(format!("{base}/ok")).json(&json!({}))).await;
    assert_eq!(good, (200, json!({"ok": true})));
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_goes_away_with_its_worker() {
    let engine = http_engine().await;
    let w = worker(&engine.ws_url, "web");
    register(&w, "web::bye", |_: Value| async move { Ok(json!({"body": "hi"})) });
    w.register_trigger(http_trigger("web::bye", "bye", "GET")).unwrap();
    engine.wait_triggers(1).await;
    engine.wait_function("web::bye").await;
    let url = format!("{}/bye", engine.http_url);
    assert_eq!(reqwest::get(&url).await.unwrap().status().as_u16(), 200);
    w.shutdown_async().await;
    // Gone with its worker: while the engine still remembers who served it, the answer says
    // that worker is away (503) rather than that the route never existed (404).
    wait_until("route removed", || {
        let url = url.clone();
        async move { reqwest::get(&url).await.map(|r| r.status().as_u16() == 503).unwrap_or(false) }
    })
    .await;
    engine.stop().await;
}
