//! Unit tests of the order of precedence in [`crate::policy::classify`]: one table row per step.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::policy::{Classification, Context, MatchedRule, classify};
use crate::remembered::{AlwaysRule, By, SessionGrant, Via, always_rule_id, canonical};
use crate::rules::{Rule, Tier, When};
use crate::settings::ApprovalSettings;

fn rule(function: &str, tier: Tier) -> Rule {
    Rule { id: None, function: function.into(), tier, when: None, reason: None }
}

fn when_program(function: &str, tier: Tier, programs: &[&str]) -> Rule {
    Rule {
        when: Some(When { program: Some(programs.iter().map(|p| (*p).to_string()).collect()), ..When::default() }),
        ..rule(function, tier)
    }
}

fn settings(rules: Vec<Rule>, default: Option<Tier>) -> ApprovalSettings {
    ApprovalSettings { rules, default, ..ApprovalSettings::default() }
}

fn always(function_id: &str, arguments: Value) -> AlwaysRule {
    AlwaysRule {
        id: always_rule_id(function_id, &arguments),
        function_id: function_id.into(),
        arguments: canonical(&arguments),
        created_ms: 1,
        by: By { who: Some("ana".into()), via: Via::Cli },
        from_request: "apr-1".into(),
    }
}

fn grant(functions: &[&str]) -> SessionGrant {
    SessionGrant {
        session_id: "s1".into(),
        functions: functions.iter().map(|f| (*f).to_string()).collect(),
        updated_ms: 1,
    }
}

/// The tier and the rule's (id, source) for a call under these inputs.
fn decide(
    function_id: &str,
    arguments: Value,
    settings: &ApprovalSettings,
    hand: Option<&[Rule]>,
    always: Option<&AlwaysRule>,
    grant: Option<&SessionGrant>,
) -> (Tier, String, String) {
    let ctx = Context { settings, hand: hand.map(|r| ("coder", r)), always, grant, workspace: None };
    let c = classify(function_id, &arguments, &ctx);
    (c.tier, c.rule.id, c.rule.source)
}

fn row(tier: Tier, id: &str, source: &str) -> (Tier, String, String) {
    (tier, id.to_string(), source.to_string())
}

fn cmd(program: &str, args: &[&str]) -> Value {
    json!({"program": program, "args": args})
}

#[test]
fn a_deny_rule_of_the_hand_config_or_builtin_beats_every_approval() {
    let write = json!({"path": "a", "content": "x"});
    let remembered = always("code::write_file", write.clone());
    let granted = grant(&["code::write_file", "code::run_command"]);
    let config = settings(vec![rule("code::write_file", Tier::Deny)], None);
    let hand_auto = [rule("code::*", Tier::Auto)];
    assert_eq!(
        decide("code::write_file", write.clone(), &config, Some(&hand_auto), Some(&remembered), Some(&granted)),
        row(Tier::Deny, "config#1", "config")
    );
    let hand_deny = [rule("code::read_file", Tier::Auto), rule("code::write_file", Tier::Deny)];
    let config_auto = settings(vec![rule("*", Tier::Auto)], None);
    assert_eq!(
        decide("code::write_file", write, &config_auto, Some(&hand_deny), Some(&remembered), Some(&granted)),
        row(Tier::Deny, "hand:coder#2", "hand:coder")
    );
    assert_eq!(
        decide("code::run_command", cmd("sudo", &["ls"]), &config_auto, Some(&hand_auto), None, Some(&granted)),
        row(Tier::Deny, "builtin:privileged-command", "builtin")
    );
}

#[test]
fn a_remembered_rule_or_a_session_grant_makes_a_call_auto_before_hand_and_config_rules() {
    let args = cmd("cargo", &["test"]);
    let ask_all = settings(vec![rule("*", Tier::Ask)], Some(Tier::Deny));
    let hand_ask = [rule("code::run_command", Tier::Ask)];
    let remembered = always("code::run_command", args.clone());
    assert_eq!(
        decide("code::run_command", args, &ask_all, Some(&hand_ask), Some(&remembered), None),
        row(Tier::Auto, &remembered.id, "always")
    );
    // The remembered rule covers only the identical call.
    assert_eq!(
        decide("code::run_command", cmd("cargo", &["test", "-q"]), &ask_all, Some(&hand_ask), Some(&remembered), None),
        row(Tier::Ask, "hand:coder#1", "hand:coder")
    );
    let granted = grant(&["code::run_command"]);
    assert_eq!(
        decide("code::run_command", cmd("make", &[]), &ask_all, Some(&hand_ask), None, Some(&granted)),
        row(Tier::Auto, "grant:s1", "session")
    );
    assert_eq!(
        decide("code::apply_patch", json!({"patch": ""}), &ask_all, None, None, Some(&granted)),
        row(Tier::Ask, "config#1", "config")
    );
}

#[test]
fn hand_rules_come_before_config_rules_which_come_before_builtin_rules_and_the_default() {
    let config = settings(
        vec![when_program("code::run_command", Tier::Auto, &["cargo"]), rule("code::read_file", Tier::Ask)],
        Some(Tier::Deny),
    );
    let hand = [rule("code::run_command", Tier::Ask)];
    let table = [
        ("code::run_command", cmd("cargo", &["build"]), Some(&hand[..]), row(Tier::Ask, "hand:coder#1", "hand:coder")),
        ("code::run_command", cmd("cargo", &["build"]), None, row(Tier::Auto, "config#1", "config")),
        ("code::read_file", json!({"path": "a"}), None, row(Tier::Ask, "config#2", "config")),
        ("code::list", json!({}), None, row(Tier::Auto, "builtin:read-only-code", "builtin")),
        ("code::run_command", cmd("ls", &[]), None, row(Tier::Auto, "builtin:safe-command", "builtin")),
        ("code::run_command", cmd("make", &[]), None, row(Tier::Ask, "builtin:command", "builtin")),
        ("code::write_file", json!({"path": "a"}), None, row(Tier::Ask, "builtin:workspace-write", "builtin")),
        ("memory::store", json!({"text": "x"}), None, row(Tier::Auto, "builtin:memory", "builtin")),
        ("memory::forget", json!({"id": "m"}), None, row(Tier::Deny, "default", "config")),
    ];
    for (function_id, args, hand, expected) in table {
        assert_eq!(decide(function_id, args.clone(), &config, hand, None, None), expected, "{function_id} {args}");
    }
}

#[test]
fn the_first_matching_rule_of_a_list_wins() {
    let config = settings(vec![rule("code::*", Tier::Ask), rule("code::read_file", Tier::Auto)], None);
    assert_eq!(decide("code::read_file", json!({}), &config, None, None, None), row(Tier::Ask, "config#1", "config"));
    let named = settings(vec![Rule { id: Some("reads".into()), ..rule("code::read_file", Tier::Auto) }], None);
    assert_eq!(decide("code::read_file", json!({}), &named, None, None, None), row(Tier::Auto, "reads", "config"));
}

#[test]
fn without_a_configured_default_an_uncovered_call_asks_by_the_builtin_default() {
    let c = classify(
        "memory::forget",
        &json!({}),
        &Context { settings: &ApprovalSettings::default(), hand: None, always: None, grant: None, workspace: None },
    );
    assert_eq!(
        c,
        Classification {
            tier: Tier::Ask,
            rule: MatchedRule { id: "default".into(), source: "builtin".into(), function: "*".into(), when: None },
            reason: "no rule covers memory::forget, so the default applies ([approval] default = \"ask\")".into(),
        }
    );
}

#[test]
fn the_answer_names_the_rule_with_its_conditions_and_a_reason() {
    let config =
        settings(vec![Rule { reason: None, ..when_program("code::run_command", Tier::Auto, &["cargo"]) }], None);
    let c = classify(
        "code::run_command",
        &cmd("cargo", &["check"]),
        &Context { settings: &config, hand: None, always: None, grant: None, workspace: None },
    );
    assert_eq!(
        c,
        Classification {
            tier: Tier::Auto,
            rule: MatchedRule {
                id: "config#1".into(),
                source: "config".into(),
                function: "code::run_command".into(),
                when: Some(json!({"program": ["cargo"]})),
            },
            reason: "the [approval] rule config#1 (code::run_command when program is cargo) says auto".into(),
        }
    );
    let hand = [Rule { reason: Some("tests only read".into()), ..rule("code::run_command", Tier::Auto) }];
    let c = classify(
        "code::run_command",
        &cmd("cargo", &["test"]),
        &Context {
            settings: &ApprovalSettings::default(),
            hand: Some(("tester", &hand)),
            always: None,
            grant: None,
            workspace: None,
        },
    );
    assert_eq!((c.rule.id.as_str(), c.reason.as_str()), ("hand:tester#1", "tests only read"));
}

#[test]
fn a_remembered_rule_says_who_made_it_and_how_to_forget_it() {
    let args = json!({"path": "a", "content": "x"});
    let remembered = always("code::write_file", args.clone());
    let c = classify(
        "code::write_file",
        &args,
        &Context {
            settings: &ApprovalSettings::default(),
            hand: None,
            always: Some(&remembered),
            grant: None,
            workspace: None,
        },
    );
    assert_eq!(
        c.reason,
        format!("approved always by ana (request apr-1); `agentos approvals forget {}` removes it", remembered.id)
    );
    assert_eq!(c.rule.when, Some(json!({"content": "x", "path": "a"})));
}
