//! One module per concern, each test booting its own [`agentos_kit::harness::TestStack`].

mod bus;
mod http;
mod lifecycle;

use std::sync::Arc;
use std::time::Duration;

use agentos_kit::III;
use agentos_kit::harness::TestStack;
use agentos_worker_realm::{MANIFEST, register};

/// The API key the test worker checks.
pub const KEY: &str = "realm-test-key-0123456789";

/// How long a bus call may take in tests: generous for a loaded CI machine.
pub const T: Duration = Duration::from_secs(10);

/// Registers the realm worker on `stack` with [`KEY`] and waits until it is ready.
pub async fn start_realm(stack: &TestStack) -> III {
    stack.worker(&MANIFEST, |iii| register(iii, Some(Arc::from(KEY)))).await
}
