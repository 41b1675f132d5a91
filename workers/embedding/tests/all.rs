//! The embedding worker's integration tests: the real model against reference vectors, the
//! worker on the bus through the kit's harness, and the installer against a local registry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
