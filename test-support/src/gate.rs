//! Gates: hold a scripted reply part-way until the test lets it go.

use tokio::sync::watch;

/// A gate a [`Reply::Gated`](crate::Reply::Gated) reply waits at.
///
/// Cloning shares the gate. Opening is sticky: a gate opened before the reply reaches it lets the
/// reply straight through.
#[derive(Clone, Debug)]
pub struct Gate {
    open: watch::Sender<bool>,
    reached: watch::Sender<bool>,
}

impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

impl Gate {
    /// A closed gate that nothing has reached yet.
    pub fn new() -> Self {
        Self { open: watch::Sender::new(false), reached: watch::Sender::new(false) }
    }

    /// Lets the waiting reply (or the one that will arrive) continue.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// Whether [`Gate::open`] was called.
    pub fn is_open(&self) -> bool {
        *self.open.borrow()
    }

    /// Whether a reply has sent its first part and is (or was) waiting here.
    pub fn is_reached(&self) -> bool {
        *self.reached.borrow()
    }

    /// Resolves once a reply has sent its first part and waits at this gate. Never resolves if no
    /// request takes the gated reply: wrap it in `tokio::time::timeout`.
    pub async fn reached(&self) {
        let mut rx = self.reached.subscribe();
        // The sender lives in `self`, so `wait_for` cannot fail while we borrow it.
        let _ = rx.wait_for(|reached| *reached).await;
    }

    pub(crate) fn mark_reached(&self) {
        self.reached.send_replace(true);
    }

    pub(crate) async fn wait_open(&self) {
        let mut rx = self.open.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }
}
