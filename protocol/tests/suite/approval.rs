//! The approval contract, as the approval workers answer and publish it.

use agentos_protocol::approval::{
    Classification, DecideBody, Deleted, Listing, Remembered, Request, Scope, Status, Verdict,
};
use agentos_protocol::chat::ChatEvent;
use pretty_assertions::assert_eq;
use serde_json::Value;

use super::{fixture, round_trip};

#[test]
fn every_captured_request_reads_and_writes_back_the_same() {
    let requests: Vec<Request> = fixture("approval/requests.jsonl")
        .iter()
        .enumerate()
        .map(|(i, r)| round_trip(&format!("approval/requests.jsonl:{}", i + 1), r))
        .collect();
    // The captures cover every status and every way a decision comes.
    for status in [Status::Pending, Status::Approved, Status::Denied] {
        assert!(requests.iter().any(|r| r.status == status), "{status:?}");
    }
    let decisions: Vec<_> = requests.iter().filter_map(|r| r.decision.as_ref()).collect();
    for scope in [Scope::Once, Scope::Session, Scope::Always] {
        assert!(decisions.iter().any(|d| d.decision == Verdict::Approve && d.scope == scope), "{scope:?}");
    }
    assert!(decisions.iter().any(|d| d.by.via.as_str() == "timeout"));
    assert!(requests.iter().any(|r| r.diff.is_some() && r.turn_gone.is_none()));
}

#[test]
fn every_published_approval_event_is_the_chat_streams_approval_event() {
    for (i, line) in fixture("approval/bus_events.jsonl").iter().enumerate() {
        let event: ChatEvent = round_trip(&format!("approval/bus_events.jsonl:{}", i + 1), line);
        assert!(matches!(event, ChatEvent::ApprovalRequested(_) | ChatEvent::ApprovalDecided(_)), "{event:?}");
    }
}

#[test]
fn listings_rules_deletions_and_classifications_read_and_write_back_the_same() {
    for (i, v) in fixture("approval/listings.jsonl").iter().enumerate() {
        round_trip::<Listing>(&format!("approval/listings.jsonl:{}", i + 1), v);
    }
    for (i, v) in fixture("approval/remembered.jsonl").iter().enumerate() {
        round_trip::<Remembered>(&format!("approval/remembered.jsonl:{}", i + 1), v);
    }
    for (i, v) in fixture("approval/deleted.jsonl").iter().enumerate() {
        round_trip::<Deleted>(&format!("approval/deleted.jsonl:{}", i + 1), v);
    }
    for (i, v) in fixture("approval/classifications.jsonl").iter().enumerate() {
        round_trip::<Classification>(&format!("approval/classifications.jsonl:{}", i + 1), v);
    }
}

/// A decision body is an input with defaults: what a client leaves out (`scope`) comes back
/// filled in; everything it sent comes back as sent.
#[test]
fn every_captured_decision_body_reads_and_keeps_what_was_sent() {
    for (i, body) in fixture("approval/decide_bodies.jsonl").iter().enumerate() {
        let typed: DecideBody = serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let back = serde_json::to_value(&typed).unwrap_or_default();
        for (key, value) in body.as_object().into_iter().flatten() {
            assert_eq!(back.get(key), Some(value), "line {}: {key}", i + 1);
        }
        if body.get("scope").is_none() {
            assert_eq!(back["scope"], Value::from("once"), "line {}", i + 1);
        }
    }
}
