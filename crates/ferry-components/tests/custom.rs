//! Custom components' manifests are checked with every problem's path, and imports that pin a
//! component are checked against its actions, triggers and inputs.

use ferry_components::custom::{Manifest, Pinned, Stored};
use serde_json::{json, Value};

fn crm() -> Value {
    json!({
        "key": "crm", "display": { "label": "CRM" },
        "actions": [
            { "key": "createContact", "hasPerform": true, "inputs": [
                { "key": "email", "label": "Email", "type": "string", "required": true },
                { "key": "pageSize", "label": "Page size", "type": "string", "required": true, "default": "50" },
                { "key": "connection", "label": "Connection", "type": "connection" }
            ] }
        ],
        "triggers": [
            { "key": "contactEvents", "hasPerform": true, "synchronousResponseSupport": "invalid", "scheduleSupport": "invalid",
              "inputs": [ { "key": "events", "label": "Events", "type": "string", "collection": "valuelist" } ] }
        ],
        "connections": [ { "key": "apiKey", "inputs": [ { "key": "token", "label": "Token", "type": "password" } ] } ],
        "dataSources": []
    })
}

fn problems(value: Value) -> Vec<String> {
    Manifest::check(value)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_valid_manifest_reads_back() {
    let manifest = Manifest::check(crm()).unwrap();
    assert_eq!(manifest.key(), "crm");
    assert_eq!(manifest.action("createContact").unwrap().inputs.len(), 3);
}

#[test]
fn unknown_input_types_and_duplicate_keys_name_the_action_and_input() {
    let mut bad = crm();
    bad["actions"][0]["inputs"][0]["type"] = json!("strng");
    bad["actions"][0]["inputs"][1]["label"] = json!("");
    bad["triggers"][0]["key"] = json!("createContact");
    let connection = bad["connections"][0].clone();
    bad["connections"].as_array_mut().unwrap().push(connection);
    let found = problems(bad);
    assert!(found.iter().any(|p| p.starts_with(
        "actions.createContact.inputs.email.type: unknown input type \"strng\"; use one of: string, text, password"
    )), "{found:?}");
    assert!(found
        .iter()
        .any(|p| p == "actions.createContact.inputs.pageSize.label: an input needs a label"));
    assert!(found
        .iter()
        .any(|p| p.starts_with("triggers.createContact: duplicate key \"createContact\"")));
    assert!(found
        .iter()
        .any(|p| p.starts_with("connections[1]: duplicate key \"apiKey\"")));
}

#[test]
fn keys_perform_functions_and_support_values_are_checked() {
    let mut bad = crm();
    bad["key"] = json!("http");
    bad["actions"][0]["hasPerform"] = json!(false);
    bad["triggers"][0]["synchronousResponseSupport"] = json!("sometimes");
    let found = problems(bad);
    assert!(
        found.contains(&"key: \"http\" is a built-in component's key; choose another".to_string())
    );
    assert!(found.contains(&"actions.createContact.perform: must be a function".to_string()));
    assert!(found.iter().any(|p| p.starts_with(
        "triggers.contactEvents.synchronousResponseSupport: unknown value \"sometimes\""
    )));
    let nameless = problems(json!({ "key": "-x-", "actions": [] }));
    assert!(nameless
        .iter()
        .any(|p| p.starts_with("key: \"-x-\" must be")));
    assert!(nameless.iter().any(|p| p.contains("declares no actions")));
}

fn pinned() -> Pinned {
    let mut catalog = Pinned::new();
    catalog.found("crm", 2, Manifest::check(crm()).unwrap());
    catalog.missing("erp", "no version 7 of component \"erp\"; published: 1, 2");
    catalog
}

const INTEGRATION: &str = r#"name: Contacts
componentVersions: { crm: 2, erp: 7 }
flows:
  - name: New contact
    trigger:
      type: webhook
      action: crm.contactEvents
      isSynchronous: true
      inputs: { events: [created], colour: red }
    steps:
      - name: Create
        action: crm.createContact
        inputs: { pageSize: "10", phone: "1" }
      - name: Other
        action: crm.deleteContact
      - name: Unpinned
        action: acme.doThing
"#;

#[test]
fn an_import_is_checked_against_the_pinned_manifests_with_paths_and_lines() {
    let invalid = ferry_definition::parse(INTEGRATION, &pinned()).unwrap_err();
    let found: Vec<String> = invalid.problems.iter().map(ToString::to_string).collect();
    let expected = [
        "componentVersions.erp (line 2): no version 7 of component \"erp\"; published: 1, 2",
        "flows[0].trigger.inputs.colour (line 9): unknown input \"colour\"; crm.contactEvents takes events",
        "flows[0].trigger.isSynchronous (line 8): trigger crm.contactEvents does not answer synchronous calls",
        "flows[0].steps[0].inputs (line 13): missing required input \"email\" of crm.createContact",
        "flows[0].steps[0].inputs.phone (line 13): unknown input \"phone\"; crm.createContact takes email, pageSize, connection",
        "flows[0].steps[1].action (line 15): component \"crm\" (version 2) has no action or trigger \"deleteContact\"; its actions: createContact; its triggers: contactEvents",
        "flows[0].steps[2].action (line 17): unknown action \"acme.doThing\": no built-in component \"acme\"; a custom component must be pinned in componentVersions",
    ];
    for line in expected {
        assert!(
            found.contains(&line.to_string()),
            "{line}\nnot in {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

#[test]
fn a_stored_definition_reads_again_without_its_manifests() {
    let text = INTEGRATION.replace(
        "componentVersions: { crm: 2, erp: 7 }",
        "componentVersions: { crm: 2 }",
    );
    let definition = ferry_definition::parse(&text, &Stored).unwrap();
    assert_eq!(
        definition.flows[0].trigger.action.as_deref(),
        Some("crm.contactEvents")
    );
    let builtin = text.replace("crm.deleteContact", "http.nothing");
    assert!(ferry_definition::parse(&builtin, &Stored).is_err());
}
