//! The session-replay worker's integration tests: the real worker (with session-lifecycle next
//! to it) against the embedded engine, through the kit's harness, on the bus and over the REST
//! port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
