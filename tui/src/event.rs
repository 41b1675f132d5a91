//! The dashboard's one event enum, and the sender panes hold to raise events.
//!
//! Rules it keeps:
//! - Panes never do IO. They ask for it with [`AppEvent::Request`] / [`AppEvent::OpenStream`]
//!   and get the answer back as [`AppEvent::Response`] / [`AppEvent::Stream`], addressed to them
//!   by [`PaneId`] and the `key` they chose. The loop in `runtime` carries the requests out;
//!   tests read them off the channel instead and feed answers back by hand.
//! - Everything the engine publishes on `agentos.events` (`GET /v1/events`) reaches every pane as
//!   [`AppEvent::Bus`].
//! - A request's path is relative to the REST port (`/v1/...`), query string included.

use serde_json::Value;
use tokio::sync::mpsc;

/// The panes, in their tab order (keys 1 to 5), plus the approval prompt that floats above them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaneId {
    /// 1: chat with an agent.
    Chat,
    /// 2: the approvals inbox and the decisions' history.
    Approvals,
    /// 3: traces: span tree and waterfall per turn.
    Trace,
    /// 4: replay of a recorded session.
    Replay,
    /// 5: the supervisor's workers.
    Workers,
    /// The approval prompt over whatever pane is shown.
    Prompt,
    /// The app itself (connection checks, the status bar).
    App,
}

impl PaneId {
    /// The panes reachable with Tab, in order.
    pub const TABS: [PaneId; 5] = [PaneId::Chat, PaneId::Approvals, PaneId::Trace, PaneId::Replay, PaneId::Workers];

    /// The title shown on the tab bar.
    pub fn title(self) -> &'static str {
        match self {
            PaneId::Chat => "Chat",
            PaneId::Approvals => "Approvals",
            PaneId::Trace => "Trace",
            PaneId::Replay => "Replay",
            PaneId::Workers => "Workers",
            PaneId::Prompt => "Approval",
            PaneId::App => "agentos",
        }
    }
}

/// An HTTP method of the REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

/// One JSON call to the REST API, answered by [`AppEvent::Response`] with the same `to` and `key`.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub to: PaneId,
    pub key: String,
    pub method: Method,
    pub path: String,
    pub body: Option<Value>,
}

/// An SSE stream from the REST API (`POST /v1/chat/stream`), answered by a series of
/// [`AppEvent::Stream`]: every event, then one [`StreamItem::Closed`].
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRequest {
    pub to: PaneId,
    pub key: String,
    pub method: Method,
    pub path: String,
    pub body: Option<Value>,
}

/// What a stream delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// One SSE event: its `event:` name and its `data:` parsed as JSON (a string when it is not JSON).
    Event { name: String, data: Value },
    /// The stream ended: `None` when the server ended it, else why it failed.
    Closed(Option<ApiError>),
}

/// A failed call: the API's `{"error": {code, message}}`, or a transport failure
/// (`code` = `UNREACHABLE`, status 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    /// A failure to reach the REST port at all.
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self { status: 0, code: "UNREACHABLE".into(), message: message.into() }
    }
}

/// Whether the dashboard can reach the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Up,
    /// Lost: why, shown in the banner while the loop retries.
    Lost(String),
}

/// The one event enum of the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub enum AppEvent {
    /// A pane asks for a JSON call.
    Request(Request),
    /// A pane opens an SSE stream.
    OpenStream(StreamRequest),
    /// A pane drops a stream it opened (same `to` and `key`); no `Closed` follows.
    CloseStream { to: PaneId, key: String },
    /// The answer to a [`Request`].
    Response { to: PaneId, key: String, result: Result<Value, ApiError> },
    /// An item of a stream.
    Stream { to: PaneId, key: String, item: StreamItem },
    /// An event published on `agentos.events` (`{"event", "data"}` of `GET /v1/events`).
    Bus { event: String, data: Value },
    /// The connection to the stack changed.
    Connection(Connection),
    /// Show this pane.
    Show(PaneId),
    /// Redraw soon (a pane's state changed without a key press, e.g. on a timer).
    Redraw,
    /// Leave the dashboard.
    Quit,
}

/// The handle panes hold to raise [`AppEvent`]s. Sending never blocks and never fails loudly:
/// once the loop is gone there is nobody left to tell.
#[derive(Debug, Clone)]
pub struct AppEventSender {
    tx: mpsc::UnboundedSender<AppEvent>,
}

impl AppEventSender {
    pub fn new(tx: mpsc::UnboundedSender<AppEvent>) -> Self {
        Self { tx }
    }

    /// A sender and the receiver the loop (or a test) reads.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<AppEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }

    pub fn send(&self, event: AppEvent) {
        let _ = self.tx.send(event);
    }

    /// Asks for `GET path`, answered to `to` under `key`.
    pub fn get(&self, to: PaneId, key: impl Into<String>, path: impl Into<String>) {
        self.request(to, key, Method::Get, path, None);
    }

    /// Asks for `method path` with an optional JSON body.
    pub fn request(
        &self,
        to: PaneId,
        key: impl Into<String>,
        method: Method,
        path: impl Into<String>,
        body: Option<Value>,
    ) {
        self.send(AppEvent::Request(Request { to, key: key.into(), method, path: path.into(), body }));
    }
}

/// Encodes one path segment (an id or a name the user typed) for a request path.
pub use agentos_protocol::url::encode_segment as segment;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_keep_slugs_and_encode_the_rest() {
        assert_eq!(segment("apr-1a2b"), "apr-1a2b");
        assert_eq!(segment("my session/1"), "my%20session%2F1");
    }

    #[test]
    fn a_request_reaches_the_receiver_with_its_address() {
        let (tx, mut rx) = AppEventSender::channel();
        tx.get(PaneId::Workers, "list", "/v1/workers");
        let Some(AppEvent::Request(req)) = rx.try_recv().ok() else { panic!("no request") };
        assert_eq!(
            (req.to, req.key.as_str(), req.method, req.path.as_str()),
            (PaneId::Workers, "list", Method::Get, "/v1/workers")
        );
    }
}
