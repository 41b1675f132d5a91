//! agentos-test-support: fixtures shared by agentos tests.
//!
//! [`ScriptedLlm`] is a real HTTP server on `127.0.0.1` that speaks the wire formats the
//! llm-router's clients speak, so those clients are tested end to end without a model:
//!
//! - OpenAI Chat Completions: `POST {base}/v1/chat/completions`, `GET {base}/v1/models`,
//!   `Authorization: Bearer <key>`; non-streamed `chat.completion` bodies or
//!   `data: {chat.completion.chunk}` SSE frames ending in `data: [DONE]`, with
//!   `stream_options.include_usage` honoured. Any OpenAI-compatible client works by base URL.
//! - Anthropic Messages: `POST {base}/v1/messages`, `x-api-key` + `anthropic-version`;
//!   non-streamed `message` bodies or the named-event stream (`message_start`,
//!   `content_block_start`, `ping`, `content_block_delta`, `content_block_stop`,
//!   `message_delta`, `message_stop`).
//!
//! A test scripts the answers as a queue of [`Reply`]s, consumed one per chat request in order,
//! and afterwards asserts what the client sent through [`ScriptedLlm::requests`].
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use agentos_test_support::{Reply, ScriptedLlm, ToolCallSpec};
//! let server = ScriptedLlm::builder().api_key("sk-test").start().await?;
//! server.push(Reply::status(500, "boom"));
//! server.push(Reply::tool_calls(vec![ToolCallSpec::new(
//!     "call_1",
//!     "read_file",
//!     serde_json::json!({ "path": "a.txt" }),
//! )]));
//! server.push(Reply::text("Done.").gated());
//! // point the client at server.base_url() ...
//! server.gate(0).open();
//! # Ok(()) }
//! ```
//!
//! Everything generated is deterministic (ids are `chatcmpl-scripted-{n}` / `msg_scripted_{n}`
//! where `n` counts chat requests from 1; `created` is [`CREATED`]), so whole bodies compare.
//! When the script runs dry the server answers 500 in the provider's error shape with a message
//! naming the cause, so a missing reply fails the test loudly.

mod anthropic;
mod gate;
mod openai;
mod reply;
mod server;
mod sse;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

pub use gate::Gate;
pub use openai::CREATED;
pub use reply::{Reply, ToolCallSpec, Usage};
pub use sse::{SseEvent, parse_sse};

/// The model id listed by `GET /v1/models` when none is configured.
pub const DEFAULT_MODEL: &str = "scripted-model";

/// Which wire format a request used, decided by its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// `/v1/chat/completions`, or `/v1/models` without an `anthropic-version` header.
    OpenAi,
    /// `/v1/messages`, or `/v1/models` with an `anthropic-version` header.
    Anthropic,
}

/// One request the server received, recorded before any check so rejected requests show too.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    /// The provider the path belongs to; `None` for unknown paths (answered 404).
    pub provider: Option<Provider>,
    /// The HTTP method (`POST`, `GET`).
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The headers, names lowercased; repeated headers keep the last value.
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON; `Value::Null` when empty, a `Value::String` of the raw text when
    /// it is not JSON.
    pub body: Value,
}

impl RecordedRequest {
    /// A header's value by (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// How the server checks credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Auth {
    /// A key must be present; any value is accepted.
    AnyKey,
    /// The key must equal this.
    Exact(String),
    /// No key is required (like a local Ollama or llama.cpp server).
    None,
}

/// A reply waiting in the script, its wrappers resolved at push time.
pub(crate) struct Scripted {
    pub(crate) content: reply::Content,
    pub(crate) usage: Usage,
    pub(crate) gate: Option<Gate>,
}

#[derive(Default)]
pub(crate) struct Script {
    shared: VecDeque<Scripted>,
    openai: VecDeque<Scripted>,
    anthropic: VecDeque<Scripted>,
    /// How many gated replies were ever pushed: the next one takes this gate index.
    gated_total: usize,
}

impl Script {
    /// The provider's own queue first, then the shared one.
    pub(crate) fn pop(&mut self, provider: Provider) -> Option<Scripted> {
        let own = match provider {
            Provider::OpenAi => &mut self.openai,
            Provider::Anthropic => &mut self.anthropic,
        };
        own.pop_front().or_else(|| self.shared.pop_front())
    }

    fn len(&self) -> usize {
        self.shared.len() + self.openai.len() + self.anthropic.len()
    }
}

/// State shared between the test's handle and the server's handlers.
pub(crate) struct Shared {
    pub(crate) auth: Auth,
    pub(crate) models: Vec<String>,
    pub(crate) script: Mutex<Script>,
    pub(crate) gates: Mutex<Vec<Gate>>,
    pub(crate) requests: Mutex<Vec<RecordedRequest>>,
    pub(crate) request_count: watch::Sender<usize>,
    pub(crate) chat_count: Mutex<u64>,
    pub(crate) shutdown: watch::Sender<bool>,
}

/// Locks a mutex, seeing through poisoning: a panicking test thread must not hide the state.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn gate(&self, index: usize) -> Gate {
        let mut gates = lock(&self.gates);
        while gates.len() <= index {
            gates.push(Gate::new());
        }
        gates[index].clone()
    }

    fn push(&self, queue: Option<Provider>, reply: Reply) {
        let (content, usage, gated) = reply::flatten(reply);
        let mut script = lock(&self.script);
        let gate = gated.then(|| {
            let mut gates = lock(&self.gates);
            // The n-th gated reply takes gate n; `gate(n)` may have created it already.
            let index = script.gated_total;
            while gates.len() <= index {
                gates.push(Gate::new());
            }
            gates[index].clone()
        });
        let entry = Scripted { content, usage, gate };
        script.gated_total += usize::from(entry.gate.is_some());
        match queue {
            None => script.shared.push_back(entry),
            Some(Provider::OpenAi) => script.openai.push_back(entry),
            Some(Provider::Anthropic) => script.anthropic.push_back(entry),
        }
    }

    /// Resolves when the server is dropped.
    pub(crate) async fn stopped(&self) {
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Configures a [`ScriptedLlm`] before it starts.
#[derive(Debug)]
pub struct Builder {
    auth: Auth,
    models: Vec<String>,
    script: Vec<(Option<Provider>, Reply)>,
}

impl Builder {
    /// Requires this exact key (`Authorization: Bearer <key>` / `x-api-key: <key>`). By default
    /// any non-empty key is accepted, but one must be sent.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.auth = Auth::Exact(key.into());
        self
    }

    /// Requires no key at all, like a local OpenAI-compatible server. Anthropic requests still
    /// need `anthropic-version`.
    #[must_use]
    pub fn no_auth(mut self) -> Self {
        self.auth = Auth::None;
        self
    }

    /// Adds a model id to `GET /v1/models` (default: just [`DEFAULT_MODEL`]).
    #[must_use]
    pub fn model(mut self, id: impl Into<String>) -> Self {
        self.models.push(id.into());
        self
    }

    /// Queues a reply on the shared queue (see [`ScriptedLlm::push`]).
    #[must_use]
    pub fn reply(mut self, reply: Reply) -> Self {
        self.script.push((None, reply));
        self
    }

    /// Queues a reply only OpenAI requests take (see [`ScriptedLlm::push_openai`]).
    #[must_use]
    pub fn openai_reply(mut self, reply: Reply) -> Self {
        self.script.push((Some(Provider::OpenAi), reply));
        self
    }

    /// Queues a reply only Anthropic requests take (see [`ScriptedLlm::push_anthropic`]).
    #[must_use]
    pub fn anthropic_reply(mut self, reply: Reply) -> Self {
        self.script.push((Some(Provider::Anthropic), reply));
        self
    }

    /// Binds `127.0.0.1:0` and starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// When the listener cannot be bound.
    pub async fn start(self) -> std::io::Result<ScriptedLlm> {
        let models = if self.models.is_empty() { vec![DEFAULT_MODEL.to_owned()] } else { self.models };
        let shared = Arc::new(Shared {
            auth: self.auth,
            models,
            script: Mutex::new(Script::default()),
            gates: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            request_count: watch::Sender::new(0),
            chat_count: Mutex::new(0),
            shutdown: watch::Sender::new(false),
        });
        for (queue, reply) in self.script {
            shared.push(queue, reply);
        }
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        server::spawn(listener, Arc::clone(&shared));
        Ok(ScriptedLlm { addr, shared })
    }
}

/// A scripted LLM server on `127.0.0.1`. It stops when dropped: the listener closes, idle
/// connections close, and hanging or gated replies end.
///
/// Replies are consumed one per chat request (`/v1/chat/completions` or `/v1/messages`): a
/// request first takes from its provider's own queue ([`ScriptedLlm::push_openai`],
/// [`ScriptedLlm::push_anthropic`]) and, when that is empty, from the shared queue
/// ([`ScriptedLlm::push`]). Requests rejected for auth or a bad body consume nothing.
pub struct ScriptedLlm {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ScriptedLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedLlm").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl ScriptedLlm {
    /// Starts a server that accepts any key and has an empty script.
    ///
    /// # Errors
    /// When the listener cannot be bound.
    pub async fn start() -> std::io::Result<Self> {
        Self::builder().start().await
    }

    /// A builder for the key, models and initial script.
    pub fn builder() -> Builder {
        Builder { auth: Auth::AnyKey, models: Vec::new(), script: Vec::new() }
    }

    /// The server's socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash: clients call
    /// `{base}/v1/chat/completions` and `{base}/v1/messages`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`, the form OpenAI-compatible clients take as their base URL
    /// (they append `/chat/completions`).
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.base_url())
    }

    /// Queues a reply on the shared queue, taken by either provider.
    pub fn push(&self, reply: Reply) {
        self.shared.push(None, reply);
    }

    /// Queues a reply that only OpenAI requests take (before the shared queue).
    pub fn push_openai(&self, reply: Reply) {
        self.shared.push(Some(Provider::OpenAi), reply);
    }

    /// Queues a reply that only Anthropic requests take (before the shared queue).
    pub fn push_anthropic(&self, reply: Reply) {
        self.shared.push(Some(Provider::Anthropic), reply);
    }

    /// How many scripted replies no request has taken yet.
    pub fn remaining(&self) -> usize {
        lock(&self.shared.script).len()
    }

    /// The gate of the `index`-th gated reply added to the script (from 0, counting every queue
    /// in push order). May be called before that reply is pushed.
    pub fn gate(&self, index: usize) -> Gate {
        self.shared.gate(index)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Waits until at least `count` requests have arrived, then returns them all.
    ///
    /// # Errors
    /// When `within` passes first; the error carries the requests received so far.
    pub async fn wait_for_requests(
        &self,
        count: usize,
        within: Duration,
    ) -> Result<Vec<RecordedRequest>, Vec<RecordedRequest>> {
        let mut rx = self.shared.request_count.subscribe();
        match tokio::time::timeout(within, rx.wait_for(|n| *n >= count)).await {
            Ok(_) => Ok(self.requests()),
            Err(_) => Err(self.requests()),
        }
    }
}

impl Drop for ScriptedLlm {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}
