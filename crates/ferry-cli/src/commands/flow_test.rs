//! `ferry integrations:flows:test`: runs one flow of an integration's draft on its test
//! instance, by posting a payload to that flow's webhook URL, then follows the execution to its
//! end, printing its log lines and step results as they arrive when asked. The exit status
//! says how it ended: 0 when it succeeded, 1 when it failed, was cancelled or outlasted
//! `--timeout`.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Args;
use serde_json::{json, Value};

use crate::client::{Client, Connection, Follow};
use crate::commands::integrations::resolve as resolve_integration;
use crate::commands::logs::{is_final, line, POLL};
use crate::output::{print_item, Format, ItemOptions};

/// Arguments of `integrations:flows:test`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    ferry integrations:flows:test Orders --flow \"Sync Order\" --payload order.json --tail-logs\n  \
    ferry integrations:flows:test Orders --flow Answer --sync -o json")]
pub struct TestArgs {
    /// The integration: its id or name. Its draft runs; nothing needs publishing first.
    integration: String,
    /// The flow to run, by name (may be left out when the integration has one flow).
    #[arg(short, long)]
    flow: Option<String>,
    /// A file holding the request body [default: an empty body].
    #[arg(short, long, value_name = "FILE")]
    payload: Option<PathBuf>,
    /// The payload's content type.
    #[arg(
        short = 'c',
        long,
        default_value = "application/json",
        value_name = "TYPE"
    )]
    payload_content_type: String,
    /// Ask for a synchronous answer and print it (the flow's response) when the flow succeeds.
    #[arg(long)]
    sync: bool,
    /// Print the execution's log lines as they are written.
    #[arg(long)]
    tail_logs: bool,
    /// Print each step's result as it completes.
    #[arg(long)]
    tail_results: bool,
    /// Give up waiting for the end after this many seconds (exit status 1).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    timeout: u64,
    /// Sent to the flow's webhook as its `Api-Key` header, for secured endpoints (unlike
    /// --api-key, the token for Ferry's API).
    #[arg(
        long = "apiKey",
        visible_alias = "endpoint-api-key",
        value_name = "KEY"
    )]
    endpoint_api_key: Option<String>,
    /// Output format: `table` prints as it goes; `json` and `yaml` print one document at the
    /// end (execution id, status, error, result, logs, step results).
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,
}

const TEST_INSTANCE: &str = "query ($id: ID!) { integration(id: $id) { name \
    testInstance { flowConfigs { nodes { flow { name } webhookUrl } } } } }";

const STATUS: &str =
    "query ($id: ID!) { executionResult(id: $id) { status error result startedAt endedAt } }";

const LOGS: &str =
    "query ($id: ID, $after: String) { logs(executionResult: $id, after: $after, first: 500) { \
    nodes { id timestamp severity stepName message } pageInfo { hasNextPage endCursor } } }";

const STEPS: &str = "query ($id: ID!, $after: String) { executionResult(id: $id) { \
    stepResults(first: 500, after: $after) { nodes { id stepName loopPath results error } \
      pageInfo { hasNextPage endCursor } } } }";

/// What the webhook answered: the execution it queued, and for a synchronous call the
/// response itself.
struct Answer {
    execution_id: String,
    status: u16,
    body: String,
}

/// Runs the flow and follows its execution.
pub async fn test(conn: &Connection, args: TestArgs) -> anyhow::Result<()> {
    let body = read_payload(&args)?;
    let client = Client::new(conn)?;
    let integration = resolve_integration(&client, &args.integration).await?;
    let url = flow_url(&client, &integration, args.flow.as_deref()).await?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let answer = trigger(&url, body, &args).await?;
    let live = args.output == Format::Table;
    if live && !args.sync {
        println!("Execution ID: {}", answer.execution_id);
        std::io::stdout().flush()?;
    }
    let mut watch = Watch::new(&answer.execution_id, &args);
    let execution = watch.until_end(&client, deadline).await?;
    if live {
        report_live(&answer, &args, &execution)?;
    } else {
        let document = watch.document(&answer, &args, &execution);
        print_item(
            &document,
            &ItemOptions {
                output: args.output,
            },
        )?;
    }
    outcome(&answer.execution_id, &execution)
}

fn read_payload(args: &TestArgs) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(path) = &args.payload else {
        return Ok(None);
    };
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the payload file {}", path.display()))?;
    Ok(Some(bytes))
}

/// The webhook URL of the test instance's flow named `flow` (or its only flow).
async fn flow_url(
    client: &Client,
    integration: &str,
    flow: Option<&str>,
) -> anyhow::Result<String> {
    let data = client
        .request(TEST_INSTANCE, json!({ "id": integration }))
        .await?;
    let found = &data["integration"];
    let name = found["name"].as_str().unwrap_or_default();
    let Some(configs) = found["testInstance"]["flowConfigs"]["nodes"].as_array() else {
        bail!("{name:?} has no test instance yet; import it again (ferry integrations:import -i {integration:?} -p FILE)");
    };
    let names: Vec<&str> = configs
        .iter()
        .filter_map(|c| c["flow"]["name"].as_str())
        .collect();
    let chosen = match flow {
        Some(flow) => configs.iter().find(|c| c["flow"]["name"] == flow),
        None if configs.len() == 1 => configs.first(),
        None => bail!(
            "{name:?} has {} flows; choose one with --flow: {}",
            names.len(),
            names.join(", ")
        ),
    };
    match chosen.and_then(|c| c["webhookUrl"].as_str()) {
        Some(url) => Ok(url.to_string()),
        None => bail!(
            "{name:?} has no flow {:?}; its flows are: {}",
            flow.unwrap_or_default(),
            names.join(", ")
        ),
    }
}

/// Posts the payload to the flow's webhook.
async fn trigger(url: &str, body: Option<Vec<u8>>, args: &TestArgs) -> anyhow::Result<Answer> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout.max(1)))
        .build()?;
    let mut request = http.post(url);
    if let Some(body) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, &args.payload_content_type)
            .body(body);
    }
    if args.sync {
        request = request.header("ferry-synchronous", "true");
    }
    if let Some(key) = &args.endpoint_api_key {
        request = request.header("api-key", key);
    }
    let response = request
        .send()
        .await
        .map_err(|err| anyhow!("cannot reach the flow's webhook {url}: {err}"))?;
    let status = response.status();
    let header = response
        .headers()
        .get("ferry-executionid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = response.bytes().await?;
    let json: Option<Value> = serde_json::from_slice(&bytes).ok();
    let body = String::from_utf8_lossy(&bytes).to_string();
    let from_body = json.as_ref().and_then(|j| j["executionId"].as_str());
    match header.or_else(|| from_body.map(str::to_string)) {
        Some(execution_id) => Ok(Answer {
            execution_id,
            status: status.as_u16(),
            body,
        }),
        None => {
            let reason = json.as_ref().and_then(|j| j["error"].as_str());
            bail!(
                "the flow's webhook answered {status}: {}",
                reason.unwrap_or(body.trim())
            )
        }
    }
}

/// An execution followed to its end, with the log lines and step results seen so far.
struct Watch {
    id: String,
    logs: Follow,
    steps: Follow,
    seen_logs: Vec<Value>,
    seen_steps: Vec<Value>,
    live: bool,
    tail_logs: bool,
    tail_results: bool,
}

impl Watch {
    fn new(id: &str, args: &TestArgs) -> Watch {
        let variables = json!({ "id": id });
        Watch {
            id: id.to_string(),
            logs: Follow::new(LOGS, variables.clone(), &["logs"]),
            steps: Follow::new(STEPS, variables, &["executionResult", "stepResults"]),
            seen_logs: Vec::new(),
            seen_steps: Vec::new(),
            live: args.output == Format::Table,
            tail_logs: args.tail_logs,
            tail_results: args.tail_results,
        }
    }

    /// Polls until the execution ends, printing what it asks to tail; gives the ended
    /// execution, or fails at the deadline.
    async fn until_end(&mut self, client: &Client, deadline: Instant) -> anyhow::Result<Value> {
        loop {
            if self.live {
                self.take(client, false).await?;
            }
            let data = client.request(STATUS, json!({ "id": self.id })).await?;
            let execution = data["executionResult"].clone();
            if is_final(&execution["status"]) {
                // A last read from the start also finds lines committed out of id order.
                self.take(client, true).await?;
                return Ok(execution);
            }
            if Instant::now() >= deadline {
                bail!(
                    "execution {} did not end in time (it is {}); follow it with `ferry logs:list --tail --execution {}`",
                    self.id,
                    execution["status"].as_str().unwrap_or("unknown"),
                    self.id
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Reads the new log lines and step results that are wanted, and prints them when live.
    async fn take(&mut self, client: &Client, sweep: bool) -> anyhow::Result<()> {
        if self.tail_logs || !self.live {
            let lines = if sweep {
                self.logs.sweep(client).await?
            } else {
                self.logs.next(client).await?
            };
            if self.live {
                lines.iter().for_each(|log| println!("{}", line(log)));
            }
            self.seen_logs.extend(lines);
        }
        if self.tail_results || !self.live {
            let steps = if sweep {
                self.steps.sweep(client).await?
            } else {
                self.steps.next(client).await?
            };
            if self.live {
                steps
                    .iter()
                    .for_each(|step| println!("{}", step_line(step)));
            }
            self.seen_steps.extend(steps);
        }
        std::io::stdout().flush()?;
        Ok(())
    }

    /// The one document `--output json|yaml` prints.
    fn document(&self, answer: &Answer, args: &TestArgs, execution: &Value) -> Value {
        let mut document = json!({
            "executionId": self.id,
            "status": execution["status"],
            "error": execution["error"],
            "result": execution["result"],
            "startedAt": execution["startedAt"],
            "endedAt": execution["endedAt"],
            "logs": self.seen_logs,
            "stepResults": self.seen_steps,
        });
        if args.sync {
            document["response"] = json!({ "statusCode": answer.status, "body": answer.body });
        }
        document
    }
}

/// A step result as `--tail-results` prints it: `Step "Name" [loop]: results` or its error.
fn step_line(step: &Value) -> String {
    let name = step["stepName"].as_str().unwrap_or_default();
    let place = match step["loopPath"].as_str() {
        Some(path) if !path.is_empty() => format!(" [{path}]"),
        _ => String::new(),
    };
    match step["error"].as_str() {
        Some(error) => format!("Step {name:?}{place} failed: {error}"),
        None => format!("Step {name:?}{place}: {}", step["results"]),
    }
}

/// What table output ends with: the synchronous response, or the status.
fn report_live(answer: &Answer, args: &TestArgs, execution: &Value) -> anyhow::Result<()> {
    let succeeded = execution["status"] == "SUCCEEDED";
    if args.sync && succeeded {
        println!("{}", answer.body);
    } else if succeeded {
        println!("Execution succeeded.");
    }
    Ok(())
}

/// Success when the execution succeeded; otherwise its error, on one line.
fn outcome(id: &str, execution: &Value) -> anyhow::Result<()> {
    let status = execution["status"].as_str().unwrap_or("unknown");
    if status == "SUCCEEDED" {
        return Ok(());
    }
    let error = execution["error"]
        .as_str()
        .unwrap_or("no error was recorded")
        .replace('\n', " ");
    bail!("execution {id} {}: {error}", status.to_lowercase())
}
