//! `agentos down`: ask the running supervisor to stop (SIGTERM) and wait until it has stopped
//! every worker and the engine.

use std::time::{Duration, Instant};

use agentos_supervisor::Home;
use anyhow::anyhow;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long `down` waits: the grace period for workers and then for the engine, plus margin.
const WAIT: Duration = Duration::from_secs(30);

/// Runs `down`.
pub fn run() -> anyhow::Result<()> {
    let home = Home::discover()?;
    let Some(pid) = agentos_supervisor::lock::running_pid(&home.lock_file()) else {
        println!("agentos is not running");
        return Ok(());
    };
    let target = Pid::from_raw(i32::try_from(pid)?);
    kill(target, Signal::SIGTERM).map_err(|e| anyhow!("cannot signal agentos (pid {pid}): {e}"))?;
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if !agentos_supervisor::lock::is_running_agentos(pid) {
            println!("agentos stopped (pid {pid})");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(anyhow!(
        "agentos (pid {pid}) is still stopping after {}s; `kill -9 {pid}` ends it (its children die with it)",
        WAIT.as_secs()
    ))
}
