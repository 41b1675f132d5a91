//! The guard's rules as tables: a sequence of calls → the verdict of each.

use std::time::{Duration, Instant};

use agentos_kit::{ErrorCode, WorkerError};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

/// Shorthand for a verdict in the tables: action and rule, the reason checked separately.
type Short = (Action, Option<Rule>);

const OK: Short = (Action::Allow, None);
const WARN_REPEAT: Short = (Action::Warn, Some(Rule::Repeat));
const BLOCK_REPEAT: Short = (Action::Block, Some(Rule::Repeat));
const WARN_CYCLE: Short = (Action::Warn, Some(Rule::Cycle));
const BLOCK_CYCLE: Short = (Action::Block, Some(Rule::Cycle));
const WARN_RUNAWAY: Short = (Action::Warn, Some(Rule::Runaway));
const BLOCK_RUNAWAY: Short = (Action::Block, Some(Rule::Runaway));

/// A call named by a letter: `code::<letter>` with arguments `{"n": <letter>}`.
fn call(name: char) -> ToolCall {
    ToolCall::new(format!("code::{name}"), json!({ "n": name.to_string() }))
}

/// Runs `calls` (one letter each) through a fresh guard and answers the short verdicts.
fn run(calls: &str, limits: &Limits) -> Vec<Short> {
    let mut guard = Guard::new();
    calls.chars().map(|c| guard.check(&call(c), limits)).map(|v| (v.action, v.rule)).collect()
}

#[test]
fn the_rules_warn_then_block_as_documented() {
    let d = Limits::default();
    let table: Vec<(&str, &str, Vec<Short>)> = vec![
        ("different calls are allowed", "abcd", vec![OK; 4]),
        ("a call may be made twice in a row", "aa", vec![OK, OK]),
        (
            "the third identical call is warned, the fifth blocked",
            "aaaaa",
            vec![OK, OK, WARN_REPEAT, WARN_REPEAT, BLOCK_REPEAT],
        ),
        ("a blocked call is not recorded, so insisting stays blocked", "aaaaaa", {
            let mut v = vec![OK, OK, WARN_REPEAT, WARN_REPEAT, BLOCK_REPEAT];
            v.push(BLOCK_REPEAT);
            v
        }),
        ("another call breaks the run", "aaaba", vec![OK, OK, WARN_REPEAT, OK, OK]),
        ("one repetition of a pair is honest work", "abab", vec![OK; 4]),
        ("the third pass of a pair is warned, the fourth blocked", "abababab", {
            let mut v = vec![OK; 5];
            v.extend([WARN_CYCLE, WARN_CYCLE, BLOCK_CYCLE]);
            v
        }),
        ("a cycle is caught whatever came before it", "zzcabababab", {
            let mut v = vec![OK; 8];
            v.extend([WARN_CYCLE, WARN_CYCLE, BLOCK_CYCLE]);
            v
        }),
        ("the third pass of a triple is warned, the fourth blocked", "abcabcabcabc", {
            let mut v = vec![OK; 8];
            v.extend([WARN_CYCLE, WARN_CYCLE, WARN_CYCLE, BLOCK_CYCLE]);
            v
        }),
        ("breaking out of a warned cycle is allowed", "abababc", {
            let mut v = vec![OK; 5];
            v.extend([WARN_CYCLE, OK]);
            v
        }),
    ];
    for (rule, calls, expected) in table {
        assert_eq!(run(calls, &d), expected, "{rule}: {calls}");
    }
}

#[test]
fn a_turn_may_make_max_calls_and_is_warned_from_eighty_percent() {
    let limits = Limits { max_calls: 5, ..Limits::default() };
    // Calls 1-3 allowed, 4 and 5 warned (80 % of 5 is 4), the sixth and later blocked.
    assert_eq!(run("abcdefg", &limits), vec![OK, OK, OK, WARN_RUNAWAY, WARN_RUNAWAY, BLOCK_RUNAWAY, BLOCK_RUNAWAY]);
    let d = Limits::default();
    let mut guard = Guard::new();
    let verdicts: Vec<Short> = (0..52)
        .map(|i| guard.check(&ToolCall::new("code::read_file", json!({ "i": i })), &d))
        .map(|v| (v.action, v.rule))
        .collect();
    assert_eq!(verdicts[..39], vec![OK; 39]);
    assert_eq!(verdicts[39..50], vec![WARN_RUNAWAY; 11]);
    assert_eq!(verdicts[50..], vec![BLOCK_RUNAWAY; 2]);
}

#[test]
fn a_block_wins_over_a_warning_from_another_rule() {
    let limits = Limits { max_calls: 5, ..Limits::default() };
    // The fifth identical call is call 5 of 5: the runaway warning loses to the repeat block.
    assert_eq!(run("aaaaa", &limits), vec![OK, OK, WARN_REPEAT, WARN_REPEAT, BLOCK_REPEAT]);
}

#[test]
fn key_order_does_not_make_a_call_different() {
    let d = Limits::default();
    let mut guard = Guard::new();
    let args: [Value; 3] = [
        json!({"path": "a.rs", "range": {"from": 1, "to": 9}}),
        json!({"range": {"to": 9, "from": 1}, "path": "a.rs"}),
        {
            let mut m = serde_json::Map::new();
            m.insert("range".into(), json!({"to": 9, "from": 1}));
            m.insert("path".into(), json!("a.rs"));
            Value::Object(m)
        },
    ];
    let verdicts: Vec<Action> =
        args.iter().map(|a| guard.check(&ToolCall::new("code::read_file", a.clone()), &d).action).collect();
    assert_eq!(verdicts, vec![Action::Allow, Action::Allow, Action::Warn]);
    assert_eq!(canonical_json(&args[1]), r#"{"path":"a.rs","range":{"from":1,"to":9}}"#);
}

#[test]
fn different_arguments_or_functions_are_different_calls() {
    let d = Limits::default();
    let mut guard = Guard::new();
    for call in [
        ToolCall::new("code::read_file", json!({"path": "a.rs"})),
        ToolCall::new("code::read_file", json!({"path": "b.rs"})),
        ToolCall::new("code::stat", json!({"path": "b.rs"})),
        ToolCall::new("code::stat", json!({"path": ["b.rs"]})),
        ToolCall::new("code::stat", Value::Null),
    ] {
        assert_eq!(guard.check(&call, &d), Verdict::allow(), "{call:?}");
    }
}

#[test]
fn the_reasons_tell_the_model_what_it_did_and_what_to_do() {
    let d = Limits::default();
    let mut guard = Guard::new();
    let read = ToolCall::new("code::read_file", json!({"path": "a.rs"}));
    let verdicts: Vec<Verdict> = (0..5).map(|_| guard.check(&read, &d)).collect();
    assert_eq!(
        verdicts[2],
        Verdict {
            action: Action::Warn,
            reason: Some(
                "You called code::read_file with the same arguments 3 times in a row; the result will not change. \
                 Use what you have or try something different."
                    .into()
            ),
            rule: Some(Rule::Repeat),
        }
    );
    assert_eq!(
        verdicts[4].reason.as_deref(),
        Some(
            "Blocked: you called code::read_file with the same arguments 5 times in a row, so this call was not made; \
             the result would not change. Use the result you already have, or take a different approach."
        )
    );

    let mut guard = Guard::new();
    let search = ToolCall::new("code::search", json!({"q": "fn main"}));
    let last = [&read, &search, &read, &search, &read, &search].into_iter().map(|c| guard.check(c, &d)).last();
    assert_eq!(
        last.and_then(|v| v.reason),
        Some(
            "You are going in circles: the same 2 calls (code::read_file -> code::search) with the same arguments have repeated \
             3 times. Repeating them will not change the results; use what you have or try something different."
                .into()
        )
    );
}

#[test]
fn a_new_turn_forgets_the_calls_but_keeps_the_totals() {
    let d = Limits::default();
    let mut guard = Guard::new();
    let a = call('a');
    guard.enter_turn(Some("t1"));
    let first: Vec<Action> = (0..4).map(|_| guard.check(&a, &d).action).collect();
    assert_eq!(first, vec![Action::Allow, Action::Allow, Action::Warn, Action::Warn]);
    guard.enter_turn(Some("t1"));
    assert_eq!(guard.check(&a, &d).action, Action::Block, "the same turn id continues the turn");
    guard.enter_turn(None);
    assert_eq!(guard.check(&a, &d).action, Action::Block, "no turn id continues the turn");

    guard.enter_turn(Some("t2"));
    assert_eq!(guard.check(&a, &d).action, Action::Allow);
    assert_eq!((guard.turn_id(), guard.turns()), (Some("t2"), 2));
    assert_eq!(guard.turn_counts(), Counts { allowed: 1, warned: 0, blocked: 0 });
    assert_eq!(guard.total_counts(), Counts { allowed: 3, warned: 2, blocked: 2 });
}

fn check(session: &str, turn: Option<&str>, function: &str) -> CheckRequest {
    CheckRequest {
        session_id: session.into(),
        turn_id: turn.map(str::to_string),
        function_id: function.into(),
        arguments: json!({}),
    }
}

fn session(id: &str) -> SessionRequest {
    SessionRequest { session_id: id.into() }
}

#[test]
fn sessions_are_guarded_apart_and_reset_drops_one() {
    let d = Limits::default();
    let now = Instant::now();
    let mut sessions = Sessions::default();
    for _ in 0..3 {
        sessions.check(check("s1", None, "code::ls"), &d, now).unwrap();
    }
    assert_eq!(sessions.check(check("s2", None, "code::ls"), &d, now).unwrap().action, Action::Allow);
    assert_eq!(
        sessions.stats(&session("s1"), now).unwrap(),
        Stats {
            session_id: "s1".into(),
            tracked: true,
            turn_id: None,
            turns: 1,
            turn: Counts { allowed: 2, warned: 1, blocked: 0 },
            total: Counts { allowed: 2, warned: 1, blocked: 0 },
        }
    );
    assert_eq!(sessions.reset(&session("s1"), now).unwrap(), ResetAnswer { reset: true });
    let stats = sessions.stats(&session("s1"), now).unwrap();
    assert_eq!((stats.tracked, stats.turns, stats.total), (false, 0, Counts::default()));
    assert_eq!(sessions.check(check("s1", None, "code::ls"), &d, now).unwrap().action, Action::Allow);
    assert_eq!(sessions.len(), 2);
}

#[test]
fn idle_sessions_are_dropped_and_the_table_never_exceeds_its_cap() {
    let d = Limits::default();
    let start = Instant::now();
    let mut sessions = Sessions::new(3, Duration::from_secs(3600));
    for (i, id) in ["a", "b", "c", "d"].into_iter().enumerate() {
        sessions.check(check(id, None, "code::ls"), &d, start + Duration::from_secs(i as u64)).unwrap();
    }
    assert_eq!(sessions.len(), 3);
    assert!(!sessions.stats(&session("a"), start).unwrap().tracked, "the least recently checked session made room");

    let later = start + Duration::from_secs(2 * 3600);
    sessions.check(check("e", None, "code::ls"), &d, later).unwrap();
    assert_eq!(sessions.len(), 1, "sessions idle for over an hour are gone");
}

#[test]
fn empty_ids_are_invalid_input_naming_the_field() {
    let d = Limits::default();
    let now = Instant::now();
    let mut sessions = Sessions::default();
    let err = sessions.check(check(" ", None, "code::ls"), &d, now).unwrap_err();
    assert_eq!(err.to_worker_error(), WorkerError::invalid_input("session_id is empty: pass the chat session id"));
    let err = sessions.check(check("s", None, ""), &d, now).unwrap_err();
    assert_eq!(err.code(), "INVALID_INPUT");
    assert!(sessions.is_empty(), "a refused check creates no session");
    assert!(sessions.reset(&session(""), now).is_err());
}
