//! OpenAI Chat Completions wire output.

use std::collections::BTreeMap;

use agentos_test_support::{CREATED, Reply, ScriptedLlm, ToolCallSpec};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{data_frames, post_openai};

fn chunk(delta: Value, finish: Value) -> Value {
    json!({
        "id": "chatcmpl-scripted-1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "gpt-test",
        "system_fingerprint": null,
        "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }],
    })
}

#[tokio::test]
async fn a_non_streamed_text_reply_is_one_whole_chat_completion() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text("Hello there world").with_usage(7, 3));

    let response = post_openai(&server, json!({ "model": "gpt-test", "messages": [] })).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req_scripted_1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "id": "chatcmpl-scripted-1",
            "object": "chat.completion",
            "created": CREATED,
            "model": "gpt-test",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": "Hello there world", "refusal": null },
                "logprobs": null,
                "finish_reason": "stop",
            }],
            "usage": { "prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10 },
        })
    );
}

#[tokio::test]
async fn a_streamed_text_reply_arrives_as_content_chunks_then_usage_then_done() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text("Hello there world").with_usage(7, 3));

    let response = post_openai(
        &server,
        json!({
            "model": "gpt-test",
            "messages": [],
            "stream": true,
            "stream_options": { "include_usage": true },
        }),
    )
    .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream; charset=utf-8");
    let body = response.text().await.unwrap();
    assert!(body.starts_with("data: {"), "{body}");
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    let with_usage_null = |mut c: Value| {
        c["usage"] = Value::Null;
        c
    };
    assert_eq!(
        data_frames(&body),
        vec![
            with_usage_null(chunk(json!({ "role": "assistant", "content": "", "refusal": null }), Value::Null)),
            with_usage_null(chunk(json!({ "content": "Hello" }), Value::Null)),
            with_usage_null(chunk(json!({ "content": " there" }), Value::Null)),
            with_usage_null(chunk(json!({ "content": " world" }), Value::Null)),
            with_usage_null(chunk(json!({}), json!("stop"))),
            json!({
                "id": "chatcmpl-scripted-1",
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": "gpt-test",
                "system_fingerprint": null,
                "choices": [],
                "usage": { "prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10 },
            }),
            json!("[DONE]"),
        ]
    );
}

#[tokio::test]
async fn a_stream_without_include_usage_has_no_usage_chunk() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text("Hi"));

    let body = post_openai(&server, json!({ "model": "gpt-test", "stream": true })).await.text().await.unwrap();

    assert_eq!(
        data_frames(&body),
        vec![
            chunk(json!({ "role": "assistant", "content": "", "refusal": null }), Value::Null),
            chunk(json!({ "content": "H" }), Value::Null),
            chunk(json!({ "content": "i" }), Value::Null),
            chunk(json!({}), json!("stop")),
            json!("[DONE]"),
        ]
    );
}

#[tokio::test]
async fn a_non_streamed_tool_call_carries_its_arguments_as_a_json_string() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text_then_tool_calls(
        "Let me look.",
        vec![ToolCallSpec::new("call_1", "read_file", json!({ "path": "a.txt" }))],
    ));

    let body: Value = post_openai(&server, json!({ "model": "gpt-test" })).await.json().await.unwrap();

    assert_eq!(
        body["choices"],
        json!([{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me look.",
                "refusal": null,
                "tool_calls": [{
                    "id": "call_1",
                    "type": "function",
                    "function": { "name": "read_file", "arguments": "{\"path\":\"a.txt\"}" },
                }],
            },
            "logprobs": null,
            "finish_reason": "tool_calls",
        }])
    );
}

#[tokio::test]
async fn a_streamed_tool_call_reassembles_from_its_argument_pieces() {
    let server = ScriptedLlm::start().await.unwrap();
    let first = json!({ "path": "src/main.rs", "line_range": [1, 40] });
    let second = json!({ "command": "cargo test" });
    server.push(Reply::tool_calls(vec![
        ToolCallSpec::new("call_a", "read_file", first.clone()),
        ToolCallSpec::new("call_b", "shell", second.clone()),
    ]));

    let body = post_openai(&server, json!({ "model": "gpt-test", "stream": true })).await.text().await.unwrap();
    let frames = data_frames(&body);

    // Reassemble the way a client must: by `index`, id and name from the first delta,
    // arguments concatenated over all of them.
    let mut calls: BTreeMap<u64, (String, String, String, usize)> = BTreeMap::new();
    let mut finish = Value::Null;
    for frame in &frames[..frames.len() - 1] {
        let choice = &frame["choices"][0];
        assert_eq!(choice["index"], 0);
        if !choice["finish_reason"].is_null() {
            finish = choice["finish_reason"].clone();
        }
        for delta in choice["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let entry = calls.entry(delta["index"].as_u64().unwrap()).or_default();
            if let Some(id) = delta["id"].as_str() {
                assert_eq!(delta["type"], "function");
                entry.0 = id.to_owned();
                entry.1 = delta["function"]["name"].as_str().unwrap().to_owned();
            }
            entry.2 += delta["function"]["arguments"].as_str().unwrap();
            entry.3 += 1;
        }
    }
    assert_eq!(frames[0]["choices"][0]["delta"], json!({ "role": "assistant", "content": null, "refusal": null }));
    assert_eq!(finish, "tool_calls");
    assert_eq!(frames.last(), Some(&json!("[DONE]")));
    let reassembled: Vec<(String, String, Value)> = calls
        .values()
        .map(|(id, name, args, _)| (id.clone(), name.clone(), serde_json::from_str(args).unwrap()))
        .collect();
    assert_eq!(
        reassembled,
        vec![("call_a".to_owned(), "read_file".to_owned(), first), ("call_b".to_owned(), "shell".to_owned(), second),]
    );
    assert!(calls.values().all(|(_, _, _, deltas)| *deltas > 3), "arguments are split over several chunks: {calls:?}");
}

#[tokio::test]
async fn the_models_endpoint_lists_the_configured_model_ids() {
    let server = ScriptedLlm::builder().model("gpt-a").model("gpt-b").start().await.unwrap();

    let body: Value = reqwest::Client::new()
        .get(format!("{}/models", server.openai_base_url()))
        .bearer_auth("sk-test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(
        body,
        json!({
            "object": "list",
            "data": [
                { "id": "gpt-a", "object": "model", "created": CREATED, "owned_by": "agentos-test-support" },
                { "id": "gpt-b", "object": "model", "created": CREATED, "owned_by": "agentos-test-support" },
            ],
        })
    );
}
