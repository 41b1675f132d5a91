//! Unit tests of `code::run_command` on a temporary workspace.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use agentos_kit::ErrorCode;
use pretty_assertions::assert_eq;

use crate::tests::Fixture;
use crate::*;

/// The sandbox with the default settings, probed once; it must work (the tests run real
/// bubblewrap: `scripts/install-test-deps.sh` installs it).
pub(crate) fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    let sandbox = SANDBOX.get_or_init(|| Sandbox::probe(SandboxSettings::default()));
    assert!(sandbox.info().enforced, "the tests need a working bwrap: {:?}", sandbox.info().missing);
    sandbox
}

/// What a fully enforced sandbox reports.
pub(crate) fn enforced() -> SandboxReport {
    SandboxReport { enforced: true, missing: None }
}

/// Whether a process whose command line contains `token` still runs anywhere on the machine
/// (zombies awaiting their reaper do not count).
pub(crate) fn running(token: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let dir = entry.path();
        let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        let zombie = stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'));
        !zombie && String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(token)
    })
}

fn cmd(program: &str, args: &[&str]) -> RunCommand {
    RunCommand {
        program: program.into(),
        args: args.iter().map(|a| (*a).to_string()).collect(),
        cwd: None,
        timeout_ms: 10_000,
        max_output_bytes: 65_536,
    }
}

#[tokio::test]
async fn a_command_runs_in_the_workspace_and_reports_its_exit_code() {
    let f = Fixture::new();
    let got = run_command(&f.ws, sandbox(), cmd("sh", &["-c", "pwd; echo oops >&2; exit 3"])).await.unwrap();
    let root = f.ws.root().display().to_string();
    assert_eq!(
        got,
        CommandOutput {
            exit_code: Some(3),
            signal: None,
            stdout: format!("{root}\n"),
            stderr: "oops\n".into(),
            timed_out: false,
            truncated: false,
            sandbox: enforced(),
        }
    );
    let mut in_src = cmd("pwd", &[]);
    in_src.cwd = Some("src".into());
    assert_eq!(run_command(&f.ws, sandbox(), in_src).await.unwrap().stdout, format!("{root}/src\n"));
}

#[tokio::test]
async fn a_timeout_kills_the_whole_process_group() {
    let f = Fixture::new();
    // The background sleep is found by its unusual duration: pids inside the sandbox are its
    // own PID namespace's, not the machine's.
    let mut req = cmd("sh", &["-c", "sleep 30.0417 & sleep 30"]);
    req.timeout_ms = 300;
    let started = Instant::now();
    let got = run_command(&f.ws, sandbox(), req).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!((got.timed_out, got.exit_code, got.signal), (true, None, Some(9)));
    let deadline = Instant::now() + Duration::from_secs(5);
    while running("sleep 30.0417") {
        assert!(Instant::now() < deadline, "the background process survived the timeout");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn the_environment_is_cleared_but_for_the_allow_list_and_the_workspace() {
    let f = Fixture::new();
    // The test process's own environment has variables that are not on the allow-list
    // (CARGO_* set by cargo for every test); none may reach the command.
    assert!(std::env::vars().any(|(k, _)| k.starts_with("CARGO_")), "cargo sets CARGO_* for tests");
    let got = run_command(&f.ws, sandbox(), cmd("env", &[])).await.unwrap();
    let vars: Vec<(&str, &str)> = got.stdout.lines().filter_map(|l| l.split_once('=')).collect();
    for (name, value) in &vars {
        // The git variables are the worker's own constants, never the worker's environment.
        // bwrap sets PWD to the directory it starts the command in.
        let git = command::GIT_ENV.iter().any(|(k, v)| k == name && v == value);
        let pwd = *name == "PWD" && *value == f.ws.root().display().to_string();
        assert!(
            command::ENV_ALLOW_LIST.contains(name) || *name == "AGENTOS_WORKSPACE" || git || pwd,
            "{name} leaked into the command"
        );
    }
    assert!(got.stdout.contains(&format!("AGENTOS_WORKSPACE={}", f.ws.root().display())), "{}", got.stdout);
}

#[tokio::test]
async fn output_over_the_cap_is_cut_and_flagged() {
    let f = Fixture::new();
    let mut req = cmd("sh", &["-c", "yes | head -c 100000"]);
    req.max_output_bytes = 1000;
    let got = run_command(&f.ws, sandbox(), req).await.unwrap();
    assert_eq!((got.stdout.len(), got.truncated, got.exit_code), (1000, true, Some(0)));
}

#[tokio::test]
async fn a_command_that_leaves_a_background_process_answers_promptly() {
    let f = Fixture::new();
    let started = Instant::now();
    let got = run_command(&f.ws, sandbox(), cmd("sh", &["-c", "sleep 30 & echo started"])).await.unwrap();
    assert_eq!((got.stdout.as_str(), got.exit_code, got.timed_out), ("started\n", Some(0), false));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn bad_command_requests_are_refused_with_their_codes() {
    let f = Fixture::new();
    let mut outside = cmd("pwd", &[]);
    outside.cwd = Some("../".into());
    assert_eq!(run_command(&f.ws, sandbox(), outside).await.unwrap_err().code(), "OUTSIDE_WORKSPACE");
    let mut slow = cmd("true", &[]);
    slow.timeout_ms = 600_001;
    assert_eq!(run_command(&f.ws, sandbox(), slow).await.unwrap_err().code(), "INVALID_INPUT");
    assert_eq!(run_command(&f.ws, sandbox(), cmd("no-such-program-xyz", &[])).await.unwrap_err().code(), "NOT_FOUND");
    assert_eq!(run_command(&f.ws, sandbox(), cmd("", &[])).await.unwrap_err().code(), "INVALID_INPUT");
}

#[test]
fn unknown_request_fields_are_refused() {
    let err = serde_json::from_str::<RunCommand>(r#"{"program": "ls", "shell": true}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `shell`"), "{err}");
}
