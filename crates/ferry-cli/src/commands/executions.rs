//! `ferry executions:list|show|cancel|replay`: what ran, how it went, stopping what still runs,
//! and running a failed one again.

use anyhow::bail;
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use serde_json::{json, Map, Value};

use crate::client::{Client, Connection, Follow};
use crate::commands::customers::objects;
use crate::commands::instances::resolve as resolve_instance;
use crate::commands::logs::check_execution_id;
use crate::output::{
    col, ext, print_item, print_list, print_table, Column, Format, ItemOptions, ListOptions,
};

const COLUMNS: &[Column] = &[
    col("id"),
    col("status"),
    col("flow"),
    col("instance"),
    ext("queuedAt"),
    col("startedAt"),
    col("endedAt"),
    col("error"),
];

/// Where an execution stands.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Status {
    /// Waiting for a worker.
    Queued,
    /// A worker runs it.
    Running,
    /// Ended well.
    Succeeded,
    /// Ended with an error.
    Failed,
    /// Ended with an error; an automatic retry is queued.
    FailedRetryPending,
    /// Stopped on request.
    Cancelled,
}

impl Status {
    fn graphql(self) -> &'static str {
        match self {
            Status::Queued => "QUEUED",
            Status::Running => "RUNNING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::FailedRetryPending => "FAILED_RETRY_PENDING",
            Status::Cancelled => "CANCELLED",
        }
    }
}

/// Arguments of `executions:list`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    ferry executions:list --instance \"Mars Orders\" --status failed\n  \
    ferry executions:list -o csv --columns id,status,endedAt")]
pub struct ListArgs {
    /// Only this instance's executions (its id, or its name when no other instance has it).
    #[arg(short, long)]
    instance: Option<String>,
    /// Only executions in this status.
    #[arg(short, long, value_enum)]
    status: Option<Status>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    #[command(flatten)]
    output: ListOptions,
}

/// Arguments of `executions:show`.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  ferry executions:show SW5zdGFuY2VFeGVjdXRpb25SZXN1bHQ6… -o json"
)]
pub struct ShowArgs {
    /// The execution's id.
    execution: String,
    /// Output format: `table` prints the execution and a table of its step results.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,
}

/// Arguments of `executions:cancel` and `executions:replay`.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  ferry executions:cancel SW5zdGFuY2VFeGVjdXRpb25SZXN1bHQ6…\n  \
    ferry executions:replay SW5zdGFuY2VFeGVjdXRpb25SZXN1bHQ6…   # prints the new execution's id"
)]
pub struct CancelArgs {
    /// The execution's id.
    execution: String,
    #[command(flatten)]
    output: ItemOptions,
}

const LIST: &str =
    "query ($after: String, $first: Int, $instance: ID, $status: ExecutionStatus) { \
    executionResults(after: $after, first: $first, instance: $instance, status: $status) { \
      nodes { id status flowKey queuedAt startedAt endedAt error instance { name } } \
      pageInfo { hasNextPage endCursor } } }";

/// Lists executions, newest first.
pub async fn list(conn: &Connection, args: ListArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let instance = match &args.instance {
        Some(instance) => Some(resolve_instance(&client, instance).await?),
        None => None,
    };
    let status = args.status.map(Status::graphql);
    let first = args.limit.clamp(1, 500);
    let variables = json!({ "instance": instance, "status": status, "first": first });
    let mut follow = Follow::new(LIST, variables, &["executionResults"]);
    let mut rows = Vec::new();
    loop {
        let (page, more) = follow.page(&client).await?;
        rows.extend(page);
        if !more || rows.len() >= args.limit {
            break;
        }
    }
    rows.truncate(args.limit);
    let rows = rows.into_iter().map(|mut row| {
        row["flow"] = row["flowKey"].clone();
        row["instance"] = row["instance"]["name"].clone();
        row
    });
    print_list(objects(rows.collect()), COLUMNS, &args.output)
}

const SHOW: &str =
    "query ($id: ID!) { executionResult(id: $id) { id status flowKey isSynchronous attempt \
    queuedAt startedAt endedAt error result instance { id name customer { name } } \
    retryAttemptNumber notBefore retryForExecution { id } replayForExecution { id } } }";

const STEPS: &str = "query ($id: ID!, $after: String) { executionResult(id: $id) { \
    stepResults(first: 500, after: $after) { nodes { id stepName loopPath startedAt endedAt error results } \
      pageInfo { hasNextPage endCursor } } } }";

/// Shows one execution with its step results.
pub async fn show(conn: &Connection, args: ShowArgs) -> anyhow::Result<()> {
    check_execution_id(&args.execution)?;
    let client = Client::new(conn)?;
    let data = client
        .request(SHOW, json!({ "id": args.execution }))
        .await?;
    let mut execution = data["executionResult"].clone();
    let mut steps = Follow::new(
        STEPS,
        json!({ "id": args.execution }),
        &["executionResult", "stepResults"],
    );
    execution["stepResults"] = Value::Array(steps.next(&client).await?);
    match args.output {
        Format::Table | Format::Csv => print_execution(&execution),
        format => print_item(&execution, &ItemOptions { output: format }),
    }
}

/// The execution as `Key: value` lines, then its step results as a table.
fn print_execution(execution: &Value) -> anyhow::Result<()> {
    let text = |value: &Value| match value {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let instance = &execution["instance"];
    println!("ID: {}", text(&execution["id"]));
    println!("Status: {}", text(&execution["status"]));
    println!("Flow: {}", text(&execution["flowKey"]));
    println!(
        "Instance: {} (customer {})",
        text(&instance["name"]),
        text(&instance["customer"]["name"])
    );
    println!("Queued: {}", text(&execution["queuedAt"]));
    println!("Started: {}", text(&execution["startedAt"]));
    println!("Ended: {}", text(&execution["endedAt"]));
    if let Some(took) = duration(&execution["startedAt"], &execution["endedAt"]) {
        println!("Duration: {took}");
    }
    println!("Attempt: {}", text(&execution["attempt"]));
    if !execution["error"].is_null() {
        println!("Error: {}", text(&execution["error"]));
    }
    if !execution["result"].is_null() {
        println!("Result: {}", execution["result"]);
    }
    let steps = execution["stepResults"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if steps.is_empty() {
        println!("\nNo step results.");
        return Ok(());
    }
    println!();
    let rows: Vec<Map<String, Value>> = steps.iter().map(step_row).collect();
    print_table(&["step", "loop", "duration", "outcome"], &rows)
}

/// One step result as a table row: its name, loop path, duration, and error or results.
fn step_row(step: &Value) -> Map<String, Value> {
    let outcome = match step["error"].as_str() {
        Some(error) => format!("error: {error}"),
        None => shorten(&step["results"].to_string(), 80),
    };
    let mut row = Map::new();
    row.insert("step".into(), step["stepName"].clone());
    row.insert("loop".into(), step["loopPath"].clone());
    let took = duration(&step["startedAt"], &step["endedAt"]).unwrap_or_default();
    row.insert("duration".into(), Value::String(took));
    row.insert("outcome".into(), Value::String(outcome));
    row
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// The time between two RFC 3339 instants, as `1.234 s`.
fn duration(start: &Value, end: &Value) -> Option<String> {
    let parse = |v: &Value| DateTime::parse_from_rfc3339(v.as_str()?).ok();
    let took = parse(end)?.with_timezone(&Utc) - parse(start)?.with_timezone(&Utc);
    Some(format!("{:.3} s", took.num_milliseconds() as f64 / 1000.0))
}

/// Cancels a queued or running execution.
pub async fn cancel(conn: &Connection, args: CancelArgs) -> anyhow::Result<()> {
    act_on(conn, args, "cancelExecution").await
}

/// Queues a replay of an execution: the same flow with the same trigger payload.
pub async fn replay(conn: &Connection, args: CancelArgs) -> anyhow::Result<()> {
    act_on(conn, args, "replayExecution").await
}

/// Runs `mutation` (`cancelExecution` or `replayExecution`) on the execution and prints what
/// it answers with.
async fn act_on(conn: &Connection, args: CancelArgs, mutation: &str) -> anyhow::Result<()> {
    check_execution_id(&args.execution)?;
    let client = Client::new(conn)?;
    let text = format!(
        "mutation ($id: ID!) {{ {mutation}(input: {{ id: $id }}) {{ \
         instanceExecutionResult {{ id status error }} errors {{ field messages }} }} }}"
    );
    let execution = client
        .mutate(
            &text,
            json!({ "id": args.execution }),
            mutation,
            "instanceExecutionResult",
        )
        .await?;
    if execution.is_null() {
        bail!("the server did not return the execution");
    }
    print_item(&execution, &args.output)
}
