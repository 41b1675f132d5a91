//! What a worker declares about itself: [`WorkerManifest`] in code, [`ManifestFile`] on disk.
//!
//! Rules it keeps:
//! - The manifest in code is the truth; `workers/<name>/iii.worker.yaml` mirrors it for tools
//!   that do not link the worker, and [`WorkerManifest::agrees_with`] lists every way they differ.
//! - `functions` is every id the worker registers except the automatic `<name>::health`,
//!   including the functions behind its HTTP routes, so "ready" (every listed id registered)
//!   means the whole worker is up.
//! - Function ids are `namespace::verb`; engine namespaces and `sandbox::*` are reserved.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Namespaces a worker may not register functions in: the engine's built-ins and `sandbox::*`
/// (reserved by the design for the sandbox itself).
pub const RESERVED_NAMESPACES: &[&str] = &["engine", "state", "stream", "iii", "sandbox"];

/// HTTP methods the engine routes (`iii-http`, spec §3.4).
pub const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// What the supervisor does when the worker's process exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartPolicy {
    /// Restart whatever the exit status (the default: workers are long-running services).
    #[default]
    Always,
    /// Restart only after a non-zero exit or a signal.
    OnFailure,
    /// Never restart.
    No,
}

impl RestartPolicy {
    /// The YAML spelling: `always`, `on_failure` or `no`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::OnFailure => "on_failure",
            Self::No => "no",
        }
    }
}

/// One HTTP route a worker serves: `method path` handled by `function_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HttpRoute {
    /// Upper-case HTTP method, for example `GET`.
    pub method: &'static str,
    /// The route pattern with `:param` segments, for example `/v1/realms/:id`.
    pub path: &'static str,
    /// The function the `http` trigger calls.
    pub function_id: &'static str,
}

/// A worker's description of itself, derived from its [`crate::Worker`] declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerManifest {
    /// The worker's name (kebab-case), also its process and connection name.
    pub name: &'static str,
    /// One line saying what the worker owns.
    pub description: &'static str,
    /// Every function id it registers, excluding the automatic `<name>::health`.
    pub functions: Vec<&'static str>,
    /// The HTTP routes it serves; each route's function is also listed in `functions`.
    pub http_routes: Vec<HttpRoute>,
    /// Workers that must be ready before this one starts.
    pub depends_on: &'static [&'static str],
    /// What the supervisor does when it exits.
    pub restart: RestartPolicy,
}

/// One HTTP route as written in `iii.worker.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    /// HTTP method.
    pub method: String,
    /// Route pattern.
    pub path: String,
    /// Function behind the route.
    pub function_id: String,
}

/// The owned mirror of [`WorkerManifest`] read from `workers/<name>/iii.worker.yaml`. Unknown
/// keys are an error, so a typo cannot silently drop a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Worker name.
    pub name: String,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// Registered function ids (without `<name>::health`).
    #[serde(default)]
    pub functions: Vec<String>,
    /// HTTP routes.
    #[serde(default)]
    pub http_routes: Vec<RouteFile>,
    /// Workers this one needs.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Restart policy; `always` when left out.
    #[serde(default)]
    pub restart: RestartPolicy,
}

/// Where differences are reported from, in messages.
const FILE: &str = "iii.worker.yaml";

impl WorkerManifest {
    /// The automatic health function id, `<name>::health`.
    pub fn health_function_id(&self) -> String {
        format!("{}::health", self.name)
    }

    /// Every function id the worker registers, health included: what "ready" waits for.
    pub fn all_function_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.functions.iter().map(|s| (*s).to_string()).collect();
        ids.push(self.health_function_id());
        ids
    }

    /// The manifest as it would be written to `iii.worker.yaml`.
    pub fn to_file(&self) -> ManifestFile {
        ManifestFile {
            name: self.name.to_string(),
            description: self.description.to_string(),
            functions: self.functions.iter().map(|s| (*s).to_string()).collect(),
            http_routes: self
                .http_routes
                .iter()
                .map(|r| RouteFile {
                    method: r.method.to_string(),
                    path: r.path.to_string(),
                    function_id: r.function_id.to_string(),
                })
                .collect(),
            depends_on: self.depends_on.iter().map(|s| (*s).to_string()).collect(),
            restart: self.restart,
        }
    }

    /// Checks the manifest's own rules (names, id shapes, reserved namespaces, routes backed by
    /// listed functions, no duplicates) and lists every violation.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if !is_worker_name(self.name) {
            problems.push(format!(
                "name {:?} must be kebab-case: lower-case letters, digits and '-', starting with a letter",
                self.name
            ));
        }
        if self.description.trim().is_empty() {
            problems.push("description is empty: say in one line what the worker owns".to_string());
        }
        let health = self.health_function_id();
        let mut seen = BTreeSet::new();
        for id in &self.functions {
            if !seen.insert(*id) {
                problems.push(format!("functions: {id:?} is listed twice"));
            }
            if *id == health {
                problems.push(format!("functions: {id:?} is registered automatically; remove it from the list"));
                continue;
            }
            match id.split_once("::") {
                Some((ns, _)) if RESERVED_NAMESPACES.contains(&ns) => {
                    problems.push(format!(
                        "functions: {id:?} uses the reserved namespace {ns:?}; pick the worker's own namespace"
                    ));
                }
                _ if !is_function_id(id) => {
                    problems.push(format!(
                        "functions: {id:?} is not `namespace::verb` (letters, digits, '_' and '-' between '::')"
                    ));
                }
                _ => {}
            }
        }
        let mut routes = BTreeSet::new();
        for r in &self.http_routes {
            if !HTTP_METHODS.contains(&r.method) {
                problems.push(format!(
                    "http_routes: method {:?} of {} must be one of {}",
                    r.method,
                    r.path,
                    HTTP_METHODS.join(", ")
                ));
            }
            if !r.path.starts_with('/') {
                problems.push(format!("http_routes: path {:?} must start with '/'", r.path));
            }
            if !self.functions.contains(&r.function_id) {
                problems.push(format!(
                    "http_routes: {} {} calls {:?}, which is not in functions; add it there",
                    r.method, r.path, r.function_id
                ));
            }
            if !routes.insert((r.method, r.path)) {
                problems.push(format!("http_routes: {} {} is declared twice", r.method, r.path));
            }
        }
        let mut deps = BTreeSet::new();
        for d in self.depends_on {
            if *d == self.name {
                problems.push(format!("depends_on: {d:?} is the worker itself"));
            } else if !is_worker_name(d) {
                problems.push(format!("depends_on: {d:?} is not a worker name"));
            }
            if !deps.insert(*d) {
                problems.push(format!("depends_on: {d:?} is listed twice"));
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// Compares the manifest with `iii.worker.yaml` and lists every difference. Lists compare
    /// as sets (order in the file does not matter); HTTP methods compare case-insensitively and
    /// descriptions ignore surrounding whitespace (YAML block scalars end in a newline).
    pub fn agrees_with(&self, file: &ManifestFile) -> Result<(), Vec<String>> {
        let mut diffs = Vec::new();
        if file.name != self.name {
            diffs.push(format!("name: code says {:?}, {FILE} says {:?}", self.name, file.name));
        }
        if file.description.trim() != self.description.trim() {
            diffs.push(format!(
                "description: code says {:?}, {FILE} says {:?}",
                self.description,
                file.description.trim()
            ));
        }
        let health = self.health_function_id();
        let code_fns: BTreeSet<String> = self.functions.iter().map(|s| (*s).to_string()).collect();
        let file_fns: BTreeSet<String> = file.functions.iter().cloned().collect();
        for id in code_fns.difference(&file_fns) {
            diffs.push(format!("functions: {id:?} is declared in code but missing from {FILE}"));
        }
        for id in file_fns.difference(&code_fns) {
            if *id == health {
                diffs.push(format!("functions: {id:?} is registered automatically; remove it from {FILE}"));
            } else {
                diffs.push(format!("functions: {id:?} is in {FILE} but not declared in code"));
            }
        }
        let norm = |r: &RouteFile| RouteFile { method: r.method.to_ascii_uppercase(), ..r.clone() };
        let code_routes: BTreeSet<RouteFile> = self.to_file().http_routes.iter().map(norm).collect();
        let file_routes: BTreeSet<RouteFile> = file.http_routes.iter().map(norm).collect();
        for r in code_routes.difference(&file_routes) {
            diffs.push(format!(
                "http_routes: {} {} -> {} is declared in code but missing from {FILE}",
                r.method, r.path, r.function_id
            ));
        }
        for r in file_routes.difference(&code_routes) {
            diffs.push(format!(
                "http_routes: {} {} -> {} is in {FILE} but not declared in code",
                r.method, r.path, r.function_id
            ));
        }
        let code_deps: BTreeSet<&str> = self.depends_on.iter().copied().collect();
        let file_deps: BTreeSet<&str> = file.depends_on.iter().map(String::as_str).collect();
        for d in code_deps.difference(&file_deps) {
            diffs.push(format!("depends_on: {d:?} is declared in code but missing from {FILE}"));
        }
        for d in file_deps.difference(&code_deps) {
            diffs.push(format!("depends_on: {d:?} is in {FILE} but not declared in code"));
        }
        if file.restart != self.restart {
            diffs.push(format!("restart: code says {}, {FILE} says {}", self.restart.as_str(), file.restart.as_str()));
        }
        if diffs.is_empty() { Ok(()) } else { Err(diffs) }
    }
}

/// Kebab-case: starts with a lower-case letter; lower-case letters, digits and '-'.
fn is_worker_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `namespace::verb[::more]`, every segment non-empty of letters, digits, '_' and '-'.
fn is_function_id(s: &str) -> bool {
    let segments: Vec<&str> = s.split("::").collect();
    segments.len() >= 2
        && segments
            .iter()
            .all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    static MEMORY: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
        name: "memory",
        description: "Stores and recalls memories.",
        functions: vec!["memory::store", "memory::recall", "memory::http_search"],
        http_routes: vec![HttpRoute { method: "POST", path: "/v1/memory/search", function_id: "memory::http_search" }],
        depends_on: &["embedding"],
        restart: RestartPolicy::Always,
    });

    #[test]
    fn the_health_function_is_named_after_the_worker() {
        assert_eq!(MEMORY.health_function_id(), "memory::health");
        assert_eq!(MEMORY.all_function_ids().last().map(String::as_str), Some("memory::health"));
    }

    #[test]
    fn a_manifest_agrees_with_its_own_file() {
        assert_eq!(MEMORY.agrees_with(&MEMORY.to_file()), Ok(()));
        assert_eq!(MEMORY.validate(), Ok(()));
    }

    #[test]
    fn file_order_method_case_and_trailing_newlines_do_not_count_as_differences() {
        let mut file = MEMORY.to_file();
        file.functions.reverse();
        file.description.push('\n');
        file.http_routes[0].method = "post".into();
        assert_eq!(MEMORY.agrees_with(&file), Ok(()));
    }

    #[test]
    fn agrees_with_lists_every_difference() {
        let file = ManifestFile {
            name: "memroy".into(),
            description: "Stores memories.".into(),
            functions: vec![
                "memory::store".into(),
                "memory::forget".into(),
                "memory::health".into(),
                "memory::http_search".into(),
            ],
            http_routes: vec![RouteFile {
                method: "GET".into(),
                path: "/v1/memory/search".into(),
                function_id: "memory::http_search".into(),
            }],
            depends_on: vec![],
            restart: RestartPolicy::OnFailure,
        };
        let diffs = MEMORY.agrees_with(&file).unwrap_err();
        assert_eq!(
            diffs,
            vec![
                r#"name: code says "memory", iii.worker.yaml says "memroy""#.to_string(),
                r#"description: code says "Stores and recalls memories.", iii.worker.yaml says "Stores memories.""#.to_string(),
                r#"functions: "memory::recall" is declared in code but missing from iii.worker.yaml"#.to_string(),
                r#"functions: "memory::forget" is in iii.worker.yaml but not declared in code"#.to_string(),
                r#"functions: "memory::health" is registered automatically; remove it from iii.worker.yaml"#.to_string(),
                "http_routes: POST /v1/memory/search -> memory::http_search is declared in code but missing from iii.worker.yaml"
                    .to_string(),
                "http_routes: GET /v1/memory/search -> memory::http_search is in iii.worker.yaml but not declared in code".to_string(),
                r#"depends_on: "embedding" is declared in code but missing from iii.worker.yaml"#.to_string(),
                "restart: code says always, iii.worker.yaml says on_failure".to_string(),
            ]
        );
    }

    #[test]
    fn validate_lists_every_broken_rule() {
        static BAD: std::sync::LazyLock<WorkerManifest> = std::sync::LazyLock::new(|| WorkerManifest {
            name: "Bad_Name",
            description: " ",
            functions: vec!["state::get", "nonamespace", "x::y", "x::y", "Bad_Name::health"],
            http_routes: vec![
                HttpRoute { method: "get", path: "v1/x", function_id: "x::missing" },
                HttpRoute { method: "GET", path: "/v1/y", function_id: "x::y" },
                HttpRoute { method: "GET", path: "/v1/y", function_id: "x::y" },
            ],
            depends_on: &["Bad_Name", "memory", "memory"],
            restart: RestartPolicy::No,
        });
        assert_eq!(
            BAD.validate().unwrap_err(),
            vec![
                r#"name "Bad_Name" must be kebab-case: lower-case letters, digits and '-', starting with a letter"#
                    .to_string(),
                "description is empty: say in one line what the worker owns".to_string(),
                r#"functions: "state::get" uses the reserved namespace "state"; pick the worker's own namespace"#
                    .to_string(),
                r#"functions: "nonamespace" is not `namespace::verb` (letters, digits, '_' and '-' between '::')"#
                    .to_string(),
                r#"functions: "x::y" is listed twice"#.to_string(),
                r#"functions: "Bad_Name::health" is registered automatically; remove it from the list"#.to_string(),
                r#"http_routes: method "get" of v1/x must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"#
                    .to_string(),
                r#"http_routes: path "v1/x" must start with '/'"#.to_string(),
                r#"http_routes: get v1/x calls "x::missing", which is not in functions; add it there"#.to_string(),
                "http_routes: GET /v1/y is declared twice".to_string(),
                r#"depends_on: "Bad_Name" is the worker itself"#.to_string(),
                r#"depends_on: "memory" is listed twice"#.to_string(),
            ]
        );
    }

    #[test]
    fn an_iii_worker_yaml_file_parses_into_the_manifest_mirror() {
        let yaml = "name: memory\n\
                    description: |\n  Stores and recalls memories.\n\
                    functions: [memory::http_search, memory::recall, memory::store]\n\
                    http_routes:\n  - {method: POST, path: /v1/memory/search, function_id: memory::http_search}\n\
                    depends_on: [embedding]\n\
                    restart: always\n";
        let file: ManifestFile = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(MEMORY.agrees_with(&file), Ok(()));
    }

    #[test]
    fn an_unknown_key_in_iii_worker_yaml_is_an_error() {
        let err = serde_saphyr::from_str::<ManifestFile>("name: memory\nrestrat: no\n").unwrap_err();
        assert!(err.to_string().contains("restrat"), "{err}");
    }

    #[test]
    fn restart_policies_use_their_yaml_spelling() {
        for p in [RestartPolicy::Always, RestartPolicy::OnFailure, RestartPolicy::No] {
            assert_eq!(serde_json::to_value(p).unwrap(), serde_json::Value::String(p.as_str().to_string()));
        }
    }
}
