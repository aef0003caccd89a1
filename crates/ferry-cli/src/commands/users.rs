//! `ferry users:list|create|delete|roles`.

use anyhow::bail;
use clap::{Args, ValueEnum};
use ferry_core::id::{self, Kind};
use serde_json::{json, Value};

use crate::client::{fetch_all, Client, Connection};
use crate::commands::customers::{objects, resolve as resolve_customer};
use crate::output::{col, ext, print_item, print_list, Column, ItemOptions, ListOptions};

const FIELDS: &str =
    "id name email phone isOrganizationUser createdAt role { name } customer { name }";

const COLUMNS: &[Column] = &[
    ext("id"),
    col("name"),
    col("email"),
    col("role"),
    col("customer"),
    ext("phone"),
    ext("createdAt"),
];

/// Which users to list.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UserType {
    /// The organization's team members.
    Organization,
    /// Customers' users.
    Customer,
}

/// Arguments of `users:list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only users of this customer (id, external id or name).
    #[arg(short, long)]
    customer: Option<String>,
    /// Only organization users or only customer users.
    #[arg(long = "type", value_enum)]
    user_type: Option<UserType>,
    #[command(flatten)]
    output: ListOptions,
}

/// Arguments of `users:create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The user's email (unique in the organization).
    #[arg(short, long)]
    email: String,
    /// The user's name.
    #[arg(short, long)]
    name: Option<String>,
    /// A role id or name (see `ferry users:roles`).
    #[arg(short, long)]
    role: String,
    /// Make a customer user of this customer (id, external id or name).
    #[arg(short, long)]
    customer: Option<String>,
    #[command(flatten)]
    output: ItemOptions,
}

/// Arguments of `users:delete`.
#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The user: its id or email.
    user: String,
    #[command(flatten)]
    output: ItemOptions,
}

/// Arguments of `users:roles`.
#[derive(Args, Debug)]
pub struct RolesArgs {
    /// Only organization roles or only customer roles.
    #[arg(long = "type", value_enum)]
    role_type: Option<UserType>,
    #[command(flatten)]
    output: ListOptions,
}

/// Flattens a user for printing: role and customer names as plain columns.
fn flatten(mut user: Value) -> Value {
    user["role"] = user["role"]["name"].clone();
    user["customer"] = user["customer"]["name"].clone();
    user
}

/// Lists users, every page of them.
pub async fn list(conn: &Connection, args: ListArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let customer = match &args.customer {
        Some(customer) => Some(resolve_customer(&client, customer).await?),
        None => None,
    };
    let user_type = args.user_type.map(|t| match t {
        UserType::Organization => "ORGANIZATION",
        UserType::Customer => "CUSTOMER",
    });
    let query = format!(
        "query ($after: String, $customer: ID, $userType: UserType) {{ \
           users(after: $after, first: 500, customer: $customer, userType: $userType) {{ \
             nodes {{ {FIELDS} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let rows = fetch_all(
        &client,
        &query,
        json!({ "customer": customer, "userType": user_type }),
        &["users"],
    )
    .await?;
    print_list(
        objects(rows.into_iter().map(flatten).collect()),
        COLUMNS,
        &args.output,
    )
}

/// Creates an organization user or a customer user.
pub async fn create(conn: &Connection, args: CreateArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let user = match &args.customer {
        None => {
            let mutation = format!(
                "mutation ($input: CreateOrganizationUserInput!) {{ createOrganizationUser(input: $input) {{ user {{ {FIELDS} }} errors {{ field messages }} }} }}"
            );
            let input = json!({ "email": args.email, "name": args.name, "role": args.role });
            client
                .mutate(
                    &mutation,
                    json!({ "input": input }),
                    "createOrganizationUser",
                    "user",
                )
                .await?
        }
        Some(customer) => {
            let customer = resolve_customer(&client, customer).await?;
            let mutation = format!(
                "mutation ($input: CreateCustomerUserInput!) {{ createCustomerUser(input: $input) {{ user {{ {FIELDS} }} errors {{ field messages }} }} }}"
            );
            let input = json!({ "email": args.email, "name": args.name, "role": args.role, "customer": customer });
            client
                .mutate(
                    &mutation,
                    json!({ "input": input }),
                    "createCustomerUser",
                    "user",
                )
                .await?
        }
    };
    print_item(&flatten(user), &args.output)
}

/// Deletes a user.
pub async fn delete(conn: &Connection, args: DeleteArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let id = resolve(&client, &args.user).await?;
    let mutation = format!("mutation ($input: DeleteUserInput!) {{ deleteUser(input: $input) {{ user {{ {FIELDS} }} errors {{ field messages }} }} }}");
    let user = client
        .mutate(
            &mutation,
            json!({ "input": { "id": id } }),
            "deleteUser",
            "user",
        )
        .await?;
    print_item(&flatten(user), &args.output)
}

/// Lists the roles the caller may give.
pub async fn roles(conn: &Connection, args: RolesArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let role_type = args.role_type.map(|t| match t {
        UserType::Organization => "ORGANIZATION",
        UserType::Customer => "CUSTOMER",
    });
    let query = "query ($roleType: RoleType) { authenticatedUser { grantableRoles(roleType: $roleType) { id name roleType description } } }";
    let data = client
        .request(query, json!({ "roleType": role_type }))
        .await?;
    let roles = data["authenticatedUser"]["grantableRoles"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let columns = [ext("id"), col("name"), col("roleType"), col("description")];
    print_list(objects(roles), &columns, &args.output)
}

/// A user's id from its id or email.
async fn resolve(client: &Client, user: &str) -> anyhow::Result<String> {
    if id::decode(Kind::User, user).is_ok() {
        return Ok(user.to_string());
    }
    let query = "query ($email: String) { users(email: $email, first: 1) { nodes { id } } }";
    let data = client.request(query, json!({ "email": user })).await?;
    match data["users"]["nodes"][0]["id"].as_str() {
        Some(id) => Ok(id.to_string()),
        None => bail!("no user with id or email {user:?}"),
    }
}
