//! One module per concern, each test booting its own [`agentos_kit::harness::TestStack`].

mod bus;

use std::sync::Arc;
use std::time::Duration;

use agentos_kit::III;
use agentos_kit::harness::TestStack;
use agentos_worker_code_agent::{MANIFEST, Sandbox, SandboxSettings, Workspace, register};

/// How long a bus call may take in tests: generous for a loaded CI machine.
pub const T: Duration = Duration::from_secs(10);

/// Registers the code-agent worker on `stack`, confined to `root`, and waits until it is ready.
pub async fn start_code_agent(stack: &TestStack, root: &std::path::Path) -> III {
    let ws = Arc::new(Workspace::new(root).unwrap());
    let sandbox = Arc::new(Sandbox::probe(SandboxSettings::default()));
    stack.worker(&MANIFEST, |iii| register(iii, ws, sandbox)).await
}
