//! The engine conformance suite: the embedded engine in-process on free ports, driven by real
//! `iii-sdk =0.11.6` workers and real HTTP clients.

// Test helpers outside `#[test]` functions may panic on failure: that is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
