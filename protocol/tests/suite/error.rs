//! The REST error body, as the kit's HTTP routes write it.

use agentos_protocol::error::ErrorResponse;

use super::{fixture, round_trip};

#[test]
fn every_captured_error_body_reads_and_writes_back_the_same() {
    let bodies = fixture("error/bodies.jsonl");
    assert!(bodies.len() >= 5);
    for (i, body) in bodies.iter().enumerate() {
        let typed: ErrorResponse = round_trip(&format!("error/bodies.jsonl:{}", i + 1), body);
        assert!(!typed.error.code.is_empty() && !typed.error.message.is_empty());
    }
}
