//! The CLI's integration tests: the real `agentos` binary against a scripted local server that
//! plays the stack's REST port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
