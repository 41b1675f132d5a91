//! The replay log of a turn: every step recorded through `replay::record`, delivered by the
//! engine's durable queue (at-least-once; the replay worker keeps one event per sequence).
//!
//! Sequence numbers are `turn × 100 000 + step`, so events of later turns sort after earlier
//! ones without asking anyone for a counter, and a redelivered event has the same key.
//! Recording does not wait for each acknowledgement (the steps would pay a round trip each);
//! [`Recorder::flush`] waits for all of them before the turn answers.

use std::time::Instant;

use agentos_kit::WorkerError;
use agentos_protocol::replay::{RecordEvent, Step};
use serde_json::json;

use crate::turn::{Bus, EnqueueAck};

/// The queue replay records travel through (declared by every agentos engine config).
pub const QUEUE: &str = "default";

/// Room for the steps of one turn in the sequence space.
const STEPS_PER_TURN: u64 = 100_000;

/// The recorder of one turn.
pub struct Recorder {
    session_id: String,
    turn_id: String,
    trace_id: Option<String>,
    next_seq: u64,
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

    /// Records one step; `started` gives its duration when it took time. The delivery starts
    /// now; [`Recorder::flush`] waits for it.
    pub fn record<B: Bus>(&mut self, bus: &B, step: Step, started: Option<Instant>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let event = RecordEvent {
            session_id: self.session_id.clone(),
            seq,
            kind: step.kind().to_string(),
            at_ms: agentos_kit::clock::now_ms(),
            duration_ms: started.map(|s| u64::try_from(s.elapsed().as_millis()).unwrap_or(u64::MAX)),
            turn_id: Some(self.turn_id.clone()),
            trace_id: self.trace_id.clone(),
            data: step.data(),
        };
        self.pending.push(bus.enqueue("replay::record", json!(event), QUEUE));
    }

    /// Waits until the engine has stored every step recorded so far; the first failure wins.
    pub async fn flush(&mut self) -> Result<(), WorkerError> {
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
