//! [`Worker`]: how a worker says what it serves, each function id written once.
//!
//! A worker crate declares itself in one function that returns a `Worker<S>`:
//!
//! ```ignore
//! pub fn worker() -> Worker<Store> {
//!     Worker::new("realm", "Realms, the unit of tenancy ...")
//!         .function("realm::get", "One realm by {id}.", |s: Store, req: RealmId| async move { get(&s, req).await })
//!         .route("realm::http_get", "GET", "/v1/realms/:id", |s: Store, req: HttpRequest| async move { ... })
//! }
//! ```
//!
//! Rules it keeps:
//! - The manifest (functions, routes, dependencies, restart policy) is derived from the
//!   declarations ([`Worker::manifest`]), so what the supervisor waits for, what
//!   `iii.worker.yaml` lists and what the worker registers cannot drift apart.
//! - `S` is the worker's service: whatever its handlers share (a store over `state::*`, an
//!   `Arc` of its settings). It is built once the connection exists ([`Worker::run`]), or given
//!   by a test ([`Worker::register`]); every call gets its own clone.
//! - Handlers return their domain error; anything that implements [`ErrorCode`] leaves as
//!   `CODE: message` on the bus and as `{"error":{"code","message"}}` with the error's own
//!   status on a route.
//! - A declaration registers nothing by itself: building a `Worker` needs no engine, so the
//!   catalogue can read every manifest without starting anything.

use std::future::Future;
use std::sync::Arc;

use iii_sdk::{III, RegisterFunctionMessage, RegisterTriggerInput};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ErrorCode, WorkerError};
use crate::health::{HealthStatus, register_manifest_health_with};
use crate::http::{HttpRequest, HttpResponse, register_route};
use crate::manifest::{HttpRoute, RestartPolicy, WorkerManifest};
use crate::typed::register_typed_with;

/// What a binding gets when the worker registers: the connection, the service, the API key.
pub struct Registration<'a, S> {
    /// The worker's connection to the engine.
    pub iii: &'a III,
    /// The worker's service; handlers get clones of it.
    pub service: &'a S,
    /// The key every route but `GET /v1/health` checks; `None` refuses every request.
    pub api_key: &'a Option<Arc<str>>,
}

/// Registers one declaration; a bus function gets its registration message (with the
/// request schema, when one was declared).
type Bind<S> = Box<dyn Fn(&Registration<'_, S>, Option<RegisterFunctionMessage>) + Send + Sync>;

/// One declaration: a bus function (with its message) or anything else (a route, a trigger).
struct Binding<S> {
    /// The function's registration message; `None` for routes and triggers.
    message: Option<RegisterFunctionMessage>,
    bind: Bind<S>,
}

/// A worker's declaration: its manifest, and how each of its functions, routes and triggers is
/// bound to its service `S`. Route handlers fail with the worker's error type `E` (so `?`
/// works on anything that converts into it); bus functions may fail with any [`ErrorCode`].
/// Build it with [`Worker::new`] and the chained methods.
pub struct Worker<S, E = WorkerError> {
    manifest: WorkerManifest,
    bindings: Vec<Binding<S>>,
    error: std::marker::PhantomData<fn() -> E>,
}

impl<S: Clone + Send + Sync + 'static, E: ErrorCode> Worker<S, E> {
    /// A worker named `name` (kebab-case) owning what `description` says, with nothing yet.
    pub fn new(name: &'static str, description: &'static str) -> Self {
        Self {
            manifest: WorkerManifest {
                name,
                description,
                functions: Vec::new(),
                http_routes: Vec::new(),
                depends_on: &[],
                restart: RestartPolicy::Always,
            },
            bindings: Vec::new(),
            error: std::marker::PhantomData,
        }
    }

    /// Workers that must be ready before this one starts.
    pub fn depends_on(mut self, workers: &'static [&'static str]) -> Self {
        self.manifest.depends_on = workers;
        self
    }

    /// What the supervisor does when the worker exits (default: always restart).
    pub fn restart(mut self, policy: RestartPolicy) -> Self {
        self.manifest.restart = policy;
        self
    }

    /// A bus function `id`: its input is decoded into `Req` (`INVALID_INPUT` naming the
    /// expected fields when it does not decode), `handler` runs on a clone of the service, and
    /// its `Resp` is the result.
    pub fn function<Req, Resp, Fail, F, Fut>(mut self, id: &'static str, description: &'static str, handler: F) -> Self
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + 'static,
        Fail: ErrorCode,
        F: Fn(S, Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Resp, Fail>> + Send + 'static,
    {
        self.manifest.functions.push(id);
        let handler = Arc::new(handler);
        let message = RegisterFunctionMessage::with_id(id.to_string()).with_description(description.to_string());
        self.bindings.push(Binding {
            message: Some(message),
            bind: Box::new(move |r: &Registration<'_, S>, message: Option<RegisterFunctionMessage>| {
                let Some(message) = message else { return };
                let (service, handler) = (r.service.clone(), Arc::clone(&handler));
                register_typed_with(r.iii, message, move |req: Req| {
                    let done = handler(service.clone(), req);
                    async move { done.await.map_err(|e| e.to_worker_error()) }
                });
            }),
        });
        self
    }

    /// A bus function `id` whose `handler` blocks (file work, a CPU-heavy step): like
    /// [`Worker::function`], but `handler` runs on tokio's blocking pool, never on the
    /// executor or the SDK's connection thread. A handler that panics answers `INTERNAL`.
    pub fn blocking_function<Req, Resp, Fail, F>(self, id: &'static str, description: &'static str, handler: F) -> Self
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
        Fail: ErrorCode,
        F: Fn(S, Req) -> Result<Resp, Fail> + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        self.function(id, description, move |service: S, req: Req| {
            let handler = Arc::clone(&handler);
            async move {
                match tokio::task::spawn_blocking(move || handler(service, req)).await {
                    Ok(result) => result.map_err(|e| e.to_worker_error()),
                    Err(e) => Err(WorkerError::internal(format!("{id}: the blocking task failed: {e}"))),
                }
            }
        })
    }

    /// Anything else to do at registration with the connection and the service (a background
    /// task, a dynamic trigger): declared here so that `register` stays the one way in.
    pub fn on_register(mut self, f: impl Fn(&Registration<'_, S>) + Send + Sync + 'static) -> Self {
        self.bindings.push(Binding { message: None, bind: Box::new(move |r: &Registration<'_, S>, _| f(r)) });
        self
    }

    /// The JSON schema of the request of the function declared last: what agents offer a model
    /// as the tool's parameters (`request_format` in the registration).
    pub fn request_format(mut self, schema: Value) -> Self {
        if let Some(message) = self.bindings.last_mut().and_then(|b| b.message.as_mut()) {
            message.request_format = Some(schema);
        }
        self
    }

    /// An HTTP route `method path` served by function `id`: the function and its `http`
    /// trigger in one declaration. The bearer key is checked before `handler` runs; its
    /// domain error becomes `{"error":{"code","message"}}` with the error's status.
    pub fn route<F, Fut>(mut self, id: &'static str, method: &'static str, path: &'static str, handler: F) -> Self
    where
        F: Fn(S, HttpRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HttpResponse, E>> + Send + 'static,
    {
        let route = HttpRoute { method, path, function_id: id };
        self.manifest.functions.push(id);
        self.manifest.http_routes.push(route);
        let name = self.manifest.name;
        let handler = Arc::new(handler);
        self.bindings.push(Binding {
            message: None,
            bind: Box::new(move |r: &Registration<'_, S>, _| {
                let (service, handler) = (r.service.clone(), Arc::clone(&handler));
                let serve = move |req: HttpRequest| {
                    let done = handler(service.clone(), req);
                    async move { Ok(done.await.unwrap_or_else(|e| error_response(id, &e))) }
                };
                if let Err(e) = register_route(r.iii, name, route, r.api_key.clone(), serve) {
                    // Only a trigger config that does not encode gets here; the supervisor's
                    // readiness check then reports the route as missing, by name.
                    tracing::error!(worker = name, code = %e.code, message = %e.message, "could not register a route");
                }
            }),
        });
        self
    }

    /// A function `id` that a trigger of `trigger_type` with `config` calls (a `subscribe`
    /// topic, a `state` scope, a `cron` schedule): the function and its trigger in one
    /// declaration. A trigger the engine refuses is logged; readiness still waits for `id`.
    pub fn trigger<Req, Fail, F, Fut>(
        self,
        trigger_type: &'static str,
        config: Value,
        id: &'static str,
        description: &'static str,
        handler: F,
    ) -> Self
    where
        Req: DeserializeOwned + Send + 'static,
        Fail: ErrorCode,
        F: Fn(S, Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Fail>> + Send + 'static,
    {
        let name = self.manifest.name;
        self.function(id, description, handler).on_register(move |r: &Registration<'_, S>| {
            let input = RegisterTriggerInput {
                trigger_type: trigger_type.to_string(),
                function_id: id.to_string(),
                config: config.clone(),
                metadata: None,
            };
            if let Err(e) = r.iii.register_trigger(input) {
                tracing::error!(worker = name, function_id = id, trigger_type, "could not register the trigger: {e}");
            }
        })
    }

    /// A function `id` called for every message published on `topic`.
    pub fn subscribe<Req, Fail, F, Fut>(
        self,
        topic: &'static str,
        id: &'static str,
        description: &'static str,
        handler: F,
    ) -> Self
    where
        Req: DeserializeOwned + Send + 'static,
        Fail: ErrorCode,
        F: Fn(S, Req) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Fail>> + Send + 'static,
    {
        self.trigger("subscribe", serde_json::json!({ "topic": topic }), id, description, handler)
    }

    /// What the worker declares: the supervisor waits for it, `iii.worker.yaml` mirrors it.
    pub fn manifest(&self) -> &WorkerManifest {
        &self.manifest
    }

    /// The `request_format` schema declared for function `id` ([`Worker::request_format`]);
    /// `None` when `id` is not a declared bus function or has no schema. What a worker's test
    /// reads to check that every tool offers its parameters.
    pub fn request_format_of(&self, id: &str) -> Option<&Value> {
        self.bindings
            .iter()
            .filter_map(|b| b.message.as_ref())
            .find(|m| m.id == id)
            .and_then(|m| m.request_format.as_ref())
    }

    /// The declaration's manifest, the handlers dropped.
    pub fn into_manifest(self) -> WorkerManifest {
        self.manifest
    }

    /// Registers every declared function, route and trigger on `iii` over `service` (call
    /// inside a tokio runtime). The health function is the caller's ([`Worker::run`] and the
    /// test harness register it).
    pub fn register(&self, iii: &III, service: S, api_key: Option<Arc<str>>) {
        if api_key.is_none() && !self.manifest.http_routes.is_empty() {
            tracing::warn!(
                worker = self.manifest.name,
                "no API key ({}): every route but GET /v1/health refuses requests",
                crate::http::API_KEY_ENV
            );
        }
        let registration = Registration { iii, service: &service, api_key: &api_key };
        for binding in &self.bindings {
            (binding.bind)(&registration, binding.message.clone());
        }
    }

    /// Runs the worker as its own process until SIGTERM or SIGINT (`agentos worker <name>`):
    /// connects, registers `<name>::health`, builds the service with `service` (inside the
    /// runtime, so it may spawn background tasks), registers everything with the API key from
    /// the environment, then waits.
    ///
    /// Errors: as [`crate::run::run_worker`], and whatever `service` returns.
    pub fn run(self, service: impl FnOnce(&III) -> Result<S, WorkerError>) -> Result<(), WorkerError> {
        self.run_with_health(HealthStatus::default(), service)
    }

    /// [`Worker::run`] with health answering from `health` (the worker reports problems there).
    ///
    /// Errors: as [`Worker::run`].
    pub fn run_with_health(
        self,
        health: HealthStatus,
        service: impl FnOnce(&III) -> Result<S, WorkerError>,
    ) -> Result<(), WorkerError> {
        let mut failed = None;
        crate::run::run_worker_with_health(&self.manifest, health, |iii| match service(iii) {
            Ok(s) => self.register(iii, s, crate::http::api_key_from_env()),
            Err(e) => failed = Some(e),
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// Registers the health function from `health` and everything else: what the test harness
    /// and [`Worker::run`] share.
    pub fn register_with_health(&self, iii: &III, health: HealthStatus, service: S, api_key: Option<Arc<str>>) {
        register_manifest_health_with(iii, &self.manifest, health);
        self.register(iii, service, api_key);
    }
}

/// The HTTP answer for a route handler's error, logged when it is the server's fault.
fn error_response(function_id: &str, e: &impl ErrorCode) -> HttpResponse {
    let status = e.status();
    let error = e.to_worker_error();
    if status >= 500 {
        tracing::warn!(function_id, code = %error.code, message = %error.message, "http handler failed");
    }
    HttpResponse::error(status, &error.code, error.message)
}
