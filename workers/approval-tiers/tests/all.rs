//! approval-tiers' integration tests: the real worker (and the real hand-runner for hand rules)
//! against the embedded engine, on the bus and over the REST port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
