//! The functions the engine serves itself: state, streams, pub/sub, queues, introspection,
//! channels and observability. Each group registers only when its config.yaml worker is enabled.

pub mod engine_fns;
pub mod observability;
pub mod pubsub;
pub mod state;

use agentos_protocol::{ErrorBody, codes};

use crate::engine::Engine;
use crate::store::StoreError;

/// The error body of a failed store call: `payload_too_large` naming the limit and the config
/// key that sets it (`limit_key`, e.g. `iii-state.max_value_bytes`), else `code` with the
/// store's message.
pub(crate) fn store_error(err: StoreError, code: &str, limit_key: &str) -> ErrorBody {
    match err {
        StoreError::TooLarge { bytes, limit } => ErrorBody::new(
            codes::PAYLOAD_TOO_LARGE,
            format!(
                "the value is {bytes} bytes of JSON, over the limit of {limit} bytes ({limit_key}); store less, \
                 split it over several keys, or raise {limit_key} in the engine config"
            ),
        ),
        other => ErrorBody::new(code, other.to_string()),
    }
}

/// Registers every enabled built-in function.
pub fn register_all(engine: &Engine) {
    let enabled = engine.config().enabled;
    engine_fns::register(engine);
    crate::channels::register_builtins(engine);
    observability::register(engine);
    if enabled.state {
        state::register(engine);
    }
    if enabled.stream {
        crate::stream::register_builtins(engine);
    }
    if enabled.pubsub {
        pubsub::register(engine);
    }
    if enabled.queue {
        crate::queue::register_builtins(engine);
    }
}
