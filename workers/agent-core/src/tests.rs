//! The agent loop against a fake bus: every decision of a turn, without an engine.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use agentos_kit::WorkerError;
use agentos_kit::chat::{ChatMessage, Completion, CompletionRequest, Role, ToolCall, Usage};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use agentos_protocol::chat::ChatEvent;

use crate::interrupt::{self, InterruptRequest, Interrupts};
use crate::turn::{Bus, ChatRequest, Events, NoEvents, chat, chat_interruptible, chat_supervised};
use crate::{Settings, agents};

type Tool = Box<dyn Fn(&Value) -> Result<Value, WorkerError> + Send + Sync>;

/// A bus with in-memory state, one hand, scripted completions and tool functions.
struct FakeBus {
    state: Mutex<HashMap<(String, String), Value>>,
    hand: Value,
    answers: Mutex<VecDeque<Result<Completion, WorkerError>>>,
    requests: Mutex<Vec<CompletionRequest>>,
    tools: HashMap<String, Tool>,
    guard: Tool,
    calls: Mutex<Vec<String>>,
    stream_tokens: bool,
    /// `approval::classify`, when the approval workers "run".
    classify: Option<Tool>,
    /// What successive `approval::wait` calls answer.
    waits: Mutex<VecDeque<Value>>,
    /// An `approval::wait` with nothing scripted waits for ever (nobody decides) instead of failing.
    wait_hangs: bool,
    /// Everything enqueued (the replay log), a batch of steps as its steps.
    enqueued: Mutex<Vec<(String, Value)>>,
    /// The function of every durable job, one per enqueue.
    jobs: Mutex<Vec<String>>,
    /// Every `session::set_state`.
    states: Mutex<Vec<String>>,
    turns: Mutex<HashMap<String, u64>>,
}

impl FakeBus {
    fn new(allowed: &[&str]) -> Self {
        Self {
            state: Mutex::new(HashMap::new()),
            hand: json!({"name": "coder", "system_prompt": "You code.", "allowed_functions": allowed}),
            answers: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            tools: HashMap::new(),
            guard: Box::new(|_| Ok(json!({"action": "allow"}))),
            calls: Mutex::new(Vec::new()),
            stream_tokens: true,
            classify: None,
            waits: Mutex::new(VecDeque::new()),
            wait_hangs: false,
            enqueued: Mutex::new(Vec::new()),
            jobs: Mutex::new(Vec::new()),
            states: Mutex::new(Vec::new()),
            turns: Mutex::new(HashMap::new()),
        }
    }

    fn replay_kinds(&self) -> Vec<String> {
        self.enqueued.lock().unwrap().iter().map(|(_, e)| e["kind"].as_str().unwrap().to_string()).collect()
    }

    fn states(&self) -> Vec<String> {
        self.states.lock().unwrap().clone()
    }

    fn tool(mut self, id: &str, f: impl Fn(&Value) -> Result<Value, WorkerError> + Send + Sync + 'static) -> Self {
        self.tools.insert(id.to_string(), Box::new(f));
        self
    }

    fn answer(self, completion: Completion) -> Self {
        self.answers.lock().unwrap().push_back(Ok(completion));
        self
    }

    fn fail(self, e: WorkerError) -> Self {
        self.answers.lock().unwrap().push_back(Err(e));
        self
    }

    /// The next LLM call streams `text` and then never answers.
    fn hang_after(self, text: &str) -> Self {
        self.fail(WorkerError::new(HANG, text))
    }

    fn calls_of(&self, id: &str) -> usize {
        self.calls.lock().unwrap().iter().filter(|c| *c == id).count()
    }

    fn requests(&self) -> Vec<CompletionRequest> {
        self.requests.lock().unwrap().clone()
    }
}

/// The request the approval worker files for an `approval::request` `input`, as it answers it.
fn filed(input: &Value) -> Value {
    let now = agentos_kit::clock::now_ms();
    json!({
        "id": "ap1", "status": "pending", "created_ms": now, "expires_ms": now + 60_000,
        "session_id": input["session_id"], "agent": input["agent"], "hand": input["hand"], "realm": input["realm"],
        "function_id": input["function_id"], "arguments": input["arguments"], "reason": input["reason"],
        "tier": input["tier"], "rule": input["rule"], "turn_id": input["turn_id"],
    })
}

/// Request `ap1` for `code::write_file`, decided with `decision` (`{decision, scope, note?, by}`).
fn decided(decision: Value) -> Value {
    let mut request = filed(&json!({
        "session_id": "s1", "agent": null, "hand": "coder", "realm": "default", "function_id": "code::write_file",
        "arguments": {"path": "a", "content": "x"}, "reason": "writes need a person", "tier": "ask",
        "rule": {"id": "r1", "source": "config", "function": "code::*"},
    }));
    let approved = decision["decision"] == "approve";
    request["status"] = json!(if approved { "approved" } else { "denied" });
    request["decision"] = decision;
    request["decision"]["decided_ms"] = json!(agentos_kit::clock::now_ms());
    request
}

/// The error code of a scripted LLM call that never answers ([`FakeBus::hang_after`]).
const HANG: &str = "TEST_HANG";

fn key(input: &Value) -> (String, String) {
    (input["scope"].as_str().unwrap_or_default().into(), input["key"].as_str().unwrap_or_default().into())
}

impl Bus for FakeBus {
    async fn call(&self, function_id: &str, input: Value, _timeout: Duration) -> Result<Value, WorkerError> {
        self.calls.lock().unwrap().push(function_id.to_string());
        let mut state = self.state.lock().unwrap();
        match function_id {
            "realm::get" => Ok(json!({"id": input["id"]})),
            "hand::get" if input["name"] == self.hand["name"] => Ok(self.hand.clone()),
            "hand::get" => Err(WorkerError::not_found("no such hand")),
            "engine::functions::list" => {
                let functions: Vec<Value> = self
                    .tools
                    .keys()
                    .map(|id| json!({"function_id": id, "description": format!("does {id}")}))
                    .collect();
                Ok(json!({"functions": functions}))
            }
            "context::build" => {
                let mut messages = vec![ChatMessage::system(input["system"].as_str().unwrap_or_default())];
                messages.extend(serde_json::from_value::<Vec<ChatMessage>>(input["history"].clone()).unwrap());
                messages.push(ChatMessage::user(input["message"].as_str().unwrap_or_default()));
                Ok(json!({"messages": messages, "compacted": false}))
            }
            "guard::check" => (self.guard)(&input),
            "session::open" => {
                let id = input["id"]
                    .as_str()
                    .map_or_else(|| format!("s{}", self.turns.lock().unwrap().len() + 1), str::to_string);
                let mut turns = self.turns.lock().unwrap();
                let n = turns.entry(id.clone()).or_insert(0);
                *n += 1;
                Ok(json!({"id": id, "turns": *n, "state": "active"}))
            }
            "session::set_state" => {
                self.states.lock().unwrap().push(input["state"].as_str().unwrap().to_string());
                Ok(json!({}))
            }
            "approval::classify" if self.classify.is_some() => (self.classify.as_ref().unwrap())(&input),
            "approval::request" if self.classify.is_some() => Ok(filed(&input)),
            "approval::wait" if self.classify.is_some() => {
                let next = self.waits.lock().unwrap().pop_front();
                match next {
                    Some(answer) => Ok(answer),
                    None if self.wait_hangs => {
                        drop(state);
                        std::future::pending().await
                    }
                    None => panic!("a scripted wait"),
                }
            }
            "state::get" => Ok(state.get(&key(&input)).cloned().unwrap_or(Value::Null)),
            "state::set" => {
                state.insert(key(&input), input["value"].clone());
                Ok(json!({}))
            }
            "state::delete" => Ok(state.remove(&key(&input)).unwrap_or(Value::Null)),
            "state::list" => {
                let scope = input["scope"].as_str().unwrap_or_default();
                Ok(Value::Array(state.iter().filter(|((s, _), _)| s == scope).map(|(_, v)| v.clone()).collect()))
            }
            other => match self.tools.get(other) {
                Some(tool) => {
                    drop(state);
                    tool(&input)
                }
                None => Err(WorkerError::new("function_not_found", format!("{other} not found"))),
            },
        }
    }

    fn enqueue(&self, function_id: &str, input: Value, _queue: &str) -> crate::turn::EnqueueAck {
        self.jobs.lock().unwrap().push(function_id.to_string());
        let mut enqueued = self.enqueued.lock().unwrap();
        // A batch of replay steps lands in the log step by step, as the replay worker keeps it.
        match (function_id, input["events"].as_array()) {
            ("replay::record_many", Some(events)) => {
                enqueued.extend(events.iter().map(|e| ("replay::record".to_string(), e.clone())));
            }
            _ => enqueued.push((function_id.to_string(), input)),
        }
        Box::pin(std::future::ready(Ok(())))
    }

    async fn complete(
        &self,
        request: CompletionRequest,
        tokens: Option<mpsc::UnboundedSender<String>>,
        _timeout: Duration,
    ) -> Result<Completion, WorkerError> {
        self.requests.lock().unwrap().push(request);
        let answer = self.answers.lock().unwrap().pop_front().expect("a scripted answer");
        if let (Err(e), Some(tokens)) = (&answer, &tokens)
            && e.code == HANG
        {
            tokens.send(e.message.clone()).unwrap();
            return std::future::pending().await;
        }
        if let (Some(tokens), Ok(c), true) = (tokens, &answer, self.stream_tokens) {
            for word in c.content.split_inclusive(' ') {
                tokens.send(word.to_string()).unwrap();
            }
        }
        answer
    }
}

/// Records every event.
#[derive(Default)]
struct Recorder {
    events: Vec<(String, Value)>,
}

impl Recorder {
    fn names(&self) -> Vec<&str> {
        self.events.iter().map(|(n, _)| n.as_str()).collect()
    }
}

impl Events for Recorder {
    fn is_open(&self) -> bool {
        true
    }
    async fn emit(&mut self, event: &str, data: Value) {
        self.events.push((event.to_string(), data));
    }
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

fn calls(calls: &[(&str, &str, Value)]) -> Completion {
    Completion {
        tool_calls: calls
            .iter()
            .map(|(id, name, args)| ToolCall { id: (*id).into(), name: (*name).into(), arguments: args.clone() })
            .collect(),
        finish_reason: "tool_calls".into(),
        ..text("")
    }
}

fn ask(message: &str) -> ChatRequest {
    ChatRequest { message: message.into(), ..ChatRequest::default() }
}

#[tokio::test]
async fn a_turn_without_tools_answers_and_saves_the_session() {
    let bus = FakeBus::new(&[]).answer(text("Hello."));
    let answer = chat(&bus, &mut NoEvents, &Settings::default(), ask("hi"), None).await.unwrap();
    assert_eq!(answer.reply, "Hello.");
    assert_eq!(answer.finish, "stop");
    assert_eq!((answer.steps, answer.usage.input_tokens, answer.usage.cost_usd), (1, 10, Some(0.5)));
    assert_eq!(answer.model, "p/m");

    let stored = bus.state.lock().unwrap()[&("realm:default:history".to_string(), answer.session_id)].clone();
    let messages: Vec<ChatMessage> = serde_json::from_value(stored["messages"].clone()).unwrap();
    assert_eq!(messages, vec![ChatMessage::user("hi"), ChatMessage::new(Role::Assistant, "Hello.")]);
}

#[tokio::test]
async fn the_next_turn_of_a_session_sees_the_earlier_one() {
    let bus = FakeBus::new(&[]).answer(text("Hello.")).answer(text("Again."));
    let first = chat(&bus, &mut NoEvents, &Settings::default(), ask("hi"), None).await.unwrap();
    let req = ChatRequest { session_id: Some(first.session_id.clone()), ..ask("more") };
    chat(&bus, &mut NoEvents, &Settings::default(), req, None).await.unwrap();
    let second = &bus.requests()[1].messages;
    assert_eq!(second.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(), ["You code.", "hi", "Hello.", "more"]);
}

#[tokio::test]
async fn a_tool_call_runs_the_function_and_the_model_reads_its_result() {
    let bus = FakeBus::new(&["code::read_file"])
        .tool("code::read_file", |args| Ok(json!({"content": format!("text of {}", args["path"].as_str().unwrap())})))
        .answer(calls(&[("c1", "code__read_file", json!({"path": "a.txt"}))]))
        .answer(text("It says hi."));
    let answer = chat(&bus, &mut NoEvents, &Settings::default(), ask("read a.txt"), None).await.unwrap();

    assert_eq!(answer.reply, "It says hi.");
    assert_eq!(answer.steps, 2);
    assert_eq!(answer.tool_calls.len(), 1);
    let record = &answer.tool_calls[0];
    assert_eq!((record.function_id.as_str(), record.ok), ("code::read_file", true));
    let requests = bus.requests();
    assert_eq!(requests[0].tools[0].name, "code__read_file");
    let tool_message = requests[1].messages.last().unwrap();
    assert_eq!(tool_message.role, Role::Tool);
    assert_eq!(tool_message.tool_call_id.as_deref(), Some("c1"));
    assert_eq!(tool_message.content, r#"{"content":"text of a.txt"}"#);
    assert_eq!(bus.calls_of("guard::check"), 1);
}

#[tokio::test]
async fn a_call_off_the_allow_list_is_not_made_and_the_model_is_told_how_to_allow_it() {
    let bus = FakeBus::new(&["code::write_file"])
        .tool("code::write_file", |_| panic!("must not run"))
        .answer(calls(&[("c1", "code__write_file", json!({"path": "a", "content": "x"}))]))
        .answer(text("I could not write."));
    let answer = chat(&bus, &mut NoEvents, &Settings::default(), ask("write"), None).await.unwrap();
    let blocked = answer.tool_calls[0].blocked.clone().unwrap();
    assert!(blocked.contains("allow = [\"code::write_file\"]"), "{blocked}");
    assert!(bus.requests()[1].messages.last().unwrap().content.starts_with("Not run: code::write_file needs approval"));

    let settings = Settings { allow: vec!["code::*".into()], ..Settings::default() };
    let bus = FakeBus::new(&["code::write_file"])
        .tool("code::write_file", |_| Ok(json!({"bytes": 1})))
        .answer(calls(&[("c1", "code__write_file", json!({"path": "a", "content": "x"}))]))
        .answer(text("Written."));
    assert!(chat(&bus, &mut NoEvents, &settings, ask("write"), None).await.unwrap().tool_calls[0].ok);
}

#[tokio::test]
async fn the_loop_guard_blocks_and_warns_and_an_absent_guard_blocks_everything() {
    let mut bus = FakeBus::new(&["code::list"])
        .tool("code::list", |_| Ok(json!([])))
        .answer(calls(&[("c1", "code__list", json!({})), ("c2", "code__list", json!({}))]))
        .answer(text("done"));
    bus.guard = Box::new(|_| Ok(json!({"action": "block", "reason": "you repeated code::list"})));
    let answer = chat(&bus, &mut NoEvents, &Settings::default(), ask("ls"), None).await.unwrap();
    assert_eq!(answer.tool_calls[0].blocked.as_deref(), Some("you repeated code::list"));
    assert_eq!(bus.calls_of("code::list"), 0);

    let mut bus = FakeBus::new(&["code::list"])
        .tool("code::list", |_| Ok(json!(["a"])))
        .answer(calls(&[("c1", "code__list", json!({}))]))
        .answer(text("done"));
    bus.guard = Box::new(|_| Ok(json!({"action": "warn", "reason": "slow down"})));
    let answer = chat(&bus, &mut NoEvents, &Settings::default(), ask("ls"), None).await.unwrap();
    assert!(answer.tool_calls[0].ok);
    assert!(bus.requests()[1].messages.last().unwrap().content.ends_with("[loop guard] slow down"));

    let mut bus = FakeBus::new(&["code::list"])
        .tool("code::list", |_| Ok(json!([])))
        .answer(calls(&[("c1", "code__list", json!({}))]))
        .answer(text("done"));
    bus.guard = Box::new(|_| Err(WorkerError::new("function_not_found", "guard::check not found")));
    let answer = chat(&bus, &mut NoEvents, &Settings::default(), ask("ls"), None).await.unwrap();
    assert!(answer.tool_calls[0].blocked.as_deref().unwrap().contains("loop guard could not check"));
    assert_eq!(bus.calls_of("code::list"), 0);
}

#[tokio::test]
async fn an_unknown_tool_and_a_failing_tool_are_answered_not_fatal() {
    let bus = FakeBus::new(&["code::read_file"])
        .tool("code::read_file", |_| Err(WorkerError::not_found("no file b.txt")))
        .answer(calls(&[("c1", "nope", json!({})), ("c2", "code__read_file", json!({"path": "b.txt"}))]))
        .answer(text("Neither worked."));
    let answer = chat(&bus, &mut NoEvents, &Settings::default(), ask("go"), None).await.unwrap();
    assert!(answer.tool_calls[0].blocked.as_deref().unwrap().contains("the tools are: code__read_file"));
    assert_eq!(answer.tool_calls[1].error.as_ref().unwrap().code, "NOT_FOUND");
    let last = bus.requests()[1].messages.last().unwrap().content.clone();
    assert_eq!(last, "Error NOT_FOUND: no file b.txt");
}

#[tokio::test]
async fn the_step_limit_stops_a_model_that_never_answers() {
    let mut bus = FakeBus::new(&["code::list"]).tool("code::list", |_| Ok(json!([])));
    for i in 0..3 {
        bus = bus.answer(calls(&[(&format!("c{i}"), "code__list", json!({"i": i}))]));
    }
    let settings = Settings { max_steps: 3, ..Settings::default() };
    let answer = chat(&bus, &mut NoEvents, &settings, ask("loop"), None).await.unwrap();
    assert_eq!((answer.finish.as_str(), answer.steps, answer.tool_calls.len()), ("step_limit", 3, 3));
    assert!(answer.reply.contains("step limit"), "{}", answer.reply);
}

#[tokio::test]
async fn events_tell_the_whole_turn_in_order() {
    let bus = FakeBus::new(&["code::list"])
        .tool("code::list", |_| Ok(json!(["a"])))
        .answer(calls(&[("c1", "code__list", json!({}))]))
        .answer(text("Two words."));
    let mut recorder = Recorder::default();
    chat(&bus, &mut recorder, &Settings::default(), ask("ls"), None).await.unwrap();
    assert_eq!(recorder.names(), ["session", "tool_call", "tool_result", "token", "token", "usage", "done"]);
    assert_eq!(recorder.events[3].1, json!({"text": "Two "}));
    assert_eq!(recorder.events[6].1["reply"], "Two words.");

    // A provider path without streaming still gives the listener the text, once.
    let mut bus = FakeBus::new(&[]).answer(text("Whole."));
    bus.stream_tokens = false;
    let mut recorder = Recorder::default();
    chat(&bus, &mut recorder, &Settings::default(), ask("hi"), None).await.unwrap();
    assert_eq!(recorder.names(), ["session", "token", "usage", "done"]);
}

#[tokio::test]
async fn a_failed_llm_call_is_an_error_event_and_nothing_is_saved() {
    let bus = FakeBus::new(&[]).fail(WorkerError::new("NO_PROVIDER", "set ANTHROPIC_API_KEY"));
    let mut recorder = Recorder::default();
    let err = chat(&bus, &mut recorder, &Settings::default(), ask("hi"), None).await.unwrap_err();
    assert_eq!(err.code, "NO_PROVIDER");
    assert_eq!(recorder.names(), ["session", "error"]);
    assert_eq!(recorder.events[1].1, json!({"code": "NO_PROVIDER", "message": "set ANTHROPIC_API_KEY"}));
    assert!(bus.state.lock().unwrap().is_empty());
    assert_eq!(bus.states(), ["failed"]);
    assert_eq!(bus.replay_kinds(), ["user_message", "context_built", "llm_request", "error"]);
}

#[tokio::test]
async fn a_turns_steps_go_out_in_batches_before_each_llm_and_tool_call_and_at_the_end() {
    let plain = FakeBus::new(&[]).answer(text("hi"));
    chat(&plain, &mut NoEvents, &Settings::default(), ask("hello"), None).await.unwrap();
    // user_message, context_built, llm_request | llm_response, turn_done
    assert_eq!(*plain.jobs.lock().unwrap(), ["replay::record_many"; 2]);
    let tool = FakeBus::new(&["code::read_file"])
        .tool("code::read_file", |_| Ok(json!({"content": "x"})))
        .answer(calls(&[("c1", "code__read_file", json!({"path": "a"}))]))
        .answer(text("done"));
    chat(&tool, &mut NoEvents, &Settings::default(), ask("read a"), None).await.unwrap();
    // … llm_request | llm_response, tool_call | tool_result, llm_request | llm_response, turn_done
    assert_eq!(*tool.jobs.lock().unwrap(), ["replay::record_many"; 4]);
}

#[tokio::test]
async fn every_step_of_a_turn_is_recorded_in_order_with_increasing_sequence_numbers() {
    let bus = FakeBus::new(&["code::read_file"])
        .tool("code::read_file", |_| Ok(json!({"content": "x"})))
        .answer(calls(&[("c1", "code__read_file", json!({"path": "a"}))]))
        .answer(text("done"))
        .answer(text("again"));
    let first = chat(&bus, &mut NoEvents, &Settings::default(), ask("read a"), None).await.unwrap();
    assert_eq!(
        bus.replay_kinds(),
        [
            "user_message",
            "context_built",
            "llm_request",
            "llm_response",
            "tool_call",
            "tool_result",
            "llm_request",
            "llm_response",
            "turn_done"
        ]
    );
    let req = ChatRequest { session_id: Some(first.session_id.clone()), ..ask("more") };
    chat(&bus, &mut NoEvents, &Settings::default(), req, None).await.unwrap();
    let enqueued = bus.enqueued.lock().unwrap().clone();
    assert!(enqueued.iter().all(|(f, e)| f == "replay::record" && e["session_id"] == first.session_id.as_str()));
    let seqs: Vec<u64> = enqueued.iter().map(|(_, e)| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(enqueued[3].1["data"]["content"], "");
    assert_eq!(bus.states(), ["done", "done"]);
}

fn approving(bus: FakeBus, tier: &'static str) -> FakeBus {
    FakeBus {
        classify: Some(Box::new(move |_| {
            Ok(
                json!({"tier": tier, "rule": {"id": "r1", "source": "config", "function": "code::*"}, "reason": "writes need a person"}),
            )
        })),
        ..bus
    }
}

#[tokio::test]
async fn an_ask_call_waits_for_the_decision_and_runs_when_approved() {
    let bus = approving(
        FakeBus::new(&["code::write_file"])
            .tool("code::write_file", |_| Ok(json!({"bytes": 1})))
            .answer(calls(&[("c1", "code__write_file", json!({"path": "a", "content": "x"}))]))
            .answer(text("Written.")),
        "ask",
    );
    bus.waits.lock().unwrap().push_back(json!({"id": "ap1", "status": "pending", "decision": null}));
    bus.waits
        .lock()
        .unwrap()
        .push_back(decided(json!({"decision": "approve", "scope": "once", "by": {"who": "ana", "via": "http"}})));
    let mut recorder = Recorder::default();
    let answer = chat(&bus, &mut recorder, &Settings::default(), ask("write"), None).await.unwrap();
    assert!(answer.tool_calls[0].ok, "{answer:?}");
    assert_eq!(bus.calls_of("approval::wait"), 2);
    assert_eq!(bus.states(), ["waiting_approval", "active", "done"]);
    let names = recorder.names();
    let requested = names.iter().position(|n| *n == "approval_requested").unwrap();
    assert_eq!(names[requested + 1], "approval_decided");
    assert!(bus.replay_kinds().contains(&"approval_decided".to_string()));
    // Both go out as the approval contract's request, as the approval worker answered it.
    for (name, data) in &recorder.events[requested..requested + 2] {
        let event = ChatEvent::from_parts(name, data.clone()).unwrap();
        assert!(matches!(event, ChatEvent::ApprovalRequested(_) | ChatEvent::ApprovalDecided(_)), "{event:?}");
        assert_eq!(event.data(), *data);
    }
}

#[tokio::test]
async fn a_denied_call_gives_the_model_the_persons_note_and_a_deny_tier_never_asks() {
    let bus = approving(
        FakeBus::new(&["code::write_file"])
            .tool("code::write_file", |_| panic!("must not run"))
            .answer(calls(&[("c1", "code__write_file", json!({"path": "a", "content": "x"}))]))
            .answer(text("OK, I will not.")),
        "ask",
    );
    bus.waits
        .lock()
        .unwrap()
        .push_back(decided(json!({"decision": "deny", "scope": "once", "note": "not on main", "by": {"via": "http"}})));
    let answer = chat(&bus, &mut NoEvents, &Settings::default(), ask("write"), None).await.unwrap();
    assert_eq!(
        answer.tool_calls[0].blocked.as_deref(),
        Some("the person denied this call (via http). Their note: not on main")
    );
    assert!(bus.requests()[1].messages.last().unwrap().content.contains("Their note: not on main"));

    let bus = approving(
        FakeBus::new(&["code::run_command"])
            .tool("code::run_command", |_| panic!("must not run"))
            .answer(calls(&[("c1", "code__run_command", json!({"program": "sudo"}))]))
            .answer(text("Understood.")),
        "deny",
    );
    let answer = chat(&bus, &mut NoEvents, &Settings::default(), ask("sudo"), None).await.unwrap();
    assert!(answer.tool_calls[0].blocked.as_deref().unwrap().starts_with("denied by the approval policy"));
    assert_eq!(bus.calls_of("approval::request"), 0);

    // auto runs even what the allow-list would refuse: the policy decides when it is there.
    let bus = approving(
        FakeBus::new(&["code::write_file"])
            .tool("code::write_file", |_| Ok(json!({"bytes": 1})))
            .answer(calls(&[("c1", "code__write_file", json!({"path": "a", "content": "x"}))]))
            .answer(text("Written.")),
        "auto",
    );
    assert!(chat(&bus, &mut NoEvents, &Settings::default(), ask("write"), None).await.unwrap().tool_calls[0].ok);
}

#[tokio::test]
async fn bad_requests_and_missing_workers_are_named() {
    let bus = FakeBus::new(&[]);
    let err = chat(&bus, &mut NoEvents, &Settings::default(), ask("  "), None).await.unwrap_err();
    assert_eq!(err.code, "INVALID_INPUT");
    let req = ChatRequest { hand: Some("ghost".into()), ..ask("hi") };
    assert_eq!(chat(&bus, &mut NoEvents, &Settings::default(), req, None).await.unwrap_err().code, "NOT_FOUND");

    // A function nobody registered: the message names the worker that should.
    let err =
        crate::turn::call_as::<_, Value>(&bus, "llm::usage", json!({}), Duration::from_secs(1)).await.unwrap_err();
    assert!(err.message.contains("the llm-router worker is not running"), "{err}");
}

#[tokio::test]
async fn agents_are_created_once_listed_and_deleted_per_realm() {
    let bus = FakeBus::new(&[]);
    let req = agents::CreateAgent { name: "helper".into(), hand: Some("coder".into()), ..Default::default() };
    let agent = agents::create(&bus, req.clone(), 7).await.unwrap();
    assert_eq!((agent.id.as_str(), agent.realm.as_str(), agent.created_at_ms), ("helper", "default", 7));
    assert_eq!(agents::create(&bus, req, 8).await.unwrap_err().code, "CONFLICT");
    let bad = agents::CreateAgent { name: "Big Name".into(), ..Default::default() };
    assert!(agents::create(&bus, bad, 9).await.unwrap_err().message.contains("give `id`"));
    let unknown_hand = agents::CreateAgent { name: "x".into(), hand: Some("ghost".into()), ..Default::default() };
    assert_eq!(agents::create(&bus, unknown_hand, 9).await.unwrap_err().code, "NOT_FOUND");

    assert_eq!(agents::list(&bus, "default").await.unwrap().agents, vec![agent.clone()]);
    assert!(agents::list(&bus, "other").await.unwrap().agents.is_empty());
    assert_eq!(agents::get(&bus, "default", "helper").await.unwrap(), agent);
    assert!(agents::get(&bus, "default", "nope").await.unwrap_err().message.contains("its agents: helper"));
    assert_eq!(agents::delete(&bus, "default", "helper").await.unwrap().deleted, "helper");
    assert_eq!(agents::delete(&bus, "default", "helper").await.unwrap_err().code, "NOT_FOUND");
}

#[tokio::test]
async fn an_agent_supplies_hand_and_model_to_its_turns() {
    let bus = FakeBus::new(&[]).answer(text("ok"));
    let req = agents::CreateAgent {
        name: "a1".into(),
        hand: Some("coder".into()),
        model: Some("x/y".into()),
        ..Default::default()
    };
    agents::create(&bus, req, 1).await.unwrap();
    let turn = ChatRequest { agent: Some("a1".into()), ..ask("hi") };
    chat(&bus, &mut NoEvents, &Settings::default(), turn, None).await.unwrap();
    assert_eq!(bus.requests()[0].model.as_deref(), Some("x/y"));
}

#[tokio::test]
async fn a_hand_that_remembers_turns_stores_each_answered_turn_through_the_queue() {
    let mut bus = FakeBus::new(&[]).answer(text("Use port 8080."));
    bus.hand["memory"] = json!({"store": "turns", "importance": 0.4});
    let req = ChatRequest { realm: Some("team".into()), ..ask("which port?") };
    chat(&bus, &mut NoEvents, &Settings::default(), req, None).await.unwrap();
    let stored: Vec<Value> =
        bus.enqueued.lock().unwrap().iter().filter(|(f, _)| f == "memory::store").map(|(_, v)| v.clone()).collect();
    assert_eq!(
        stored,
        [
            json!({"text": "User: which port?\nAnswer: Use port 8080.", "realm": "team", "tags": ["turn", "coder"], "importance": 0.4})
        ]
    );

    let quiet = FakeBus::new(&[]).answer(text("ok"));
    chat(&quiet, &mut NoEvents, &Settings::default(), ask("hi"), None).await.unwrap();
    assert!(quiet.enqueued.lock().unwrap().iter().all(|(f, _)| f != "memory::store"));
}

#[tokio::test]
async fn a_memory_tool_runs_in_the_turns_realm_whatever_the_model_names() {
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let bus = FakeBus::new(&["memory::recall"])
        .tool("memory::recall", move |args| {
            log.lock().unwrap().push(args.clone());
            Ok(json!({"memories": []}))
        })
        .answer(calls(&[("c1", "memory__recall", json!({"query": "port", "realm": "someone-else"}))]))
        .answer(text("Nothing remembered."));
    let bus = approving(bus, "auto");
    let req = ChatRequest { realm: Some("team".into()), ..ask("what port?") };
    chat(&bus, &mut NoEvents, &Settings::default(), req, None).await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [json!({"query": "port", "realm": "team"})]);
}

/// Polls `ready` until it holds, for at most five seconds.
async fn until(what: &str, ready: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn history_of(bus: &FakeBus, session_id: &str) -> Vec<ChatMessage> {
    let stored = bus.state.lock().unwrap()[&("realm:default:history".to_string(), session_id.to_string())].clone();
    serde_json::from_value(stored["messages"].clone()).unwrap()
}

#[tokio::test]
async fn an_interrupt_stops_the_turn_before_its_next_llm_call_and_the_turn_ends_as_done() {
    let interrupts = Interrupts::default();
    let reach = interrupts.clone();
    let bus = FakeBus::new(&["code::list"])
        .tool("code::list", move |_| {
            assert!(reach.interrupt("s-int", "tui"), "the turn is reachable while it runs");
            Ok(json!(["a"]))
        })
        .answer(calls(&[("c1", "code__list", json!({})), ("c2", "code__list", json!({"path": "src"}))]))
        .answer(text("never asked for"));
    let mut events = Recorder::default();
    let req = ChatRequest { session_id: Some("s-int".into()), ..ask("list") };
    let answer = chat_interruptible(&bus, &mut events, &Settings::default(), req, None, &interrupts).await.unwrap();

    assert_eq!((answer.finish.as_str(), answer.reply.as_str(), answer.steps), ("interrupted", interrupt::REPLY, 1));
    assert_eq!(bus.requests().len(), 1, "no LLM call after the interrupt");
    assert_eq!(bus.calls_of("code::list"), 1, "the call after the interrupt was not made");
    assert_eq!(answer.tool_calls[1].blocked.as_deref(), Some("the turn was interrupted before this call was made"));
    assert_eq!(events.names(), ["session", "tool_call", "tool_result", "usage", "done"]);
    assert_eq!(events.events[4].1["finish"], "interrupted");

    // The session keeps what happened: both calls answered, then the interruption.
    let kept = history_of(&bus, "s-int");
    let roles: Vec<Role> = kept.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::User, Role::Assistant, Role::Tool, Role::Tool, Role::Assistant]);
    assert_eq!(kept[4].content, interrupt::REPLY);
    let enqueued = bus.enqueued.lock().unwrap().clone();
    let done = enqueued.iter().find(|(_, e)| e["kind"] == "turn_done").unwrap();
    assert_eq!(done.1["data"]["finish"], "interrupted");
    assert_eq!(bus.states(), ["done"]);
    assert!(!interrupts.is_running("s-int"), "a finished turn leaves the registry");
}

#[tokio::test]
async fn an_interrupt_while_waiting_for_approval_denies_the_request_and_ends_the_turn() {
    let decisions = std::sync::Arc::new(Mutex::new(Vec::new()));
    let log = decisions.clone();
    let mut bus = approving(
        FakeBus::new(&["code::write_file"])
            .tool("code::write_file", |_| panic!("must not run"))
            .tool("approval::decide", move |input| {
                log.lock().unwrap().push(input.clone());
                Ok(decided(json!({"decision": "deny", "scope": "once", "note": input["note"], "by": input["by"]})))
            })
            .answer(calls(&[("c1", "code__write_file", json!({"path": "a", "content": "x"}))])),
        "ask",
    );
    bus.wait_hangs = true;
    let interrupts = Interrupts::default();
    let mut events = Recorder::default();
    let req = ChatRequest { session_id: Some("s-wait".into()), ..ask("write") };
    let settings = Settings::default();
    let turn = chat_interruptible(&bus, &mut events, &settings, req, None, &interrupts);
    let interrupter = async {
        until("the approval wait", || bus.calls_of("approval::wait") == 1).await;
        let req = InterruptRequest { session_id: "s-wait".into(), via: None };
        interrupts.handle(&req).unwrap()
    };
    let (answer, interrupted) = tokio::join!(turn, interrupter);
    let answer = answer.unwrap();

    assert!(interrupted.interrupted);
    assert_eq!(
        *decisions.lock().unwrap(),
        [json!({"id": "ap1", "decision": "deny", "note": "the turn was interrupted", "by": {"via": "tui"}})]
    );
    assert_eq!(answer.finish, "interrupted");
    assert_eq!(
        answer.tool_calls[0].blocked.as_deref(),
        Some("the turn was interrupted while this call waited for approval")
    );
    assert_eq!(bus.requests().len(), 1, "the model is not asked again");
    assert_eq!(bus.states(), ["waiting_approval", "active", "done"]);
    let names = events.names();
    assert!(names.contains(&"approval_decided"), "{names:?}");
    assert_eq!(&names[names.len() - 2..], ["usage", "done"]);
}

#[tokio::test]
async fn an_interrupt_while_the_model_streams_keeps_what_it_had_said() {
    let bus = FakeBus::new(&[]).hang_after("The answer is ");
    let interrupts = Interrupts::default();
    let mut events = Recorder::default();
    let req = ChatRequest { session_id: Some("s-stream".into()), ..ask("question") };
    let settings = Settings::default();
    let turn = chat_interruptible(&bus, &mut events, &settings, req, None, &interrupts);
    let interrupter = async {
        until("the LLM call", || !bus.requests().is_empty()).await;
        interrupts.interrupt("s-stream", "tui")
    };
    let (answer, interrupted) = tokio::join!(turn, interrupter);
    let answer = answer.unwrap();

    assert!(interrupted);
    assert_eq!(answer.reply, format!("The answer is\n\n{}", interrupt::REPLY));
    assert_eq!((answer.finish.as_str(), answer.steps), ("interrupted", 0));
    assert_eq!(events.names(), ["session", "token", "usage", "done"]);
    assert_eq!(history_of(&bus, "s-stream").last().unwrap().content, answer.reply);
}

#[tokio::test]
async fn interrupting_a_session_with_no_running_turn_answers_false() {
    let interrupts = Interrupts::default();
    let nobody = InterruptRequest { session_id: "nobody".into(), via: None };
    assert!(!interrupts.handle(&nobody).unwrap().interrupted);

    let bus = FakeBus::new(&[]).answer(text("Hello."));
    let req = ChatRequest { session_id: Some("s-over".into()), ..ask("hi") };
    let answer = chat_interruptible(&bus, &mut NoEvents, &Settings::default(), req, None, &interrupts).await.unwrap();
    assert_eq!(answer.finish, "stop");
    let over = InterruptRequest { session_id: "s-over".into(), via: Some(interrupt::Via::Cli) };
    assert!(!interrupts.handle(&over).unwrap().interrupted, "a turn that ended is not interrupted");
}

#[tokio::test]
async fn a_message_over_the_limit_is_refused_before_anything_is_stored() {
    let bus = FakeBus::new(&[]).answer(text("never"));
    let settings = Settings { max_message_bytes: 16, ..Settings::default() };
    let mut events = Recorder::default();
    let err = chat(&bus, &mut events, &settings, ask(&"x".repeat(17)), None).await.unwrap_err();
    assert_eq!(err.code, crate::settings::MESSAGE_TOO_LARGE);
    assert!(err.message.contains("[agent] max_message_bytes"), "{err}");
    assert_eq!(*bus.calls.lock().unwrap(), Vec::<String>::new(), "no session, no lookup");
    assert_eq!(bus.replay_kinds(), Vec::<String>::new(), "no replay step");
    assert_eq!(bus.requests().len(), 0);
    assert_eq!(events.names(), ["error"]);
    let answer = chat(&bus, &mut NoEvents, &settings, ask(&"x".repeat(16)), None).await.unwrap();
    assert_eq!(answer.reply, "never", "a message at the limit runs");
}

#[tokio::test]
async fn a_turn_the_engine_went_away_under_fails_its_session_and_expires_its_approval() {
    let expired = std::sync::Arc::new(Mutex::new(Vec::new()));
    let log = expired.clone();
    let mut bus = approving(
        FakeBus::new(&["code::write_file"])
            .tool("code::write_file", |_| panic!("must not run"))
            .tool("approval::expire_turn", move |input| {
                log.lock().unwrap().push(input.clone());
                Ok(json!({"expired": [{"id": "ap1"}]}))
            })
            .answer(calls(&[("c1", "code__write_file", json!({"path": "a", "content": "x"}))])),
        "ask",
    );
    bus.wait_hangs = true;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let lost = async move {
        let _ = rx.await;
        crate::orphans::engine_lost()
    };
    let mut events = Recorder::default();
    let req = ChatRequest { session_id: Some("s-lost".into()), ..ask("write") };
    let (settings, interrupts) = (Settings::default(), Interrupts::default());
    let turn = chat_supervised(&bus, &mut events, &settings, req, None, &interrupts, lost);
    let engine_dies = async {
        until("the approval wait", || bus.calls_of("approval::wait") == 1).await;
        tx.send(()).unwrap();
    };
    let (result, ()) = tokio::join!(turn, engine_dies);
    let err = result.unwrap_err();
    assert_eq!(err.code, crate::orphans::TURN_INTERRUPTED);
    assert_eq!(bus.states(), ["waiting_approval", "failed"]);
    let expired = expired.lock().unwrap().clone();
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0]["session_id"], "s-lost");
    assert_eq!(expired[0]["reason"], crate::orphans::ENGINE_GONE);
    let turn_id = bus.enqueued.lock().unwrap()[0].1["turn_id"].clone();
    assert_eq!(expired[0]["turn_id"], turn_id, "only this turn's requests");
    assert_eq!(bus.replay_kinds().last().map(String::as_str), Some("error"));
    assert_eq!(events.names().last(), Some(&"error"));
}

#[tokio::test]
async fn settling_fails_the_sessions_left_running_and_expires_their_approvals() {
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let (fail_log, expire_log) = (seen.clone(), seen.clone());
    let bus = FakeBus::new(&[])
        .tool("session::fail_running", move |input| {
            fail_log.lock().unwrap().push(("fail_running".to_string(), input.clone()));
            Ok(json!({"sessions": [{"id": "s1", "state": "failed"}, {"id": "s2", "state": "failed"}]}))
        })
        .tool("approval::expire_turn", move |input| {
            expire_log.lock().unwrap().push(("expire_turn".to_string(), input.clone()));
            Ok(json!({"expired": if input["session_id"] == "s1" { json!([{"id": "ap1"}]) } else { json!([]) }}))
        });
    let settled =
        crate::orphans::settle(&bus, 42, "agent-core stopped", "agent-core restarted while it waited").await.unwrap();
    assert_eq!(settled, crate::orphans::Settled { sessions: vec!["s1".into(), "s2".into()], expired: 1 });
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (
                "fail_running".to_string(),
                json!({"before_ms": 42, "error": {"code": "TURN_INTERRUPTED", "message": "agent-core stopped"}})
            ),
            (
                "expire_turn".to_string(),
                json!({"session_id": "s1", "turn_id": null, "reason": "agent-core restarted while it waited"})
            ),
            (
                "expire_turn".to_string(),
                json!({"session_id": "s2", "turn_id": null, "reason": "agent-core restarted while it waited"})
            ),
        ]
    );
}
