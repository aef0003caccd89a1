//! Custom components from the command line: `components:publish` and `components:list`
//! through a real server, and `components:test` running one action of a local bundle.

use ferry_store::testing::TestStore;

use crate::harness::Served;

ferry_store::store_tests!(components_from_the_command_line);

const CRM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/components/acme-crm.js"
);

const GREETER: &str = r#"
const { component, action, input, util } = require("@ferry/sdk");
const greet = action({
  display: { label: "Greet" },
  inputs: {
    name: input({ label: "Name", type: "string", required: true }),
    times: input({ label: "Times", type: "string", default: "1", clean: util.types.toInt }),
    auth: input({ label: "Auth", type: "connection" }),
  },
  perform: async (context, { name, times, auth }) => {
    context.logger.warn(`greeting ${name} as ${auth ? auth.fields.user : "nobody"}`);
    return { data: Array(times).fill(`hello ${name}`) };
  },
});
module.exports = component({ key: "greeter", actions: { greet } });
"#;

async fn components_from_the_command_line(store: &TestStore) {
    let served = Served::start(store);
    let published = served.json(&["components:publish", "--path", CRM, "--output", "json"]);
    assert_eq!(published["versionNumber"], 1, "{published}");
    assert_eq!(published["actions"][1]["key"], "acme-crm.createContact");
    let listed = served.json(&["components:list", "--output", "json"]);
    let crm = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "acme-crm")
        .cloned()
        .unwrap();
    assert_eq!(
        (crm["versionNumber"].clone(), crm["isPublic"].clone()),
        (1.into(), false.into())
    );

    let bad = served.file("bad.js", "export default 42;");
    let refused = served.run(&["components:publish", "--path", &bad]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("must export a component"), "{message}");

    let typed = served.file(
        "typed.ts",
        "import { component, action } from \"@ferry/sdk\";\n\
         interface Hello { text: string }\n\
         const hi = action({ display: { label: \"Hi\" }, inputs: {},\n\
           perform: async (): Promise<{ data: Hello }> => ({ data: { text: \"hi\" as string } }) });\n\
         export default component({ key: \"typed\", actions: { hi } });\n",
    );
    let hi = served.json(&[
        "components:test",
        "--path",
        &typed,
        "--action",
        "hi",
        "--output",
        "json",
    ]);
    assert_eq!(hi["data"], serde_json::json!({ "text": "hi" }), "{hi}");
    let broken = served.file("broken.ts", "const x: = 1;\n");
    let refused = served.run(&["components:test", "--path", &broken, "--action", "hi"]);
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && message.contains("broken.ts"),
        "{message}"
    );
    assert!(message.contains("line 1"), "{message}");

    let bundle = served.file("greeter.js", GREETER);
    let inputs = served.file("inputs.json", r#"{ "name": "Ada", "times": "2" }"#);
    let connection = served.file("conn.json", r#"{ "fields": { "user": "ops" } }"#);
    let tested = served.json(&[
        "components:test",
        "--path",
        &bundle,
        "--action",
        "greet",
        "--inputs",
        &inputs,
        "--connection",
        &connection,
        "--output",
        "json",
    ]);
    assert_eq!(
        tested["data"],
        serde_json::json!(["hello Ada", "hello Ada"])
    );
    assert_eq!(
        tested["logs"],
        serde_json::json!([{ "level": "warn", "message": "greeting Ada as ops" }])
    );
    let table = served.ok(&[
        "components:test",
        "--path",
        &bundle,
        "--action",
        "greet",
        "--inputs",
        &inputs,
    ]);
    assert!(
        table.starts_with("warn  greeting Ada as nobody\n[\n  \"hello Ada\""),
        "{table}"
    );

    let empty = served.file("empty.json", "{}");
    let missing = served.run(&[
        "components:test",
        "--path",
        &bundle,
        "--action",
        "greet",
        "--inputs",
        &empty,
    ]);
    assert!(!missing.status.success());
    let message = String::from_utf8_lossy(&missing.stderr);
    assert!(
        message.contains(
            r#"action "greet" failed: InputError: action "greet": input "name" (Name) is required"#
        ),
        "{message}"
    );
    let unknown = served.run(&["components:test", "--path", &bundle, "--action", "wave"]);
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        message.contains(r#"has no action "wave"; its actions: greet"#),
        "{message}"
    );
}
