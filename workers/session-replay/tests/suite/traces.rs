//! `/v1/traces`: a real call chain through the engine, recorded as a session's step, found
//! again as the session's trace and as a span tree.

use agentos_kit::harness::TestStack;
use agentos_kit::{RestartPolicy, WorkerError, WorkerManifest, call, register_typed};
use agentos_worker_session_replay::RecordEvent;
use pretty_assertions::assert_eq;
use reqwest::Method;
use serde_json::{Value, json};

use super::{T, get, record, send, stack, step};

/// A test worker whose `chain::outer` calls `chain::inner` through the engine.
static CHAIN: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "chain",
    description: "A two-step call chain, so the engine records a trace with a parent and a child span.",
    functions: vec!["chain::outer", "chain::inner"],
    http_routes: vec![],
    depends_on: &[],
    restart: RestartPolicy::No,
});

/// Starts [`CHAIN`], calls `chain::outer` once and answers the trace id the engine gave it
/// (telemetry is off in the harness, so the id comes from `engine::traces::list`).
async fn traced_call(stack: &TestStack) -> String {
    stack
        .worker(&CHAIN, |iii| {
            register_typed(
                iii,
                "chain::inner",
                "answers",
                |_: Value| async move { Ok::<_, WorkerError>(json!("inner")) },
            );
            let caller = iii.clone();
            register_typed(iii, "chain::outer", "calls chain::inner", move |_: Value| {
                let caller = caller.clone();
                async move { call::<_, Value>(&caller, "chain::inner", &json!({}), T).await }
            });
        })
        .await;
    let client = stack.client();
    let answer: Value = call(&client, "chain::outer", &json!({}), T).await.unwrap();
    assert_eq!(answer, json!("inner"));
    let roots: Value = call(&client, "engine::traces::list", &json!({"function_id": "chain::outer"}), T).await.unwrap();
    let spans = roots["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 1, "{roots:#}");
    assert_eq!(spans[0]["function_id"], "chain::outer");
    spans[0]["trace_id"].as_str().unwrap().to_string()
}

/// The function ids of a span tree, depth first.
fn functions(node: &Value, out: &mut Vec<String>) {
    if let Some(f) = node["function_id"].as_str() {
        out.push(f.to_string());
    }
    for child in node["children"].as_array().into_iter().flatten() {
        functions(child, out);
    }
}

#[tokio::test]
async fn a_sessions_traces_are_its_recorded_trace_ids_with_their_root_spans_and_trees() {
    let stack = stack().await;
    let trace_id = traced_call(&stack).await;
    let client = stack.client();
    let event =
        RecordEvent { trace_id: Some(trace_id.clone()), ..step("s1", 1, "user_message", "t1", json!({"text": "hi"})) };
    assert!(record(&client, &event).await);
    let expired = RecordEvent {
        trace_id: Some("0".repeat(32)),
        ..step("s1", 2, "turn_done", "t2", json!({"reply": "", "usage": {}, "steps": 0, "finish": "stop"}))
    };
    assert!(record(&client, &expired).await);

    let (status, list) = get(&stack, "/v1/traces?session_id=s1").await;
    assert_eq!(status, 200, "{list}");
    let traces = list["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 2, "{list:#}");
    assert_eq!((&traces[0]["trace_id"], &traces[0]["turn_id"]), (&json!(trace_id), &json!("t1")));
    assert_eq!(traces[0]["root"]["function_id"], "chain::outer");
    assert!(traces[0]["duration_ms"].as_f64().unwrap() > 0.0, "{list:#}");
    assert!(traces[0]["started_ms"].as_u64().unwrap() > 1_600_000_000_000, "a Unix time: {list:#}");
    assert_eq!(
        traces[1],
        json!({"trace_id": "0".repeat(32), "root": null, "started_ms": 1_020, "duration_ms": 0.0, "turn_id": "t2"}),
        "a trace the engine no longer keeps keeps its place"
    );

    let (status, tree) = get(&stack, &format!("/v1/traces/{trace_id}")).await;
    assert_eq!(status, 200, "{tree}");
    assert_eq!(tree["trace_id"], json!(trace_id));
    let roots = tree["roots"].as_array().unwrap();
    assert_eq!(roots.len(), 1, "{tree:#}");
    let mut chain = Vec::new();
    functions(&roots[0], &mut chain);
    assert_eq!(chain, vec!["chain::outer", "chain::inner"]);

    let (status, recent) = get(&stack, "/v1/traces?limit=50").await;
    assert_eq!(status, 200);
    assert!(recent["traces"].as_array().unwrap().iter().any(|t| t["trace_id"] == json!(trace_id)), "{recent:#}");

    let (status, body) = get(&stack, &format!("/v1/traces/{}", "0".repeat(32))).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("NOT_FOUND")));
    assert!(body["error"]["message"].as_str().unwrap().contains("GET /v1/traces"), "{body}");
    let (status, _) = send(&stack, Method::GET, &format!("/v1/traces/{trace_id}"), Some("wrong")).await;
    assert_eq!(status, 401);
    stack.stop().await;
}
