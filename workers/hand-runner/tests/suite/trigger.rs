//! `hand::trigger`: one chat turn through `agent::chat`, its answer passed through, its run
//! recorded.

use agentos_kit::harness::TestStack;
use agentos_kit::{WorkerError, call};
use agentos_worker_hand_runner::{HandDetail, HandName, LastRun, RunKind, TriggerHand};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{T, answer, fake_agent, hand_text, start_hands, write_hand};

#[tokio::test]
async fn a_trigger_sends_the_hand_and_message_to_agent_chat_and_answers_with_its_reply_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let stack = TestStack::start().await;
    start_hands(&stack, dir.path()).await;
    let calls = fake_agent(&stack).await;
    let client = stack.client();

    let req = TriggerHand {
        name: "coder".into(),
        message: Some("fix the build".into()),
        realm: Some("team".into()),
        session_id: Some("s-42".into()),
    };
    let got: Value = call(&client, "hand::trigger", &req, T).await.unwrap();
    assert_eq!(got, answer(1, "fix the build"));
    assert_eq!(
        calls.all(),
        vec![json!({"message": "fix the build", "hand": "coder", "realm": "team", "session_id": "s-42"})]
    );

    let coder: HandDetail = call(&client, "hand::get", &HandName { name: "coder".into() }, T).await.unwrap();
    let run = coder.last_run.unwrap();
    assert_eq!(
        run,
        LastRun {
            hand: "coder".into(),
            trigger: RunKind::Manual,
            started_ms: run.started_ms,
            finished_ms: run.finished_ms,
            ok: true,
            session_id: Some("sess-1".into()),
            error: None,
        }
    );
    assert!(run.started_ms > 0 && run.finished_ms >= run.started_ms, "{run:?}");
    stack.stop().await;
}

#[tokio::test]
async fn a_hand_with_a_schedule_is_triggered_with_its_prompt_and_realm_when_no_message_is_given() {
    let dir = tempfile::tempdir().unwrap();
    // A schedule that will not fire during the test: midnight on 1 January 2099.
    let schedule = "[schedule]\ncron = \"0 0 0 1 1 * 2099\"\nprompt = \"Write the weekly report.\"\nrealm = \"ops\"\n";
    write_hand(dir.path(), "weekly", &hand_text("weekly", schedule));
    let stack = TestStack::start().await;
    start_hands(&stack, dir.path()).await;
    let calls = fake_agent(&stack).await;

    let req = TriggerHand { name: "weekly".into(), ..TriggerHand::default() };
    let got: Value = call(&stack.client(), "hand::trigger", &req, T).await.unwrap();
    assert_eq!(got, answer(1, "Write the weekly report."));
    assert_eq!(calls.all(), vec![json!({"message": "Write the weekly report.", "hand": "weekly", "realm": "ops"})]);
    stack.stop().await;
}

#[tokio::test]
async fn without_agent_core_a_trigger_says_it_is_not_running_and_the_failure_is_the_last_run() {
    let dir = tempfile::tempdir().unwrap();
    let stack = TestStack::start().await;
    start_hands(&stack, dir.path()).await;
    let client = stack.client();

    let req = TriggerHand { name: "tester".into(), message: Some("run the tests".into()), ..TriggerHand::default() };
    let err = call::<_, Value>(&client, "hand::trigger", &req, T).await.unwrap_err();
    assert_eq!(err.code, "AGENT_NOT_RUNNING");
    assert!(err.message.contains("the agent-core worker is not running"), "{}", err.message);

    let tester: HandDetail = call(&client, "hand::get", &HandName { name: "tester".into() }, T).await.unwrap();
    let run = tester.last_run.unwrap();
    assert_eq!((run.ok, run.error.map(|e| e.code)), (false, Some("AGENT_NOT_RUNNING".to_string())));
    stack.stop().await;
}

#[tokio::test]
async fn a_trigger_without_a_message_for_a_hand_without_a_schedule_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let stack = TestStack::start().await;
    start_hands(&stack, dir.path()).await;
    let calls = fake_agent(&stack).await;

    let req = TriggerHand { name: "coder".into(), ..TriggerHand::default() };
    let err = call::<_, Value>(&stack.client(), "hand::trigger", &req, T).await.unwrap_err();
    assert_eq!(
        err,
        WorkerError::new(
            "INVALID_INPUT",
            "hand \"coder\" has no schedule prompt, so a trigger needs a message: send {\"name\": \"coder\", \"message\": \"...\"}"
        )
    );
    assert_eq!(calls.all(), Vec::<Value>::new(), "agent::chat is not called");
    stack.stop().await;
}
