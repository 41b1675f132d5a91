//! Starting child processes: each in its own process group, killed by the kernel if the
//! supervisor dies (`PR_SET_PDEATHSIG`), with stdout and stderr captured line by line into its
//! rotating log file. Stopping is `killpg(SIGTERM)`, a grace period, then `killpg(SIGKILL)`.
//!
//! This is the one module allowed `unsafe`: `pre_exec` runs between fork and exec.
#![allow(unsafe_code)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::logfile::LogFile;

/// Which of the supervisor's own environment a child inherits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inherit {
    /// Everything (llm-router: the provider keys live there).
    All,
    /// Only [`passes_through`] variables: no provider keys or other secrets of the user's shell.
    Plain,
}

/// Whether a variable of the supervisor's environment reaches a [`Inherit::Plain`] child: the
/// locale, paths and agentos's own settings, never arbitrary secrets.
pub fn passes_through(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TERM",
        "RUST_BACKTRACE",
        "RUST_LOG",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "NO_COLOR",
    ];
    const PREFIXES: &[&str] = &["LC_", "XDG_", "AGENTOS_", "III_", "CANDLE_", "RAYON_", "OMP_", "OPENBLAS_"];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Spawns `program args…` with `env` over the inherited environment `inherit` allows, its
/// output going to `log_path`.
pub fn spawn(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    inherit: Inherit,
    log_path: &Path,
) -> std::io::Result<Child> {
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    if inherit == Inherit::Plain {
        command.env_clear();
        for (k, v) in std::env::vars_os() {
            if k.to_str().is_some_and(passes_through) {
                command.env(k, v);
            }
        }
    }
    for (k, v) in env {
        command.env(k, v);
    }
    // SAFETY: the closure only calls async-signal-safe functions (setsid, prctl, getppid) and
    // allocates nothing, as required between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            #[cfg(target_os = "linux")]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                // The supervisor may have died between fork and prctl: then nobody would
                // deliver the signal, so stop now.
                if libc::getppid() == 1 {
                    return Err(std::io::Error::other("the supervisor exited during spawn"));
                }
            }
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    let log = std::sync::Arc::new(std::sync::Mutex::new(LogFile::open(log_path)?));
    if let Some(out) = child.stdout.take() {
        pump(out, log.clone());
    }
    if let Some(err) = child.stderr.take() {
        pump(err, log);
    }
    Ok(child)
}

fn pump(stream: impl tokio::io::AsyncRead + Unpin + Send + 'static, log: std::sync::Arc<std::sync::Mutex<LogFile>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut log = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(e) = log.line(&line) {
                tracing::warn!("cannot write a log line: {e}");
            }
        }
    });
}

/// Sends `signal` to the process group led by `pid`.
pub fn signal_group(pid: u32, signal: Signal) -> bool {
    i32::try_from(pid).is_ok_and(|p| killpg(Pid::from_raw(p), signal).is_ok())
}

/// Whether a process is alive.
pub fn alive(pid: u32) -> bool {
    i32::try_from(pid).is_ok_and(|p| nix::sys::signal::kill(Pid::from_raw(p), None).is_ok())
}

/// Stops a child: SIGTERM to its group, `grace` to exit, then SIGKILL to the group.
pub async fn stop(child: &mut Child, grace: Duration) {
    let Some(pid) = child.id() else { return };
    signal_group(pid, Signal::SIGTERM);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        tracing::warn!(pid, "did not stop within {}s of SIGTERM; sending SIGKILL", grace.as_secs());
        signal_group(pid, Signal::SIGKILL);
        let _ = child.wait().await;
    }
    // Leftover grandchildren in the group go too.
    signal_group(pid, Signal::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::passes_through;

    #[test]
    fn plain_children_get_paths_locale_and_agentos_settings_but_no_provider_keys() {
        for name in ["PATH", "HOME", "LC_ALL", "AGENTOS_WORKSPACE", "III_URL", "CANDLE_NUM_THREADS"] {
            assert!(passes_through(name), "{name}");
        }
        for name in ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GROQ_API_KEY", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN"] {
            assert!(!passes_through(name), "{name}");
        }
    }
}
