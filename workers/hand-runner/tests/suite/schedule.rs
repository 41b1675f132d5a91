//! Scheduled hands: one cron trigger per hand, firing `agent::chat` with the schedule prompt,
//! recorded as the hand's last run, replaced on reload.

use std::time::Duration;

use agentos_kit::harness::{TestStack, wait_until};
use agentos_kit::{III, call};
use agentos_worker_hand_runner::{
    HandDetail, HandName, NoArgs, RUN_SCHEDULED, Reloaded, RunKind, ScheduleTag, TriggerInfo, TriggerList,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{Calls, Spans, T, fake_agent, hand_text, slow_agent, start_hands, write_hand};

/// A `[schedule]` firing every second with `prompt`.
fn every_second(prompt: &str) -> String {
    format!("[schedule]\ncron = \"* * * * * *\"\nprompt = \"{prompt}\"\nrealm = \"ops\"\n")
}

/// The hand schedules the engine holds, as (hand, generation).
async fn schedules(client: &III) -> Vec<ScheduleTag> {
    let listed: TriggerList = call(client, "engine::triggers::list", &json!({}), T).await.unwrap();
    listed
        .triggers
        .into_iter()
        .filter(|t: &TriggerInfo| t.function_id == RUN_SCHEDULED)
        .map(|t| serde_json::from_value(t.metadata.unwrap()).unwrap())
        .collect()
}

/// Waits until `agent::chat` has been sent `message`; answers how many calls there were then.
async fn wait_for_message(calls: &Calls, message: &str) -> usize {
    wait_until(&format!("agent::chat to be sent {message:?}"), || {
        let seen = calls.all().iter().any(|c| c["message"] == message);
        async move { seen }
    })
    .await;
    calls.all().len()
}

#[tokio::test]
async fn an_every_second_schedule_fires_agent_chat_and_records_the_last_run() {
    let dir = tempfile::tempdir().unwrap();
    write_hand(dir.path(), "ticker", &hand_text("ticker", &every_second("tick")));
    let stack = TestStack::start().await;
    let calls = fake_agent(&stack).await;
    start_hands(&stack, dir.path()).await;
    let client = stack.client();

    wait_for_message(&calls, "tick").await;
    assert_eq!(calls.all()[0], json!({"message": "tick", "hand": "ticker", "realm": "ops"}));

    let last_run = || {
        let client = client.clone();
        async move {
            let got: HandDetail = call(&client, "hand::get", &HandName { name: "ticker".into() }, T).await.unwrap();
            got.last_run
        }
    };
    wait_until("ticker's last run to be recorded", || async { last_run().await.is_some() }).await;
    let run = last_run().await.unwrap();
    assert_eq!((run.hand.as_str(), run.trigger, run.ok, &run.error), ("ticker", RunKind::Cron, true, &None));
    assert!(run.session_id.as_deref().unwrap_or_default().starts_with("sess-"), "{run:?}");
    assert_eq!(schedules(&client).await.len(), 1, "one trigger per scheduled hand");
    stack.stop().await;
}

#[tokio::test]
async fn reload_after_an_edit_replaces_the_schedule_and_removing_it_stops_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    write_hand(dir.path(), "ticker", &hand_text("ticker", &every_second("old prompt")));
    let stack = TestStack::start().await;
    let calls = fake_agent(&stack).await;
    start_hands(&stack, dir.path()).await;
    let client = stack.client();
    wait_for_message(&calls, "old prompt").await;
    let first = schedules(&client).await;
    assert_eq!(first.iter().map(|s| s.hand.as_str()).collect::<Vec<_>>(), vec!["ticker"]);

    write_hand(dir.path(), "ticker", &hand_text("ticker", &every_second("new prompt")));
    let reloaded: Reloaded = call(&client, "hand::reload", &NoArgs {}, T).await.unwrap();
    assert_eq!(reloaded, Reloaded { hands: 5, errors: vec![] });
    let second = schedules(&client).await;
    assert_eq!(second.len(), 1, "the old trigger is gone: {second:?}");
    assert_eq!(second[0].generation, first[0].generation + 1);

    // After the first firing of the new schedule, two more firings: none of them is the old one.
    let from = wait_for_message(&calls, "new prompt").await;
    wait_until("two more firings", || {
        let n = calls.all().len();
        async move { n >= from + 2 }
    })
    .await;
    let later: Vec<Value> = calls.all().split_off(from - 1);
    assert!(later.iter().all(|c| c["message"] == "new prompt"), "{later:?}");

    write_hand(dir.path(), "ticker", &hand_text("ticker", ""));
    let _: Reloaded = call(&client, "hand::reload", &NoArgs {}, T).await.unwrap();
    assert_eq!(schedules(&client).await, vec![]);
    let ticker: HandDetail = call(&client, "hand::get", &HandName { name: "ticker".into() }, T).await.unwrap();
    assert_eq!(ticker.hand.schedule, None);
    stack.stop().await;
}

#[tokio::test]
async fn a_scheduled_hand_never_runs_twice_at_once() {
    let dir = tempfile::tempdir().unwrap();
    write_hand(dir.path(), "ticker", &hand_text("ticker", &every_second("tick")));
    let stack = TestStack::start().await;
    // Each turn takes 2.5 s while the schedule fires every second.
    let spans = Spans::default();
    slow_agent(&stack, Duration::from_millis(2500), spans.clone()).await;
    start_hands(&stack, dir.path()).await;

    wait_until("two scheduled turns to finish", || {
        let done = spans.all().len() >= 2;
        async move { done }
    })
    .await;
    let spans = spans.all();
    for pair in spans.windows(2) {
        let ((_, ended), (started, _)) = (pair[0], pair[1]);
        assert!(started >= ended, "a turn started before the previous one ended: {spans:?}");
    }
    stack.stop().await;
}
