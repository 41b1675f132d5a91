//! Interrupting a running turn (`agent::interrupt`, `POST /v1/chat/interrupt`).
//!
//! Each turn registers itself under its session id once the session is open and holds a
//! [`Cancel`] for as long as it runs; [`Interrupts::interrupt`] fires the signal of every turn of
//! that session running in this worker.
//!
//! Rules it keeps:
//! - A turn stops at the next safe point: before an LLM call, before a tool call, while it waits
//!   for an approval, while it streams the model's answer. A tool already running is let finish,
//!   so no file is half written.
//! - An interrupted turn is a finished turn (`finish: "interrupted"`): what happened so far is
//!   saved, recorded and streamed like any other answer; nothing is left pending.
//! - A turn unregisters itself when it ends, however it ends ([`Running`] is a drop guard), so an
//!   interrupt that comes too late answers `false` instead of stopping the next turn.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use agentos_kit::WorkerError;
use tokio::sync::watch;

/// The `finish` of an interrupted turn.
pub const FINISH: &str = "interrupted";

/// What the person reads, and the model sees in the history, for an interrupted turn.
pub const REPLY: &str = "The turn was interrupted before it finished.";

/// The note a pending approval is denied with when its turn is interrupted.
pub const APPROVAL_NOTE: &str = "the turn was interrupted";

/// The surface named in the decision of an approval denied by an interrupt, when the interrupt
/// names none: the dashboard's Esc is what sends it.
pub const DEFAULT_VIA: Via = Via::Tui;

/// The interrupt's request and answer, and the surfaces it comes from: the chat contract.
pub use agentos_protocol::chat::{InterruptAnswer, InterruptRequest, RunningAnswer, RunningRequest, Via};

/// A turn's side of the signal: cheap to clone, checked at every safe point.
#[derive(Debug, Clone)]
pub struct Cancel {
    rx: watch::Receiver<Option<String>>,
}

impl Cancel {
    /// A signal that never fires (a turn nobody can reach).
    pub fn never() -> Self {
        let (_, rx) = watch::channel(None);
        Self { rx }
    }

    /// Whether the turn was interrupted.
    pub fn is_set(&self) -> bool {
        self.rx.borrow().is_some()
    }

    /// The surface the interrupt came from, once it fired.
    pub fn via(&self) -> Option<String> {
        self.rx.borrow().clone()
    }

    /// Completes when the turn is interrupted; never, for a signal nobody can fire.
    pub async fn fired(&self) {
        let mut rx = self.rx.clone();
        if rx.wait_for(Option::is_some).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

type Registry = HashMap<String, Vec<(u64, watch::Sender<Option<String>>)>>;

/// The turns running in this worker, by session id.
#[derive(Debug, Clone, Default)]
pub struct Interrupts {
    running: Arc<Mutex<Registry>>,
    next: Arc<AtomicU64>,
}

impl Interrupts {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a turn of `session_id`; it stays reachable until the guard is dropped.
    pub fn start(&self, session_id: &str) -> Running {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(None);
        self.lock().entry(session_id.to_string()).or_default().push((id, tx));
        Running { interrupts: self.clone(), session_id: session_id.to_string(), id, cancel: Cancel { rx } }
    }

    /// Interrupts every turn of `session_id` running here; `false` when there is none.
    pub fn interrupt(&self, session_id: &str, via: &str) -> bool {
        let running = self.lock();
        let Some(turns) = running.get(session_id) else { return false };
        for (_, tx) in turns {
            tx.send_replace(Some(via.to_string()));
        }
        !turns.is_empty()
    }

    /// `agent::interrupt`; `INVALID_INPUT` for a blank session id.
    pub fn handle(&self, req: &InterruptRequest) -> Result<InterruptAnswer, WorkerError> {
        if req.session_id.trim().is_empty() {
            return Err(WorkerError::invalid_input(
                "session_id is empty; give the id of the session whose turn should stop (the `session` event of /v1/chat/stream names it)",
            ));
        }
        let via = req.via.unwrap_or(DEFAULT_VIA);
        Ok(InterruptAnswer { interrupted: self.interrupt(&req.session_id, via.as_str()) })
    }

    /// Whether a turn of `session_id` runs here.
    pub fn is_running(&self, session_id: &str) -> bool {
        self.lock().get(session_id).is_some_and(|turns| !turns.is_empty())
    }

    fn finish(&self, session_id: &str, id: u64) {
        let mut running = self.lock();
        if let Some(turns) = running.get_mut(session_id) {
            turns.retain(|(turn, _)| *turn != id);
            if turns.is_empty() {
                running.remove(session_id);
            }
        }
    }
}

/// A registered turn; dropping it unregisters the turn.
#[derive(Debug)]
pub struct Running {
    interrupts: Interrupts,
    session_id: String,
    id: u64,
    cancel: Cancel,
}

impl Running {
    /// The turn's signal.
    pub fn cancel(&self) -> &Cancel {
        &self.cancel
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.interrupts.finish(&self.session_id, self.id);
    }
}

/// The reply of an interrupted turn: what the model had said so far, then [`REPLY`].
pub fn reply(partial: &str) -> String {
    let partial = partial.trim_end();
    if partial.is_empty() { REPLY.to_string() } else { format!("{partial}\n\n{REPLY}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn an_interrupt_reaches_every_running_turn_of_the_session_and_no_other() {
        let interrupts = Interrupts::default();
        let (a1, a2, b) = (interrupts.start("a"), interrupts.start("a"), interrupts.start("b"));
        assert!(interrupts.interrupt("a", "cli"));
        assert_eq!((a1.cancel().is_set(), a2.cancel().is_set(), b.cancel().is_set()), (true, true, false));
        assert_eq!(a1.cancel().via().as_deref(), Some("cli"));
    }

    #[test]
    fn a_finished_turn_is_no_longer_interrupted() {
        let interrupts = Interrupts::default();
        drop(interrupts.start("a"));
        assert!(!interrupts.is_running("a"));
        let req = InterruptRequest { session_id: "a".into(), via: None };
        assert_eq!(interrupts.handle(&req).unwrap(), InterruptAnswer { interrupted: false });
        let blank = InterruptRequest { session_id: " ".into(), via: None };
        assert_eq!(interrupts.handle(&blank).unwrap_err().code, "INVALID_INPUT");
    }

    #[test]
    fn the_reply_keeps_what_the_model_had_said() {
        assert_eq!(reply(""), REPLY);
        assert_eq!(reply("Half an ans "), format!("Half an ans\n\n{REPLY}"));
    }

    #[tokio::test]
    async fn the_signal_wakes_a_waiting_turn_and_a_dead_one_never_fires() {
        let interrupts = Interrupts::default();
        let running = interrupts.start("a");
        let cancel = running.cancel().clone();
        let waiter = tokio::spawn(async move { cancel.fired().await });
        interrupts.interrupt("a", "tui");
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.unwrap().unwrap();

        let never = Cancel::never();
        let fired = tokio::time::timeout(std::time::Duration::from_millis(20), never.fired()).await;
        assert!(fired.is_err() && !never.is_set());
    }
}
