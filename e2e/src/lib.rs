//! Shared pieces of the end-to-end tests: finding the `agentos` binary (building it once per
//! test process) and child processes that die with their guard.
// Test support: a failure to find or start the binary is a test failure, said loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;

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
