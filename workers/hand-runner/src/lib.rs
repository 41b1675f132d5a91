//! agentos-worker-hand-runner: hands, the agent personas (`hand::*`).
//!
//! A hand is a `hands/<name>/HAND.toml`: a name, a description, a system prompt, a model or a
//! tier, the functions its model may call as tools, an optional step limit and an optional cron
//! schedule with the prompt each scheduled run sends ([`hand`]). agent-core runs a chat turn
//! "as" a hand; this worker loads the hands ([`catalogue`]), answers `hand::list`/`hand::get`,
//! re-reads them on `hand::reload`, and runs one turn of a hand through `agent::chat` on
//! `hand::trigger` or when its cron trigger fires ([`runner`]). [`register()`] binds it all to
//! the engine.
//!
//! This module holds the request and answer types and the pure decisions over a
//! [`Catalogue`]: what a list shows, what a trigger sends, which hand a cron firing means and
//! what a run leaves behind.
//!
//! Rules it keeps:
//! - Hands are files, not state: the catalogue is re-read on `hand::reload` and at start, and
//!   the files are the truth. Only the last run of each hand is kept in the engine's state
//!   (scope [`RUNS_SCOPE`], key = hand name), so it survives a restart.
//! - A trigger passes `agent::chat`'s answer through unchanged; a missing `agent::chat` is
//!   [`AGENT_NOT_RUNNING`], naming the worker to start.
//! - Each scheduled hand has exactly one cron trigger on `hand::run_scheduled`, tagged with the
//!   hand and the load generation in its metadata; a reload unregisters the old triggers and
//!   bumps the generation, so a stale firing can never run a hand.

pub mod catalogue;
mod error;
pub mod hand;
pub mod register;
pub mod runner;

use std::collections::BTreeMap;

use agentos_kit::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use catalogue::{BUILTIN_HANDS, BUILTIN_SOURCE, BuiltinHand, Catalogue, HandsSettings, LoadError, hands_dir};
pub use error::{AGENT_NOT_RUNNING, HandError, http_status};
pub use hand::{Hand, Schedule, Tier, parse_cron, parse_hand};
pub use register::{MANIFEST, register, run, worker};
pub use runner::Runner;

/// The state scope of the last run of each hand, keyed by hand name.
pub const RUNS_SCOPE: &str = "hands:runs";

/// The function every hand's cron trigger calls.
pub const RUN_SCHEDULED: &str = "hand::run_scheduled";

/// The function a trigger runs a chat turn with (agent-core).
pub const AGENT_CHAT: &str = "agent::chat";

/// `hand::list` and `hand::reload`: no arguments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// `hand::get`: the hand to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandName {
    /// The hand's name.
    pub name: String,
}

/// `hand::trigger`: run one chat turn of a hand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerHand {
    /// The hand.
    pub name: String,
    /// The user message; the hand's schedule prompt when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The realm; the hand's schedule realm (if any) when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// The session to continue; agent-core starts a new one when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// The body of `POST /v1/hands/:name/trigger`: [`TriggerHand`] without the name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerBody {
    /// The user message; the hand's schedule prompt when left out.
    #[serde(default)]
    pub message: Option<String>,
    /// The realm.
    #[serde(default)]
    pub realm: Option<String>,
    /// The session to continue.
    #[serde(default)]
    pub session_id: Option<String>,
}

impl TriggerBody {
    /// The request for hand `name`.
    pub fn for_hand(self, name: impl Into<String>) -> TriggerHand {
        TriggerHand { name: name.into(), message: self.message, realm: self.realm, session_id: self.session_id }
    }
}

/// What `agent::chat` is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The user message.
    pub message: String,
    /// The hand whose prompt, model and tools the turn uses.
    pub hand: String,
    /// The realm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// The session to continue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// `hand::trigger` (or its HTTP route).
    Manual,
    /// The hand's cron schedule.
    Cron,
}

/// Why a run failed: the error's code and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFailure {
    /// The stable code.
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// The last run of a hand, stored at `hands:runs/<hand>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    /// The hand.
    pub hand: String,
    /// What started it.
    pub trigger: RunKind,
    /// When it started, in Unix milliseconds.
    pub started_ms: u64,
    /// When it ended, in Unix milliseconds.
    pub finished_ms: u64,
    /// Whether `agent::chat` answered.
    pub ok: bool,
    /// The session the turn ran in, from the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The failure, when not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RunFailure>,
}

/// One hand in `hand::list`: everything but the system prompt and the step limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandSummary {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Its model, when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Its tier, when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// The functions its model may call.
    pub allowed_functions: Vec<String>,
    /// Its schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// `builtin` or the path of its `HAND.toml`.
    pub source: String,
    /// Its last run, if it ever ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<LastRun>,
}

/// What `hand::get` answers: the whole hand and its last run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandDetail {
    /// The hand.
    #[serde(flatten)]
    pub hand: Hand,
    /// Its last run, if it ever ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<LastRun>,
}

/// What `hand::list` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandList {
    /// Every loaded hand, sorted by name.
    pub hands: Vec<HandSummary>,
    /// Every hand file that did not load.
    pub errors: Vec<LoadError>,
}

/// What `hand::reload` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reloaded {
    /// How many hands loaded.
    pub hands: usize,
    /// Every hand file that did not load.
    pub errors: Vec<LoadError>,
}

/// The payload of a cron firing (`{"trigger":"cron","job_id":…,"scheduled_time":…}`); only
/// the trigger id matters, other keys are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CronFiring {
    /// The id of the trigger that fired.
    pub job_id: String,
}

/// What `hand::run_scheduled` answers: the run goes on in the background (a turn may take
/// longer than the engine waits for a trigger delivery) and ends in the hand's `last_run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledRun {
    /// The hand the trigger belongs to.
    pub hand: String,
    /// `false` when the previous scheduled run of the hand is still going, so this one was
    /// skipped.
    pub started: bool,
}

/// The metadata on each hand's cron trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleTag {
    /// The hand it runs.
    pub hand: String,
    /// The catalogue load it belongs to.
    pub generation: u64,
}

/// One trigger of `engine::triggers::list`, as much as hand-runner reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TriggerInfo {
    /// The trigger id (a cron payload's `job_id`).
    pub id: String,
    /// The function it calls.
    pub function_id: String,
    /// Its metadata.
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// The answer of `engine::triggers::list`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TriggerList {
    /// Every registered trigger.
    pub triggers: Vec<TriggerInfo>,
}

/// The summary of `hand` with its last run.
pub fn summary(hand: &Hand, last_run: Option<LastRun>) -> HandSummary {
    HandSummary {
        name: hand.name.clone(),
        description: hand.description.clone(),
        model: hand.model.clone(),
        tier: hand.tier,
        allowed_functions: hand.allowed_functions.clone(),
        schedule: hand.schedule.clone(),
        source: hand.source.clone(),
        last_run,
    }
}

/// `hand::list`: every hand with its last run from `runs`, and the load errors.
pub fn list(catalogue: &Catalogue, runs: Vec<LastRun>) -> HandList {
    let mut runs: BTreeMap<String, LastRun> = runs.into_iter().map(|r| (r.hand.clone(), r)).collect();
    HandList {
        hands: catalogue.hands().map(|h| summary(h, runs.remove(&h.name))).collect(),
        errors: catalogue.errors().to_vec(),
    }
}

/// `hand::get`: hand `name` with `last_run`, or `NOT_FOUND` listing the known names.
pub fn detail(catalogue: &Catalogue, name: &str, last_run: Option<LastRun>) -> Result<HandDetail, HandError> {
    Ok(HandDetail { hand: catalogue.get(name)?.clone(), last_run })
}

/// What `hand::trigger` sends to `agent::chat`: the message, else the schedule prompt
/// (`INVALID_INPUT` when there is neither); the realm, else the schedule realm.
pub fn chat_request(catalogue: &Catalogue, req: TriggerHand) -> Result<ChatRequest, HandError> {
    let hand = catalogue.get(&req.name)?;
    let schedule = hand.schedule.as_ref();
    let message = req
        .message
        .filter(|m| !m.trim().is_empty())
        .or_else(|| schedule.map(|s| s.prompt.clone()))
        .ok_or_else(|| HandError::NoMessage { name: hand.name.clone() })?;
    Ok(ChatRequest {
        message,
        hand: hand.name.clone(),
        realm: req.realm.or_else(|| schedule.and_then(|s| s.realm.clone())),
        session_id: req.session_id,
    })
}

/// The `session_id` of an `agent::chat` answer, if it has a string one.
pub fn session_of(answer: &Value) -> Option<String> {
    #[derive(Deserialize)]
    struct Session {
        session_id: Option<String>,
    }
    serde_json::from_value::<Session>(answer.clone()).ok().and_then(|s| s.session_id)
}

/// The record a finished run leaves: `ok` with the answer's session, or the failure.
pub fn finished_run(
    hand: &str,
    trigger: RunKind,
    started_ms: u64,
    finished_ms: u64,
    result: &Result<Value, HandError>,
) -> LastRun {
    let (ok, session_id, error) = match result {
        Ok(answer) => (true, session_of(answer), None),
        Err(e) => (false, None, Some(RunFailure { code: e.code().to_string(), message: e.to_string() })),
    };
    LastRun { hand: hand.to_string(), trigger, started_ms, finished_ms, ok, session_id, error }
}

/// The hand a cron firing of trigger `job_id` runs, given the engine's triggers and the
/// current load `generation`. `NOT_FOUND` when the trigger is not one of this load's hand
/// schedules (unknown, another function's, or from before a reload).
pub fn resolve_job(triggers: &[TriggerInfo], job_id: &str, generation: u64) -> Result<String, HandError> {
    let unknown = |why: String| HandError::UnknownJob { job_id: job_id.to_string(), why };
    let trigger = triggers
        .iter()
        .find(|t| t.id == job_id)
        .ok_or_else(|| unknown("the engine lists no trigger with this id".to_string()))?;
    if trigger.function_id != RUN_SCHEDULED {
        return Err(unknown(format!("it calls {}, not {RUN_SCHEDULED}", trigger.function_id)));
    }
    let tag = trigger
        .metadata
        .clone()
        .and_then(|m| serde_json::from_value::<ScheduleTag>(m).ok())
        .ok_or_else(|| unknown("its metadata names no hand".to_string()))?;
    if tag.generation != generation {
        return Err(unknown(format!(
            "it belongs to load {} of the hands, and they were reloaded since (load {generation})",
            tag.generation
        )));
    }
    Ok(tag.hand)
}

/// For `agentos doctor`: a problem line, naming the fix, for every allowed function of `hands`
/// that `exists` says is not registered.
pub fn missing_functions(hands: &[HandSummary], exists: impl Fn(&str) -> bool) -> Vec<String> {
    hands
        .iter()
        .flat_map(|h| h.allowed_functions.iter().map(move |f| (h, f)))
        .filter(|(_, f)| !exists(f))
        .map(|(h, f)| {
            format!(
                "hand {} allows {f}, which is not registered; fix: start the worker that provides it, or remove it from allowed_functions in {}",
                h.name, h.source
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
