//! `ferry instances:create|list|deploy|enable|disable|delete`.

use anyhow::{bail, Context};
use clap::Args;
use ferry_core::id::{self, Kind};
use serde_json::{json, Map, Value};

use crate::client::{fetch_all, Client, Connection};
use crate::commands::customers::{objects, resolve as resolve_customer};
use crate::output::{col, ext, print_item, print_list, Column, ItemOptions, ListOptions};

const FIELDS: &str = "id name enabled lastDeployedAt customer { name } integration { name } integrationVersion { versionNumber } \
                      flowConfigs { nodes { flow { name } webhookUrl } }";

const COLUMNS: &[Column] = &[
    ext("id"),
    col("name"),
    col("customer"),
    col("integration"),
    col("version"),
    col("enabled"),
    col("lastDeployedAt"),
];

/// Arguments of `instances:create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The instance's name (unique per customer).
    #[arg(short, long)]
    name: String,
    /// The integration (id or name; its latest available version) or an integration version id.
    #[arg(short, long)]
    integration: String,
    /// The customer (id, external id or name).
    #[arg(short, long)]
    customer: String,
    /// A description.
    #[arg(short, long)]
    description: Option<String>,
    /// Config values as a JSON object: `{"Acme Base URL": "https://…"}`.
    #[arg(short = 'v', long)]
    config_vars: Option<String>,
    #[command(flatten)]
    output: ItemOptions,
}

/// Arguments of `instances:list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this customer's instances (id, external id or name).
    #[arg(short, long)]
    customer: Option<String>,
    /// Include the integrations' test instances (on the system customer).
    #[arg(long)]
    include_system: bool,
    #[command(flatten)]
    output: ListOptions,
}

/// Arguments of the commands that act on one instance.
#[derive(Args, Debug)]
pub struct InstanceArgs {
    /// The instance: its id, or its name when no other instance has it.
    instance: String,
    #[command(flatten)]
    output: ItemOptions,
}

/// Creates an instance.
pub async fn create(conn: &Connection, args: CreateArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let customer = resolve_customer(&client, &args.customer).await?;
    let integration = resolve_integration(&client, &args.integration).await?;
    let values = match &args.config_vars {
        None => Vec::new(),
        Some(text) => {
            let map: Map<String, Value> = serde_json::from_str(text)
                .context("--config-vars must be a JSON object of key to value")?;
            map.into_iter()
                .map(|(key, value)| {
                    let value = match value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    json!({ "key": key, "value": value })
                })
                .collect()
        }
    };
    let input = json!({ "customer": customer, "integration": integration, "name": args.name, "description": args.description, "configVariables": values });
    let mutation = format!("mutation ($input: CreateInstanceInput!) {{ createInstance(input: $input) {{ instance {{ {FIELDS} }} errors {{ field messages }} }} }}");
    let instance = client
        .mutate(
            &mutation,
            json!({ "input": input }),
            "createInstance",
            "instance",
        )
        .await?;
    print_item(&instance, &args.output)
}

/// Lists instances.
pub async fn list(conn: &Connection, args: ListArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let customer = match &args.customer {
        Some(customer) => Some(resolve_customer(&client, customer).await?),
        None => None,
    };
    let query = format!(
        "query ($after: String, $customer: ID, $isSystem: Boolean) {{ \
           instances(after: $after, first: 500, customer: $customer, isSystem: $isSystem) {{ \
           nodes {{ {FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let rows = fetch_all(
        &client,
        &query,
        json!({ "customer": customer, "isSystem": (!args.include_system).then_some(false) }),
        &["instances"],
    )
    .await?;
    print_list(
        objects(rows.into_iter().map(flatten).collect()),
        COLUMNS,
        &args.output,
    )
}

fn flatten(mut instance: Value) -> Value {
    instance["customer"] = instance["customer"]["name"].clone();
    instance["integration"] = instance["integration"]["name"].clone();
    instance["version"] = instance["integrationVersion"]["versionNumber"].clone();
    instance
}

/// Deploys an instance.
pub async fn deploy(conn: &Connection, args: InstanceArgs) -> anyhow::Result<()> {
    act(conn, args, "deployInstance", "InstanceIdInput", json!({})).await
}

/// Enables (`true`) or pauses (`false`) an instance.
pub async fn set_enabled(
    conn: &Connection,
    args: InstanceArgs,
    enabled: bool,
) -> anyhow::Result<()> {
    act(
        conn,
        args,
        "updateInstance",
        "UpdateInstanceInput",
        json!({ "enabled": enabled }),
    )
    .await
}

/// Deletes an instance.
pub async fn delete(conn: &Connection, args: InstanceArgs) -> anyhow::Result<()> {
    act(conn, args, "deleteInstance", "InstanceIdInput", json!({})).await
}

/// Runs one instance mutation with `extra` input fields beside the id.
async fn act(
    conn: &Connection,
    args: InstanceArgs,
    name: &str,
    input_type: &str,
    mut extra: Value,
) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    extra["id"] = json!(resolve(&client, &args.instance).await?);
    let mutation = format!("mutation ($input: {input_type}!) {{ {name}(input: $input) {{ instance {{ {FIELDS} }} errors {{ field messages }} }} }}");
    let instance = client
        .mutate(&mutation, json!({ "input": extra }), name, "instance")
        .await?;
    print_item(&flatten(instance), &args.output)
}

/// An instance's id from its id or its (unambiguous) name.
pub async fn resolve(client: &Client, instance: &str) -> anyhow::Result<String> {
    if id::decode(Kind::Instance, instance).is_ok() {
        return Ok(instance.to_string());
    }
    let query = "query ($after: String) { instances(after: $after, first: 500) { nodes { id name } pageInfo { hasNextPage endCursor } } }";
    let all = fetch_all(client, query, json!({}), &["instances"]).await?;
    let matching: Vec<&Value> = all.iter().filter(|i| i["name"] == instance).collect();
    match matching.as_slice() {
        [one] => Ok(one["id"].as_str().unwrap_or_default().to_string()),
        [] => bail!("no instance with id or name {instance:?}"),
        _ => {
            bail!("several instances are named {instance:?}; give its id (ferry instances:list -x)")
        }
    }
}

/// An integration or integration version id from an id or an integration's name.
async fn resolve_integration(client: &Client, integration: &str) -> anyhow::Result<String> {
    if id::decode(Kind::Integration, integration).is_ok()
        || id::decode(Kind::IntegrationVersion, integration).is_ok()
    {
        return Ok(integration.to_string());
    }
    let data = client
        .request(
            "query ($name: String) { integrations(name: $name, first: 1) { nodes { id } } }",
            json!({ "name": integration }),
        )
        .await?;
    match data["integrations"]["nodes"][0]["id"].as_str() {
        Some(id) => Ok(id.to_string()),
        None => bail!("no integration with id or name {integration:?}"),
    }
}
