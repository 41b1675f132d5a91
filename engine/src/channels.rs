//! Channels: one-way streams of binary data and text messages between two sockets
//! (`engine::channels::create`, `GET /ws/channels/{id}?key=..&dir=read|write`, spec §4.1).
//!
//! Rules it keeps:
//! - A channel has one id and one access key; its writer ref and reader ref differ only in
//!   `direction`. An unknown id or a wrong key is refused before the upgrade (HTTP 404).
//! - Each end is claimed once. A second claimant of the same end gets an immediate Close.
//! - Between the ends sits a bounded buffer of `buffer_size` frames (default 64, at most 1024;
//!   larger values are clamped, as iii does, and 0 becomes 1). The writer's socket is not read
//!   while the buffer is full, so a slow reader slows the writer down. Frames written before
//!   the reader connects wait in the buffer.
//! - Binary frames stay binary and text frames stay text, in order. The writer's Close (or its
//!   socket dropping) ends the stream: the reader gets what is buffered and then a Close. When
//!   the reader goes away first, the writer's frames are discarded and the writer gets a Close.
//! - A channel belongs to the worker that created it and goes when that worker disconnects,
//!   unless one of its ends has been claimed. Channels with an end never claimed are swept
//!   [`UNCLAIMED_TTL`] after creation. The engine opens channels of its own for HTTP requests
//!   (see [`crate::http`]); those go when the request ends, and only then.
//!
//! The table ([`ChannelTable`]) is plain data under a mutex and is tested without sockets; the
//! socket pumps at the end of this file move frames between a socket and a buffer half.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use agentos_protocol::ErrorBody;
use axum::body::Bytes;
use axum::extract::ws::{Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use crate::engine::{Engine, WorkerId, lock};

/// Frames buffered between writer and reader when the caller names no `buffer_size` (iii's default).
pub const DEFAULT_BUFFER_SIZE: usize = 64;
/// The largest buffer a caller may ask for (iii's cap): 1024 frames of the SDK's 64 KiB chunks
/// is already 64 MiB held for one slow reader.
pub const MAX_BUFFER_SIZE: usize = 1024;
/// How long a channel may keep an end nobody claimed: long enough for a ref to travel through a
/// queue or a slow call, short enough that refs dropped on the floor do not pile up (iii: 5 min).
pub const UNCLAIMED_TTL: Duration = Duration::from_secs(5 * 60);
/// How often the sweep looks for expired channels (iii: every 60 s); an unclaimed channel thus
/// lives at most `UNCLAIMED_TTL + SWEEP_INTERVAL`.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);
/// How long a writer we close on may still send before its socket is dropped: enough for a
/// client that reads to see our Close and answer it, bounded so a client that never reads
/// (the SDK's writer does not) cannot hold the task.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Which end of a channel a ref or a socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The reading end.
    Read,
    /// The writing end.
    Write,
}

/// A channel ref as the SDKs know it: `{channel_id, access_key, direction}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelRef {
    /// The channel's id (a UUID string).
    pub channel_id: String,
    /// The key that must accompany the id (a UUID string).
    pub access_key: String,
    /// Which end this ref opens.
    pub direction: Direction,
}

/// One frame in a channel's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame: a message.
    Text(Utf8Bytes),
    /// A binary frame: data.
    Binary(Bytes),
}

impl Frame {
    fn into_ws(self) -> WsMessage {
        match self {
            Self::Text(t) => WsMessage::Text(t),
            Self::Binary(b) => WsMessage::Binary(b),
        }
    }
}

/// Who a channel belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The worker that called `engine::channels::create`; the channel goes when it disconnects.
    Worker(WorkerId),
    /// The engine itself: a call made without a worker socket. Only the sweep removes it.
    Engine,
    /// An HTTP request: the engine holds one end, and the channel goes when the request ends.
    /// The sweep leaves it alone, so a request allowed to run longer than [`UNCLAIMED_TTL`]
    /// keeps its channels.
    Request,
}

/// Why an end could not be claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// No channel has this id, or the key does not match.
    #[error("no channel with this id and access key (unclaimed channels are removed after 5 minutes)")]
    NotFound,
    /// This end was claimed before.
    #[error("this end of the channel is already claimed")]
    AlreadyClaimed,
}

impl ClaimError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "CHANNEL_NOT_FOUND",
            Self::AlreadyClaimed => "CHANNEL_ALREADY_CLAIMED",
        }
    }
}

/// The ids of a newly created channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Created {
    /// The channel id.
    pub id: Uuid,
    /// Its access key.
    pub access_key: Uuid,
}

impl Created {
    /// The ref that opens the given end.
    pub fn channel_ref(&self, direction: Direction) -> ChannelRef {
        ChannelRef { channel_id: self.id.to_string(), access_key: self.access_key.to_string(), direction }
    }

    /// The answer of `engine::channels::create`: `{writer, reader}`.
    pub fn refs_json(&self) -> Value {
        json!({ "writer": self.channel_ref(Direction::Write), "reader": self.channel_ref(Direction::Read) })
    }
}

/// The state of one end of a channel.
enum End<T> {
    /// Nobody has claimed it; the table holds the buffer half.
    Unclaimed(T),
    /// A socket (or the engine) holds the half.
    Claimed,
    /// It was claimed and is gone.
    Finished,
}

impl<T> End<T> {
    fn is_unclaimed(&self) -> bool {
        matches!(self, Self::Unclaimed(_))
    }

    fn is_claimed(&self) -> bool {
        matches!(self, Self::Claimed)
    }

    /// Takes the half, leaving the end claimed.
    fn claim(&mut self) -> Result<T, ClaimError> {
        match std::mem::replace(self, Self::Claimed) {
            Self::Unclaimed(half) => Ok(half),
            other => {
                *self = other;
                Err(ClaimError::AlreadyClaimed)
            }
        }
    }
}

struct Entry {
    access_key: Uuid,
    owner: Owner,
    created: Instant,
    writer: End<mpsc::Sender<Frame>>,
    reader: End<mpsc::Receiver<Frame>>,
}

impl Entry {
    fn new(owner: Owner, buffer_size: usize, now: Instant) -> Self {
        let (tx, rx) = mpsc::channel(buffer_size.clamp(1, MAX_BUFFER_SIZE));
        Self { access_key: Uuid::new_v4(), owner, created: now, writer: End::Unclaimed(tx), reader: End::Unclaimed(rx) }
    }
}

/// The buffer size to use for a requested one: 64 by default, clamped to 1..=1024 (iii clamps
/// to 1024 too; 0 would be a buffer that can never take a frame).
pub fn buffer_size(requested: Option<u64>) -> usize {
    match requested {
        None => DEFAULT_BUFFER_SIZE,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).clamp(1, MAX_BUFFER_SIZE),
    }
}

/// Every open channel, by id.
#[derive(Default)]
pub struct ChannelTable {
    entries: Mutex<HashMap<Uuid, Entry>>,
}

impl ChannelTable {
    /// Creates a channel with both ends unclaimed.
    pub fn create(&self, owner: Owner, buffer_size: usize, now: Instant) -> Created {
        self.insert(Entry::new(owner, buffer_size, now))
    }

    /// Creates a channel whose write end the engine keeps (the HTTP request body).
    pub fn create_engine_writer(&self, buffer_size: usize, now: Instant) -> (Created, mpsc::Sender<Frame>) {
        let (tx, rx) = mpsc::channel(buffer_size.clamp(1, MAX_BUFFER_SIZE));
        let entry = Entry {
            access_key: Uuid::new_v4(),
            owner: Owner::Request,
            created: now,
            writer: End::Claimed,
            reader: End::Unclaimed(rx),
        };
        (self.insert(entry), tx)
    }

    /// Creates a channel whose read end the engine keeps (the HTTP streamed response).
    pub fn create_engine_reader(&self, buffer_size: usize, now: Instant) -> (Created, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(buffer_size.clamp(1, MAX_BUFFER_SIZE));
        let entry = Entry {
            access_key: Uuid::new_v4(),
            owner: Owner::Request,
            created: now,
            writer: End::Unclaimed(tx),
            reader: End::Claimed,
        };
        (self.insert(entry), rx)
    }

    fn insert(&self, entry: Entry) -> Created {
        let mut entries = lock(&self.entries);
        let mut id = Uuid::new_v4();
        while entries.contains_key(&id) {
            id = Uuid::new_v4();
        }
        let created = Created { id, access_key: entry.access_key };
        entries.insert(id, entry);
        created
    }

    /// Whether a channel with this id and key exists (what the upgrade checks).
    pub fn contains(&self, id: Uuid, access_key: Uuid) -> bool {
        lock(&self.entries).get(&id).is_some_and(|e| e.access_key == access_key)
    }

    /// Claims the write end.
    pub fn claim_writer(&self, id: Uuid, access_key: Uuid) -> Result<mpsc::Sender<Frame>, ClaimError> {
        match lock(&self.entries).get_mut(&id) {
            Some(e) if e.access_key == access_key => e.writer.claim(),
            _ => Err(ClaimError::NotFound),
        }
    }

    /// Claims the read end.
    pub fn claim_reader(&self, id: Uuid, access_key: Uuid) -> Result<mpsc::Receiver<Frame>, ClaimError> {
        match lock(&self.entries).get_mut(&id) {
            Some(e) if e.access_key == access_key => e.reader.claim(),
            _ => Err(ClaimError::NotFound),
        }
    }

    /// Marks a claimed end as gone; the channel leaves the table once both ends are gone.
    pub fn finish(&self, id: Uuid, direction: Direction) {
        let removed = {
            let mut entries = lock(&self.entries);
            let done = match entries.get_mut(&id) {
                Some(e) => {
                    match direction {
                        Direction::Write if e.writer.is_claimed() => e.writer = End::Finished,
                        Direction::Read if e.reader.is_claimed() => e.reader = End::Finished,
                        _ => {}
                    }
                    matches!((&e.writer, &e.reader), (End::Finished, End::Finished))
                }
                None => false,
            };
            if done { entries.remove(&id) } else { None }
        };
        drop(removed);
    }

    /// Removes a channel; a claimed end sees its peer go (a reader gets Close, a writer too).
    pub fn remove(&self, id: Uuid) -> bool {
        let removed = lock(&self.entries).remove(&id);
        removed.is_some()
    }

    /// Removes the channels a departing worker owns that nobody has started to use (both ends
    /// unclaimed). Returns how many went.
    pub fn remove_unused_of(&self, worker: WorkerId) -> usize {
        self.remove_where(|e| e.owner == Owner::Worker(worker) && e.writer.is_unclaimed() && e.reader.is_unclaimed())
    }

    /// Removes channels created at least [`UNCLAIMED_TTL`] before `now` that still have an end
    /// nobody claimed, except those of a running HTTP request. Returns how many went.
    pub fn sweep(&self, now: Instant) -> usize {
        self.remove_where(|e| {
            e.owner != Owner::Request
                && now.saturating_duration_since(e.created) >= UNCLAIMED_TTL
                && (e.writer.is_unclaimed() || e.reader.is_unclaimed())
        })
    }

    fn remove_where(&self, doomed: impl Fn(&Entry) -> bool) -> usize {
        // Dropped after the lock is released: dropping a buffer half wakes the other side.
        let removed: Vec<Entry> = {
            let mut entries = lock(&self.entries);
            let ids: Vec<Uuid> = entries.iter().filter(|(_, e)| doomed(e)).map(|(id, _)| *id).collect();
            ids.iter().filter_map(|id| entries.remove(id)).collect()
        };
        removed.len()
    }

    /// How many channels are open.
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// Whether no channel is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// ---- the built-in function and the sweep ---------------------------------------------------

#[derive(Deserialize, Default)]
struct CreateInput {
    #[serde(default)]
    buffer_size: Option<u64>,
}

/// Registers `engine::channels::create`.
pub fn register_builtins(engine: &Engine) {
    engine.register_typed(
        "engine::channels::create",
        "Creates a channel: a writer ref and a reader ref for /ws/channels",
        |engine, input: CreateInput, meta| async move {
            let owner = meta.caller.map_or(Owner::Engine, Owner::Worker);
            let created = engine.channels().create(owner, buffer_size(input.buffer_size), Instant::now());
            Ok::<Value, ErrorBody>(created.refs_json())
        },
    );
}

/// Starts the sweep of expired channels; it ends with the engine.
pub fn start(engine: &Engine) {
    let engine = engine.clone();
    tokio::spawn(async move {
        let mut shutdown = engine.inner.shutdown.subscribe();
        let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            let swept = engine.channels().sweep(Instant::now());
            if swept > 0 {
                tracing::info!(
                    swept,
                    "removed channels with an end nobody claimed within {}s",
                    UNCLAIMED_TTL.as_secs()
                );
            }
        }
    });
}

// ---- the channel socket --------------------------------------------------------------------

/// The query of a channel socket: `?key=<access_key>&dir=read|write`.
#[derive(Deserialize)]
pub struct ChannelQuery {
    key: Option<String>,
    dir: Option<String>,
}

/// `GET /ws/channels/{channel_id}?key=..&dir=..`: checks the id and key, then upgrades.
pub async fn upgrade(
    State(engine): State<Engine>,
    Path(channel_id): Path<String>,
    Query(query): Query<ChannelQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    let direction = match query.dir.as_deref() {
        Some("read") => Direction::Read,
        Some("write") => Direction::Write,
        other => {
            return crate::http::error_response(
                StatusCode::BAD_REQUEST,
                "invalid_direction",
                format!("dir must be read or write, got {:?}; use the ref's `direction`", other.unwrap_or("")),
            );
        }
    };
    let ids = channel_id.parse::<Uuid>().ok().zip(query.key.as_deref().and_then(|k| k.parse::<Uuid>().ok()));
    let Some((id, key)) = ids.filter(|(id, key)| engine.channels().contains(*id, *key)) else {
        return crate::http::error_response(
            StatusCode::NOT_FOUND,
            ClaimError::NotFound.code(),
            format!("channel {channel_id}: {}", ClaimError::NotFound),
        );
    };
    ws.on_upgrade(move |socket| serve(engine, socket, id, key, direction))
}

/// A claimed end, as a socket gets it.
enum Half {
    Writer(mpsc::Sender<Frame>),
    Reader(mpsc::Receiver<Frame>),
}

async fn serve(engine: Engine, socket: WebSocket, id: Uuid, key: Uuid, direction: Direction) {
    let (sink, stream) = socket.split();
    let claimed = match direction {
        Direction::Write => engine.channels().claim_writer(id, key).map(Half::Writer),
        Direction::Read => engine.channels().claim_reader(id, key).map(Half::Reader),
    };
    match claimed {
        Ok(Half::Writer(tx)) => pump_writer(&engine, sink, stream, tx).await,
        Ok(Half::Reader(rx)) => pump_reader(&engine, sink, stream, rx).await,
        Err(err) => {
            tracing::debug!(channel_id = %id, ?direction, "channel socket refused: {err}");
            close_politely(sink, stream).await;
            return;
        }
    }
    engine.channels().finish(id, direction);
}

type Sink = SplitSink<WebSocket, WsMessage>;
type Stream = SplitStream<WebSocket>;

/// Moves the writer's frames into the buffer. The socket is not read while the buffer is full.
async fn pump_writer(engine: &Engine, mut sink: Sink, mut stream: Stream, tx: mpsc::Sender<Frame>) {
    let mut shutdown = engine.inner.shutdown.subscribe();
    let reader_gone = loop {
        let incoming = tokio::select! {
            _ = tx.closed() => break true,
            _ = shutdown.wait_for(|s| *s) => break true,
            incoming = stream.next() => incoming,
        };
        let frame = match incoming {
            Some(Ok(WsMessage::Binary(bytes))) => Frame::Binary(bytes),
            Some(Ok(WsMessage::Text(text))) => Frame::Text(text),
            // tungstenite answers pings itself while the socket is read.
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            // End of stream: a Close, or the socket dropping.
            Some(Ok(WsMessage::Close(_)) | Err(_)) | None => break false,
        };
        let sent = tokio::select! {
            sent = tx.send(frame) => sent.is_ok(),
            _ = shutdown.wait_for(|s| *s) => false,
        };
        if !sent {
            break true;
        }
    };
    drop(tx);
    if reader_gone {
        close_politely(sink, stream).await;
    } else {
        // Answers the writer's Close (tungstenite queued the reply); the writer may be gone.
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
    }
}

/// Moves buffered frames to the reader, then a Close once the writer is done.
async fn pump_reader(engine: &Engine, mut sink: Sink, mut stream: Stream, mut rx: mpsc::Receiver<Frame>) {
    enum Event {
        Frame(Frame),
        WriterDone,
        ReaderGone,
        Ignored,
    }
    let mut shutdown = engine.inner.shutdown.subscribe();
    loop {
        let event = tokio::select! {
            item = rx.recv() => item.map_or(Event::WriterDone, Event::Frame),
            incoming = stream.next() => match incoming {
                Some(Ok(WsMessage::Close(_)) | Err(_)) | None => Event::ReaderGone,
                // Readers send nothing but control frames; anything else is ignored.
                Some(Ok(_)) => Event::Ignored,
            },
            _ = shutdown.wait_for(|s| *s) => Event::WriterDone,
        };
        match event {
            Event::Frame(frame) => {
                if sink.send(frame.into_ws()).await.is_err() {
                    // The reader is gone; dropping `rx` tells the writer.
                    return;
                }
            }
            Event::WriterDone => break,
            Event::ReaderGone => return,
            Event::Ignored => {}
        }
    }
    let _ = sink.send(WsMessage::Close(None)).await;
}

/// Sends a Close and reads (discarding) until the peer answers, leaves, or [`CLOSE_GRACE`] passes.
async fn close_politely(mut sink: Sink, mut stream: Stream) {
    let _ = sink.send(WsMessage::Close(None)).await;
    let drain = async {
        while let Some(Ok(frame)) = stream.next().await {
            if matches!(frame, WsMessage::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn text(s: &'static str) -> Frame {
        Frame::Text(Utf8Bytes::from_static(s))
    }

    #[test]
    fn the_buffer_size_defaults_to_64_and_is_clamped_to_1_through_1024() {
        assert_eq!(buffer_size(None), 64);
        assert_eq!(buffer_size(Some(0)), 1);
        assert_eq!(buffer_size(Some(8)), 8);
        assert_eq!(buffer_size(Some(1024)), 1024);
        assert_eq!(buffer_size(Some(5000)), 1024);
        assert_eq!(buffer_size(Some(u64::MAX)), 1024);
    }

    #[test]
    fn the_two_refs_share_id_and_key_and_differ_in_direction() {
        let table = ChannelTable::default();
        let c = table.create(Owner::Engine, 64, Instant::now());
        let (id, key) = (c.id.to_string(), c.access_key.to_string());
        assert_eq!(
            c.refs_json(),
            json!({
                "writer": {"channel_id": id, "access_key": key, "direction": "write"},
                "reader": {"channel_id": id, "access_key": key, "direction": "read"},
            })
        );
        assert_ne!(c.id, c.access_key);
    }

    #[test]
    fn a_wrong_key_or_an_unknown_id_is_not_found() {
        let table = ChannelTable::default();
        let c = table.create(Owner::Engine, 4, Instant::now());
        assert!(table.contains(c.id, c.access_key));
        assert!(!table.contains(c.id, Uuid::new_v4()));
        assert!(!table.contains(Uuid::new_v4(), c.access_key));
        assert_eq!(table.claim_reader(c.id, Uuid::new_v4()).err(), Some(ClaimError::NotFound));
        assert_eq!(table.claim_writer(Uuid::new_v4(), c.access_key).err(), Some(ClaimError::NotFound));
    }

    #[test]
    fn each_end_is_claimed_once() {
        let table = ChannelTable::default();
        let c = table.create(Owner::Engine, 4, Instant::now());
        assert!(table.claim_writer(c.id, c.access_key).is_ok());
        assert_eq!(table.claim_writer(c.id, c.access_key).err(), Some(ClaimError::AlreadyClaimed));
        assert!(table.claim_reader(c.id, c.access_key).is_ok());
        assert_eq!(table.claim_reader(c.id, c.access_key).err(), Some(ClaimError::AlreadyClaimed));
    }

    #[test]
    fn frames_written_before_the_reader_claims_wait_in_order_up_to_the_buffer_size() {
        let table = ChannelTable::default();
        let c = table.create(Owner::Engine, 2, Instant::now());
        let tx = table.claim_writer(c.id, c.access_key).unwrap();
        tx.try_send(text("one")).unwrap();
        tx.try_send(Frame::Binary(Bytes::from_static(b"\x01\x02"))).unwrap();
        // The buffer holds two frames: a third must wait (the writer's socket is not read).
        assert!(matches!(tx.try_send(text("three")), Err(mpsc::error::TrySendError::Full(_))));
        drop(tx);
        table.finish(c.id, Direction::Write);
        let mut rx = table.claim_reader(c.id, c.access_key).unwrap();
        assert_eq!(rx.try_recv().ok(), Some(text("one")));
        assert_eq!(rx.try_recv().ok(), Some(Frame::Binary(Bytes::from_static(b"\x01\x02"))));
        // The writer is done: the stream ends after the buffered frames.
        assert!(matches!(rx.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
    }

    #[test]
    fn a_channel_leaves_the_table_once_both_ends_are_finished() {
        let table = ChannelTable::default();
        let c = table.create(Owner::Engine, 4, Instant::now());
        let _tx = table.claim_writer(c.id, c.access_key).unwrap();
        let _rx = table.claim_reader(c.id, c.access_key).unwrap();
        table.finish(c.id, Direction::Write);
        assert_eq!(table.len(), 1);
        // A finished end cannot be claimed again.
        assert_eq!(table.claim_writer(c.id, c.access_key).err(), Some(ClaimError::AlreadyClaimed));
        table.finish(c.id, Direction::Read);
        assert!(table.is_empty());
    }

    #[test]
    fn finishing_an_end_that_was_never_claimed_changes_nothing() {
        let table = ChannelTable::default();
        let c = table.create(Owner::Engine, 4, Instant::now());
        table.finish(c.id, Direction::Read);
        assert!(table.claim_reader(c.id, c.access_key).is_ok());
    }

    #[test]
    fn when_the_reader_goes_the_writer_sees_the_channel_closed() {
        let table = ChannelTable::default();
        let c = table.create(Owner::Engine, 4, Instant::now());
        let tx = table.claim_writer(c.id, c.access_key).unwrap();
        let rx = table.claim_reader(c.id, c.access_key).unwrap();
        assert!(!tx.is_closed());
        drop(rx);
        assert!(tx.is_closed());
    }

    #[test]
    fn a_departing_owner_takes_only_its_unused_channels() {
        let table = ChannelTable::default();
        let (me, other) = (Uuid::new_v4(), Uuid::new_v4());
        let now = Instant::now();
        let unused = table.create(Owner::Worker(me), 4, now);
        let in_use = table.create(Owner::Worker(me), 4, now);
        let _rx = table.claim_reader(in_use.id, in_use.access_key).unwrap();
        let theirs = table.create(Owner::Worker(other), 4, now);
        assert_eq!(table.remove_unused_of(me), 1);
        assert!(!table.contains(unused.id, unused.access_key));
        assert!(table.contains(in_use.id, in_use.access_key));
        assert!(table.contains(theirs.id, theirs.access_key));
    }

    #[test]
    fn the_sweep_takes_channels_with_an_unclaimed_end_after_five_minutes() {
        let table = ChannelTable::default();
        let t0 = Instant::now();
        let untouched = table.create(Owner::Engine, 4, t0);
        let half = table.create(Owner::Engine, 4, t0);
        let _tx = table.claim_writer(half.id, half.access_key).unwrap();
        let both = table.create(Owner::Engine, 4, t0);
        let _w = table.claim_writer(both.id, both.access_key).unwrap();
        let _r = table.claim_reader(both.id, both.access_key).unwrap();
        let young = table.create(Owner::Engine, 4, t0 + Duration::from_secs(120));
        let (request, _tx) = table.create_engine_writer(4, t0);

        assert_eq!(table.sweep(t0 + UNCLAIMED_TTL - Duration::from_secs(1)), 0);
        assert_eq!(table.sweep(t0 + UNCLAIMED_TTL), 2);
        assert!(!table.contains(untouched.id, untouched.access_key));
        assert!(!table.contains(half.id, half.access_key));
        assert!(table.contains(both.id, both.access_key));
        assert!(table.contains(young.id, young.access_key));
        // A request's channels live as long as the request, however long that is.
        assert!(table.contains(request.id, request.access_key));
    }

    #[test]
    fn removing_a_channel_ends_the_claimed_reader_and_closes_the_claimed_writer() {
        let table = ChannelTable::default();
        let a = table.create(Owner::Engine, 4, Instant::now());
        let mut rx = table.claim_reader(a.id, a.access_key).unwrap();
        let b = table.create(Owner::Engine, 4, Instant::now());
        let tx = table.claim_writer(b.id, b.access_key).unwrap();
        assert!(table.remove(a.id));
        assert!(table.remove(b.id));
        assert!(matches!(rx.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
        assert!(tx.is_closed());
        assert!(!table.remove(a.id));
    }

    #[test]
    fn engine_held_ends_are_already_claimed() {
        let table = ChannelTable::default();
        let (body, tx) = table.create_engine_writer(4, Instant::now());
        assert_eq!(table.claim_writer(body.id, body.access_key).err(), Some(ClaimError::AlreadyClaimed));
        let mut rx = table.claim_reader(body.id, body.access_key).unwrap();
        tx.try_send(text("x")).unwrap();
        assert_eq!(rx.try_recv().ok(), Some(text("x")));

        let (response, _rx) = table.create_engine_reader(4, Instant::now());
        assert_eq!(table.claim_reader(response.id, response.access_key).err(), Some(ClaimError::AlreadyClaimed));
        assert!(table.claim_writer(response.id, response.access_key).is_ok());
    }
}
