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

use std::sync::{Arc, LazyLock};

use agentos_kit::http::{HttpRequest, HttpResponse};
use agentos_kit::state::{self, STATE_TIMEOUT};
use agentos_kit::{III, Worker, WorkerError, WorkerManifest, call, clock};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    CreateRealm, ImportRealm, ListRealms, REALMS_SCOPE, Realm, RealmError, RealmId, RealmPatch, RealmStore,
    UpdateRealm, create, delete, export, get, import, list, update,
};

/// The realm worker's manifest, derived from [`worker`]; `workers/realm/iii.worker.yaml`
/// mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// The realm worker: every `realm::*` function and `/v1/realms` route over a [`StateStore`].
pub fn worker() -> Worker<StateStore, RealmError> {
    Worker::new(
        "realm",
        "Realms, the unit of tenancy: agents, sessions and memory are scoped to a realm; create, get, list, update, delete, export and import them.",
    )
    .function("realm::create", "Creates a realm: {id, name?, description?, settings?}.", |s, req: CreateRealm| async move {
        create(&s, req).await
    })
    .function("realm::get", "One realm by {id}.", |s, req: RealmId| async move { get(&s, req).await })
    .function("realm::list", "Every realm, sorted by id: {realms}.", |s, req: ListRealms| async move {
        list(&s, req).await
    })
    .function(
        "realm::update",
        "Changes a realm: {id, name?, description?, settings? (merged, null removes)}.",
        |s, req: UpdateRealm| async move { update(&s, req).await },
    )
    .function("realm::delete", "Deletes a realm by {id} and its realm:<id>:* state.", |s, req: RealmId| async move {
        delete(&s, req).await
    })
    .function("realm::export", "A realm by {id} with its scoped state: {realm, scopes}.", |s, req: RealmId| async move {
        export(&s, req).await
    })
    .function("realm::import", "Restores an export: {realm, scopes, id?, overwrite?}.", |s, req: ImportRealm| async move {
        import(&s, req).await
    })
    // GET /v1/realms: every realm.
    .route("realm::http_list", "GET", "/v1/realms", |s, _req| async move {
        Ok(HttpResponse::ok(list(&s, ListRealms {}).await?))
    })
    // POST /v1/realms: create one (body: CreateRealm); 201 with its location.
    .route("realm::http_create", "POST", "/v1/realms", |s, req| async move {
        let realm = create(&s, req.body_as::<CreateRealm>()?).await?;
        Ok(HttpResponse::json(201, &realm).with_header("location", format!("/v1/realms/{}", realm.id)))
    })
    .route("realm::http_get", "GET", "/v1/realms/:id", |s, req| async move {
        Ok(HttpResponse::ok(get(&s, path_id(&req)?).await?))
    })
    // PATCH /v1/realms/:id: change it (body: RealmPatch).
    .route("realm::http_update", "PATCH", "/v1/realms/:id", |s, req| async move {
        let patch = req.body_as::<RealmPatch>()?;
        Ok(HttpResponse::ok(update(&s, patch.for_realm(path_id(&req)?.id)).await?))
    })
    // DELETE /v1/realms/:id: delete it and its scoped state.
    .route("realm::http_delete", "DELETE", "/v1/realms/:id", |s, req| async move {
        Ok(HttpResponse::ok(delete(&s, path_id(&req)?).await?))
    })
    .route("realm::http_export", "GET", "/v1/realms/:id/export", |s, req| async move {
        Ok(HttpResponse::ok(export(&s, path_id(&req)?).await?))
    })
    // POST /v1/realms/import: restore an export; 201 when new, 200 when it replaced one.
    .route("realm::http_import", "POST", "/v1/realms/import", |s, req| async move {
        let imported = import(&s, req.body_as::<ImportRealm>()?).await?;
        let status = if imported.replaced { 200 } else { 201 };
        Ok(HttpResponse::json(status, imported))
    })
}

/// Runs the realm worker as its own process until SIGTERM or SIGINT (`agentos worker realm`).
pub fn run() -> Result<(), WorkerError> {
    worker().run(|iii| Ok(StateStore::new(iii.clone())))
}

/// Registers every `realm::*` function and `/v1/realms` route on `iii`; routes check
/// `Authorization: Bearer <api_key>` (with `None` they refuse every request).
pub fn register(iii: &III, api_key: Option<Arc<str>>) {
    worker().register(iii, StateStore::new(iii.clone()), api_key);
}

/// The `:id` of a `/v1/realms/:id...` route.
fn path_id(req: &HttpRequest) -> Result<RealmId, WorkerError> {
    req.path_param("id").map(|id| RealmId { id: id.to_string() })
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

pub use agentos_kit::state::StateStore;

/// [`RealmStore`] over the engine's `state::*`: records in [`REALMS_SCOPE`], scoped values in
/// their own scopes, the wall clock from the kit.
impl RealmStore for StateStore {
    fn now_ms(&self) -> u64 {
        clock::now_ms()
    }

    async fn get_realm(&self, id: &str) -> Result<Option<Realm>, WorkerError> {
        state::get(self.iii(), REALMS_SCOPE, id).await
    }

    async fn put_realm(&self, realm: &Realm) -> Result<(), WorkerError> {
        state::set(self.iii(), REALMS_SCOPE, &realm.id, realm).await
    }

    async fn delete_realm(&self, id: &str) -> Result<bool, WorkerError> {
        state::delete(self.iii(), REALMS_SCOPE, id).await
    }

    async fn list_realms(&self) -> Result<Vec<Realm>, WorkerError> {
        state::list(self.iii(), REALMS_SCOPE).await
    }

    async fn scopes(&self) -> Result<Vec<String>, WorkerError> {
        // The kit has no helper for `state::list_groups` yet; this is the same typed call.
        let answer: Groups = call(self.iii(), "state::list_groups", &NoArgs {}, STATE_TIMEOUT).await?;
        Ok(answer.groups)
    }

    async fn scope_items(&self, scope: &str) -> Result<Vec<Value>, WorkerError> {
        state::list(self.iii(), scope).await
    }

    async fn put_item(&self, scope: &str, key: &str, item: &Value) -> Result<(), WorkerError> {
        state::set(self.iii(), scope, key, item).await
    }

    async fn delete_item(&self, scope: &str, key: &str) -> Result<bool, WorkerError> {
        state::delete(self.iii(), scope, key).await
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
