//! The driver: holds the current [`Catalogue`] and its cron triggers, and carries out what the
//! pure functions of the crate root decide (state reads and writes, `agent::chat` calls,
//! trigger registration).
//!
//! Rules it keeps:
//! - The catalogue is swapped whole behind a mutex and handed out as an `Arc`, so no lock is
//!   held across an `.await`; a poisoned lock is recovered, never a panic.
//! - A reload reads the files on the blocking pool, then, under the lock, unregisters every old
//!   cron trigger, bumps the generation and registers one trigger per scheduled hand. The SDK
//!   sends those frames in order, so the engine drops the old jobs before it starts the new.
//! - A scheduled run goes on in the background and a hand never has two scheduled runs at once:
//!   a firing while the previous run is still going is skipped (and logged).
//! - Every run, manual or scheduled, ends in the hand's `last_run`; failing to record it is
//!   logged and does not change the run's answer.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use agentos_kit::state;
use agentos_kit::{ErrorCode, III, Trigger, WorkerError, call, clock};
use iii_sdk::RegisterTriggerInput;
use serde_json::Value;

use crate::catalogue::{BUILTIN_HANDS, Catalogue};
use crate::error::HandError;
use crate::{
    AGENT_CHAT, CronFiring, HandDetail, HandList, LastRun, NoArgs, RUN_SCHEDULED, RUNS_SCOPE, Reloaded, RunKind,
    ScheduleTag, ScheduledRun, TriggerHand, TriggerList, chat_request, detail, finished_run, list, resolve_job,
};

/// How long a trigger waits for `agent::chat`: a turn with many tool calls (builds, test runs)
/// can take minutes; 10 minutes is the longest a person should wait for one answer.
pub const CHAT_TIMEOUT: Duration = Duration::from_secs(600);

/// The engine's code for a call to a function nobody registered (iii's own, passed through by
/// the kit's `call`).
const FUNCTION_NOT_FOUND: &str = "function_not_found";

/// How long the trigger lookup of a cron firing may take: it is one in-memory listing in the
/// engine, so this only trips when the engine is gone.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The current load: the hands, their cron triggers, and which load it is.
struct Loaded {
    catalogue: Arc<Catalogue>,
    schedules: Vec<Trigger>,
    generation: u64,
    /// Cron trigger id → hand, filled from `engine::triggers::list` on first sight of an id.
    jobs: HashMap<String, String>,
}

/// The hand-runner's state in the worker process: the loaded hands, their schedules and the
/// scheduled runs in flight.
pub struct Runner {
    iii: III,
    dir: Option<PathBuf>,
    loaded: Mutex<Loaded>,
    running: Mutex<BTreeSet<String>>,
}

impl Runner {
    /// A runner with no hands yet, reading user hands from `dir`; [`Runner::load_now`] loads them.
    pub fn new(iii: &III, dir: Option<PathBuf>) -> Arc<Self> {
        Arc::new(Self {
            iii: iii.clone(),
            dir,
            loaded: Mutex::new(Loaded {
                catalogue: Arc::new(Catalogue::default()),
                schedules: Vec::new(),
                generation: 0,
                jobs: HashMap::new(),
            }),
            running: Mutex::new(BTreeSet::new()),
        })
    }

    /// Loads the built-in hands and the user's on this thread (blocking file IO), registers
    /// their cron triggers (call it once `hand::run_scheduled` is registered) and logs every
    /// file that did not load. What `hand::reload` does, for the worker's start.
    pub fn load_now(&self) -> Reloaded {
        self.install(Catalogue::load(BUILTIN_HANDS, self.dir.as_deref()))
    }

    /// The current catalogue.
    pub fn catalogue(&self) -> Arc<Catalogue> {
        Arc::clone(&lock(&self.loaded).catalogue)
    }

    /// `hand::list`.
    pub async fn list(&self) -> Result<HandList, HandError> {
        let catalogue = self.catalogue();
        let runs: Vec<LastRun> = state::list(&self.iii, RUNS_SCOPE).await?;
        Ok(list(&catalogue, runs))
    }

    /// `hand::get`.
    pub async fn get(&self, name: &str) -> Result<HandDetail, HandError> {
        let catalogue = self.catalogue();
        catalogue.get(name)?;
        let last_run: Option<LastRun> = state::get(&self.iii, RUNS_SCOPE, name).await?;
        detail(&catalogue, name, last_run)
    }

    /// `hand::reload`: re-reads the files and re-registers the cron triggers.
    pub async fn reload(&self) -> Result<Reloaded, HandError> {
        let dir = self.dir.clone();
        let catalogue = tokio::task::spawn_blocking(move || Catalogue::load(BUILTIN_HANDS, dir.as_deref()))
            .await
            .map_err(|e| WorkerError::internal(format!("hand::reload: the file task failed: {e}")))?;
        Ok(self.install(catalogue))
    }

    /// `hand::trigger`: one chat turn of a hand through `agent::chat`; its answer unchanged.
    pub async fn trigger(&self, req: TriggerHand, kind: RunKind) -> Result<Value, HandError> {
        let chat = chat_request(&self.catalogue(), req)?;
        let started_ms = clock::now_ms();
        let result = call::<_, Value>(&self.iii, AGENT_CHAT, &chat, CHAT_TIMEOUT).await.map_err(agent_error);
        let run = finished_run(&chat.hand, kind, started_ms, clock::now_ms(), &result);
        if let Err(e) = state::set(&self.iii, RUNS_SCOPE, &chat.hand, &run).await {
            tracing::warn!(hand = %chat.hand, code = %e.code, message = %e.message, "could not record the last run");
        }
        match &result {
            Ok(_) => tracing::info!(hand = %chat.hand, trigger = ?kind, session_id = ?run.session_id, "hand ran"),
            Err(e) => tracing::warn!(hand = %chat.hand, trigger = ?kind, code = e.code(), "hand run failed: {e}"),
        }
        result
    }

    /// `hand::run_scheduled`: works out the hand from the firing's trigger id and starts its run
    /// in the background, unless its previous scheduled run is still going.
    pub async fn run_scheduled(self: &Arc<Self>, firing: CronFiring) -> Result<ScheduledRun, HandError> {
        let hand = self.job_hand(&firing.job_id).await?;
        if !lock(&self.running).insert(hand.clone()) {
            tracing::warn!(hand = %hand, "the previous scheduled run is still going; this firing is skipped");
            return Ok(ScheduledRun { hand, started: false });
        }
        let in_flight = InFlight { runner: Arc::clone(self), hand: hand.clone() };
        tokio::spawn(async move {
            let req = TriggerHand { name: in_flight.hand.clone(), ..TriggerHand::default() };
            // The outcome is in the hand's last_run and the log; nobody waits for it here.
            let _ = in_flight.runner.trigger(req, RunKind::Cron).await;
        });
        Ok(ScheduledRun { hand, started: true })
    }

    /// The hand behind cron trigger `job_id`: from the cache, else from the engine's trigger
    /// list (checked against the current generation).
    async fn job_hand(&self, job_id: &str) -> Result<String, HandError> {
        if let Some(hand) = lock(&self.loaded).jobs.get(job_id) {
            return Ok(hand.clone());
        }
        let listed: TriggerList = call(&self.iii, "engine::triggers::list", &NoArgs {}, LOOKUP_TIMEOUT).await?;
        let mut loaded = lock(&self.loaded);
        let hand = resolve_job(&listed.triggers, job_id, loaded.generation)?;
        loaded.jobs.insert(job_id.to_string(), hand.clone());
        Ok(hand)
    }

    /// Makes `catalogue` current: logs its errors, replaces the cron triggers.
    fn install(&self, catalogue: Catalogue) -> Reloaded {
        let answer = Reloaded { hands: catalogue.len(), errors: catalogue.errors().to_vec() };
        for e in catalogue.errors() {
            tracing::warn!(path = %e.path, "a hand did not load: {}", e.message);
        }
        let mut loaded = lock(&self.loaded);
        for old in loaded.schedules.drain(..) {
            old.unregister();
        }
        loaded.jobs.clear();
        loaded.generation += 1;
        let generation = loaded.generation;
        for hand in catalogue.hands() {
            let Some(schedule) = &hand.schedule else { continue };
            let tag = ScheduleTag { hand: hand.name.clone(), generation };
            let input = RegisterTriggerInput {
                trigger_type: "cron".to_string(),
                function_id: RUN_SCHEDULED.to_string(),
                config: serde_json::json!({ "expression": schedule.cron }),
                metadata: serde_json::to_value(&tag).ok(),
            };
            match self.iii.register_trigger(input) {
                Ok(trigger) => {
                    tracing::info!(hand = %hand.name, cron = %schedule.cron, "hand scheduled");
                    loaded.schedules.push(trigger);
                }
                Err(e) => {
                    tracing::error!(hand = %hand.name, cron = %schedule.cron, "could not register the schedule: {e}")
                }
            }
        }
        tracing::info!(hands = catalogue.len(), errors = catalogue.errors().len(), generation, "hands loaded");
        loaded.catalogue = Arc::new(catalogue);
        answer
    }
}

/// A hand's scheduled run in flight: dropping it (when the run ends, however it ends) lets the
/// next firing start a run again.
struct InFlight {
    runner: Arc<Runner>,
    hand: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.runner.running).remove(&self.hand);
    }
}

/// `agent::chat` missing from the engine is [`HandError::AgentNotRunning`]; anything else keeps
/// its code.
fn agent_error(e: WorkerError) -> HandError {
    if e.code == FUNCTION_NOT_FOUND && e.message.contains(AGENT_CHAT) {
        HandError::AgentNotRunning
    } else {
        HandError::Worker(e)
    }
}

/// The mutex's value, recovered if a holder panicked: the worst left behind is one reload
/// half-installed, which the next reload replaces.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn only_a_missing_agent_chat_is_agent_not_running() {
        let missing = WorkerError::new("function_not_found", "Function agent::chat not found");
        assert_eq!(agent_error(missing), HandError::AgentNotRunning);
        let other = WorkerError::new("function_not_found", "Function llm::complete not found");
        assert_eq!(agent_error(other.clone()), HandError::Worker(other));
        let timeout = WorkerError::new("TIMEOUT", "agent::chat did not answer");
        assert_eq!(agent_error(timeout.clone()), HandError::Worker(timeout));
    }
}
