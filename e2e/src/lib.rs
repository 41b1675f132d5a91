//! Shared pieces of the end-to-end tests: finding the `agentos` binary (building it once per
//! test process) and child processes that die with their guard.
// Test support: a failure to find or start the binary is a test failure, said loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod bench;
pub mod chat;
pub mod procs;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("e2e/ sits in the workspace").to_path_buf()
}

/// The `agentos` binary, built (or confirmed fresh) once per test process.
pub fn agentos_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("AGENTOS_BIN") {
            return PathBuf::from(bin);
        }
        // <target>/<profile>/deps/<this test> → <target>/<profile>
        let exe = std::env::current_exe().expect("the test knows its own path");
        let deps = exe.parent().expect("the test executable sits in deps/");
        let profile_dir = deps.parent().expect("deps/ sits in the profile dir");
        let target_dir = profile_dir.parent().expect("the profile dir sits in the target dir");
        let bin = profile_dir.join(format!("agentos{}", std::env::consts::EXE_SUFFIX));

        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build.current_dir(workspace_root()).args(["build", "-p", "agentos"]).env("CARGO_TARGET_DIR", target_dir);
        if profile_dir.file_name().is_some_and(|name| name == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo can be started");
        assert!(status.success(), "`cargo build -p agentos` failed ({status}); see its output above");
        assert!(bin.is_file(), "`cargo build -p agentos` did not produce {}", bin.display());
        bin
    })
}

/// A child process that is killed (and reaped) when the guard drops, panic or not.
pub struct Proc {
    /// The child.
    pub child: Child,
}

impl Proc {
    /// Wraps a spawned child.
    pub fn new(child: Child) -> Self {
        Self { child }
    }

    /// Kills the process now and waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How long a stack may take to come up on a loaded 2-core machine.
pub const UP: Duration = Duration::from_secs(30);

/// A stack under test: `agentos up --headless` in the foreground of a child process.
pub struct Stack {
    /// The `agentos up` process.
    pub up: Proc,
    home: tempfile::TempDir,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Stack {
    /// `agentos up --headless` with `config` as agentos.toml, started in the test's directory.
    pub fn start(config: &str) -> Self {
        Self::start_with(config, &[], None)
    }

    /// Like [`Stack::start`], with extra environment for the stack and its workers, and `cwd`
    /// as the directory `up` runs in (the code-agent's workspace).
    pub fn start_with(config: &str, env: &[(&str, &str)], cwd: Option<&Path>) -> Self {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("config")).unwrap();
        std::fs::write(home.path().join("config/agentos.toml"), config).unwrap();
        let log = std::fs::File::create(home.path().join("up.out")).unwrap();
        let mut command = Command::new(agentos_binary());
        if let Some(dir) = cwd {
            command.current_dir(dir);
        }
        // The embedding model: the one `scripts/test` exported, else the repo's copy when
        // `scripts/install-test-deps.sh` put it there; a stack never downloads it during a test.
        command.env("AGENTOS_MODELS_AUTO_INSTALL", "0");
        let repo_model = workspace_root().join(".models/all-minilm-l6-v2");
        if std::env::var_os("AGENTOS_EMBEDDING_MODEL_DIR").is_none() && repo_model.is_dir() {
            command.env("AGENTOS_EMBEDDING_MODEL_DIR", repo_model);
        }
        let child = command
            .args(["up", "--headless"])
            .args(["--engine-port", &free_port().to_string()])
            .args(["--http-port", &free_port().to_string()])
            .args(["--stream-port", &free_port().to_string()])
            .env("AGENTOS_HOME", home.path())
            .env_remove("AGENTOS_API_KEY")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        Self { up: Proc::new(child), home }
    }

    /// The stack's AGENTOS_HOME.
    pub fn path(&self) -> &Path {
        self.home.path()
    }

    /// What `up` printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(self.path().join("up.out")).unwrap_or_default()
    }

    /// Runs an `agentos` command against this stack.
    pub fn agentos(&self, args: &[&str]) -> Output {
        Command::new(agentos_binary())
            .args(args)
            .env("AGENTOS_HOME", self.path())
            .env_remove("AGENTOS_API_KEY")
            .output()
            .unwrap()
    }

    /// `agentos status --json`, or null while it fails.
    pub fn status(&self) -> Value {
        let out = self.agentos(&["status", "--json"]);
        if !out.status.success() {
            return Value::Null;
        }
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// One worker's row of a status.
    pub fn worker<'a>(status: &'a Value, name: &str) -> &'a Value {
        status["workers"].as_array().and_then(|ws| ws.iter().find(|w| w["name"] == name)).unwrap_or(&Value::Null)
    }

    /// Polls `status` until `check` holds; panics with the last status and the stack's output.
    pub fn wait_for(&self, what: &str, limit: Duration, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + limit;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            last = self.status();
            if check(&last) {
                return last;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}\nlast status: {last:#}\noutput:\n{}", self.output());
    }

    /// Waits until every worker is ready.
    pub fn all_ready(&self) -> Value {
        self.wait_for("every worker ready", UP, |s| {
            s["workers"].as_array().is_some_and(|ws| !ws.is_empty() && ws.iter().all(|w| w["state"] == "ready"))
        })
    }

    /// The REST base URL and the API key of the running stack.
    pub fn api(&self) -> (String, String) {
        let runtime: Value =
            serde_json::from_str(&std::fs::read_to_string(self.path().join("state/runtime.json")).unwrap()).unwrap();
        let key = std::fs::read_to_string(self.path().join("config/api_key")).unwrap().trim().to_string();
        (runtime["http_url"].as_str().unwrap().to_string(), key)
    }
}
