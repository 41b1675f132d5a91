//! `code::run_command`: one program, confined and bounded.
//!
//! Rules it keeps:
//! - No shell: `program` is executed directly with `args`; a shell runs only when the program
//!   is `sh` or `bash` by name.
//! - The working directory resolves inside the workspace (the root when left out).
//! - The environment is cleared except [`ENV_ALLOW_LIST`], and `AGENTOS_WORKSPACE` names the
//!   root. Stdin is empty.
//! - The command runs in its own process group. At the timeout the whole group gets SIGKILL and
//!   the answer says `timed_out: true`: a timeout is a result, not an error. Processes the
//!   command left behind that still hold its output open are killed the same way.
//! - Each of stdout and stderr keeps at most `max_output_bytes`; the rest is read and dropped
//!   (so the command never blocks on a full pipe) and `truncated` says so.
//! - It runs in the OS sandbox ([`crate::sandbox`]): only the workspace is writable, no home or
//!   config directory is visible, no network unless granted, limits on processes, memory, file
//!   size and CPU, and every process it started dies with it. Without a working sandbox it runs
//!   only when `[sandbox] required = false`, and `sandbox` in the answer says what was missing.
//! - Git never runs code a repository configures: [`GIT_ENV`] turns off hooks, fsmonitor,
//!   pagers, external diffs and credential helpers for every git the command starts (the
//!   `GIT_CONFIG_COUNT` variables act like `git -c`), and ignores the system and global config.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::CodeError;
use crate::sandbox::{Sandbox, SandboxReport, find_on_path, is_executable};
use crate::workspace::{WORKSPACE_ENV, Workspace};

/// The variables a command inherits from the worker; everything else is cleared.
pub const ENV_ALLOW_LIST: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER"];

/// The variables every command gets so that git runs nothing a repository (or a global config)
/// names: equivalent to `git -c core.fsmonitor=false -c core.hooksPath=/dev/null …` on every
/// git the command starts, through a shell or make too.
pub const GIT_ENV: &[(&str, &str)] = &[
    ("GIT_CONFIG_NOSYSTEM", "1"),
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("GIT_TERMINAL_PROMPT", "0"),
    ("GIT_PAGER", "cat"),
    ("GIT_CONFIG_COUNT", "6"),
    ("GIT_CONFIG_KEY_0", "core.fsmonitor"),
    ("GIT_CONFIG_VALUE_0", "false"),
    ("GIT_CONFIG_KEY_1", "core.hooksPath"),
    ("GIT_CONFIG_VALUE_1", "/dev/null"),
    ("GIT_CONFIG_KEY_2", "core.pager"),
    ("GIT_CONFIG_VALUE_2", "cat"),
    ("GIT_CONFIG_KEY_3", "diff.external"),
    ("GIT_CONFIG_VALUE_3", ""),
    ("GIT_CONFIG_KEY_4", "credential.helper"),
    ("GIT_CONFIG_VALUE_4", ""),
    ("GIT_CONFIG_KEY_5", "protocol.ext.allow"),
    ("GIT_CONFIG_VALUE_5", "never"),
];

/// What bwrap prints when the program it should start is not there (inside the sandbox).
const BWRAP_EXEC_FAILED: &str = "bwrap: execvp ";
/// The default timeout: 30 s covers a build step or a test file, not a whole test suite.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// The longest timeout a call may ask for: 10 minutes, the longest a model should wait.
pub const MAX_TIMEOUT_MS: u64 = 600_000;
/// The default cap per output stream: 64 KiB is more than a model can use from one command.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// The largest cap per output stream a call may ask for: 4 MiB, to keep one answer bounded.
pub const MAX_OUTPUT_CAP: usize = 4 * 1024 * 1024;
/// After the command exits, how long its output pipes may stay open (held by processes it
/// left in the background) before its group is killed: long enough for the last buffered
/// writes, short enough not to delay the answer.
const PIPE_GRACE: Duration = Duration::from_millis(200);
/// After a kill, how long to wait for the readers to see the pipes close. Processes that left
/// the group (setsid) can hold them longer; their output is then cut off.
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(2);

/// `code::run_command`: run a program in the workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunCommand {
    /// The program: a name looked up on PATH, or a path. Use `sh` with `-c` for shell syntax.
    pub program: String,
    /// Its arguments, passed as they are (no shell expansion).
    #[serde(default)]
    pub args: Vec<String>,
    /// The working directory, relative to the workspace root; the root when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// How long it may run, in milliseconds (default 30 000, at most 600 000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How many bytes of stdout and of stderr to keep each (default 65 536).
    #[serde(default = "default_max_output")]
    pub max_output_bytes: usize,
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

fn default_max_output() -> usize {
    DEFAULT_MAX_OUTPUT_BYTES
}

/// What `code::run_command` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutput {
    /// The exit code; `None` when a signal ended it. In the sandbox, a program a signal ended
    /// inside reports 128 + the signal here (bubblewrap's convention); the kill at the timeout
    /// still shows as `signal: 9`.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did (9 after a timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Standard output (lossy UTF-8), at most `max_output_bytes`.
    pub stdout: String,
    /// Standard error (lossy UTF-8), at most `max_output_bytes`.
    pub stderr: String,
    /// Whether the timeout ended it.
    pub timed_out: bool,
    /// Whether stdout or stderr was cut at `max_output_bytes`.
    pub truncated: bool,
    /// Whether it ran in the OS sandbox, and what was not enforced.
    pub sandbox: SandboxReport,
}

/// Output captured from one stream so far.
#[derive(Default)]
struct Capture {
    bytes: Vec<u8>,
    truncated: bool,
}

type Shared = Arc<Mutex<Capture>>;

/// `code::run_command`, in `sandbox`. Errors: `INVALID_INPUT` (empty program, bad limits, a cwd
/// that is not a directory), `OUTSIDE_WORKSPACE`, `NOT_FOUND` (the cwd or the program),
/// `SANDBOX_UNAVAILABLE` (no sandbox and `[sandbox] required`), `IO_ERROR`.
pub async fn run_command(ws: &Workspace, sandbox: &Sandbox, req: RunCommand) -> Result<CommandOutput, CodeError> {
    if req.program.trim().is_empty() || req.program.contains('\0') || req.args.iter().any(|a| a.contains('\0')) {
        return Err(CodeError::InvalidInput(
            "program must be a non-empty name or path, and no argument may contain a NUL byte".into(),
        ));
    }
    if req.timeout_ms == 0 || req.timeout_ms > MAX_TIMEOUT_MS {
        return Err(CodeError::InvalidInput(format!(
            "timeout_ms must be between 1 and {MAX_TIMEOUT_MS}, not {}",
            req.timeout_ms
        )));
    }
    if req.max_output_bytes == 0 || req.max_output_bytes > MAX_OUTPUT_CAP {
        return Err(CodeError::InvalidInput(format!(
            "max_output_bytes must be between 1 and {MAX_OUTPUT_CAP}, not {}",
            req.max_output_bytes
        )));
    }
    let cwd_given = req.cwd.as_deref().unwrap_or(".");
    let cwd = ws.resolve(cwd_given)?;
    if !cwd.is_dir() {
        return Err(if cwd.exists() {
            CodeError::InvalidInput(format!("cwd {cwd_given:?} is not a directory"))
        } else {
            CodeError::NotFound {
                path: cwd_given.to_string(),
                hint: "cwd must be an existing directory in the workspace".into(),
            }
        });
    }

    let not_found = || {
        CodeError::NotFound {
        path: req.program.clone(),
        hint: "no such program on PATH or at that path; check the name, or run it through `sh -c` if it is a shell builtin".into(),
    }
    };
    let found = if req.program.contains('/') {
        is_executable(&cwd.join(&req.program))
    } else {
        find_on_path(&req.program).is_some()
    };
    if !found {
        return Err(not_found());
    }
    let prepared = sandbox.prepare(ws.root(), &cwd, &req.program, &req.args)?;
    let mut command = Command::new(&prepared.program);
    command.args(&prepared.args).current_dir(&cwd).env_clear();
    for name in ENV_ALLOW_LIST {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    if prepared.report.enforced {
        // The sandbox has a private /tmp; the worker's TMPDIR may not exist inside.
        command.env("TMPDIR", "/tmp");
    }
    command.envs(GIT_ENV.iter().copied());
    command
        .env(WORKSPACE_ENV, ws.root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => not_found(),
        _ => CodeError::io(format!("starting {:?}", req.program), e),
    })?;
    // The group id is the child's pid (process_group(0)); it stays valid while any member lives.
    let group = child.id().and_then(|id| i32::try_from(id).ok()).map(Pid::from_raw);
    let stdout = Shared::default();
    let stderr = Shared::default();
    let mut readers = [
        child.stdout.take().map(|s| read_capped(s, stdout.clone(), req.max_output_bytes)),
        child.stderr.take().map(|s| read_capped(s, stderr.clone(), req.max_output_bytes)),
    ];

    let deadline = Instant::now() + Duration::from_millis(req.timeout_ms);
    let (status, timed_out) = match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(waited) => {
            let status = waited.map_err(|e| CodeError::io(format!("waiting for {:?}", req.program), e))?;
            // Background processes may still hold the pipes: give them a moment, then kill the
            // group. A group whose pipes are still open has a live member, so its id is not
            // recycled.
            if !drain(&mut readers, PIPE_GRACE.min(deadline.saturating_duration_since(Instant::now()))).await {
                kill_group(group);
            }
            (status, false)
        }
        Err(_) => {
            kill_group(group);
            let status = child.wait().await.map_err(|e| CodeError::io(format!("waiting for {:?}", req.program), e))?;
            (status, true)
        }
    };
    if !drain(&mut readers, DRAIN_AFTER_KILL).await {
        tracing::warn!(program = req.program, "output pipes still open after the kill; the output is cut off");
    }
    for reader in readers.into_iter().flatten() {
        reader.abort();
    }
    if let Some(cgroup) = prepared.cgroup {
        // Removing it may wait briefly for the kernel to reap the sandbox's processes.
        tokio::task::spawn_blocking(move || drop(cgroup));
    }
    let answer = output(status, timed_out, &stdout, &stderr, prepared.report);
    if answer.sandbox.enforced && answer.exit_code == Some(1) && answer.stderr.starts_with(BWRAP_EXEC_FAILED) {
        return Err(CodeError::NotFound {
            path: req.program.clone(),
            hint: "the program exists outside but not inside the sandbox, which shows only the system directories and the workspace; add its directory to `[sandbox] read_only` in agentos.toml".into(),
        });
    }
    Ok(answer)
}

/// Reads `stream` to its end, keeping at most `cap` bytes in `into`.
fn read_capped(mut stream: impl AsyncRead + Unpin + Send + 'static, into: Shared, cap: usize) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let mut capture = into.lock().unwrap_or_else(PoisonError::into_inner);
            let room = cap.saturating_sub(capture.bytes.len());
            capture.bytes.extend_from_slice(&buf[..n.min(room)]);
            if n > room {
                capture.truncated = true;
            }
        }
    })
}

/// Waits up to `grace` for every reader to finish; `true` when they all did. A finished reader
/// is taken out of `readers`, so it is never awaited twice.
async fn drain(readers: &mut [Option<JoinHandle<()>>; 2], grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    for slot in readers.iter_mut() {
        if let Some(reader) = slot {
            if tokio::time::timeout_at(deadline, &mut *reader).await.is_err() {
                return false;
            }
            *slot = None;
        }
    }
    true
}

/// SIGKILL to the whole process group; a group that is already gone is fine.
fn kill_group(group: Option<Pid>) {
    if let Some(pgid) = group
        && let Err(e) = killpg(pgid, Signal::SIGKILL)
        && e != nix::errno::Errno::ESRCH
    {
        tracing::warn!(%pgid, error = %e, "could not kill a command's process group");
    }
}

/// The answer from the exit status and the captures.
fn output(
    status: ExitStatus,
    timed_out: bool,
    stdout: &Shared,
    stderr: &Shared,
    sandbox: SandboxReport,
) -> CommandOutput {
    let take = |s: &Shared| {
        let c = s.lock().unwrap_or_else(PoisonError::into_inner);
        (String::from_utf8_lossy(&c.bytes).into_owned(), c.truncated)
    };
    let (out, out_cut) = take(stdout);
    let (err, err_cut) = take(stderr);
    CommandOutput {
        exit_code: status.code(),
        signal: status.signal(),
        stdout: out,
        stderr: err,
        timed_out,
        truncated: out_cut || err_cut,
        sandbox,
    }
}
