//! `ferry logs:list`: execution log lines, oldest first, of one execution or all of them, and
//! with `--tail` followed as they are written. Also the one-line form of a log line that
//! `integrations:flows:test --tail-logs` prints.

use std::time::Duration;

use anyhow::bail;
use clap::{Args, ValueEnum};
use ferry_core::id::{self, Kind};
use serde_json::{json, Map, Value};

use crate::client::{fetch_all, Client, Connection, Follow};
use crate::commands::customers::objects;
use crate::output::{col, ext, print_list, Column, ListOptions};

/// How often `--tail` asks for new lines.
pub const POLL: Duration = Duration::from_millis(400);

const COLUMNS: &[Column] = &[
    ext("id"),
    col("timestamp"),
    col("severity"),
    col("stepName"),
    col("message"),
    ext("execution"),
];

/// Log severities.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Severity {
    /// Detail for debugging.
    Debug,
    /// What happened.
    Info,
    /// Something to look at.
    Warn,
    /// Something failed.
    Error,
}

impl Severity {
    fn graphql(self) -> &'static str {
        match self {
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
        }
    }
}

/// Arguments of `logs:list`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    ferry logs:list --execution SW5zdGFuY2VFeGVjdXRpb25SZXN1bHQ6… --severity warn,error\n  \
    ferry logs:list --tail -o json          # one JSON object per line, until Ctrl-C")]
pub struct ListArgs {
    /// Only this execution's lines (its id, as `ferry executions:list` shows it).
    #[arg(short, long)]
    execution: Option<String>,
    /// Only these severities, comma-separated.
    #[arg(short, long, value_enum, value_delimiter = ',')]
    severity: Vec<Severity>,
    /// Keep printing lines as they are written: with --execution until that execution ends,
    /// otherwise until interrupted. JSON prints one object per line, YAML one list item each.
    #[arg(short, long)]
    tail: bool,
    #[command(flatten)]
    output: ListOptions,
}

const QUERY: &str = "query ($after: String, $execution: ID, $severity: [LogSeverityLevel!]) { \
    logs(after: $after, first: 500, executionResult: $execution, severity: $severity) { \
      nodes { id timestamp severity message stepName executionResult { id } } \
      pageInfo { hasNextPage endCursor } } }";

/// Lists log lines, or follows them with `--tail`.
pub async fn list(conn: &Connection, args: ListArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    if let Some(execution) = &args.execution {
        check_execution_id(execution)?;
    }
    let severities: Vec<&str> = args.severity.iter().map(|s| s.graphql()).collect();
    let severity = if severities.is_empty() {
        Value::Null
    } else {
        json!(severities)
    };
    let variables = json!({ "execution": args.execution, "severity": severity });
    if !args.tail {
        let rows = fetch_all(&client, QUERY, variables, &["logs"]).await?;
        return print_list(rows_of(rows), COLUMNS, &args.output);
    }
    let mut stream = args.output.stream(COLUMNS)?;
    let mut follow = Follow::new(QUERY, variables, &["logs"]);
    loop {
        stream.print(rows_of(follow.next(&client).await?))?;
        if let Some(execution) = &args.execution {
            if has_ended(&client, execution).await? {
                return stream.print(rows_of(follow.sweep(&client).await?));
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Refuses what is not an execution id, before asking the server.
pub fn check_execution_id(text: &str) -> anyhow::Result<()> {
    if id::decode(Kind::InstanceExecutionResult, text).is_err() {
        bail!("{text:?} is not an execution id (see `ferry executions:list`)");
    }
    Ok(())
}

/// Whether the execution has ended (succeeded, failed or been cancelled).
pub async fn has_ended(client: &Client, execution: &str) -> anyhow::Result<bool> {
    let data = client
        .request(
            "query ($id: ID!) { executionResult(id: $id) { status } }",
            json!({ "id": execution }),
        )
        .await?;
    Ok(is_final(&data["executionResult"]["status"]))
}

/// Whether a status is one an execution ends in.
pub fn is_final(status: &Value) -> bool {
    matches!(status.as_str(), Some("SUCCEEDED" | "FAILED" | "CANCELLED"))
}

/// Log nodes as rows, with every column present.
fn rows_of(nodes: Vec<Value>) -> Vec<Map<String, Value>> {
    let rows = nodes.into_iter().map(|mut node| {
        node["execution"] = node["executionResult"]["id"].clone();
        node
    });
    objects(rows.collect())
        .into_iter()
        .map(|mut row| {
            for column in COLUMNS {
                row.entry(column.key).or_insert(Value::Null);
            }
            row
        })
        .collect()
}

/// A log line as `integrations:flows:test --tail-logs` prints it:
/// `2025-01-31T10:00:00.123Z INFO  [Step] message`.
pub fn line(log: &Value) -> String {
    let text = |key: &str| log[key].as_str().unwrap_or_default().to_string();
    let step = match log["stepName"].as_str() {
        Some(step) => format!("[{step}] "),
        None => String::new(),
    };
    format!(
        "{} {:<5} {step}{}",
        text("timestamp"),
        text("severity"),
        text("message")
    )
}
