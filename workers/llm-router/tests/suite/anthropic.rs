//! The Anthropic Messages client against the scripted server.

use agentos_test_support::{Reply, ScriptedLlm, ToolCallSpec};
use agentos_worker_llm_router::{ChatMessage, Completion, CompletionRequest, ToolCall, Usage};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{DEFAULT_CHAIN, anthropic_router, ask, timeless, weather_tool};

#[tokio::test]
async fn a_non_streamed_anthropic_answer_is_read_whole_with_its_usage() {
    let server = ScriptedLlm::builder().api_key("sk-ant-test").start().await.unwrap();
    server.push(Reply::text("Hello there world").with_usage(12, 4));

    let done = anthropic_router(&server).complete(&ask("hi")).await.unwrap();

    assert_eq!(
        timeless(done),
        Completion {
            model: "claude-test".into(),
            provider: "anthropic".into(),
            content: "Hello there world".into(),
            tool_calls: vec![],
            finish_reason: "stop".into(),
            usage: Usage { input_tokens: 12, output_tokens: 4 },
            latency_ms: 0,
            cost_usd: None,
            tier: Some("fast".into()),
            route_reason: Some(DEFAULT_CHAIN.into()),
        }
    );
}

#[tokio::test]
async fn a_streamed_anthropic_answer_forwards_every_token_and_counts_both_token_kinds() {
    let server = ScriptedLlm::builder().api_key("sk-ant-test").start().await.unwrap();
    server.push(Reply::text("Hello there world").with_usage(12, 4));
    let mut tokens = Vec::new();

    let done = anthropic_router(&server).stream(&ask("hi"), |t| tokens.push(t.to_string())).await.unwrap();

    assert_eq!(tokens, ["Hello", " there", " world"]);
    assert_eq!(
        (done.content.as_str(), done.finish_reason.as_str(), done.usage),
        ("Hello there world", "stop", Usage { input_tokens: 12, output_tokens: 4 })
    );
    assert_eq!(server.requests()[0].body["stream"], json!(true));
}

#[tokio::test]
async fn a_streamed_anthropic_tool_call_is_reassembled_from_partial_json() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text_then_tool_calls(
        "Checking.",
        vec![
            ToolCallSpec::new("toolu_1", "get_weather", json!({"city": "Paris", "unit": "celsius"})),
            ToolCallSpec::new("toolu_2", "get_weather", json!({"city": "Tokyo"})),
        ],
    ));
    let req = CompletionRequest { tools: vec![weather_tool()], ..ask("weather?") };
    let mut tokens = String::new();

    let done = anthropic_router(&server).stream(&req, |t| tokens.push_str(t)).await.unwrap();

    assert_eq!(
        (tokens.as_str(), done.content.as_str(), done.finish_reason.as_str()),
        ("Checking.", "Checking.", "tool_calls")
    );
    assert_eq!(
        done.tool_calls,
        vec![
            ToolCall {
                id: "toolu_1".into(),
                name: "get_weather".into(),
                arguments: json!({"city": "Paris", "unit": "celsius"})
            },
            ToolCall { id: "toolu_2".into(), name: "get_weather".into(), arguments: json!({"city": "Tokyo"}) },
        ]
    );
}

#[tokio::test]
async fn the_anthropic_request_has_the_exact_wire_shape_for_tools_system_and_tool_results() {
    let server = ScriptedLlm::builder().api_key("sk-ant-test").start().await.unwrap();
    server.push(Reply::text("Both sunny."));
    let calls = vec![
        ToolCall { id: "toolu_1".into(), name: "get_weather".into(), arguments: json!({"city": "Paris"}) },
        ToolCall { id: "toolu_2".into(), name: "get_weather".into(), arguments: json!({"city": "Rome"}) },
    ];
    let req = CompletionRequest {
        model: None,
        messages: vec![
            ChatMessage::system("Be brief."),
            ChatMessage::system("Use metric units."),
            ChatMessage::user("Weather in Paris and Rome?"),
            ChatMessage::assistant_calls("Checking both.", calls),
            ChatMessage::tool_result("toolu_1", "sunny, 21C"),
            ChatMessage::tool_result("toolu_2", "sunny, 25C"),
        ],
        tools: vec![weather_tool()],
        ..CompletionRequest::default()
    };

    anthropic_router(&server).complete(&req).await.unwrap();

    let sent = &server.requests()[0];
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/messages"));
    assert_eq!((sent.header("x-api-key"), sent.header("anthropic-version")), (Some("sk-ant-test"), Some("2023-06-01")));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(
        sent.body,
        json!({
            "model": "claude-test",
            "max_tokens": 4096,
            "system": "Be brief.\n\nUse metric units.",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Checking both."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny, 21C"},
                    {"type": "tool_result", "tool_use_id": "toolu_2", "content": "sunny, 25C"}
                ]}
            ],
            "tools": [{
                "name": "get_weather",
                "description": "Current weather for a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
            }]
        })
    );
}
