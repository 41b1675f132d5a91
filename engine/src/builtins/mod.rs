//! The functions the engine serves itself: state, streams, pub/sub, queues, introspection,
//! channels and observability. Each group registers only when its config.yaml worker is enabled.

pub mod engine_fns;
pub mod observability;
pub mod pubsub;
pub mod state;

use crate::engine::Engine;

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
