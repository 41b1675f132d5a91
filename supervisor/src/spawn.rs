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

/// Spawns `program args…` with `env`, its output going to `log_path`.
pub fn spawn(program: &Path, args: &[String], env: &[(String, String)], log_path: &Path) -> std::io::Result<Child> {
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
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
