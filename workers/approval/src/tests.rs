//! Unit tests of the pure decisions of the crate root.

use std::time::Duration;

use agentos_kit::ErrorCode;
use agentos_worker_approval_tiers::{AlwaysRule, By, MatchedRule, SessionGrant, Tier, Via, always_rule_id};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

fn rule() -> MatchedRule {
    MatchedRule {
        id: "builtin:workspace-write".into(),
        source: "builtin".into(),
        function: "code::write_file|apply_patch".into(),
        when: None,
    }
}

fn new(session: &str, agent: Option<&str>) -> NewRequest {
    NewRequest {
        session_id: session.into(),
        function_id: "code::write_file".into(),
        arguments: json!({"path": "a.txt", "content": "x"}),
        tier: Tier::Ask,
        rule: rule(),
        reason: Some("save the notes".into()),
        agent: agent.map(str::to_string),
        hand: Some("coder".into()),
        realm: None,
        tool_call_id: None,
        turn_id: Some("t1".into()),
    }
}

fn pending(id: &str, created_ms: u64, session: &str, agent: Option<&str>) -> Request {
    new_request(id.into(), new(session, agent), created_ms, Duration::from_secs(300), None).unwrap()
}

fn decision(id: &str, verdict: Verdict, scope: Scope) -> Decide {
    Decide {
        id: id.into(),
        decision: verdict,
        scope,
        note: None,
        by: Some(By { who: Some("ana".into()), via: Via::Cli }),
    }
}

#[test]
fn a_new_request_is_pending_until_its_timeout_and_keeps_everything_it_was_given() {
    let r = new_request("apr-1".into(), new("s1", Some("bot")), 1_000, Duration::from_secs(300), Some("diff".into()))
        .unwrap();
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({
            "id": "apr-1", "status": "pending", "created_ms": 1_000, "expires_ms": 301_000,
            "session_id": "s1", "agent": "bot", "hand": "coder", "realm": null,
            "function_id": "code::write_file", "arguments": {"path": "a.txt", "content": "x"},
            "reason": "save the notes", "tier": "ask",
            "rule": {"id": "builtin:workspace-write", "source": "builtin", "function": "code::write_file|apply_patch"},
            "turn_id": "t1", "diff": "diff"
        })
    );
    let no_args = NewRequest { arguments: Value::Null, ..new("s1", None) };
    let r = new_request("apr-2".into(), no_args, 0, Duration::from_secs(1), None).unwrap();
    assert_eq!(r.arguments, json!({}));
}

#[test]
fn a_request_needs_a_session_a_function_and_the_ask_tier() {
    let table = [
        (NewRequest { session_id: " ".into(), ..new("s", None) }, "session_id is empty"),
        (NewRequest { function_id: String::new(), ..new("s", None) }, "function_id is empty"),
        (NewRequest { tier: Tier::Auto, ..new("s", None) }, "tier is auto, but only ask calls need a person"),
        (NewRequest { tier: Tier::Deny, ..new("s", None) }, "tier is deny"),
    ];
    for (req, says) in table {
        let err = check_new(&req).unwrap_err();
        assert_eq!(err.code(), "INVALID_INPUT");
        assert!(err.to_string().contains(says), "{err}");
    }
}

#[test]
fn the_pending_limit_counts_per_agent_and_realm_else_per_session_and_names_the_pending_ids() {
    let existing = vec![
        pending("apr-b", 2, "s1", Some("bot")),
        pending("apr-a", 1, "s2", Some("bot")),
        pending("apr-c", 3, "s1", None),
        {
            let mut done = pending("apr-d", 4, "s1", Some("bot"));
            done.status = Status::Approved;
            done
        },
    ];
    let err = check_pending_limit(&existing, &new("s9", Some("bot")), 2).unwrap_err();
    assert_eq!(
        err,
        ApprovalError::TooManyPending {
            who: "agent bot in realm default".into(),
            pending: vec!["apr-a".into(), "apr-b".into()]
        }
    );
    assert_eq!(check_pending_limit(&existing, &new("s9", Some("bot")), 3), Ok(()));
    assert_eq!(
        check_pending_limit(&existing, &NewRequest { realm: Some("team".into()), ..new("s9", Some("bot")) }, 1),
        Ok(())
    );
    let err = check_pending_limit(&existing, &new("s1", None), 1).unwrap_err();
    assert_eq!(err.code(), "TOO_MANY_PENDING");
    assert!(err.to_string().starts_with("session s1 already has 1 pending approval request(s) (apr-c)"), "{err}");
    assert_eq!(check_pending_limit(&existing, &new("s2", None), 1), Ok(()));
}

#[test]
fn the_first_decision_wins_and_a_second_is_a_conflict_naming_the_first() {
    let r = pending("apr-1", 1, "s1", None);
    let approved = decide(&r, &decision("apr-1", Verdict::Approve, Scope::Once), 50).unwrap();
    assert_eq!(approved.status, Status::Approved);
    assert_eq!(
        approved.decision,
        Some(Decision {
            decision: Verdict::Approve,
            scope: Scope::Once,
            note: None,
            by: By { who: Some("ana".into()), via: Via::Cli },
            decided_ms: 50,
            rule_id: None
        })
    );
    let err = decide(&approved, &decision("apr-1", Verdict::Deny, Scope::Once), 60).unwrap_err();
    assert_eq!(
        err,
        ApprovalError::AlreadyDecided { id: "apr-1".into(), decision: Box::new(approved.decision.unwrap()) }
    );
    assert_eq!(err.code(), "CONFLICT");
}

#[test]
fn a_denial_is_for_one_call_and_keeps_its_note() {
    let r = pending("apr-1", 1, "s1", None);
    let err = decide(&r, &decision("apr-1", Verdict::Deny, Scope::Always), 5).unwrap_err();
    assert_eq!(err.code(), "INVALID_INPUT");
    let mut input = decision("apr-1", Verdict::Deny, Scope::Once);
    input.note = Some("use the staging db".into());
    let denied = decide(&r, &input, 5).unwrap();
    assert_eq!((denied.status, denied.decision.unwrap().note), (Status::Denied, Some("use the staging db".into())));
    input.note = Some("  ".into());
    assert_eq!(decide(&r, &input, 5).unwrap().decision.unwrap().note, None, "a blank note is no note");
}

#[test]
fn an_always_approval_names_and_makes_the_rule_for_the_identical_call() {
    let r = pending("apr-1", 1, "s1", None);
    let decided = decide(&r, &decision("apr-1", Verdict::Approve, Scope::Always), 9).unwrap();
    let id = always_rule_id("code::write_file", &json!({"content": "x", "path": "a.txt"}));
    assert_eq!(decided.decision.as_ref().unwrap().rule_id, Some(id.clone()));
    assert_eq!(
        remembered(&decided),
        Some(AlwaysRule {
            id,
            function_id: "code::write_file".into(),
            arguments: json!({"content": "x", "path": "a.txt"}),
            created_ms: 9,
            by: By { who: Some("ana".into()), via: Via::Cli },
            from_request: "apr-1".into(),
        })
    );
    let once = decide(&r, &decision("apr-1", Verdict::Approve, Scope::Once), 9).unwrap();
    assert_eq!(remembered(&once), None);
}

#[test]
fn a_session_grant_collects_functions_once_each() {
    let first = granted(None, "s1", "code::write_file", 1);
    assert_eq!(
        first,
        SessionGrant { session_id: "s1".into(), functions: vec!["code::write_file".into()], updated_ms: 1 }
    );
    let second = granted(Some(first), "s1", "code::apply_patch", 2);
    assert_eq!(second.functions, vec!["code::apply_patch".to_string(), "code::write_file".to_string()]);
    assert_eq!(granted(Some(second.clone()), "s1", "code::write_file", 3).functions, second.functions);
}

#[test]
fn a_timeout_denies_by_timeout_with_a_note() {
    let r = pending("apr-1", 1, "s1", None);
    let input = timeout_decision(&r, Duration::from_secs(300));
    let denied = decide(&r, &input, 301_001).unwrap();
    let d = denied.decision.unwrap();
    assert_eq!(
        (d.decision, d.by.clone(), d.note.as_deref()),
        (Verdict::Deny, By { who: None, via: Via::Timeout }, Some("nobody decided within 300 s"))
    );
    assert_eq!(d.summary(), "denied via timeout at 1970-01-01 00:05:01 UTC (note: nobody decided within 300 s)");
}

#[test]
fn a_decision_after_the_expiry_is_late_and_the_timeout_decides_first() {
    let r = pending("apr-1", 0, "s1", None);
    let approve = decision("apr-1", Verdict::Approve, Scope::Always);
    assert_eq!(overdue(&r, approve.clone(), 299_999, Duration::from_secs(300)), (approve.clone(), false));
    let (input, late) = overdue(&r, approve.clone(), 300_000, Duration::from_secs(300));
    assert_eq!((input, late), (timeout_decision(&r, Duration::from_secs(300)), true));
    let timeout = timeout_decision(&r, Duration::from_secs(300));
    assert_eq!(overdue(&r, timeout.clone(), 400_000, Duration::from_secs(300)), (timeout, false));
    let decided = decide(&r, &approve, 10).unwrap();
    assert_eq!(
        overdue(&decided, approve.clone(), 400_000, Duration::from_secs(300)),
        (approve, false),
        "a decided request keeps its conflict"
    );
}

#[test]
fn a_list_shows_pending_first_then_newest_and_history_only_with_all() {
    let mut old_done = pending("apr-1", 1, "s1", None);
    old_done.status = Status::Denied;
    let mut new_done = pending("apr-4", 4, "s2", None);
    new_done.status = Status::Approved;
    let all = vec![old_done, pending("apr-2", 2, "s1", None), new_done, pending("apr-3", 3, "s2", None)];
    let ids = |rs: Vec<Request>| rs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(listing(all.clone(), false, None)), vec!["apr-3", "apr-2"]);
    assert_eq!(ids(listing(all.clone(), true, None)), vec!["apr-3", "apr-2", "apr-4", "apr-1"]);
    assert_eq!(ids(listing(all, true, Some("s1"))), vec!["apr-2", "apr-1"]);
}

#[test]
fn history_beyond_the_limit_goes_oldest_decision_first_and_pending_requests_stay() {
    let r = pending("apr-p", 0, "s", None);
    let done = |id: &str, at: u64| {
        decide(&pending(id, 0, "s", None), &decision(id, Verdict::Approve, Scope::Once), at).unwrap()
    };
    let all = vec![done("apr-1", 10), r, done("apr-2", 30), done("apr-3", 20)];
    assert_eq!(history_to_prune(&all, 1), vec!["apr-3".to_string(), "apr-1".to_string()]);
    assert_eq!(history_to_prune(&all, 3), Vec::<String>::new());
}

#[test]
fn waits_default_to_30_seconds_and_never_exceed_60() {
    assert_eq!(wait_for(None), Duration::from_secs(30));
    assert_eq!(wait_for(Some(250)), Duration::from_millis(250));
    assert_eq!(wait_for(Some(3_600_000)), Duration::from_secs(60));
}

#[test]
fn ids_are_apr_and_12_hex_digits_and_differ() {
    let (a, b) = (new_id(), new_id());
    assert!(a.starts_with("apr-") && a.len() == 16 && a[4..].chars().all(|c| c.is_ascii_hexdigit()), "{a}");
    assert_ne!(a, b);
}

#[test]
fn a_request_whose_turn_is_gone_is_expired_and_deciding_it_is_turn_gone_never_approved() {
    let r = pending("apr-1", 1_000, "s1", None);
    let expired = expire_gone(&r, "agent-core restarted while it waited", 5_000).unwrap();
    assert_eq!(expired.status, Status::Denied);
    assert_eq!(expired.turn_gone.as_deref(), Some("agent-core restarted while it waited"));
    let d = expired.decision.clone().unwrap();
    assert_eq!((d.decision, d.by.via, d.decided_ms), (Verdict::Deny, Via::Timeout, 5_000));
    assert_eq!(
        d.note.as_deref(),
        Some("expired: the turn that waited on it is gone (agent-core restarted while it waited); nothing ran")
    );
    for verdict in [Verdict::Approve, Verdict::Deny] {
        let err = decide(&expired, &decision("apr-1", verdict, Scope::Once), 6_000).unwrap_err();
        assert_eq!(err.code(), TURN_GONE);
        assert_eq!(error::http_status(err.code()), 409);
        assert_eq!(
            err.to_string(),
            "approval apr-1 can no longer be decided: the turn that waited on it is gone (agent-core restarted while it waited), so nothing ran and nothing will; ask again in a new turn of the session"
        );
    }
    // A decision that came first stands.
    let approved = decide(&r, &decision("apr-1", Verdict::Approve, Scope::Once), 2_000).unwrap();
    assert_eq!(expire_gone(&approved, "gone", 5_000), None);
}

#[test]
fn a_gone_turn_expires_only_the_pending_requests_of_its_session_and_turn() {
    let mine = pending("apr-1", 1, "s1", None);
    let other_turn = Request { turn_id: Some("t2".into()), ..pending("apr-2", 1, "s1", None) };
    let other_session = pending("apr-3", 1, "s2", None);
    let decided = decide(&mine, &decision("apr-1", Verdict::Deny, Scope::Once), 2).unwrap();
    assert!(waits_on(&mine, "s1", Some("t1")));
    assert!(!waits_on(&other_turn, "s1", Some("t1")));
    assert!(waits_on(&other_turn, "s1", None), "without a turn, every pending request of the session");
    assert!(!waits_on(&other_session, "s1", None));
    assert!(!waits_on(&decided, "s1", None));
}

#[test]
fn a_turn_is_gone_only_when_agent_core_says_so_or_is_not_there() {
    assert_eq!(gone_from(Ok(true)), None);
    assert_eq!(gone_from(Ok(false)), Some("agent-core no longer runs the turn that waited"));
    assert_eq!(gone_from(Err("function_not_found")), Some("agent-core is not running, so its turn is gone"));
    assert_eq!(gone_from(Err("invocation_stopped")), Some("agent-core is not running, so its turn is gone"));
    assert_eq!(gone_from(Err("TIMEOUT")), None, "a slow answer is no proof");
}
