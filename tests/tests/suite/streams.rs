//! Streams: `stream::*` shapes, `stream` triggers, and the browser stream socket; logs with
//! `log` triggers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use iii_sdk::RegisterTriggerInput;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::harness::{TestEngine, engine_call, register, wait_until, worker};

async fn ok(engine: &TestEngine, f: &str, input: Value) -> Value {
    engine_call(&engine.engine, f, input).await.unwrap().unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_functions_answer_with_the_iii_shapes() {
    let engine = TestEngine::start().await;
    let item = |id: &str, data: Value| json!({"stream_name": "chat", "group_id": "room1", "item_id": id, "data": data});
    assert_eq!(
        ok(&engine, "stream::set", item("m1", json!({"t": "hi"}))).await,
        json!({"old_value": null, "new_value": {"t": "hi"}})
    );
    assert_eq!(
        ok(&engine, "stream::set", item("m2", json!({"t": "yo"}))).await,
        json!({"old_value": null, "new_value": {"t": "yo"}})
    );
    assert_eq!(ok(&engine, "stream::get", item("m1", Value::Null)).await, json!({"t": "hi"}));
    assert_eq!(
        ok(&engine, "stream::list", json!({"stream_name": "chat", "group_id": "room1"})).await,
        json!([{"t": "hi"}, {"t": "yo"}])
    );
    assert_eq!(ok(&engine, "stream::list_groups", json!({"stream_name": "chat"})).await, json!(["room1"]));
    assert_eq!(
        ok(&engine, "stream::list_all", json!({})).await,
        json!({"stream": [{"id": "chat", "groups": ["room1"]}], "count": 1})
    );
    assert_eq!(ok(&engine, "stream::delete", item("m2", Value::Null)).await, json!({"old_value": {"t": "yo"}}));
    assert_eq!(ok(&engine, "stream::delete", item("m2", Value::Null)).await, json!({"old_value": null}));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_changes_reach_triggers_and_joined_browser_clients() {
    let engine = TestEngine::start().await;
    let w = worker(&engine.ws_url, "watcher");
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s = seen.clone();
    register(&w, "chat::on_change", move |v: Value| {
        s.lock().unwrap().push(v);
        std::future::ready(Ok(Value::Null))
    });
    w.register_trigger(RegisterTriggerInput {
        trigger_type: "stream".into(),
        function_id: "chat::on_change".into(),
        config: json!({"stream_name": "chat", "group_id": "room1"}),
        metadata: None,
    })
    .unwrap();
    engine.wait_triggers(1).await;
    engine.wait_function("chat::on_change").await;

    let stream_url = format!("ws://{}", engine.stream_addr);
    let (mut browser, _) = tokio_tungstenite::connect_async(stream_url).await.unwrap();
    let join = json!({"type": "join", "data": {"subscriptionId": "s1", "streamName": "chat", "groupId": "room1"}});
    browser.send(WsMessage::Text(join.to_string().into())).await.unwrap();
    type Browser = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
    async fn next_event(browser: &mut Browser) -> Value {
        match tokio::time::timeout(Duration::from_secs(5), browser.next()).await.unwrap().unwrap().unwrap() {
            WsMessage::Text(t) => serde_json::from_str::<Value>(&t).unwrap(),
            other => panic!("unexpected frame {other:?}"),
        }
    }
    let sync = next_event(&mut browser).await;
    assert_eq!(sync["event"], json!({"type": "sync", "data": []}));

    ok(
        &engine,
        "stream::set",
        json!({"stream_name": "chat", "group_id": "room1", "item_id": "m1", "data": {"t": "hi"}}),
    )
    .await;
    ok(
        &engine,
        "stream::set",
        json!({"stream_name": "chat", "group_id": "room1", "item_id": "m1", "data": {"t": "hey"}}),
    )
    .await;
    ok(&engine, "stream::set", json!({"stream_name": "chat", "group_id": "other", "item_id": "x", "data": 1})).await;
    let created = next_event(&mut browser).await;
    assert_eq!(
        (created["streamName"].clone(), created["id"].clone(), created["event"].clone()),
        (json!("chat"), json!("m1"), json!({"type": "create", "data": {"t": "hi"}}))
    );
    assert_eq!(next_event(&mut browser).await["event"], json!({"type": "update", "data": {"t": "hey"}}));

    let s = seen.clone();
    wait_until("two stream trigger deliveries", move || {
        let n = s.lock().unwrap().len();
        async move { n >= 2 }
    })
    .await;
    let events: Vec<Value> = seen.lock().unwrap().iter().map(|v| v["event"]["type"].clone()).collect();
    assert_eq!(events, vec![json!("create"), json!("update")]);
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_stored_listed_and_fire_log_triggers_of_their_level() {
    let engine = TestEngine::start().await;
    let w = worker(&engine.ws_url, "logwatch");
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let s = seen.clone();
    register(&w, "logs::on_warn", move |v: Value| {
        s.lock().unwrap().push(v);
        std::future::ready(Ok(Value::Null))
    });
    w.register_trigger(RegisterTriggerInput {
        trigger_type: "log".into(),
        function_id: "logs::on_warn".into(),
        config: json!({"level": "warn"}),
        metadata: None,
    })
    .unwrap();
    engine.wait_triggers(1).await;
    engine.wait_function("logs::on_warn").await;
    ok(&engine, "engine::log::info", json!({"message": "all good"})).await;
    ok(&engine, "engine::log::warn", json!({"message": "careful", "data": {"k": 1}})).await;
    let s = seen.clone();
    wait_until("warn log delivered", move || {
        let n = s.lock().unwrap().len();
        async move { n >= 1 }
    })
    .await;
    let got = seen.lock().unwrap()[0].clone();
    assert_eq!(
        (got["severity_text"].clone(), got["severity_number"].clone(), got["body"].clone(), got["attributes"].clone()),
        (json!("WARN"), json!(13), json!("careful"), json!({"k": 1}))
    );
    let listed = ok(&engine, "engine::logs::list", json!({"severity_min": 13})).await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["logs"][0]["body"], "careful");
    w.shutdown_async().await;
    engine.stop().await;
}
