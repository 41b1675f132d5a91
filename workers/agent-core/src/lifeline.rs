//! The lifeline: how agent-core learns at once that the engine went away under it.
//!
//! iii-sdk keeps a call in flight when its connection drops (it answers only at the call's
//! timeout, minutes for an LLM call) and reconnects within seconds, so neither the calls nor the
//! connection state tell a running turn that the engine restarted. The lifeline is an iii channel
//! whose two ends this process holds open and never writes: its sockets close the moment the
//! engine process dies, which bumps the [`Link`]'s epoch. Every turn started before the bump is
//! abandoned ([`crate::turn::chat_supervised`]); once a new lifeline is open (the engine is
//! back), the sessions those turns left are settled ([`crate::orphans::settle`]).
//!
//! Rules it keeps:
//! - Only the engine going away bumps the epoch: a lifeline that cannot be opened yet (the
//!   engine is starting) is tried again, and a turn started meanwhile is not abandoned.
//! - The channel lives as long as the engine: both ends are claimed, so the engine's sweep of
//!   unclaimed channels leaves it alone.

use std::time::Duration;

use agentos_kit::channel::{self, ChannelReader, ChannelWriter};
use agentos_kit::{III, WorkerError};
use tokio::sync::watch;

use crate::orphans;
use crate::register::IiiBus;

/// The pause before trying to open a lifeline again: about the SDK's own reconnect pause.
const REOPEN: Duration = Duration::from_secs(1);

/// The engine link's epoch: it changes each time the engine went away.
#[derive(Clone)]
pub struct Link {
    epoch: watch::Receiver<u64>,
}

impl Link {
    /// A link whose epoch never changes (tests, and a worker run without a lifeline).
    pub fn steady() -> Self {
        let (tx, epoch) = watch::channel(0);
        // The receiver sees the last value for ever once the sender is gone.
        drop(tx);
        Self { epoch }
    }

    /// Completes with [`orphans::engine_lost`] when the engine goes away after this call; never
    /// when it does not.
    pub fn lost(&self) -> impl std::future::Future<Output = WorkerError> + Send + 'static {
        let mut epoch = self.epoch.clone();
        epoch.mark_unchanged();
        async move {
            match epoch.changed().await {
                Ok(()) => orphans::engine_lost(),
                Err(_) => std::future::pending().await,
            }
        }
    }
}

/// Starts the lifeline over `iii` (call inside a tokio runtime); the [`Link`] turns watch.
pub fn start(iii: &III, bus: IiiBus) -> Link {
    let (tx, epoch) = watch::channel(0_u64);
    let iii = iii.clone();
    tokio::spawn(async move {
        // Set when the engine went away; settled once a new lifeline shows it is back.
        let mut lost_at: Option<u64> = None;
        loop {
            let (reader, writer) = match open(&iii).await {
                Ok(ends) => ends,
                Err(e) => {
                    tracing::debug!("no lifeline to the engine yet: {e}");
                    tokio::time::sleep(REOPEN).await;
                    continue;
                }
            };
            if let Some(before_ms) = lost_at.take() {
                let bus = bus.clone();
                tokio::spawn(async move {
                    match orphans::settle(&bus, before_ms, orphans::ENGINE_RESTARTED, orphans::ENGINE_GONE).await {
                        Ok(s) => {
                            tracing::info!(sessions = ?s.sessions, expired = s.expired, "settled the turns the engine restart cut short")
                        }
                        Err(e) => tracing::warn!("could not settle the turns the engine restart cut short: {e}"),
                    }
                });
            }
            wait_closed(reader).await;
            drop(writer);
            lost_at = Some(agentos_kit::clock::now_ms());
            tracing::warn!("the engine went away; the running turns end as failed");
            tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    });
    Link { epoch }
}

/// Creates a channel and opens both its ends.
async fn open(iii: &III) -> Result<(ChannelReader, ChannelWriter), WorkerError> {
    let pair = tokio::time::timeout(Duration::from_secs(10), channel::create(iii, 1))
        .await
        .map_err(|_| WorkerError::new(agentos_kit::codes::TIMEOUT, "engine::channels::create did not answer"))??;
    let address = iii.address().to_string();
    let reader = ChannelReader::open(&address, &pair.reader).await?;
    let writer = ChannelWriter::open(&address, &pair.writer).await?;
    Ok((reader, writer))
}

/// Returns when the reader's socket ends (the engine closed it or went away).
async fn wait_closed(mut reader: ChannelReader) {
    loop {
        match reader.next_frame().await {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => {
                tracing::debug!("lifeline: {e}");
                return;
            }
        }
    }
}
