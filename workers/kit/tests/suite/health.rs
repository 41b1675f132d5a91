//! The automatic health function.

use std::time::{Duration, Instant};

use agentos_kit::harness::TestStack;
use agentos_kit::health::{Health, HealthStatus};
use agentos_kit::{RestartPolicy, WorkerManifest, call};
use pretty_assertions::assert_eq;
use serde_json::json;

static QUIET: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "kit-quiet",
    description: "Registers nothing but its health; a test worker.",
    functions: vec![],
    http_routes: vec![],
    depends_on: &[],
    restart: RestartPolicy::OnFailure,
});

#[tokio::test]
async fn health_answers_within_a_second_and_reports_the_worker_name() {
    let stack = TestStack::start().await;
    stack.worker(&QUIET, |_| {}).await;

    let started = Instant::now();
    let health: Health =
        call(&stack.client(), &QUIET.health_function_id(), &json!({}), Duration::from_secs(1)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert_eq!(
        health,
        Health {
            status: "ok".into(),
            worker: "kit-quiet".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            uptime_ms: health.uptime_ms,
            pid: std::process::id(),
            problem: None,
        }
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_worker_that_reports_a_problem_answers_degraded_with_it_until_it_recovers() {
    let stack = TestStack::start().await;
    let status = HealthStatus::new();
    stack.worker_with_health(&QUIET, status.clone(), |_| {}).await;
    let client = stack.client();
    let id = QUIET.health_function_id();

    status.degrade("the model is missing; fix: agentos models install");
    let health: Health = call(&client, &id, &json!({}), Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        (health.status.as_str(), health.problem.as_deref()),
        ("degraded", Some("the model is missing; fix: agentos models install"))
    );

    status.recover();
    let raw: serde_json::Value = call(&client, &id, &json!({}), Duration::from_secs(1)).await.unwrap();
    assert_eq!(raw["status"], "ok");
    assert!(raw.get("problem").is_none(), "a healthy answer carries no problem key: {raw}");
    stack.stop().await;
}
