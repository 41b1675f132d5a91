//! The thin glue between the hand-runner and the engine: the manifest, the bindings of
//! `hand::*` ids and `/v1/hands` routes to the [`Runner`].
//!
//! Rules it keeps:
//! - No decisions here: every handler decodes, calls one runner method and encodes.
//! - Bus functions take the typed requests of the crate root. Routes are separate functions
//!   (`hand::http_list`, ...) because a route's function receives the HTTP request envelope;
//!   both call the same runner method. Route errors use [`crate::http_status`], so a missing
//!   agent-core is a 503.
//! - The hands dir is resolved once at start (`AGENTOS_HANDS_DIR`, `[hands] dir`, else
//!   `$AGENTOS_CONFIG_DIR/hands`); a bad `[hands]` section stops the worker naming the file.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use agentos_kit::http::HttpResponse;
use agentos_kit::{III, Worker, WorkerError, WorkerManifest};

use crate::catalogue::{CONFIG_DIR_ENV, HANDS_DIR_ENV, HandsSettings, hands_dir};
use crate::error::HandError;
use crate::runner::Runner;
use crate::{CronFiring, HandName, NoArgs, RUN_SCHEDULED, RunKind, TriggerBody, TriggerHand};

/// The hand-runner worker's manifest, derived from [`worker`];
/// `workers/hand-runner/iii.worker.yaml` mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// The hand-runner worker: every `hand::*` function and `/v1/hands` route over a [`Runner`],
/// which loads the hands (and registers their cron triggers) once everything is registered.
pub fn worker() -> Worker<Arc<Runner>, HandError> {
    Worker::new(
        "hand-runner",
        "Hands, the agent personas of hands/<name>/HAND.toml (built in, or in the config dir): list, get and reload them, and run one chat turn of a hand through agent::chat, on demand or on its cron schedule.",
    )
    .function(
        "hand::list",
        "Every hand: {} -> {hands: [summary + last_run?], errors: [{path, message}]}.",
        |r: Arc<Runner>, _: NoArgs| async move { r.list().await },
    )
    .function(
        "hand::get",
        "One hand: {name} -> {name, description, model?, tier?, max_steps?, allowed_functions, system_prompt, schedule?, source, last_run?}.",
        |r: Arc<Runner>, req: HandName| async move { r.get(&req.name).await },
    )
    .function(
        "hand::reload",
        "Re-reads the hand files and their schedules: {} -> {hands, errors}.",
        |r: Arc<Runner>, _: NoArgs| async move { r.reload().await },
    )
    .function(
        "hand::trigger",
        "Runs one chat turn of a hand through agent::chat: {name, message?, realm?, session_id?} -> agent::chat's answer.",
        |r: Arc<Runner>, req: TriggerHand| async move { r.trigger(req, RunKind::Manual).await },
    )
    .function(
        RUN_SCHEDULED,
        "The target of each hand's cron trigger: {job_id, ...} -> {hand, started}; the run ends in the hand's last_run.",
        |r: Arc<Runner>, req: CronFiring| async move { r.run_scheduled(req).await },
    )
    // GET /v1/hands: every hand and the load errors.
    .route("hand::http_list", "GET", "/v1/hands", |r, _req| async move { Ok(HttpResponse::ok(r.list().await?)) })
    // GET /v1/hands/:name: one hand with its system prompt and last run.
    .route("hand::http_get", "GET", "/v1/hands/:name", |r, req| async move {
        let name = req.path_param("name")?.to_string();
        Ok(HttpResponse::ok(r.get(&name).await?))
    })
    // POST /v1/hands/reload: re-read the hand files.
    .route("hand::http_reload", "POST", "/v1/hands/reload", |r, _req| async move {
        Ok(HttpResponse::ok(r.reload().await?))
    })
    // POST /v1/hands/:name/trigger: run one turn (body: TriggerBody); agent::chat's answer.
    .route("hand::http_trigger", "POST", "/v1/hands/:name/trigger", |r, req| async move {
        let trigger = req.body_as::<TriggerBody>()?.for_hand(req.path_param("name")?);
        Ok(HttpResponse::ok(r.trigger(trigger, RunKind::Manual).await?))
    })
    // Last, once hand::run_scheduled is registered: load the hands and register their schedules.
    .on_register(|r| {
        r.service.load_now();
    })
}

/// Runs the hand-runner as its own process until SIGTERM or SIGINT (`agentos worker
/// hand-runner`). Refuses to start, naming the file, when `[hands]` of `agentos.toml` is invalid.
pub fn run() -> Result<(), WorkerError> {
    let settings: HandsSettings = agentos_kit::config::section("hands")
        .map_err(|e| WorkerError::new(e.code.clone(), format!("{} cannot start: {}", MANIFEST.name, e.message)))?;
    let env = |name: &str| std::env::var_os(name).map(PathBuf::from);
    let dir =
        hands_dir(env(HANDS_DIR_ENV), &settings, agentos_kit::config::config_path().as_deref(), env(CONFIG_DIR_ENV));
    match &dir {
        Some(dir) => tracing::info!(worker = MANIFEST.name, dir = %dir.display(), "user hands dir"),
        None => tracing::info!(
            worker = MANIFEST.name,
            "no hands dir ({HANDS_DIR_ENV} and {CONFIG_DIR_ENV} unset): built-in hands only"
        ),
    }
    worker().run(|iii| Ok(Runner::new(iii, dir)))
}

/// Registers every `hand::*` function and `/v1/hands` route on `iii`, loads the hands (built in,
/// plus `hands_dir/<name>/HAND.toml`) and registers their cron triggers. Routes check
/// `Authorization: Bearer <api_key>`; with `None` they refuse every request (a warning is
/// logged).
pub fn register(iii: &III, api_key: Option<Arc<str>>, hands_dir: Option<PathBuf>) {
    worker().register(iii, Runner::new(iii, hands_dir), api_key);
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn every_verb_of_the_issue_is_a_function_and_the_manifest_is_valid() {
        for verb in ["list", "get", "reload", "trigger"] {
            let id = format!("hand::{verb}");
            assert!(MANIFEST.functions.contains(&id.as_str()), "{id} is missing");
        }
        assert_eq!(MANIFEST.validate(), Ok(()));
    }
}
