//! End to end: the dashboard as a person uses it. `agentos up` runs in a tmux pane (160×48)
//! against the scripted OpenAI server; the test types into it with `send-keys` and reads the
//! screen with `capture-pane`: a message is sent, the reply streams in, a `code::write_file`
//! call is approved from the prompt with `y`, and the turn shows up in the Replay and Trace
//! panes; `q` quits the dashboard and stops the stack.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use agentos_e2e::{agentos_binary, free_port, workspace_root};
use agentos_test_support::{Reply, ScriptedLlm, ToolCallSpec};
use serde_json::json;

/// A tmux server of its own (`-L`), so tests never touch the user's sessions.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("tmux runs")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "main"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "send-keys {keys:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Types `text` literally (no key names).
    fn type_text(&self, text: &str) {
        let out = self.run(&["send-keys", "-t", "main", "-l", text]);
        assert!(out.status.success(), "send-keys -l: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Waits until the screen satisfies `check`; panics with the last screen.
    fn wait_for(&self, what: &str, limit: Duration, check: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(started.elapsed() <= limit, "timed out after {limit:?} waiting for {what}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn up_command(home: &Path, workspace: &Path, llm: &ScriptedLlm) -> String {
    let model = std::env::var("AGENTOS_EMBEDDING_MODEL_DIR")
        .unwrap_or_else(|_| workspace_root().join(".models/all-minilm-l6-v2").display().to_string());
    format!(
        "cd {workspace} && env AGENTOS_HOME={home} OPENAI_API_KEY=sk-test OPENAI_BASE_URL={base} \
         AGENTOS_MODEL=openai/gpt-test AGENTOS_MODELS_AUTO_INSTALL=0 AGENTOS_EMBEDDING_MODEL_DIR={model} \
         NO_COLOR=1 TERM=xterm-256color {bin} up --engine-port {e} --http-port {h} --stream-port {s}; \
         echo AGENTOS-UP-EXITED-$?; sleep 600",
        workspace = workspace.display(),
        home = home.display(),
        base = llm.openai_base_url(),
        bin = agentos_binary().display(),
        e = free_port(),
        h = free_port(),
        s = free_port(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_approve_replay_and_trace_in_the_dashboard() {
    let llm = ScriptedLlm::builder().start().await.unwrap();
    llm.push(Reply::tool_calls(vec![ToolCallSpec::new(
        "call_1",
        "code__write_file",
        json!({"path": "hello.txt", "content": "hello from the dashboard\n"}),
    )]));
    llm.push(Reply::text("I wrote **hello.txt** for you."));
    let home = tempfile::tempdir().unwrap();
    let workspace = tempfile::tempdir().unwrap();
    let command = up_command(home.path(), workspace.path(), &llm);
    let binary = agentos_binary().to_path_buf();

    tokio::task::block_in_place(|| {
        let tmux = Tmux { socket: format!("agentos-e2e-{}", std::process::id()) };
        let out = tmux.run(&["new-session", "-d", "-s", "main", "-x", "160", "-y", "48", &command]);
        assert!(out.status.success(), "tmux new-session: {}", String::from_utf8_lossy(&out.stderr));

        // The dashboard opens once the stack is up: tabs, the connection mark, the composer.
        tmux.wait_for("the dashboard", Duration::from_secs(90), |s| {
            s.contains("1 Chat") && s.contains("5 Workers") && s.contains("connected")
        });

        tmux.type_text("please write hello.txt");
        tmux.keys(&["Enter"]);
        let prompt = tmux.wait_for("the approval prompt", Duration::from_secs(30), |s| {
            s.contains("code::write_file") && s.contains("hello from the dashboard") && s.contains("always")
        });
        assert!(prompt.contains("hello.txt"), "{prompt}");
        tmux.keys(&["y"]);
        tmux.wait_for("the streamed reply", Duration::from_secs(30), |s| s.contains("I wrote hello.txt for you."));
        assert_eq!(std::fs::read_to_string(workspace.path().join("hello.txt")).unwrap(), "hello from the dashboard\n");

        // Replay (Tab three times from Chat): the session list, then its steps.
        tmux.keys(&["Tab", "Tab", "Tab"]);
        tmux.wait_for("the replay list", Duration::from_secs(10), |s| s.contains("coder") && s.contains("done"));
        tmux.keys(&["Enter"]);
        tmux.wait_for("the replayed session", Duration::from_secs(10), |s| {
            s.contains("step") && s.contains("please write hello.txt")
        });
        tmux.keys(&["End"]);
        tmux.wait_for("the last step", Duration::from_secs(10), |s| s.contains("turn_done") || s.contains("I wrote"));

        // Trace (Shift-Tab from Replay): recent turns, newest first; this turn's span tree.
        tmux.keys(&["BTab"]);
        tmux.wait_for("the trace list", Duration::from_secs(10), |s| s.contains("agent::chat"));
        tmux.keys(&["Enter"]);
        tmux.wait_for("the span tree", Duration::from_secs(10), |s| s.contains("llm::complete"));
        // The tree is longer than the screen: page down to the tool call.
        let mut seen = tmux.screen();
        for _ in 0..6 {
            if seen.contains("code::write_file") {
                break;
            }
            tmux.keys(&["PageDown"]);
            std::thread::sleep(Duration::from_millis(500));
            seen = tmux.screen();
        }
        assert!(seen.contains("code::write_file"), "the span tree has no code::write_file:\n{seen}");

        // q leaves the dashboard and stops the stack.
        tmux.keys(&["q"]);
        tmux.wait_for("up to exit", Duration::from_secs(30), |s| s.contains("AGENTOS-UP-EXITED-0"));
        let status = Command::new(&binary).arg("status").env("AGENTOS_HOME", home.path()).output().unwrap();
        assert!(String::from_utf8_lossy(&status.stderr).contains("agentos is not running"), "{status:?}");
    });
}
