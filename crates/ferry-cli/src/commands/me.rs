//! `ferry login`, `ferry logout`, `ferry me`, `ferry me:token`.

use std::io::BufRead;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::{json, Value};

use crate::client::{Client, Connection};
use crate::credentials::{self, Login};
use crate::output::{Format, ItemOptions};

const ME: &str = "query { authenticatedUser { id name email role { name } customer { name } } organization { name } }";

/// Arguments of `ferry login`.
#[derive(Args, Debug)]
pub struct LoginArgs {
    /// An API token; read from standard input when left out.
    #[arg(long)]
    token: Option<String>,
}

/// Arguments of `ferry me`.
#[derive(Args, Debug)]
pub struct MeArgs {
    #[command(flatten)]
    output: ItemOptions,
}

/// Checks a token against the server and stores it with the URL.
pub async fn login(conn: &Connection, args: LoginArgs) -> anyhow::Result<()> {
    let url = conn.base_url()?;
    let token = match args.token.or_else(|| conn.api_key.clone()) {
        Some(token) => token,
        None => {
            eprint!("API token for {url}: ");
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the token from standard input")?;
            line
        }
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        bail!("no token given");
    }
    let client = Client::with_token(&url, &token)?;
    let data = client
        .request(ME, json!({}))
        .await
        .context("the server refused the token")?;
    let path = credentials::store(&Login {
        url: url.clone(),
        token,
    })?;
    let user = &data["authenticatedUser"];
    eprintln!(
        "Logged in to {url} as {} ({}); credentials stored in {}",
        text(&user["name"]),
        text(&user["email"]),
        path.display()
    );
    Ok(())
}

/// Forgets the stored login.
pub fn logout() -> anyhow::Result<()> {
    if credentials::forget()? {
        eprintln!("Logged out.");
    } else {
        eprintln!("Not logged in.");
    }
    Ok(())
}

/// Prints who the token belongs to.
pub async fn me(conn: &Connection, args: MeArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let data = client.request(ME, json!({})).await?;
    let user = &data["authenticatedUser"];
    let record = json!({
        "id": user["id"],
        "name": user["name"],
        "email": user["email"],
        "role": user["role"]["name"],
        "customer": user["customer"]["name"],
        "organization": data["organization"]["name"],
        "endpointUrl": client.base_url(),
    });
    match args.output.output {
        Format::Table | Format::Csv => {
            println!("Name: {}", text(&record["name"]));
            println!("Email: {}", text(&record["email"]));
            println!("Role: {}", text(&record["role"]));
            if !record["customer"].is_null() {
                println!("Customer: {}", text(&record["customer"]));
            }
            println!("Organization: {}", text(&record["organization"]));
            println!("Endpoint URL: {}", text(&record["endpointUrl"]));
        }
        _ => crate::output::print_item(&record, &args.output)?,
    }
    Ok(())
}

/// Prints an API token without asking the server.
pub fn token(conn: &Connection) -> anyhow::Result<()> {
    println!("{}", conn.token()?);
    Ok(())
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}
