//! `approval::classify` on the bus: tiers, config rules, hand rules through the real
//! hand-runner, and what the approval worker leaves in state.

use agentos_kit::harness::TestStack;
use agentos_kit::{WorkerError, call, state};
use agentos_worker_approval_tiers::{
    AlwaysRule, By, GRANTS_SCOPE, MatchedRule, RULES_SCOPE, SessionGrant, Tier, Via, always_rule_id, canonical,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{T, classify, start_hands, start_tiers, write_hand};

/// `(tier, rule id, rule source)` of a classification.
fn verdict(c: &agentos_worker_approval_tiers::Classification) -> (Tier, &str, &str) {
    (c.tier, c.rule.id.as_str(), c.rule.source.as_str())
}

#[tokio::test]
async fn reads_are_auto_writes_ask_privileged_commands_are_denied_and_config_rules_apply() {
    let stack = TestStack::start().await;
    let config = "[approval]\ndefault = \"deny\"\n[[approval.rules]]\nfunction = \"code::run_command\"\ntier = \"auto\"\nwhen = { program = [\"cargo\"], args_prefix = [\"check\"] }\n";
    start_tiers(&stack, config).await;
    let client = stack.client();

    let read = classify(&client, "code::read_file", json!({"path": "README.md"}), None, None).await;
    assert_eq!(verdict(&read), (Tier::Auto, "builtin:read-only-code", "builtin"));
    let write = classify(&client, "code::write_file", json!({"path": "a", "content": "b"}), None, None).await;
    assert_eq!(verdict(&write), (Tier::Ask, "builtin:workspace-write", "builtin"));
    let sudo = classify(&client, "code::run_command", json!({"program": "sudo", "args": ["ls"]}), None, None).await;
    assert_eq!(verdict(&sudo), (Tier::Deny, "builtin:privileged-command", "builtin"));
    let check =
        classify(&client, "code::run_command", json!({"program": "cargo", "args": ["check"]}), None, None).await;
    assert_eq!(
        check.rule,
        MatchedRule {
            id: "config#1".into(),
            source: "config".into(),
            function: "code::run_command".into(),
            when: Some(json!({"program": ["cargo"], "args_prefix": ["check"]})),
        }
    );
    assert_eq!(check.tier, Tier::Auto);
    let publish =
        classify(&client, "code::run_command", json!({"program": "cargo", "args": ["publish"]}), None, None).await;
    assert_eq!(verdict(&publish), (Tier::Ask, "builtin:command", "builtin"));
    let other = classify(&client, "memory::forget", json!({"id": "m"}), None, None).await;
    assert_eq!(verdict(&other), (Tier::Deny, "default", "config"));

    let err = call::<_, Value>(&client, "approval::classify", &json!({"function": "x::y"}), T).await.unwrap_err();
    assert_eq!(err.code, "INVALID_INPUT", "{err:?}");
    stack.stop().await;
}

#[tokio::test]
async fn hand_rules_come_from_hand_get_and_an_unknown_hand_or_a_missing_hand_runner_means_none() {
    let dir = tempfile::tempdir().unwrap();
    write_hand(
        dir.path(),
        "ops",
        "[[approval.rules]]\nfunction = \"code::run_command\"\ntier = \"auto\"\nwhen = { program = [\"make\"] }\n\n[[approval.rules]]\nfunction = \"code::read_file\"\ntier = \"deny\"\nreason = \"ops reads nothing\"\n",
    );
    let stack = TestStack::start().await;
    start_tiers(&stack, "").await;
    let client = stack.client();
    let make = json!({"program": "make", "args": []});

    // No hand-runner yet: no hand rules, the builtin rules decide.
    let without = classify(&client, "code::run_command", make.clone(), Some("ops"), None).await;
    assert_eq!(verdict(&without), (Tier::Ask, "builtin:command", "builtin"));

    start_hands(&stack, dir.path()).await;
    let with = classify(&client, "code::run_command", make.clone(), Some("ops"), None).await;
    assert_eq!(verdict(&with), (Tier::Auto, "hand:ops#1", "hand:ops"));
    let read = classify(&client, "code::read_file", json!({"path": "a"}), Some("ops"), None).await;
    assert_eq!((verdict(&read), read.reason.as_str()), ((Tier::Deny, "hand:ops#2", "hand:ops"), "ops reads nothing"));
    let ghost = classify(&client, "code::run_command", make, Some("ghost"), None).await;
    assert_eq!(verdict(&ghost), (Tier::Ask, "builtin:command", "builtin"));
    stack.stop().await;
}

#[tokio::test]
async fn a_session_grant_and_an_always_rule_in_state_make_their_calls_auto_but_never_a_denied_one() {
    let stack = TestStack::start().await;
    start_tiers(&stack, "").await;
    let client = stack.client();
    let write = json!({"path": "notes.md", "content": "hello"});

    let grant = SessionGrant {
        session_id: "s1".into(),
        functions: vec!["code::apply_patch".into(), "code::run_command".into()],
        updated_ms: 1,
    };
    state::set(&client, GRANTS_SCOPE, "s1", &grant).await.unwrap();
    let rule = AlwaysRule {
        id: always_rule_id("code::write_file", &write),
        function_id: "code::write_file".into(),
        arguments: canonical(&write),
        created_ms: 1,
        by: By { who: None, via: Via::Http },
        from_request: "apr-0".into(),
    };
    state::set(&client, RULES_SCOPE, &rule.id, &rule).await.unwrap();

    let same = classify(&client, "code::write_file", json!({"content": "hello", "path": "notes.md"}), None, None).await;
    assert_eq!(verdict(&same), (Tier::Auto, rule.id.as_str(), "always"));
    let changed =
        classify(&client, "code::write_file", json!({"path": "notes.md", "content": "bye"}), None, None).await;
    assert_eq!(verdict(&changed), (Tier::Ask, "builtin:workspace-write", "builtin"));

    let patch = classify(&client, "code::apply_patch", json!({"patch": ""}), None, Some("s1")).await;
    assert_eq!(verdict(&patch), (Tier::Auto, "grant:s1", "session"));
    let other_session = classify(&client, "code::apply_patch", json!({"patch": ""}), None, Some("s2")).await;
    assert_eq!(verdict(&other_session).0, Tier::Ask);
    let sudo = classify(&client, "code::run_command", json!({"program": "sudo"}), None, Some("s1")).await;
    assert_eq!(verdict(&sudo), (Tier::Deny, "builtin:privileged-command", "builtin"));

    state::set(&client, GRANTS_SCOPE, "s3", &json!("not a grant")).await.unwrap();
    let err = call::<_, Value>(&client, "approval::classify", &json!({"function_id": "x::y", "session_id": "s3"}), T)
        .await
        .unwrap_err();
    assert_eq!(err, WorkerError { code: "BAD_STATE".into(), message: err.message.clone() });
    assert!(err.message.starts_with("state approval:grants/s3 does not match"), "{}", err.message);
    stack.stop().await;
}
