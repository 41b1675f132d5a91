//! The status contract, as the supervisor answers `GET /v1/workers`.

use agentos_protocol::status::{WorkerList, WorkerState};

use super::{fixture, round_trip};

#[test]
fn every_captured_worker_list_reads_and_writes_back_the_same() {
    let lists = fixture("status/workers.jsonl");
    assert!(!lists.is_empty());
    for (i, list) in lists.iter().enumerate() {
        let list: WorkerList = round_trip(&format!("status/workers.jsonl:{}", i + 1), list);
        assert!(list.workers.iter().all(|w| !w.name.is_empty() && w.state != WorkerState::Unknown));
    }
}
