//! `ferry components:publish|list` (through the server) and `components:test`, which runs one
//! action of a local bundle in this process's own sandbox, like the reference's
//! `createHarness`: no server, no store, the same SDK and input cleaning as a flow's step.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use ferry_components::custom::Manifest;
use ferry_js::{CodeHost, ComponentCall, JsRuntime, LogLevel, Operation};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use crate::client::{fetch_all, Client, Connection};
use crate::commands::customers::objects;
use crate::output::{col, print_item, print_list, Column, Format, ItemOptions, ListOptions};

const COLUMNS: &[Column] = &[
    col("key"),
    col("label"),
    col("versionNumber"),
    col("isPublic"),
    col("description"),
];

/// Arguments of `components:publish`.
#[derive(Args, Debug)]
pub struct PublishArgs {
    /// The bundle: JavaScript exporting `component({ … })`.
    #[arg(short, long)]
    path: PathBuf,
    /// Why this version is published.
    #[arg(short, long)]
    comment: Option<String>,
    #[command(flatten)]
    output: ItemOptions,
}

/// Arguments of `components:list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    output: ListOptions,
}

/// Arguments of `components:test`.
#[derive(Args, Debug)]
pub struct TestArgs {
    /// The bundle.
    #[arg(short, long)]
    path: PathBuf,
    /// The action's key.
    #[arg(short, long)]
    action: String,
    /// A JSON file of the action's inputs (input key → value).
    #[arg(short, long)]
    inputs: Option<PathBuf>,
    /// A JSON file of a connection's values (`{ "fields": { … } }`, or the fields alone),
    /// given to the action's connection input(s).
    #[arg(long)]
    connection: Option<PathBuf>,
    /// The time limit, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Output format: `table` prints the logs and the result for people.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,
}

/// The bundle at `path` as the sandbox runs it: a `.ts` (or `.mts`/`.cts`) file has its types
/// stripped here, so the server and the harness only ever see JavaScript.
fn read(path: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = ferry_js::prepare_bundle(&text);
    let typescript = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "ts" | "mts" | "cts"));
    if !typescript {
        return Ok(text);
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("bundle.ts");
    ferry_js::typescript::strip_types(&text, name)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Publishes a bundle as its component's next version.
pub async fn publish(conn: &Connection, args: PublishArgs) -> anyhow::Result<()> {
    let bundle = read(&args.path)?;
    let client = Client::new(conn)?;
    let mutation = "mutation ($input: PublishComponentInput!) { publishComponent(input: $input) { \
                      publishedVersion { id versionNumber comment publishedAt actions { key } triggers { key } } \
                      errors { field messages } } }";
    let input = json!({ "bundle": bundle, "comment": args.comment });
    let version = client
        .mutate(
            mutation,
            json!({ "input": input }),
            "publishComponent",
            "publishedVersion",
        )
        .await?;
    print_item(&version, &args.output)
}

/// Lists components: the built-in ones, then the organization's custom ones.
pub async fn list(conn: &Connection, args: ListArgs) -> anyhow::Result<()> {
    let client = Client::new(conn)?;
    let query = "query ($after: String) { components(after: $after, first: 500) { \
                   nodes { key label description isPublic versionNumber } pageInfo { hasNextPage endCursor } } }";
    let rows = fetch_all(&client, query, json!({}), &["components"]).await?;
    print_list(objects(rows), COLUMNS, &args.output)
}

/// Records the action's log lines.
#[derive(Default)]
struct Recorder(Mutex<Vec<(LogLevel, String)>>);

impl CodeHost for Recorder {
    fn log(&self, level: LogLevel, message: &str) {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lines.push((level, message.to_string()));
    }

    fn invoke_flow(&self, name: String, _data: Value) -> BoxFuture<'_, Result<Value, String>> {
        Box::pin(async move {
            Err(format!(
                "no flow {name:?}: components:test runs one action alone"
            ))
        })
    }
}

fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// The inputs from `--inputs`, with `--connection` given to every connection input.
fn inputs(args: &TestArgs, manifest: &Manifest) -> anyhow::Result<Map<String, Value>> {
    let mut inputs = match &args.inputs {
        None => Map::new(),
        Some(path) => match serde_json::from_str(&read(path)?) {
            Ok(Value::Object(map)) => map,
            Ok(_) => bail!(
                "{} must hold a JSON object of input key → value",
                path.display()
            ),
            Err(e) => bail!("{} is not JSON: {e}", path.display()),
        },
    };
    let Some(path) = &args.connection else {
        return Ok(inputs);
    };
    let connection: Value = serde_json::from_str(&read(path)?)
        .with_context(|| format!("{} is not JSON", path.display()))?;
    let action = manifest.action(&args.action);
    let keys = action.into_iter().flat_map(|a| &a.inputs);
    for input in keys.filter(|i| i.kind == "connection") {
        inputs.insert(input.key.clone(), connection.clone());
    }
    Ok(inputs)
}

/// Runs one action of a local bundle and prints its result and log lines; fails when the
/// action does.
pub async fn test(args: TestArgs) -> anyhow::Result<()> {
    let bundle = read(&args.path)?;
    let runtime = JsRuntime::default();
    let time_limit = Duration::from_secs(args.timeout.max(1));
    let described = runtime
        .component_manifest(bundle.clone(), time_limit)
        .await
        .with_context(|| format!("{} cannot be loaded", args.path.display()))?;
    let manifest = Manifest::check(described).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "the component's manifest is invalid:\n  {}",
            lines.join("\n  ")
        )
    })?;
    if manifest.action(&args.action).is_none() {
        let known: Vec<&str> = manifest.actions.iter().map(|a| a.key.as_str()).collect();
        bail!(
            "component {:?} has no action {:?}; its actions: {}",
            manifest.key(),
            args.action,
            known.join(", ")
        );
    }
    let call = ComponentCall {
        bundle,
        operation: Operation::Action {
            key: args.action.clone(),
            params: Value::Object(inputs(&args, &manifest)?),
        },
        context: json!({
            "executionId": "components:test", "stepId": args.action, "configVars": {},
            "customer": { "id": null, "name": "Test Customer", "externalId": null },
            "instance": { "id": null, "name": "components:test" },
            "flow": { "id": null, "name": "components:test" },
            "integration": { "id": null, "name": "components:test" },
            "webhookUrls": {}, "webhookApiKeys": {}, "debug": { "enabled": false },
            "executionState": {}, "instanceState": {}, "crossFlowState": {}, "integrationState": {},
        }),
        deadline: Instant::now() + time_limit,
        time_limit,
    };
    let recorder = Recorder::default();
    let result = runtime.run_component(call, &recorder).await;
    let logs = recorder.0.into_inner().unwrap_or_else(|e| e.into_inner());
    report(&args, &logs, result)
}

fn report(
    args: &TestArgs,
    logs: &[(LogLevel, String)],
    result: Result<ferry_js::CodeOutput, ferry_js::JsError>,
) -> anyhow::Result<()> {
    let (data, error) = match &result {
        Ok(output) => (output.data.clone(), None),
        Err(error) => (Value::Null, Some(error.to_string())),
    };
    let lines: Vec<Value> = logs
        .iter()
        .map(|(level, message)| json!({ "level": level_name(*level), "message": message }))
        .collect();
    let item = json!({ "action": args.action, "data": data, "error": error, "logs": lines });
    match args.output {
        Format::Json => println!("{}", serde_json::to_string_pretty(&item)?),
        Format::Yaml => print!("{}", serde_yaml::to_string(&item)?),
        Format::Table | Format::Csv => {
            for (level, message) in logs {
                println!("{:<5} {message}", level_name(*level));
            }
            if error.is_none() {
                println!("{}", serde_json::to_string_pretty(&data)?);
            }
        }
    }
    match error {
        Some(error) => bail!("action {:?} failed: {error}", args.action),
        None => Ok(()),
    }
}
