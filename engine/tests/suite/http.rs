//! The REST port over raw sockets: what reqwest would not send.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::harness::TestEngine;

/// Sends `request` as written and reads the whole answer (the request says `Connection: close`).
async fn raw(addr: std::net::SocketAddr, request: &str) -> (u16, Value) {
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), socket.read_to_end(&mut answer)).await.unwrap().unwrap();
    let text = String::from_utf8(answer).unwrap();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_authorization_header_is_refused_before_any_function_runs() {
    let engine = TestEngine::start_with(|_| {}).await;
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    engine.engine.register_builtin("test::hit", "Counts calls", move |_, _, _| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(Some(json!({"status_code": 200, "body": {"ok": true}})))
        }
    });
    agentos_engine::triggers::register(
        &engine.engine,
        None,
        "t-hit".into(),
        "http".into(),
        "test::hit".into(),
        json!({"api_path": "/hit", "http_method": "GET"}),
        None,
    )
    .await;
    let request = |headers: &str| format!("GET /hit HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n");

    let (status, body) = raw(engine.http_addr, &request("Authorization: Bearer good\r\n")).await;
    assert_eq!((status, body), (200, json!({"ok": true})));
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    for headers in [
        "Authorization: Bearer good\r\nAuthorization: Bearer evil\r\n",
        "Authorization: Bearer good\r\nauthorization: Bearer evil\r\n",
        "AUTHORIZATION: Bearer good\r\nX-Other: 1\r\nAuthorization: Bearer good\r\n",
        "Proxy-Authorization: a\r\nproxy-authorization: b\r\n",
    ] {
        let (status, body) = raw(engine.http_addr, &request(headers)).await;
        assert_eq!(status, 400, "{headers}");
        assert_eq!(body["error"]["code"], "duplicate_header", "{headers}");
        assert!(body["error"]["message"].as_str().unwrap().contains("authorization"), "{body}");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1, "no refused request reached the function");
    engine.stop().await;
}
