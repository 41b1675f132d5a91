//! Streaming an answer into an iii channel: the glue between `llm::complete`'s `stream` field
//! and [`Router::stream`].
//!
//! Rules it keeps:
//! - Every text delta becomes one event `{"event":"token","data":{"text":…}}` on the channel,
//!   in order; the return value is still the whole [`Completion`].
//! - The channel is closed before the answer (or the error) is returned, on success and on
//!   failure alike, and the close waits for the engine's acknowledgement: a caller that gets the
//!   answer knows its reader has seen every token.
//! - A channel that cannot be opened, or a reader that goes away, never fails the call: it is
//!   logged (at warn when opening fails) and the answer is still returned.
//! - The router's token callback is synchronous; tokens pass through an unbounded queue to one
//!   task that owns the writer, so a slow reader never stalls the provider's stream.
//! - The engine's channel buffer is bounded, so a reader that never reads would hold the writer
//!   forever: once the provider has finished, flushing and closing get [`FLUSH_TIMEOUT`], after
//!   which the writer is dropped (logged at warn) and the answer returned anyway.

use std::time::Duration;

use agentos_kit::channel::EventSink;
use serde_json::json;

use crate::{Completion, CompletionRequest, LlmError, Router};

/// The event name of one text delta.
pub const TOKEN_EVENT: &str = "token";

/// How long the last tokens and the close may take after the provider has finished: a reader
/// that has not taken them by then is not reading, and the caller should not wait on it.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// Answers `req`: streamed into `req.stream` on the engine at `engine_url` when it names a
/// channel writer, plainly otherwise.
pub async fn answer(router: &Router, req: &CompletionRequest, engine_url: &str) -> Result<Completion, LlmError> {
    let Some(channel) = req.stream.as_ref() else { return router.complete(req).await };
    let mut sink = EventSink::open(engine_url, Some(channel)).await;
    if !sink.is_open() {
        // EventSink::open has logged why at warn; the caller still gets its answer.
        return router.complete(req).await;
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut forward = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            sink.emit(TOKEN_EVENT, json!({ "text": text })).await;
        }
        sink.close().await;
    });
    // The callback owns the sender: when `stream` returns it is dropped, the queue ends, and
    // the forwarder closes the channel after the last token.
    let result = router
        .stream(req, move |text| {
            let _ = tx.send(text.to_string());
        })
        .await;
    match tokio::time::timeout(FLUSH_TIMEOUT, &mut forward).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(channel = %channel.channel_id, "the token forwarder failed: {e}"),
        Err(_) => {
            forward.abort();
            tracing::warn!(
                channel = %channel.channel_id,
                "the channel's reader did not take the tokens within {} s; answering without it",
                FLUSH_TIMEOUT.as_secs()
            );
        }
    }
    result
}
