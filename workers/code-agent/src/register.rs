//! The thin glue between the code-agent domain and the engine: the manifest and the bindings
//! of `code::*` ids to the domain functions.
//!
//! Rules it keeps:
//! - No decisions here: every handler decodes (the kit), calls one domain function and encodes.
//! - File work is blocking, so it runs on tokio's blocking pool (`spawn_blocking`), never on the
//!   SDK's connection thread; commands are async already.
//! - The workspace is resolved once at start; a worker whose workspace is missing does not
//!   start.

use std::sync::Arc;

use agentos_kit::health::HealthStatus;
use agentos_kit::{III, RegisterFunctionMessage, RestartPolicy, WorkerError, WorkerManifest, register_typed_with};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::CodeError;
use crate::sandbox::{Sandbox, SandboxSettings};
use crate::workspace::Workspace;
use crate::{RunCommand, apply_patch, list, read_file, run_command, search, write_file};

/// The code-agent worker's manifest; `workers/code-agent/iii.worker.yaml` mirrors it.
pub static MANIFEST: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "code-agent",
    description: "Workbench tools confined to one workspace directory: read, list and search files, write them, apply unified-diff patches and run commands in an OS sandbox with a timeout, an output cap and a cleared environment.",
    functions: vec![
        "code::read_file",
        "code::list",
        "code::search",
        "code::write_file",
        "code::apply_patch",
        "code::run_command",
        "code::sandbox_info",
    ],
    http_routes: vec![],
    depends_on: &[],
    restart: RestartPolicy::Always,
});

/// Runs the code-agent worker as its own process until SIGTERM or SIGINT
/// (`agentos worker code-agent`), on the workspace named by `AGENTOS_WORKSPACE` or else the
/// current directory.
///
/// The sandbox is probed once here; its health says `degraded`, naming the fix, when commands
/// cannot be confined.
///
/// Errors: the workspace's error (`NOT_FOUND`, `INVALID_INPUT`) when it does not exist or is
/// not a directory, or `INVALID_INPUT` for a bad `[sandbox]`, before anything connects; then
/// [`agentos_kit::run_worker`]'s.
pub fn run() -> Result<(), WorkerError> {
    let workspace = Workspace::from_env().map_err(|e| {
        let code = e.code();
        WorkerError::new(code, format!("code-agent cannot start: {e}"))
    })?;
    let settings = SandboxSettings::load()
        .map_err(|e| WorkerError::new(e.code.clone(), format!("code-agent cannot start: {}", e.message)))?;
    let sandbox = Sandbox::probe(settings);
    let info = sandbox.info();
    tracing::info!(root = %workspace.root().display(), sandbox = info.enforced, missing = ?info.missing, "code-agent workspace");
    let health = HealthStatus::new();
    if let Some(problem) = sandbox.health_problem() {
        health.degrade(problem);
    }
    let (workspace, sandbox) = (Arc::new(workspace), Arc::new(sandbox));
    agentos_kit::run_worker_with_health(&MANIFEST, health, |iii| register(iii, workspace, sandbox))
}

/// Registers every `code::*` function on `iii`, confined to `workspace`, commands in `sandbox`.
pub fn register(iii: &III, workspace: Arc<Workspace>, sandbox: Arc<Sandbox>) {
    blocking(
        iii,
        &workspace,
        "code::read_file",
        "Reads a text file: {path, offset_line?, max_lines?} -> {path, content, total_lines, truncated}.",
        read_file,
    );
    blocking(
        iii,
        &workspace,
        "code::list",
        "Lists a directory: {path?, recursive?, max_entries?} -> {entries: [{path, kind, size}], truncated}.",
        list,
    );
    blocking(
        iii,
        &workspace,
        "code::search",
        "Finds lines matching a regex: {pattern, path?, glob?, max_matches?} -> {matches: [{path, line, text}], truncated}.",
        search,
    );
    blocking(
        iii,
        &workspace,
        "code::write_file",
        "Writes a file atomically: {path, content, create_dirs?} -> {path, bytes, created}.",
        write_file,
    );
    blocking(
        iii,
        &workspace,
        "code::apply_patch",
        "Applies a unified diff, all files or none: {patch} -> {files: [{path, action}]}.",
        apply_patch,
    );
    let ws = workspace;
    let sb = sandbox.clone();
    register_typed_with(
        iii,
        message(
            "code::run_command",
            "Runs a program (no shell) in the workspace, in the OS sandbox: {program, args?, cwd?, timeout_ms?, max_output_bytes?} -> {exit_code, signal?, stdout, stderr, timed_out, truncated, sandbox: {enforced, missing?}}.",
        ),
        move |req: RunCommand| {
            let (ws, sb) = (ws.clone(), sb.clone());
            async move { run_command(&ws, &sb, req).await.map_err(WorkerError::from) }
        },
    );
    register_typed_with(
        iii,
        message(
            "code::sandbox_info",
            "Whether commands run in the OS sandbox: {} -> {enforced, required, network, missing?}.",
        ),
        move |_req: SandboxInfoRequest| {
            let info = sandbox.info();
            async move { Ok::<_, WorkerError>(info) }
        },
    );
}

/// `code::sandbox_info` takes no arguments.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxInfoRequest {}

/// The registration of `id`: its description and its input schema ([`crate::schemas`]).
fn message(id: &str, description: &str) -> RegisterFunctionMessage {
    let mut message = RegisterFunctionMessage::with_id(id.to_string()).with_description(description.to_string());
    message.request_format = crate::schemas::request_format(id);
    message
}

/// Registers `id` as the blocking domain function `f`, run on tokio's blocking pool.
fn blocking<Req, Resp>(
    iii: &III,
    workspace: &Arc<Workspace>,
    id: &'static str,
    description: &str,
    f: fn(&Workspace, Req) -> Result<Resp, CodeError>,
) where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + Send + 'static,
{
    let ws = workspace.clone();
    register_typed_with(iii, message(id, description), move |req: Req| {
        let ws = ws.clone();
        async move {
            match tokio::task::spawn_blocking(move || f(&ws, req)).await {
                Ok(result) => result.map_err(WorkerError::from),
                Err(e) => Err(WorkerError::internal(format!("{id}: the file task failed: {e}"))),
            }
        }
    });
}
