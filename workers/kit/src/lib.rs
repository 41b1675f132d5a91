//! agentos-kit: the one shared worker library.
//!
//! Every agentos worker connects to the engine the same way, names itself the same way, answers
//! health the same way and turns its typed errors into iii errors the same way; that plumbing
//! lives here once. A worker is a library crate with domain functions on typed requests plus
//! one [`Worker`] declaration that binds each function id and route to them, once; its
//! manifest is derived from that declaration and its `run()` is [`Worker::run`]
//! (docs/workers.md walks through adding one).
//!
//! Rules the kit keeps for every worker:
//! - Workers stay plain `iii-sdk` programs, so they also run unmodified on the real iii engine.
//! - Errors carry a stable SCREAMING_SNAKE code ([`codes`]) and a message that names the fix;
//!   callers get the code back ([`typed::call`]), HTTP clients get it as
//!   `{"error":{"code","message"}}` with a matching status ([`http::status_for`]).
//! - No worker parses JSON by hand, reads the wall clock ([`clock::now_ms`]) or talks to
//!   `state::*` with raw values ([`state`]).

pub mod channel;
pub mod chat;
pub mod clock;
pub mod config;
pub mod connect;
pub mod error;
#[cfg(feature = "test-harness")]
pub mod harness;
pub mod health;
pub mod http;
pub mod manifest;
pub mod paths;
pub mod run;
pub mod secret;
pub mod state;
pub mod typed;
pub mod worker;

/// Percent-encoding of URL parts (the one implementation, in the protocol crate).
pub use agentos_protocol::url;
pub mod workspace;

pub use connect::{
    DEFAULT_ENGINE_URL, ENGINE_TOKEN_ENV, connect, connect_as, connect_with_telemetry, engine_token, engine_url,
    set_engine_url,
};
pub use error::{ErrorCode, WorkerError, codes};
pub use manifest::{HttpRoute, ManifestFile, RestartPolicy, WorkerManifest};
pub use run::{run_worker, run_worker_with_health};
pub use typed::{call, register_typed, register_typed_with};
pub use worker::{Registration, Worker};

/// The SDK types a worker needs next to the kit, so worker crates can name them without
/// spelling out `iii_sdk` paths.
pub use iii_sdk::{FunctionRef, III, IIIError, RegisterFunctionMessage, Trigger};
