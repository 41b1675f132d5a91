//! One module per concern, each test booting its own [`agentos_kit::harness::TestStack`].

mod bus;

use std::time::Duration;

use agentos_kit::III;
use agentos_kit::harness::TestStack;
use agentos_worker_loop_guard::{Limits, MANIFEST, register};

/// How long a bus call may take in tests: generous for a loaded CI machine.
pub const T: Duration = Duration::from_secs(10);

/// Registers the loop-guard worker on `stack` with the default limits and waits until it is ready.
pub async fn start_guard(stack: &TestStack) -> III {
    stack.worker(&MANIFEST, |iii| register(iii, Limits::default())).await
}
