//! The llm-router's integration tests: the real clients against the scripted LLM server from
//! `agentos-test-support`, and the worker on the bus through the kit's harness.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
