//! iii channels from a worker: byte and event streams between functions, and streamed HTTP
//! responses.
//!
//! A channel is created with `engine::channels::create`; its two ends travel as
//! [`ChannelRef`]s inside ordinary function inputs (`{channel_id, access_key, direction}`), and
//! each end is claimed once over `ws://<engine>/ws/channels/<id>?key=<key>&dir=read|write`.
//!
//! Rules it keeps:
//! - Events are newline-delimited JSON objects `{"event": name, "data": value}` carried in binary
//!   frames, so a reader reassembles lines whatever the frame boundaries.
//! - Closing a writer completes the WebSocket close handshake: when [`ChannelWriter::close`]
//!   returns, the engine has every frame written before it (no sleeping and hoping).
//! - [`EventSink`] never fails its caller: a listener that went away must not break the turn it
//!   was watching; the first failure is logged and later events are dropped.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::WorkerError;
use crate::error::codes;

/// The largest binary frame a writer sends; longer writes are split.
const MAX_FRAME: usize = 64 * 1024;

/// How long closing waits for the engine to acknowledge the close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Which end of a channel a reference opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The reading end.
    Read,
    /// The writing end.
    Write,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

/// One end of a channel, as it travels inside function inputs and outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRef {
    /// The channel's id.
    pub channel_id: String,
    /// The secret that lets the holder claim this end.
    pub access_key: String,
    /// Which end this is.
    pub direction: Direction,
}

impl ChannelRef {
    /// The socket URL of this end on the engine at `engine_url` (`ws://host:port`).
    pub fn url(&self, engine_url: &str) -> String {
        format!(
            "{}/ws/channels/{}?key={}&dir={}",
            engine_url.trim_end_matches('/'),
            self.channel_id,
            agentos_protocol::url::encode_segment(&self.access_key),
            self.direction.as_str()
        )
    }

    fn expect(&self, direction: Direction) -> Result<(), WorkerError> {
        if self.direction == direction {
            Ok(())
        } else {
            Err(WorkerError::invalid_input(format!(
                "channel {} was given as its {} end where the {} end is needed",
                self.channel_id,
                self.direction.as_str(),
                direction.as_str()
            )))
        }
    }
}

/// Both ends of a new channel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChannelPair {
    /// The end to write.
    pub writer: ChannelRef,
    /// The end to read.
    pub reader: ChannelRef,
}

/// Creates a channel on the engine (`engine::channels::create`) buffering up to `buffer` frames.
pub async fn create(iii: &crate::III, buffer: usize) -> Result<ChannelPair, WorkerError> {
    crate::call(iii, "engine::channels::create", &json!({ "buffer_size": buffer }), Duration::from_secs(10)).await
}

/// One event of an event channel: `{"event": name, "data": value}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened: `token`, `tool_call`, `done`, …
    pub event: String,
    /// Its payload.
    #[serde(default)]
    pub data: Value,
}

impl Event {
    /// An event named `event` carrying `data`.
    pub fn new(event: impl Into<String>, data: Value) -> Self {
        Self { event: event.into(), data }
    }
}

/// The writing end of a channel, connected.
pub struct ChannelWriter {
    socket: Socket,
}

impl ChannelWriter {
    /// Claims the writing end `channel` on the engine at `engine_url`.
    pub async fn open(engine_url: &str, channel: &ChannelRef) -> Result<Self, WorkerError> {
        channel.expect(Direction::Write)?;
        Ok(Self { socket: connect(engine_url, channel).await? })
    }

    /// Writes `bytes` as one or more binary frames.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), WorkerError> {
        for chunk in bytes.chunks(MAX_FRAME) {
            self.socket.send(Message::Binary(chunk.to_vec().into())).await.map_err(send_failed)?;
        }
        Ok(())
    }

    /// Sends `text` as one text frame (a message beside the byte stream).
    pub async fn message(&mut self, text: &str) -> Result<(), WorkerError> {
        self.socket.send(Message::Text(text.into())).await.map_err(send_failed)
    }

    /// Writes `event` as one JSON line.
    pub async fn send_event(&mut self, event: &Event) -> Result<(), WorkerError> {
        let mut line = serde_json::to_vec(event).map_err(|e| WorkerError::internal(e.to_string()))?;
        line.push(b'\n');
        self.write(&line).await
    }

    /// Starts a streamed HTTP response on an HTTP trigger's `response` channel: the status and
    /// headers go first, the body follows with [`ChannelWriter::write`].
    pub async fn start_http_response(
        &mut self,
        status: u16,
        headers: &BTreeMap<String, String>,
    ) -> Result<(), WorkerError> {
        self.message(&json!({ "type": "set_status", "status_code": status }).to_string()).await?;
        self.message(&json!({ "type": "set_headers", "headers": headers }).to_string()).await
    }

    /// Ends the stream and waits until the engine has acknowledged the close.
    pub async fn close(mut self) -> Result<(), WorkerError> {
        self.socket.close(None).await.map_err(send_failed)?;
        let drain = async { while let Some(Ok(_)) = self.socket.next().await {} };
        // A peer that never answers the close still has every frame: TCP is ordered.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, drain).await;
        Ok(())
    }
}

/// One frame read from a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Data.
    Binary(Vec<u8>),
    /// A message.
    Text(String),
}

/// The reading end of a channel, connected.
pub struct ChannelReader {
    socket: Socket,
    pending: Vec<u8>,
}

impl ChannelReader {
    /// Claims the reading end `channel` on the engine at `engine_url`.
    pub async fn open(engine_url: &str, channel: &ChannelRef) -> Result<Self, WorkerError> {
        channel.expect(Direction::Read)?;
        Ok(Self { socket: connect(engine_url, channel).await?, pending: Vec::new() })
    }

    /// The next frame, or `None` once the writer has closed.
    pub async fn next_frame(&mut self) -> Result<Option<Frame>, WorkerError> {
        loop {
            match self.socket.next().await {
                Some(Ok(Message::Binary(bytes))) => return Ok(Some(Frame::Binary(bytes.to_vec()))),
                Some(Ok(Message::Text(text))) => return Ok(Some(Frame::Text(text.to_string()))),
                Some(Ok(Message::Close(_))) | None => return Ok(None),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(WorkerError::new(codes::CHANNEL_FAILED, format!("channel read: {e}"))),
            }
        }
    }

    /// The next event (a JSON line of the byte stream), or `None` once the writer has closed.
    /// Text frames are skipped; a line that is not an event is an error naming it.
    pub async fn next_event(&mut self) -> Result<Option<Event>, WorkerError> {
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let line = &line[..line.len() - 1];
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(line).map(Some).map_err(|e| {
                    WorkerError::new(
                        codes::CHANNEL_FAILED,
                        format!("channel carried a line that is not an event ({e}): {}", String::from_utf8_lossy(line)),
                    )
                });
            }
            match self.next_frame().await? {
                Some(Frame::Binary(bytes)) => self.pending.extend_from_slice(&bytes),
                Some(Frame::Text(_)) => {}
                None => return Ok(None),
            }
        }
    }
}

/// A best-effort event stream for a listener that may or may not be there.
///
/// Built from an optional writer reference; emitting never fails the caller.
#[derive(Default)]
pub struct EventSink {
    writer: Option<ChannelWriter>,
}

impl EventSink {
    /// A sink that drops every event (nobody is listening).
    pub fn none() -> Self {
        Self { writer: None }
    }

    /// A sink writing to `channel`, or dropping everything when it is `None` or cannot be opened.
    pub async fn open(engine_url: &str, channel: Option<&ChannelRef>) -> Self {
        let Some(channel) = channel else { return Self::none() };
        match ChannelWriter::open(engine_url, channel).await {
            Ok(writer) => Self { writer: Some(writer) },
            Err(e) => {
                tracing::warn!(channel = %channel.channel_id, "event channel unavailable: {e}");
                Self::none()
            }
        }
    }

    /// Whether someone is listening.
    pub fn is_open(&self) -> bool {
        self.writer.is_some()
    }

    /// Sends one event; on failure logs once and stops sending.
    pub async fn emit(&mut self, event: &str, data: Value) {
        let Some(writer) = self.writer.as_mut() else { return };
        if let Err(e) = writer.send_event(&Event::new(event, data)).await {
            tracing::info!("event listener went away: {e}");
            self.writer = None;
        }
    }

    /// Closes the stream, waiting until the engine has every event.
    pub async fn close(mut self) {
        if let Some(writer) = self.writer.take()
            && let Err(e) = writer.close().await
        {
            tracing::debug!("closing an event channel: {e}");
        }
    }
}

async fn connect(engine_url: &str, channel: &ChannelRef) -> Result<Socket, WorkerError> {
    let url = channel.url(engine_url);
    let (socket, _) = connect_async(url.as_str()).await.map_err(|e| {
        WorkerError::new(
            codes::CHANNEL_FAILED,
            format!("cannot open the {} end of channel {}: {e}", channel.direction.as_str(), channel.channel_id),
        )
    })?;
    Ok(socket)
}

fn send_failed(e: tokio_tungstenite::tungstenite::Error) -> WorkerError {
    WorkerError::new(codes::CHANNEL_FAILED, format!("channel write: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn reference(direction: Direction) -> ChannelRef {
        ChannelRef { channel_id: "c1".into(), access_key: "k y".into(), direction }
    }

    #[test]
    fn a_reference_names_its_socket_with_an_encoded_key() {
        assert_eq!(
            reference(Direction::Read).url("ws://127.0.0.1:9/"),
            "ws://127.0.0.1:9/ws/channels/c1?key=k%20y&dir=read"
        );
    }

    #[test]
    fn a_reference_round_trips_in_the_iii_shape() {
        let json = serde_json::to_value(reference(Direction::Write)).unwrap();
        assert_eq!(json, json!({"channel_id": "c1", "access_key": "k y", "direction": "write"}));
        assert_eq!(serde_json::from_value::<ChannelRef>(json).unwrap(), reference(Direction::Write));
    }

    #[test]
    fn the_wrong_end_is_refused_before_connecting() {
        let err = reference(Direction::Read).expect(Direction::Write).unwrap_err();
        assert_eq!(err.code(), codes::INVALID_INPUT);
        assert!(err.to_string().contains("read end where the write end is needed"), "{err}");
    }
}
