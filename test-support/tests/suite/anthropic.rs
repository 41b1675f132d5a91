//! Anthropic Messages wire output.

use agentos_test_support::{Reply, ScriptedLlm, SseEvent, ToolCallSpec, parse_sse};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::post_anthropic;

/// The events of a body as (name, data JSON) pairs, checking each `type` matches its name.
fn events(body: &str) -> Vec<(String, Value)> {
    parse_sse(body)
        .into_iter()
        .map(|SseEvent { event, data }| {
            let name = event.expect("every Anthropic event is named");
            let data: Value = serde_json::from_str(&data).unwrap();
            assert_eq!(data["type"], name.as_str());
            (name, data)
        })
        .collect()
}

#[tokio::test]
async fn a_non_streamed_reply_carries_text_and_tool_use_blocks() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(
        Reply::text_then_tool_calls(
            "Checking.",
            vec![ToolCallSpec::new("toolu_1", "get_weather", json!({ "city": "Paris" }))],
        )
        .with_usage(12, 4),
    );

    let response = post_anthropic(&server, json!({ "model": "claude-test", "max_tokens": 64, "messages": [] })).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["request-id"], "req_scripted_1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "id": "msg_scripted_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [
                { "type": "text", "text": "Checking." },
                { "type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": { "city": "Paris" } },
            ],
            "stop_reason": "tool_use",
            "stop_sequence": null,
            "usage": { "input_tokens": 12, "output_tokens": 4 },
        })
    );
}

#[tokio::test]
async fn a_streamed_text_reply_follows_anthropics_event_sequence() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text("Hello there").with_usage(25, 15));

    let response =
        post_anthropic(&server, json!({ "model": "claude-test", "max_tokens": 64, "stream": true, "messages": [] }))
            .await;

    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.starts_with("event: message_start\ndata: {"), "{body}");
    let text_delta = |text: &str| json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": text } });
    let expected: Vec<(String, Value)> = vec![
        (
            "message_start",
            json!({ "type": "message_start", "message": {
            "id": "msg_scripted_1",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-test",
            "stop_reason": null,
            "stop_sequence": null,
            "usage": { "input_tokens": 25, "output_tokens": 1 },
        } }),
        ),
        (
            "content_block_start",
            json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } }),
        ),
        ("ping", json!({ "type": "ping" })),
        ("content_block_delta", text_delta("Hello")),
        ("content_block_delta", text_delta(" there")),
        ("content_block_stop", json!({ "type": "content_block_stop", "index": 0 })),
        (
            "message_delta",
            json!({
                "type": "message_delta",
                "delta": { "stop_reason": "end_turn", "stop_sequence": null },
                "usage": { "output_tokens": 15 },
            }),
        ),
        ("message_stop", json!({ "type": "message_stop" })),
    ]
    .into_iter()
    .map(|(name, data)| (name.to_owned(), data))
    .collect();
    assert_eq!(events(&body), expected);
}

#[tokio::test]
async fn a_streamed_tool_use_reassembles_from_partial_json() {
    let server = ScriptedLlm::start().await.unwrap();
    let input = json!({ "city": "San Francisco", "unit": "celsius" });
    server.push(Reply::text_then_tool_calls(
        "Let me check.",
        vec![ToolCallSpec::new("toolu_9", "get_weather", input.clone())],
    ));

    let body =
        post_anthropic(&server, json!({ "model": "claude-test", "max_tokens": 64, "stream": true, "messages": [] }))
            .await
            .text()
            .await
            .unwrap();

    // Reassemble blocks the way a client must: start by index, then apply deltas.
    let mut blocks: Vec<Value> = Vec::new();
    let mut partial: Vec<String> = Vec::new();
    let mut json_deltas = 0;
    let mut stop_reason = Value::Null;
    for (name, data) in events(&body) {
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(data["index"], blocks.len());
                blocks.push(data["content_block"].clone());
                partial.push(String::new());
            }
            "content_block_delta" => {
                let index = data["index"].as_u64().unwrap() as usize;
                match data["delta"]["type"].as_str().unwrap() {
                    "text_delta" => {
                        let text = blocks[index]["text"].as_str().unwrap().to_owned();
                        blocks[index]["text"] = json!(text + data["delta"]["text"].as_str().unwrap());
                    }
                    "input_json_delta" => {
                        partial[index] += data["delta"]["partial_json"].as_str().unwrap();
                        json_deltas += 1;
                    }
                    other => panic!("unexpected delta type {other}"),
                }
            }
            "content_block_stop" => {
                let index = data["index"].as_u64().unwrap() as usize;
                if blocks[index]["type"] == "tool_use" {
                    blocks[index]["input"] = serde_json::from_str(&partial[index]).unwrap();
                }
            }
            "message_delta" => stop_reason = data["delta"]["stop_reason"].clone(),
            _ => {}
        }
    }

    assert_eq!(
        blocks,
        vec![
            json!({ "type": "text", "text": "Let me check." }),
            json!({ "type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": input }),
        ]
    );
    assert_eq!(stop_reason, "tool_use");
    assert!(json_deltas > 3, "partial_json arrives in several pieces");
}

#[tokio::test]
async fn the_models_endpoint_answers_in_anthropics_shape_when_asked_like_anthropic() {
    let server = ScriptedLlm::builder().model("claude-a").start().await.unwrap();

    let body: Value = reqwest::Client::new()
        .get(format!("{}/v1/models", server.base_url()))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(
        body,
        json!({
            "data": [{ "type": "model", "id": "claude-a", "display_name": "claude-a", "created_at": "2023-11-14T22:13:20Z" }],
            "has_more": false,
            "first_id": "claude-a",
            "last_id": "claude-a",
        })
    );
}
