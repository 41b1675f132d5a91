//! `hand::list`, `hand::get` and `hand::reload` on the bus.

use agentos_kit::harness::TestStack;
use agentos_kit::{WorkerError, call};
use agentos_worker_hand_runner::{HandDetail, HandList, HandName, NoArgs, Reloaded, Tier};
use pretty_assertions::assert_eq;

use super::{T, hand_text, start_hands, write_hand};

#[tokio::test]
async fn list_shows_the_built_ins_and_the_users_hands_and_reports_a_broken_file_without_hiding_them() {
    let dir = tempfile::tempdir().unwrap();
    let coder = write_hand(dir.path(), "coder", &hand_text("coder", ""));
    write_hand(dir.path(), "ops", &hand_text("ops", ""));
    let broken = write_hand(dir.path(), "broken", &hand_text("broken", "colour = \"red\"\n"));
    let stack = TestStack::start().await;
    start_hands(&stack, dir.path()).await;

    let listed: HandList = call(&stack.client(), "hand::list", &NoArgs {}, T).await.unwrap();
    let hands: Vec<(&str, &str)> = listed.hands.iter().map(|h| (h.name.as_str(), h.source.as_str())).collect();
    let coder = coder.display().to_string();
    let ops = dir.path().join("ops/HAND.toml").display().to_string();
    assert_eq!(
        hands,
        vec![
            ("coder", coder.as_str()),
            ("explorer", "builtin"),
            ("ops", ops.as_str()),
            ("reviewer", "builtin"),
            ("tester", "builtin")
        ]
    );
    assert_eq!(listed.errors.len(), 1, "{:?}", listed.errors);
    assert_eq!(listed.errors[0].path, broken.display().to_string());
    assert!(listed.errors[0].message.contains("unknown field `colour`"), "{}", listed.errors[0].message);
    stack.stop().await;
}

#[tokio::test]
async fn get_answers_the_whole_hand_and_an_unknown_name_is_not_found_listing_the_hands() {
    let dir = tempfile::tempdir().unwrap();
    let stack = TestStack::start().await;
    start_hands(&stack, dir.path()).await;
    let client = stack.client();

    let reviewer: HandDetail = call(&client, "hand::get", &HandName { name: "reviewer".into() }, T).await.unwrap();
    assert_eq!(
        (reviewer.hand.name.as_str(), reviewer.hand.tier, reviewer.hand.source.as_str(), reviewer.last_run),
        ("reviewer", Some(Tier::Deep), "builtin", None)
    );
    assert!(reviewer.hand.system_prompt.contains("file:line"), "{}", reviewer.hand.system_prompt);
    assert!(!reviewer.hand.allowed_functions.contains(&"code::write_file".to_string()));

    let err = call::<_, HandDetail>(&client, "hand::get", &HandName { name: "cdoer".into() }, T).await.unwrap_err();
    assert_eq!(
        err,
        WorkerError::new(
            "NOT_FOUND",
            "no hand \"cdoer\"; the hands are: coder, explorer, reviewer, tester. Add hands/cdoer/HAND.toml to the hands dir and call hand::reload (POST /v1/hands/reload)"
        )
    );
    stack.stop().await;
}

#[tokio::test]
async fn reload_picks_up_a_fixed_file_and_a_new_hand() {
    let dir = tempfile::tempdir().unwrap();
    write_hand(dir.path(), "ops", "name = \"ops\"\n");
    let stack = TestStack::start().await;
    start_hands(&stack, dir.path()).await;
    let client = stack.client();

    let before: HandList = call(&client, "hand::list", &NoArgs {}, T).await.unwrap();
    assert_eq!((before.hands.len(), before.errors.len()), (4, 1));

    write_hand(dir.path(), "ops", &hand_text("ops", ""));
    write_hand(dir.path(), "docs", &hand_text("docs", ""));
    let reloaded: Reloaded = call(&client, "hand::reload", &NoArgs {}, T).await.unwrap();
    assert_eq!(reloaded, Reloaded { hands: 6, errors: vec![] });

    let ops: HandDetail = call(&client, "hand::get", &HandName { name: "ops".into() }, T).await.unwrap();
    assert_eq!(ops.hand.system_prompt, "You are ops.");
    stack.stop().await;
}

#[tokio::test]
async fn get_answers_a_hands_approval_rules_as_approval_tiers_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let rules =
        "[[approval.rules]]\nfunction = \"code::run_command\"\ntier = \"auto\"\nwhen = { program = [\"cargo\"] }\n";
    write_hand(dir.path(), "ops", &hand_text("ops", rules));
    let stack = TestStack::start().await;
    start_hands(&stack, dir.path()).await;
    let client = stack.client();

    let ops: serde_json::Value = call(&client, "hand::get", &HandName { name: "ops".into() }, T).await.unwrap();
    assert_eq!(
        ops["approval_rules"],
        serde_json::json!([{"function": "code::run_command", "tier": "auto", "when": {"program": ["cargo"]}}])
    );
    let coder: serde_json::Value = call(&client, "hand::get", &HandName { name: "coder".into() }, T).await.unwrap();
    assert_eq!(coder.get("approval_rules"), None, "a hand without rules leaves the key out");
    stack.stop().await;
}
