//! Script order, errors, auth, gates, hangs and request recording.

use std::time::Duration;

use agentos_test_support::{Provider, Reply, ScriptedLlm};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{DEADLINE, data_frames, post_anthropic, post_openai};

#[tokio::test]
async fn a_server_error_then_a_success_are_served_in_script_order() {
    let server = ScriptedLlm::builder()
        .reply(Reply::status(500, "The server had an error while processing your request."))
        .reply(Reply::text("Recovered"))
        .start()
        .await
        .unwrap();

    let first = post_openai(&server, json!({ "model": "gpt-test" })).await;
    assert_eq!(first.status(), 500);
    assert_eq!(
        first.json::<Value>().await.unwrap(),
        json!({ "error": {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "param": null,
            "code": null,
        } })
    );

    let second: Value = post_openai(&server, json!({ "model": "gpt-test" })).await.json().await.unwrap();
    assert_eq!(second["choices"][0]["message"]["content"], "Recovered");
    assert_eq!(second["id"], "chatcmpl-scripted-2");
    assert_eq!(server.remaining(), 0);
}

#[tokio::test]
async fn a_rate_limit_carries_retry_after_and_each_providers_error_shape() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::rate_limited(3));
    server.push(Reply::rate_limited(7));
    server.push(Reply::status(529, "Overloaded"));

    let openai = post_openai(&server, json!({ "model": "gpt-test" })).await;
    assert_eq!(openai.status(), 429);
    assert_eq!(openai.headers()["retry-after"], "3");
    assert_eq!(
        openai.json::<Value>().await.unwrap(),
        json!({ "error": {
            "message": "Rate limit reached for requests",
            "type": "requests",
            "param": null,
            "code": "rate_limit_exceeded",
        } })
    );

    let anthropic = post_anthropic(&server, json!({ "model": "claude-test" })).await;
    assert_eq!(anthropic.status(), 429);
    assert_eq!(anthropic.headers()["retry-after"], "7");
    assert_eq!(
        anthropic.json::<Value>().await.unwrap(),
        json!({ "type": "error", "error": { "type": "rate_limit_error", "message": "Rate limit reached for requests" } })
    );

    let overloaded = post_anthropic(&server, json!({ "model": "claude-test" })).await;
    assert_eq!(overloaded.status(), 529);
    assert_eq!(
        overloaded.json::<Value>().await.unwrap(),
        json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } })
    );
}

#[tokio::test]
async fn a_request_without_a_key_gets_401_in_the_providers_shape_and_consumes_nothing() {
    let server = ScriptedLlm::builder().reply(Reply::text("kept")).start().await.unwrap();
    let client = reqwest::Client::new();

    let openai = client
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .json(&json!({ "model": "gpt-test" }))
        .send()
        .await
        .unwrap();
    assert_eq!(openai.status(), 401);
    let body: Value = openai.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("You didn't provide an API key."));

    let anthropic = client
        .post(format!("{}/v1/messages", server.base_url()))
        .header("anthropic-version", "2023-06-01")
        .json(&json!({ "model": "claude-test" }))
        .send()
        .await
        .unwrap();
    assert_eq!(anthropic.status(), 401);
    assert_eq!(
        anthropic.json::<Value>().await.unwrap(),
        json!({ "type": "error", "error": { "type": "authentication_error", "message": "x-api-key header is required" } })
    );
    assert_eq!(server.remaining(), 1);
}

#[tokio::test]
async fn only_the_configured_key_is_accepted() {
    let server = ScriptedLlm::builder().api_key("sk-right").reply(Reply::text("ok")).start().await.unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", server.base_url());

    let wrong = client.post(&url).bearer_auth("sk-wrong").json(&json!({})).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"]["code"], "invalid_api_key");

    let right = client.post(&url).bearer_auth("sk-right").json(&json!({})).send().await.unwrap();
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn an_anthropic_request_without_a_version_header_is_a_bad_request() {
    let server = ScriptedLlm::start().await.unwrap();

    let response = reqwest::Client::new()
        .post(format!("{}/v1/messages", server.base_url()))
        .header("x-api-key", "k")
        .json(&json!({}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn a_gated_stream_sends_its_first_part_and_the_rest_only_once_the_gate_opens() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text("first second third").gated());
    let gate = server.gate(0);

    let mut response = post_openai(&server, json!({ "model": "gpt-test", "stream": true })).await;
    tokio::time::timeout(DEADLINE, gate.reached()).await.unwrap();

    // The role chunk and the first content chunk arrive while the gate is closed...
    let mut received = String::new();
    while data_frames(&received).len() < 2 {
        let chunk =
            tokio::time::timeout(DEADLINE, response.chunk()).await.unwrap().unwrap().expect("the stream is still open");
        received.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let first_part = data_frames(&received);
    assert_eq!(first_part.len(), 2);
    assert_eq!(first_part[1]["choices"][0]["delta"], json!({ "content": "first" }));

    // ...and nothing more does until it opens.
    let held = tokio::time::timeout(Duration::from_millis(200), response.chunk()).await;
    assert!(held.is_err(), "a chunk got past the closed gate: {held:?}");

    gate.open();
    let rest = tokio::time::timeout(DEADLINE, response.text()).await.unwrap().unwrap();
    let all = data_frames(&(received + &rest));
    let text: String = all.iter().filter_map(|frame| frame["choices"][0]["delta"]["content"].as_str()).collect();
    assert_eq!(text, "first second third");
    assert_eq!(all.last(), Some(&json!("[DONE]")));
}

#[tokio::test]
async fn gates_interleave_two_streams_in_the_order_the_test_opens_them() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push_anthropic(Reply::text("slow answer").gated());
    server.push_anthropic(Reply::text("fast answer").gated());
    let body = json!({ "model": "claude-test", "max_tokens": 8, "stream": true });

    let slow = post_anthropic(&server, body.clone()).await;
    let fast = post_anthropic(&server, body).await;
    tokio::time::timeout(DEADLINE, server.gate(0).reached()).await.unwrap();
    tokio::time::timeout(DEADLINE, server.gate(1).reached()).await.unwrap();

    server.gate(1).open();
    let fast_body = tokio::time::timeout(DEADLINE, fast.text()).await.unwrap().unwrap();
    assert!(fast_body.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
    assert!(!server.gate(0).is_open());

    server.gate(0).open();
    let slow_body = tokio::time::timeout(DEADLINE, slow.text()).await.unwrap().unwrap();
    assert!(slow_body.contains("\"text\":\" answer\""));
    assert!(slow_body.contains("\"id\":\"msg_scripted_1\""));
}

#[tokio::test]
async fn a_hanging_reply_makes_the_clients_timeout_fire() {
    let server = ScriptedLlm::builder().reply(Reply::Hang).start().await.unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();

    let error = client
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .bearer_auth("sk-test")
        .json(&json!({ "model": "gpt-test" }))
        .send()
        .await
        .unwrap_err();

    assert!(error.is_timeout(), "{error}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn every_request_is_recorded_with_its_headers_and_json_body() {
    let server = ScriptedLlm::builder().reply(Reply::text("a")).start().await.unwrap();
    let body = json!({ "model": "gpt-test", "messages": [{ "role": "user", "content": "hi" }] });

    post_openai(&server, body.clone()).await;
    let requests = server.wait_for_requests(1, DEADLINE).await.unwrap();

    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.provider, Some(Provider::OpenAi));
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.header("Authorization"), Some("Bearer sk-test"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.body, body);
}

#[tokio::test]
async fn a_providers_own_queue_is_taken_before_the_shared_one() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text("shared"));
    server.push_anthropic(Reply::text("for anthropic"));

    let anthropic: Value = post_anthropic(&server, json!({ "model": "c" })).await.json().await.unwrap();
    let openai: Value = post_openai(&server, json!({ "model": "g" })).await.json().await.unwrap();

    assert_eq!(anthropic["content"][0]["text"], "for anthropic");
    assert_eq!(openai["choices"][0]["message"]["content"], "shared");
}

#[tokio::test]
async fn an_exhausted_script_answers_500_naming_the_cause() {
    let server = ScriptedLlm::start().await.unwrap();

    let response = post_anthropic(&server, json!({ "model": "c" })).await;

    assert_eq!(response.status(), 500);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "type": "error", "error": {
            "type": "api_error",
            "message": "agentos-test-support: the script has no reply left for this request",
        } })
    );
}

#[tokio::test]
async fn a_dropped_server_stops_listening() {
    let server = ScriptedLlm::start().await.unwrap();
    let url = format!("{}/v1/models", server.base_url());
    drop(server);

    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let result = reqwest::Client::new().get(&url).send().await;
        if result.is_err() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still serving after drop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
