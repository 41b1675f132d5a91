//! A whole stack for chat tests: `agentos up` whose llm-router talks to a scripted local
//! OpenAI server, in a fresh workspace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use agentos_test_support::ScriptedLlm;
use serde_json::Value;

use crate::Stack;

/// A running stack whose llm-router talks to `llm`, with `workspace` as the code-agent's root.
pub struct ChatStack {
    /// The stack.
    pub stack: Stack,
    /// The scripted LLM server its llm-router uses.
    pub llm: ScriptedLlm,
    /// The REST base URL.
    pub base: String,
    /// The API key.
    pub key: String,
    /// An HTTP client.
    pub http: reqwest::Client,
    workspace: tempfile::TempDir,
}

impl ChatStack {
    /// Starts the stack with `config` as agentos.toml and `files` in a fresh workspace.
    pub async fn start(config: &str, files: &[(&str, &str)]) -> Self {
        let llm = ScriptedLlm::builder().start().await.unwrap();
        let workspace = tempfile::tempdir().unwrap();
        for (path, text) in files {
            std::fs::write(workspace.path().join(path), text).unwrap();
        }
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
        let (base, key) = stack.api();
        Self { stack, llm, base, key, http: reqwest::Client::new(), workspace }
    }

    /// The code-agent's workspace.
    pub fn workspace(&self) -> &Path {
        self.workspace.path()
    }

    /// POSTs `body` as JSON to `path` with the key.
    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .unwrap()
    }

    /// `POST /v1/chat`: status and JSON answer.
    pub async fn chat(&self, body: Value) -> (u16, Value) {
        let response = self.post("/v1/chat", body).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// The messages of the n-th request the LLM server received.
    pub fn sent(&self, n: usize) -> Vec<Value> {
        self.llm.requests()[n].body["messages"].as_array().unwrap().clone()
    }

    /// GETs `path` with the key: status and JSON answer.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.key).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}
