//! The approval worker's integration tests: the real approval, approval-tiers, code-agent (on a
//! temporary workspace) and hand-runner workers against the embedded engine, on the bus and
//! over the REST port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
