//! The turn's driver: carries out what the machine ([`super::machine`]) asks, through the bus,
//! the event channel and the replay recorder, and feeds back what came of it.
//!
//! Rules it keeps:
//! - Independent look-ups go out together (realm, hand and functions; the session and its
//!   history), and so do the loop guard and the approval policy of a call.
//! - The streamed LLM call and the wait for a decision race the interrupt; an answer that is
//!   already there wins. Any other call is let finish, and the interrupt is delivered before the
//!   next input, so the machine reads it at its next safe point.
//! - Replay steps are not awaited one by one: [`Recorder::record`] starts the delivery and the
//!   machine's [`Effect::Flush`] waits for them all.
//! - The engine going away (`lost`) abandons whatever the turn waits on until it has its answer
//!   or has failed ([`Turn::abandonable`]); the flush and the turn's ending are never abandoned.

use std::collections::VecDeque;
use std::future::Future;
use std::time::{Duration, Instant};

use agentos_kit::chat::CompletionRequest;
use agentos_kit::{WorkerError, codes};
use agentos_protocol::replay::Step as ReplayStep;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::machine::{Effect, Input, Turn, Verdict};
use super::{Bus, CONTEXT_TIMEOUT, ChatAnswer, ChatRequest, Events, Hand, OpenedSession, QUICK, call_as, set_state};
use crate::interrupt::{Cancel, Interrupts, Running};
use crate::record::{self, Recorder};
use crate::settings::Settings;
use crate::tools::FunctionList;
use crate::{agents, approve, history, orphans};

/// What came of one effect.
enum Step {
    /// Nothing to feed back.
    Nothing,
    /// The machine's next input.
    Next(Input),
    /// The turn is over.
    Done(Result<ChatAnswer, WorkerError>),
}

/// Runs one turn to its end: [`super::chat_supervised`].
pub(super) async fn drive<B: Bus, E: Events>(
    bus: &B,
    events: &mut E,
    settings: &Settings,
    req: ChatRequest,
    trace_id: Option<String>,
    interrupts: &Interrupts,
    lost: impl Future<Output = WorkerError>,
) -> Result<ChatAnswer, WorkerError> {
    let mut turn = Turn::new(req, settings.clone(), trace_id.clone());
    let mut driver = Driver {
        bus,
        events,
        settings,
        interrupts,
        trace_id,
        epoch: Instant::now(),
        recorder: None,
        running: None,
        interrupt_delivered: false,
    };
    tokio::pin!(lost);
    let mut engine_gone = false;
    let mut inputs = VecDeque::from([Input::Start]);
    loop {
        if let Some(interrupted) = driver.interrupt() {
            inputs.push_front(interrupted);
        }
        let Some(input) = inputs.pop_front() else {
            return Err(WorkerError::new(codes::INTERNAL, "the turn stopped without an answer or an error"));
        };
        let effects = turn.handle(driver.now(), input);
        for effect in effects {
            let abandonable = !engine_gone && turn.abandonable() && !matches!(effect, Effect::Flush);
            let step = if abandonable {
                tokio::select! {
                    biased;
                    step = driver.perform(&mut turn, effect) => step,
                    e = &mut lost => {
                        engine_gone = true;
                        inputs.clear();
                        inputs.push_back(Input::Failed(e));
                        break;
                    }
                }
            } else {
                driver.perform(&mut turn, effect).await
            };
            match step {
                Step::Nothing => {}
                Step::Next(input) => inputs.push_back(input),
                Step::Done(result) => return result,
            }
        }
    }
}

struct Driver<'a, B, E> {
    bus: &'a B,
    events: &'a mut E,
    settings: &'a Settings,
    interrupts: &'a Interrupts,
    trace_id: Option<String>,
    /// The start of the turn's clock.
    epoch: Instant,
    recorder: Option<Recorder>,
    /// The turn's registration with `agent::interrupt`.
    running: Option<Running>,
    interrupt_delivered: bool,
}

impl<B: Bus, E: Events> Driver<'_, B, E> {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// The turn's interrupt signal (one that never fires before the turn is reachable).
    fn cancel(&self) -> Cancel {
        self.running.as_ref().map_or_else(Cancel::never, |r| r.cancel().clone())
    }

    /// [`Input::Interrupted`], the first time the signal is seen set.
    fn interrupt(&mut self) -> Option<Input> {
        if self.interrupt_delivered {
            return None;
        }
        let via = self.running.as_ref()?.cancel().via()?;
        self.interrupt_delivered = true;
        Some(Input::Interrupted { via })
    }

    async fn perform(&mut self, turn: &mut Turn, effect: Effect) -> Step {
        let bus = self.bus;
        match effect {
            Effect::FindAgent { realm, id } => Step::Next(Input::AgentFound(agents::get(bus, &realm, &id).await)),
            Effect::LookUp { realm, hand } => {
                let (realm, hand, functions) = tokio::join!(
                    call_as::<_, Value>(bus, "realm::get", json!({"id": realm}), QUICK),
                    call_as::<_, Hand>(bus, "hand::get", json!({"name": hand}), QUICK),
                    call_as::<_, FunctionList>(bus, "engine::functions::list", json!({}), QUICK),
                );
                Step::Next(Input::LookedUp { realm, hand, functions })
            }
            Effect::Open { session, realm, history_of } => {
                let open = call_as::<_, OpenedSession>(bus, "session::open", session, QUICK);
                let earlier = async {
                    match &history_of {
                        Some(id) => history::load(bus, &realm, id).await,
                        None => Ok(Vec::new()),
                    }
                };
                let (session, history) = tokio::join!(open, earlier);
                Step::Next(Input::Opened { session, history, turn_id: uuid::Uuid::new_v4().to_string() })
            }
            Effect::Begin { session_id, turns, turn_id } => {
                self.running = Some(self.interrupts.start(&session_id));
                self.recorder = Some(Recorder::new(&session_id, turns, &turn_id, self.trace_id.clone()));
                Step::Nothing
            }
            Effect::Emit(event) => {
                self.events.send(event).await;
                Step::Nothing
            }
            Effect::Record { kind, data, since } => {
                let started = since.map(|since| self.epoch + since);
                if let Some(rec) = self.recorder.as_mut() {
                    // A step whose data this build cannot type still goes out as it is.
                    let step = ReplayStep::from_parts(kind, data.clone())
                        .unwrap_or_else(|_| ReplayStep::Unknown { kind: kind.to_string(), data });
                    rec.record(bus, step, started);
                }
                Step::Nothing
            }
            Effect::BuildContext(input) => {
                Step::Next(Input::ContextBuilt(call_as(bus, "context::build", input, CONTEXT_TIMEOUT).await))
            }
            Effect::Complete(request) => self.complete(turn, request).await,
            Effect::Check { function_id, arguments } => {
                let ctx = turn.context();
                let check = json!({
                    "session_id": ctx.session_id,
                    "turn_id": ctx.turn_id,
                    "function_id": function_id,
                    "arguments": arguments,
                });
                // The loop guard and the approval policy are independent: ask both at once.
                let (verdict, classified) = tokio::join!(
                    call_as::<_, Verdict>(bus, "guard::check", check, QUICK),
                    approve::classify(bus, ctx, &function_id, &arguments)
                );
                Step::Next(Input::Checked { verdict, classified })
            }
            Effect::RequestApproval(input) => {
                Step::Next(Input::ApprovalRequested(bus.call("approval::request", input, QUICK).await))
            }
            Effect::SetState { state, error } => {
                set_state(bus, &turn.context().session_id, state, error.as_ref()).await;
                Step::Nothing
            }
            Effect::AwaitDecision { id, request } => {
                let cancel = self.cancel();
                tokio::select! {
                    biased;
                    () = cancel.fired() => Step::Next(Input::Abandoned),
                    decided = approve::wait(bus, &id, approve::expiry_of(&request)) => Step::Next(Input::Decided(decided)),
                }
            }
            Effect::Withdraw { id, via } => Step::Next(Input::Decided(approve::deny_interrupted(bus, &id, &via).await)),
            Effect::RunTool { function_id, arguments } => {
                Step::Next(Input::ToolDone(bus.call(&function_id, arguments, self.settings.tool_timeout()).await))
            }
            Effect::Unregister => {
                self.running = None;
                Step::Nothing
            }
            Effect::SaveHistory(messages) => {
                let ctx = turn.context();
                Step::Next(Input::Saved(history::save(bus, &ctx.realm, &ctx.session_id, messages).await))
            }
            Effect::Remember(input) => {
                if let Err(e) = bus.enqueue("memory::store", input, record::QUEUE).await {
                    tracing::warn!(session = %turn.context().session_id, "could not remember the turn: {e}");
                }
                Step::Nothing
            }
            Effect::Flush => {
                let flushed = match self.recorder.as_mut() {
                    Some(rec) => rec.flush(bus).await,
                    None => Ok(()),
                };
                Step::Next(Input::Flushed(flushed))
            }
            Effect::ExpireApprovals => {
                let ctx = turn.context();
                let expired =
                    orphans::expire(bus, Instant::now(), &ctx.session_id, Some(&ctx.turn_id), orphans::ENGINE_GONE)
                        .await;
                if let Err(x) = expired {
                    tracing::warn!(session = %ctx.session_id, "could not expire the turn's approval requests: {x}");
                }
                Step::Nothing
            }
            Effect::Warn(message) => {
                tracing::warn!(session = %turn.context().session_id, "{message}");
                Step::Nothing
            }
            Effect::Finish(answer) => Step::Done(Ok(*answer)),
            Effect::Fail(e) => Step::Done(Err(e)),
        }
    }

    /// One LLM call, raced with the interrupt: its text deltas go to the machine while it runs
    /// (and from there to the listener as `token` events). The call comes first: tokens already
    /// received are shown, and an answer that is complete is not thrown away.
    async fn complete(&mut self, turn: &mut Turn, request: CompletionRequest) -> Step {
        let cancel = self.cancel();
        let timeout = self.settings.llm_timeout();
        if !self.events.is_open() {
            return tokio::select! {
                biased;
                completion = self.bus.complete(request, None, timeout) => {
                    Step::Next(Input::Answered { completion, listener: false })
                }
                () = cancel.fired() => Step::Next(Input::Abandoned),
            };
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let call = self.bus.complete(request, Some(tx), timeout);
        tokio::pin!(call);
        let completion = loop {
            tokio::select! {
                biased;
                Some(text) = rx.recv() => self.streamed(turn, text).await,
                completion = &mut call => break completion,
                () = cancel.fired() => return Step::Next(Input::Abandoned),
            }
        };
        while let Ok(text) = rx.try_recv() {
            self.streamed(turn, text).await;
        }
        Step::Next(Input::Answered { completion, listener: true })
    }

    /// A piece of the answer under way: the machine keeps it and has it shown.
    async fn streamed(&mut self, turn: &mut Turn, text: String) {
        for effect in turn.handle(self.now(), Input::Streamed(text)) {
            match effect {
                Effect::Emit(event) => self.events.send(event).await,
                other => tracing::warn!("a streamed token asked for {other:?}, which is not carried out"),
            }
        }
    }
}
