//! The protocol crate's one integration test binary: round trips over payloads captured from
//! the producers (`tests/fixtures/`).

mod suite;
