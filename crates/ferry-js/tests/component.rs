//! Custom components: a bundle built on `@ferry/sdk` describes itself, and its actions,
//! triggers, hooks and data sources run with cleaned inputs; bad bundles fail naming the place.

mod common;

use std::time::{Duration, Instant};

use common::Host;
use ferry_js::{prepare_bundle, ComponentCall, JsError, JsRuntime, Operation};
use serde_json::{json, Value};

const GREETER: &str = r#"
import { component, action, input, trigger, connection, dataSource, util, ConnectionError } from "@ferry/sdk";

const apiKey = connection({ key: "apiKey", display: { label: "API key" },
  inputs: { key: { label: "Key", type: "password", required: true } } });

const greet = action({
  display: { label: "Greet", description: "Says hello" },
  inputs: {
    name: input({ label: "Name", type: "string", required: true }),
    times: input({ label: "Times", type: "string", default: "1", clean: (v) => util.types.toInt(v) }),
    tags: input({ label: "Tags", type: "string", collection: "keyvaluelist" }),
    auth: input({ label: "Auth", type: "connection" }),
  },
  perform: async (context, params) => {
    context.logger.info(`greeting ${params.name}`);
    if (params.auth && params.auth.fields.key === "bad") throw new ConnectionError(params.auth, "the key was refused");
    return { data: { text: `hello ${params.name}`.repeat(params.times), tags: util.types.keyValPairListToObject(params.tags), step: context.stepId },
             crossFlowState: { greeted: params.name } };
  },
  examplePayload: { data: { text: "hello Ada" } },
});

const echo = trigger({
  display: { label: "Echo", description: "Answers with a header" },
  inputs: { prefix: input({ label: "Prefix", type: "string", default: "got" }) },
  perform: async (context, payload, params) => ({
    payload: { ...payload, body: { data: `${params.prefix} ${payload.body.data}` } },
    response: { statusCode: 202, contentType: "text/plain", body: payload.headers["x-code"] },
  }),
  onInstanceDeploy: async (context, params) => ({ crossFlowState: { hook: `${params.prefix} ${context.flow.name}` } }),
  synchronousResponseSupport: "invalid",
  scheduleSupport: "invalid",
});

const colors = dataSource({ display: { label: "Colors" }, dataSourceType: "picklist",
  perform: async () => ({ result: [{ label: "Red", key: "r" }] }) });

export default component({
  key: "greeter",
  display: { label: "Greeter", description: "Greets people" },
  actions: { greet },
  triggers: { echo },
  connections: [apiKey],
  dataSources: { colors },
});
"#;

async fn run(bundle: &str, operation: Operation) -> (Result<ferry_js::CodeOutput, JsError>, Host) {
    let host = Host::default();
    let time_limit = Duration::from_secs(10);
    let call = ComponentCall {
        bundle: prepare_bundle(bundle),
        operation,
        context: json!({ "stepId": "greet:", "flow": { "name": "Incoming" } }),
        deadline: Instant::now() + time_limit,
        time_limit,
    };
    let result = JsRuntime::default().run_component(call, &host).await;
    (result, host)
}

fn action(key: &str, params: Value) -> Operation {
    Operation::Action {
        key: key.into(),
        params,
    }
}

async fn manifest(bundle: &str) -> Result<Value, JsError> {
    JsRuntime::default()
        .component_manifest(prepare_bundle(bundle), Duration::from_secs(10))
        .await
}

#[tokio::test]
async fn a_bundle_describes_its_actions_inputs_triggers_connections_and_data_sources() {
    let manifest = manifest(GREETER).await.unwrap();
    assert_eq!(manifest["key"], "greeter");
    assert_eq!(manifest["display"]["label"], "Greeter");
    let greet = &manifest["actions"][0];
    assert_eq!(greet["key"], "greet");
    assert_eq!(greet["hasPerform"], true);
    assert_eq!(greet["examplePayload"]["data"]["text"], "hello Ada");
    let inputs: Vec<(&str, &str, bool)> = greet["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["key"].as_str().unwrap(),
                i["type"].as_str().unwrap(),
                i["required"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        inputs,
        [
            ("name", "string", true),
            ("times", "string", false),
            ("tags", "string", false),
            ("auth", "connection", false)
        ]
    );
    assert_eq!(greet["inputs"][1]["default"], "1");
    assert_eq!(greet["inputs"][1]["hasClean"], true);
    let echo = &manifest["triggers"][0];
    assert_eq!(echo["hasOnInstanceDeploy"], true);
    assert_eq!(echo["hasOnInstanceDelete"], false);
    assert_eq!(echo["synchronousResponseSupport"], "invalid");
    assert_eq!(manifest["connections"][0]["key"], "apiKey");
    assert_eq!(manifest["dataSources"][0]["dataSourceType"], "picklist");
}

#[tokio::test]
async fn an_action_runs_with_defaults_cleaned_inputs_and_connection_values() {
    let params = json!({ "name": "Ada", "tags": { "team": "math" }, "auth": { "key": "good" } });
    let (result, host) = run(GREETER, action("greet", params)).await;
    let output = result.unwrap();
    assert_eq!(
        output.data,
        json!({ "text": "hello Ada", "tags": { "team": "math" }, "step": "greet:" })
    );
    assert_eq!(output.state_changes.instance["greeted"], "Ada");
    assert_eq!(host.messages(), ["greeting Ada"]);
    let twice = run(
        GREETER,
        action("greet", json!({ "name": "Bo", "times": "2" })),
    )
    .await;
    assert_eq!(twice.0.unwrap().data["text"], "hello Bohello Bo");
}

#[tokio::test]
async fn missing_and_unclean_inputs_and_thrown_errors_name_the_action_and_input() {
    let missing = run(GREETER, action("greet", json!({})))
        .await
        .0
        .unwrap_err();
    assert!(
        missing
            .to_string()
            .contains(r#"action "greet": input "name" (Name) is required"#),
        "{missing}"
    );
    let unclean = run(
        GREETER,
        action("greet", json!({ "name": "A", "times": "many" })),
    )
    .await
    .0
    .unwrap_err();
    assert!(
        unclean
            .to_string()
            .contains(r#"action "greet": input "times": Value "many" cannot be coerced"#),
        "{unclean}"
    );
    let refused = run(
        GREETER,
        action("greet", json!({ "name": "A", "auth": { "key": "bad" } })),
    )
    .await
    .0
    .unwrap_err();
    assert!(
        refused
            .to_string()
            .starts_with("ConnectionError: the key was refused"),
        "{refused}"
    );
    let unknown = run(GREETER, action("wave", json!({}))).await.0.unwrap_err();
    assert!(
        unknown
            .to_string()
            .contains(r#"has no action "wave"; it has: greet"#),
        "{unknown}"
    );
}

#[tokio::test]
async fn a_trigger_reshapes_the_payload_and_gives_a_response_and_its_hooks_run() {
    let payload = json!({ "body": { "data": "ping" }, "headers": { "x-code": "42" } });
    let operation = Operation::Trigger {
        key: "echo".into(),
        payload,
        params: json!({}),
    };
    let output = run(GREETER, operation).await.0.unwrap();
    assert_eq!(output.data["payload"]["body"]["data"], "got ping");
    assert_eq!(
        output.data["response"],
        json!({ "statusCode": 202, "contentType": "text/plain", "body": "42" })
    );
    let deploy = Operation::Deploy {
        key: "echo".into(),
        params: json!({ "prefix": "hooked" }),
    };
    let output = run(GREETER, deploy).await.0.unwrap();
    assert_eq!(output.state_changes.instance["hook"], "hooked Incoming");
    let delete = Operation::Delete {
        key: "echo".into(),
        params: json!({}),
    };
    assert_eq!(run(GREETER, delete).await.0.unwrap().data, Value::Null);
}

#[tokio::test]
async fn a_data_source_gives_its_result() {
    let operation = Operation::DataSource {
        key: "colors".into(),
        params: json!({}),
    };
    let output = run(GREETER, operation).await.0.unwrap();
    assert_eq!(output.data, json!([{ "label": "Red", "key": "r" }]));
}

#[tokio::test]
async fn common_js_bundles_require_the_sdk_and_may_export_default() {
    let bundle = r#"
        "use strict";
        Object.defineProperty(exports, "__esModule", { value: true });
        const sdk_1 = require("@ferry/sdk");
        const hi = (0, sdk_1.action)({ display: { label: "Hi" }, inputs: {}, perform: async () => ({ data: "hi" }) });
        exports.default = (0, sdk_1.component)({ key: "cjs", display: { label: "CJS" }, actions: { hi } });
    "#;
    let output = run(bundle, action("hi", json!({}))).await.0.unwrap();
    assert_eq!(output.data, "hi");
    let plain = r#"const { component } = require("@ferry/sdk"); module.exports = component({ key: "m", actions: {} });"#;
    assert_eq!(manifest(plain).await.unwrap()["key"], "m");
}

#[tokio::test]
async fn the_component_error_hook_rewrites_thrown_errors() {
    let bundle = r#"
        import { component, action } from "@ferry/sdk";
        const fail = action({ display: { label: "Fail" }, inputs: {}, perform: async () => { throw new Error("status 500"); } });
        export default component({ key: "h", actions: { fail }, hooks: { error: (e) => new Error(`Acme said: ${e.message}`) } });
    "#;
    let failed = run(bundle, action("fail", json!({}))).await.0.unwrap_err();
    assert!(
        failed
            .to_string()
            .starts_with("Error: Acme said: status 500"),
        "{failed}"
    );
}

#[tokio::test]
async fn bad_bundles_fail_naming_the_place() {
    let syntax = manifest("import { component } from \"@ferry/sdk\";\nexport default component({ key: 'x',\n  actions: { a: } });")
        .await
        .unwrap_err();
    assert!(
        matches!(syntax, JsError::Syntax { line: 3, .. }),
        "{syntax:?}"
    );
    let nothing = manifest("const a = 1;").await.unwrap_err();
    assert!(
        matches!(nothing, JsError::NoComponent { .. }),
        "{nothing:?}"
    );
    assert!(
        nothing.to_string().contains("nothing was exported"),
        "{nothing}"
    );
    let plain = manifest("export default { key: 'x', actions: {} };")
        .await
        .unwrap_err();
    assert!(plain.to_string().contains("exports an object"), "{plain}");
    let throws = manifest("throw new Error('no config');").await.unwrap_err();
    assert!(
        throws.to_string().starts_with("Error: no config"),
        "{throws}"
    );
    let other = manifest("const fs = require('fs');").await.unwrap_err();
    assert!(
        other
            .to_string()
            .contains("may require only \"@ferry/sdk\""),
        "{other}"
    );
    let shape = manifest(
        "import { component } from '@ferry/sdk'; export default component({ key: 'x', actions: [1] });",
    )
    .await
    .unwrap_err();
    assert!(
        shape
            .to_string()
            .contains("actions must be an object of key → definition, not an array"),
        "{shape}"
    );
}

#[tokio::test]
async fn a_result_that_cannot_be_serialized_names_its_path() {
    let bundle = r#"
        import { component, action } from "@ferry/sdk";
        const bad = action({ display: { label: "Bad" }, inputs: {}, perform: async () => ({ data: { items: [1, () => 2] } }) });
        export default component({ key: "s", actions: { bad } });
    "#;
    let error = run(bundle, action("bad", json!({}))).await.0.unwrap_err();
    assert_eq!(
        error,
        JsError::Unserializable {
            path: "data.items[1]".into(),
            problem: "is a function".into()
        }
    );
}
