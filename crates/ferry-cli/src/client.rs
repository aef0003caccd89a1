//! A small GraphQL client for the management commands.

use anyhow::{anyhow, bail, Context};
use clap::Args;
use serde_json::{json, Value};

use crate::credentials::{self, DEFAULT_URL};

/// Which server to talk to, and as whom.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// The Ferry server's base URL [default: the stored login's, else http://127.0.0.1:8420].
    #[arg(long, env = "FERRY_URL", global = true)]
    pub url: Option<String>,
    /// An API token [default: the stored login's, else the bootstrap owner's in FERRY_DATA_DIR].
    #[arg(long, env = "FERRY_API_KEY", global = true, hide_env_values = true)]
    pub api_key: Option<String>,
}

impl Connection {
    /// The server URL: flag or environment, then the stored login, then the default.
    pub fn base_url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.url {
            return Ok(url.trim_end_matches('/').to_string());
        }
        Ok(credentials::stored()?
            .map(|l| l.url)
            .unwrap_or_else(|| DEFAULT_URL.to_string()))
    }

    /// The API token: flag or environment, then the stored login, then the bootstrap owner's.
    pub fn token(&self) -> anyhow::Result<String> {
        if let Some(key) = self.api_key.as_ref().filter(|k| !k.trim().is_empty()) {
            return Ok(key.trim().to_string());
        }
        if let Some(login) = credentials::stored()? {
            return Ok(login.token);
        }
        credentials::bootstrap_token().ok_or_else(|| {
            anyhow!("no API token: set FERRY_API_KEY, run `ferry login`, or run this on the server's machine (FERRY_DATA_DIR)")
        })
    }
}

/// A GraphQL client bound to one server and token.
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    base_url: String,
    token: String,
}

impl Client {
    /// A client for `conn`'s server and token.
    pub fn new(conn: &Connection) -> anyhow::Result<Client> {
        Self::with_token(&conn.base_url()?, &conn.token()?)
    }

    /// A client for `base_url` with `token`.
    pub fn with_token(base_url: &str, token: &str) -> anyhow::Result<Client> {
        let base_url = base_url.trim_end_matches('/').to_string();
        if !base_url.starts_with("http://") && !base_url.starts_with("https://") {
            bail!("invalid server URL {base_url:?}: it must start with http:// or https://");
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()?;
        Ok(Client {
            http,
            endpoint: format!("{base_url}/api"),
            base_url,
            token: token.to_string(),
        })
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Runs a query or mutation and returns its `data`; GraphQL errors become one error.
    pub async fn request(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|err| {
                anyhow!(
                    "cannot reach Ferry at {}: {err} (is `ferry serve` running?)",
                    self.base_url
                )
            })?;
        let status = response.status();
        let body: Value = response.json().await.with_context(|| {
            format!(
                "{} answered {status} with a body that is not JSON",
                self.endpoint
            )
        })?;
        if let Some(errors) = body
            .get("errors")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        {
            let messages: Vec<&str> = errors
                .iter()
                .filter_map(|e| e.get("message")?.as_str())
                .collect();
            bail!("{}", messages.join("; "));
        }
        if !status.is_success() {
            bail!("{} answered {status}", self.endpoint);
        }
        body.get("data")
            .cloned()
            .ok_or_else(|| anyhow!("{} answered without data", self.endpoint))
    }

    /// Runs a mutation and returns its payload's `entity`; `errors` values become one error.
    pub async fn mutate(
        &self,
        query: &str,
        variables: Value,
        name: &str,
        entity: &str,
    ) -> anyhow::Result<Value> {
        let data = self.request(query, variables).await?;
        let payload = data
            .get(name)
            .ok_or_else(|| anyhow!("the server's answer has no {name}"))?;
        if let Some(errors) = payload
            .get("errors")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        {
            let lines: Vec<String> = errors.iter().map(field_error).collect();
            if lines.len() == 1 {
                bail!("{}", lines[0]);
            }
            // Several problems (a definition's, say) read best one per line.
            bail!("{} problems:\n  {}", lines.len(), lines.join("\n  "));
        }
        Ok(payload.get(entity).cloned().unwrap_or(Value::Null))
    }
}

fn field_error(error: &Value) -> String {
    let field = error
        .get("field")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let messages: Vec<&str> = error
        .get("messages")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if field.is_empty() {
        messages.join(", ")
    } else {
        format!("{field}: {}", messages.join(", "))
    }
}

/// Fetches every page of a connection: `query` takes `$after: String` and selects
/// `<name> { nodes { … } pageInfo { hasNextPage endCursor } }`.
pub async fn fetch_all(
    client: &Client,
    query: &str,
    mut variables: Value,
    path: &[&str],
) -> anyhow::Result<Vec<Value>> {
    let mut rows = Vec::new();
    let mut after = String::new();
    loop {
        variables["after"] = Value::String(after.clone());
        let data = client.request(query, variables.clone()).await?;
        let connection = path
            .iter()
            .try_fold(&data, |v, key| v.get(key))
            .ok_or_else(|| anyhow!("unexpected answer"))?;
        if let Some(nodes) = connection.get("nodes").and_then(Value::as_array) {
            rows.extend(nodes.iter().cloned());
        }
        let info = &connection["pageInfo"];
        match (info["hasNextPage"].as_bool(), info["endCursor"].as_str()) {
            (Some(true), Some(cursor)) => after = cursor.to_string(),
            _ => return Ok(rows),
        }
    }
}

/// Follows a connection as it grows: each [`Follow::next`] gives the nodes added since the
/// previous call, resuming from the last cursor. `query` takes `$after: String` (and whatever
/// `variables` holds) and selects `nodes { id … } pageInfo { hasNextPage endCursor }` at `path`.
pub struct Follow {
    query: String,
    variables: Value,
    path: Vec<&'static str>,
    cursor: String,
    seen: std::collections::HashSet<String>,
}

impl Follow {
    /// A follower of the connection at `path` in `query`'s answer.
    pub fn new(query: impl Into<String>, variables: Value, path: &[&'static str]) -> Follow {
        Follow {
            query: query.into(),
            variables,
            path: path.to_vec(),
            cursor: String::new(),
            seen: Default::default(),
        }
    }

    /// The nodes added since the previous call (every page of them).
    pub async fn next(&mut self, client: &Client) -> anyhow::Result<Vec<Value>> {
        let mut fresh = Vec::new();
        loop {
            let (nodes, more) = self.page(client).await?;
            fresh.extend(nodes);
            if !more {
                return Ok(fresh);
            }
        }
    }

    /// The next page of new nodes, and whether more pages follow it.
    pub async fn page(&mut self, client: &Client) -> anyhow::Result<(Vec<Value>, bool)> {
        self.variables["after"] = Value::String(self.cursor.clone());
        let data = client.request(&self.query, self.variables.clone()).await?;
        let connection = self
            .path
            .iter()
            .try_fold(&data, |v, key| v.get(key))
            .ok_or_else(|| anyhow!("unexpected answer"))?;
        let nodes = connection["nodes"].as_array().cloned().unwrap_or_default();
        let fresh = nodes
            .into_iter()
            .filter(|node| self.first_sight(node))
            .collect();
        let info = &connection["pageInfo"];
        if let Some(cursor) = info["endCursor"].as_str() {
            self.cursor = cursor.to_string();
        }
        Ok((fresh, info["hasNextPage"].as_bool() == Some(true)))
    }

    /// Nodes never given before, read again from the start: lines committed out of id order
    /// (by concurrent loop iterations) are behind the cursor, so a last sweep finds them.
    pub async fn sweep(&mut self, client: &Client) -> anyhow::Result<Vec<Value>> {
        let cursor = std::mem::take(&mut self.cursor);
        let missed = self.next(client).await;
        if self.cursor.is_empty() {
            self.cursor = cursor;
        }
        missed
    }

    fn first_sight(&mut self, node: &Value) -> bool {
        match node["id"].as_str() {
            Some(id) => self.seen.insert(id.to_string()),
            None => true,
        }
    }
}
