//! The engine's integration tests: a real engine on free ports, real `iii-sdk` clients and raw
//! sockets.

// Test helpers outside `#[test]` functions may panic on failure: that is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
