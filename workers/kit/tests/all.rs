//! The kit's integration tests: real iii-sdk workers against the embedded engine, through the
//! kit's own harness.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
