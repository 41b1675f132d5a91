//! The thin glue between the hand-runner and the engine: the manifest, the bindings of
//! `hand::*` ids and `/v1/hands` routes to the [`Runner`].
//!
//! Rules it keeps:
//! - No decisions here: every handler decodes, calls one runner method and encodes.
//! - Bus functions take the typed requests of the crate root. Routes are separate functions
//!   (`hand::http_list`, ...) because a route's function receives the HTTP request envelope;
//!   both call the same runner method. Route errors use [`http_status`], so a missing
//!   agent-core is a 503.
//! - The hands dir is resolved once at start (`AGENTOS_HANDS_DIR`, `[hands] dir`, else
//!   `$AGENTOS_CONFIG_DIR/hands`); a bad `[hands]` section stops the worker naming the file.

use std::path::PathBuf;
use std::sync::Arc;

use agentos_kit::http::{HttpResponse, register_route_over};
use agentos_kit::{HttpRoute, III, RestartPolicy, WorkerError, WorkerManifest, register_over};

use crate::catalogue::{CONFIG_DIR_ENV, HANDS_DIR_ENV, HandsSettings, hands_dir};
use crate::error::{HandError, http_status};
use crate::runner::Runner;
use crate::{CronFiring, HandName, NoArgs, RUN_SCHEDULED, RunKind, TriggerBody, TriggerHand};

/// `GET /v1/hands`: every hand and the load errors.
const HTTP_LIST: HttpRoute = HttpRoute { method: "GET", path: "/v1/hands", function_id: "hand::http_list" };
/// `GET /v1/hands/:name`: one hand with its system prompt and last run.
const HTTP_GET: HttpRoute = HttpRoute { method: "GET", path: "/v1/hands/:name", function_id: "hand::http_get" };
/// `POST /v1/hands/reload`: re-read the hand files.
const HTTP_RELOAD: HttpRoute = HttpRoute { method: "POST", path: "/v1/hands/reload", function_id: "hand::http_reload" };
/// `POST /v1/hands/:name/trigger`: run one turn (body: [`TriggerBody`]); `agent::chat`'s answer.
const HTTP_TRIGGER: HttpRoute =
    HttpRoute { method: "POST", path: "/v1/hands/:name/trigger", function_id: "hand::http_trigger" };

/// The hand-runner worker's manifest; `workers/hand-runner/iii.worker.yaml` mirrors it.
pub static MANIFEST: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "hand-runner",
    description: "Hands, the agent personas of hands/<name>/HAND.toml (built in, or in the config dir): list, get and reload them, and run one chat turn of a hand through agent::chat, on demand or on its cron schedule.",
    functions: vec![
        "hand::list",
        "hand::get",
        "hand::reload",
        "hand::trigger",
        RUN_SCHEDULED,
        "hand::http_list",
        "hand::http_get",
        "hand::http_reload",
        "hand::http_trigger",
    ],
    http_routes: vec![HTTP_LIST, HTTP_GET, HTTP_RELOAD, HTTP_TRIGGER],
    depends_on: &[],
    restart: RestartPolicy::Always,
});

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
    agentos_kit::run_worker(&MANIFEST, |iii| {
        register(iii, agentos_kit::http::api_key_from_env(), dir);
    })
}

/// Registers every `hand::*` function and `/v1/hands` route on `iii`, loads the hands (built in,
/// plus `hands_dir/<name>/HAND.toml`) and registers their cron triggers. Routes check
/// `Authorization: Bearer <api_key>`; with `None` they answer without a key (a warning is
/// logged). Returns the runner, which tests and embedders may inspect.
pub fn register(iii: &III, api_key: Option<Arc<str>>, hands_dir: Option<PathBuf>) -> Arc<Runner> {
    let runner = Runner::new(iii, hands_dir);

    register_over(
        iii,
        &runner,
        "hand::list",
        "Every hand: {} -> {hands: [summary + last_run?], errors: [{path, message}]}.",
        |r, _: NoArgs| async move { r.list().await },
    );
    register_over(
        iii,
        &runner,
        "hand::get",
        "One hand: {name} -> {name, description, model?, tier?, max_steps?, allowed_functions, system_prompt, schedule?, source, last_run?}.",
        |r, req: HandName| async move { r.get(&req.name).await },
    );
    register_over(
        iii,
        &runner,
        "hand::reload",
        "Re-reads the hand files and their schedules: {} -> {hands, errors}.",
        |r, _: NoArgs| async move { r.reload().await },
    );
    register_over(
        iii,
        &runner,
        "hand::trigger",
        "Runs one chat turn of a hand through agent::chat: {name, message?, realm?, session_id?} -> agent::chat's answer.",
        |r, req: TriggerHand| async move { r.trigger(req, RunKind::Manual).await },
    );
    register_over(
        iii,
        &runner,
        RUN_SCHEDULED,
        "The target of each hand's cron trigger: {job_id, ...} -> {hand, started}; the run ends in the hand's last_run.",
        |r, req: CronFiring| async move { r.run_scheduled(req).await },
    );

    if api_key.is_none() {
        tracing::warn!(worker = MANIFEST.name, "no API key (AGENTOS_API_KEY): the /v1/hands routes answer without one");
    }
    register_route_over::<_, HandError, _, _>(
        iii,
        MANIFEST.name,
        &runner,
        HTTP_LIST,
        &api_key,
        http_status,
        |r, _req| async move { Ok(HttpResponse::ok(r.list().await?)) },
    );
    register_route_over::<_, HandError, _, _>(
        iii,
        MANIFEST.name,
        &runner,
        HTTP_GET,
        &api_key,
        http_status,
        |r, req| async move {
            let name = req.path_param("name")?.to_string();
            Ok(HttpResponse::ok(r.get(&name).await?))
        },
    );
    register_route_over::<_, HandError, _, _>(
        iii,
        MANIFEST.name,
        &runner,
        HTTP_RELOAD,
        &api_key,
        http_status,
        |r, _req| async move { Ok(HttpResponse::ok(r.reload().await?)) },
    );
    register_route_over::<_, HandError, _, _>(
        iii,
        MANIFEST.name,
        &runner,
        HTTP_TRIGGER,
        &api_key,
        http_status,
        |r, req| async move {
            let trigger = req.body_as::<TriggerBody>()?.for_hand(req.path_param("name")?);
            Ok(HttpResponse::ok(r.trigger(trigger, RunKind::Manual).await?))
        },
    );
    runner.load_now();
    runner
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentos_kit::ManifestFile;
    use pretty_assertions::assert_eq;

    #[test]
    fn every_verb_of_the_issue_is_a_function_and_the_manifest_is_valid() {
        for verb in ["list", "get", "reload", "trigger"] {
            let id = format!("hand::{verb}");
            assert!(MANIFEST.functions.contains(&id.as_str()), "{id} is missing");
        }
        assert_eq!(MANIFEST.validate(), Ok(()));
    }

    #[test]
    fn iii_worker_yaml_agrees_with_the_manifest() {
        let text = include_str!("../iii.worker.yaml");
        let file: ManifestFile = serde_saphyr::from_str(text).unwrap();
        assert_eq!(MANIFEST.agrees_with(&file), Ok(()));
    }
}
