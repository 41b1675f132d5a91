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

use agentos_kit::{III, RegisterFunctionMessage, RestartPolicy, WorkerError, WorkerManifest, register_typed_with};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::CodeError;
use crate::workspace::Workspace;
use crate::{RunCommand, apply_patch, list, read_file, run_command, search, write_file};

/// The code-agent worker's manifest; `workers/code-agent/iii.worker.yaml` mirrors it.
pub static MANIFEST: WorkerManifest = WorkerManifest {
    name: "code-agent",
    description: "Workbench tools confined to one workspace directory: read, list and search files, write them, apply unified-diff patches and run commands with a timeout, an output cap and a cleared environment.",
    functions: &[
        "code::read_file",
        "code::list",
        "code::search",
        "code::write_file",
        "code::apply_patch",
        "code::run_command",
    ],
    http_routes: &[],
    depends_on: &[],
    restart: RestartPolicy::Always,
};

/// Runs the code-agent worker as its own process until SIGTERM or SIGINT
/// (`agentos worker code-agent`), on the workspace named by `AGENTOS_WORKSPACE` or else the
/// current directory.
///
/// Errors: the workspace's error (`NOT_FOUND`, `INVALID_INPUT`) when it does not exist or is
/// not a directory, before anything connects; then [`agentos_kit::run_worker`]'s.
pub fn run() -> Result<(), WorkerError> {
    let workspace = Workspace::from_env().map_err(|e| {
        let code = e.code();
        WorkerError::new(code, format!("code-agent cannot start: {e}"))
    })?;
    tracing::info!(root = %workspace.root().display(), "code-agent workspace");
    let workspace = Arc::new(workspace);
    agentos_kit::run_worker(&MANIFEST, |iii| register(iii, workspace))
}

/// Registers every `code::*` function on `iii`, confined to `workspace`.
pub fn register(iii: &III, workspace: Arc<Workspace>) {
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
    register_typed_with(
        iii,
        message(
            "code::run_command",
            "Runs a program (no shell) in the workspace: {program, args?, cwd?, timeout_ms?, max_output_bytes?} -> {exit_code, signal?, stdout, stderr, timed_out, truncated}.",
        ),
        move |req: RunCommand| {
            let ws = ws.clone();
            async move { run_command(&ws, req).await.map_err(WorkerError::from) }
        },
    );
}

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
