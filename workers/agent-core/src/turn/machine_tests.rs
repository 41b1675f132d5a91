//! The turn machine as tables: each input, at its time, and the effects it gives, in order; no
//! bus, no clock, no runtime.

use std::time::Duration;

use agentos_kit::WorkerError;
use agentos_kit::chat::{ChatMessage, Completion, CompletionRequest, Role, ToolCall, Usage};
use agentos_protocol::chat::{ChatEvent, Token, ToolCallEvent, ToolResultEvent, TurnSession};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::machine::{Call, Effect, Finish, GuardAction, Input, Phase, SessionState, Turn, Verdict};
use super::{BuiltContext, ChatAnswer, ChatRequest, ErrorInfo, Hand, OpenedSession, ToolCallRecord, TurnUsage};
use crate::agents::Agent;
use crate::approve::Tier;
use crate::interrupt;
use crate::settings::Settings;
use crate::tools::{FunctionInfo, FunctionList, Toolbox};

mod approvals;

use approvals::awaiting;

const ALLOWED: [&str; 2] = ["code::list", "code::write_file"];

fn at(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Feeds each input at its time (ms) and checks the effects it gives.
fn table(turn: &mut Turn, steps: Vec<(u64, Input, Vec<Effect>)>) {
    for (i, (ms, input, expected)) in steps.into_iter().enumerate() {
        let what = format!("step {i}: {input:?}");
        assert_eq!(turn.handle(at(ms), input), expected, "{what}");
    }
}

fn hand() -> Hand {
    Hand {
        name: "coder".into(),
        system_prompt: "You code.".into(),
        allowed_functions: ALLOWED.map(String::from).to_vec(),
        ..Hand::default()
    }
}

fn functions() -> FunctionList {
    let info = |id: &str| FunctionInfo {
        function_id: id.to_string(),
        description: Some(format!("does {id}")),
        request_format: None,
    };
    FunctionList { functions: ALLOWED.map(info).to_vec() }
}

fn toolbox() -> Toolbox {
    Toolbox::new(&hand().allowed_functions, &functions().functions)
}

fn request() -> ChatRequest {
    ChatRequest { message: "hi".into(), session_id: Some("s1".into()), ..ChatRequest::default() }
}

fn prompt() -> Vec<ChatMessage> {
    vec![ChatMessage::system("You code."), ChatMessage::user("hi")]
}

fn looked_up() -> Input {
    Input::LookedUp { realm: Ok(json!({"id": "default"})), hand: Ok(hand()), functions: Ok(functions()) }
}

fn opened() -> Input {
    Input::Opened {
        session: Ok(OpenedSession { id: "s1".into(), turns: 1 }),
        history: Ok(vec![]),
        turn_id: "t1".into(),
    }
}

fn built() -> Input {
    Input::ContextBuilt(Ok(BuiltContext { messages: prompt(), compacted: false, estimated_tokens: 12 }))
}

/// A turn whose model was asked at 3 ms (its first step).
fn asking(settings: Settings) -> Turn {
    let mut turn = Turn::new(request(), settings, Some("tr1".into()));
    for (ms, input) in [(0, Input::Start), (1, looked_up()), (2, opened()), (3, built())] {
        turn.handle(at(ms), input);
    }
    assert_eq!(turn.phase(), &Phase::Streaming { since: at(3) });
    turn
}

fn text(content: &str) -> Completion {
    Completion {
        model: "m".into(),
        provider: "p".into(),
        content: content.into(),
        tool_calls: vec![],
        finish_reason: "stop".into(),
        usage: Usage { input_tokens: 10, output_tokens: 2 },
        latency_ms: 1,
        cost_usd: Some(0.5),
        tier: None,
        route_reason: None,
    }
}

fn tool_call(id: &str, name: &str, arguments: Value) -> ToolCall {
    ToolCall { id: id.into(), name: name.into(), arguments }
}

fn calls(calls: &[ToolCall]) -> Completion {
    Completion { tool_calls: calls.to_vec(), finish_reason: "tool_calls".into(), ..text("") }
}

fn answered(completion: &Completion) -> Input {
    Input::Answered { completion: Ok(completion.clone()), listener: true }
}

fn rec(kind: &'static str, data: Value, since: Option<u64>) -> Effect {
    Effect::Record { kind, data, since: since.map(at) }
}

fn llm_request(messages: &[ChatMessage]) -> [Effect; 2] {
    let tools = toolbox().names().iter().map(|n| json!(n)).collect::<Vec<_>>();
    [
        rec(
            "llm_request",
            json!({"model": null, "tier": null, "messages_count": messages.len(), "tools": tools}),
            None,
        ),
        Effect::Complete(CompletionRequest {
            messages: messages.to_vec(),
            tools: toolbox().specs,
            ..CompletionRequest::default()
        }),
    ]
}

/// The record of call `c1` to `code::write_file` before anything came of it.
fn write_record() -> ToolCallRecord {
    ToolCallRecord {
        id: "c1".into(),
        function_id: "code::write_file".into(),
        arguments: json!({"path": "a"}),
        ok: false,
        result: None,
        error: None,
        blocked: None,
        warning: None,
        duration_ms: 0,
    }
}

fn write_call() -> ToolCall {
    tool_call("c1", "code__write_file", json!({"path": "a"}))
}

fn announced(record: &ToolCallRecord) -> [Effect; 2] {
    let event = ToolCallEvent::from(record);
    [Effect::Emit(ChatEvent::ToolCall(event.clone())), rec("tool_call", json!(event), None)]
}

fn told(record: &ToolCallRecord, since: u64) -> [Effect; 2] {
    let event = ToolResultEvent::from(record);
    [Effect::Emit(ChatEvent::ToolResult(event.clone())), rec("tool_result", json!(event), Some(since))]
}

fn check(record: &ToolCallRecord) -> Effect {
    Effect::Check { function_id: record.function_id.clone(), arguments: record.arguments.clone() }
}

fn verdict(action: GuardAction, reason: Option<&str>) -> Result<Verdict, WorkerError> {
    Ok(Verdict { action, reason: reason.map(str::to_string) })
}

fn classified(tier: &str) -> Value {
    json!({"tier": tier, "rule": {"id": "r1"}, "reason": "writes need a person"})
}

fn checked(action: GuardAction, reason: Option<&str>, tier: &str) -> Input {
    Input::Checked { verdict: verdict(action, reason), classified: Ok(classified(tier)) }
}

/// The messages after the model called `called` and read `answers`.
fn after(called: &Completion, answers: &[(&str, &str)]) -> Vec<ChatMessage> {
    let mut messages = prompt();
    messages.push(ChatMessage::assistant_calls(called.content.clone(), called.tool_calls.clone()));
    messages.extend(answers.iter().map(|(id, content)| ChatMessage::tool_result(*id, *content)));
    messages
}

fn usage(calls: u32) -> TurnUsage {
    let mut usage = TurnUsage::default();
    for _ in 0..calls {
        usage.add_call(10, 2, Some(0.5));
    }
    usage
}

fn answer(reply: &str, tool_calls: Vec<ToolCallRecord>, steps: u32, finish: Finish) -> ChatAnswer {
    ChatAnswer {
        session_id: "s1".into(),
        reply: reply.into(),
        tool_calls,
        usage: usage(steps),
        model: if steps == 0 { String::new() } else { "p/m".into() },
        steps,
        finish: finish.as_str().into(),
        trace_id: Some("tr1".into()),
    }
}

/// Saved, flushed, answered: the end of every turn that did not fail.
fn ends_with(turn: &mut Turn, answer: ChatAnswer) {
    let done = json!({"reply": answer.reply, "usage": answer.usage, "steps": answer.steps, "finish": answer.finish});
    table(
        turn,
        vec![
            (
                90,
                Input::Saved(Ok(())),
                vec![
                    rec("turn_done", done, None),
                    Effect::SetState { state: SessionState::Done, error: None },
                    Effect::Flush,
                ],
            ),
            (
                91,
                Input::Flushed(Ok(())),
                vec![
                    Effect::Emit(ChatEvent::Usage(answer.usage.clone())),
                    Effect::Emit(ChatEvent::Done(Box::new(answer.clone()))),
                    Effect::Finish(Box::new(answer)),
                ],
            ),
        ],
    );
    assert_eq!(turn.phase(), &Phase::Finished);
}

/// The history a turn keeps, and the save that ends it.
fn saving(kept: Vec<ChatMessage>) -> [Effect; 2] {
    [Effect::Unregister, Effect::SaveHistory(kept)]
}

#[test]
fn a_plain_answer_is_streamed_saved_recorded_and_answered_in_order() {
    let mut turn = Turn::new(request(), Settings::default(), Some("tr1".into()));
    let session = TurnSession {
        session_id: "s1".into(),
        realm: "default".into(),
        hand: "coder".into(),
        agent: None,
        model: None,
        turn_id: "t1".into(),
        trace_id: Some("tr1".into()),
    };
    let hello = text("Hello.");
    table(
        &mut turn,
        vec![
            (0, Input::Start, vec![Effect::LookUp { realm: "default".into(), hand: "coder".into() }]),
            (
                1,
                looked_up(),
                vec![Effect::Open {
                    session: json!({"id": "s1", "realm": "default", "hand": "coder", "agent": null, "model": null}),
                    realm: "default".into(),
                    history_of: Some("s1".into()),
                }],
            ),
            (
                2,
                opened(),
                vec![
                    Effect::Begin { session_id: "s1".into(), turns: 1, turn_id: "t1".into() },
                    Effect::Emit(ChatEvent::Session(session)),
                    rec("user_message", json!({"text": "hi", "hand": "coder", "model": null}), None),
                    Effect::BuildContext(json!({
                        "system": "You code.", "history": [], "message": "hi", "tools": toolbox().specs,
                        "model": null, "realm": "default", "agent": null,
                    })),
                ],
            ),
            (
                3,
                built(),
                [
                    vec![rec(
                        "context_built",
                        json!({"messages": 2, "estimated_tokens": 12, "compacted": false}),
                        Some(2),
                    )],
                    llm_request(&prompt()).to_vec(),
                ]
                .concat(),
            ),
            (4, Input::Streamed("Hello".into()), vec![Effect::Emit(ChatEvent::Token(Token { text: "Hello".into() }))]),
            (5, Input::Streamed(".".into()), vec![Effect::Emit(ChatEvent::Token(Token { text: ".".into() }))]),
            (
                6,
                answered(&hello),
                vec![
                    rec("llm_response", json!(hello), Some(3)),
                    Effect::Unregister,
                    Effect::SaveHistory(vec![ChatMessage::user("hi"), ChatMessage::new(Role::Assistant, "Hello.")]),
                ],
            ),
        ],
    );
    assert_eq!(turn.phase(), &Phase::Saving);
    ends_with(&mut turn, answer("Hello.", vec![], 1, Finish::Stop));
}

#[test]
fn an_answer_nothing_streamed_reaches_a_listener_as_one_token_and_nobody_else() {
    let whole = text("Whole.");
    let mut turn = asking(Settings::default());
    let effects = turn.handle(at(6), answered(&whole));
    assert_eq!(
        effects[..2],
        [Effect::Emit(ChatEvent::Token(Token { text: "Whole.".into() })), rec("llm_response", json!(whole), Some(3))]
    );

    let mut turn = asking(Settings::default());
    let effects = turn.handle(at(6), Input::Answered { completion: Ok(whole.clone()), listener: false });
    assert_eq!(effects[0], rec("llm_response", json!(whole), Some(3)));
}

#[test]
fn one_tool_call_is_checked_run_and_its_result_read_by_the_model() {
    let listing = calls(&[tool_call("c1", "code__list", json!({}))]);
    let mut record =
        ToolCallRecord { id: "c1".into(), function_id: "code::list".into(), arguments: json!({}), ..write_record() };
    let mut turn = asking(Settings::default());
    table(
        &mut turn,
        vec![
            (
                10,
                answered(&listing),
                [vec![rec("llm_response", json!(listing), Some(3))], announced(&record).to_vec(), vec![check(&record)]]
                    .concat(),
            ),
            (
                11,
                checked(GuardAction::Allow, None, "auto"),
                vec![Effect::RunTool { function_id: "code::list".into(), arguments: json!({}) }],
            ),
        ],
    );
    assert_eq!(turn.phase(), &Phase::Running { call: Call { record: record.clone(), since: at(10) } });
    record.ok = true;
    record.result = Some(json!(["a"]));
    record.duration_ms = 15;
    table(
        &mut turn,
        vec![(
            25,
            Input::ToolDone(Ok(json!(["a"]))),
            [told(&record, 10).to_vec(), llm_request(&after(&listing, &[("c1", r#"["a"]"#)])).to_vec()].concat(),
        )],
    );
    assert_eq!(turn.phase(), &Phase::Streaming { since: at(25) });
    let done = text("One file.");
    turn.handle(at(30), answered(&done));
    ends_with(&mut turn, answer("One file.", vec![record], 2, Finish::Stop));
}

#[test]
fn several_tool_calls_are_taken_up_one_after_the_other() {
    let two = calls(&[tool_call("c1", "code__list", json!({})), tool_call("c2", "code__list", json!({"path": "src"}))]);
    let first =
        ToolCallRecord { id: "c1".into(), function_id: "code::list".into(), arguments: json!({}), ..write_record() };
    let second = ToolCallRecord { id: "c2".into(), arguments: json!({"path": "src"}), ..first.clone() };
    let mut turn = asking(Settings::default());
    turn.handle(at(10), answered(&two));
    turn.handle(at(11), checked(GuardAction::Allow, None, "auto"));
    let first_done = ToolCallRecord { ok: true, result: Some(json!([])), duration_ms: 2, ..first };
    table(
        &mut turn,
        vec![(
            12,
            Input::ToolDone(Ok(json!([]))),
            [told(&first_done, 10).to_vec(), announced(&second).to_vec(), vec![check(&second)]].concat(),
        )],
    );
    turn.handle(at(13), checked(GuardAction::Allow, None, "auto"));
    let second_done = ToolCallRecord { ok: true, result: Some(json!(["lib.rs"])), duration_ms: 2, ..second };
    table(
        &mut turn,
        vec![(
            14,
            Input::ToolDone(Ok(json!(["lib.rs"]))),
            [
                told(&second_done, 12).to_vec(),
                llm_request(&after(&two, &[("c1", "[]"), ("c2", r#"["lib.rs"]"#)])).to_vec(),
            ]
            .concat(),
        )],
    );
}

#[test]
fn an_unknown_tool_is_answered_without_asking_anyone() {
    let unknown = calls(&[tool_call("c1", "nope", json!({}))]);
    let record = ToolCallRecord { id: "c1".into(), function_id: "nope".into(), arguments: json!({}), ..write_record() };
    let blocked = ToolCallRecord {
        blocked: Some(r#"there is no tool named "nope"; the tools are: code__list, code__write_file"#.into()),
        ..record.clone()
    };
    let reads = after(
        &unknown,
        &[("c1", "Not run: there is no tool named \"nope\"; the tools are: code__list, code__write_file")],
    );
    let mut turn = asking(Settings::default());
    table(
        &mut turn,
        vec![(
            10,
            answered(&unknown),
            [
                vec![rec("llm_response", json!(unknown), Some(3))],
                announced(&record).to_vec(),
                told(&blocked, 10).to_vec(),
                llm_request(&reads).to_vec(),
            ]
            .concat(),
        )],
    );
}

#[test]
fn the_loop_guard_warns_with_the_result_and_blocks_without_running() {
    let listing = calls(&[tool_call("c1", "code__list", json!({}))]);
    let record =
        ToolCallRecord { id: "c1".into(), function_id: "code::list".into(), arguments: json!({}), ..write_record() };

    let mut turn = asking(Settings::default());
    turn.handle(at(10), answered(&listing));
    table(
        &mut turn,
        vec![(
            11,
            checked(GuardAction::Warn, Some("slow down"), "auto"),
            vec![Effect::RunTool { function_id: "code::list".into(), arguments: json!({}) }],
        )],
    );
    let warned = ToolCallRecord {
        ok: true,
        result: Some(json!([])),
        warning: Some("slow down".into()),
        duration_ms: 2,
        ..record.clone()
    };
    let reads = after(&listing, &[("c1", "[]\n\n[loop guard] slow down")]);
    table(
        &mut turn,
        vec![(12, Input::ToolDone(Ok(json!([]))), [told(&warned, 10).to_vec(), llm_request(&reads).to_vec()].concat())],
    );

    let mut turn = asking(Settings::default());
    turn.handle(at(10), answered(&listing));
    let blocked = ToolCallRecord { blocked: Some("you repeated code::list".into()), duration_ms: 1, ..record };
    let reads = after(&listing, &[("c1", "Not run: you repeated code::list")]);
    table(
        &mut turn,
        vec![(
            11,
            checked(GuardAction::Block, Some("you repeated code::list"), "auto"),
            [told(&blocked, 10).to_vec(), llm_request(&reads).to_vec()].concat(),
        )],
    );

    // A guard that cannot answer blocks too (fail closed).
    let mut turn = asking(Settings::default());
    turn.handle(at(10), answered(&listing));
    let gone = Input::Checked {
        verdict: Err(WorkerError::new("ENGINE_UNAVAILABLE", "guard::check is not registered")),
        classified: Ok(classified("auto")),
    };
    let effects = turn.handle(at(11), gone);
    assert!(
        matches!(&effects[0], Effect::Emit(ChatEvent::ToolResult(r)) if r.blocked.as_deref().is_some_and(|b| b.starts_with("the loop guard could not check this call"))),
        "{effects:?}"
    );
}

#[test]
fn an_interrupt_while_streaming_ends_the_turn_with_what_the_model_had_said() {
    let mut turn = asking(Settings::default());
    let reply = format!("The answer is\n\n{}", interrupt::REPLY);
    table(
        &mut turn,
        vec![
            (
                4,
                Input::Streamed("The answer is ".into()),
                vec![Effect::Emit(ChatEvent::Token(Token { text: "The answer is ".into() }))],
            ),
            (5, Input::Interrupted { via: "tui".into() }, vec![]),
            (
                5,
                Input::Abandoned,
                saving(vec![ChatMessage::user("hi"), ChatMessage::new(Role::Assistant, reply.clone())]).to_vec(),
            ),
        ],
    );
    ends_with(&mut turn, answer(&reply, vec![], 0, Finish::Interrupted));
}

#[test]
fn an_interrupt_during_a_tool_lets_it_finish_and_the_next_call_is_not_made() {
    let two = calls(&[tool_call("c1", "code__list", json!({})), tool_call("c2", "code__list", json!({"path": "src"}))]);
    let mut turn = asking(Settings::default());
    turn.handle(at(10), answered(&two));
    turn.handle(at(11), checked(GuardAction::Allow, None, "auto"));
    let first = ToolCallRecord {
        id: "c1".into(),
        function_id: "code::list".into(),
        arguments: json!({}),
        ok: true,
        result: Some(json!(["a"])),
        duration_ms: 5,
        ..write_record()
    };
    let second = ToolCallRecord {
        id: "c2".into(),
        function_id: "code::list".into(),
        arguments: json!({"path": "src"}),
        blocked: Some("the turn was interrupted before this call was made".into()),
        ..write_record()
    };
    let mut kept =
        after(&two, &[("c1", r#"["a"]"#), ("c2", "Not run: the turn was interrupted before this call was made")]);
    kept.remove(0);
    kept.push(ChatMessage::new(Role::Assistant, interrupt::REPLY));
    table(
        &mut turn,
        vec![
            (14, Input::Interrupted { via: "tui".into() }, vec![]),
            (15, Input::ToolDone(Ok(json!(["a"]))), [told(&first, 10).to_vec(), saving(kept).to_vec()].concat()),
        ],
    );
    ends_with(&mut turn, answer(interrupt::REPLY, vec![first, second], 1, Finish::Interrupted));
}

#[test]
fn the_step_limit_stops_a_model_that_keeps_calling_tools() {
    let listing = calls(&[tool_call("c1", "code__list", json!({}))]);
    let mut turn = asking(Settings { max_steps: 1, ..Settings::default() });
    turn.handle(at(10), answered(&listing));
    turn.handle(at(11), checked(GuardAction::Allow, None, "auto"));
    let record = ToolCallRecord {
        id: "c1".into(),
        function_id: "code::list".into(),
        arguments: json!({}),
        ok: true,
        result: Some(json!([])),
        duration_ms: 2,
        ..write_record()
    };
    let reply = "I stopped after 1 steps without a final answer (the step limit). Ask me to continue, or raise max_steps for the hand or in [agent].";
    let mut kept = after(&listing, &[("c1", "[]")]);
    kept.remove(0);
    kept.push(ChatMessage::new(Role::Assistant, reply));
    table(
        &mut turn,
        vec![(12, Input::ToolDone(Ok(json!([]))), [told(&record, 10).to_vec(), saving(kept).to_vec()].concat())],
    );
    ends_with(&mut turn, answer(reply, vec![record], 1, Finish::StepLimit));
}

#[test]
fn a_provider_error_fails_the_turn_and_nothing_is_saved() {
    let mut turn = asking(Settings::default());
    let e = WorkerError::new("NO_PROVIDER", "set ANTHROPIC_API_KEY");
    let error = ErrorInfo::from(&e);
    table(
        &mut turn,
        vec![
            (
                6,
                Input::Answered { completion: Err(e.clone()), listener: true },
                vec![
                    Effect::Unregister,
                    Effect::Emit(ChatEvent::Error(error.clone())),
                    rec("error", json!(error), None),
                    Effect::Flush,
                ],
            ),
            (
                7,
                Input::Flushed(Ok(())),
                vec![Effect::SetState { state: SessionState::Failed, error: Some(error) }, Effect::Fail(e)],
            ),
        ],
    );
    assert_eq!(turn.phase(), &Phase::Finished);
}

#[test]
fn a_turn_the_engine_went_away_under_fails_and_expires_its_approval_requests() {
    let mut turn = awaiting();
    let lost = crate::orphans::engine_lost();
    let error = ErrorInfo::from(&lost);
    let unrecorded = WorkerError::new("ENGINE_UNAVAILABLE", "the engine is gone");
    table(
        &mut turn,
        vec![
            (
                20,
                Input::Failed(lost.clone()),
                vec![
                    Effect::Unregister,
                    Effect::Emit(ChatEvent::Error(error.clone())),
                    rec("error", json!(error), None),
                    Effect::Flush,
                ],
            ),
            (
                21,
                Input::Flushed(Err(unrecorded)),
                vec![
                    Effect::Warn("could not record the turn's error: ENGINE_UNAVAILABLE: the engine is gone".into()),
                    Effect::SetState { state: SessionState::Failed, error: Some(error) },
                    Effect::ExpireApprovals,
                    Effect::Fail(lost),
                ],
            ),
        ],
    );
}

#[test]
fn a_turn_that_fails_before_its_session_only_tells_the_listener() {
    let mut turn = Turn::new(ChatRequest { message: "  ".into(), ..request() }, Settings::default(), None);
    let effects = turn.handle(at(0), Input::Start);
    let empty = WorkerError::invalid_input("the message is empty; say something");
    assert_eq!(effects, [Effect::Emit(ChatEvent::Error(ErrorInfo::from(&empty))), Effect::Fail(empty)]);

    let mut turn = Turn::new(request(), Settings::default(), None);
    turn.handle(at(0), Input::Start);
    let missing = WorkerError::not_found("no such hand");
    let effects = turn.handle(
        at(1),
        Input::LookedUp { realm: Ok(json!({})), hand: Err(missing.clone()), functions: Ok(functions()) },
    );
    assert_eq!(effects, [Effect::Emit(ChatEvent::Error(ErrorInfo::from(&missing))), Effect::Fail(missing)]);
    assert_eq!(turn.phase(), &Phase::Finished);
}

#[test]
fn an_agent_supplies_the_hand_and_the_model() {
    let mut turn =
        Turn::new(ChatRequest { agent: Some("a1".into()), hand: None, ..request() }, Settings::default(), None);
    assert_eq!(turn.handle(at(0), Input::Start), [Effect::FindAgent { realm: "default".into(), id: "a1".into() }]);
    let agent = Agent {
        id: "a1".into(),
        name: "a1".into(),
        hand: Some("reviewer".into()),
        model: Some("x/y".into()),
        realm: "default".into(),
        description: None,
        created_at_ms: 1,
    };
    assert_eq!(
        turn.handle(at(1), Input::AgentFound(Ok(agent))),
        [Effect::LookUp { realm: "default".into(), hand: "reviewer".into() }]
    );
    let effects = turn.handle(at(2), looked_up());
    let Effect::Open { session, .. } = &effects[0] else { panic!("{effects:?}") };
    assert_eq!(session["model"], "x/y");
}

#[test]
fn an_input_the_turn_does_not_wait_for_fails_it_as_an_internal_error() {
    let mut turn = asking(Settings::default());
    let effects = turn.handle(at(5), Input::ToolDone(Ok(json!({}))));
    let Some(Effect::Emit(ChatEvent::Error(error))) = effects.get(1) else { panic!("{effects:?}") };
    assert_eq!(error.code, "INTERNAL");
    assert_eq!(error.message, "the turn got tool_done while streaming");
}

#[test]
fn the_state_survives_a_serde_round_trip_mid_turn() {
    let turn = awaiting();
    let stored = serde_json::to_string(&turn).unwrap();
    let back: Turn = serde_json::from_str(&stored).unwrap();
    assert_eq!(back, turn);
}

#[test]
fn finish_verdict_tier_and_state_are_spelt_as_on_the_wire() {
    let finishes = [Finish::Stop, Finish::StepLimit, Finish::Interrupted];
    assert_eq!(serde_json::to_value(finishes).unwrap(), json!(["stop", "step_limit", "interrupted"]));
    assert_eq!(finishes.map(Finish::as_str), ["stop", "step_limit", "interrupted"]);

    let actions: Vec<GuardAction> = serde_json::from_value(json!(["allow", "warn", "block", "shrug"])).unwrap();
    assert_eq!(actions, [GuardAction::Allow, GuardAction::Warn, GuardAction::Block, GuardAction::Allow]);
    assert_eq!(
        serde_json::to_value([GuardAction::Allow, GuardAction::Warn, GuardAction::Block]).unwrap(),
        json!(["allow", "warn", "block"])
    );

    let tiers = ["auto", "ask", "deny", "other"].map(|t| Tier::of(&json!({"tier": t})));
    assert_eq!(tiers, [Tier::Auto, Tier::Ask, Tier::Deny, Tier::Ask]);
    assert_eq!(Tier::of(&json!({})), Tier::Ask);
    assert_eq!(serde_json::to_value([Tier::Auto, Tier::Ask, Tier::Deny]).unwrap(), json!(["auto", "ask", "deny"]));

    let states = [SessionState::Active, SessionState::WaitingApproval, SessionState::Done, SessionState::Failed];
    assert_eq!(serde_json::to_value(states).unwrap(), json!(["active", "waiting_approval", "done", "failed"]));
    assert_eq!(states.map(SessionState::as_str), ["active", "waiting_approval", "done", "failed"]);
}
