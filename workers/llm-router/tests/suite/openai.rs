//! The OpenAI Chat Completions client against the scripted server.

use agentos_test_support::{Reply, ScriptedLlm, ToolCallSpec};
use agentos_worker_llm_router::{ChatMessage, Completion, CompletionRequest, ToolCall, Usage};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{DEFAULT_CHAIN, ask, openai_router, timeless, weather_tool};

#[tokio::test]
async fn a_non_streamed_openai_answer_is_read_whole_with_its_usage() {
    let server = ScriptedLlm::builder().api_key("sk-test").start().await.unwrap();
    server.push(Reply::text("Hello there world").with_usage(7, 3));

    let done = openai_router(&server).complete(&ask("hi")).await.unwrap();

    assert_eq!(
        timeless(done),
        Completion {
            model: "gpt-test".into(),
            provider: "openai".into(),
            content: "Hello there world".into(),
            tool_calls: vec![],
            finish_reason: "stop".into(),
            usage: Usage { input_tokens: 7, output_tokens: 3 },
            latency_ms: 0,
            cost_usd: None,
            tier: Some("fast".into()),
            route_reason: Some(DEFAULT_CHAIN.into()),
        }
    );
}

#[tokio::test]
async fn a_streamed_openai_answer_forwards_every_token_and_returns_the_whole_text() {
    let server = ScriptedLlm::builder().api_key("sk-test").start().await.unwrap();
    server.push(Reply::text("Hello there world").with_usage(7, 3));
    let mut tokens = Vec::new();

    let done = openai_router(&server).stream(&ask("hi"), |t| tokens.push(t.to_string())).await.unwrap();

    assert_eq!(tokens, ["Hello", " there", " world"]);
    assert_eq!(
        (done.content.as_str(), done.finish_reason.as_str(), done.usage),
        ("Hello there world", "stop", Usage { input_tokens: 7, output_tokens: 3 })
    );
    let body = &server.requests()[0].body;
    assert_eq!((&body["stream"], &body["stream_options"]), (&json!(true), &json!({"include_usage": true})));
}

#[tokio::test]
async fn a_streamed_openai_tool_call_is_reassembled_from_its_argument_pieces() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text_then_tool_calls(
        "Let me look.",
        vec![
            ToolCallSpec::new("call_1", "get_weather", json!({"city": "Paris", "unit": "celsius"})),
            ToolCallSpec::new("call_2", "get_weather", json!({"city": "Tokyo"})),
        ],
    ));
    let req = CompletionRequest { tools: vec![weather_tool()], ..ask("weather?") };

    let done = openai_router(&server).stream(&req, |_| {}).await.unwrap();

    assert_eq!(done.content, "Let me look.");
    assert_eq!(done.finish_reason, "tool_calls");
    assert_eq!(
        done.tool_calls,
        vec![
            ToolCall {
                id: "call_1".into(),
                name: "get_weather".into(),
                arguments: json!({"city": "Paris", "unit": "celsius"})
            },
            ToolCall { id: "call_2".into(), name: "get_weather".into(), arguments: json!({"city": "Tokyo"}) },
        ]
    );
}

#[tokio::test]
async fn a_non_streamed_openai_tool_call_has_its_argument_string_parsed() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::tool_calls(vec![ToolCallSpec::new("call_9", "get_weather", json!({"city": "Oslo"}))]));

    let done = openai_router(&server).complete(&ask("weather?")).await.unwrap();

    assert_eq!(
        (done.content.as_str(), done.finish_reason.as_str(), done.tool_calls),
        (
            "",
            "tool_calls",
            vec![ToolCall { id: "call_9".into(), name: "get_weather".into(), arguments: json!({"city": "Oslo"}) }]
        )
    );
}

#[tokio::test]
async fn the_openai_request_has_the_exact_wire_shape_for_tools_system_and_tool_results() {
    let server = ScriptedLlm::builder().api_key("sk-test").start().await.unwrap();
    server.push(Reply::text("Sunny."));
    let call = ToolCall { id: "call_1".into(), name: "get_weather".into(), arguments: json!({"city": "Paris"}) };
    let req = CompletionRequest {
        model: Some("openai/gpt-4.1".into()),
        messages: vec![
            ChatMessage::system("Be brief."),
            ChatMessage::user("Weather in Paris?"),
            ChatMessage::assistant_calls("", vec![call]),
            ChatMessage::tool_result("call_1", "sunny, 21C"),
        ],
        tools: vec![weather_tool()],
        max_tokens: Some(256),
        temperature: Some(0.5),
        ..CompletionRequest::default()
    };

    openai_router(&server).complete(&req).await.unwrap();

    let sent = &server.requests()[0];
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(
        sent.body,
        json!({
            "model": "gpt-4.1",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "content": "sunny, 21C", "tool_call_id": "call_1"}
            ],
            "tools": [{"type": "function", "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
            }}],
            "max_tokens": 256,
            "temperature": 0.5
        })
    );
}
