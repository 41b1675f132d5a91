//! `agentos realm|agent|hand …`: what each command sends and what it prints.

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

fn realm(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "description": "", "created_ms": 1_738_332_300_000_i64, "updated_ms": 1_738_332_300_000_i64, "settings": {}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realm_create_makes_the_id_from_the_name_and_a_conflict_exits_1() {
    let stack = FakeStack::start(|r| match r.body["id"].as_str() {
        Some("team-alpha") => json(201, realm("team-alpha", "Team Alpha")),
        _ => error(409, "CONFLICT", "realm default exists; pick another id"),
    })
    .await;
    let out = stack.agentos(&["realm", "create", "Team Alpha", "--description", "ops"], None).await;
    assert_eq!(stdout(&out), "created realm team-alpha (Team Alpha)\n", "{}", stderr(&out));
    assert!(out.status.success());
    let sent = &stack.requests()[0];
    assert_eq!(route(sent), ("POST", "/v1/realms"));
    assert_eq!(sent.body, json!({"id": "team-alpha", "name": "Team Alpha", "description": "ops"}));

    let out = stack.agentos(&["realm", "create", "Default", "--id", "default"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "agentos: CONFLICT: realm default exists; pick another id\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realm_list_is_a_table_and_its_json_is_the_answer_as_sent() {
    let body = json!({"realms": [realm("default", "Default"), realm("team-alpha", "Team Alpha")]});
    let answer = body.clone();
    let stack = FakeStack::start(move |_| json(200, answer.clone())).await;
    let out = stack.agentos(&["realm", "list"], None).await;
    assert_eq!(
        stdout(&out),
        "ID          NAME        CREATED               DESCRIPTION\n\
         default     Default     2025-01-31 14:05 UTC  -\n\
         team-alpha  Team Alpha  2025-01-31 14:05 UTC  -\n"
    );
    let out = stack.agentos(&["realm", "list", "--json"], None).await;
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), body);
    assert_eq!(route(&stack.requests()[0]), ("GET", "/v1/realms"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_realm_imports_from_its_file_under_another_id() {
    let doc = json!({"realm": realm("a", "A"), "scopes": {"memory": [{"id": "m1"}, {"id": "m2"}]}});
    let exported = doc.clone();
    let stack = FakeStack::start(move |r| match route(r) {
        ("GET", "/v1/realms/a/export") => json(200, exported.clone()),
        ("POST", "/v1/realms/import") => {
            json(200, json!({"realm": realm("b", "A"), "scopes": 1, "items": 2, "replaced": true}))
        }
        (method, uri) => error(404, "route_not_found", &format!("no route for {method} {uri}")),
    })
    .await;
    let file = stack.path().join("a.json");
    let file_arg = file.to_str().unwrap();
    let out = stack.agentos(&["realm", "export", "a", "-o", file_arg], None).await;
    assert_eq!(stdout(&out), format!("exported realm a (2 values in 1 scope) to {file_arg}\n"), "{}", stderr(&out));
    assert_eq!(serde_json::from_str::<Value>(&std::fs::read_to_string(&file).unwrap()).unwrap(), doc);

    let out = stack.agentos(&["realm", "import", file_arg, "--id", "b", "--overwrite"], None).await;
    assert_eq!(stdout(&out), "replaced realm b (2 values in 1 scope)\n", "{}", stderr(&out));
    let mut expected = doc;
    expected["id"] = json!("b");
    expected["overwrite"] = json!(true);
    assert_eq!(stack.requests()[1].body, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realm_delete_says_how_much_went_with_it() {
    let stack = FakeStack::start(|_| json(200, json!({"id": "team-alpha", "scopes": ["memory"], "items": 3}))).await;
    let out = stack.agentos(&["realm", "delete", "team-alpha"], None).await;
    assert_eq!(stdout(&out), "deleted realm team-alpha (3 values in 1 scope)\n");
    assert_eq!(route(&stack.requests()[0]), ("DELETE", "/v1/realms/team-alpha"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_commands_send_the_realm_filter_and_only_the_options_given() {
    let agent = json!({"id": "ag-1", "name": "ops", "realm": "team-alpha", "hand": "coder", "created_at_ms": 1_738_332_300_000_i64});
    let answer = agent.clone();
    let stack = FakeStack::start(move |r| match route(r) {
        ("GET", _) => json(200, json!({"agents": [answer.clone()]})),
        ("POST", "/v1/agents") => json(201, answer.clone()),
        ("DELETE", "/v1/agents/ag-1") => json(200, json!({"deleted": "ag-1"})),
        (method, uri) => error(404, "route_not_found", &format!("no route for {method} {uri}")),
    })
    .await;
    let out = stack.agentos(&["agent", "list", "--realm", "team-alpha"], None).await;
    assert_eq!(
        stdout(&out),
        "ID    NAME  REALM       HAND   MODEL  DESCRIPTION\nag-1  ops   team-alpha  coder  -      -\n"
    );
    let out = stack.agentos(&["agent", "create", "ops", "--hand", "coder", "--realm", "team-alpha"], None).await;
    assert_eq!(stdout(&out), "created agent ag-1 (ops) in realm team-alpha\n");
    let out = stack.agentos(&["agent", "delete", "ag-1"], None).await;
    assert_eq!(stdout(&out), "deleted agent ag-1\n");

    let requests = stack.requests();
    assert_eq!(route(&requests[0]), ("GET", "/v1/agents?realm=team-alpha"));
    assert_eq!(requests[1].body, json!({"name": "ops", "hand": "coder", "realm": "team-alpha"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_run_triggers_the_hand_and_prints_its_turn() {
    let stack = FakeStack::start(|_| {
        json(
            200,
            json!({
                "session_id": "s-42", "reply": "All green.", "model": "m", "steps": 2,
                "tool_calls": [{"id": "c1", "function_id": "code::run", "arguments": {"cmd": "cargo test"}, "ok": false,
                                "blocked": "needs approval", "duration_ms": 0}],
                "usage": {"input_tokens": 10, "output_tokens": 3, "llm_calls": 2}
            }),
        )
    })
    .await;
    let out = stack.agentos(&["hand", "run", "coder", "check the build"], None).await;
    assert_eq!(
        stdout(&out),
        "⚙ code::run {\"cmd\":\"cargo test\"}\n  ↳ blocked: needs approval\nAll green.\nsession s-42 · 2 steps · 10 in / 3 out tokens\n",
        "{}",
        stderr(&out)
    );
    let sent = &stack.requests()[0];
    assert_eq!(route(sent), ("POST", "/v1/hands/coder/trigger"));
    assert_eq!(sent.body, json!({"message": "check the build"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_reload_names_the_files_that_did_not_load_and_exits_1() {
    let stack = FakeStack::start(|_| {
        json(200, json!({"hands": 2, "errors": [{"path": "/cfg/hands/bad/HAND.toml", "message": "missing name"}]}))
    })
    .await;
    let out = stack.agentos(&["hand", "reload"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "loaded 2 hand(s)\n");
    assert_eq!(
        stderr(&out),
        "✗ /cfg/hands/bad/HAND.toml: missing name\n\
         fix the file(s) above, then `agentos hand reload`\n\
         agentos: 1 hand file(s) did not load; fix: correct them, then `agentos hand reload`\n"
    );
    assert_eq!(route(&stack.requests()[0]), ("POST", "/v1/hands/reload"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_get_encodes_the_name_into_the_path() {
    let stack = FakeStack::start(|_| error(404, "NOT_FOUND", "no hand named \"a b\"; see `agentos hand list`")).await;
    let out = stack.agentos(&["hand", "get", "a b"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "agentos: NOT_FOUND: no hand named \"a b\"; see `agentos hand list`\n");
    assert_eq!(route(&stack.requests()[0]), ("GET", "/v1/hands/a%20b"));
}
