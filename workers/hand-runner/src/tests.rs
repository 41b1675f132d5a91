//! Unit tests of the pure decisions of the crate root, over an in-memory catalogue.

use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;

const PLAIN: BuiltinHand = BuiltinHand {
    name: "plain",
    text: "name = \"plain\"\ndescription = \"No schedule.\"\ntier = \"fast\"\nmax_steps = 5\nallowed_functions = [\"code::list\"]\n[prompt]\nsystem = \"Be plain.\"\n",
};

const DAILY: BuiltinHand = BuiltinHand {
    name: "daily",
    text: "name = \"daily\"\ndescription = \"Every morning.\"\nallowed_functions = []\n[prompt]\nsystem = \"Report.\"\n[schedule]\ncron = \"0 0 9 * * *\"\nprompt = \"Morning report.\"\nrealm = \"ops\"\n",
};

fn catalogue() -> Catalogue {
    let c = Catalogue::load(&[PLAIN, DAILY], None::<&Path>);
    assert_eq!(c.errors(), &[]);
    c
}

fn run(hand: &str, ok: bool) -> LastRun {
    LastRun {
        hand: hand.into(),
        trigger: RunKind::Cron,
        started_ms: 1,
        finished_ms: 2,
        ok,
        session_id: ok.then(|| "s1".to_string()),
        error: None,
    }
}

#[test]
fn list_joins_each_hand_with_its_own_last_run_and_keeps_the_errors() {
    let list = list(&catalogue(), vec![run("plain", true), run("ghost", true)]);
    assert_eq!(
        serde_json::to_value(&list).unwrap(),
        json!({
            "hands": [
                {
                    "name": "daily", "description": "Every morning.", "allowed_functions": [],
                    "schedule": {"cron": "0 0 9 * * *", "prompt": "Morning report.", "realm": "ops"},
                    "source": "builtin"
                },
                {
                    "name": "plain", "description": "No schedule.", "tier": "fast",
                    "allowed_functions": ["code::list"], "source": "builtin",
                    "last_run": {"hand": "plain", "trigger": "cron", "started_ms": 1, "finished_ms": 2, "ok": true, "session_id": "s1"}
                }
            ],
            "errors": []
        })
    );
}

#[test]
fn detail_is_the_whole_hand_with_its_prompt_steps_and_last_run() {
    let got = detail(&catalogue(), "plain", Some(run("plain", true))).unwrap();
    assert_eq!(
        serde_json::to_value(&got).unwrap(),
        json!({
            "name": "plain", "description": "No schedule.", "tier": "fast", "max_steps": 5,
            "allowed_functions": ["code::list"], "system_prompt": "Be plain.", "source": "builtin",
            "last_run": {"hand": "plain", "trigger": "cron", "started_ms": 1, "finished_ms": 2, "ok": true, "session_id": "s1"}
        })
    );
    let back: HandDetail = serde_json::from_value(serde_json::to_value(&got).unwrap()).unwrap();
    assert_eq!(back, got);
    assert_eq!(detail(&catalogue(), "nope", None).unwrap_err().code(), "NOT_FOUND");
}

#[test]
fn a_trigger_sends_the_message_or_else_the_schedule_prompt_and_realm() {
    let c = catalogue();
    let req = TriggerHand { name: "plain".into(), message: Some("hi".into()), ..TriggerHand::default() };
    assert_eq!(
        chat_request(&c, req).unwrap(),
        ChatRequest { message: "hi".into(), hand: "plain".into(), realm: None, session_id: None }
    );

    let req = TriggerHand { name: "daily".into(), session_id: Some("s9".into()), ..TriggerHand::default() };
    assert_eq!(
        chat_request(&c, req).unwrap(),
        ChatRequest {
            message: "Morning report.".into(),
            hand: "daily".into(),
            realm: Some("ops".into()),
            session_id: Some("s9".into())
        }
    );

    let req =
        TriggerHand { name: "daily".into(), message: Some("now".into()), realm: Some("team".into()), session_id: None };
    let sent = chat_request(&c, req).unwrap();
    assert_eq!((sent.message.as_str(), sent.realm.as_deref()), ("now", Some("team")));
    assert_eq!(
        serde_json::to_value(&sent).unwrap(),
        json!({"message": "now", "hand": "daily", "realm": "team"}),
        "absent fields are left out of what agent::chat gets"
    );
}

#[test]
fn a_trigger_without_a_message_for_a_hand_without_a_schedule_is_invalid_input() {
    let c = catalogue();
    for message in [None, Some("  ".to_string())] {
        let err =
            chat_request(&c, TriggerHand { name: "plain".into(), message, ..TriggerHand::default() }).unwrap_err();
        assert_eq!(err, HandError::NoMessage { name: "plain".into() });
        assert_eq!(err.code(), "INVALID_INPUT");
    }
    let err = chat_request(&c, TriggerHand { name: "ghost".into(), ..TriggerHand::default() }).unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
}

#[test]
fn a_finished_run_records_the_session_or_the_failure() {
    let ok = finished_run("plain", RunKind::Manual, 10, 20, &Ok(json!({"session_id": "s7", "reply": "done"})));
    assert_eq!(
        ok,
        LastRun {
            hand: "plain".into(),
            trigger: RunKind::Manual,
            started_ms: 10,
            finished_ms: 20,
            ok: true,
            session_id: Some("s7".into()),
            error: None
        }
    );
    let odd = finished_run("plain", RunKind::Manual, 10, 20, &Ok(json!({"session_id": 7})));
    assert_eq!((odd.ok, odd.session_id), (true, None));

    let failed = finished_run("plain", RunKind::Cron, 10, 20, &Err(HandError::AgentNotRunning));
    assert_eq!((failed.ok, failed.session_id), (false, None));
    assert_eq!(
        failed.error,
        Some(RunFailure { code: "AGENT_NOT_RUNNING".into(), message: HandError::AgentNotRunning.to_string() })
    );
}

fn trigger(id: &str, function_id: &str, metadata: Option<serde_json::Value>) -> TriggerInfo {
    TriggerInfo { id: id.into(), function_id: function_id.into(), metadata }
}

#[test]
fn a_cron_firing_resolves_to_the_hand_of_its_trigger_in_the_current_load_only() {
    let triggers = vec![
        trigger("t1", RUN_SCHEDULED, Some(json!({"hand": "daily", "generation": 3}))),
        trigger("t0", RUN_SCHEDULED, Some(json!({"hand": "daily", "generation": 2}))),
        trigger("h1", "hand::http_list", None),
        trigger("t2", RUN_SCHEDULED, Some(json!({"note": "someone else's"}))),
    ];
    assert_eq!(resolve_job(&triggers, "t1", 3), Ok("daily".to_string()));

    let why = |job: &str| match resolve_job(&triggers, job, 3) {
        Err(HandError::UnknownJob { why, .. }) => why,
        other => panic!("{job}: {other:?}"),
    };
    assert_eq!(why("t0"), "it belongs to load 2 of the hands, and they were reloaded since (load 3)");
    assert_eq!(why("h1"), "it calls hand::http_list, not hand::run_scheduled");
    assert_eq!(why("t2"), "its metadata names no hand");
    assert_eq!(why("zz"), "the engine lists no trigger with this id");
}

#[test]
fn doctor_lists_every_allowed_function_that_is_not_registered() {
    let hands = list(&catalogue(), vec![]).hands;
    assert_eq!(missing_functions(&hands, |f| f == "code::list"), Vec::<String>::new());
    assert_eq!(
        missing_functions(&hands, |_| false),
        vec![
            "hand plain allows code::list, which is not registered; fix: start the worker that provides it, or remove it from allowed_functions in builtin"
                .to_string()
        ]
    );
}

#[test]
fn a_cron_payload_decodes_with_the_engines_extra_keys() {
    let firing: CronFiring = agentos_kit::typed::decode(
        RUN_SCHEDULED,
        json!({"trigger": "cron", "job_id": "t1", "scheduled_time": "2030-01-01T00:00:00Z", "actual_time": "x"}),
    )
    .unwrap();
    assert_eq!(firing, CronFiring { job_id: "t1".into() });
}
