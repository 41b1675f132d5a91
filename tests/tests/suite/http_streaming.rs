//! HTTP triggers with channels: the raw request body through `request_body`, and responses
//! streamed through `response` (`set_status`, `set_headers`, binary frames, Close).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use iii_sdk::{ChannelReader, ChannelWriter, IIIError, RegisterTriggerInput, StreamChannelRef};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::harness::{TestEngine, register, wait_until, worker};

/// The default timeout of these engines: short, so a streamed body clearly outlasts it.
const DEFAULT_TIMEOUT_MS: u64 = 800;

async fn http_engine() -> TestEngine {
    TestEngine::start_with(|c| c.http_default_timeout_ms = DEFAULT_TIMEOUT_MS).await
}

async fn route(engine: &TestEngine, w: &iii_sdk::III, function_id: &str, path: &str, method: &str) {
    w.register_trigger(RegisterTriggerInput {
        trigger_type: "http".into(),
        function_id: function_id.into(),
        config: json!({ "api_path": path, "http_method": method }),
        metadata: None,
    })
    .unwrap();
    engine.wait_function(function_id).await;
    let engine_handle = engine.engine.clone();
    let function_id = function_id.to_string();
    wait_until("route registered", move || {
        let ok = agentos_engine::triggers::all(&engine_handle).iter().any(|t| t.function_id == function_id);
        async move { ok }
    })
    .await;
}

fn channel_ref(request: &Value, field: &str) -> Result<StreamChannelRef, IIIError> {
    serde_json::from_value(request[field].clone()).map_err(|e| IIIError::Handler(format!("{field}: {e}")))
}

/// A response writer for the request, with the status and headers already sent.
async fn response_writer(ws_url: &str, request: &Value, headers: Value) -> Result<ChannelWriter, IIIError> {
    let writer = ChannelWriter::new(ws_url, &channel_ref(request, "response")?);
    writer.send_message(&json!({"type": "set_status", "status_code": 200}).to_string()).await?;
    writer.send_message(&json!({"type": "set_headers", "headers": headers}).to_string()).await?;
    Ok(writer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sent_events_reach_the_client_frame_by_frame() {
    let engine = http_engine().await;
    let w = worker(&engine.ws_url, "sse");
    let ws_url = engine.ws_url.clone();
    let writing_last = Arc::new(AtomicBool::new(false));
    let flag = writing_last.clone();
    register(&w, "sse::events", move |request: Value| {
        let (ws_url, flag) = (ws_url.clone(), flag.clone());
        async move {
            let headers = json!({"content-type": "text/event-stream", "cache-control": "no-cache"});
            let writer = response_writer(&ws_url, &request, headers).await?;
            for i in 0..4 {
                if i == 3 {
                    flag.store(true, Ordering::SeqCst);
                }
                writer.write(format!("data: event {i}\n\n").as_bytes()).await?;
                if i < 3 {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
            writer.close().await?;
            Ok(Value::Null)
        }
    });
    route(&engine, &w, "sse::events", "events", "GET").await;

    let response = reqwest::get(format!("{}/events", engine.http_url)).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let mut body = response.bytes_stream();
    let first = body.next().await.expect("a first chunk").unwrap();
    // Nothing waited for the end: the first event is here before the last one is even written.
    assert!(!writing_last.load(Ordering::SeqCst), "the first event arrived only after the last was written");
    let mut text = String::from_utf8(first.to_vec()).unwrap();
    assert!(text.starts_with("data: event 0\n\n"), "{text:?}");
    while let Some(chunk) = body.next().await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    assert_eq!(text, "data: event 0\n\ndata: event 1\n\ndata: event 2\n\ndata: event 3\n\n");
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_response_may_outlast_the_default_timeout() {
    let engine = http_engine().await;
    let w = worker(&engine.ws_url, "slow-stream");
    let ws_url = engine.ws_url.clone();
    register(&w, "slow::stream", move |request: Value| {
        let ws_url = ws_url.clone();
        async move {
            let writer = ChannelWriter::new(&ws_url, &channel_ref(&request, "response")?);
            for i in 0..5 {
                writer.write(format!("part {i};").as_bytes()).await?;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            writer.close().await?;
            Ok(Value::Null)
        }
    });
    route(&engine, &w, "slow::stream", "slow", "GET").await;

    let started = Instant::now();
    let response = reqwest::get(format!("{}/slow", engine.http_url)).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // No set_headers: a streamed body is bytes.
    assert_eq!(response.headers()["content-type"], "application/octet-stream");
    let body = response.text().await.unwrap();
    assert_eq!(body, "part 0;part 1;part 2;part 3;part 4;");
    assert!(started.elapsed() > Duration::from_millis(DEFAULT_TIMEOUT_MS), "the stream should outlast the timeout");
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_returning_json_still_answers_and_gets_both_channel_refs() {
    let engine = http_engine().await;
    let w = worker(&engine.ws_url, "json");
    let ws_url = engine.ws_url.clone();
    register(&w, "json::echo", move |request: Value| {
        let ws_url = ws_url.clone();
        async move {
            // For a JSON request the body is parsed and the request_body channel is empty.
            let raw = ChannelReader::new(&ws_url, &channel_ref(&request, "request_body")?).read_all().await?;
            Ok(json!({
                "status_code": 201,
                "body": {
                    "body": request["body"],
                    "raw_len": raw.len(),
                    "request_body_direction": request["request_body"]["direction"],
                    "response_direction": request["response"]["direction"],
                    "same_channel": request["request_body"]["channel_id"] == request["response"]["channel_id"],
                }
            }))
        }
    });
    route(&engine, &w, "json::echo", "echo", "POST").await;

    let response =
        reqwest::Client::new().post(format!("{}/echo", engine.http_url)).json(&json!({"a": 1})).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({
            "body": {"a": 1}, "raw_len": 0, "request_body_direction": "read",
            "response_direction": "write", "same_channel": false,
        })
    );
    // The request is over: its channels are gone.
    let table = engine.engine.clone();
    wait_until("request channels removed", move || {
        let empty = table.channels().is_empty();
        async move { empty }
    })
    .await;
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_json_body_arrives_through_the_request_body_channel() {
    let engine = http_engine().await;
    let w = worker(&engine.ws_url, "upload");
    let ws_url = engine.ws_url.clone();
    register(&w, "upload::take", move |request: Value| {
        let ws_url = ws_url.clone();
        async move {
            let raw = ChannelReader::new(&ws_url, &channel_ref(&request, "request_body")?).read_all().await?;
            let expected: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            Ok(json!({"body": {"body": request["body"], "len": raw.len(), "intact": raw == expected}}))
        }
    });
    route(&engine, &w, "upload::take", "upload", "POST").await;

    // 200 000 bytes: more than three of the 64 KiB frames the body is cut into.
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let response = reqwest::Client::new()
        .post(format!("{}/upload", engine.http_url))
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"body": null, "len": 200_000, "intact": true}));
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_null_result_without_touching_the_response_channel_still_times_out() {
    let engine = http_engine().await;
    let w = worker(&engine.ws_url, "silent");
    register(&w, "silent::nothing", |_: Value| async move { Ok(Value::Null) });
    route(&engine, &w, "silent::nothing", "nothing", "GET").await;

    let started = Instant::now();
    let response = reqwest::get(format!("{}/nothing", engine.http_url)).await.unwrap();
    assert_eq!(response.status().as_u16(), 504);
    assert!(started.elapsed() >= Duration::from_millis(DEFAULT_TIMEOUT_MS));
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "timeout");
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_client_goes_away_the_stream_ends_and_the_writer_is_cut_off() {
    let engine = http_engine().await;
    let w = worker(&engine.ws_url, "endless");
    let ws_url = engine.ws_url.clone();
    let writer_failed = Arc::new(AtomicBool::new(false));
    let failed = writer_failed.clone();
    register(&w, "endless::feed", move |request: Value| {
        let (ws_url, failed) = (ws_url.clone(), failed.clone());
        async move {
            let writer = response_writer(&ws_url, &request, json!({"content-type": "text/plain"})).await?;
            // At most 20 s of ticks; the client leaves long before.
            for i in 0..400 {
                if writer.write(format!("tick {i}\n").as_bytes()).await.is_err() {
                    failed.store(true, Ordering::SeqCst);
                    return Ok(Value::Null);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(Value::Null)
        }
    });
    route(&engine, &w, "endless::feed", "feed", "GET").await;

    let response = reqwest::get(format!("{}/feed", engine.http_url)).await.unwrap();
    let mut body = response.bytes_stream();
    let first = body.next().await.expect("a first chunk").unwrap();
    assert!(first.starts_with(b"tick 0"));
    drop(body);

    wait_until("the writer is cut off", || {
        let failed = writer_failed.load(Ordering::SeqCst);
        async move { failed }
    })
    .await;
    let table = engine.engine.clone();
    wait_until("request channels removed", move || {
        let empty = table.channels().is_empty();
        async move { empty }
    })
    .await;
    w.shutdown_async().await;
    engine.stop().await;
}
