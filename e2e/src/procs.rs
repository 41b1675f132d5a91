//! The processes of a running stack, for tests that kill them: the engine's pid (the
//! supervisor's child running `agentos engine`) and `kill -9`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use crate::Stack;

/// The engine's pid: the supervisor's child whose command line says `engine`.
pub fn engine_pid(stack: &Stack) -> Option<u32> {
    children_of(stack.up.child.id()).into_iter().find(|pid| cmdline(*pid).contains("engine"))
}

/// A worker's pid, as `agentos status` reports it.
pub fn worker_pid(stack: &Stack, name: &str) -> Option<u32> {
    Stack::worker(&stack.status(), name)["pid"].as_u64().and_then(|p| u32::try_from(p).ok())
}

/// The command line of `pid`, its arguments separated by spaces.
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// The children of `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return vec![] };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| s.rsplit(')').next().map(str::to_string))
                .and_then(|rest| rest.split_whitespace().nth(1).and_then(|pp| pp.parse::<u32>().ok()))
                == Some(pid)
        })
        .collect()
}

/// Whether `pid` runs (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

/// `kill -9 pid`.
pub fn kill_9(pid: u32) {
    let status = Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(status.success(), "kill -9 {pid} failed");
}
