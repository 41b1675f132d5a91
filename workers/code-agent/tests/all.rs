//! The code-agent worker's integration tests: the real worker against the embedded engine,
//! through the kit's harness.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
