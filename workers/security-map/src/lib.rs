//! The security-map worker: who may connect to the engine, which namespaces each identity owns,
//! and which functions and state scopes it may reach.
//!
//! - [`tokens`]: the engine token file (digests only) and its cache.
//! - [`map`]: the capability map, pure decisions over an authenticated identity.
//! - [`hooks`]: the same decisions on the JSON of iii's RBAC model (auth function, registration
//!   hooks, middleware), which the embedded engine runs as built-ins.
//! - [`register`]: the worker itself, `security::map_list|map_check` and
//!   `GET /v1/security/capabilities`, for `agentos policy capabilities`.

pub mod hooks;
pub mod map;
mod register;
pub mod tokens;

pub use register::{MANIFEST, TOKENS_FILE_ENV, Tokens, capabilities, run, worker};
