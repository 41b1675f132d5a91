//! The CLI as an HTTP client of a running stack: it finds the REST port in the runtime file
//! and the key in the key file (or `AGENTOS_API_KEY`).
//!
//! Rules it keeps:
//! - Every non-2xx answer becomes `CODE: message`, followed by `; fix: …` when the code has a
//!   known remedy ([`fix_for`]), so every command reports server errors the same way.
//! - Path segments that come from the user (ids, names) are percent-encoded ([`segment`]).

use agentos_protocol::error::ErrorResponse;
use agentos_supervisor::Home;
use agentos_supervisor::runtime::RuntimeInfo;
use anyhow::{Context, anyhow};
use serde::Deserialize;
use serde_json::Value;

/// A client of the running stack's REST API.
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Client {
    /// Connects to the stack described by the runtime file, or says how to start one.
    pub fn discover(home: &Home) -> anyhow::Result<Self> {
        let info =
            RuntimeInfo::read(home).ok_or_else(|| anyhow!("agentos is not running; start it with `agentos up`"))?;
        let key = agentos_supervisor::api_key::load(home).context("reading the API key")?;
        Ok(Self { http: reqwest::Client::new(), base: info.http_url, key })
    }

    /// GET a `/v1` path; a non-2xx answer becomes an error with the server's message.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    /// GET a `/v1` path with query parameters (pairs whose value is `None` are left out).
    pub async fn get_query(&self, path: &str, query: &[(&str, Option<&str>)]) -> anyhow::Result<Value> {
        let pairs: Vec<(&str, &str)> = query.iter().filter_map(|(k, v)| v.map(|v| (*k, v))).collect();
        self.send(self.http.get(format!("{}{path}", self.base)).query(&pairs)).await
    }

    /// POST a `/v1` path with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body)).await
    }

    /// PATCH a `/v1` path with a JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.patch(format!("{}{path}", self.base)).json(body)).await
    }

    /// DELETE a `/v1` path.
    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.delete(format!("{}{path}", self.base))).await
    }

    /// POST a JSON body to a streaming `/v1` path and return the response once its status is a
    /// success; the caller reads the body as it arrives. A non-2xx answer is read whole and
    /// becomes the same error as [`Client::post`]'s.
    pub async fn post_stream(&self, path: &str, body: &impl serde::Serialize) -> anyhow::Result<reqwest::Response> {
        let req = self.authorized(self.http.post(format!("{}{path}", self.base)).json(body));
        let response = req.send().await.with_context(|| self.unreachable())?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        Err(error_from_body(status, &body))
    }

    /// Sends `method path` without a body or key and returns the JSON answer whatever the
    /// status (for `doctor`'s route probes).
    pub async fn probe(&self, method: &str, path: &str) -> anyhow::Result<Value> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let response = self.http.request(method, format!("{}{path}", self.base)).send().await?;
        Ok(response.json().await.unwrap_or(Value::Null))
    }

    fn authorized(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.key {
            Some(key) => req.bearer_auth(key),
            None => req,
        }
    }

    fn unreachable(&self) -> String {
        format!("cannot reach agentos at {}; is it running? (`agentos up`)", self.base)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = self.authorized(req).send().await.with_context(|| self.unreachable())?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        Err(error_from_body(status, &body))
    }
}

/// The error of a non-2xx answer whose body is `{"error":{"code","message"}}` (or anything else).
fn error_from_body(status: reqwest::StatusCode, body: &Value) -> anyhow::Error {
    let error = ErrorResponse::deserialize(body).map(|r| r.error).ok();
    let code = error.as_ref().map_or("HTTP_ERROR", |e| e.code.as_str());
    let message =
        error.as_ref().map(|e| e.message.clone()).filter(|m| !m.is_empty()).unwrap_or_else(|| status.to_string());
    anyhow!(describe_error(code, &message))
}

/// The answer of `what` (`GET /v1/approvals`) read as the contract's type `T`; an error says the
/// CLI and the stack disagree and how to fix it.
pub fn read<T: serde::de::DeserializeOwned>(what: &str, answer: Value) -> anyhow::Result<T> {
    serde_json::from_value(answer).map_err(|e| {
        anyhow!(
            "the answer to {what} is not what this CLI reads ({e}); fix: use the same agentos version for the CLI and the stack (`agentos down`, then `agentos up`), or pass --json"
        )
    })
}

/// `CODE: message`, plus `; fix: …` when [`fix_for`] knows a remedy for `code`.
pub fn describe_error(code: &str, message: &str) -> String {
    match fix_for(code) {
        Some(fix) => format!("{code}: {message}; fix: {fix}"),
        None => format!("{code}: {message}"),
    }
}

/// What to do about an error code whose server message may not say it. Codes whose messages
/// already name their fix (`UNAUTHORIZED` names the key file, realm's `NOT_FOUND` names the
/// routes) have no entry.
pub fn fix_for(code: &str) -> Option<&'static str> {
    Some(match code {
        "NO_PROVIDER" => {
            "export ANTHROPIC_API_KEY or OPENAI_API_KEY (and optionally AGENTOS_MODEL) in the shell that runs `agentos up`, then `agentos down` and `agentos up` again"
        }
        "route_not_found" => {
            "the worker that serves this route is not running or not in this build; see `agentos status` and `agentos doctor`"
        }
        "function_unavailable" => "its worker is not ready; see `agentos status`, then `agentos restart <worker>`",
        "ENGINE_UNAVAILABLE" => "the engine is down or restarting; see `agentos status` and `agentos logs engine`",
        "TIMEOUT" => "the stack is overloaded or a worker hangs; see `agentos status` and `agentos doctor`",
        _ => return None,
    })
}

/// `s` percent-encoded for use as one URL path segment (only RFC 3986 unreserved bytes stay).
pub use agentos_protocol::url::encode_segment as segment;

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_code_with_a_known_remedy_carries_its_fix() {
        assert_eq!(
            describe_error("NO_PROVIDER", "no LLM provider is configured"),
            "NO_PROVIDER: no LLM provider is configured; fix: export ANTHROPIC_API_KEY or OPENAI_API_KEY (and optionally AGENTOS_MODEL) in the shell that runs `agentos up`, then `agentos down` and `agentos up` again"
        );
        assert_eq!(describe_error("CONFLICT", "realm x exists"), "CONFLICT: realm x exists");
    }

    #[test]
    fn path_segments_keep_slugs_and_encode_everything_else() {
        assert_eq!(segment("my-realm_1.x~"), "my-realm_1.x~");
        assert_eq!(segment("a/b c?"), "a%2Fb%20c%3F");
        assert_eq!(segment("é"), "%C3%A9");
    }
}
