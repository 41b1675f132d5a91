//! The replay contract, as agent-core records steps and session-replay answers them.

use agentos_protocol::replay::{Event, EventPage, KNOWN, RecordEvent, SearchResult, Step, Summary};
use pretty_assertions::assert_eq;

use super::{fixture, round_trip};

#[test]
fn every_recorded_step_reads_as_its_kind_and_writes_back_the_same() {
    let mut kinds = Vec::new();
    for (i, line) in fixture("replay/records.jsonl").iter().enumerate() {
        let what = format!("replay/records.jsonl:{}", i + 1);
        let record: RecordEvent = round_trip(&what, line);
        let step = Step::from_parts(&record.kind, record.data.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(!matches!(step, Step::Unknown { .. }), "{what}: a known kind");
        assert_eq!(step.kind(), record.kind, "{what}");
        assert_eq!(step.data(), record.data, "{what}: the step's data changed on the way through its type");
        kinds.push(record.kind);
    }
    for kind in KNOWN {
        assert!(kinds.iter().any(|k| k == kind), "the captures hold a `{kind}` step");
    }
}

#[test]
fn pages_searches_and_summaries_read_and_write_back_the_same() {
    for (i, page) in fixture("replay/event_pages.jsonl").iter().enumerate() {
        let page: EventPage = round_trip(&format!("replay/event_pages.jsonl:{}", i + 1), page);
        for event in &page.events {
            event.step().unwrap_or_else(|e| panic!("seq {}: {e}", event.seq));
        }
    }
    for (i, result) in fixture("replay/searches.jsonl").iter().enumerate() {
        round_trip::<SearchResult>(&format!("replay/searches.jsonl:{}", i + 1), result);
    }
    for (i, summary) in fixture("replay/summaries.jsonl").iter().enumerate() {
        round_trip::<Summary>(&format!("replay/summaries.jsonl:{}", i + 1), summary);
    }
}

#[test]
fn a_recorded_step_is_a_stored_event_with_the_same_fields() {
    let line = &fixture("replay/records.jsonl")[0];
    let record: RecordEvent = round_trip("record", line);
    let event = Event::from(record.clone());
    assert_eq!((event.seq, event.kind.as_str(), &event.data), (record.seq, record.kind.as_str(), &record.data));
    assert_eq!(event.key(), format!("{:020}", record.seq));
}
