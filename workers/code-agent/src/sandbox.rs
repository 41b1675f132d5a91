//! The OS sandbox every `code::run_command` runs in: bubblewrap (`bwrap`) namespaces plus
//! resource limits, so a command the policy lets through still cannot read or reach what the
//! workspace does not hold.
//!
//! Rules it keeps:
//! - Inside, the file system is a fresh tmpfs holding only: the workspace, writable, at its own
//!   path; the system directories (`/usr`, `/bin`, `/lib*`, `/sbin`, `/etc`, `/opt`) read-only;
//!   a private `/tmp`; a fresh `/proc` of its own PID namespace and a minimal `/dev`; and the
//!   extra read-only paths `[sandbox] read_only` names. No home directory exists inside, and
//!   the agentos config and data directories are covered when they lie under a shown path.
//! - It runs as uid/gid 65534 in its own user, PID, IPC, UTS, cgroup and (unless
//!   `[sandbox] network = true`) network namespace, with no capabilities, in a new session, and
//!   dies with the worker (`--die-with-parent`). When the command exits or is killed, the PID
//!   namespace's init goes and the kernel kills every process left inside, `setsid` or not.
//! - When the worker runs as root, the sandbox's uid maps to root outside, so files only root
//!   may read (`/etc/shadow`, private keys under `/etc`) are hidden behind empty mounts, and
//!   RLIMIT_NPROC, which the kernel ignores for root, is replaced by a pids cgroup where one
//!   can be made ([`cgroup`]).
//! - Limits: processes, address space, file size and CPU seconds (`[sandbox] max_*`), set by
//!   `prlimit` on the way in (the crate allows no `unsafe`, so no `pre_exec`).
//! - Whether the sandbox works is found once, at start ([`Sandbox::probe`]), by running `true`
//!   in it. When it does not, a command runs only with `[sandbox] required = false`, and its
//!   answer says what was not enforced; else it fails with `SANDBOX_UNAVAILABLE` naming the fix.

pub mod cgroup;

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::CodeError;

pub use cgroup::PidsCgroup;

/// The uid and gid a command has inside the sandbox: `nobody`, so it owns nothing it did not
/// make and no configuration treats it specially.
pub const SANDBOX_ID: &str = "65534";

/// The top-level directories bound read-only when they exist (a symlink such as `/bin ->
/// usr/bin` is recreated as the same symlink).
pub const SYSTEM_DIRS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"];

/// How long the start-up probe may take: creating namespaces and running `true` takes a few
/// milliseconds; 5 s only trips on a wedged system, and then the sandbox counts as missing.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// `[sandbox]` in `agentos.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxSettings {
    /// Whether commands refuse to run when the sandbox cannot be set up (default `true`).
    pub required: bool,
    /// Whether commands may use the network (default `false`: a private network namespace with
    /// only a loopback device that is down).
    pub network: bool,
    /// The most processes a command may have at once (default 256).
    pub max_processes: u64,
    /// The most address space one process may map, in MiB (default 8192).
    pub max_memory_mb: u64,
    /// The largest file a command may write, in MiB (default 1024).
    pub max_file_mb: u64,
    /// The most CPU seconds one process may use (default 600, the longest timeout).
    pub max_cpu_secs: u64,
    /// More paths to bind read-only at their own path (a toolchain such as `~/.cargo`); missing
    /// ones are skipped.
    pub read_only: Vec<PathBuf>,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            required: true,
            network: false,
            max_processes: 256,
            max_memory_mb: 8192,
            max_file_mb: 1024,
            max_cpu_secs: 600,
            read_only: Vec::new(),
        }
    }
}

impl SandboxSettings {
    /// `[sandbox]` of the config file named by `AGENTOS_CONFIG`; defaults without one.
    pub fn load() -> Result<Self, agentos_kit::WorkerError> {
        agentos_kit::config::section("sandbox")
    }
}

/// What a command's answer says about its confinement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxReport {
    /// Whether it ran in the kernel sandbox.
    pub enforced: bool,
    /// What was not enforced and how to fix it; absent when everything was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// `code::sandbox_info`: whether commands are confined, for `agentos doctor` and the health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxInfo {
    /// Whether commands run in the kernel sandbox.
    pub enforced: bool,
    /// `[sandbox] required`: whether commands refuse to run unconfined.
    pub required: bool,
    /// `[sandbox] network`: whether commands may use the network.
    pub network: bool,
    /// What is not enforced and how to fix it; absent when everything is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// A working bubblewrap and what it needs per command.
#[derive(Debug)]
struct Bwrap {
    bwrap: PathBuf,
    prlimit: Option<PathBuf>,
    pids: Option<PidsCgroup>,
    /// Root-only files (`--ro-bind /dev/null`) and directories (`--tmpfs`) to hide.
    hidden_files: Vec<PathBuf>,
    hidden_dirs: Vec<PathBuf>,
    /// The real uid of the worker (0 for root).
    uid: u32,
}

/// The sandbox commands run in, as probed at start.
#[derive(Debug)]
pub struct Sandbox {
    settings: SandboxSettings,
    bwrap: Result<Bwrap, String>,
}

/// A command line ready to spawn: the program and its arguments, sandboxed or not.
#[derive(Debug)]
pub struct Prepared {
    /// What to execute.
    pub program: PathBuf,
    /// Its arguments (the wrappers' and then the command's own).
    pub args: Vec<String>,
    /// The pids cgroup of this command, removed once it is done.
    pub cgroup: Option<cgroup::CommandCgroup>,
    /// What the answer says about confinement.
    pub report: SandboxReport,
}

impl Sandbox {
    /// Finds `bwrap` on PATH and checks it can create its namespaces here by running `true`.
    pub fn probe(settings: SandboxSettings) -> Self {
        let bwrap = find_on_path("bwrap");
        Self::probe_with(settings, bwrap)
    }

    /// [`Sandbox::probe`] with the bwrap binary given (`None`: not installed), for tests.
    pub fn probe_with(settings: SandboxSettings, bwrap: Option<PathBuf>) -> Self {
        let checked = match bwrap {
            None => Err("bubblewrap (bwrap) is not installed".to_string()),
            Some(path) => check(settings.clone(), path),
        };
        if let Err(why) = &checked {
            tracing::warn!(problem = %why, required = settings.required, "commands cannot be sandboxed");
        }
        Self { settings, bwrap: checked }
    }

    /// The settings it was probed with.
    pub fn settings(&self) -> &SandboxSettings {
        &self.settings
    }

    /// Whether commands run confined, and what is not enforced.
    pub fn info(&self) -> SandboxInfo {
        let report = match &self.bwrap {
            Ok(b) => SandboxReport { enforced: true, missing: b.partial() },
            Err(why) => SandboxReport { enforced: false, missing: Some(unavailable(why, self.settings.required)) },
        };
        SandboxInfo {
            enforced: report.enforced,
            required: self.settings.required,
            network: self.settings.network,
            missing: report.missing,
        }
    }

    /// The problem for the worker's health, naming the fix; `None` when commands are confined.
    pub fn health_problem(&self) -> Option<String> {
        match &self.bwrap {
            Ok(_) => None,
            Err(why) if self.settings.required => Some(format!("commands cannot run: {}", unavailable(why, true))),
            Err(why) => Some(format!("commands run without the OS sandbox: {}", unavailable(why, false))),
        }
    }

    /// The command line for `program args` with working directory `cwd` in workspace `root`.
    ///
    /// Errors: `SANDBOX_UNAVAILABLE` when the sandbox does not work and is required.
    pub fn prepare(&self, root: &Path, cwd: &Path, program: &str, args: &[String]) -> Result<Prepared, CodeError> {
        let bwrap = match &self.bwrap {
            Ok(b) => b,
            Err(why) if self.settings.required => return Err(CodeError::SandboxUnavailable(unavailable(why, true))),
            Err(why) => {
                return Ok(Prepared {
                    program: PathBuf::from(program),
                    args: args.to_vec(),
                    cgroup: None,
                    report: SandboxReport { enforced: false, missing: Some(unavailable(why, false)) },
                });
            }
        };
        let cgroup = match &bwrap.pids {
            Some(pids) => match pids.for_command(self.settings.max_processes) {
                Ok(c) => Some(c),
                Err(e) => return Err(CodeError::io("making the command's pids cgroup", e)),
            },
            None => None,
        };
        let mut line: Vec<String> = Vec::new();
        if let Some(c) = &cgroup {
            // The shell moves itself into the cgroup and then becomes prlimit, then bwrap: the
            // same pid throughout, so nothing the command starts escapes the count.
            line.extend(["-c".into(), r#"echo $$ > "$1" && shift && exec "$@""#.into(), "sh".into()]);
            line.push(c.procs_file().display().to_string());
        }
        if let Some(prlimit) = &bwrap.prlimit {
            line.push(prlimit.display().to_string());
            line.extend(self.rlimits(bwrap.uid));
            line.push("--".into());
        }
        line.push(bwrap.bwrap.display().to_string());
        line.extend(self.bwrap_args(bwrap, root, cwd));
        line.push("--".into());
        line.push(program.to_string());
        line.extend(args.iter().cloned());
        let program = PathBuf::from(if cgroup.is_some() { "/bin/sh".to_string() } else { line.remove(0) });
        Ok(Prepared { program, args: line, cgroup, report: SandboxReport { enforced: true, missing: bwrap.partial() } })
    }

    /// prlimit's options. For a worker that is not root, RLIMIT_NPROC counts every process of
    /// its user, so the limit is what the user runs now plus `max_processes`; for root the
    /// kernel ignores it and the pids cgroup counts instead.
    fn rlimits(&self, uid: u32) -> Vec<String> {
        let s = &self.settings;
        let mut out = vec![
            format!("--as={}", s.max_memory_mb.saturating_mul(1024 * 1024)),
            format!("--fsize={}", s.max_file_mb.saturating_mul(1024 * 1024)),
            format!("--cpu={}", s.max_cpu_secs),
            "--core=0".to_string(),
        ];
        if uid != 0 {
            out.push(format!("--nproc={}", processes_of(uid).saturating_add(s.max_processes)));
        }
        out
    }

    /// bwrap's options (everything before `--`).
    fn bwrap_args(&self, b: &Bwrap, root: &Path, cwd: &Path) -> Vec<String> {
        let mut a: Vec<String> = [
            "--unshare-all",
            "--uid",
            SANDBOX_ID,
            "--gid",
            SANDBOX_ID,
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        if self.settings.network {
            a.push("--share-net".into());
        }
        let mut pair = |flag: &str, from: &Path, to: &Path| {
            a.push(flag.to_string());
            a.push(from.display().to_string());
            a.push(to.display().to_string());
        };
        for dir in SYSTEM_DIRS.iter().map(Path::new) {
            match std::fs::symlink_metadata(dir) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(dir) {
                        pair("--symlink", &target, dir);
                    }
                }
                Ok(m) if m.is_dir() => pair("--ro-bind", dir, dir),
                _ => {}
            }
        }
        for extra in &self.settings.read_only {
            pair("--ro-bind-try", extra, extra);
        }
        for file in &b.hidden_files {
            pair("--ro-bind", Path::new("/dev/null"), file);
        }
        for dir in &b.hidden_dirs {
            a.push("--tmpfs".into());
            a.push(dir.display().to_string());
        }
        a.extend(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"].iter().map(ToString::to_string));
        a.push("--bind".into());
        a.push(root.display().to_string());
        a.push(root.display().to_string());
        a.push("--chdir".into());
        a.push(cwd.display().to_string());
        a
    }
}

impl Bwrap {
    /// What is not enforced although bwrap works.
    fn partial(&self) -> Option<String> {
        let mut missing = Vec::new();
        if self.prlimit.is_none() {
            missing.push("resource limits: prlimit is not installed; fix: apt-get install util-linux");
        }
        if self.uid == 0 && self.pids.is_none() {
            missing.push(
                "process limit: the worker runs as root, which RLIMIT_NPROC does not bind, and no pids cgroup could be made; fix: run agentos as a normal user",
            );
        }
        (!missing.is_empty()).then(|| missing.join("; "))
    }
}

/// The message for a sandbox that does not work, naming the fix.
fn unavailable(why: &str, required: bool) -> String {
    let fix = "fix: apt-get install bubblewrap (and allow user namespaces), or set `[sandbox] required = false` in agentos.toml to run commands unconfined";
    if required {
        format!("the OS sandbox is unavailable ({why}); {fix}")
    } else {
        format!(
            "the OS sandbox is unavailable ({why}) and [sandbox] required = false, so nothing confines commands; fix: apt-get install bubblewrap"
        )
    }
}

/// Sets up what a working bwrap needs and runs `true` in it.
fn check(settings: SandboxSettings, bwrap: PathBuf) -> Result<Bwrap, String> {
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    let (hidden_files, mut hidden_dirs) = if uid == 0 { root_only_under("/etc") } else { (Vec::new(), Vec::new()) };
    hidden_dirs.extend(agentos_dirs_in_view(&settings.read_only));
    let pids = if uid == 0 { PidsCgroup::create().ok() } else { None };
    let found = Bwrap { bwrap, prlimit: find_on_path("prlimit"), pids, hidden_files, hidden_dirs, uid };
    let sandbox = Sandbox { settings, bwrap: Ok(found) };
    let dir = std::env::temp_dir();
    let prepared = sandbox.prepare(&dir, &dir, "true", &[]).map_err(|e| e.to_string())?;
    let mut command = std::process::Command::new(&prepared.program);
    command.args(&prepared.args).env_clear().stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let mut child = command.spawn().map_err(|e| format!("bwrap could not be started: {e}"))?;
    let deadline = std::time::Instant::now() + PROBE_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("bwrap did not finish `true` within {PROBE_TIMEOUT:?}"));
            }
            Err(e) => return Err(format!("waiting for bwrap: {e}")),
        }
    };
    drop(prepared.cgroup);
    if status.success() {
        return sandbox.bwrap;
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    Err(format!("bwrap cannot create its namespaces here: {}", stderr.trim()))
}

/// The agentos data and config directories, when they lie under a directory the sandbox shows
/// (a system directory or a `read_only` path): they hold the API key and the database, so they
/// are covered with an empty tmpfs.
fn agentos_dirs_in_view(read_only: &[PathBuf]) -> Vec<PathBuf> {
    let config = agentos_kit::config::config_path().and_then(|p| p.parent().map(Path::to_path_buf));
    let data = agentos_kit::paths::data_dir().ok();
    let shown: Vec<&Path> = SYSTEM_DIRS.iter().map(Path::new).chain(read_only.iter().map(PathBuf::as_path)).collect();
    [config, data]
        .into_iter()
        .flatten()
        .filter_map(|dir| std::fs::canonicalize(dir).ok())
        .filter(|dir| dir.is_dir() && shown.iter().any(|s| dir.starts_with(s)))
        .collect()
}

/// The first executable `name` in the worker's PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

/// Whether `path` is a file someone may execute.
pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The files and directories under `dir` that others may not read (for a directory: read or
/// search); a hidden directory is not walked further.
fn root_only_under(dir: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut todo = vec![PathBuf::from(dir)];
    while let Some(here) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&here) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            let mode = meta.permissions().mode();
            if meta.is_dir() {
                if mode & 0o005 != 0o005 {
                    dirs.push(path);
                } else {
                    todo.push(path);
                }
            } else if meta.is_file() && mode & 0o004 == 0 {
                files.push(path);
            }
        }
    }
    files.sort();
    dirs.sort();
    (files, dirs)
}

/// How many processes `uid` runs now (from `/proc`).
fn processes_of(uid: u32) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    let count = entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter(|e| e.metadata().is_ok_and(|m| m.uid() == uid))
        .count();
    u64::try_from(count).unwrap_or(u64::MAX)
}

/// An error for a failing cgroup file operation.
fn cgroup_error(what: &str, path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}
