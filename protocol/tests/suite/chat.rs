//! The chat event stream, as agent-core writes it into its event channel.

use agentos_protocol::chat::ChatEvent;
use pretty_assertions::assert_eq;

use super::{fixture, round_trip};

#[test]
fn every_captured_chat_event_reads_as_its_kind_and_writes_back_the_same() {
    let lines = fixture("chat/events.jsonl");
    let mut names = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let event: ChatEvent = round_trip(&format!("chat/events.jsonl:{}", i + 1), line);
        assert!(!matches!(event, ChatEvent::Unknown { .. }), "line {} is a known event: {line}", i + 1);
        assert_eq!(event.name(), line["event"], "line {}", i + 1);
        assert_eq!(event.data(), line["data"], "line {}", i + 1);
        names.push(event.name().to_string());
    }
    names.dedup();
    assert_eq!(
        names,
        [
            "session",
            "token",
            "tool_call",
            "tool_result",
            "approval_requested",
            "approval_decided",
            "usage",
            "done",
            "error"
        ]
    );
}

#[test]
fn an_event_nobody_knows_yet_survives_the_round_trip() {
    let line = serde_json::json!({"event": "plan_updated", "data": {"steps": ["read", "fix"]}});
    let event: ChatEvent = round_trip("unknown event", &line);
    assert_eq!(event, ChatEvent::Unknown { event: "plan_updated".into(), data: line["data"].clone() });
}
