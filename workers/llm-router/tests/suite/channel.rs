//! `llm::complete` with `stream`: every text delta goes to an iii channel as a `token` event,
//! and the channel is closed before the answer returns.

use std::sync::Arc;
use std::time::Duration;

use agentos_kit::call;
use agentos_kit::channel::{self, ChannelReader, Event};
use agentos_kit::harness::TestStack;
use agentos_test_support::{Reply, ScriptedLlm};
use agentos_worker_llm_router::{MANIFEST, register};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{T, openai_router};

/// Every event until the writer closes.
async fn drain(mut reader: ChannelReader) -> Vec<Event> {
    let mut events = Vec::new();
    while let Some(event) = reader.next_event().await.unwrap() {
        events.push(event);
    }
    events
}

#[tokio::test]
async fn a_streamed_completion_writes_every_token_to_the_channel_in_order_then_closes_it() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text("Hello there world").with_usage(7, 3));
    let stack = TestStack::start().await;
    stack.worker(&MANIFEST, |iii| register(iii, Arc::new(openai_router(&server)))).await;
    let client = stack.client();
    let pair = channel::create(&client, 64).await.unwrap();
    let reader = ChannelReader::open(stack.ws_url(), &pair.reader).await.unwrap();
    let events = tokio::spawn(drain(reader));

    let done: Value = call(
        &client,
        "llm::complete",
        &json!({"messages": [{"role": "user", "content": "hi"}], "stream": pair.writer}),
        T,
    )
    .await
    .unwrap();

    // The channel was closed before the answer came back: the reader is done, or about to be.
    let events = tokio::time::timeout(Duration::from_secs(5), events).await.unwrap().unwrap();
    assert_eq!(events, ["Hello", " there", " world"].map(|t| Event::new("token", json!({"text": t}))),);
    let text: String = events.iter().map(|e| e.data["text"].as_str().unwrap()).collect();
    assert_eq!((done["content"].as_str(), text.as_str()), (Some("Hello there world"), "Hello there world"));
    assert_eq!(server.requests()[0].body["stream"], json!(true), "the provider was asked to stream");
    stack.stop().await;
}

#[tokio::test]
async fn a_failed_streamed_completion_still_closes_the_channel_and_returns_the_error() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::status(400, "bad request"));
    let stack = TestStack::start().await;
    stack.worker(&MANIFEST, |iii| register(iii, Arc::new(openai_router(&server)))).await;
    let client = stack.client();
    let pair = channel::create(&client, 64).await.unwrap();
    let reader = ChannelReader::open(stack.ws_url(), &pair.reader).await.unwrap();
    let events = tokio::spawn(drain(reader));

    let err = call::<_, Value>(
        &client,
        "llm::complete",
        &json!({"messages": [{"role": "user", "content": "hi"}], "stream": pair.writer}),
        T,
    )
    .await
    .unwrap_err();

    assert_eq!((err.code.as_str(), err.message.as_str()), ("PROVIDER_ERROR", "openai answered HTTP 400: bad request"));
    let events = tokio::time::timeout(Duration::from_secs(5), events).await.unwrap().unwrap();
    assert_eq!(events, []);
    stack.stop().await;
}

#[tokio::test]
async fn a_channel_that_cannot_be_opened_still_gets_an_answer() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text("Still here."));
    let stack = TestStack::start().await;
    stack.worker(&MANIFEST, |iii| register(iii, Arc::new(openai_router(&server)))).await;
    let missing = json!({"channel_id": "00000000-0000-0000-0000-000000000000",
                         "access_key": "00000000-0000-0000-0000-000000000000", "direction": "write"});

    let done: Value = call(
        &stack.client(),
        "llm::complete",
        &json!({"messages": [{"role": "user", "content": "hi"}], "stream": missing}),
        T,
    )
    .await
    .unwrap();

    assert_eq!(done["content"], "Still here.");
    assert_eq!(server.requests()[0].body.get("stream"), None, "nobody listens, so the call is not streamed");
    stack.stop().await;
}
