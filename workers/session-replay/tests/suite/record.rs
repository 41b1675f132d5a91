//! `replay::record` and what reads it back: idempotency, order, summary totals, search.

use agentos_kit::call;
use agentos_worker_session_replay::{Event, EventPage, GetEvents, RecordEvent, RecordMany, RecordedMany, Summary};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{T, get, record, stack, step};

fn seqs(page: &Value) -> Vec<u64> {
    page["events"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn the_same_seq_recorded_twice_is_one_event_and_the_second_answers_false() {
    let stack = stack().await;
    let client = stack.client();
    let event = step("s1", 1, "user_message", "t1", json!({"text": "hello"}));
    assert!(record(&client, &event).await);
    assert!(!record(&client, &event).await, "a redelivery records nothing");
    let page: EventPage =
        call(&client, "replay::get", &GetEvents { session_id: "s1".into(), ..GetEvents::default() }, T).await.unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0], Event::from(event.clone()));

    let bad =
        call::<_, Value>(&client, "replay::record", &step("s1", 2, "llm_response", "t1", json!({"model": "m"})), T)
            .await
            .unwrap_err();
    assert_eq!(bad.code, "INVALID_INPUT");
    assert!(bad.message.contains("missing field `provider`"), "{}", bad.message);
    stack.stop().await;
}

#[tokio::test]
async fn a_batch_is_recorded_step_by_step_once_and_one_bad_step_records_none_of_it() {
    let stack = stack().await;
    let client = stack.client();
    let batch = |steps: Vec<RecordEvent>| RecordMany { events: steps };
    let first = vec![
        step("s1", 1, "user_message", "t1", json!({"text": "hello"})),
        step("s1", 2, "context_built", "t1", json!({"messages": 1, "estimated_tokens": 8, "compacted": false})),
    ];
    let answer: RecordedMany = call(&client, "replay::record_many", &batch(first.clone()), T).await.unwrap();
    assert_eq!(answer.recorded, 2);
    // Delivered again, with one more step: only the new one is written.
    let mut again = first;
    again.push(step("s1", 3, "user_message", "t2", json!({"text": "more"})));
    let answer: RecordedMany = call(&client, "replay::record_many", &batch(again), T).await.unwrap();
    assert_eq!(answer.recorded, 1);
    let bad = vec![
        step("s1", 4, "user_message", "t3", json!({"text": "fine"})),
        step("s1", 5, "llm_response", "t3", json!({"model": "m"})),
    ];
    let err = call::<_, Value>(&client, "replay::record_many", &batch(bad), T).await.unwrap_err();
    assert_eq!(err.code, "INVALID_INPUT");
    let (_, page) = get(&stack, "/v1/sessions/s1/events").await;
    assert_eq!(seqs(&page), vec![1, 2, 3], "nothing of the bad batch was recorded");
    stack.stop().await;
}

#[tokio::test]
async fn events_recorded_out_of_order_come_back_by_seq_and_page_from_a_seq() {
    let stack = stack().await;
    let client = stack.client();
    for seq in [5, 1, 12, 3, 2] {
        assert!(record(&client, &step("s:1", seq, "user_message", "t1", json!({"text": format!("#{seq}")}))).await);
    }
    let (status, page) = get(&stack, "/v1/sessions/s%3A1/events").await;
    assert_eq!((status, seqs(&page)), (200, vec![1, 2, 3, 5, 12]));
    assert_eq!(page["session_id"], "s:1");
    let (_, page) = get(&stack, "/v1/sessions/s%3A1/events?from_seq=3&limit=2").await;
    assert_eq!(seqs(&page), vec![3, 5]);
    let (_, empty) = get(&stack, "/v1/sessions/nobody/events").await;
    assert_eq!(empty, json!({"session_id": "nobody", "events": []}));
    stack.stop().await;
}

/// One turn with a tool call that needed approval, then a turn that failed.
fn scripted_session() -> Vec<RecordEvent> {
    let usage = |i: u64, o: u64| json!({"input_tokens": i, "output_tokens": o});
    let mut events = vec![
        step("s1", 1, "user_message", "t1", json!({"text": "rename the module"})),
        step("s1", 2, "context_built", "t1", json!({"messages": 1, "estimated_tokens": 800, "compacted": false})),
        step(
            "s1",
            3,
            "llm_request",
            "t1",
            json!({"model": "small", "messages_count": 2, "tools": ["code::write_file"]}),
        ),
        step(
            "s1",
            4,
            "llm_response",
            "t1",
            json!({"model": "small", "provider": "openai", "content": null,
            "tool_calls": [{"id": "c1", "function_id": "code::write_file", "arguments": {"path": "a.rs"}}],
            "finish_reason": "tool_calls", "usage": usage(800, 40), "cost_usd": 0.002, "latency_ms": 300}),
        ),
        step(
            "s1",
            5,
            "tool_call",
            "t1",
            json!({"id": "c1", "function_id": "code::write_file", "arguments": {"path": "a.rs"}}),
        ),
        step(
            "s1",
            6,
            "approval_requested",
            "t1",
            json!({"approval_id": "ap1", "function_id": "code::write_file", "tier": "write", "rule": "ask-writes"}),
        ),
        step(
            "s1",
            7,
            "approval_decided",
            "t1",
            json!({"approval_id": "ap1", "decision": "approve", "scope": "once", "by": "cli"}),
        ),
        step(
            "s1",
            8,
            "tool_result",
            "t1",
            json!({"id": "c1", "function_id": "code::write_file", "ok": true, "result": {"bytes": 12}}),
        ),
        step(
            "s1",
            9,
            "llm_response",
            "t1",
            json!({"model": "small", "provider": "openai", "content": "Done.",
            "tool_calls": [], "finish_reason": "stop", "usage": usage(900, 10), "cost_usd": 0.001, "latency_ms": 200}),
        ),
        step(
            "s1",
            10,
            "turn_done",
            "t1",
            json!({"reply": "Done.", "usage": usage(1700, 50), "steps": 2, "finish": "stop"}),
        ),
        step("s1", 11, "user_message", "t2", json!({"text": "and the tests"})),
        step("s1", 12, "error", "t2", json!({"code": "PROVIDER_ERROR", "message": "the provider answered 502"})),
    ];
    events[3].duration_ms = Some(300);
    events[7].duration_ms = Some(25);
    events[8].duration_ms = Some(200);
    events[11].duration_ms = Some(40);
    for e in &mut events {
        e.trace_id = Some(format!("trace-{}", e.turn_id.as_deref().unwrap()));
    }
    events
}

#[tokio::test]
async fn the_summary_totals_a_scripted_session() {
    let stack = stack().await;
    let client = stack.client();
    for event in scripted_session().iter().rev() {
        assert!(record(&client, event).await);
    }
    let (status, body) = get(&stack, "/v1/sessions/s1/summary").await;
    assert_eq!(status, 200);
    let summary: Summary = serde_json::from_value(body).unwrap();
    let cost = summary.cost_usd.unwrap();
    assert!((cost - 0.003).abs() < 1e-12, "{cost}");
    assert_eq!(
        Summary { cost_usd: None, ..summary },
        Summary {
            session_id: "s1".into(),
            events: 12,
            turns: 2,
            started_ms: Some(1_010),
            // The first answer (seq 4) at 1_040 took 300 ms and ends last.
            ended_ms: Some(1_340),
            duration_ms: 330,
            llm_calls: 2,
            tool_calls: 1,
            input_tokens: 1_700,
            output_tokens: 50,
            cost_usd: None,
            errors: 1,
            approvals: 1,
            trace_ids: vec!["trace-t1".into(), "trace-t2".into()],
        }
    );
    stack.stop().await;
}

#[tokio::test]
async fn search_finds_steps_across_sessions_over_http() {
    let stack = stack().await;
    let client = stack.client();
    for event in scripted_session() {
        record(&client, &event).await;
    }
    record(&client, &step("s2", 1, "user_message", "u1", json!({"text": "Write the README"}))).await;
    record(
        &client,
        &step("s2", 2, "tool_call", "u1", json!({"id": "c9", "function_id": "code::write_file", "arguments": {}})),
    )
    .await;

    let (status, found) = get(&stack, "/v1/replay/search?q=WRITE_FILE").await;
    assert_eq!(status, 200);
    let hits: Vec<(String, u64)> = found["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["session_id"].as_str().unwrap().to_string(), e["seq"].as_u64().unwrap()))
        .collect();
    // Newest first: s1's seq 8 (1_080) is newer than s2's steps (1_010, 1_020).
    assert_eq!(
        hits,
        vec![
            ("s1".into(), 8),
            ("s1".into(), 6),
            ("s1".into(), 5),
            ("s1".into(), 4),
            ("s1".into(), 3),
            ("s2".into(), 2)
        ]
    );
    assert_eq!(found["total"], 6);
    let (_, only_s2) = get(&stack, "/v1/replay/search?q=write&session_id=s2&kind=user_message").await;
    assert_eq!(only_s2["events"].as_array().unwrap().len(), 1);
    assert_eq!(only_s2["events"][0]["data"]["text"], "Write the README");
    let (status, body) = get(&stack, "/v1/replay/search").await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!("INVALID_INPUT")));
    stack.stop().await;
}
