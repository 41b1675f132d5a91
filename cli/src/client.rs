//! The CLI as an HTTP client of a running stack: it finds the REST port in the runtime file
//! and the key in the key file (or `AGENTOS_API_KEY`).

use agentos_supervisor::Home;
use agentos_supervisor::runtime::RuntimeInfo;
use anyhow::{Context, anyhow};
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

    /// POST a `/v1` path with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body)).await
    }

    /// Sends `method path` without a body or key and returns the JSON answer whatever the
    /// status (for `doctor`'s route probes).
    pub async fn probe(&self, method: &str, path: &str) -> anyhow::Result<Value> {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let response = self.http.request(method, format!("{}{path}", self.base)).send().await?;
        Ok(response.json().await.unwrap_or(Value::Null))
    }

    async fn send(&self, mut req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        if let Some(key) = &self.key {
            req = req.bearer_auth(key);
        }
        let response = req
            .send()
            .await
            .with_context(|| format!("cannot reach agentos at {}; is it running? (`agentos up`)", self.base))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let code = body["error"]["code"].as_str().unwrap_or("HTTP_ERROR");
        let message = body["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| status.to_string());
        Err(anyhow!("{code}: {message}"))
    }
}
