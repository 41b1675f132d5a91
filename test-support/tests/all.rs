//! Integration tests of the scripted LLM server.
// Test helpers outside `#[test]` fns panic on purpose: a failed request is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
