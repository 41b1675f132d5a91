//! The driver and the glue: the manifest, the [`Classifier`] that gathers a call's inputs over
//! the bus, and the bindings of `approval::classify` and `POST /v1/policy/explain`.
//!
//! Rules it keeps:
//! - The decision itself is [`crate::policy::classify`]; this module only reads: the hand's
//!   rules (`hand::get`), the session's grant and the remembered rule (`state::get`), at once.
//! - A hand that cannot be read (unknown hand, hand-runner not running or slow) means no hand
//!   rules for this call, logged; a state read that fails fails the call, because a grant or a
//!   remembered rule that cannot be read must not silently turn into `ask` or `auto`.
//! - `[approval]` is read once at start; a bad section stops the worker naming the file.
//! - The workspace (`AGENTOS_WORKSPACE`, else the current directory, as code-agent finds it)
//!   is resolved once at start, so a safe command's arguments are checked against it on disk.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use agentos_kit::http::HttpResponse;
use agentos_kit::{III, Worker, WorkerError, WorkerManifest, call, state};
use serde::Deserialize;
use serde_json::json;

use crate::ClassifyRequest;
use crate::policy::{Classification, Context, classify};
use crate::remembered::{AlwaysRule, GRANTS_SCOPE, RULES_SCOPE, SessionGrant, always_rule_id};
use crate::rules::Rule;
use crate::settings::ApprovalSettings;

/// How long classify waits for `hand::get`: the hand-runner answers from memory in
/// milliseconds; 2 s only trips when it is not running or wedged, and every tool call of a turn
/// waits on this, so the bound is short.
pub const HAND_TIMEOUT: Duration = Duration::from_secs(2);

/// The approval-tiers worker's manifest, derived from [`worker`];
/// `workers/approval-tiers/iii.worker.yaml` mirrors it.
pub static MANIFEST: LazyLock<WorkerManifest> = LazyLock::new(|| worker().into_manifest());

/// The approval-tiers worker: `approval::classify` and `POST /v1/policy/explain` over a
/// [`Classifier`].
pub fn worker() -> Worker<Arc<Classifier>> {
    Worker::new(
        "approval-tiers",
        "Classifies each tool call as auto, ask or deny from the builtin, config, hand and remembered rules, and explains the decision.",
    )
    .function(
        "approval::classify",
        "The tier of a tool call: {function_id, arguments, hand?, session_id?, agent?, realm?} -> {tier: auto|ask|deny, rule: {id, source, function, when?}, reason}.",
        |c: Arc<Classifier>, req: ClassifyRequest| async move { c.classify(req).await },
    )
    // POST /v1/policy/explain: the classify answer for a call, for `agentos policy explain`.
    .route("approval::http_explain", "POST", "/v1/policy/explain", |c, req| async move {
        let body: ClassifyRequest = req.body_as()?;
        Ok(HttpResponse::ok(c.classify(body).await?))
    })
}

/// Runs the approval-tiers worker as its own process until SIGTERM or SIGINT (`agentos worker
/// approval-tiers`). Refuses to start, naming the file, when `[approval]` is invalid.
pub fn run() -> Result<(), WorkerError> {
    let settings = ApprovalSettings::load()
        .map_err(|e| WorkerError::new(e.code.clone(), format!("{} cannot start: {}", MANIFEST.name, e.message)))?;
    tracing::info!(
        worker = MANIFEST.name,
        rules = settings.rules.len(),
        default = settings.default_tier().as_str(),
        "approval policy"
    );
    worker().run(|iii| Ok(Classifier::new(iii, settings)))
}

/// Registers `approval::classify` and `POST /v1/policy/explain` on `iii`, deciding with
/// `settings`. The route checks `Authorization: Bearer <api_key>`; with `None` it refuses every
/// request (a warning is logged).
pub fn register(iii: &III, api_key: Option<Arc<str>>, settings: ApprovalSettings) {
    worker().register(iii, Classifier::new(iii, settings), api_key);
}

/// Classifies calls: reads what the decision needs over the bus, then decides.
pub struct Classifier {
    iii: III,
    settings: ApprovalSettings,
    /// The workspace root, canonical; `None` when it cannot be found (then only the written
    /// form of arguments is judged, logged at start).
    workspace: Option<PathBuf>,
}

/// What classify reads of `hand::get`'s answer.
#[derive(Debug, Default, Deserialize)]
struct HandRules {
    #[serde(default)]
    approval_rules: Vec<Rule>,
}

impl Classifier {
    /// A classifier deciding with `settings` over `iii`, for the workspace found now
    /// (`AGENTOS_WORKSPACE`, else the current directory).
    pub fn new(iii: &III, settings: ApprovalSettings) -> Arc<Self> {
        let workspace = agentos_kit::workspace::workspace_dir().and_then(std::fs::canonicalize);
        if let Err(e) = &workspace {
            tracing::warn!(worker = MANIFEST.name, error = %e, "no workspace: command arguments are judged as written, symlinks unchecked");
        }
        Arc::new(Self { iii: iii.clone(), settings, workspace: workspace.ok() })
    }

    /// `approval::classify`.
    pub async fn classify(&self, req: ClassifyRequest) -> Result<Classification, WorkerError> {
        if req.function_id.trim().is_empty() {
            return Err(WorkerError::invalid_input(
                "approval::classify: function_id is empty; send the tool's function id, for example {\"function_id\": \"code::read_file\", \"arguments\": {\"path\": \"README.md\"}}",
            ));
        }
        let rule_id = always_rule_id(&req.function_id, &req.arguments);
        let (hand_rules, grant, always) = tokio::join!(
            self.hand_rules(req.hand.as_deref()),
            async {
                match &req.session_id {
                    Some(sid) => state::get::<SessionGrant>(&self.iii, GRANTS_SCOPE, sid).await,
                    None => Ok(None),
                }
            },
            state::get::<AlwaysRule>(&self.iii, RULES_SCOPE, &rule_id),
        );
        let (grant, always) = (grant?, always?);
        let hand = req.hand.as_deref().map(|name| (name, hand_rules.as_slice()));
        let ctx = Context {
            settings: &self.settings,
            hand,
            always: always.as_ref(),
            grant: grant.as_ref(),
            workspace: self.workspace.as_deref(),
        };
        let answer = classify(&req.function_id, &req.arguments, &ctx);
        tracing::debug!(
            function_id = %req.function_id,
            session_id = ?req.session_id,
            agent = ?req.agent,
            realm = ?req.realm,
            tier = answer.tier.as_str(),
            rule = %answer.rule.id,
            "classified"
        );
        Ok(answer)
    }

    /// The hand's `[[approval.rules]]`; none (logged) when the hand cannot be read.
    async fn hand_rules(&self, hand: Option<&str>) -> Vec<Rule> {
        let Some(name) = hand else { return Vec::new() };
        match call::<_, HandRules>(&self.iii, "hand::get", &json!({"name": name}), HAND_TIMEOUT).await {
            Ok(found) => found.approval_rules,
            Err(e) => {
                tracing::warn!(hand = name, code = %e.code, message = %e.message, "no hand rules for this call: hand::get failed");
                Vec::new()
            }
        }
    }
}
