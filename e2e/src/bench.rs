//! What the whole-stack benchmarks share: a stack (release build) whose LLM is the scripted
//! OpenAI server, a workspace with a small file to read, and percentiles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use agentos_test_support::ScriptedLlm;

use crate::Stack;

/// A running stack answering through a scripted OpenAI server, every worker ready.
pub struct ScriptedStack {
    /// The scripted LLM; push its replies before each turn.
    pub llm: ScriptedLlm,
    /// The stack itself.
    pub stack: Stack,
    /// The workspace `agentos up` runs in; it holds `a.txt` (twenty lines).
    pub workspace: tempfile::TempDir,
}

impl ScriptedStack {
    /// Starts the scripted server, then `agentos up` with `config` pointed at it, and waits until
    /// every worker is ready.
    pub async fn start(config: &str) -> Self {
        let llm = ScriptedLlm::builder().start().await.unwrap();
        let workspace = tempfile::tempdir().unwrap();
        std::fs::write(workspace.path().join("a.txt"), "alpha\n".repeat(20)).unwrap();
        let base_url = llm.openai_base_url();
        let env = [
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", base_url.as_str()),
            ("AGENTOS_MODEL", "openai/gpt-test"),
        ];
        let stack = tokio::task::block_in_place(|| {
            let stack = Stack::start_with(config, &env, Some(workspace.path()));
            stack.all_ready();
            stack
        });
        Self { llm, stack, workspace }
    }
}

/// The `p` quantile (0–1) of sorted samples, nearest rank; 0 when there are none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
