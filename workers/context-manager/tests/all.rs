//! The context-manager's integration tests: the real worker on the embedded engine through the
//! kit's harness, with a real llm-router worker in front of the scripted LLM server from
//! `agentos-test-support`, and test functions standing in for the memory worker.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
