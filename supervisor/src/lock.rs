//! One stack at a time: a pid file in the state dir. A second `up` while one runs is refused
//! naming the running pid; a file left by a crashed run (its pid is dead, or is not agentos)
//! is detected and cleared.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another supervisor runs.
    #[error("agentos is already running (pid {pid}); stop it with `agentos down` or attach with `agentos status`")]
    Running { pid: u32 },
    /// The file could not be written.
    #[error("cannot write the lock file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The held lock; the file is removed on drop.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        if read_pid(&self.path) == Some(std::process::id()) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The pid recorded in a lock file, if any.
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` is a live agentos process.
pub fn is_running_agentos(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    // A recycled pid that now belongs to another program is not ours.
    cmdline.split(|b| *b == 0).next().is_some_and(|argv0| String::from_utf8_lossy(argv0).contains("agentos"))
}

/// The pid of the running supervisor, if one runs.
pub fn running_pid(path: &Path) -> Option<u32> {
    read_pid(path).filter(|pid| *pid != std::process::id() && is_running_agentos(*pid))
}

/// Takes the lock, clearing a stale one.
pub fn acquire(path: &Path) -> Result<Lock, LockError> {
    let io = |source| LockError::Io { path: path.to_path_buf(), source };
    for _ in 0..2 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(mut file) => {
                file.write_all(std::process::id().to_string().as_bytes()).map_err(io)?;
                return Ok(Lock { path: path.to_path_buf() });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if let Some(pid) = running_pid(path) {
                    return Err(LockError::Running { pid });
                }
                tracing::info!(path = %path.display(), "clearing a stale lock from a run that did not stop cleanly");
                std::fs::remove_file(path).map_err(io)?;
            }
            Err(e) => return Err(io(e)),
        }
    }
    Err(io(std::io::Error::other("the lock file keeps reappearing")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_lock_is_cleared_and_a_live_one_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agentos.pid");
        // A pid that cannot be alive.
        std::fs::write(&path, "4194304").unwrap();
        let lock = acquire(&path).unwrap();
        assert_eq!(read_pid(&path), Some(std::process::id()));
        drop(lock);
        assert!(!path.exists());
    }

    #[test]
    fn a_recycled_pid_of_another_program_is_not_agentos() {
        // pid 1 exists but is not agentos.
        assert!(!is_running_agentos(1));
    }
}
