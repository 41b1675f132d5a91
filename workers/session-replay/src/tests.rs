//! The replay verbs against an in-memory store.

use std::collections::BTreeMap;
use std::sync::Mutex;

use agentos_kit::ErrorCode;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

/// Events by session then key; spans by trace id.
#[derive(Default)]
struct Fake {
    events: Mutex<BTreeMap<String, BTreeMap<String, Event>>>,
    roots: BTreeMap<String, Vec<Value>>,
    writes: Mutex<usize>,
    index: Mutex<BTreeMap<String, u64>>,
}

impl ReplayStore for Fake {
    async fn get_event(&self, session_id: &str, key: &str) -> Result<Option<Event>, WorkerError> {
        Ok(self.events.lock().unwrap().get(session_id).and_then(|s| s.get(key)).cloned())
    }

    async fn put_event(&self, event: &Event) -> Result<(), WorkerError> {
        *self.writes.lock().unwrap() += 1;
        self.events.lock().unwrap().entry(event.session_id.clone()).or_default().insert(event.key(), event.clone());
        Ok(())
    }

    async fn events(&self, session_id: &str) -> Result<Vec<Event>, WorkerError> {
        // Insertion order is not seq order: answer newest key first to prove the sort.
        Ok(self.events.lock().unwrap().get(session_id).map(|s| s.values().rev().cloned().collect()).unwrap_or_default())
    }

    async fn delete_event(&self, session_id: &str, key: &str) -> Result<bool, WorkerError> {
        Ok(self.events.lock().unwrap().get_mut(session_id).and_then(|s| s.remove(key)).is_some())
    }

    async fn sessions(&self) -> Result<Vec<String>, WorkerError> {
        Ok(self.events.lock().unwrap().keys().cloned().collect())
    }

    async fn newest(&self) -> Result<Vec<retention::SessionAge>, WorkerError> {
        let index = self.index.lock().unwrap();
        Ok(index.iter().map(|(s, t)| retention::SessionAge { session_id: s.clone(), newest_ms: *t }).collect())
    }

    async fn newest_of(&self, session_id: &str) -> Result<Option<u64>, WorkerError> {
        Ok(self.index.lock().unwrap().get(session_id).copied())
    }

    async fn set_newest(&self, age: &retention::SessionAge) -> Result<(), WorkerError> {
        self.index.lock().unwrap().insert(age.session_id.clone(), age.newest_ms);
        Ok(())
    }

    async fn forget_newest(&self, session_id: &str) -> Result<(), WorkerError> {
        self.index.lock().unwrap().remove(session_id);
        Ok(())
    }

    async fn trace_roots(&self, trace_id: &str) -> Result<Vec<Value>, WorkerError> {
        Ok(self.roots.get(trace_id).cloned().unwrap_or_default())
    }

    async fn recent_roots(&self, limit: usize) -> Result<Vec<Value>, WorkerError> {
        Ok(self.roots.values().flatten().take(limit).cloned().collect())
    }

    async fn trace_tree(&self, trace_id: &str) -> Result<Vec<Value>, WorkerError> {
        Ok(self.roots.get(trace_id).cloned().unwrap_or_default())
    }
}

fn step(session: &str, seq: u64, kind: &str, data: Value) -> RecordEvent {
    RecordEvent {
        session_id: session.into(),
        seq,
        kind: kind.into(),
        at_ms: 1_000 + seq,
        duration_ms: None,
        turn_id: Some("t1".into()),
        trace_id: None,
        data,
    }
}

fn seqs(page: &EventPage) -> Vec<u64> {
    page.events.iter().map(|e| e.seq).collect()
}

#[tokio::test]
async fn the_same_seq_twice_is_recorded_once() {
    let r = Replay::new(Fake::default());
    let first = step("s1", 1, "user_message", json!({"text": "hi"}));
    assert_eq!(r.record(first.clone()).await.unwrap(), Recorded { recorded: true });
    assert_eq!(r.record(first).await.unwrap(), Recorded { recorded: false });
    let other = step("s1", 1, "user_message", json!({"text": "a different step on the same seq"}));
    assert_eq!(r.record(other).await.unwrap(), Recorded { recorded: false });
    let page = r.get(GetEvents { session_id: "s1".into(), ..GetEvents::default() }).await.unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].data, json!({"text": "hi"}), "the first record wins");
    assert_eq!(*r.store().writes.lock().unwrap(), 1);
}

#[tokio::test]
async fn concurrent_deliveries_of_one_step_write_it_once() {
    let r = std::sync::Arc::new(Replay::new(Fake::default()));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let r = std::sync::Arc::clone(&r);
            tokio::spawn(async move { r.record(step("s1", 7, "user_message", json!({"text": "x"}))).await.unwrap() })
        })
        .collect();
    let mut recorded = 0;
    for t in tasks {
        recorded += usize::from(t.await.unwrap().recorded);
    }
    assert_eq!((recorded, *r.store().writes.lock().unwrap()), (1, 1));
}

#[tokio::test]
async fn events_come_back_by_seq_from_a_seq_and_up_to_a_limit() {
    let r = Replay::new(Fake::default());
    for seq in [3, 1, 10, 2] {
        r.record(step("s1", seq, "user_message", json!({"text": seq.to_string()}))).await.unwrap();
    }
    r.record(step("s2", 5, "user_message", json!({"text": "other session"}))).await.unwrap();
    let all = r.get(GetEvents { session_id: "s1".into(), ..GetEvents::default() }).await.unwrap();
    assert_eq!(seqs(&all), vec![1, 2, 3, 10]);
    let page = r.get(GetEvents { session_id: "s1".into(), from_seq: Some(2), limit: Some(2) }).await.unwrap();
    assert_eq!(seqs(&page), vec![2, 3]);
    let none = r.get(GetEvents { session_id: "nobody".into(), ..GetEvents::default() }).await.unwrap();
    assert_eq!(none, EventPage { session_id: "nobody".into(), events: vec![] });
    let err = r.get(GetEvents { session_id: "s1".into(), limit: Some(0), ..GetEvents::default() }).await.unwrap_err();
    assert_eq!(err, ReplayError::InvalidLimit { given: 0, max: EVENTS_MAX });
}

#[tokio::test]
async fn a_record_is_checked_before_anything_is_written() {
    let r = Replay::new(Fake::default());
    let cases = [
        (RecordEvent { session_id: "a b".into(), ..step("s", 1, "x", json!({})) }, "session id"),
        (step("s", 1, "Tool Call", json!({})), "event kind"),
        (step("s", 1, "user_message", json!({"txt": "typo"})), "missing field `text`"),
        (step("s", 1, "future_kind", json!("not an object")), "must be a JSON object"),
        (RecordEvent { trace_id: Some("has space".into()), ..step("s", 1, "x", json!({})) }, "trace_id"),
        (RecordEvent { turn_id: Some(String::new()), ..step("s", 1, "x", json!({})) }, "turn_id"),
    ];
    for (req, says) in cases {
        let err = r.record(req.clone()).await.unwrap_err();
        assert_eq!(err.code(), "INVALID_INPUT", "{req:?}");
        assert!(err.to_string().contains(says), "{err}");
    }
    assert_eq!(*r.store().writes.lock().unwrap(), 0);
    assert!(r.record(step("s", 1, "future_kind", json!({"any": "thing"}))).await.unwrap().recorded);
}

#[test]
fn a_record_with_an_unknown_field_is_refused_by_name() {
    let err = serde_json::from_value::<RecordEvent>(json!({
        "session_id": "s", "seq": 1, "kind": "x", "at_ms": 1, "data": {}, "durationMs": 3
    }))
    .unwrap_err();
    assert!(err.to_string().contains("unknown field `durationMs`"), "{err}");
}

#[tokio::test]
async fn search_finds_across_sessions_by_text_kind_and_session() {
    let r = Replay::new(Fake::default());
    r.record(step("s1", 1, "user_message", json!({"text": "Fix the Parser"}))).await.unwrap();
    r.record(step(
        "s1",
        2,
        "tool_call",
        json!({"id": "c", "function_id": "code::read_file", "arguments": {"path": "parser.rs"}}),
    ))
    .await
    .unwrap();
    r.record(step("s2", 3, "user_message", json!({"text": "parser again"}))).await.unwrap();
    r.record(step("s2", 4, "user_message", json!({"text": "unrelated"}))).await.unwrap();
    let found = |res: SearchResult| res.events.iter().map(|e| (e.session_id.clone(), e.seq)).collect::<Vec<_>>();

    let all = r.search(SearchEvents { query: "PARSER".into(), ..SearchEvents::default() }).await.unwrap();
    assert_eq!(all.total, 3);
    assert_eq!(found(all), vec![("s2".into(), 3), ("s1".into(), 2), ("s1".into(), 1)]);
    let kind = SearchEvents { query: "parser".into(), kind: Some("tool_call".into()), ..SearchEvents::default() };
    assert_eq!(found(r.search(kind).await.unwrap()), vec![("s1".into(), 2)]);
    let one = SearchEvents { query: "parser".into(), session_id: Some("s2".into()), ..SearchEvents::default() };
    assert_eq!(found(r.search(one).await.unwrap()), vec![("s2".into(), 3)]);
    let limited = SearchEvents { query: "parser".into(), limit: Some(1), ..SearchEvents::default() };
    let limited = r.search(limited).await.unwrap();
    assert_eq!((limited.total, limited.events.len()), (3, 1));
    let empty = r.search(SearchEvents { query: " ".into(), ..SearchEvents::default() }).await.unwrap_err();
    assert_eq!(empty.code(), "INVALID_INPUT");
}

#[tokio::test]
async fn delete_removes_one_sessions_events_only() {
    let r = Replay::new(Fake::default());
    for seq in 1..=3 {
        r.record(step("s1", seq, "x", json!({}))).await.unwrap();
    }
    r.record(step("s2", 1, "x", json!({}))).await.unwrap();
    assert_eq!(
        r.delete(SessionRef { session_id: "s1".into() }).await.unwrap(),
        DeletedEvents { session_id: "s1".into(), deleted: 3 }
    );
    let s1 = r.get(GetEvents { session_id: "s1".into(), ..GetEvents::default() }).await.unwrap();
    let s2 = r.get(GetEvents { session_id: "s2".into(), ..GetEvents::default() }).await.unwrap();
    assert_eq!((s1.events.len(), s2.events.len()), (0, 1));
}

#[tokio::test]
async fn a_sessions_traces_join_its_trace_ids_with_their_root_spans() {
    let root = json!({"trace_id": "tr1", "name": "call agent::chat", "start_time_unix_nano": 5_000_000_000_i64,
                      "end_time_unix_nano": 5_250_000_000_i64});
    let store = Fake { roots: BTreeMap::from([("tr1".to_string(), vec![root.clone()])]), ..Fake::default() };
    let r = Replay::new(store);
    r.record(RecordEvent { trace_id: Some("tr1".into()), ..step("s1", 1, "x", json!({})) }).await.unwrap();
    r.record(RecordEvent {
        trace_id: Some("gone".into()),
        turn_id: Some("t2".into()),
        duration_ms: Some(7),
        ..step("s1", 2, "x", json!({}))
    })
    .await
    .unwrap();
    let list = r.traces(ListTraces { session_id: Some("s1".into()), limit: None, turns: false }).await.unwrap();
    assert_eq!(
        list,
        TraceList {
            traces: vec![
                Trace {
                    trace_id: "tr1".into(),
                    root: Some(root.clone()),
                    started_ms: 5_000,
                    duration_ms: 250.0,
                    turn_id: Some("t1".into())
                },
                Trace {
                    trace_id: "gone".into(),
                    root: None,
                    started_ms: 1_002,
                    duration_ms: 7.0,
                    turn_id: Some("t2".into())
                },
            ]
        }
    );
    let recent = r.traces(ListTraces::default()).await.unwrap();
    assert_eq!(recent.traces.iter().map(|t| t.trace_id.as_str()).collect::<Vec<_>>(), vec!["tr1"]);
    assert_eq!(
        r.trace(TraceRef { trace_id: "tr1".into() }).await.unwrap(),
        TraceTree { trace_id: "tr1".into(), roots: vec![root] }
    );
    assert_eq!(
        r.trace(TraceRef { trace_id: "gone".into() }).await.unwrap_err(),
        ReplayError::TraceNotFound { trace_id: "gone".into() }
    );
}

#[test]
fn keys_sort_as_numbers_and_kinds_follow_their_rule() {
    assert_eq!(seq_key(42), "00000000000000000042");
    assert!(seq_key(9) < seq_key(10));
    assert_eq!(seq_key(u64::MAX).len(), 20);
    assert!(check_kind("tool_call").is_ok());
    for bad in ["", "Tool", "1x", "tool-call", &"k".repeat(TAG_MAX + 1)] {
        assert!(check_kind(bad).is_err(), "{bad}");
    }
    assert!((0..100).map(|i| stripe(&format!("s{i}"))).all(|s| s < LOCK_STRIPES));
}

#[tokio::test]
async fn the_sweep_deletes_whole_sessions_past_the_retention_and_keeps_the_rest() {
    let r = Replay::new(Fake::default());
    let at = |session: &str, seq: u64, at_ms: u64| RecordEvent {
        at_ms,
        ..step(session, seq, "user_message", json!({"text": "x"}))
    };
    let day = 24 * 60 * 60 * 1000;
    // "old" had its last step 40 days ago; "mid" 10 days ago; "new" today.
    for req in [
        at("old", 1, 0),
        at("old", 2, 60 * day),
        at("mid", 1, 90 * day),
        at("new", 1, 99 * day),
        at("new", 2, 100 * day),
    ] {
        r.record(req).await.unwrap();
    }
    let settings = retention::ReplaySettings { retention_days: 30, max_sessions: 0, sweep_secs: 1 };
    let report = r.sweep(&settings, 100 * day).await.unwrap();
    assert_eq!(report, retention::SweepReport { sessions: vec!["old".into()], events: 2 });
    assert_eq!(r.store().sessions().await.unwrap().len(), 3, "the fake keeps emptied session maps");
    assert_eq!(r.get(GetEvents { session_id: "old".into(), ..GetEvents::default() }).await.unwrap().events, vec![]);

    let settings = retention::ReplaySettings { retention_days: 0, max_sessions: 1, sweep_secs: 1 };
    let report = r.sweep(&settings, 100 * day).await.unwrap();
    assert_eq!(report, retention::SweepReport { sessions: vec!["mid".into()], events: 1 });
    let kept = r.get(GetEvents { session_id: "new".into(), ..GetEvents::default() }).await.unwrap();
    assert_eq!(seqs(&kept), vec![1, 2]);
}

#[tokio::test]
async fn the_index_follows_a_session_within_an_hour_never_backwards_and_goes_with_it() {
    let r = Replay::new(Fake::default());
    let hour = INDEX_SLACK_MS;
    let at = |seq: u64, at_ms: u64| RecordEvent { at_ms, ..step("s1", seq, "user_message", json!({"text": "x"})) };
    r.record(at(1, 10 * hour)).await.unwrap();
    assert_eq!(r.store().newest_of("s1").await.unwrap(), Some(10 * hour));
    // Within the slack: no index write.
    r.record(at(2, 10 * hour + hour / 2)).await.unwrap();
    assert_eq!(r.store().newest_of("s1").await.unwrap(), Some(10 * hour));
    r.record(at(3, 12 * hour)).await.unwrap();
    assert_eq!(r.store().newest_of("s1").await.unwrap(), Some(12 * hour));
    // A late step from long ago (a redelivery) never moves it back, even after a restart.
    let restarted = Replay::new(Fake::default());
    restarted
        .store()
        .set_newest(&retention::SessionAge { session_id: "s1".into(), newest_ms: 12 * hour })
        .await
        .unwrap();
    restarted.record(at(4, hour)).await.unwrap();
    assert_eq!(restarted.store().newest_of("s1").await.unwrap(), Some(12 * hour));
    r.delete(SessionRef { session_id: "s1".into() }).await.unwrap();
    assert_eq!(r.store().newest_of("s1").await.unwrap(), None);
}

#[tokio::test]
async fn a_session_missing_from_the_index_is_read_once_and_indexed_by_the_sweep() {
    let r = Replay::new(Fake::default());
    let day = 24 * INDEX_SLACK_MS;
    r.record(RecordEvent { at_ms: 5 * day, ..step("s1", 1, "user_message", json!({"text": "x"})) }).await.unwrap();
    // As if recorded by a worker from before the index.
    r.store().forget_newest("s1").await.unwrap();
    let settings = retention::ReplaySettings { retention_days: 30, max_sessions: 0, sweep_secs: 1 };
    assert_eq!(r.sweep(&settings, 10 * day).await.unwrap(), retention::SweepReport::default());
    assert_eq!(r.store().newest_of("s1").await.unwrap(), Some(5 * day));
}
