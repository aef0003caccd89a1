//! `ferry integrations:import|export|publish|list|versions|flows:list|delete`
//! (`integrations:flows:test` is in `flow_test.rs`).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use ferry_core::id::{self, Kind};
use serde_json::{json, Value};

use crate::client::{fetch_all, Client, Connection};
use crate::commands::customers::objects;
use crate::output::{col, ext, print_item, print_list, Column, ItemOptions, ListOptions};

const FIELDS: &str = "id name description versionNumber createdAt updatedAt";

const COLUMNS: &[Column] = &[
    ext("id"),
    col("name"),
    col("versionNumber"),
    col("description"),
    ext("createdAt"),
    col("updatedAt"),
];

/// Arguments of `integrations:import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The YAML definition to import.
    #[arg(short, long)]
    path: PathBuf,
    /// Replace this integration's draft (id or name) instead of creating a new integration.
    #[arg(short, long)]
    integration_id: Option<String>,
    #[command(flatten)]
    output: ItemOptions,
}

/// Arguments of `integrations:export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The integration: its id or name.
    integration: String,
    /// A published version's number instead of the draft.
    #[arg(short = 'v', long)]
    version: Option<i32>,
}

/// Arguments of `integrations:publish`.
#[derive(Args, Debug)]
pub struct PublishArgs {
    /// The integration: its id or name.
    integration: String,
    /// Why this version is published.
    #[arg(short, long)]
    comment: Option<String>,
    #[command(flatten)]
    output: ItemOptions,
}

/// Arguments of `integrations:list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    output: ListOptions,
}

/// Arguments of `integrations:versions`.
#[derive(Args, Debug)]
pub struct VersionsArgs {
    /// The integration: its id or name.
    integration: String,
    /// Only versions available to new instances.
    #[arg(short, long)]
    latest_available: bool,
    #[command(flatten)]
    output: ListOptions,
}

/// Arguments of `integrations:flows:list`.
#[derive(Args, Debug)]
pub struct FlowsArgs {
    /// The integration: its id or name.
    integration: String,
    #[command(flatten)]
    output: ListOptions,
}

/// Arguments of `integrations:delete`.
#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The integration: its id or name.
    integration: String,
    #[command(flatten)]
    output: ItemOptions,
}

/// Imports a definition file.
pub async fn import(conn: &Connection, args: ImportArgs) -> anyhow::Result<()> {
    let definition = std::fs::read_to_string(&args.path)
        .with_context(|| format!("cannot read {}", args.path.display()))?;
    let client = Client::new(conn)?;
    let integration_id = match &args.integration_id {
        Some(integration) => Some(resolve(&client, integration).await?),
        None => None,
    };
    let mutation = format!(
        "mutation ($input: ImportIntegrationInput!) {{ importIntegration(input: $input) {{ integration {{ {FIELDS} }} errors {{ field messages }} }} }}"
    );
    let input = json!({ "definition": definition, "integrationId": integration_id });
    let integration = client
        .mutate(
            &mutation,
            json!({ "input": input }),
            "importIntegration",
            "integration",
        )
        .await?;
    print_item(&integration, &args.output)
}

/// Prints a definition: the draft, or a published version.
pub async fn export(conn: &Connection, args: ExportArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let id = resolve(&client, &args.integration).await?;
    let definition = match args.version {
        None => {
            let data = client
                .request(
                    "query ($id: ID!) { integration(id: $id) { definition } }",
                    json!({ "id": id }),
                )
                .await?;
            data["integration"]["definition"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
        Some(number) => {
            let query = "query ($id: ID!, $after: String) { integration(id: $id) { versions(first: 500, after: $after) { \
                           nodes { versionNumber definition } pageInfo { hasNextPage endCursor } } } }";
            let versions = fetch_all(
                &client,
                query,
                json!({ "id": id }),
                &["integration", "versions"],
            )
            .await?;
            let version = versions.into_iter().find(|v| v["versionNumber"] == number);
            match version {
                Some(version) => version["definition"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                None => bail!("{:?} has no version {number}", args.integration),
            }
        }
    };
    print!("{definition}");
    Ok(())
}

/// Publishes the draft as the next version.
pub async fn publish(conn: &Connection, args: PublishArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let id = resolve(&client, &args.integration).await?;
    let mutation = "mutation ($input: PublishIntegrationInput!) { publishIntegration(input: $input) { \
                      publishedVersion { id versionNumber comment isAvailable publishedAt } errors { field messages } } }";
    let input = json!({ "id": id, "comment": args.comment });
    let version = client
        .mutate(
            mutation,
            json!({ "input": input }),
            "publishIntegration",
            "publishedVersion",
        )
        .await?;
    print_item(&version, &args.output)
}

/// Lists integrations.
pub async fn list(conn: &Connection, args: ListArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let query = format!(
        "query ($after: String) {{ integrations(after: $after, first: 500) {{ nodes {{ {FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let rows = fetch_all(&client, &query, json!({}), &["integrations"]).await?;
    print_list(objects(rows), COLUMNS, &args.output)
}

/// Lists an integration's published versions, newest first.
pub async fn versions(conn: &Connection, args: VersionsArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let id = resolve(&client, &args.integration).await?;
    let query = "query ($id: ID!, $after: String, $available: Boolean) { integration(id: $id) { \
                   versions(first: 500, after: $after, isAvailable: $available) { \
                     nodes { id versionNumber comment isAvailable publishedAt } pageInfo { hasNextPage endCursor } } } }";
    let available = if args.latest_available {
        json!(true)
    } else {
        Value::Null
    };
    let mut rows = fetch_all(
        &client,
        query,
        json!({ "id": id, "available": available }),
        &["integration", "versions"],
    )
    .await?;
    if args.latest_available {
        rows.truncate(1);
    }
    let columns = [
        ext("id"),
        col("versionNumber"),
        col("isAvailable"),
        col("publishedAt"),
        col("comment"),
    ];
    print_list(objects(rows), &columns, &args.output)
}

/// Lists the flows of an integration's draft.
pub async fn flows(conn: &Connection, args: FlowsArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let id = resolve(&client, &args.integration).await?;
    let query = "query ($id: ID!) { integration(id: $id) { flows { name stableKey triggerType isSynchronous isPreprocessFlow description } } }";
    let data = client.request(query, json!({ "id": id })).await?;
    let flows = data["integration"]["flows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let columns = [
        col("name"),
        col("triggerType"),
        col("stableKey"),
        ext("isSynchronous"),
        ext("isPreprocessFlow"),
        col("description"),
    ];
    print_list(objects(flows), &columns, &args.output)
}

/// Deletes an integration and its versions.
pub async fn delete(conn: &Connection, args: DeleteArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let id = resolve(&client, &args.integration).await?;
    let mutation = format!(
        "mutation ($input: DeleteIntegrationInput!) {{ deleteIntegration(input: $input) {{ integration {{ {FIELDS} }} errors {{ field messages }} }} }}"
    );
    let integration = client
        .mutate(
            &mutation,
            json!({ "input": { "id": id } }),
            "deleteIntegration",
            "integration",
        )
        .await?;
    print_item(&integration, &args.output)
}

/// An integration's id from its id or name.
pub async fn resolve(client: &Client, integration: &str) -> anyhow::Result<String> {
    if id::decode(Kind::Integration, integration).is_ok() {
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
