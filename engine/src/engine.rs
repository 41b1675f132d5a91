//! The engine core: the function registry, connected workers and invocation routing.
//!
//! Rules it keeps (spec §1.8, §2):
//! - Function ids are global. A built-in is never replaced; an id a live connection serves is
//!   taken over only by a connection of the same identity (a worker reconnecting). Clean-up after
//!   a disconnect removes an id only while the departing worker still owns it, so a reconnecting
//!   worker that re-registered first is never undone by its old connection's clean-up.
//! - A call forwarded to a worker reuses the caller's invocation id; every engine→worker invoke
//!   carries a UUID. Results are matched by id; unknown ids are dropped.
//! - When either side of a call disconnects, the waiter gets `invocation_stopped` at once.
//! - Every call is a span (see [`crate::trace`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use agentos_protocol::{ErrorBody, Message, codes};
use axum::extract::ws::Message as WsMessage;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::config::EngineConfig;
use crate::store::{SpanRecord, Store};
use crate::trace::{SpanContext, SpanWriter, now_ms, now_ns};
use crate::triggers::TriggerRegistry;

/// A connected worker's id (new for every connection).
pub type WorkerId = Uuid;

/// What a function call returns: a value (None = no result) or an error body.
pub type CallResult = Result<Option<Value>, ErrorBody>;

/// A boxed future of a built-in function.
pub type BuiltinFuture = Pin<Box<dyn Future<Output = CallResult> + Send>>;

/// A function that runs inside the engine.
pub type BuiltinFn = Arc<dyn Fn(Engine, Value, CallMeta) -> BuiltinFuture + Send + Sync>;

/// What a built-in function knows about the call it serves.
#[derive(Debug, Clone, Default)]
pub struct CallMeta {
    /// The `traceparent` naming the span of this call; pass it on to nested calls.
    pub traceparent: Option<String>,
    /// The caller's baggage, passed through.
    pub baggage: Option<String>,
    /// The worker that made the call, when it came from a worker socket.
    pub caller: Option<WorkerId>,
}

/// Who serves a function.
#[derive(Clone)]
pub enum Target {
    /// A function inside the engine.
    Builtin(BuiltinFn),
    /// A function on a connected worker.
    Worker(WorkerId),
}

/// A registered function.
#[derive(Clone)]
pub struct FunctionEntry {
    pub target: Target,
    pub description: Option<String>,
    pub request_format: Option<Value>,
    pub response_format: Option<Value>,
    pub metadata: Option<Value>,
}

/// The sending half of a worker's socket. Senders write and flush directly under an async
/// lock instead of handing frames to a writer task: on a 2-core machine every thread hand-off
/// costs a wake-up, and a call crosses two sockets each way.
pub type Outbound = Arc<tokio::sync::Mutex<futures_util::stream::SplitSink<axum::extract::ws::WebSocket, WsMessage>>>;

/// A connected worker.
pub struct WorkerConn {
    pub id: WorkerId,
    pub tx: Outbound,
    pub ip_address: String,
    pub connected_at_ms: i64,
    /// What the worker told `engine::workers::register` about itself.
    pub metadata: Value,
    /// What its handshake authenticated it as, and its listener's rules.
    pub session: Arc<crate::rbac::Session>,
}

struct Pending {
    tx: oneshot::Sender<(CallResult, Option<String>)>,
    callee: WorkerId,
    caller: Option<WorkerId>,
}

/// How a call is made.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// The caller's `traceparent`, if any.
    pub traceparent: Option<String>,
    /// The caller's baggage, if any.
    pub baggage: Option<String>,
    /// The calling worker, for calls from a socket.
    pub caller: Option<WorkerId>,
    /// The invocation id to reuse when forwarding (the caller's own id).
    pub invocation_id: Option<Uuid>,
    /// An engine-side deadline. Calls from workers have none (the SDK times them out); trigger
    /// deliveries use one so a worker that never answers cannot hold a queue slot forever.
    pub deadline: Option<Duration>,
}

pub(crate) struct Inner {
    pub config: EngineConfig,
    pub store: Arc<Store>,
    pub spans: SpanWriter,
    functions: RwLock<HashMap<String, FunctionEntry>>,
    workers: Mutex<HashMap<WorkerId, Arc<WorkerConn>>>,
    pending: Mutex<HashMap<Uuid, Pending>>,
    pub triggers: TriggerRegistry,
    pub queues: crate::queue::Queues,
    pub streams: crate::stream::StreamHub,
    pub channels: crate::channels::ChannelTable,
    /// What departed workers served, so callers wait for their restart.
    pub departed: crate::departed::Departed,
    /// Set once shutdown has begun.
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

/// The engine handle; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

/// Locks a mutex, recovering from poisoning: every critical section here leaves the maps
/// consistent between statements, so a panic elsewhere must not take the engine down.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Engine {
    /// Builds the engine over an opened store. Must be called inside a tokio runtime.
    pub fn new(config: EngineConfig, store: Store) -> Self {
        let store = Arc::new(store);
        let spans = SpanWriter::spawn(store.clone(), config.trace_max_spans);
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let engine = Self {
            inner: Arc::new(Inner {
                config,
                store,
                spans,
                functions: RwLock::new(HashMap::new()),
                workers: Mutex::new(HashMap::new()),
                pending: Mutex::new(HashMap::new()),
                triggers: TriggerRegistry::default(),
                queues: crate::queue::Queues::default(),
                streams: crate::stream::StreamHub::default(),
                channels: crate::channels::ChannelTable::default(),
                departed: crate::departed::Departed::default(),
                shutdown,
            }),
        };
        crate::builtins::register_all(&engine);
        engine
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The durable store.
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// The open channels (`engine::channels::create`, HTTP request and response bodies).
    pub fn channels(&self) -> &crate::channels::ChannelTable {
        &self.inner.channels
    }

    /// Resolves when shutdown begins.
    pub async fn shutting_down(&self) {
        let mut rx = self.inner.shutdown.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Begins shutdown: listeners stop and background tasks end.
    pub fn begin_shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
    }

    // ---- functions ---------------------------------------------------------------------------

    /// Registers a built-in function taking raw JSON.
    pub fn register_builtin<F, Fut>(&self, id: &str, description: &str, f: F)
    where
        F: Fn(Engine, Value, CallMeta) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CallResult> + Send + 'static,
    {
        let handler: BuiltinFn = Arc::new(move |engine, input, meta| Box::pin(f(engine, input, meta)));
        write(&self.inner.functions).insert(
            id.to_string(),
            FunctionEntry {
                target: Target::Builtin(handler),
                description: Some(description.to_string()),
                request_format: None,
                response_format: None,
                metadata: None,
            },
        );
    }

    /// Registers a built-in function whose input is a typed struct; a bad input gives
    /// `deserialization_error` naming the function.
    pub fn register_typed<T, R, F, Fut>(&self, id: &'static str, description: &str, f: F)
    where
        T: DeserializeOwned + Send + 'static,
        R: Serialize,
        F: Fn(Engine, T, CallMeta) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ErrorBody>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.register_builtin(id, description, move |engine, input, meta| {
            let f = f.clone();
            async move {
                let input = without_caller_id(input);
                let typed: T = serde_json::from_value(input).map_err(|e| {
                    ErrorBody::new(codes::DESERIALIZATION_ERROR, format!("Failed to deserialize input for {id}: {e}"))
                })?;
                let out = f(engine, typed, meta).await?;
                let value = serde_json::to_value(out)
                    .map_err(|e| ErrorBody::new("serialization_error", format!("{id}: {e}")))?;
                Ok((!value.is_null()).then_some(value))
            }
        });
    }

    /// Registers a function served by a worker, or takes it over from another connection of
    /// the same identity (a worker reconnecting). Returns the previous owner when it changes.
    ///
    /// Errors: a built-in id (the engine's own functions are never replaced), or an id a live
    /// connection of another identity owns (see [`crate::rbac::Session::same_identity`]).
    pub fn register_worker_function(
        &self,
        worker: WorkerId,
        id: String,
        entry: FunctionEntry,
    ) -> Result<Option<WorkerId>, String> {
        let session = self.session_of(worker);
        let mut functions = write(&self.inner.functions);
        let previous_worker = match functions.get(&id).map(|e| &e.target) {
            Some(Target::Builtin(_)) => {
                return Err(format!("function {id} is built into the engine and cannot be registered by a worker"));
            }
            Some(Target::Worker(owner)) if *owner != worker => {
                let owner_session = self.session_of(*owner);
                match (&session, owner_session) {
                    (Some(new), Some(old)) if !new.same_identity(&old) => {
                        return Err(format!(
                            "function {id} is served by another worker connection ({owner}); only the same identity may replace it"
                        ));
                    }
                    _ => Some(*owner),
                }
            }
            _ => None,
        };
        functions.insert(id.clone(), entry);
        drop(functions);
        self.inner.departed.function_registered(&id);
        if let Some(old) = previous_worker {
            tracing::info!(function_id = %id, %old, new = %worker, "function {id} taken over by a new connection of the same identity");
        }
        Ok(previous_worker)
    }

    /// The session of a connected worker.
    pub fn session_of(&self, worker: WorkerId) -> Option<Arc<crate::rbac::Session>> {
        lock(&self.inner.workers).get(&worker).map(|c| c.session.clone())
    }

    /// Removes a function if `worker` still owns it.
    pub fn unregister_worker_function(&self, worker: WorkerId, id: &str) -> bool {
        let mut functions = write(&self.inner.functions);
        match functions.get(id) {
            Some(FunctionEntry { target: Target::Worker(owner), .. }) if *owner == worker => {
                functions.remove(id);
                true
            }
            _ => false,
        }
    }

    /// A snapshot of every registered function, sorted by id.
    pub fn functions(&self) -> Vec<(String, FunctionEntry)> {
        let mut all: Vec<_> = read(&self.inner.functions).iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// A registered function's metadata (what RBAC metadata filters look at).
    pub fn function_metadata(&self, id: &str) -> Option<Value> {
        read(&self.inner.functions).get(id).and_then(|e| e.metadata.clone())
    }

    /// Whether a function id is registered.
    pub fn has_function(&self, id: &str) -> bool {
        read(&self.inner.functions).contains_key(id)
    }

    fn lookup(&self, id: &str) -> Option<Target> {
        read(&self.inner.functions).get(id).map(|e| e.target.clone())
    }

    // ---- workers -----------------------------------------------------------------------------

    /// Adds a connection.
    pub fn add_worker(&self, conn: WorkerConn) -> Arc<WorkerConn> {
        let conn = Arc::new(conn);
        lock(&self.inner.workers).insert(conn.id, conn.clone());
        conn
    }

    /// A connected worker by id.
    pub fn worker(&self, id: WorkerId) -> Option<Arc<WorkerConn>> {
        lock(&self.inner.workers).get(&id).cloned()
    }

    /// Every connected worker.
    pub fn workers(&self) -> Vec<Arc<WorkerConn>> {
        lock(&self.inner.workers).values().cloned().collect()
    }

    /// Replaces a worker's self-description (from `engine::workers::register`).
    pub fn set_worker_metadata(&self, id: WorkerId, metadata: Value) -> bool {
        let mut workers = lock(&self.inner.workers);
        let Some(old) = workers.get(&id).cloned() else { return false };
        let updated = WorkerConn {
            id: old.id,
            tx: old.tx.clone(),
            ip_address: old.ip_address.clone(),
            connected_at_ms: old.connected_at_ms,
            metadata,
            session: old.session.clone(),
        };
        workers.insert(id, Arc::new(updated));
        true
    }

    /// Ids of the functions a worker owns, sorted.
    pub fn functions_of(&self, worker: WorkerId) -> Vec<String> {
        let mut ids: Vec<String> = read(&self.inner.functions)
            .iter()
            .filter(|(_, e)| matches!(e.target, Target::Worker(w) if w == worker))
            .map(|(k, _)| k.clone())
            .collect();
        ids.sort();
        ids
    }

    /// How many calls a worker is serving or waiting on.
    pub fn active_invocations(&self, worker: WorkerId) -> usize {
        lock(&self.inner.pending).values().filter(|p| p.callee == worker || p.caller == Some(worker)).count()
    }

    /// Everything §1.8 asks when a worker goes away.
    pub fn remove_worker(&self, worker: WorkerId) {
        // 1. Functions it still owns.
        let mut owned = Vec::new();
        write(&self.inner.functions).retain(|id, e| {
            let mine = matches!(e.target, Target::Worker(w) if w == worker);
            if mine {
                owned.push(id.clone());
            }
            !mine
        });
        // 2. Calls it was serving or making.
        let stopped: Vec<Pending> = {
            let mut pending = lock(&self.inner.pending);
            let ids: Vec<Uuid> = pending
                .iter()
                .filter(|(_, p)| p.callee == worker || p.caller == Some(worker))
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| pending.remove(id)).collect()
        };
        for p in stopped {
            let _ = p.tx.send((Err(ErrorBody::new(codes::INVOCATION_STOPPED, "Invocation stopped")), None));
        }
        // 3. Triggers and trigger types it registered.
        let routes = crate::triggers::remove_worker(self, worker);
        if !self.is_shutting_down() && (!owned.is_empty() || !routes.is_empty()) {
            let label = self
                .worker(worker)
                .map_or_else(|| worker.to_string(), |c| crate::departed::worker_label(&c.metadata, worker));
            self.inner.departed.worker_left(&label, owned, routes);
        }
        // 4. Channels it created and nobody has started to use, then the connection itself.
        let channels = self.inner.channels.remove_unused_of(worker);
        if channels > 0 {
            tracing::debug!(%worker, channels, "removed the departed worker's unused channels");
        }
        lock(&self.inner.workers).remove(&worker);
        crate::builtins::engine_fns::fire_workers_available(self, "worker_disconnected", worker);
    }

    /// Sends a frame to a worker. Fails when the worker is gone.
    pub async fn send_to(&self, worker: WorkerId, msg: &Message) -> Result<(), ErrorBody> {
        let Some(conn) = self.worker(worker) else {
            return Err(ErrorBody::new(codes::CHANNEL_SEND_FAILED, format!("worker {worker} is not connected")));
        };
        let text = serde_json::to_string(msg).map_err(|e| ErrorBody::new("serialization_error", e.to_string()))?;
        let send = async {
            let mut sink = conn.tx.lock().await;
            futures_util::SinkExt::send(&mut *sink, WsMessage::Text(text.into())).await
        };
        match tokio::time::timeout(SEND_TIMEOUT, send).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(ErrorBody::new(codes::CHANNEL_SEND_FAILED, format!("worker {worker} disconnected"))),
            Err(_) => Err(ErrorBody::new(
                codes::CHANNEL_SEND_FAILED,
                format!("worker {worker} has not read its socket for {}s", SEND_TIMEOUT.as_secs()),
            )),
        }
    }

    // ---- invocation --------------------------------------------------------------------------

    /// Calls a function by id, recording a span. Returns the result and the span's
    /// `traceparent` (to hand back to the caller).
    pub async fn call(&self, function_id: &str, data: Value, opts: CallOptions) -> (CallResult, String) {
        let span = SpanContext::child_of(opts.traceparent.as_deref());
        let start_ns = now_ns();
        let target = self.resolve(function_id, opts.deadline).await;
        let mut worker_id = None;
        let mut remote_span_id = None;
        let result = match target {
            Err(e) => Err(e),
            Ok(Target::Builtin(f)) => {
                let meta = CallMeta {
                    traceparent: Some(span.traceparent()),
                    baggage: opts.baggage.clone(),
                    caller: opts.caller,
                };
                let fut = f(self.clone(), data, meta);
                match opts.deadline {
                    Some(d) => {
                        tokio::time::timeout(d, fut).await.unwrap_or_else(|_| Err(deadline_error(function_id, d)))
                    }
                    None => fut.await,
                }
            }
            Ok(Target::Worker(callee)) => {
                worker_id = Some(callee);
                let (result, remote) = self.forward(callee, function_id, data, &span, &opts).await;
                remote_span_id = remote.as_deref().and_then(crate::trace::parse_traceparent).map(|(_, s)| s);
                result
            }
        };
        let end_ns = now_ns();
        let (status, error_code, error_message) = match &result {
            Ok(_) => ("ok", None, None),
            Err(e) => ("error", Some(e.code.clone()), Some(e.message.clone())),
        };
        self.inner.spans.record(SpanRecord {
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
            parent_span_id: span.parent_span_id.clone(),
            remote_span_id,
            name: format!("call {function_id}"),
            function_id: Some(function_id.to_string()),
            worker_id: worker_id.map(|w| w.to_string()),
            caller_worker_id: opts.caller.map(|w| w.to_string()),
            internal: function_id.starts_with("engine::"),
            start_ns,
            end_ns,
            status: status.to_string(),
            error_code,
            error_message,
            service_name: "agentos-engine".to_string(),
            attributes: Vec::new(),
        });
        (result, span.traceparent())
    }

    /// The target of `function_id`. When its worker went away recently, waits (within
    /// [`crate::departed::RESTART_WAIT`] and `deadline`) for it to register again.
    async fn resolve(&self, function_id: &str, deadline: Option<Duration>) -> Result<Target, ErrorBody> {
        if let Some(target) = self.lookup(function_id) {
            return Ok(target);
        }
        let not_found = || ErrorBody::new(codes::FUNCTION_NOT_FOUND, format!("Function {function_id} not found"));
        let Some(worker) = self.inner.departed.function(function_id) else { return Err(not_found()) };
        let wait = self.config().restart_wait;
        let limit = deadline.map_or(wait, |d| d.min(wait));
        match crate::departed::wait_for(self, limit, || self.lookup(function_id)).await {
            Some(target) => Ok(target),
            None => Err(ErrorBody::new(
                codes::FUNCTION_NOT_FOUND,
                format!(
                    "Function {function_id} not found: its worker {worker} went away and did not register it again within {}s",
                    limit.as_secs_f32()
                ),
            )),
        }
    }

    async fn forward(
        &self,
        callee: WorkerId,
        function_id: &str,
        data: Value,
        span: &SpanContext,
        opts: &CallOptions,
    ) -> (CallResult, Option<String>) {
        let (tx, rx) = oneshot::channel();
        let invocation_id = {
            let mut pending = lock(&self.inner.pending);
            let mut id = opts.invocation_id.unwrap_or_else(Uuid::new_v4);
            while pending.contains_key(&id) {
                id = Uuid::new_v4();
            }
            pending.insert(id, Pending { tx, callee, caller: opts.caller });
            id
        };
        // A worker whose ids carry a registration prefix knows its functions without it.
        let local_id = match self.session_of(callee) {
            Some(session) => session.local_id(function_id).to_string(),
            None => function_id.to_string(),
        };
        let frame = Message::InvokeFunction {
            invocation_id: Some(invocation_id),
            function_id: local_id,
            data,
            traceparent: Some(span.traceparent()),
            baggage: opts.baggage.clone(),
            action: None,
        };
        if let Err(err) = self.send_to(callee, &frame).await {
            lock(&self.inner.pending).remove(&invocation_id);
            return (Err(err), None);
        }
        let answer = match opts.deadline {
            Some(d) => match tokio::time::timeout(d, rx).await {
                Ok(answer) => answer,
                Err(_) => {
                    lock(&self.inner.pending).remove(&invocation_id);
                    return (Err(deadline_error(function_id, d)), None);
                }
            },
            None => rx.await,
        };
        match answer {
            Ok((result, traceparent)) => (result, traceparent),
            Err(_) => (Err(ErrorBody::new(codes::INVOCATION_ERROR, "the invocation was dropped")), None),
        }
    }

    /// Calls a function for the engine's own purposes (auth functions, registration hooks,
    /// middleware): a built-in runs directly, without a span of its own, so security checks do
    /// not show up in every trace; a worker-served one is an ordinary call.
    pub async fn call_quiet(&self, function_id: &str, data: Value, meta: CallMeta) -> CallResult {
        match self.lookup(function_id) {
            Some(Target::Builtin(f)) => f(self.clone(), data, meta).await,
            Some(Target::Worker(_)) => {
                let opts = CallOptions {
                    traceparent: meta.traceparent,
                    baggage: meta.baggage,
                    caller: meta.caller,
                    invocation_id: None,
                    deadline: Some(HOOK_DEADLINE),
                };
                self.call(function_id, data, opts).await.0
            }
            None => Err(ErrorBody::new(codes::FUNCTION_NOT_FOUND, format!("Function {function_id} not found"))),
        }
    }

    /// Carries out a worker's invocation as its socket asked: a call (the answer returned), a
    /// fire-and-forget call (`void`: `None` at once) or an enqueue (the receipt). `_caller_worker_id`
    /// is added to object payloads of calls. Middleware uses this once it has let a call pass.
    pub async fn dispatch(
        &self,
        function_id: &str,
        mut data: Value,
        action: Option<agentos_protocol::TriggerAction>,
        meta: CallMeta,
    ) -> CallResult {
        use agentos_protocol::TriggerAction;
        match action {
            Some(TriggerAction::Enqueue { queue }) => {
                let receipt =
                    crate::queue::enqueue(self, &queue, function_id, data, meta.traceparent.clone(), meta.baggage)?;
                Ok(Some(serde_json::json!({ "messageReceiptId": receipt })))
            }
            Some(TriggerAction::Void) => {
                inject_caller(&mut data, meta.caller);
                let engine = self.clone();
                let function_id = function_id.to_string();
                tokio::spawn(async move {
                    let opts = CallOptions {
                        traceparent: meta.traceparent,
                        baggage: meta.baggage,
                        caller: meta.caller,
                        ..CallOptions::default()
                    };
                    if let (Err(e), _) = engine.call(&function_id, data, opts).await {
                        tracing::warn!(%function_id, "void call failed: {}: {}", e.code, e.message);
                    }
                });
                Ok(None)
            }
            None => {
                inject_caller(&mut data, meta.caller);
                let opts = CallOptions {
                    traceparent: meta.traceparent,
                    baggage: meta.baggage,
                    caller: meta.caller,
                    ..CallOptions::default()
                };
                self.call(function_id, data, opts).await.0
            }
        }
    }

    /// Delivers a worker's `invocationresult` to whoever waits on that id.
    pub fn complete(&self, from: WorkerId, invocation_id: Uuid, result: CallResult, traceparent: Option<String>) {
        let waiter = {
            let mut pending = lock(&self.inner.pending);
            match pending.get(&invocation_id) {
                Some(p) if p.callee == from => pending.remove(&invocation_id),
                _ => None,
            }
        };
        match waiter {
            Some(p) => {
                let _ = p.tx.send((result, traceparent));
            }
            None => tracing::debug!(%invocation_id, "result for an invocation nobody waits on; dropped"),
        }
    }

    /// Calls a function for a trigger delivery: no caller, an engine-side deadline.
    pub async fn deliver(&self, function_id: &str, data: Value, traceparent: Option<String>) -> CallResult {
        let opts = CallOptions { traceparent, deadline: Some(DELIVERY_DEADLINE), ..CallOptions::default() };
        self.call(function_id, data, opts).await.0
    }
}

/// How long a frame may wait for a worker's socket: a worker that stops reading must not hold
/// every caller of it (and the engine's tasks) forever.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a trigger delivery (cron, state, stream, pubsub, queue) may take. The real engine
/// waits forever, which lets one stuck worker hold a queue slot for good; five minutes is far
/// beyond any sane handler and still bounds the damage.
pub const DELIVERY_DEADLINE: Duration = Duration::from_secs(300);

fn deadline_error(function_id: &str, d: Duration) -> ErrorBody {
    ErrorBody::new(codes::INVOCATION_TIMEOUT, format!("{function_id} did not answer within {}s", d.as_secs()))
}

/// How long the engine waits for a worker-served auth function, hook or middleware decision.
const HOOK_DEADLINE: Duration = Duration::from_secs(30);

/// Adds `_caller_worker_id` to object payloads from a worker socket, as the real engine does.
pub(crate) fn inject_caller(data: &mut Value, worker: Option<WorkerId>) {
    if let (Some(obj), Some(worker)) = (data.as_object_mut(), worker) {
        obj.insert("_caller_worker_id".to_string(), Value::String(worker.to_string()));
    }
}

/// Removes the engine-injected `_caller_worker_id` so typed built-ins see only their own fields.
fn without_caller_id(mut input: Value) -> Value {
    if let Some(obj) = input.as_object_mut() {
        obj.remove("_caller_worker_id");
    }
    input
}

/// Milliseconds now, re-exported for modules that stamp records.
pub fn timestamp_ms() -> i64 {
    now_ms()
}
