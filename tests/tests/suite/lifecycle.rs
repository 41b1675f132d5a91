//! Connections coming and going: the opening frame, keep-alive, bad frames, ownership races on
//! reconnect, an engine restart, and durability across `kill -9` of an engine process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iii_sdk::RegisterTriggerInput;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::harness::{TestEngine, call_when_ready, engine_call, register, wait_until, worker};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A hand-driven protocol client, for frames no SDK would send.
struct Raw {
    ws: Socket,
    worker_id: String,
}

impl Raw {
    async fn connect(url: &str) -> Self {
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
        let hello = next_json(&mut ws).await;
        assert_eq!(hello["type"], "workerregistered", "the first frame is workerregistered");
        let worker_id = hello["worker_id"].as_str().expect("worker_id").to_string();
        Self { ws, worker_id }
    }

    async fn send(&mut self, frame: Value) {
        self.ws.send(WsMessage::Text(frame.to_string().into())).await.expect("send");
    }

    async fn send_text(&mut self, text: &str) {
        self.ws.send(WsMessage::Text(text.to_string().into())).await.expect("send");
    }

    async fn recv(&mut self) -> Value {
        next_json(&mut self.ws).await
    }

    async fn invoke(&mut self, function_id: &str, data: Value) -> Value {
        let id = uuid::Uuid::new_v4().to_string();
        self.send(json!({"type": "invokefunction", "invocation_id": id, "function_id": function_id, "data": data}))
            .await;
        loop {
            let frame = self.recv().await;
            if frame["type"] == "invocationresult" && frame["invocation_id"] == id {
                return frame;
            }
        }
    }
}

async fn next_json(ws: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame within 10 s");
        match frame.expect("socket open").expect("frame") {
            WsMessage::Text(t) => return serde_json::from_str(&t).expect("json"),
            WsMessage::Binary(b) => return serde_json::from_slice(&b).expect("json"),
            _ => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connection_gets_a_fresh_worker_id_and_pings_are_answered() {
    let engine = TestEngine::start().await;
    let mut a = Raw::connect(&engine.ws_url).await;
    let b = Raw::connect(&engine.ws_url).await;
    assert_ne!(a.worker_id, b.worker_id);
    a.send(json!({"type": "ping"})).await;
    assert_eq!(a.recv().await, json!({"type": "pong"}));
    a.ws.send(WsMessage::Ping(b"hi".to_vec().into())).await.unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(Ok(WsMessage::Pong(p))) = a.ws.next().await {
                return p;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(pong.as_ref(), b"hi");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_are_dropped_and_the_connection_stays_up() {
    let engine = TestEngine::start().await;
    let mut raw = Raw::connect(&engine.ws_url).await;
    let other = worker(&engine.ws_url, "bystander");
    register(&other, "calm::ok", |_: Value| async move { Ok(json!("fine")) });
    engine.wait_function("calm::ok").await;

    raw.send_text("{not json").await;
    raw.send_text("   ").await;
    raw.send(json!({"type": "nosuchframe", "x": 1})).await;
    raw.send(json!({"type": "unregistertriggertype", "id": "nothing"})).await;
    raw.send(json!({"type": "invocationresult", "invocation_id": "not-a-uuid", "function_id": "x"})).await;
    // An invoke whose id can be read but whose body is wrong is answered, not left hanging.
    let id = uuid::Uuid::new_v4().to_string();
    raw.send(json!({"type": "invokefunction", "invocation_id": id, "data": {}})).await;
    let answer = raw.recv().await;
    assert_eq!(answer["invocation_id"], id);
    assert_eq!(answer["error"]["code"], "invalid_frame");

    let ok = raw.invoke("calm::ok", json!({})).await;
    assert_eq!(ok["result"], "fine");
    assert_eq!(call_when_ready(&other, "calm::ok", json!({})).await, json!("fine"));
    other.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_gets_a_clear_error_and_the_connection_stays_up() {
    let engine = TestEngine::start_with(|c| c.max_frame_bytes = 64 * 1024).await;
    let mut raw = Raw::connect(&engine.ws_url).await;
    let id = uuid::Uuid::new_v4().to_string();
    let big = "x".repeat(100 * 1024);
    raw.send(json!({"type": "invokefunction", "invocation_id": id, "function_id": "state::set", "data": {"scope": "s", "key": "k", "value": big}})).await;
    let answer = raw.recv().await;
    assert_eq!(answer["error"]["code"], "frame_too_large");
    assert!(answer["error"]["message"].as_str().unwrap().contains("65536"), "{answer}");
    raw.send(json!({"type": "ping"})).await;
    assert_eq!(raw.recv().await, json!({"type": "pong"}));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_owner_wins_whatever_order_the_old_cleanup_runs_in() {
    let engine = TestEngine::start().await;
    let register_frames = |who: &str| {
        vec![
            json!({"type": "registerfunction", "id": "own::f", "description": who}),
            json!({"type": "registertrigger", "id": "trig-1", "trigger_type": "http", "function_id": "own::f",
                   "config": {"api_path": "owned", "http_method": "GET"}}),
        ]
    };
    let mut old = Raw::connect(&engine.ws_url).await;
    for f in register_frames("old") {
        old.send(f).await;
    }
    engine.wait_triggers(1).await;
    // The reconnecting worker registers the same ids before the old connection is gone.
    let mut new = Raw::connect(&engine.ws_url).await;
    for f in register_frames("new") {
        new.send(f).await;
    }
    let e = engine.engine.clone();
    wait_until("new connection owns the function", move || {
        let owner = e.functions().into_iter().find(|(id, _)| id == "own::f").and_then(|(_, f)| f.description);
        async move { owner.as_deref() == Some("new") }
    })
    .await;
    let (e, new_id) = (engine.engine.clone(), new.worker_id.clone());
    wait_until("new connection owns the trigger", move || {
        let owner = agentos_engine::triggers::get(&e, "trig-1").and_then(|t| t.owner).map(|o| o.to_string());
        let owned = owner.as_deref() == Some(new_id.as_str());
        async move { owned }
    })
    .await;
    old.ws.close(None).await.unwrap();
    let e = engine.engine.clone();
    let old_id = old.worker_id.clone();
    wait_until("old connection cleaned up", move || {
        let gone = e.workers().iter().all(|w| w.id.to_string() != old_id);
        async move { gone }
    })
    .await;

    assert!(engine.engine.has_function("own::f"));
    let trigger = agentos_engine::triggers::get(&engine.engine, "trig-1").expect("trigger survives");
    assert_eq!(trigger.owner.map(|o| o.to_string()), Some(new.worker_id.clone()));
    // An HTTP request reaches the new connection.
    let url = format!("{}/owned", engine.http_url);
    let request = tokio::spawn(async move { reqwest::get(url).await.unwrap().json::<Value>().await.unwrap() });
    let invoke = new.recv().await;
    assert_eq!(invoke["type"], "invokefunction");
    assert_eq!(invoke["function_id"], "own::f");
    new.send(json!({"type": "invocationresult", "invocation_id": invoke["invocation_id"], "function_id": "own::f",
                    "result": {"body": {"served_by": "new"}}}))
        .await;
    assert_eq!(request.await.unwrap(), json!({"served_by": "new"}));
    engine.stop().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_reconnect_and_re_register_after_the_engine_restarts() {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let config =
        || agentos_engine::EngineConfig { engine_port: port, http_port: 0, stream_port: 0, ..Default::default() };
    let first = agentos_engine::start(config(), data.path().to_path_buf()).await.unwrap();
    let url = first.ws_url();
    let w = worker(&url, "survivor");
    register(&w, "keep::alive", |_: Value| async move { Ok(json!("still here")) });
    w.register_trigger(RegisterTriggerInput {
        trigger_type: "subscribe".into(),
        function_id: "keep::alive".into(),
        config: json!({"topic": "t"}),
        metadata: None,
    })
    .unwrap();
    let e = first.engine.clone();
    wait_until("registered on the first engine", move || {
        let ok = e.has_function("keep::alive");
        async move { ok }
    })
    .await;
    first.shutdown().await;

    let second = agentos_engine::start(config(), data.path().to_path_buf()).await.unwrap();
    let e = second.engine.clone();
    wait_until("re-registered on the second engine", move || {
        let ok = e.has_function("keep::alive") && agentos_engine::triggers::all(&e).len() == 1;
        async move { ok }
    })
    .await;
    let out = engine_call(&second.engine, "keep::alive", json!({})).await.unwrap();
    assert_eq!(out, Some(json!("still here")));
    w.shutdown_async().await;
    second.shutdown().await;
}

/// Not a test on its own: when `AGENTOS_TEST_ENGINE_CHILD` names a data dir, this runs an engine
/// in this process until it is killed, so the durability test can `kill -9` a real process.
#[test]
fn engine_child_process() {
    let Ok(data_dir) = std::env::var("AGENTOS_TEST_ENGINE_CHILD") else { return };
    let port: u16 = std::env::var("AGENTOS_TEST_ENGINE_PORT").unwrap().parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let config =
            agentos_engine::EngineConfig { engine_port: port, http_port: 0, stream_port: 0, ..Default::default() };
        let _running = agentos_engine::start(config, data_dir.into()).await.unwrap();
        println!("ENGINE READY");
        std::future::pending::<()>().await;
    });
}

struct ChildEngine(Child);

impl ChildEngine {
    fn spawn(data_dir: &std::path::Path, port: u16) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "suite::lifecycle::engine_child_process", "--nocapture", "--test-threads=1"])
            .env("AGENTOS_TEST_ENGINE_CHILD", data_dir)
            .env("AGENTOS_TEST_ENGINE_PORT", port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines.next().expect("engine child printed READY").unwrap();
            if line.contains("ENGINE READY") {
                break;
            }
        }
        Self(child)
    }

    fn kill_9(&mut self) {
        // Child::kill sends SIGKILL on Unix: no shutdown code runs.
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for ChildEngine {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_write_survives_kill_9_of_the_engine_process() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}");
    let mut child = ChildEngine::spawn(data.path(), port);
    let mut raw = Raw::connect(&url).await;
    for i in 0..20 {
        let ack =
            raw.invoke("state::set", json!({"scope": "durable", "key": format!("k{i}"), "value": {"i": i}})).await;
        assert_eq!(ack["result"]["new_value"], json!({"i": i}), "{ack}");
    }
    let ack = raw
        .invoke(
            "state::update",
            json!({"scope": "durable", "key": "counter", "ops": [{"type": "increment", "path": "", "by": 7}]}),
        )
        .await;
    assert_eq!(ack["result"]["new_value"], 7);
    // Acknowledged, then the engine dies without any chance to flush.
    child.kill_9();
    drop(raw);

    let _child = ChildEngine::spawn(data.path(), port);
    let mut raw = Raw::connect(&url).await;
    let all = raw.invoke("state::list", json!({"scope": "durable"})).await;
    let values = all["result"].as_array().unwrap();
    assert_eq!(values.len(), 21, "{all}");
    assert_eq!(values[19], json!({"i": 19}));
    let counter = raw.invoke("state::get", json!({"scope": "durable", "key": "counter"})).await;
    assert_eq!(counter["result"], 7);
}
