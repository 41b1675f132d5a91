//! `context::build` on the bus: what agent-core sees at the start of a turn.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use agentos_kit::chat::{ChatMessage, Role};
use agentos_kit::harness::TestStack;
use agentos_kit::{WorkerError, call, register_typed};
use agentos_test_support::{Reply, ScriptedLlm};
use agentos_worker_context_manager::driver::RECALL_TIMEOUT;
use agentos_worker_context_manager::summary::INSTRUCTIONS;
use agentos_worker_context_manager::{BuildAnswer, Memory};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{MEMORY, T, history, start_context, start_llm};

/// `context::estimate` of `messages`, on the bus.
async fn estimate(client: &agentos_kit::III, messages: &[ChatMessage]) -> u64 {
    let answer: Value = call(client, "context::estimate", &json!({"messages": messages}), T).await.unwrap();
    answer["tokens"].as_u64().unwrap()
}

#[tokio::test]
async fn a_history_within_budget_is_assembled_in_order_without_compaction() {
    let server = ScriptedLlm::start().await.unwrap();
    let stack = TestStack::start().await;
    start_llm(&stack, &server).await;
    start_context(&stack).await;
    let client = stack.client();
    let h = history(3, 10);

    let answer: BuildAnswer = call(
        &client,
        "context::build",
        &json!({"system": "You are terse.", "directives": ["Use metric units."], "history": h,
                "message": "What next?", "model": "openai/gpt-4o", "recall": false}),
        T,
    )
    .await
    .unwrap();

    let mut messages = vec![ChatMessage::system("You are terse.\n\nStanding directives:\n- Use metric units.")];
    messages.extend(h);
    messages.push(ChatMessage::user("What next?"));
    assert_eq!(
        answer,
        BuildAnswer {
            estimated_tokens: estimate(&client, &messages).await,
            messages,
            budget_tokens: 128_000 - 4_096,
            recalled: vec![],
            compacted: false,
            summary: None,
            dropped_messages: 0,
        }
    );
    assert_eq!(server.requests().len(), 0, "nothing to summarise, so the LLM is not called");
    stack.stop().await;
}

#[tokio::test]
async fn an_over_budget_history_is_summarised_through_the_llm_and_the_summary_leads_the_history() {
    let server = ScriptedLlm::start().await.unwrap();
    server.push(Reply::text("Decisions: use tabs. Open: fix src/c3.rs."));
    let stack = TestStack::start().await;
    start_llm(&stack, &server).await;
    start_context(&stack).await;
    let h = history(30, 40);

    let answer: BuildAnswer = call(
        &stack.client(),
        "context::build",
        &json!({"system": "sys", "history": h, "message": "continue", "budget_tokens": 5_000, "recall": false}),
        T,
    )
    .await
    .unwrap();

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one summary request");
    let body = &requests[0].body;
    assert_eq!(
        (body["messages"][0]["role"].as_str(), body["messages"][0]["content"].as_str()),
        (Some("system"), Some(INSTRUCTIONS))
    );
    let transcript = body["messages"][1]["content"].as_str().unwrap();
    assert!(transcript.starts_with("[user]\nquestion 0: lorem ipsum"), "{transcript:.80}");
    assert!(transcript.contains("→ called code::read_file {\"path\":\"src/c0.rs\"} (call c0)"));
    assert_eq!(body["max_tokens"], json!(1024));

    assert_eq!(
        (answer.compacted, answer.summary.as_deref(), answer.dropped_messages),
        (true, Some("Decisions: use tabs. Open: fix src/c3.rs."), 0)
    );
    let kept = answer.messages.len() - 3;
    let compacted = h.len() - kept;
    assert!(compacted > 0 && kept > 0);
    assert!(!transcript.contains(&format!("[user]\n{}", h[compacted].content)), "kept messages are not summarised");
    assert_eq!(answer.messages[0], ChatMessage::system("sys"));
    assert_eq!(
        answer.messages[1],
        ChatMessage::system(format!(
            "[Summary of the {compacted} earlier messages of this conversation, written by context-manager to fit the context window; not from the user]\nDecisions: use tabs. Open: fix src/c3.rs."
        ))
    );
    assert_eq!(answer.messages[2..2 + kept], h[compacted..]);
    assert_eq!(answer.messages.last(), Some(&ChatMessage::user("continue")));
    assert!(answer.estimated_tokens <= answer.budget_tokens && answer.budget_tokens == 5_000);
    stack.stop().await;
}

#[tokio::test]
async fn when_the_summary_fails_the_oldest_messages_are_dropped_and_the_turn_still_builds() {
    let server = ScriptedLlm::start().await.unwrap();
    for _ in 0..3 {
        server.push(Reply::status(500, "the model is down"));
    }
    let stack = TestStack::start().await;
    start_llm(&stack, &server).await;
    start_context(&stack).await;
    let h = history(30, 40);

    let answer: BuildAnswer = call(
        &stack.client(),
        "context::build",
        &json!({"system": "sys", "history": h, "message": "continue", "budget_tokens": 5_000, "recall": false}),
        T,
    )
    .await
    .unwrap();

    assert!(!server.requests().is_empty(), "the summary was attempted");
    let dropped = usize::try_from(answer.dropped_messages).unwrap();
    assert_eq!((answer.compacted, answer.summary.as_deref()), (false, None));
    assert!(dropped > 0 && dropped < h.len(), "{dropped}");
    assert_eq!(answer.messages[0], ChatMessage::system("sys"));
    assert_eq!(answer.messages[1..answer.messages.len() - 1], h[dropped..]);
    assert_ne!(answer.messages[1].role, Role::Tool, "a tool result is never kept without its call");
    assert_eq!(answer.messages.last(), Some(&ChatMessage::user("continue")));
    assert!(answer.estimated_tokens <= 5_000);
    stack.stop().await;
}

#[tokio::test]
async fn recalled_memories_go_into_the_system_message_and_recall_false_skips_the_call() {
    let stack = TestStack::start().await;
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = Arc::clone(&seen);
    stack
        .worker(&MEMORY, move |iii| {
            register_typed(iii, "memory::recall", "test stand-in", move |req: Value| {
                log.lock().unwrap_or_else(PoisonError::into_inner).push(req);
                std::future::ready(Ok::<_, WorkerError>(json!({"memories": [
                    {"id": "m1", "text": "The user's name is Ada.", "score": 0.92},
                    {"id": "m2", "text": "The project is in ~/src/engine.", "score": 0.71}
                ]})))
            });
        })
        .await;
    start_context(&stack).await;
    let client = stack.client();

    let answer: BuildAnswer = call(
        &client,
        "context::build",
        &json!({"system": "sys", "message": "What is my name?", "realm": "team-1", "agent": "a1"}),
        T,
    )
    .await
    .unwrap();

    assert_eq!(
        answer.messages,
        vec![
            ChatMessage::system(
                "sys\n\nRelevant memories:\n- The user's name is Ada.\n- The project is in ~/src/engine."
            ),
            ChatMessage::user("What is my name?"),
        ]
    );
    assert_eq!(
        answer.recalled,
        vec![
            Memory { id: Some("m1".into()), text: "The user's name is Ada.".into(), score: Some(0.92) },
            Memory { id: Some("m2".into()), text: "The project is in ~/src/engine.".into(), score: Some(0.71) },
        ]
    );
    let without: BuildAnswer =
        call(&client, "context::build", &json!({"message": "again", "recall": false}), T).await.unwrap();
    assert_eq!((without.messages, without.recalled), (vec![ChatMessage::user("again")], vec![]));
    assert_eq!(
        *seen.lock().unwrap(),
        vec![json!({"query": "What is my name?", "realm": "team-1", "agent": "a1", "k": 5})],
        "one recall, for the first build only"
    );
    stack.stop().await;
}

#[tokio::test]
async fn without_a_memory_worker_a_build_succeeds_at_once_without_memories() {
    let stack = TestStack::start().await;
    start_context(&stack).await;

    let started = Instant::now();
    let answer: BuildAnswer =
        call(&stack.client(), "context::build", &json!({"system": "sys", "message": "hi"}), T).await.unwrap();

    assert!(started.elapsed() < RECALL_TIMEOUT, "a missing memory worker must not cost the recall timeout");
    assert_eq!(
        (answer.messages, answer.recalled, answer.compacted),
        (vec![ChatMessage::system("sys"), ChatMessage::user("hi")], vec![], false)
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_system_prompt_and_message_over_the_budget_is_context_too_large() {
    let stack = TestStack::start().await;
    start_context(&stack).await;

    let err = call::<_, Value>(
        &stack.client(),
        "context::build",
        &json!({"system": "word ".repeat(400), "message": "hi", "budget_tokens": 100, "recall": false}),
        T,
    )
    .await
    .unwrap_err();

    assert_eq!(err.code, "CONTEXT_TOO_LARGE");
    assert!(
        err.message.starts_with(
            "the prompt cannot fit: the system prompt with its directives (504 tokens), the new message (5 tokens)"
        ),
        "{}",
        err.message
    );
    assert!(err.message.contains("but the budget is 100 tokens (budget_tokens 100 minus 0 reserved for the answer)"));
    stack.stop().await;
}
