//! The session contract, as session-lifecycle answers and publishes it.

use agentos_protocol::session::{Session, SessionEvent, SessionList, SessionState};

use super::{fixture, round_trip};

#[test]
fn every_captured_session_list_and_event_reads_and_writes_back_the_same() {
    let sessions: Vec<Session> = fixture("session/sessions.jsonl")
        .iter()
        .enumerate()
        .map(|(i, s)| round_trip(&format!("session/sessions.jsonl:{}", i + 1), s))
        .collect();
    for state in [SessionState::Active, SessionState::Done, SessionState::Failed] {
        assert!(sessions.iter().any(|s| s.state == state), "{state:?}");
    }
    assert!(sessions.iter().any(|s| s.last_error.is_some()));
    for (i, list) in fixture("session/lists.jsonl").iter().enumerate() {
        round_trip::<SessionList>(&format!("session/lists.jsonl:{}", i + 1), list);
    }
    for (i, event) in fixture("session/bus_events.jsonl").iter().enumerate() {
        let event: SessionEvent = round_trip(&format!("session/bus_events.jsonl:{}", i + 1), event);
        assert!(SessionEvent::is_session_event(&event.event), "{}", event.event);
    }
}
