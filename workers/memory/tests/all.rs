//! The memory worker's integration tests: the real worker on the embedded engine through the
//! kit's harness, with the real embedding worker (all-MiniLM-L6-v2 from
//! `AGENTOS_EMBEDDING_MODEL_DIR`, which scripts/test exports) where semantics matter, and the real
//! realm worker for realms.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
