//! The sandbox against real attacks, with real bubblewrap and real processes: reads and writes
//! outside the workspace, the network, the worker's environment, processes that outlive the
//! command, a fork bomb, a repository's git hooks, and what happens without bubblewrap.

use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

use agentos_kit::ErrorCode;
use pretty_assertions::assert_eq;

use crate::command_tests::{running, sandbox};
use crate::tests::Fixture;
use crate::*;

fn sh(script: &str, timeout_ms: u64) -> RunCommand {
    RunCommand {
        program: "sh".into(),
        args: vec!["-c".into(), script.into()],
        cwd: None,
        timeout_ms,
        max_output_bytes: 65_536,
    }
}

#[tokio::test]
async fn a_symlink_to_a_file_outside_the_workspace_or_in_a_home_cannot_be_read() {
    let f = Fixture::new();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".api_key"), "sk-home-secret\n").unwrap();
    symlink(f.outside.path().join("secret"), f.path("pw")).unwrap();
    symlink(home.path().join(".api_key"), f.path("key")).unwrap();
    let got =
        run_command(&f.ws, sandbox(), sh("cat pw; cat key; cat /etc/shadow; ls /root /home", 10_000)).await.unwrap();
    assert!(!got.stdout.contains("s3cret") && !got.stdout.contains("sk-home-secret"), "{got:?}");
    assert!(!got.stdout.contains("root:"), "/etc/shadow was readable: {got:?}");
    assert!(got.stderr.contains("pw: No such file or directory"), "{got:?}");
    assert!(got.stderr.contains("key: No such file or directory"), "{got:?}");
    assert_ne!(got.exit_code, Some(0));
    // The system stays readable: programs need it.
    let passwd = run_command(&f.ws, sandbox(), sh("head -1 /etc/passwd", 10_000)).await.unwrap();
    assert_eq!(passwd.stdout, "root:x:0:0:root:/root:/bin/bash\n");
}

#[tokio::test]
async fn writes_outside_the_workspace_fail_and_writes_inside_work() {
    let f = Fixture::new();
    let outside = f.outside.path().join("planted");
    let script =
        format!("echo x > {0}; echo x > /usr/planted; echo x > /etc/planted; echo ok > inside.txt", outside.display());
    let got = run_command(&f.ws, sandbox(), sh(&script, 10_000)).await.unwrap();
    assert_eq!(got.exit_code, Some(0), "{got:?}");
    assert!(!outside.exists() && !Path::new("/usr/planted").exists() && !Path::new("/etc/planted").exists());
    assert_eq!(f.read("inside.txt"), "ok\n");
    // /tmp is private: what a command leaves there is gone, and the host's /tmp is not seen.
    let tmp = run_command(&f.ws, sandbox(), sh("echo x > /tmp/left; ls -A /tmp", 10_000)).await.unwrap();
    let listed: Vec<&str> = tmp.stdout.lines().collect();
    // `left`, and at most the first component of the workspace's own path when it is in /tmp.
    assert!(listed.contains(&"left") && listed.len() <= 2, "{tmp:?}");
    assert!(!Path::new("/tmp/left").exists());
}

#[tokio::test]
async fn the_network_is_refused_unless_the_config_grants_it() {
    let f = Fixture::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = RunCommand {
        program: "bash".into(),
        args: vec!["-c".into(), format!("echo hello > /dev/tcp/127.0.0.1/{port}")],
        cwd: None,
        timeout_ms: 10_000,
        max_output_bytes: 4096,
    };
    let refused = run_command(&f.ws, sandbox(), connect.clone()).await.unwrap();
    assert_ne!(refused.exit_code, Some(0), "{refused:?}");
    assert!(refused.stderr.contains("Network is unreachable") || refused.stderr.contains("refused"), "{refused:?}");

    let granted = Sandbox::probe(SandboxSettings { network: true, ..SandboxSettings::default() });
    assert!(granted.info().network);
    let accept = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut got = String::new();
        stream.read_to_string(&mut got).unwrap();
        got
    });
    let ok = run_command(&f.ws, &granted, connect).await.unwrap();
    assert_eq!(ok.exit_code, Some(0), "{ok:?}");
    assert_eq!(accept.join().unwrap(), "hello\n");
}

#[tokio::test]
async fn the_workers_environment_is_invisible_through_proc() {
    let f = Fixture::new();
    // cargo gives the test process (the worker here) CARGO_PKG_NAME; the host sees it in our
    // environ, the command must not see it anywhere.
    let ours = std::fs::read(format!("/proc/{}/environ", std::process::id())).unwrap();
    assert!(String::from_utf8_lossy(&ours).contains("CARGO_PKG_NAME="));
    let script = "ls /proc | grep -c '^[0-9]'; cat /proc/$PPID/environ; cat /proc/*/environ";
    let got = run_command(&f.ws, sandbox(), sh(script, 10_000)).await.unwrap();
    assert!(!got.stdout.contains("CARGO_PKG_NAME"), "{got:?}");
    // Its own PID namespace: the sandbox's init and the command's processes only.
    let count: u32 = got.stdout.lines().next().unwrap().trim().parse().unwrap();
    assert!(count <= 4, "{got:?}");
}

#[tokio::test]
async fn a_setsid_child_dies_at_the_timeout_and_when_the_command_exits() {
    let f = Fixture::new();
    let started = Instant::now();
    let got = run_command(&f.ws, sandbox(), sh("setsid sh -c 'sleep 1.2345; echo late > marker' & sleep 30", 300))
        .await
        .unwrap();
    assert!(got.timed_out, "{got:?}");
    let left = run_command(&f.ws, sandbox(), sh("setsid sh -c 'sleep 1.2346; echo late > marker2' & echo bye", 10_000))
        .await
        .unwrap();
    assert_eq!((left.stdout.as_str(), left.exit_code), ("bye\n", Some(0)));
    assert!(!running("sleep 1.2345") && !running("sleep 1.2346"), "a setsid child survived");
    // Past the moment the children would have written their markers.
    tokio::time::sleep(Duration::from_millis(1500).saturating_sub(started.elapsed())).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!f.path("marker").exists() && !f.path("marker2").exists(), "a setsid child outlived the command");
}

#[tokio::test]
async fn a_fork_bomb_is_held_by_the_process_limit_and_ends_with_the_command() {
    let f = Fixture::new();
    let small = Sandbox::probe(SandboxSettings { max_processes: 32, ..SandboxSettings::default() });
    assert_eq!(small.info().missing, None, "the process limit must be enforced here");
    let started = Instant::now();
    let got = run_command(&f.ws, &small, sh("bomb() { bomb | bomb & }; bomb; exec sleep 2", 10_000)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    assert!(got.stderr.contains("fork"), "the limit never refused a fork: {got:?}");
    // Every copy of the bomb is a subshell with the same command line.
    let deadline = Instant::now() + Duration::from_secs(5);
    while running("bomb() {") {
        assert!(Instant::now() < deadline, "bomb processes outlived the command");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn git_runs_no_fsmonitor_or_hook_the_repository_configures() {
    let f = Fixture::new();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").args(args).current_dir(f.ws.root()).output().unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    git(&["init", "-q"]);
    git(&["config", "core.fsmonitor", "echo ran > fsmonitor-ran; true"]);
    // The attack works on a plain git: status runs the repository's fsmonitor command.
    git(&["status", "--short"]);
    assert!(f.path("fsmonitor-ran").exists(), "the control run did not trigger the fsmonitor");
    std::fs::remove_file(f.path("fsmonitor-ran")).unwrap();

    let status = RunCommand {
        program: "git".into(),
        args: vec!["status".into(), "--short".into()],
        cwd: None,
        timeout_ms: 10_000,
        max_output_bytes: 65_536,
    };
    let got = run_command(&f.ws, sandbox(), status.clone()).await.unwrap();
    assert_eq!(got.exit_code, Some(0), "{got:?}");
    assert!(!f.path("fsmonitor-ran").exists(), "git ran the repository's fsmonitor in the sandbox");
    // Unconfined too: the neutralising comes from the environment, not from the sandbox.
    let open = Sandbox::probe_with(SandboxSettings { required: false, ..SandboxSettings::default() }, None);
    let got = run_command(&f.ws, &open, status).await.unwrap();
    assert_eq!(got.exit_code, Some(0), "{got:?}");
    assert!(!f.path("fsmonitor-ran").exists(), "git ran the repository's fsmonitor");
}

#[tokio::test]
async fn without_bubblewrap_a_required_sandbox_refuses_and_an_optional_one_says_what_is_missing() {
    let f = Fixture::new();
    let required = Sandbox::probe_with(SandboxSettings::default(), None);
    let err = run_command(&f.ws, &required, sh("true", 1000)).await.unwrap_err();
    assert_eq!(err.code(), "SANDBOX_UNAVAILABLE");
    let message = err.to_string();
    assert!(
        message.contains("apt-get install bubblewrap") && message.contains("[sandbox] required = false"),
        "{message}"
    );
    assert!(required.health_problem().unwrap().starts_with("commands cannot run: "));

    let optional = Sandbox::probe_with(SandboxSettings { required: false, ..SandboxSettings::default() }, None);
    let got = run_command(&f.ws, &optional, sh("echo ran", 1000)).await.unwrap();
    assert_eq!(got.stdout, "ran\n");
    assert!(!got.sandbox.enforced);
    assert!(got.sandbox.missing.unwrap().contains("bubblewrap (bwrap) is not installed"));
    assert_eq!(optional.info().enforced, false);

    // A bwrap that cannot create namespaces counts as missing, with its own words.
    let broken = Sandbox::probe_with(SandboxSettings::default(), Some("/bin/false".into()));
    let info = broken.info();
    assert!(!info.enforced && info.missing.unwrap().contains("cannot create its namespaces"));
}
