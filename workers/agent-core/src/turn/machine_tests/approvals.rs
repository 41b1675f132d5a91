//! The approval gate in the turn machine: asking a person, their decision, its timeout, and an
//! interrupt while the call waits.

use agentos_kit::WorkerError;
use agentos_protocol::chat::ChatEvent;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

/// A turn whose model called `code::write_file`, classified `ask`, filed as request `ap1` at 12 ms.
pub(super) fn awaiting() -> Turn {
    let mut turn = asking(Settings::default());
    let filed = json!({"id": "ap1", "status": "pending", "expires_ms": 60_000});
    table(
        &mut turn,
        vec![
            (
                10,
                answered(&calls(&[write_call()])),
                [
                    vec![rec("llm_response", json!(calls(&[write_call()])), Some(3))],
                    announced(&write_record()).to_vec(),
                    vec![check(&write_record())],
                ]
                .concat(),
            ),
            (
                11,
                checked(GuardAction::Allow, None, "ask"),
                vec![Effect::RequestApproval(json!({
                    "session_id": "s1", "turn_id": "t1", "function_id": "code::write_file", "arguments": {"path": "a"},
                    "tier": "ask", "rule": {"id": "r1"}, "reason": "writes need a person",
                    "agent": null, "hand": "coder", "realm": "default",
                }))],
            ),
            (
                12,
                Input::ApprovalRequested(Ok(filed.clone())),
                vec![
                    Effect::Emit(crate::approve::approval_event(
                        "approval_requested",
                        &filed.clone(),
                        ChatEvent::ApprovalRequested,
                    )),
                    rec(
                        "approval_requested",
                        json!({"approval_id": "ap1", "function_id": "code::write_file", "tier": "ask", "rule": {"id": "r1"}}),
                        None,
                    ),
                    Effect::SetState { state: SessionState::WaitingApproval, error: None },
                    Effect::AwaitDecision { id: "ap1".into(), request: filed },
                ],
            ),
        ],
    );
    let call = Call { record: write_record(), since: at(10) };
    assert_eq!(turn.phase(), &Phase::AwaitingDecision { call, id: "ap1".into(), since: at(12) });
    turn
}

fn decision(decision: Value) -> Value {
    json!({"id": "ap1", "status": "decided", "decision": decision})
}

/// The effects of a decision that denies the call with `reason` (the model is asked again).
fn denied(decided: Value, step: Value, reason: &str, at_ms: u64) -> Vec<Effect> {
    let blocked = ToolCallRecord { blocked: Some(reason.into()), duration_ms: at_ms - 10, ..write_record() };
    let reads = after(&calls(&[write_call()]), &[("c1", &format!("Not run: {reason}"))]);
    [
        vec![Effect::SetState { state: SessionState::Active, error: None }],
        if decided.is_null() {
            vec![]
        } else {
            vec![Effect::Emit(crate::approve::approval_event("approval_decided", &decided, ChatEvent::ApprovalDecided))]
        },
        vec![rec("approval_decided", step, Some(12))],
        told(&blocked, 10).to_vec(),
        llm_request(&reads).to_vec(),
    ]
    .concat()
}

#[test]
fn an_approved_call_runs() {
    let mut turn = awaiting();
    let approve = json!({"decision": "approve", "scope": "once", "note": null, "by": {"via": "http"}});
    table(
        &mut turn,
        vec![(
            20,
            Input::Decided(Ok(decision(approve.clone()))),
            vec![
                Effect::SetState { state: SessionState::Active, error: None },
                Effect::Emit(crate::approve::approval_event(
                    "approval_decided",
                    &decision(approve),
                    ChatEvent::ApprovalDecided,
                )),
                rec(
                    "approval_decided",
                    json!({"approval_id": "ap1", "decision": "approve", "scope": "once", "note": null, "by": {"via": "http"}}),
                    Some(12),
                ),
                Effect::RunTool { function_id: "code::write_file".into(), arguments: json!({"path": "a"}) },
            ],
        )],
    );
}

#[test]
fn a_denial_gives_the_model_the_persons_note() {
    let mut turn = awaiting();
    let deny = json!({"decision": "deny", "scope": null, "note": "not on main", "by": {"via": "cli"}});
    table(
        &mut turn,
        vec![(
            20,
            Input::Decided(Ok(decision(deny.clone()))),
            denied(
                decision(deny),
                json!({"approval_id": "ap1", "decision": "deny", "scope": null, "note": "not on main", "by": {"via": "cli"}}),
                "the person denied this call (via cli). Their note: not on main",
                20,
            ),
        )],
    );
}

#[test]
fn an_approval_nobody_decided_in_time_denies_the_call() {
    // The approval worker expired the request.
    let mut turn = awaiting();
    let expired = json!({"decision": "deny", "by": {"via": "timeout"}});
    table(
        &mut turn,
        vec![(
            20,
            Input::Decided(Ok(decision(expired.clone()))),
            denied(
                decision(expired),
                json!({"approval_id": "ap1", "decision": "deny", "scope": null, "note": null, "by": {"via": "timeout"}}),
                "nobody decided in time; the request timed out.",
                20,
            ),
        )],
    );

    // The turn's own deadline passed with the approval worker away.
    let mut turn = awaiting();
    let late = WorkerError::new("TIMEOUT", "approval ap1 was not decided in time");
    table(
        &mut turn,
        vec![(
            30,
            Input::Decided(Err(late)),
            denied(
                Value::Null,
                json!({"approval_id": "ap1", "decision": "none", "scope": null, "note": "TIMEOUT: approval ap1 was not decided in time", "by": "agent-core"}),
                "no decision could be obtained (TIMEOUT: approval ap1 was not decided in time), so the call was not made",
                30,
            ),
        )],
    );
}

#[test]
fn a_deny_tier_never_asks_and_a_missing_policy_leaves_it_to_the_allow_list() {
    let mut turn = asking(Settings::default());
    turn.handle(at(10), answered(&calls(&[write_call()])));
    let effects = turn.handle(at(11), checked(GuardAction::Allow, None, "deny"));
    let reason = "denied by the approval policy: writes need a person (rule r1)";
    let blocked = ToolCallRecord { blocked: Some(reason.into()), duration_ms: 1, ..write_record() };
    assert_eq!(effects[..2], told(&blocked, 10));

    let no_policy = || Input::Checked {
        verdict: verdict(GuardAction::Allow, None),
        classified: Err(WorkerError::new("function_not_found", "approval::classify not found")),
    };
    let mut turn = asking(Settings::default());
    turn.handle(at(10), answered(&calls(&[write_call()])));
    let effects = turn.handle(at(11), no_policy());
    assert!(
        matches!(&effects[0], Effect::Emit(ChatEvent::ToolResult(r)) if r.blocked.as_deref().is_some_and(|b| b.contains("allow = [\"code::write_file\"]"))),
        "{effects:?}"
    );

    let settings = Settings { allow: vec!["code::*".into()], ..Settings::default() };
    let mut turn = asking(settings);
    turn.handle(at(10), answered(&calls(&[write_call()])));
    assert_eq!(
        turn.handle(at(11), no_policy()),
        [Effect::RunTool { function_id: "code::write_file".into(), arguments: json!({"path": "a"}) }]
    );
}

#[test]
fn an_interrupt_while_waiting_for_approval_withdraws_the_request_and_ends_the_turn() {
    let mut turn = awaiting();
    let withdrawn = json!({"decision": "deny", "scope": null, "note": interrupt::APPROVAL_NOTE, "by": {"via": "cli"}});
    let reason = "the turn was interrupted while this call waited for approval";
    let blocked = ToolCallRecord { blocked: Some(reason.into()), duration_ms: 11, ..write_record() };
    let mut kept = after(&calls(&[write_call()]), &[("c1", &format!("Not run: {reason}"))]);
    kept.remove(0);
    kept.push(ChatMessage::new(Role::Assistant, interrupt::REPLY));
    table(
        &mut turn,
        vec![
            (15, Input::Interrupted { via: "cli".into() }, vec![]),
            (15, Input::Abandoned, vec![Effect::Withdraw { id: "ap1".into(), via: "cli".into() }]),
            (
                21,
                Input::Decided(Ok(decision(withdrawn.clone()))),
                [
                    vec![
                        Effect::SetState { state: SessionState::Active, error: None },
                        Effect::Emit(crate::approve::approval_event("approval_decided", &decision(withdrawn), ChatEvent::ApprovalDecided)),
                        rec("approval_decided", json!({"approval_id": "ap1", "decision": "deny", "scope": null, "note": interrupt::APPROVAL_NOTE, "by": {"via": "cli"}}), Some(12)),
                    ],
                    told(&blocked, 10).to_vec(),
                    saving(kept).to_vec(),
                ]
                .concat(),
            ),
        ],
    );
    ends_with(&mut turn, answer(interrupt::REPLY, vec![blocked], 1, Finish::Interrupted));
}

#[test]
fn a_decision_that_came_before_the_interrupt_stands() {
    let mut turn = awaiting();
    turn.handle(at(15), Input::Interrupted { via: "tui".into() });
    let approve = decision(json!({"decision": "approve", "scope": "once"}));
    let effects = turn.handle(at(16), Input::Decided(Ok(approve)));
    assert_eq!(
        effects.last(),
        Some(&Effect::RunTool { function_id: "code::write_file".into(), arguments: json!({"path": "a"}) })
    );
}
