//! Table tests of prompt assembly and history trimming ([`crate::prompt`]).

use agentos_kit::ErrorCode;
use agentos_kit::chat::{ChatMessage, Role, ToolCall, ToolSpec};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::estimate::{message_tokens, messages_tokens, tools_tokens};
use crate::prompt::{Cut, MIN_SUMMARY_ROOM, Plan, SUMMARY_ROOM, group_starts, keep_from, system_text};
use crate::recall::Memory;
use crate::summary;
use crate::window::Budget;
use crate::{BuildAnswer, ContextError};

/// A budget of exactly `tokens` for the prompt.
fn budget(tokens: u64) -> Budget {
    Budget::new(None, Some(tokens), None)
}

fn call(id: &str) -> ToolCall {
    ToolCall { id: id.into(), name: "code::read_file".into(), arguments: json!({"path": format!("src/{id}.rs")}) }
}

/// `turns` turns of user question, assistant tool call, tool result, assistant answer: four
/// messages each, every one about `words` words long.
fn history(turns: usize, words: usize) -> Vec<ChatMessage> {
    let text = |what: &str, i: usize| format!("{what} {i}: {}", "lorem ipsum ".repeat(words / 2));
    (0..turns)
        .flat_map(|i| {
            let id = format!("c{i}");
            [
                ChatMessage::user(text("question", i)),
                ChatMessage::assistant_calls(text("looking", i), vec![call(&id)]),
                ChatMessage::tool_result(id, text("file", i)),
                ChatMessage::new(Role::Assistant, text("answer", i)),
            ]
        })
        .collect()
}

fn memory(id: &str, text: &str) -> Memory {
    Memory { id: Some(id.into()), text: text.into(), score: Some(0.5) }
}

#[test]
fn the_system_message_holds_the_prompt_then_directives_then_memories() {
    let directives = vec!["Answer in English.".to_string(), "  ".to_string(), "Cite files\nwith paths.".to_string()];
    assert_eq!(
        system_text("You are a coding agent.", &directives, &[memory("m1", "The user uses tabs.")]),
        "You are a coding agent.\n\nStanding directives:\n- Answer in English.\n- Cite files\n  with paths.\n\nRelevant memories:\n- The user uses tabs."
    );
    assert_eq!(system_text("", &[], &[memory("m1", "x")]), "Relevant memories:\n- x");
    assert_eq!(system_text(" ", &["d".to_string()], &[]), "Standing directives:\n- d");
    assert_eq!(system_text("", &[], &[]), "");
}

#[test]
fn tool_results_belong_to_the_group_of_the_call_before_them() {
    let h = history(2, 4);
    assert_eq!(group_starts(&h), vec![0, 1, 3, 4, 5, 7]);
    assert_eq!(group_starts(&[ChatMessage::tool_result("orphan", "x")]), vec![0]);
    assert_eq!(group_starts(&[]), Vec::<usize>::new());
}

#[test]
fn trimming_keeps_the_newest_whole_groups_and_never_splits_a_call_from_its_results() {
    // messages: user, assistant+call, result, result, assistant
    let tokens = [10, 10, 10, 10, 10];
    let starts = [0, 1, 4];
    let table = [(50, 0), (49, 1), (40, 1), (39, 4), (10, 4), (9, 5), (0, 5)];
    for (room, first_kept) in table {
        assert_eq!(keep_from(&tokens, &starts, room), first_kept, "room {room}");
    }
}

#[test]
fn a_build_that_fits_is_system_then_history_then_the_new_message() {
    let h = history(2, 6);
    let tools = vec![ToolSpec { name: "ls".into(), description: "List".into(), parameters: json!({"type": "object"}) }];
    let mut plan = Plan::new(
        Some("Be brief."),
        vec!["Use metric units.".into()],
        h.clone(),
        Some("And now?"),
        &tools,
        budget(10_000),
    )
    .unwrap();
    plan.add_memories(vec![memory("m1", "The user lives in Oslo.")]);
    assert_eq!(plan.cut(), Cut::All);
    let answer = plan.finish(0, None);

    let system = ChatMessage::system(
        "Be brief.\n\nStanding directives:\n- Use metric units.\n\nRelevant memories:\n- The user lives in Oslo.",
    );
    let mut messages = vec![system];
    messages.extend(h);
    messages.push(ChatMessage::user("And now?"));
    assert_eq!(
        answer,
        BuildAnswer {
            estimated_tokens: messages_tokens(&messages) + tools_tokens(&tools),
            messages,
            budget_tokens: 10_000,
            recalled: vec![memory("m1", "The user lives in Oslo.")],
            compacted: false,
            summary: None,
            dropped_messages: 0,
        }
    );
}

#[test]
fn empty_parts_are_left_out_of_the_prompt() {
    let answer = Plan::new(None, vec![], vec![], Some("   "), &[], budget(100)).unwrap().finish(0, None);
    assert_eq!((answer.messages, answer.estimated_tokens), (vec![], 0));
    let answer = Plan::new(None, vec![], vec![], Some("hi"), &[], budget(100)).unwrap().finish(0, None);
    assert_eq!(answer.messages, vec![ChatMessage::user("hi")]);
}

#[test]
fn a_system_prompt_and_message_over_the_budget_is_context_too_large_naming_the_sizes() {
    let system = "word ".repeat(400); // 2000 letters and spaces: 500 tokens
    let message = "word ".repeat(200); // 250 tokens
    let err = Plan::new(Some(&system), vec![], history(3, 10), Some(&message), &[], budget(600)).unwrap_err();
    assert_eq!(
        err,
        ContextError::TooLarge {
            system: 4 + 500, // trimmed: 1999 characters
            message: 4 + 250,
            tools: 0,
            prompt: 600,
            budget: "budget_tokens 600 minus 0 reserved for the answer".into(),
        }
    );
    assert_eq!(err.code(), "CONTEXT_TOO_LARGE");
}

#[test]
fn memories_take_at_most_a_quarter_of_the_room_left_in_their_order() {
    // Room after the fixed parts: 400 - (4 + 1) = 395, a quarter is 98 tokens. The heading
    // costs 6 + 1 and the overhead 4, each 100-character memory line 26 + 1.
    let text = |c: char| c.to_string().repeat(98);
    let memories =
        vec![memory("a", &text('a')), memory("b", &text('b')), memory("c", &text('c')), memory("d", &text('d'))];
    let mut plan = Plan::new(None, vec![], vec![], Some("hi"), &[], budget(400)).unwrap();
    plan.add_memories(memories.clone());
    let answer = plan.finish(0, None);
    assert_eq!(answer.recalled, memories[..3].to_vec());
    assert!(answer.messages[0].content.starts_with("Relevant memories:\n- aaa"));

    let mut tight = Plan::new(None, vec![], vec![], Some("hi"), &[], budget(60)).unwrap();
    tight.add_memories(memories);
    let answer = tight.finish(0, None);
    assert_eq!((answer.recalled, answer.messages), (vec![], vec![ChatMessage::user("hi")]));
}

#[test]
fn history_over_the_budget_is_cut_leaving_room_for_the_summary_note() {
    let h = history(30, 40);
    let tokens: Vec<u64> = h.iter().map(message_tokens).collect();
    let plan = Plan::new(Some("sys"), vec![], h.clone(), Some("next"), &[], budget(5_000)).unwrap();
    let room = plan.history_room();
    assert!(room / 2 > SUMMARY_ROOM && tokens.iter().sum::<u64>() > room);
    let Cut::Compact { keep_from: first } = plan.cut() else { panic!("expected compaction: {:?}", plan.cut()) };
    assert_eq!(first, keep_from(&tokens, &group_starts(&h), room - SUMMARY_ROOM));
    assert!(first > 0 && h[first].role != Role::Tool);
    let starts = group_starts(&h);
    let previous = starts.iter().copied().filter(|&s| s < first).max().unwrap();
    let kept: u64 = tokens[first..].iter().sum();
    let with_previous: u64 = tokens[previous..].iter().sum();
    assert!(kept <= room - SUMMARY_ROOM && with_previous > room - SUMMARY_ROOM, "the newest groups that fit");
}

#[test]
fn a_compacted_build_is_system_then_note_then_kept_history_then_the_message() {
    let h = history(20, 40);
    let plan = Plan::new(Some("sys"), vec![], h.clone(), Some("next"), &[], budget(3_000)).unwrap();
    let Cut::Compact { keep_from: first } = plan.cut() else { panic!("expected compaction") };
    let answer = plan.finish(first, Some("Decided to use tabs. Open: fix src/c3.rs.".into()));

    let mut messages =
        vec![ChatMessage::system("sys"), summary::note(first, "Decided to use tabs. Open: fix src/c3.rs.")];
    messages.extend(h[first..].iter().cloned());
    messages.push(ChatMessage::user("next"));
    assert_eq!(
        answer,
        BuildAnswer {
            estimated_tokens: messages_tokens(&messages),
            messages,
            budget_tokens: 3_000,
            recalled: vec![],
            compacted: true,
            summary: Some("Decided to use tabs. Open: fix src/c3.rs.".into()),
            dropped_messages: 0,
        }
    );
    assert!(answer.estimated_tokens <= 3_000);
}

#[test]
fn without_a_summary_the_tail_gets_the_whole_room_and_the_rest_counts_as_dropped() {
    let h = history(20, 40);
    let plan = Plan::new(Some("sys"), vec![], h.clone(), Some("next"), &[], budget(3_000)).unwrap();
    let Cut::Compact { keep_from: compact_first } = plan.cut() else { panic!("expected compaction") };
    let first = plan.drop_cut();
    assert!(first < compact_first, "more history fits without the note: {first} vs {compact_first}");
    let answer = plan.finish(first, None);
    assert_eq!((answer.compacted, answer.summary.as_deref(), answer.dropped_messages), (false, None, first as u64));
    assert_eq!(answer.messages[1], h[first]);
    assert_eq!(answer.messages.last(), Some(&ChatMessage::user("next")));
    assert!(answer.estimated_tokens <= 3_000);
}

#[test]
fn with_too_little_room_for_a_summary_older_history_is_dropped() {
    let h = history(3, 20);
    let plan = Plan::new(None, vec![], h, Some("next"), &[], budget(MIN_SUMMARY_ROOM)).unwrap();
    assert!(plan.history_room() < MIN_SUMMARY_ROOM);
    assert_eq!(plan.cut(), Cut::Drop { keep_from: plan.drop_cut() });
}

#[test]
fn a_summary_longer_than_its_room_is_cut_to_fit() {
    let h = history(20, 40);
    let plan = Plan::new(Some("sys"), vec![], h, Some("next"), &[], budget(3_000)).unwrap();
    let Cut::Compact { keep_from: first } = plan.cut() else { panic!("expected compaction") };
    let long = "fact ".repeat(4_000);
    let answer = plan.finish(first, Some(long.clone()));
    let summary = answer.summary.unwrap();
    assert!(answer.compacted && summary.len() < long.len() && long.starts_with(&summary));
    assert!(answer.estimated_tokens <= 3_000, "{}", answer.estimated_tokens);
}

#[test]
fn the_estimate_never_exceeds_the_budget() {
    for tokens in [40, 100, 300, 700, 1_500, 3_000, 8_000, 50_000] {
        for (turns, words) in [(0, 0), (1, 5), (5, 30), (20, 40), (3, 400)] {
            let tools = vec![ToolSpec { name: "t".into(), description: String::new(), parameters: json!({}) }];
            let Ok(mut plan) =
                Plan::new(Some("s"), vec!["d".into()], history(turns, words), Some("m"), &tools, budget(tokens))
            else {
                panic!("budget {tokens} rejected the fixed parts")
            };
            plan.add_memories(vec![memory("m", &"remember ".repeat(30))]);
            let summary = Some("summary ".repeat(600));
            let answer = match plan.cut() {
                Cut::All => plan.finish(0, None),
                Cut::Drop { keep_from } => plan.finish(keep_from, None),
                Cut::Compact { keep_from } => plan.finish(keep_from, summary),
            };
            assert!(
                answer.estimated_tokens <= answer.budget_tokens,
                "budget {tokens}, {turns} turns of {words} words: {} > {}",
                answer.estimated_tokens,
                answer.budget_tokens
            );
            let last = answer.messages.last().map(|m| m.content.as_str());
            assert_eq!(last, Some("m"), "the new message is never dropped");
        }
    }
}
