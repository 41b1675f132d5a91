//! `agentos approvals …` and `agentos policy explain`: what each sends and what it prints.

use std::time::{SystemTime, UNIX_EPOCH};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::fake::{FakeStack, Recorded, error, json};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn route(r: &Recorded) -> (&str, &str) {
    (r.method.as_str(), r.uri.as_str())
}

fn now_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// A pending request made `ago_ms` before now.
fn request(id: &str, ago_ms: u64, function_id: &str, arguments: Value) -> Value {
    let created = now_ms() - ago_ms;
    json!({"id": id, "status": "pending", "created_ms": created, "expires_ms": created + 300_000,
           "session_id": "s1", "agent": null, "hand": "coder", "realm": null,
           "function_id": function_id, "arguments": arguments, "reason": "the model wants to", "tier": "ask",
           "rule": {"id": "builtin:workspace-write", "source": "builtin", "function": "code::write_file|apply_patch"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_lists_the_pending_requests_as_a_table_and_all_asks_for_the_history() {
    let body = json!({"approvals": [request("apr-1", 125_000, "code::write_file", json!({"path": "notes.md", "content": "x"}))]});
    let answer = body.clone();
    let stack = FakeStack::start(move |_| json(200, answer.clone())).await;

    let out = stack.agentos(&["approvals"], None).await;
    assert_eq!(
        stdout(&out),
        "ID     AGE  SESSION  FUNCTION          ARGS      TIER/RULE                    STATUS\n\
         apr-1  2m   s1       code::write_file  notes.md  ask/builtin:workspace-write  pending\n",
        "{}",
        stderr(&out)
    );
    let out = stack.agentos(&["approvals", "--all", "--json"], None).await;
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), body);
    let sent: Vec<(String, String)> = stack.requests().iter().map(|r| (r.method.clone(), r.uri.clone())).collect();
    assert_eq!(
        sent,
        vec![("GET".to_string(), "/v1/approvals".to_string()), ("GET".to_string(), "/v1/approvals?all=1".to_string())]
    );
    assert_eq!(stack.requests()[0].authorization.as_deref(), Some("Bearer test-key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_sends_scope_and_note_via_cli_and_a_second_decision_says_already_decided() {
    let stack = FakeStack::start(|r| match (r.uri.as_str(), r.body["decision"].as_str()) {
        ("/v1/approvals/apr-1", Some("approve")) => {
            let mut decided = request("apr-1", 0, "code::run_command", json!({"program": "make"}));
            decided["status"] = json!("approved");
            decided["decision"] = json!({"decision": "approve", "scope": "always", "note": "fine", "by": {"via": "cli"},
                                         "decided_ms": 1, "rule_id": "always-00ff"});
            json(200, decided)
        }
        _ => error(
            409,
            "CONFLICT",
            "approval apr-2 was already decided: denied via timeout at 2025-01-31 14:05:00 UTC (note: nobody decided within 300 s); the first decision wins, nothing was changed",
        ),
    })
    .await;

    let out = stack.agentos(&["approvals", "approve", "apr-1", "--scope", "always", "--note", "fine"], None).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "approved apr-1 (scope always): code::run_command; remembered as always-00ff (`agentos approvals forget always-00ff` removes it)\n"
    );
    let sent = &stack.requests()[0];
    assert_eq!(route(sent), ("POST", "/v1/approvals/apr-1"));
    assert_eq!(sent.body, json!({"decision": "approve", "scope": "always", "note": "fine", "via": "cli"}));

    let out = stack.agentos(&["approvals", "deny", "apr-2", "--note", "too late"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "agentos: already decided: denied via timeout at 2025-01-31 14:05:00 UTC (note: nobody decided within 300 s); the first decision wins, nothing was changed; `agentos approvals --all` shows the history\n"
    );
    assert_eq!(stack.requests()[1].body, json!({"decision": "deny", "note": "too late", "via": "cli"}));

    let out = stack.agentos(&["approvals", "approve", "apr-1", "--scope", "forever"], None).await;
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown scope");
    assert!(stderr(&out).contains("possible values: once, session, always"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_lists_the_remembered_approvals_and_forget_deletes_one_by_its_encoded_id() {
    let stack = FakeStack::start(|r| match route(r) {
        ("GET", "/v1/approvals/rules") => json(
            200,
            json!({"rules": [], "grants": [{"session_id": "s1", "functions": ["code::write_file"], "updated_ms": 1_738_332_300_000_i64}]}),
        ),
        ("DELETE", "/v1/approvals/rules/grant%3As1") => json(200, json!({"deleted": "grant:s1"})),
        (method, uri) => error(404, "NOT_FOUND", &format!("no remembered rule for {method} {uri}")),
    })
    .await;
    let out = stack.agentos(&["approvals", "rules"], None).await;
    assert_eq!(
        stdout(&out),
        "GRANT     FUNCTIONS         UPDATED\ngrant:s1  code::write_file  2025-01-31 14:05 UTC\n",
        "{}",
        stderr(&out)
    );
    let out = stack.agentos(&["approvals", "forget", "grant:s1"], None).await;
    assert_eq!(stdout(&out), "forgot grant:s1\n", "{}", stderr(&out));
    let out = stack.agentos(&["approvals", "forget", "always-x"], None).await;
    assert_eq!(stderr(&out), "agentos: NOT_FOUND: no remembered rule for DELETE /v1/approvals/rules/always-x\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_explain_prints_the_tier_and_the_rule_and_refuses_arguments_that_are_not_json() {
    let stack = FakeStack::start(|r| {
        assert_eq!(route(r), ("POST", "/v1/policy/explain"));
        json(
            200,
            json!({"tier": "deny", "rule": {"id": "builtin:privileged-command", "source": "builtin", "function": "code::run_command"},
                   "reason": "`sudo` is never run by an agent"}),
        )
    })
    .await;
    let out = stack
        .agentos(&["policy", "explain", "code::run_command", r#"{"program": "sudo"}"#, "--hand", "coder"], None)
        .await;
    assert_eq!(
        stdout(&out),
        "tier      deny\nrule      builtin:privileged-command\nsource    builtin\nfunction  code::run_command\nreason    `sudo` is never run by an agent\n",
        "{}",
        stderr(&out)
    );
    assert_eq!(
        stack.requests()[0].body,
        json!({"function_id": "code::run_command", "arguments": {"program": "sudo"}, "hand": "coder"})
    );

    let out = stack.agentos(&["policy", "explain", "code::run_command", "program=sudo"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("agentos: the arguments are not JSON ("), "{}", stderr(&out));
    assert_eq!(stack.requests().len(), 1, "nothing was sent for bad arguments");
}
