//! Running flows from the command line: `integrations:flows:test` runs a draft's flow on its
//! test instance and follows it; `executions:list|show|cancel` and `logs:list [--tail]` look
//! at what ran.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use ferry_core::id::{self, Kind};
use ferry_store::testing::TestStore;
use serde_json::{json, Value};

use crate::harness::{failure, Served};

ferry_store::store_tests!(
    a_draft_flow_runs_and_its_logs_stream_to_the_terminal,
    a_failing_or_slow_flow_exits_1_with_the_reason,
    executions_and_logs_from_the_command_line,
    logs_tail_follows_new_lines_until_interrupted,
    bad_input_to_run_commands_gets_a_one_line_error,
);

const GREETER: &str = r#"
name: Greeter
requiredConfigVars:
  - key: Greeting
    dataType: string
    defaultValue: Hello
flows:
  - name: Greet
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - { name: Say, action: log.write, inputs: { message: "{{ configVars.Greeting }}, {{ steps.trigger.results.body.data.name }}" } }
      - { name: Count, action: state.append, inputs: { scope: flow, key: names, value: "{{ steps.trigger.results.body.data.name }}" } }
      - { name: Careful, action: log.write, inputs: { level: warn, message: "greeted {{ steps.count.results | length }}" } }
  - name: Answer
    trigger: { type: webhook, endpointSecurityType: unsecured, isSynchronous: true }
    steps:
      - { name: Reply, action: flow.stop, inputs: { statusCode: 201, body: { hello: "{{ steps.trigger.results.body.data.name }}" } } }
  - name: Broken
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - { name: Before, action: log.write, inputs: { message: about to fail } }
      - { name: Explode, action: log.write, inputs: { message: "{{ steps.trigger.results.body.data.missing.deeper }}" } }
  - name: Slow
    trigger: { type: webhook, endpointSecurityType: unsecured }
    steps:
      - { name: Nap, action: sleep, inputs: { seconds: 5 } }
"#;

/// A server with the Greeter integration imported (not published) and a payload file; gives
/// the payload's path.
fn greeter(store: &TestStore) -> (Served, String) {
    let served = Served::start(store);
    let definition = served.file("greeter.yml", GREETER);
    served.ok(&["integrations:import", "--path", &definition]);
    let payload = served.file("ann.json", r#"{"name": "Ann"}"#);
    (served, payload)
}

/// `integrations:flows:test Greeter --flow FLOW` with more arguments.
fn test_flow<'a>(flow: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["integrations:flows:test", "Greeter", "--flow", flow];
    args.extend_from_slice(more);
    args
}

async fn a_draft_flow_runs_and_its_logs_stream_to_the_terminal(store: &TestStore) {
    let (served, payload) = greeter(store);
    let out = served.ok(&test_flow("Greet", &["--payload", &payload, "--tail-logs"]));
    let first = out.lines().next().unwrap();
    let execution = first.strip_prefix("Execution ID: ").unwrap();
    assert!(
        id::decode(Kind::InstanceExecutionResult, execution).is_ok(),
        "{out}"
    );
    assert!(out.contains(" INFO  [Say] Hello, Ann\n"), "{out}");
    assert!(out.contains(" WARN  [Careful] greeted 1\n"), "{out}");
    assert!(
        out.contains("Execution succeeded.\n") && out.ends_with("Execution succeeded.\n"),
        "{out}"
    );

    let out = served.ok(&test_flow("Greet", &["-p", &payload, "--tail-results"]));
    assert!(out.contains("Step \"Count\": [\"Ann\",\"Ann\"]\n"), "{out}");
    assert!(!out.contains("[Say]"), "logs only with --tail-logs: {out}");

    let document = served.json(&test_flow("Greet", &["-p", &payload, "-o", "json"]));
    assert_eq!(document["status"], "SUCCEEDED");
    assert!(document["error"].is_null(), "{document}");
    let messages: Vec<&str> = document["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert!(messages.contains(&"Hello, Ann"), "{messages:?}");
    assert_eq!(document["stepResults"][2]["stepName"], "Count");

    let out = served.ok(&test_flow("Answer", &["-p", &payload, "--sync"]));
    assert_eq!(out, "{\"hello\":\"Ann\"}\n", "the flow's own response");
}

async fn a_failing_or_slow_flow_exits_1_with_the_reason(store: &TestStore) {
    let (served, _) = greeter(store);
    let output = served.run(&test_flow("Broken", &["--tail-logs"]));
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let message = failure(output);
    assert!(stdout.contains("[Before] about to fail"), "{stdout}");
    assert!(
        message.starts_with("error: execution ") && message.contains(" failed: "),
        "{message}"
    );
    assert!(
        message.contains("missing"),
        "names what was missing: {message}"
    );

    let output = served.run(&test_flow("Slow", &["--timeout", "1"]));
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let message = failure(output);
    assert!(message.contains("did not end in time"), "{message}");
    let execution = stdout.trim().strip_prefix("Execution ID: ").unwrap();
    served.ok(&["executions:cancel", execution]);
    let shown = served.json(&["executions:show", execution, "-o", "json"]);
    assert_eq!(shown["status"], "CANCELLED");
}

async fn executions_and_logs_from_the_command_line(store: &TestStore) {
    let (served, payload) = greeter(store);
    let greeted = served.json(&test_flow("Greet", &["-p", &payload, "-o", "json"]));
    let greeted = greeted["executionId"].as_str().unwrap().to_string();
    let broken = served.run(&test_flow("Broken", &["-o", "json"]));
    assert_eq!(broken.status.code(), Some(1));
    let broken: Value = serde_json::from_slice(&broken.stdout).unwrap();
    let broken = broken["executionId"].as_str().unwrap().to_string();

    let listed = served.json(&[
        "executions:list",
        "-o",
        "json",
        "--columns",
        "id,status,flow,instance",
    ]);
    assert_eq!(
        listed,
        json!([
            { "id": broken, "status": "FAILED", "flow": "Broken", "instance": "Greeter" },
            { "id": greeted, "status": "SUCCEEDED", "flow": "Greet", "instance": "Greeter" },
        ]),
        "newest first, test instance named after its integration"
    );
    let failed = served.ok(&[
        "executions:list",
        "--status",
        "failed",
        "--instance",
        "Greeter",
        "-o",
        "csv",
        "--no-header",
        "--columns",
        "flow",
    ]);
    assert_eq!(failed, "Broken\n");
    assert_eq!(
        served.ok(&[
            "executions:list",
            "--limit",
            "1",
            "-o",
            "csv",
            "--no-header",
            "--columns",
            "flow"
        ]),
        "Broken\n"
    );

    let shown = served.ok(&["executions:show", &broken]);
    assert!(shown.contains("Status: FAILED\n"), "{shown}");
    assert!(shown.contains("\nError: "), "{shown}");
    assert!(
        shown.contains("Instance: Greeter (customer Test Customer)"),
        "{shown}"
    );
    let table: Vec<&str> = shown
        .lines()
        .map(str::trim_start)
        .skip_while(|l| !l.starts_with("STEP"))
        .collect();
    assert!(table.len() >= 3, "a step results table: {shown}");
    assert!(
        table
            .iter()
            .any(|l| l.starts_with("Explode") && l.contains("error: ")),
        "{shown}"
    );
    let shown = served.json(&["executions:show", &greeted, "-o", "json"]);
    let steps: Vec<&str> = shown["stepResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stepName"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["Trigger", "Say", "Count", "Careful"]);
    let message = failure(served.run(&["executions:cancel", &greeted]));
    assert!(message.contains("already ended (SUCCEEDED)"), "{message}");
    let replayed = served.json(&["executions:replay", &greeted, "-o", "json"]);
    let copy = replayed["id"].as_str().unwrap();
    assert_ne!(copy, greeted);
    let linked = served.json(&["executions:show", copy, "-o", "json"]);
    assert_eq!(
        linked["replayForExecution"]["id"],
        greeted.as_str(),
        "{linked}"
    );

    let warnings = served.json(&[
        "logs:list",
        "--execution",
        &greeted,
        "--severity",
        "warn,error",
        "-o",
        "json",
        "--columns",
        "severity,stepName,message",
    ]);
    assert_eq!(
        warnings,
        json!([{ "severity": "WARN", "stepName": "Careful", "message": "greeted 1" }])
    );
    let tailed = served.ok(&["logs:list", "--execution", &greeted, "--tail"]);
    assert!(
        tailed.contains("Hello, Ann"),
        "--tail ends with its execution: {tailed}"
    );
    let all = served.ok(&[
        "logs:list",
        "--filter",
        "message=fail",
        "--columns",
        "message",
    ]);
    assert!(all.contains("about to fail"), "{all}");
}

async fn logs_tail_follows_new_lines_until_interrupted(store: &TestStore) {
    let (served, payload) = greeter(store);
    let mut tail = served
        .command(
            &["logs:list", "--tail", "-o", "json"],
            served.data_dir.path(),
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = tail.stdout.take().unwrap();
    let (lines, seen) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    served.ok(&test_flow("Greet", &["-p", &payload]));
    let mut found = None;
    while let Ok(line) = seen.recv_timeout(Duration::from_secs(20)) {
        let row: Value = serde_json::from_str(&line).unwrap();
        if row["message"] == "Hello, Ann" {
            found = Some(row);
            break;
        }
    }
    tail.kill().unwrap();
    tail.wait().unwrap();
    let row = found.expect("the new line arrives while tailing");
    assert_eq!(row["severity"], "INFO", "one JSON object per line: {row}");
}

async fn bad_input_to_run_commands_gets_a_one_line_error(store: &TestStore) {
    let (served, payload) = greeter(store);
    let message = failure(served.run(&test_flow("Nope", &[])));
    assert_eq!(
        message,
        "error: \"Greeter\" has no flow \"Nope\"; its flows are: Greet, Answer, Broken, Slow"
    );
    let message = failure(served.run(&["integrations:flows:test", "Greeter"]));
    assert!(
        message.contains("has 4 flows; choose one with --flow"),
        "{message}"
    );
    let message = failure(served.run(&test_flow("Greet", &["-p", "/nonexistent/order.json"])));
    assert!(
        message.starts_with("error: cannot read the payload file /nonexistent/order.json"),
        "{message}"
    );
    let message = failure(served.run(&["integrations:flows:test", "Ghost", "-p", &payload]));
    assert!(
        message.contains("no integration with id or name \"Ghost\""),
        "{message}"
    );
    for args in [
        &["executions:show", "nope"][..],
        &["executions:cancel", "nope"],
        &["logs:list", "--execution", "nope"],
    ] {
        let message = failure(served.run(args));
        assert!(
            message.contains("\"nope\" is not an execution id"),
            "{message}"
        );
    }
    let message = failure(served.run(&["executions:list", "--instance", "ghost"]));
    assert!(
        message.contains("no instance with id or name \"ghost\""),
        "{message}"
    );
    let message = failure(served.run(&["logs:list", "--tail", "--sort", "message"]));
    assert!(
        message.contains("--sort cannot be used with --tail"),
        "{message}"
    );
}
