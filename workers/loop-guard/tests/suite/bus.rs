//! `guard::*` on the bus: what agent-core sees before each tool call.

use agentos_kit::call;
use agentos_kit::harness::TestStack;
use agentos_worker_loop_guard::{Action, Counts, ResetAnswer, Rule, Stats, Verdict};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{T, start_guard};

/// The `guard::check` request for `function` with `arguments` in session `s1`, turn `turn`.
fn check(turn: &str, function: &str, arguments: Value) -> Value {
    json!({"session_id": "s1", "turn_id": turn, "function_id": function, "arguments": arguments})
}

#[tokio::test]
async fn a_repeated_call_is_allowed_then_warned_then_blocked_with_a_reason() {
    let stack = TestStack::start().await;
    start_guard(&stack).await;
    let client = stack.client();

    let mut actions = Vec::new();
    let mut last = None;
    for i in 0..5 {
        // Same arguments, different key order every other time.
        let args = if i % 2 == 0 { json!({"path": "a.rs", "lines": 10}) } else { json!({"lines": 10, "path": "a.rs"}) };
        let verdict: Verdict = call(&client, "guard::check", &check("t1", "code::read_file", args), T).await.unwrap();
        actions.push(verdict.action);
        last = Some(verdict);
    }
    assert_eq!(actions, vec![Action::Allow, Action::Allow, Action::Warn, Action::Warn, Action::Block]);
    let blocked = last.unwrap();
    assert_eq!(blocked.rule, Some(Rule::Repeat));
    assert!(
        blocked
            .reason
            .as_deref()
            .unwrap()
            .starts_with("Blocked: you called code::read_file with the same arguments 5 times"),
        "{blocked:?}"
    );

    // The wire shape: an allowed call is just {"action": "allow"}.
    let raw: Value = call(&client, "guard::check", &check("t1", "code::ls", json!({})), T).await.unwrap();
    assert_eq!(raw, json!({"action": "allow"}));
    stack.stop().await;
}

#[tokio::test]
async fn an_a_b_cycle_is_caught_and_a_new_turn_starts_clean() {
    let stack = TestStack::start().await;
    start_guard(&stack).await;
    let client = stack.client();

    let mut verdicts = Vec::new();
    for i in 0..8 {
        let (function, args) =
            if i % 2 == 0 { ("code::edit", json!({"patch": "x"})) } else { ("code::test", json!({})) };
        let v: Verdict = call(&client, "guard::check", &check("t1", function, args), T).await.unwrap();
        verdicts.push((v.action, v.rule));
    }
    let mut expected = vec![(Action::Allow, None); 5];
    expected.extend([
        (Action::Warn, Some(Rule::Cycle)),
        (Action::Warn, Some(Rule::Cycle)),
        (Action::Block, Some(Rule::Cycle)),
    ]);
    assert_eq!(verdicts, expected);

    let v: Verdict = call(&client, "guard::check", &check("t2", "code::test", json!({})), T).await.unwrap();
    assert_eq!(v, Verdict::allow(), "a new turn id forgets the calls of the last turn");
    let stats: Stats = call(&client, "guard::stats", &json!({"session_id": "s1"}), T).await.unwrap();
    assert_eq!(
        stats,
        Stats {
            session_id: "s1".into(),
            tracked: true,
            turn_id: Some("t2".into()),
            turns: 2,
            turn: Counts { allowed: 1, warned: 0, blocked: 0 },
            total: Counts { allowed: 6, warned: 2, blocked: 1 },
        }
    );
    stack.stop().await;
}

#[tokio::test]
async fn reset_clears_a_sessions_history() {
    let stack = TestStack::start().await;
    start_guard(&stack).await;
    let client = stack.client();

    for _ in 0..4 {
        let _: Verdict =
            call(&client, "guard::check", &check("t1", "web::fetch", json!({"url": "https://x"})), T).await.unwrap();
    }
    let answer: ResetAnswer = call(&client, "guard::reset", &json!({"session_id": "s1"}), T).await.unwrap();
    assert_eq!(answer, ResetAnswer { reset: true });
    let stats: Value = call(&client, "guard::stats", &json!({"session_id": "s1"}), T).await.unwrap();
    assert_eq!(
        stats,
        json!({"session_id": "s1", "tracked": false, "turns": 0,
               "turn": {"allowed": 0, "warned": 0, "blocked": 0}, "total": {"allowed": 0, "warned": 0, "blocked": 0}})
    );
    let v: Verdict =
        call(&client, "guard::check", &check("t1", "web::fetch", json!({"url": "https://x"})), T).await.unwrap();
    assert_eq!(v, Verdict::allow(), "the same call in the same turn starts counting again");
    stack.stop().await;
}

#[tokio::test]
async fn unknown_fields_and_missing_ids_are_invalid_input() {
    let stack = TestStack::start().await;
    start_guard(&stack).await;
    let client = stack.client();

    let err = call::<_, Verdict>(
        &client,
        "guard::check",
        &json!({"session_id": "s1", "function_id": "code::ls", "args": {}}),
        T,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, "INVALID_INPUT");
    assert!(err.message.starts_with("guard::check: unknown field `args`"), "{}", err.message);

    let err = call::<_, Value>(&client, "guard::reset", &json!({"session": "s1"}), T).await.unwrap_err();
    assert_eq!(err.code, "INVALID_INPUT");
    let err = call::<_, Value>(&client, "guard::check", &json!({"session_id": "", "function_id": "code::ls"}), T)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("INVALID_INPUT", "session_id is empty: pass the chat session id")
    );
    stack.stop().await;
}
