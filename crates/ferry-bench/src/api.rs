//! The little of Ferry's GraphQL API the suite needs: import and publish an integration,
//! create a customer and a deployed instance, and count an instance's executions by status.

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

/// A GraphQL client for one server, as its owner.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    endpoint: String,
    token: String,
}

/// A deployed instance of the bench integration and its flow's webhook URL.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub instance: String,
    pub webhook_url: String,
}

/// An instance's executions by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub queued: u64,
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
}

impl Counts {
    pub fn pending(&self) -> u64 {
        self.queued + self.running
    }
}

impl Api {
    pub fn new(http: reqwest::Client, base: &str, token: &str) -> Api {
        Api {
            http,
            endpoint: format!("{base}/api"),
            token: token.to_string(),
        }
    }

    /// Runs a request; any GraphQL error is an error.
    pub async fn gql(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .context("GraphQL request")?;
        let status = response.status();
        let body: Value = response.json().await.context("GraphQL answer")?;
        if !status.is_success() || body.get("errors").is_some() {
            bail!("GraphQL {status}: {body}");
        }
        Ok(body["data"].clone())
    }

    /// Imports `definition` as a new integration and publishes it; gives its id.
    pub async fn publish(&self, definition: &str) -> anyhow::Result<String> {
        let import =
            "mutation ($input: ImportIntegrationInput!) { importIntegration(input: $input) \
                      { integration { id } errors { field messages } } }";
        let data = self
            .gql(import, json!({ "input": { "definition": definition } }))
            .await?;
        let payload = &data["importIntegration"];
        no_errors(payload, "importIntegration")?;
        let id = text(&payload["integration"]["id"])?;
        let publish = "mutation ($id: ID!) { publishIntegration(input: { id: $id }) \
                       { errors { field messages } } }";
        let data = self.gql(publish, json!({ "id": id })).await?;
        no_errors(&data["publishIntegration"], "publishIntegration")?;
        Ok(id)
    }

    /// Creates a customer named `name`; gives its id.
    pub async fn customer(&self, name: &str) -> anyhow::Result<String> {
        let query = "mutation ($input: CreateCustomerInput!) { createCustomer(input: $input) \
                     { customer { id } errors { field messages } } }";
        let data = self
            .gql(
                query,
                json!({ "input": { "name": name, "externalId": name } }),
            )
            .await?;
        no_errors(&data["createCustomer"], "createCustomer")?;
        text(&data["createCustomer"]["customer"]["id"])
    }

    /// Creates an instance of `integration` for a new customer named `name`, deploys it, and
    /// gives its id and the URL of its one flow's webhook.
    pub async fn deploy(&self, integration: &str, name: &str) -> anyhow::Result<Deployed> {
        let customer = self.customer(name).await?;
        self.deploy_for(integration, &customer, name).await
    }

    /// Creates an instance of `integration` named `name` for `customer` and deploys it.
    pub async fn deploy_for(
        &self,
        integration: &str,
        customer: &str,
        name: &str,
    ) -> anyhow::Result<Deployed> {
        let create = "mutation ($input: CreateInstanceInput!) { createInstance(input: $input) { \
                      instance { id flowConfigs { nodes { webhookUrl } } } errors { field messages } } }";
        let input = json!({ "input": {
            "customer": customer, "integration": integration, "name": name, "configVariables": [],
        }});
        let data = self.gql(create, input).await?;
        let payload = &data["createInstance"];
        no_errors(payload, "createInstance")?;
        let instance = text(&payload["instance"]["id"])?;
        let webhook_url = text(&payload["instance"]["flowConfigs"]["nodes"][0]["webhookUrl"])?;
        let deploy = "mutation ($id: ID!) { deployInstance(input: { id: $id }) \
                      { errors { field messages } } }";
        let data = self.gql(deploy, json!({ "id": instance })).await?;
        no_errors(&data["deployInstance"], "deployInstance")?;
        Ok(Deployed {
            instance,
            webhook_url,
        })
    }

    /// How many of the instance's executions (all the organization's with `None`) are queued
    /// or running: the two counts that stay small while a queue drains (polling the full
    /// [`counts`](Self::counts) would make the server count every ended execution each time).
    pub async fn pending(&self, instance: Option<&str>) -> anyhow::Result<u64> {
        let query = "query ($i: ID) { \
            queued: executionResults(instance: $i, status: QUEUED, first: 1) { totalCount } \
            running: executionResults(instance: $i, status: RUNNING, first: 1) { totalCount } }";
        let data = self.gql(query, json!({ "i": instance })).await?;
        let count = |name: &str| data[name]["totalCount"].as_u64().unwrap_or(0);
        Ok(count("queued") + count("running"))
    }

    /// The instance's executions (all the organization's with `None`), counted by status.
    pub async fn counts(&self, instance: Option<&str>) -> anyhow::Result<Counts> {
        let query = "query ($i: ID) { \
            total: executionResults(instance: $i, first: 1) { totalCount } \
            queued: executionResults(instance: $i, status: QUEUED, first: 1) { totalCount } \
            running: executionResults(instance: $i, status: RUNNING, first: 1) { totalCount } \
            succeeded: executionResults(instance: $i, status: SUCCEEDED, first: 1) { totalCount } \
            failed: executionResults(instance: $i, status: FAILED, first: 1) { totalCount } }";
        let data = self.gql(query, json!({ "i": instance })).await?;
        let count = |name: &str| data[name]["totalCount"].as_u64().unwrap_or(0);
        Ok(Counts {
            total: count("total"),
            queued: count("queued"),
            running: count("running"),
            succeeded: count("succeeded"),
            failed: count("failed"),
        })
    }

    /// One page (newest first) of the executions of flow `flow`: when each was queued and
    /// started, and its trigger payload's `scheduledAt`; and the cursor of the next page.
    pub async fn scheduled_page(
        &self,
        flow: &str,
        after: Option<&str>,
    ) -> anyhow::Result<(Vec<ScheduledRun>, Option<String>)> {
        let query = "query ($f: String, $a: String) { executionResults(flow: $f, after: $a, first: 500) { \
                     nodes { status queuedAt startedAt triggerPayload } pageInfo { hasNextPage endCursor } } }";
        let data = self.gql(query, json!({ "f": flow, "a": after })).await?;
        let connection = &data["executionResults"];
        let nodes = connection["nodes"].as_array().cloned().unwrap_or_default();
        let runs = nodes
            .iter()
            .map(scheduled_run)
            .collect::<anyhow::Result<_>>()?;
        let next = match connection["pageInfo"]["hasNextPage"].as_bool() {
            Some(true) => Some(text(&connection["pageInfo"]["endCursor"])?),
            _ => None,
        };
        Ok((runs, next))
    }

    /// Steps `step` of the instance's newest `limit` executions: each run's duration in
    /// microseconds (from the step result's `startedAt` and `endedAt`).
    pub async fn step_durations(
        &self,
        instance: &str,
        step: &str,
        limit: usize,
    ) -> anyhow::Result<Vec<u64>> {
        let query = "query ($i: ID!, $n: Int, $s: String) { \
                     executionResults(instance: $i, status: SUCCEEDED, first: $n) { nodes { \
                     stepResults(displayStepName: $s, first: 20) { nodes { stepName startedAt endedAt } } } } }";
        let variables = json!({ "i": instance, "n": limit, "s": step });
        let data = self.gql(query, variables).await?;
        let executions = data["executionResults"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut found = Vec::new();
        for execution in &executions {
            let steps = execution["stepResults"]["nodes"].as_array();
            for result in steps.into_iter().flatten() {
                if result["stepName"].as_str() == Some(step) {
                    found.push(span_micros(result)?);
                }
            }
        }
        Ok(found)
    }
}

/// A scheduled execution's times.
#[derive(Debug, Clone)]
pub struct ScheduledRun {
    pub scheduled_at: Time,
    pub queued_at: Time,
    pub started_at: Option<Time>,
    /// `SUCCEEDED`, `RUNNING`, …
    pub status: String,
}

impl ScheduledRun {
    /// Whether the run is over (it will not run again unless retried or replayed).
    pub fn ended(&self) -> bool {
        !matches!(
            self.status.as_str(),
            "QUEUED" | "RUNNING" | "FAILED_RETRY_PENDING"
        )
    }
}

pub type Time = chrono::DateTime<chrono::FixedOffset>;

fn scheduled_run(node: &Value) -> anyhow::Result<ScheduledRun> {
    let at = |value: &Value| -> anyhow::Result<Time> {
        let value = text(value)?;
        chrono::DateTime::parse_from_rfc3339(&value).with_context(|| format!("time {value}"))
    };
    Ok(ScheduledRun {
        scheduled_at: at(&node["triggerPayload"]["scheduledAt"])?,
        queued_at: at(&node["queuedAt"])?,
        started_at: at(&node["startedAt"]).ok(),
        status: text(&node["status"])?,
    })
}

fn span_micros(result: &Value) -> anyhow::Result<u64> {
    let at = |field: &str| -> anyhow::Result<chrono::DateTime<chrono::FixedOffset>> {
        let value = text(&result[field])?;
        chrono::DateTime::parse_from_rfc3339(&value).with_context(|| format!("{field} {value}"))
    };
    let span = at("endedAt")? - at("startedAt")?;
    Ok(span.num_microseconds().unwrap_or(0).max(0) as u64)
}

fn no_errors(payload: &Value, mutation: &str) -> anyhow::Result<()> {
    match payload["errors"].as_array() {
        Some(errors) if !errors.is_empty() => bail!("{mutation}: {}", Value::from(errors.clone())),
        _ => Ok(()),
    }
}

fn text(value: &Value) -> anyhow::Result<String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("expected a string, got {value}"))
}
