//! The thin glue between the code-agent domain and the engine: the manifest and the bindings
//! of `code::*` ids to the domain functions.
//!
//! Rules it keeps:
//! - No decisions here: every handler decodes (the kit), calls one domain function and encodes.
//! - File work is blocking, so it runs on tokio's blocking pool (`spawn_blocking`), never on the
//!   SDK's connection thread; commands are async already.
//! - The workspace is resolved once at start; a worker whose workspace is missing does not
//!   start.

use std::sync::{Arc, LazyLock};

use agentos_kit::health::HealthStatus;
use agentos_kit::{ErrorCode, III, Worker, WorkerError, WorkerManifest};

use crate::error::CodeError;
use crate::sandbox::{Sandbox, SandboxSettings};
use crate::workspace::Workspace;
use crate::{RunCommand, apply_patch, list, read_file, run_command, schemas, search, write_file};

/// The code-agent worker's manifest, derived from [`worker`];
/// `workers/code-agent/iii.worker.yaml` mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// What the `code::*` functions work on: the workspace they are confined to and the sandbox
/// commands run in.
#[derive(Clone)]
pub struct Tools {
    /// The workspace every path is resolved in.
    pub workspace: Arc<Workspace>,
    /// The OS sandbox of `code::run_command`.
    pub sandbox: Arc<Sandbox>,
}

/// The code-agent worker: every `code::*` function over [`Tools`], each with its input schema
/// ([`crate::schemas`]); the file functions run on tokio's blocking pool.
pub fn worker() -> Worker<Tools, CodeError> {
    Worker::new(
        "code-agent",
        "Workbench tools confined to one workspace directory: read, list and search files, write them, apply unified-diff patches and run commands in an OS sandbox with a timeout, an output cap and a cleared environment.",
    )
    .blocking_function(
        "code::read_file",
        "Reads a text file: {path, offset_line?, max_lines?} -> {path, content, total_lines, truncated}.",
        |t: Tools, req| read_file(&t.workspace, req),
    )
    .request_format(schemas::read_file())
    .blocking_function(
        "code::list",
        "Lists a directory: {path?, recursive?, max_entries?} -> {entries: [{path, kind, size}], truncated}.",
        |t: Tools, req| list(&t.workspace, req),
    )
    .request_format(schemas::list())
    .blocking_function(
        "code::search",
        "Finds lines matching a regex: {pattern, path?, glob?, max_matches?} -> {matches: [{path, line, text}], truncated}.",
        |t: Tools, req| search(&t.workspace, req),
    )
    .request_format(schemas::search())
    .blocking_function(
        "code::write_file",
        "Writes a file atomically: {path, content, create_dirs?} -> {path, bytes, created}.",
        |t: Tools, req| write_file(&t.workspace, req),
    )
    .request_format(schemas::write_file())
    .blocking_function(
        "code::apply_patch",
        "Applies a unified diff, all files or none: {patch} -> {files: [{path, action}]}.",
        |t: Tools, req| apply_patch(&t.workspace, req),
    )
    .request_format(schemas::apply_patch())
    .function(
        "code::run_command",
        "Runs a program (no shell) in the workspace, in the OS sandbox: {program, args?, cwd?, timeout_ms?, max_output_bytes?} -> {exit_code, signal?, stdout, stderr, timed_out, truncated, sandbox: {enforced, missing?}}.",
        |t: Tools, req: RunCommand| async move { run_command(&t.workspace, &t.sandbox, req).await },
    )
    .request_format(schemas::run_command())
    .function(
        "code::sandbox_info",
        "Whether commands run in the OS sandbox: {} -> {enforced, required, network, missing?}.",
        |t: Tools, _: SandboxInfoRequest| {
            let info = t.sandbox.info();
            async move { Ok::<_, WorkerError>(info) }
        },
    )
    .request_format(schemas::sandbox_info())
}

/// Runs the code-agent worker as its own process until SIGTERM or SIGINT
/// (`agentos worker code-agent`), on the workspace named by `AGENTOS_WORKSPACE` or else the
/// current directory.
///
/// The sandbox is probed once here; its health says `degraded`, naming the fix, when commands
/// cannot be confined.
///
/// Errors: the workspace's error (`NOT_FOUND`, `INVALID_INPUT`) when it does not exist or is
/// not a directory, or `INVALID_INPUT` for a bad `[sandbox]`, before anything connects; then
/// [`Worker::run_with_health`]'s.
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
    let tools = Tools { workspace: Arc::new(workspace), sandbox: Arc::new(sandbox) };
    worker().run_with_health(health, |_| Ok(tools))
}

/// Registers every `code::*` function on `iii`, confined to `workspace`, commands in `sandbox`.
pub fn register(iii: &III, workspace: Arc<Workspace>, sandbox: Arc<Sandbox>) {
    worker().register(iii, Tools { workspace, sandbox }, None);
}

/// `code::sandbox_info` takes no arguments.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxInfoRequest {}
