//! Channels: `engine::channels::create` through the SDK's `create_channel`, and the
//! `/ws/channels/{id}` sockets driven by the SDK's `ChannelWriter`/`ChannelReader` and by raw
//! WebSocket clients.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use iii_sdk::{ChannelReader, StreamChannelRef};
use pretty_assertions::assert_eq;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::harness::{TestEngine, wait_until, worker};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What a reader saw, in order.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Data(Vec<u8>),
    Message(String),
}

/// Reads a channel to its end with the SDK's reader, keeping data and messages in order.
async fn read_everything(reader: &ChannelReader) -> Vec<Seen> {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let s = seen.clone();
    reader.on_message(move |m| s.lock().unwrap().push(Seen::Message(m))).await;
    let read = async {
        while let Some(chunk) = reader.next_binary().await.unwrap() {
            seen.lock().unwrap().push(Seen::Data(chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("the reader got its Close");
    seen.lock().unwrap().clone()
}

fn url(engine: &TestEngine, r: &StreamChannelRef, key: &str, dir: &str) -> String {
    format!("{}/ws/channels/{}?key={key}&dir={dir}", engine.ws_url, r.channel_id)
}

async fn connect(url: &str) -> Socket {
    tokio_tungstenite::connect_async(url).await.expect("upgrade accepted").0
}

/// The next data or close frame (control frames skipped), within 10 s.
async fn next_frame(socket: &mut Socket) -> Option<WsMessage> {
    let next = async {
        loop {
            match socket.next().await {
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
                Some(Ok(frame)) => return Some(frame),
                Some(Err(_)) | None => return None,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), next).await.expect("a frame within 10 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_carries_data_and_messages_in_order_through_a_small_buffer() {
    let engine = TestEngine::start().await;
    let w = worker(&engine.ws_url, "pipe");
    // Two frames of buffer for 40 frames: the writer is held back until the reader catches up.
    let channel = w.create_channel(Some(2)).await.unwrap();
    assert_eq!(channel.writer_ref.channel_id, channel.reader_ref.channel_id);
    assert_eq!(channel.writer_ref.access_key, channel.reader_ref.access_key);

    let mut expected = Vec::new();
    for i in 0..30u8 {
        expected.push(Seen::Data(vec![i; 1000]));
        if i % 3 == 0 {
            expected.push(Seen::Message(format!("after {i}")));
        }
    }
    let writer = channel.writer;
    let script = expected.clone();
    let writing = tokio::spawn(async move {
        for item in script {
            match item {
                Seen::Data(bytes) => writer.write(&bytes).await.unwrap(),
                Seen::Message(text) => writer.send_message(&text).await.unwrap(),
            }
        }
        writer.close().await.unwrap();
    });
    let seen = read_everything(&channel.reader).await;
    writing.await.unwrap();
    assert_eq!(seen, expected);
    // Both ends are done: the channel is gone.
    let table = engine.engine.clone();
    wait_until("channel removed", move || {
        let empty = table.channels().is_empty();
        async move { empty }
    })
    .await;
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_written_before_the_reader_connects_wait_for_it() {
    let engine = TestEngine::start().await;
    let w = worker(&engine.ws_url, "pipe");
    let channel = w.create_channel(None).await.unwrap();
    channel.writer.send_message("hello").await.unwrap();
    channel.writer.write(b"early bytes").await.unwrap();
    channel.writer.close().await.unwrap();

    let seen = read_everything(&channel.reader).await;
    assert_eq!(seen, vec![Seen::Message("hello".into()), Seen::Data(b"early bytes".to_vec())]);
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_or_an_unknown_id_is_refused_at_the_upgrade_with_404() {
    let engine = TestEngine::start().await;
    let w = worker(&engine.ws_url, "pipe");
    let channel = w.create_channel(None).await.unwrap();
    let r = &channel.reader_ref;
    let status = |url: String| async move {
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
            Err(e) => panic!("expected an HTTP refusal, got {e}"),
            Ok(_) => panic!("the upgrade was accepted"),
        }
    };
    let wrong_key = uuid::Uuid::new_v4().to_string();
    assert_eq!(status(url(&engine, r, &wrong_key, "read")).await, 404);
    assert_eq!(status(url(&engine, r, "not-a-uuid", "write")).await, 404);
    let unknown = StreamChannelRef { channel_id: uuid::Uuid::new_v4().to_string(), ..r.clone() };
    assert_eq!(status(url(&engine, &unknown, &r.access_key, "read")).await, 404);

    // The SDK's reader sees the refusal as an error, not as an empty stream.
    let forged = StreamChannelRef { access_key: wrong_key, ..r.clone() };
    assert!(ChannelReader::new(&engine.ws_url, &forged).next_binary().await.is_err());
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_reader_gets_a_close_and_the_first_keeps_reading() {
    let engine = TestEngine::start().await;
    let w = worker(&engine.ws_url, "pipe");
    let channel = w.create_channel(None).await.unwrap();
    let r = &channel.reader_ref;
    let mut first = connect(&url(&engine, r, &r.access_key, "read")).await;
    // Once the first reader has a frame, it surely holds the read end.
    channel.writer.send_message("one").await.unwrap();
    assert_eq!(next_frame(&mut first).await, Some(WsMessage::Text("one".into())));

    let mut second = connect(&url(&engine, r, &r.access_key, "read")).await;
    assert!(matches!(next_frame(&mut second).await, Some(WsMessage::Close(_))));

    channel.writer.write(b"two").await.unwrap();
    channel.writer.close().await.unwrap();
    assert_eq!(next_frame(&mut first).await, Some(WsMessage::Binary(b"two".to_vec().into())));
    assert!(matches!(next_frame(&mut first).await, Some(WsMessage::Close(_))));
    w.shutdown_async().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_departing_worker_takes_its_unused_channels_and_leaves_those_in_use() {
    let engine = TestEngine::start().await;
    let w = worker(&engine.ws_url, "pipe");
    let unused = w.create_channel(None).await.unwrap();
    let in_use = w.create_channel(None).await.unwrap();
    assert_eq!(engine.engine.channels().len(), 2);
    let r = &in_use.reader_ref;
    let mut reader = connect(&url(&engine, r, &r.access_key, "read")).await;
    in_use.writer.send_message("hi").await.unwrap();
    assert_eq!(next_frame(&mut reader).await, Some(WsMessage::Text("hi".into())));

    w.shutdown_async().await;
    let table = engine.engine.clone();
    wait_until("the unused channel removed", move || {
        let one = table.channels().len() == 1;
        async move { one }
    })
    .await;
    let refused =
        tokio_tungstenite::connect_async(url(&engine, &unused.reader_ref, &unused.reader_ref.access_key, "read"));
    assert!(refused.await.is_err(), "the unused channel is gone");

    // The channel in use still works, and goes once both ends are done.
    in_use.writer.write(b"still here").await.unwrap();
    in_use.writer.close().await.unwrap();
    assert_eq!(next_frame(&mut reader).await, Some(WsMessage::Binary(b"still here".to_vec().into())));
    assert!(matches!(next_frame(&mut reader).await, Some(WsMessage::Close(_))));
    let table = engine.engine.clone();
    wait_until("the used channel removed", move || {
        let empty = table.channels().is_empty();
        async move { empty }
    })
    .await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_reader_goes_away_the_writer_gets_a_close() {
    let engine = TestEngine::start().await;
    let w = worker(&engine.ws_url, "pipe");
    let channel = w.create_channel(None).await.unwrap();
    let (wr, rr) = (&channel.writer_ref, &channel.reader_ref);
    let mut writer = connect(&url(&engine, wr, &wr.access_key, "write")).await;
    let mut reader = connect(&url(&engine, rr, &rr.access_key, "read")).await;
    futures_util::SinkExt::send(&mut writer, WsMessage::Text("ping".into())).await.unwrap();
    assert_eq!(next_frame(&mut reader).await, Some(WsMessage::Text("ping".into())));
    drop(reader);
    assert!(matches!(next_frame(&mut writer).await, Some(WsMessage::Close(_))));
    w.shutdown_async().await;
    engine.stop().await;
}
