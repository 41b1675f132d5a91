//! The replay log of a turn: every step recorded through `replay::record_many`, delivered by
//! the engine's durable queue (at-least-once; the replay worker keeps one event per sequence).
//!
//! Sequence numbers are `turn × 100 000 + step`, so events of later turns sort after earlier
//! ones without asking anyone for a counter, and a redelivered event has the same key.
//! Steps go out in batches, one durable job each, before every step in [`SEND_BEFORE`] leaves
//! (an LLM call is slow, a tool call has effects: a turn cut short there still has its record
//! up to that point) and when the turn ends; that is two jobs for a plain turn instead of five.
//! Recording does not wait for each acknowledgement; [`Recorder::flush`] waits for all of them
//! before the turn answers.

use std::time::Instant;

use agentos_kit::WorkerError;
use agentos_protocol::replay::{RecordEvent, RecordMany, Step};
use serde_json::json;

use crate::turn::{Bus, EnqueueAck};

/// The queue replay records travel through (declared by every agentos engine config).
pub const QUEUE: &str = "default";

/// The steps whose recording sends what is buffered, themselves included.
pub const SEND_BEFORE: &[&str] = &["llm_request", "tool_call"];

/// Room for the steps of one turn in the sequence space.
const STEPS_PER_TURN: u64 = 100_000;

/// The recorder of one turn.
pub struct Recorder {
    session_id: String,
    turn_id: String,
    trace_id: Option<String>,
    next_seq: u64,
    /// Steps not sent yet.
    buffered: Vec<RecordEvent>,
    pending: Vec<EnqueueAck>,
}

impl Recorder {
    /// A recorder for turn number `turn` (1-based) of `session_id`.
    pub fn new(session_id: &str, turn: u64, turn_id: &str, trace_id: Option<String>) -> Self {
        Self {
            session_id: session_id.to_string(),
            turn_id: turn_id.to_string(),
            trace_id,
            next_seq: turn.max(1) * STEPS_PER_TURN,
            buffered: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// The turn's id.
    pub fn turn_id(&self) -> &str {
        &self.turn_id
    }

    /// The trace this turn runs in, when known.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }

    /// Records one step; `started` gives its duration when it took time. It goes out with the
    /// next batch (at once for a step in [`SEND_BEFORE`]); [`Recorder::flush`] sends the rest
    /// and waits for every batch.
    pub fn record<B: Bus>(&mut self, bus: &B, step: Step, started: Option<Instant>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let kind = step.kind();
        let send = SEND_BEFORE.contains(&kind);
        self.buffered.push(RecordEvent {
            session_id: self.session_id.clone(),
            seq,
            kind: kind.to_string(),
            at_ms: agentos_kit::clock::now_ms(),
            duration_ms: started.map(|s| u64::try_from(s.elapsed().as_millis()).unwrap_or(u64::MAX)),
            turn_id: Some(self.turn_id.clone()),
            trace_id: self.trace_id.clone(),
            data: step.data(),
        });
        if send {
            self.send(bus);
        }
    }

    /// Sends the buffered steps as one durable job; the delivery starts now.
    fn send<B: Bus>(&mut self, bus: &B) {
        if self.buffered.is_empty() {
            return;
        }
        let batch = RecordMany { events: std::mem::take(&mut self.buffered) };
        self.pending.push(bus.enqueue("replay::record_many", json!(batch), QUEUE));
    }

    /// Waits until the engine has stored every step recorded so far; the first failure wins.
    pub async fn flush<B: Bus>(&mut self, bus: &B) -> Result<(), WorkerError> {
        self.send(bus);
        let mut first = Ok(());
        for ack in self.pending.drain(..) {
            if let Err(e) = ack.await
                && first.is_ok()
            {
                first = Err(e);
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_turns_sort_after_earlier_ones() {
        let first = Recorder::new("s", 1, "t1", None);
        let second = Recorder::new("s", 2, "t2", None);
        assert!(first.next_seq + STEPS_PER_TURN - 1 < second.next_seq);
        assert_eq!(Recorder::new("s", 0, "t", None).next_seq, STEPS_PER_TURN);
    }
}
