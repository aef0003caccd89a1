//! `ferry customers:list|create|update|delete`.

use anyhow::bail;
use clap::Args;
use ferry_core::id::{self, Kind};
use serde_json::{json, Map, Value};

use crate::client::{fetch_all, Client, Connection};
use crate::output::{col, ext, print_item, print_list, Column, ItemOptions, ListOptions};

const FIELDS: &str = "id name description externalId labels isSystem createdAt";

const COLUMNS: &[Column] = &[
    ext("id"),
    col("name"),
    col("externalId"),
    col("description"),
    col("labels"),
    ext("isSystem"),
    ext("createdAt"),
];

/// Arguments of `customers:list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only the customer with this external id.
    #[arg(long)]
    external_id: Option<String>,
    /// Only customers carrying this label (repeatable; all must match).
    #[arg(short, long = "label")]
    labels: Vec<String>,
    /// Include the system customers that hold test instances.
    #[arg(long)]
    include_system: bool,
    #[command(flatten)]
    output: ListOptions,
}

/// Arguments of `customers:create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The customer's name (unique).
    #[arg(short, long)]
    name: String,
    /// A description.
    #[arg(short, long)]
    description: Option<String>,
    /// The customer's id in your own app (unique).
    #[arg(short, long)]
    external_id: Option<String>,
    /// A label (repeatable).
    #[arg(short, long = "label")]
    labels: Vec<String>,
    #[command(flatten)]
    output: ItemOptions,
}

/// Arguments of `customers:update`.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The customer: its id, external id or name.
    customer: String,
    /// A new name.
    #[arg(short, long)]
    name: Option<String>,
    /// A new description.
    #[arg(short, long)]
    description: Option<String>,
    /// A new external id (`""` clears it).
    #[arg(short, long)]
    external_id: Option<String>,
    /// Labels replacing the current ones (repeatable).
    #[arg(short, long = "label")]
    labels: Vec<String>,
    #[command(flatten)]
    output: ItemOptions,
}

/// Arguments of `customers:delete`.
#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The customer: its id, external id or name.
    customer: String,
    #[command(flatten)]
    output: ItemOptions,
}

/// Lists customers, every page of them.
pub async fn list(conn: &Connection, args: ListArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let query = format!(
        "query ($after: String, $isSystem: Boolean, $externalId: String, $labels: [String!]) {{ \
           customers(after: $after, first: 500, isSystem: $isSystem, externalId: $externalId, labels: $labels) {{ \
             nodes {{ {FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let is_system = if args.include_system {
        Value::Null
    } else {
        json!(false)
    };
    let variables =
        json!({ "isSystem": is_system, "externalId": args.external_id, "labels": args.labels });
    let rows = fetch_all(&client, &query, variables, &["customers"]).await?;
    print_list(objects(rows), COLUMNS, &args.output)
}

/// Turns JSON rows into maps.
pub fn objects(rows: Vec<Value>) -> Vec<Map<String, Value>> {
    rows.into_iter()
        .filter_map(|row| {
            if let Value::Object(map) = row {
                Some(map)
            } else {
                None
            }
        })
        .collect()
}

/// Creates a customer.
pub async fn create(conn: &Connection, args: CreateArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let mutation = format!(
        "mutation ($input: CreateCustomerInput!) {{ createCustomer(input: $input) {{ customer {{ {FIELDS} }} errors {{ field messages }} }} }}"
    );
    let input = json!({ "name": args.name, "description": args.description, "externalId": args.external_id, "labels": args.labels });
    let customer = client
        .mutate(
            &mutation,
            json!({ "input": input }),
            "createCustomer",
            "customer",
        )
        .await?;
    print_item(&customer, &args.output)
}

/// Changes a customer.
pub async fn update(conn: &Connection, args: UpdateArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let id = resolve(&client, &args.customer).await?;
    let mut input = json!({ "id": id });
    if let Some(name) = args.name {
        input["name"] = json!(name);
    }
    if let Some(description) = args.description {
        input["description"] = json!(description);
    }
    if let Some(external_id) = args.external_id {
        input["externalId"] = json!(external_id);
    }
    if !args.labels.is_empty() {
        input["labels"] = json!(args.labels);
    }
    let mutation = format!(
        "mutation ($input: UpdateCustomerInput!) {{ updateCustomer(input: $input) {{ customer {{ {FIELDS} }} errors {{ field messages }} }} }}"
    );
    let customer = client
        .mutate(
            &mutation,
            json!({ "input": input }),
            "updateCustomer",
            "customer",
        )
        .await?;
    print_item(&customer, &args.output)
}

/// Deletes a customer.
pub async fn delete(conn: &Connection, args: DeleteArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let id = resolve(&client, &args.customer).await?;
    let mutation = format!(
        "mutation ($input: DeleteCustomerInput!) {{ deleteCustomer(input: $input) {{ customer {{ {FIELDS} }} errors {{ field messages }} }} }}"
    );
    let customer = client
        .mutate(
            &mutation,
            json!({ "input": { "id": id } }),
            "deleteCustomer",
            "customer",
        )
        .await?;
    print_item(&customer, &args.output)
}

/// A customer's id from its id, external id or name.
pub async fn resolve(client: &Client, customer: &str) -> anyhow::Result<String> {
    if id::decode(Kind::Customer, customer).is_ok() {
        return Ok(customer.to_string());
    }
    let query = "query ($externalId: String, $name: String) { customers(externalId: $externalId, name: $name, first: 2) { nodes { id } } }";
    for variables in [
        json!({ "externalId": customer }),
        json!({ "name": customer }),
    ] {
        let data = client.request(query, variables).await?;
        if let Some(id) = data["customers"]["nodes"][0]["id"].as_str() {
            return Ok(id.to_string());
        }
    }
    bail!("no customer with id, external id or name {customer:?}")
}
