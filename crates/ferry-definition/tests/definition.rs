//! Reading, checking and writing back integration definitions.

use ferry_definition::{
    parse, to_yaml, ActionKind, ActionSpec, Catalog, InputSpec, Invalid, Problem,
};

/// The few actions these tests use, with their inputs.
struct TestCatalog;

impl Catalog for TestCatalog {
    fn action(&self, key: &str) -> Option<ActionSpec> {
        let (kind, inputs): (ActionKind, &[(&str, bool)]) = match key {
            "code.run" => (ActionKind::Plain, &[("code", true)]),
            "log.write" => (ActionKind::Plain, &[("message", true), ("level", false)]),
            "http.request" => (
                ActionKind::Plain,
                &[
                    ("url", true),
                    ("method", false),
                    ("connection", false),
                    ("data", false),
                ],
            ),
            "branch.onExpression" => (ActionKind::Branch, &[]),
            "loop.overItems" => (ActionKind::Loop, &[("items", true)]),
            _ => return None,
        };
        let inputs = inputs
            .iter()
            .map(|(key, required)| InputSpec {
                key: key.to_string(),
                required: *required,
            })
            .collect();
        Some(ActionSpec {
            kind,
            inputs,
            any_inputs: false,
        })
    }
}

const ORDERS: &str = include_str!("fixtures/orders.yml");

fn problems(text: &str) -> Vec<Problem> {
    match parse(text, &TestCatalog) {
        Ok(_) => panic!("expected problems"),
        Err(Invalid { problems }) => problems,
    }
}

/// The orders fixture with one line replaced.
fn orders_with(from: &str, to: &str) -> String {
    assert!(ORDERS.contains(from), "fixture has no {from:?}");
    ORDERS.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn the_design_example_parses() {
    let definition = parse(ORDERS, &TestCatalog).unwrap();
    assert_eq!(definition.name, "Orders to Acme ERP");
    assert_eq!(definition.flows.len(), 3);
    assert_eq!(
        definition.flows[0].steps[1].branches[0].steps[0].name,
        "Send To ERP"
    );
    assert_eq!(
        definition.required_config_vars[0].stable_key.as_deref(),
        Some("acme-api-key")
    );
}

#[test]
fn export_reads_back_to_the_same_definition() {
    let definition = parse(ORDERS, &TestCatalog).unwrap();
    let yaml = to_yaml(&definition);
    let again = parse(&yaml, &TestCatalog).unwrap();
    assert_eq!(again, definition);
    assert_eq!(to_yaml(&again), yaml, "writing is stable");
}

#[test]
fn syntax_errors_name_their_line() {
    let text = "name: x\nflows:\n  - name: [unclosed\n";
    let found = problems(text);
    assert_eq!(found.len(), 1);
    assert!(
        found[0].message.starts_with("invalid YAML"),
        "{:?}",
        found[0]
    );
    assert!(found[0].line.is_some());
}

#[test]
fn unknown_fields_and_wrong_types_name_their_path_and_line() {
    let text = orders_with(
        "        action: code.run",
        "        action: code.run\n        actoin: typo",
    );
    let found = problems(&text);
    assert_eq!(found[0].path, "flows[0].steps[0].actoin");
    assert_eq!(found[0].line, Some(line_of(&text, "actoin: typo")));
    assert!(
        found[0].message.contains("unknown field `actoin`"),
        "{:?}",
        found[0]
    );
    let text = orders_with(
        "maxAttempts: 3, delayMinutes: 1",
        "maxAttempts: lots, delayMinutes: 1",
    );
    let found = problems(&text);
    assert_eq!(found[0].path, "flows[0].retryConfig.maxAttempts");
    assert_eq!(found[0].line, Some(line_of(&text, "retryConfig")));
    let text = orders_with("dataType: string", "dataType: text");
    assert_eq!(problems(&text)[0].path, "requiredConfigVars[1].dataType");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = orders_with("action: http.request", "action: http.unknown")
        .replace(
            "url: \"{{ configVars['Acme Base URL'] }}/orders\"",
            "url: \"{{ configVars['Acme Base Url'] }}/orders\"",
        )
        .replace("name: Log Item", "name: Note")
        .replace("configVar: Sync Schedule", "cron: \"not a cron\"")
        .replace("{ configVar: Acme API Key }", "{ configVar: Acme Key }");
    let found = problems(&text);
    let summary: Vec<String> = found.iter().map(ToString::to_string).collect();
    let expect = [
        (
            "configPages[0].elements[0].configVar",
            "no config variable \"Acme Key\"",
        ),
        (
            "flows[1].trigger.cron",
            "invalid cron expression \"not a cron\"",
        ),
        (
            "flows[0].steps[1].branches[0].steps[0].inputs.url",
            "config variable \"Acme Base Url\", which does not exist",
        ),
        (
            "flows[0].steps[1].branches[0].steps[0].action",
            "unknown action \"http.unknown\"",
        ),
        ("flows[0].steps[2].steps[0].name", "duplicate step \"Note\""),
    ];
    for (path, message) in expect {
        let hit = found
            .iter()
            .find(|p| p.path == path)
            .unwrap_or_else(|| panic!("no problem at {path}: {summary:#?}"));
        assert!(hit.message.contains(message), "{path}: {hit}");
        assert!(hit.line.is_some(), "{path} has a line");
    }
    assert_eq!(found.len(), expect.len(), "{summary:#?}");
    let url = found
        .iter()
        .find(|p| p.path.ends_with("inputs.url"))
        .unwrap();
    assert_eq!(url.line, Some(line_of(&text, "url: \"{{ configVars")));
}

#[test]
fn references_must_point_at_earlier_steps() {
    let text = orders_with(
        "{{ steps.shapeOrder.results.total }}",
        "{{ steps.eachItem.results }}",
    );
    let found = problems(&text);
    assert_eq!(
        found[0].path,
        "flows[0].steps[1].branches[0].condition.left"
    );
    assert!(
        found[0]
            .message
            .contains("step \"eachItem\", which does not run before this point"),
        "{}",
        found[0]
    );
    let text = orders_with(
        "{{ steps.shapeOrder.results }}",
        "{{ steps['nope'].results }}",
    );
    assert!(problems(&text)[0]
        .message
        .contains("step \"nope\", which does not exist"));
    let text = orders_with(
        "small order {{ steps.shapeOrder.results.id }}",
        "small order {{ steps.sendToErp.results.id }}",
    );
    assert!(
        problems(&text)[0]
            .message
            .contains("does not run before this point"),
        "a sibling branch's step is not visible"
    );
    let text = orders_with(
        "small order {{ steps.shapeOrder.results.id }}",
        "small order {{ steps.shapeOrder.results.id",
    );
    assert!(problems(&text)[0].message.contains("never closed"));
}

#[test]
fn steps_need_their_required_inputs_and_shapes() {
    let text = orders_with(
        "inputs: { items: \"{{ steps.trigger.results.body.data.items }}\" }",
        "inputs: { things: 1 }",
    );
    let found = problems(&text);
    let messages: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("missing required input \"items\" of loop.overItems")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("unknown input \"things\"; loop.overItems takes items")),
        "{messages:#?}"
    );
    let text = orders_with(
        "        action: branch.onExpression",
        "        action: log.write\n        inputs: { message: x }",
    );
    assert!(problems(&text)
        .iter()
        .any(|p| p.message.contains("log.write takes no nested")));
    let text = orders_with(
        "errorHandler: { type: retry, maxAttempts: 3,",
        "errorHandler: { type: retry, maxAttempts: 30,",
    );
    assert_eq!(
        problems(&text)[0].path,
        "flows[0].steps[1].branches[0].steps[0].errorHandler.maxAttempts"
    );
}

#[test]
fn config_variables_are_checked() {
    let organization_without_default = orders_with(
        "    permissionAndVisibilityType: customer",
        "    permissionAndVisibilityType: organization",
    )
    .replace("    defaultValue: https://erp.example.test\n", "");
    let found = problems(&organization_without_default);
    assert!(
        found[0].message.contains("needs a defaultValue"),
        "{}",
        found[0]
    );
    let dotted = orders_with("- key: Acme Base URL", "- key: Acme.Base.URL")
        .replace("configVars['Acme Base URL']", "configVars['Acme.Base.URL']");
    assert!(problems(&dotted)[0]
        .message
        .contains("may hold only letters"));
    let picklist = orders_with(
        "    dataType: string\n    defaultValue: https://erp.example.test",
        "    dataType: picklist\n    pickList: [a, b]\n    defaultValue: c",
    );
    assert!(problems(&picklist)[0]
        .message
        .contains("\"c\" is not one of the pickList choices"));
    let list_of_connections = orders_with(
        "    connection: { type: apiKey }",
        "    connection: { type: apiKey }\n    collectionType: valuelist",
    );
    assert!(problems(&list_of_connections)[0]
        .message
        .contains("cannot be lists"));
    let schedule_var = orders_with("configVar: Sync Schedule", "configVar: Acme Base URL");
    assert!(problems(&schedule_var)[0]
        .message
        .contains("is not of dataType schedule"));
}

#[test]
fn flows_triggers_and_endpoints_are_checked() {
    let duplicate = orders_with("  - name: Nightly Sync", "  - name: New Order");
    assert!(problems(&duplicate)
        .iter()
        .any(|p| p.path == "flows[1].name" && p.message.contains("duplicate flow")));
    let management = orders_with(
        "{ type: management, event: instanceDeploy }",
        "{ type: management }",
    );
    assert!(problems(&management)[0]
        .message
        .contains("needs its `event`"));
    let retry = orders_with(
        "maxAttempts: 3, delayMinutes: 1",
        "maxAttempts: 11, delayMinutes: 1",
    );
    assert!(problems(&retry)[0].message.contains("between 1 and 10"));
    let shared = orders_with(
        "endpointType: flow_specific",
        "endpointType: shared_instance",
    );
    assert!(problems(&shared)[0]
        .message
        .contains("need a preprocess flow or triggerPreprocessFlowConfig"));
    let routed = orders_with(
        "endpointType: flow_specific",
        "endpointType: shared_instance\ntriggerPreprocessFlowConfig: { flowNameField: headers.x-flow }",
    );
    assert!(problems(&routed)[0]
        .message
        .contains("externalCustomerIdField"));
    let complete = orders_with(
        "endpointType: flow_specific",
        "endpointType: shared_instance\ntriggerPreprocessFlowConfig: { flowNameField: headers.x-flow, externalCustomerIdField: body.data.account }",
    );
    parse(&complete, &TestCatalog).unwrap();
    let rename = orders_with("newName: New Order", "newName: Newer Order");
    assert!(problems(&rename)[0]
        .message
        .contains("no flow \"Newer Order\""));
    assert!(problems("name: Empty\nflows: []\n")[0]
        .message
        .contains("at least one flow"));
}
