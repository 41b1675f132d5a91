//! The thin glue between the realm domain and the engine: the manifest, the bindings of
//! `realm::*` ids and `/v1/realms` routes to the domain functions, and [`StateStore`], the
//! [`RealmStore`] over the engine's `state::*`.
//!
//! Rules it keeps:
//! - No decisions here: every handler decodes, calls one domain function and encodes.
//! - Bus functions (`realm::create`, ...) take the typed requests of the crate root. Routes are
//!   separate functions (`realm::http_create`, ...) because a route's function receives the
//!   HTTP request envelope, not the typed request; both call the same domain function.
//! - Realm keeps nothing in memory: a restarted worker answers from the engine's state.

use std::future::Future;
use std::sync::Arc;

use agentos_kit::http::{HttpRequest, HttpResponse, register_route};
use agentos_kit::state::{self, STATE_TIMEOUT};
use agentos_kit::{HttpRoute, III, RestartPolicy, WorkerError, WorkerManifest, call, clock, register_typed};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    CreateRealm, ImportRealm, ListRealms, REALMS_SCOPE, Realm, RealmError, RealmId, RealmPatch, RealmStore,
    UpdateRealm, create, delete, export, get, import, list, update,
};

/// `GET /v1/realms`: every realm.
const HTTP_LIST: HttpRoute = HttpRoute { method: "GET", path: "/v1/realms", function_id: "realm::http_list" };
/// `POST /v1/realms`: create one (body: [`CreateRealm`]); 201.
const HTTP_CREATE: HttpRoute = HttpRoute { method: "POST", path: "/v1/realms", function_id: "realm::http_create" };
/// `GET /v1/realms/:id`: one realm.
const HTTP_GET: HttpRoute = HttpRoute { method: "GET", path: "/v1/realms/:id", function_id: "realm::http_get" };
/// `PATCH /v1/realms/:id`: change it (body: [`RealmPatch`]).
const HTTP_UPDATE: HttpRoute = HttpRoute { method: "PATCH", path: "/v1/realms/:id", function_id: "realm::http_update" };
/// `DELETE /v1/realms/:id`: delete it and its scoped state.
const HTTP_DELETE: HttpRoute =
    HttpRoute { method: "DELETE", path: "/v1/realms/:id", function_id: "realm::http_delete" };
/// `GET /v1/realms/:id/export`: the export document.
const HTTP_EXPORT: HttpRoute =
    HttpRoute { method: "GET", path: "/v1/realms/:id/export", function_id: "realm::http_export" };
/// `POST /v1/realms/import`: restore an export (body: [`ImportRealm`]); 201 when new, 200 when replaced.
const HTTP_IMPORT: HttpRoute =
    HttpRoute { method: "POST", path: "/v1/realms/import", function_id: "realm::http_import" };

/// The realm worker's manifest; `workers/realm/iii.worker.yaml` mirrors it.
pub static MANIFEST: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
    name: "realm",
    description: "Realms, the unit of tenancy: agents, sessions and memory are scoped to a realm; create, get, list, update, delete, export and import them.",
    functions: vec![
        "realm::create",
        "realm::get",
        "realm::list",
        "realm::update",
        "realm::delete",
        "realm::export",
        "realm::import",
        "realm::http_list",
        "realm::http_create",
        "realm::http_get",
        "realm::http_update",
        "realm::http_delete",
        "realm::http_export",
        "realm::http_import",
    ],
    http_routes: vec![HTTP_LIST, HTTP_CREATE, HTTP_GET, HTTP_UPDATE, HTTP_DELETE, HTTP_EXPORT, HTTP_IMPORT],
    depends_on: &[],
    restart: RestartPolicy::Always,
});

/// Runs the realm worker as its own process until SIGTERM or SIGINT (`agentos worker realm`).
pub fn run() -> Result<(), WorkerError> {
    agentos_kit::run_worker(&MANIFEST, |iii| register(iii, agentos_kit::http::api_key_from_env()))
}

/// Registers every `realm::*` function and `/v1/realms` route on `iii`. Routes check
/// `Authorization: Bearer <api_key>`; with `None` they answer without a key (a warning is
/// logged, since every `/v1` route should need one).
pub fn register(iii: &III, api_key: Option<Arc<str>>) {
    let store = StateStore::new(iii.clone());

    bind(
        iii,
        &store,
        "realm::create",
        "Creates a realm: {id, name?, description?, settings?}.",
        |s, req: CreateRealm| async move { create(&s, req).await },
    );
    bind(iii, &store, "realm::get", "One realm by {id}.", |s, req: RealmId| async move { get(&s, req).await });
    bind(iii, &store, "realm::list", "Every realm, sorted by id: {realms}.", |s, req: ListRealms| async move {
        list(&s, req).await
    });
    bind(
        iii,
        &store,
        "realm::update",
        "Changes a realm: {id, name?, description?, settings? (merged, null removes)}.",
        |s, req: UpdateRealm| async move { update(&s, req).await },
    );
    bind(
        iii,
        &store,
        "realm::delete",
        "Deletes a realm by {id} and its realm:<id>:* state.",
        |s, req: RealmId| async move { delete(&s, req).await },
    );
    bind(
        iii,
        &store,
        "realm::export",
        "A realm by {id} with its scoped state: {realm, scopes}.",
        |s, req: RealmId| async move { export(&s, req).await },
    );
    bind(
        iii,
        &store,
        "realm::import",
        "Restores an export: {realm, scopes, id?, overwrite?}.",
        |s, req: ImportRealm| async move { import(&s, req).await },
    );

    if api_key.is_none() {
        tracing::warn!(
            worker = MANIFEST.name,
            "no API key (AGENTOS_API_KEY): the /v1/realms routes answer without one"
        );
    }
    route(
        iii,
        &store,
        HTTP_LIST,
        &api_key,
        |s, _req| async move { Ok(HttpResponse::ok(list(&s, ListRealms {}).await?)) },
    );
    route(iii, &store, HTTP_CREATE, &api_key, |s, req| async move {
        let realm = create(&s, req.body_as::<CreateRealm>()?).await?;
        Ok(HttpResponse::json(201, &realm).with_header("location", format!("/v1/realms/{}", realm.id)))
    });
    route(
        iii,
        &store,
        HTTP_GET,
        &api_key,
        |s, req| async move { Ok(HttpResponse::ok(get(&s, path_id(&req)?).await?)) },
    );
    route(iii, &store, HTTP_UPDATE, &api_key, |s, req| async move {
        let patch = req.body_as::<RealmPatch>()?;
        Ok(HttpResponse::ok(update(&s, patch.for_realm(path_id(&req)?.id)).await?))
    });
    route(iii, &store, HTTP_DELETE, &api_key, |s, req| async move {
        Ok(HttpResponse::ok(delete(&s, path_id(&req)?).await?))
    });
    route(iii, &store, HTTP_EXPORT, &api_key, |s, req| async move {
        Ok(HttpResponse::ok(export(&s, path_id(&req)?).await?))
    });
    route(iii, &store, HTTP_IMPORT, &api_key, |s, req| async move {
        let imported = import(&s, req.body_as::<ImportRealm>()?).await?;
        let status = if imported.replaced { 200 } else { 201 };
        Ok(HttpResponse::json(status, imported))
    });
}

/// The `:id` of a `/v1/realms/:id...` route.
fn path_id(req: &HttpRequest) -> Result<RealmId, WorkerError> {
    req.path_param("id").map(|id| RealmId { id: id.to_string() })
}

/// Registers bus function `id` as `f` over a clone of `store`.
fn bind<Req, Resp, F, Fut>(iii: &III, store: &StateStore, id: &str, description: &str, f: F)
where
    Req: DeserializeOwned + Send + 'static,
    Resp: Serialize + 'static,
    F: Fn(StateStore, Req) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, RealmError>> + Send + 'static,
{
    let store = store.clone();
    register_typed(iii, id, description, move |req: Req| {
        let done = f(store.clone(), req);
        async move { done.await.map_err(WorkerError::from) }
    });
}

/// Registers `route` as `f` over a clone of `store`, behind the bearer check.
fn route<F, Fut>(iii: &III, store: &StateStore, route: HttpRoute, api_key: &Option<Arc<str>>, f: F)
where
    F: Fn(StateStore, HttpRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HttpResponse, RealmError>> + Send + 'static,
{
    let store = store.clone();
    let handler = move |req: HttpRequest| {
        let done = f(store.clone(), req);
        async move { done.await.map_err(WorkerError::from) }
    };
    if let Err(e) = register_route(iii, MANIFEST.name, route, api_key.clone(), handler) {
        // Only a trigger config that does not encode gets here; the harness and the supervisor's
        // readiness check then report the route as missing.
        tracing::error!(worker = MANIFEST.name, code = %e.code, message = %e.message, "could not register a route");
    }
}

/// The answer of `state::list_groups`.
#[derive(Debug, Deserialize)]
struct Groups {
    /// Every scope name, sorted.
    groups: Vec<String>,
}

/// `state::list_groups` takes no arguments.
#[derive(Debug, Serialize)]
struct NoArgs {}

/// [`RealmStore`] over the engine's `state::*`: records in [`REALMS_SCOPE`], scoped values in
/// their own scopes, the wall clock from the kit.
#[derive(Clone)]
pub struct StateStore {
    iii: III,
}

impl StateStore {
    /// A store that talks to the engine through `iii`.
    pub fn new(iii: III) -> Self {
        Self { iii }
    }
}

impl RealmStore for StateStore {
    fn now_ms(&self) -> u64 {
        clock::now_ms()
    }

    async fn get_realm(&self, id: &str) -> Result<Option<Realm>, WorkerError> {
        state::get(&self.iii, REALMS_SCOPE, id).await
    }

    async fn put_realm(&self, realm: &Realm) -> Result<(), WorkerError> {
        state::set(&self.iii, REALMS_SCOPE, &realm.id, realm).await
    }

    async fn delete_realm(&self, id: &str) -> Result<bool, WorkerError> {
        state::delete(&self.iii, REALMS_SCOPE, id).await
    }

    async fn list_realms(&self) -> Result<Vec<Realm>, WorkerError> {
        state::list(&self.iii, REALMS_SCOPE).await
    }

    async fn scopes(&self) -> Result<Vec<String>, WorkerError> {
        // The kit has no helper for `state::list_groups` yet; this is the same typed call.
        let answer: Groups = call(&self.iii, "state::list_groups", &NoArgs {}, STATE_TIMEOUT).await?;
        Ok(answer.groups)
    }

    async fn scope_items(&self, scope: &str) -> Result<Vec<Value>, WorkerError> {
        state::list(&self.iii, scope).await
    }

    async fn put_item(&self, scope: &str, key: &str, item: &Value) -> Result<(), WorkerError> {
        state::set(&self.iii, scope, key, item).await
    }

    async fn delete_item(&self, scope: &str, key: &str) -> Result<bool, WorkerError> {
        state::delete(&self.iii, scope, key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bus_verb_of_the_issue_is_a_function() {
        for verb in ["create", "get", "list", "update", "delete", "export", "import"] {
            let id = format!("realm::{verb}");
            assert!(MANIFEST.functions.contains(&id.as_str()), "{id} is missing");
        }
    }
}
