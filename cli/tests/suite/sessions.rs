//! `agentos sessions|replay|trace …` against the fake stack: what each command sends and what
//! it prints (stdout is a pipe, so no colour).

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

fn session(id: &str, name: &str, state: &str) -> Value {
    json!({"id": id, "name": name, "realm": "default", "hand": "coder", "state": state, "turns": 2,
           "created_ms": 1_738_332_300_000_i64, "updated_ms": 1_738_332_300_000_i64})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_lists_a_table_with_the_filters_sent_as_query_and_json_as_sent() {
    let body = json!({"sessions": [session("s:1", "bugfix", "active")], "total": 1});
    let answer = body.clone();
    let stack = FakeStack::start(move |_| json(200, answer.clone())).await;
    let out = stack.agentos(&["sessions", "--realm", "default", "--state", "active"], None).await;
    assert_eq!(
        stdout(&out),
        "ID   NAME    REALM    HAND   STATE   TURNS  UPDATED\n\
         s:1  bugfix  default  coder  active  2      2025-01-31 14:05 UTC\n",
        "{}",
        stderr(&out)
    );
    let out = stack.agentos(&["sessions", "--json"], None).await;
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), body);
    let requests = stack.requests();
    assert_eq!(route(&requests[0]), ("GET", "/v1/sessions?realm=default&state=active"));
    assert_eq!(route(&requests[1]), ("GET", "/v1/sessions"));
    assert_eq!(requests[0].authorization.as_deref(), Some("Bearer test-key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_resolves_the_session_then_patches_it_and_a_conflict_exits_1() {
    let stack = FakeStack::start(|r| match route(r) {
        ("GET", "/v1/sessions/bugfix") => json(200, session("s:1", "bugfix", "done")),
        ("PATCH", "/v1/sessions/s%3A1?realm=default") if r.body["name"] == "taken" => {
            error(409, "CONFLICT", "realm \"default\" already has a session named \"taken\"; pick another name")
        }
        ("PATCH", "/v1/sessions/s%3A1?realm=default") => {
            json(200, session("s:1", r.body["name"].as_str().unwrap(), "done"))
        }
        ("POST", "/v1/sessions/s%3A1/close?realm=default") => json(200, session("s:1", "bugfix", "done")),
        (method, uri) => error(404, "route_not_found", &format!("no route for {method} {uri}")),
    })
    .await;
    let out = stack.agentos(&["sessions", "rename", "bugfix", "nightly"], None).await;
    assert_eq!(stdout(&out), "renamed session s:1 to nightly\n", "{}", stderr(&out));
    assert_eq!(stack.requests()[1].body, json!({"name": "nightly"}));

    let out = stack.agentos(&["sessions", "rename", "bugfix", "taken"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "agentos: CONFLICT: realm \"default\" already has a session named \"taken\"; pick another name\n"
    );

    let out = stack.agentos(&["sessions", "close", "bugfix"], None).await;
    assert_eq!(stdout(&out), "closed session s:1 (done)\n", "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_resolves_a_name_and_prints_the_steps_and_totals() {
    let events = json!({"session_id": "s:1", "events": [
        {"session_id": "s:1", "seq": 100000, "kind": "user_message", "at_ms": 5000, "turn_id": "t1", "data": {"text": "hi"}},
        {"session_id": "s:1", "seq": 100001, "kind": "llm_response", "at_ms": 5250, "duration_ms": 250, "turn_id": "t1",
         "data": {"model": "small", "provider": "openai", "content": "hello", "tool_calls": [], "finish_reason": "stop",
                  "usage": {"input_tokens": 1200, "output_tokens": 8}, "latency_ms": 250}},
    ]});
    let summary = json!({"session_id": "s:1", "events": 2, "turns": 1, "started_ms": 5000, "ended_ms": 5500,
        "duration_ms": 500, "llm_calls": 1, "tool_calls": 0, "input_tokens": 1200, "output_tokens": 8, "errors": 0,
        "approvals": 0, "trace_ids": []});
    let (e, s) = (events.clone(), summary.clone());
    let stack = FakeStack::start(move |r| match route(r) {
        ("GET", "/v1/sessions/bugfix?realm=team") => json(200, session("s:1", "bugfix", "done")),
        ("GET", "/v1/sessions/s%3A1/events?from_seq=0&limit=1000") => json(200, e.clone()),
        ("GET", "/v1/sessions/s%3A1/summary") => json(200, s.clone()),
        (method, uri) => error(404, "route_not_found", &format!("no route for {method} {uri}")),
    })
    .await;
    let out = stack.agentos(&["replay", "bugfix", "--realm", "team"], None).await;
    assert_eq!(
        stdout(&out),
        "session s:1 \"bugfix\" · realm default · hand coder · done · 2 turns\n\
         SEQ     +TIME    KIND          DETAIL                                  DURATION\n\
         ── turn 1 ──\n\
         100000  +0.000s  user_message  \"hi\"                                    -\n\
         100001  +0.250s  llm_response  openai/small · 1,200 in / 8 out · stop  250 ms\n\
         duration 500 ms · 2 steps · 1 turn · 1 LLM call · 0 tool calls · 1,200 in / 8 out tokens · 0 errors\n",
        "{}",
        stderr(&out)
    );
    let out = stack.agentos(&["replay", "bugfix", "--realm", "team", "--json"], None).await;
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed,
        json!({"session": session("s:1", "bugfix", "done"), "events": events["events"], "summary": summary})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_of_a_session_draws_each_of_its_traces_and_a_trace_id_draws_one() {
    let tid = "4bf92f3577b34da6a3ce929d0e0e4736";
    let tree = json!({"trace_id": tid, "roots": [{"function_id": "agent::chat", "status": "ok",
        "start_time_unix_nano": 0, "end_time_unix_nano": 4_000_000, "children": [
            {"function_id": "llm::complete", "status": "ok", "start_time_unix_nano": 2_000_000,
             "end_time_unix_nano": 4_000_000, "children": []}]}]});
    let t = tree.clone();
    let stack = FakeStack::start(move |r| match route(r) {
        ("GET", "/v1/sessions/s1") => json(200, session("s1", "bugfix", "done")),
        ("GET", "/v1/traces?session_id=s1") => {
            json(200, json!({"traces": [{"trace_id": tid, "root": {"function_id": "agent::chat"}, "started_ms": 0, "duration_ms": 4.0, "turn_id": "t1"}]}))
        }
        ("GET", uri) if uri == format!("/v1/traces/{tid}") => json(200, t.clone()),
        ("GET", _) => error(404, "NOT_FOUND", "no spans of trace; list recent traces with GET /v1/traces"),
        (method, uri) => error(404, "route_not_found", &format!("no route for {method} {uri}")),
    })
    .await;
    let waterfall = format!(
        "trace {tid} · 4.0 ms · 2 spans\n\
         agent::chat      4.0 ms  │████████████████████████████████████████│\n\
         \x20 llm::complete  2.0 ms  │                    ████████████████████│\n"
    );
    let out = stack.agentos(&["trace", "s1"], None).await;
    assert_eq!(stdout(&out), format!("session s1\n\nturn t1\n{waterfall}"), "{}", stderr(&out));

    let out = stack.agentos(&["trace", tid], None).await;
    assert_eq!(stdout(&out), waterfall, "{}", stderr(&out));

    let unknown = "0".repeat(32);
    let out = stack.agentos(&["trace", &unknown], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "agentos: NOT_FOUND: no spans of trace; list recent traces with GET /v1/traces\n");
    let asked: Vec<String> = stack.requests().iter().skip(4).map(|r| r.uri.clone()).collect();
    assert_eq!(
        asked,
        vec![format!("/v1/traces/{unknown}"), format!("/v1/sessions/{unknown}")],
        "a trace first, then a session"
    );
}
