//! The executor: carries out the panes' [`AppEvent::Request`], [`AppEvent::OpenStream`] and
//! [`AppEvent::CloseStream`] in spawned tasks, and starts the connection watchers.
//!
//! Rules it keeps:
//! - Nothing here blocks the loop: every call runs in its own task, and its answer comes back on
//!   the app's channel as [`AppEvent::Response`] with the request's `to` and `key`.
//! - Stream items come back on the executor's own channel tagged with the stream's number; the
//!   loop passes on only those of streams still open ([`Executor::accept`]). So once a pane
//!   closes a stream nothing of it arrives, not even its `Closed`, and opening a stream under a
//!   key already open replaces the old one.
//! - A call or stream that cannot reach the stack reports it to the connection watcher.
//! - Dropping the executor aborts every task it started.

use std::collections::HashMap;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::connection;
use super::http::{self, Endpoint};
use crate::event::{ApiError, AppEvent, AppEventSender, PaneId, Request, StreamItem, StreamRequest};

/// A stream item, tagged with the number of the stream that produced it.
pub type Tagged = (u64, AppEvent);

/// Carries out the panes' IO.
pub struct Executor {
    endpoint: Endpoint,
    tx: AppEventSender,
    failures: mpsc::UnboundedSender<String>,
    streams: HashMap<(PaneId, String), (u64, AbortHandle)>,
    next_stream: u64,
    items_tx: mpsc::UnboundedSender<Tagged>,
    items: mpsc::UnboundedReceiver<Tagged>,
    background: Vec<AbortHandle>,
}

impl Executor {
    /// An executor answering on `tx`; starts the connection watcher (so it must be called inside
    /// a tokio runtime). The event feed starts with [`Executor::watch_bus`].
    pub fn new(endpoint: Endpoint, tx: AppEventSender) -> Self {
        let (failures, reports) = mpsc::unbounded_channel();
        let (items_tx, items) = mpsc::unbounded_channel();
        let watcher = tokio::spawn(connection::watch_connection(endpoint.clone(), reports, tx.clone()));
        Self {
            endpoint,
            tx,
            failures,
            streams: HashMap::new(),
            next_stream: 0,
            items_tx,
            items,
            background: vec![watcher.abort_handle()],
        }
    }

    /// Keeps `GET /v1/events` open for the rest of the session.
    pub fn watch_bus(&mut self) {
        let task = tokio::spawn(connection::watch_bus(self.endpoint.clone(), self.failures.clone(), self.tx.clone()));
        self.background.push(task.abort_handle());
    }

    /// Carries out `event` when it asks for IO; other events are not the executor's.
    pub fn carry_out(&mut self, event: &AppEvent) {
        match event {
            AppEvent::Request(req) => self.request(req.clone()),
            AppEvent::OpenStream(req) => self.open_stream(req.clone()),
            AppEvent::CloseStream { to, key } => self.close_stream(*to, key),
            _ => {}
        }
    }

    fn request(&self, req: Request) {
        let (endpoint, tx, failures) = (self.endpoint.clone(), self.tx.clone(), self.failures.clone());
        tokio::spawn(async move {
            let outcome = http::call(&endpoint, req.method, &req.path, req.body.as_ref()).await;
            if outcome.unreachable
                && let Err(e) = &outcome.result
            {
                let _ = failures.send(e.message.clone());
            }
            tx.send(AppEvent::Response { to: req.to, key: req.key, result: outcome.result });
        });
    }

    fn open_stream(&mut self, req: StreamRequest) {
        self.close_stream(req.to, &req.key);
        self.next_stream += 1;
        let id = self.next_stream;
        let slot = (req.to, req.key.clone());
        let (endpoint, items, failures) = (self.endpoint.clone(), self.items_tx.clone(), self.failures.clone());
        let task = tokio::spawn(async move {
            let (to, key) = (req.to, req.key.clone());
            let send = |item: StreamItem| {
                let _ = items.send((id, AppEvent::Stream { to, key: key.clone(), item }));
            };
            let response = match endpoint.build(req.method, &req.path, req.body.as_ref()).send().await {
                Ok(response) => response,
                Err(e) => {
                    let error = endpoint.unreachable(&e);
                    let _ = failures.send(error.message.clone());
                    return send(StreamItem::Closed(Some(error)));
                }
            };
            let status = response.status().as_u16();
            if !(200..300).contains(&status) {
                let body = response.bytes().await.unwrap_or_default();
                return send(StreamItem::Closed(Some(http::api_error(status, &body))));
            }
            let mut events = response.bytes_stream().eventsource();
            while let Some(event) = events.next().await {
                match event {
                    Ok(event) => send(http::stream_item(&event)),
                    Err(e) => {
                        let message = format!("the stream broke off: {}", http::root_cause(&e));
                        return send(StreamItem::Closed(Some(ApiError::unreachable(message))));
                    }
                }
            }
            send(StreamItem::Closed(None));
        });
        self.streams.insert(slot, (id, task.abort_handle()));
    }

    fn close_stream(&mut self, to: PaneId, key: &str) {
        if let Some((_, handle)) = self.streams.remove(&(to, key.to_string())) {
            handle.abort();
        }
    }

    /// The next stream item (for the loop's `select!`); never ends while the executor lives.
    pub async fn next_item(&mut self) -> Option<Tagged> {
        self.items.recv().await
    }

    /// `event` if the stream `id` that produced it is still open; a `Closed` ends it.
    pub fn accept(&mut self, id: u64, event: AppEvent) -> Option<AppEvent> {
        let AppEvent::Stream { to, key, item } = &event else { return Some(event) };
        let slot = (*to, key.clone());
        if self.streams.get(&slot).is_none_or(|(open, _)| *open != id) {
            return None;
        }
        if matches!(item, StreamItem::Closed(_)) {
            self.streams.remove(&slot);
        }
        Some(event)
    }

    /// Streams open now (tests).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        for (_, (_, handle)) in self.streams.drain() {
            handle.abort();
        }
        for handle in &self.background {
            handle.abort();
        }
    }
}
