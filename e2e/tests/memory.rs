//! End to end: long-term memory through the whole stack (`agentos up`, every worker its own
//! process, the embedding worker running the real model): memories added with the CLI reach
//! the model's prompt by meaning, the model stores and recalls memories as tools (in the turn's
//! realm), and `agentos memory search|forget` see the same memories.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use agentos_e2e::chat::ChatStack;
use agentos_test_support::{Reply, ToolCallSpec};
use serde_json::{Value, json};

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_added_with_the_cli_reaches_the_prompt_by_meaning_and_can_be_forgotten() {
    let s = ChatStack::start("", &[]).await;
    let added = tokio::task::block_in_place(|| {
        stdout(&s.stack.agentos(&["memory", "add", "The staging Postgres server listens on port 6543.", "--json"]))
    });
    let added: Value = serde_json::from_str(&added).unwrap();
    let id = added["memory"]["id"].as_str().unwrap().to_string();

    // A question sharing no keyword with the memory: only its meaning connects them.
    s.llm.push(Reply::text("Port 6543."));
    let (status, answer) = s.chat(json!({"message": "Which TCP port should I use for the pre-production DB?"})).await;
    assert_eq!(status, 200, "{answer:#}");
    let system = s.sent(0).into_iter().find(|m| m["role"] == "system").unwrap();
    assert!(system["content"].as_str().unwrap().contains("listens on port 6543"), "{system:#}");

    let found = tokio::task::block_in_place(|| stdout(&s.stack.agentos(&["memory", "search", "database port"])));
    assert!(found.contains(&id) && found.contains("6543"), "{found}");
    tokio::task::block_in_place(|| stdout(&s.stack.agentos(&["memory", "forget", &id])));
    let (_, after) = s.get("/v1/memory/search?q=staging%20postgres%20port").await;
    assert_eq!(after["memories"], json!([]), "{after:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_stores_and_recalls_memories_as_tools_in_the_turns_realm() {
    let s = ChatStack::start("", &[]).await;
    let (status, _) = {
        let r = s.post("/v1/realms", json!({"id": "team"})).await;
        (r.status().as_u16(), ())
    };
    assert_eq!(status, 201);

    // The model asks to remember something, naming another realm: it lands in the turn's.
    let store = ToolCallSpec::new(
        "c1",
        "memory__store",
        json!({"text": "The user prefers tabs over spaces in Go code.", "realm": "default"}),
    );
    s.llm.push(Reply::tool_calls(vec![store]));
    s.llm.push(Reply::text("Noted."));
    let (status, answer) = s.chat(json!({"message": "Remember: tabs, not spaces, in Go.", "realm": "team"})).await;
    assert_eq!(status, 200, "{answer:#}");
    let call = &answer["tool_calls"][0];
    assert_eq!((call["function_id"].as_str(), call["ok"].as_bool()), (Some("memory::store"), Some(true)), "{call:#}");
    let offered = s.llm.requests()[0].body["tools"].as_array().unwrap().clone();
    let schema = offered.iter().find(|t| t["function"]["name"] == "memory__store").expect("memory__store offered");
    assert_eq!(schema["function"]["parameters"]["required"], json!(["text"]));

    let (_, in_team) = s.get("/v1/memory/search?q=indentation%20preference&realm=team").await;
    assert_eq!(in_team["memories"][0]["text"], "The user prefers tabs over spaces in Go code.", "{in_team:#}");
    let (_, in_default) = s.get("/v1/memory/search?q=indentation%20preference").await;
    assert_eq!(in_default["memories"], json!([]), "{in_default:#}");

    // Recall as a tool, in the next turn of the same realm.
    s.llm.push(Reply::tool_calls(vec![ToolCallSpec::new("c2", "memory__recall", json!({"query": "code style"}))]));
    s.llm.push(Reply::text("Tabs."));
    let (status, answer) = s.chat(json!({"message": "How do I indent Go here?", "realm": "team"})).await;
    assert_eq!(status, 200, "{answer:#}");
    let recalled = &answer["tool_calls"][0]["result"]["memories"];
    assert_eq!(recalled[0]["text"], "The user prefers tabs over spaces in Go code.", "{answer:#}");
}
