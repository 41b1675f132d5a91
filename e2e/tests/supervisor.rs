//! End to end: `agentos up` with the real binary, on free ports, in its own `AGENTOS_HOME`:
//! every worker becomes ready, a `kill -9`ed worker comes back, a worker that exits at once ends
//! `failed`, a `kill -9`ed engine is replaced and every worker recovers, `down` leaves no process
//! behind, a second `up` is refused, and `doctor` names what is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use agentos_e2e::Stack;
use agentos_e2e::procs::{children_of, cmdline};

/// The engine's pid: the supervisor's child whose command line says `engine`.
fn engine_pid(stack: &Stack) -> Option<u32> {
    children_of(stack.up.child.id()).into_iter().find(|pid| cmdline(*pid).contains("engine"))
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

fn kill_9(pid: u32) {
    Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
}

#[test]
fn up_brings_every_worker_to_ready_and_reports_the_start_up() {
    let stack = Stack::start("");
    let status = stack.all_ready();
    let realm = Stack::worker(&status, "realm");
    assert_eq!(realm["functions_registered"], realm["functions_expected"], "{status:#}");
    let out = stack.output();
    assert!(out.contains("agentos is up"), "{out}");
    assert!(out.contains("ready after"), "{out}");
    // A second `up` against the same home is refused, naming the running pid.
    let second = stack.agentos(&["up", "--headless"]);
    assert!(!second.status.success());
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(message.contains(&format!("pid {}", stack.up.child.id())), "{message}");
    // doctor is happy.
    let doctor = stack.agentos(&["doctor"]);
    assert!(doctor.status.success(), "{}", String::from_utf8_lossy(&doctor.stdout));
}

#[test]
fn a_worker_killed_with_kill_9_is_back_and_ready_within_three_seconds() {
    let stack = Stack::start("");
    let status = stack.all_ready();
    let pid = Stack::worker(&status, "realm")["pid"].as_u64().unwrap() as u32;
    let killed_at = Instant::now();
    kill_9(pid);
    let status = stack.wait_for("realm restarted and ready", Duration::from_secs(10), |s| {
        let w = Stack::worker(s, "realm");
        w["state"] == "ready" && w["pid"].as_u64().is_some_and(|p| p as u32 != pid)
    });
    let took = killed_at.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(Stack::worker(&status, "realm")["restarts"], 1);
}

#[test]
fn a_worker_that_exits_at_once_backs_off_then_is_failed() {
    let config =
        "[restart]\nmax_restarts = 2\nwindow_secs = 60\n[workers.env.realm]\nAGENTOS_ENGINE_URL = \"not-a-url\"\n";
    let stack = Stack::start(config);
    let status =
        stack.wait_for("realm failed", Duration::from_secs(20), |s| Stack::worker(s, "realm")["state"] == "failed");
    let realm = Stack::worker(&status, "realm");
    assert_eq!(realm["restarts"], 2);
    let error = realm["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("gave up after 2 restarts"), "{error}");
    let doctor = stack.agentos(&["doctor"]);
    assert!(!doctor.status.success());
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(report.contains("worker realm is failed"), "{report}");
    assert!(report.contains("GET /v1/realms"), "doctor names the missing route: {report}");
    // Its log says why.
    let log = std::fs::read_to_string(stack.path().join("logs/realm.log")).unwrap_or_default();
    assert!(log.contains("not a ws:// or wss:// URL"), "{log}");
}

#[test]
fn a_killed_engine_is_replaced_and_every_worker_recovers() {
    let stack = Stack::start("");
    stack.all_ready();
    let engine = engine_pid(&stack).expect("the engine runs as a child of the supervisor");
    kill_9(engine);
    stack.wait_for("a new engine with every worker ready again", Duration::from_secs(20), |s| {
        s["workers"].as_array().is_some_and(|ws| ws.iter().all(|w| w["state"] == "ready"))
            && engine_pid(&stack).is_some_and(|p| p != engine)
    });
}

#[test]
fn down_stops_every_process_of_the_stack() {
    let mut stack = Stack::start("");
    let status = stack.all_ready();
    let mut pids: Vec<u32> =
        status["workers"].as_array().unwrap().iter().filter_map(|w| w["pid"].as_u64()).map(|p| p as u32).collect();
    pids.push(engine_pid(&stack).unwrap());
    let supervisor = stack.up.child.id();
    let down = stack.agentos(&["down"]);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    let _ = stack.up.child.wait();
    for pid in pids.iter().chain([&supervisor]) {
        assert!(!alive(*pid), "pid {pid} ({}) is still alive", cmdline(*pid));
    }
    assert!(!stack.path().join("state/agentos.pid").exists());
}

#[test]
fn killing_the_supervisor_with_kill_9_takes_its_children_with_it() {
    let mut stack = Stack::start("");
    let status = stack.all_ready();
    let mut pids: Vec<u32> =
        status["workers"].as_array().unwrap().iter().filter_map(|w| w["pid"].as_u64()).map(|p| p as u32).collect();
    pids.push(engine_pid(&stack).unwrap());
    stack.up.kill();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && pids.iter().any(|p| alive(*p)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in &pids {
        assert!(!alive(*pid), "pid {pid} ({}) outlived the supervisor", cmdline(*pid));
    }
    // The lock it left behind is recognised as stale.
    assert!(stack.path().join("state/agentos.pid").exists());
    let down = stack.agentos(&["down"]);
    assert_eq!(String::from_utf8_lossy(&down.stdout).trim(), "agentos is not running");
}

#[test]
fn a_workers_log_is_served_over_rest_as_its_last_lines() {
    let stack = Stack::start("");
    stack.all_ready();
    let (base, key) = stack.api();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let get = |path: &str| {
        runtime.block_on(async {
            let response = reqwest::Client::new().get(format!("{base}{path}")).bearer_auth(&key).send().await.unwrap();
            (response.status().as_u16(), response.json::<serde_json::Value>().await.unwrap())
        })
    };
    let (status, body) = get("/v1/workers/realm/logs?lines=3");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["worker"], "realm");
    let path = stack.path().join("logs/realm.log");
    assert_eq!(body["path"].as_str(), path.to_str());
    let lines: Vec<&str> = body["lines"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(lines.len() <= 3, "{lines:?}");
    // They are the file's lines, in order, without a gap (the file may have grown since).
    let file = std::fs::read_to_string(&path).unwrap_or_default();
    let all: Vec<&str> = file.lines().collect();
    assert!(lines.is_empty() || all.windows(lines.len()).any(|w| w == lines.as_slice()), "{lines:?} not in {all:?}");

    let (status, body) = get("/v1/workers/nope/logs");
    assert_eq!(status, 404, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("no worker named 'nope'") && message.contains("realm"), "{message}");
    let (status, body) = get("/v1/workers/realm/logs?lines=0");
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("INVALID_INPUT")), "{body}");
}
