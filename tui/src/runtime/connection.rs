//! The stack's reachability and the live event feed.
//!
//! Rules it keeps:
//! - A call or the event feed that cannot reach the REST port reports it; the first report turns
//!   the connection [`Connection::Lost`] (the app shows a banner). While lost, `GET /v1/health` is
//!   polled every [`HEALTH_POLL`]; its first success turns it [`Connection::Up`] again. Only
//!   changes are sent, never the same state twice.
//! - `GET /v1/events` stays open for the whole session: each event becomes [`AppEvent::Bus`];
//!   keepalive comments are skipped (the SSE parser drops comment lines). When it ends or cannot
//!   be opened it is opened again after a [`Backoff`] delay (0.5 s doubling to 5 s, back to
//!   0.5 s once a connection succeeds).
//! - The decisions ([`Monitor`], [`Backoff`], [`bus_event`]) are pure; the tasks only carry them
//!   out.

use std::time::Duration;

use eventsource_stream::{Event as SseEvent, Eventsource};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::http::{Endpoint, event_data};
use crate::event::{AppEvent, AppEventSender, Connection, Method};

/// How often health is polled while the connection is lost: reconnecting within a second of the
/// stack coming back is what a person notices; one tiny GET a second costs nothing.
pub const HEALTH_POLL: Duration = Duration::from_secs(1);
/// How long one health check may take.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// The first delay before the event feed is opened again.
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
/// The longest delay between two attempts: a stack that comes back is followed within 5 s.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Retry delays that double from `min` to `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(BACKOFF_MIN, BACKOFF_MAX)
    }
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self { min, max, next: min }
    }

    /// The delay before the next attempt; the one after it doubles, up to the most.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// An attempt succeeded: the next failure waits the least again.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

/// Whether the stack is reachable, and the change to announce when that flips.
#[derive(Debug, Clone, Default)]
pub struct Monitor {
    lost: bool,
}

impl Monitor {
    /// Whether the connection is lost now.
    pub fn is_lost(&self) -> bool {
        self.lost
    }

    /// Something failed to reach the stack, for `why`.
    pub fn failed(&mut self, why: String) -> Option<Connection> {
        if self.lost {
            return None;
        }
        self.lost = true;
        Some(Connection::Lost(why))
    }

    /// A health check answered.
    pub fn healthy(&mut self) -> Option<Connection> {
        if !self.lost {
            return None;
        }
        self.lost = false;
        Some(Connection::Up)
    }
}

/// An event of `GET /v1/events` as the app's bus event.
pub fn bus_event(event: &SseEvent) -> AppEvent {
    AppEvent::Bus { event: event.event.clone(), data: event_data(&event.data) }
}

/// Watches reachability: reads failure reports from `failures`, announces changes on `tx`, and
/// polls health while lost. Runs until every reporter is gone.
pub async fn watch_connection(endpoint: Endpoint, mut failures: mpsc::UnboundedReceiver<String>, tx: AppEventSender) {
    let mut monitor = Monitor::default();
    while let Some(why) = failures.recv().await {
        if let Some(change) = monitor.failed(why) {
            tx.send(AppEvent::Connection(change));
        }
        while monitor.is_lost() {
            tokio::time::sleep(HEALTH_POLL).await;
            if healthy(&endpoint).await
                && let Some(change) = monitor.healthy()
            {
                // Reports sent while lost are about the outage that just ended.
                while failures.try_recv().is_ok() {}
                tx.send(AppEvent::Connection(change));
            }
        }
    }
}

async fn healthy(endpoint: &Endpoint) -> bool {
    let req = endpoint.build(Method::Get, "/v1/health", None).timeout(HEALTH_TIMEOUT);
    matches!(req.send().await, Ok(response) if response.status().is_success())
}

/// Keeps `GET /v1/events` open, forwarding each event to `tx`, reporting unreachable ports to
/// `failures`, and opening it again with backoff when it ends.
pub async fn watch_bus(endpoint: Endpoint, failures: mpsc::UnboundedSender<String>, tx: AppEventSender) {
    let mut backoff = Backoff::default();
    loop {
        match endpoint.build(Method::Get, "/v1/events", None).send().await {
            Ok(response) if response.status().is_success() => {
                backoff.reset();
                let mut events = response.bytes_stream().eventsource();
                while let Some(Ok(event)) = events.next().await {
                    tx.send(bus_event(&event));
                }
            }
            Ok(response) => {
                // The port answered (the feed's worker is not up yet, or the key is wrong): the
                // stack is reachable, so no banner; the feed is tried again later.
                tracing::debug!(status = %response.status(), "the event feed was refused");
            }
            Err(e) => {
                let _ = failures.send(endpoint.unreachable(&e).message);
            }
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn the_backoff_doubles_from_half_a_second_to_five_and_resets_after_a_success() {
        let mut backoff = Backoff::default();
        let delays: Vec<u64> = (0..7).map(|_| backoff.next_delay().as_millis() as u64).collect();
        assert_eq!(delays, vec![500, 1000, 2000, 4000, 5000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(500));
    }

    #[test]
    fn the_connection_is_announced_lost_once_and_up_once() {
        let mut monitor = Monitor::default();
        assert_eq!(monitor.healthy(), None, "up while up says nothing");
        assert_eq!(monitor.failed("refused".into()), Some(Connection::Lost("refused".into())));
        assert_eq!(monitor.failed("refused again".into()), None);
        assert_eq!(monitor.healthy(), Some(Connection::Up));
        assert_eq!(monitor.healthy(), None);
    }

    #[test]
    fn a_bus_event_carries_its_name_and_json_data() {
        let event = SseEvent {
            event: "approval_requested".into(),
            data: r#"{"id": "apr-1", "function_id": "shell::exec"}"#.into(),
            ..SseEvent::default()
        };
        assert_eq!(
            bus_event(&event),
            AppEvent::Bus {
                event: "approval_requested".into(),
                data: json!({"id": "apr-1", "function_id": "shell::exec"})
            }
        );
    }

    #[tokio::test]
    async fn keepalive_comments_never_become_events() {
        let body = ": keepalive\n\nevent: session_started\ndata: {\"id\": \"s-1\"}\n\n: keepalive\n\n";
        let chunks = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(body.as_bytes().to_vec())]);
        let events: Vec<AppEvent> =
            chunks.eventsource().filter_map(|e| async move { e.ok() }).map(|e| bus_event(&e)).collect().await;
        assert_eq!(events, vec![AppEvent::Bus { event: "session_started".into(), data: json!({"id": "s-1"}) }]);
    }
}
