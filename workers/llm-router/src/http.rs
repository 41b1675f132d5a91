//! The HTTP plumbing both provider clients share: send with a deadline, turn error statuses
//! into [`LlmError`]s, read a JSON body, walk an SSE stream.
//!
//! Rules it keeps:
//! - The timeout is an *idle* deadline: for the response headers, for a whole non-streamed
//!   body, and between two stream chunks. A long stream that keeps talking never times out; a
//!   server that goes silent does.
//! - An error body's message is taken from `error.message` (both providers put it there); when
//!   the body is not JSON, its text is used as is.
//! - A POST is never re-sent from here: retrying is the router's decision.

use std::time::Duration;

use eventsource_stream::{Event, Eventsource};
use futures_util::StreamExt;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::LlmError;

/// Sends `request` and returns the response when its status is a success.
pub(crate) async fn send(
    provider: &str,
    url: &str,
    request: reqwest::RequestBuilder,
    timeout: Duration,
) -> Result<reqwest::Response, LlmError> {
    let response = match tokio::time::timeout(timeout, request.send()).await {
        Err(_) => return Err(LlmError::Timeout { provider: provider.to_string(), after: timeout }),
        Ok(Err(e)) if e.is_timeout() => {
            return Err(LlmError::Timeout { provider: provider.to_string(), after: timeout });
        }
        Ok(Err(source)) => {
            return Err(LlmError::Unreachable { provider: provider.to_string(), url: url.to_string(), source });
        }
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = tokio::time::timeout(timeout, response.text()).await.ok().and_then(Result::ok).unwrap_or_default();
    let message = error_message(&text);
    if status.as_u16() == 429 {
        return Err(LlmError::RateLimited { provider: provider.to_string(), message, retry_after });
    }
    Err(LlmError::Provider { provider: provider.to_string(), status: status.as_u16(), message })
}

/// `{"error": {"message": …}}`, the error shape both providers share.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

/// The inner error object.
#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
}

/// The provider's error message, or the body's text when it is not the documented shape.
pub(crate) fn error_message(body: &str) -> String {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(parsed) => parsed.error.message,
        Err(_) if body.trim().is_empty() => "(empty body)".to_string(),
        Err(_) => body.trim().chars().take(500).collect(),
    }
}

/// Reads a whole JSON body into `T`.
pub(crate) async fn read_json<T: DeserializeOwned>(
    provider: &str,
    response: reqwest::Response,
    timeout: Duration,
) -> Result<T, LlmError> {
    let bytes = match tokio::time::timeout(timeout, response.bytes()).await {
        Err(_) => return Err(LlmError::Timeout { provider: provider.to_string(), after: timeout }),
        Ok(Err(e)) => return Err(LlmError::bad(provider, format!("the body could not be read: {e}"))),
        Ok(Ok(b)) => b,
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| LlmError::bad(provider, format!("the body is not the documented JSON: {e}")))
}

/// What a stream handler wants after one event.
pub(crate) enum Flow {
    /// Keep reading.
    More,
    /// The stream is complete (OpenAI's `[DONE]`, Anthropic's `message_stop`).
    Done,
}

/// Feeds every SSE event of `response` to `on_event` until it answers [`Flow::Done`] or the
/// body ends. A stream that ends without `Done` is still accepted: the handler decides
/// afterwards whether what it collected is complete.
pub(crate) async fn each_event(
    provider: &str,
    response: reqwest::Response,
    timeout: Duration,
    mut on_event: impl FnMut(Event) -> Result<Flow, LlmError>,
) -> Result<(), LlmError> {
    let mut events = response.bytes_stream().eventsource();
    loop {
        let next = tokio::time::timeout(timeout, events.next())
            .await
            .map_err(|_| LlmError::Timeout { provider: provider.to_string(), after: timeout })?;
        match next {
            None => return Ok(()),
            Some(Err(e)) => return Err(LlmError::bad(provider, format!("the event stream broke: {e}"))),
            Some(Ok(event)) => {
                if let Flow::Done = on_event(event)? {
                    return Ok(());
                }
            }
        }
    }
}

/// Parses one event's `data` into `T`.
pub(crate) fn parse_data<T: DeserializeOwned>(provider: &str, event: &Event) -> Result<T, LlmError> {
    serde_json::from_str(&event.data)
        .map_err(|e| LlmError::bad(provider, format!("a stream event is not the documented JSON: {e}: {}", event.data)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn the_error_message_comes_from_either_providers_error_body() {
        assert_eq!(error_message(r#"{"error":{"message":"boom","type":"server_error"}}"#), "boom");
        assert_eq!(error_message(r#"{"type":"error","error":{"type":"api_error","message":"down"}}"#), "down");
        assert_eq!(error_message("Bad Gateway"), "Bad Gateway");
        assert_eq!(error_message(""), "(empty body)");
    }
}
