//! A pids cgroup per command, for a worker that runs as root (the kernel does not apply
//! RLIMIT_NPROC to root, and the sandbox's uid maps to root outside).
//!
//! Rules it keeps:
//! - The worker makes (or reuses: every worker shares it) one parent cgroup at start,
//!   `agentos-sandbox` under its own cgroup in the pids hierarchy (cgroup v1 `/sys/fs/cgroup/pids`, or the v2 unified tree when its
//!   `cgroup.controllers` lists `pids`), and checks it can write `pids.max` in a child.
//! - Each command gets a child `<worker pid>-<n>` with `pids.max` set; the command's first process moves itself
//!   in before it starts anything. The child is removed when the command is done (retried
//!   briefly, since the kernel reaps the sandbox's processes asynchronously).
//! - Nothing here is required: when no cgroup can be made, the sandbox reports the process
//!   limit as not enforced.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::cgroup_error;

/// Numbers the commands' cgroups within one worker.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// How many times, 10 ms apart, removing a command's cgroup is tried: processes killed with the
/// PID namespace leave the cgroup within milliseconds; 50 tries (0.5 s) cover a loaded machine.
const REMOVE_TRIES: u32 = 50;

/// The worker's parent pids cgroup.
#[derive(Debug)]
pub struct PidsCgroup {
    dir: PathBuf,
}

impl PidsCgroup {
    /// Makes (or reuses) the worker's parent cgroup and checks a child can be limited.
    pub fn create() -> io::Result<Self> {
        let own = std::fs::read_to_string("/proc/self/cgroup")?;
        let candidates = [
            own.lines().find_map(|l| {
                l.split_once(":pids:").map(|(_, p)| Path::new("/sys/fs/cgroup/pids").join(p.trim_start_matches('/')))
            }),
            own.lines()
                .find_map(|l| l.strip_prefix("0::"))
                .filter(|_| {
                    std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
                        .is_ok_and(|c| c.split_whitespace().any(|w| w == "pids"))
                })
                .map(|p| Path::new("/sys/fs/cgroup").join(p.trim_start_matches('/'))),
        ];
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no pids cgroup hierarchy is mounted");
        for base in candidates.into_iter().flatten() {
            let dir = base.join("agentos-sandbox");
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    last = cgroup_error("creating", &dir, e);
                    continue;
                }
            }
            let cgroup = Self { dir };
            match cgroup.for_command(1) {
                Ok(_probe) => return Ok(cgroup),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// A child cgroup for one command, limited to `max` processes.
    pub fn for_command(&self, max: u64) -> io::Result<CommandCgroup> {
        let dir = self.dir.join(format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir(&dir).map_err(|e| cgroup_error("creating", &dir, e))?;
        let made = CommandCgroup { dir };
        let max_file = made.dir.join("pids.max");
        std::fs::write(&max_file, max.to_string()).map_err(|e| cgroup_error("writing", &max_file, e))?;
        Ok(made)
    }
}

/// One command's pids cgroup; removed on drop.
#[derive(Debug)]
pub struct CommandCgroup {
    dir: PathBuf,
}

impl CommandCgroup {
    /// The file a process writes its pid to, to move in.
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// How many processes are in it now.
    pub fn current(&self) -> Option<u64> {
        std::fs::read_to_string(self.dir.join("pids.current")).ok()?.trim().parse().ok()
    }
}

impl Drop for CommandCgroup {
    fn drop(&mut self) {
        for _ in 0..REMOVE_TRIES {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => return,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return,
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        tracing::warn!(dir = %self.dir.display(), "a command's pids cgroup still has processes; left in place");
    }
}
