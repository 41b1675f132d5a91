//! The suites, and the workers they start.

mod classify;
mod explain;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agentos_kit::harness::TestStack;
use agentos_kit::{III, call};
use agentos_worker_approval_tiers::{ApprovalSettings, Classification, ClassifyRequest};
use serde_json::Value;

/// The API key the workers check.
pub const KEY: &str = "tiers-test-key-0123456789";

/// How long a bus call may take in tests: generous for a loaded CI machine.
pub const T: Duration = Duration::from_secs(10);

/// Starts approval-tiers on `stack` with `[approval]` read from `toml` (empty: the defaults).
pub async fn start_tiers(stack: &TestStack, toml: &str) -> III {
    let settings: ApprovalSettings = agentos_kit::config::section_in(toml, "approval").unwrap();
    settings.validate().unwrap();
    stack
        .worker(&agentos_worker_approval_tiers::MANIFEST, |iii| {
            agentos_worker_approval_tiers::register(iii, Some(Arc::from(KEY)), settings);
        })
        .await
}

/// Starts the hand-runner on `stack` with user hands in `dir`.
pub async fn start_hands(stack: &TestStack, dir: &Path) -> III {
    let dir = dir.to_path_buf();
    stack
        .worker(&agentos_worker_hand_runner::MANIFEST, |iii| {
            agentos_worker_hand_runner::register(iii, Some(Arc::from(KEY)), Some(dir));
        })
        .await
}

/// Writes `<dir>/<name>/HAND.toml`: a valid hand with `extra` appended.
pub fn write_hand(dir: &Path, name: &str, extra: &str) {
    let text = format!(
        "name = \"{name}\"\ndescription = \"The {name} test hand.\"\nallowed_functions = [\"code::run_command\"]\n[prompt]\nsystem = \"You are {name}.\"\n{extra}"
    );
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("HAND.toml"), text).unwrap();
}

/// `approval::classify` of `function_id` with `arguments`, as hand `hand` in session `session`.
pub async fn classify(
    client: &III,
    function_id: &str,
    arguments: Value,
    hand: Option<&str>,
    session: Option<&str>,
) -> Classification {
    let req = ClassifyRequest {
        function_id: function_id.into(),
        arguments,
        hand: hand.map(str::to_string),
        session_id: session.map(str::to_string),
        ..ClassifyRequest::default()
    };
    call(client, "approval::classify", &req, T).await.unwrap()
}
