//! The context-cache worker's integration tests: the real worker on the embedded engine through
//! the kit's harness, caching a test worker's function.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
