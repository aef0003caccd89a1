//! Flows, their triggers and retry settings, endpoint routing, and renames.

use std::collections::HashSet;

use crate::catalog::{ActionKind, Catalog};
use crate::model::{DataType, Definition, EndpointType, Flow, TriggerType};
use crate::validate::Report;

/// Attempts allowed by automatic execution retry.
const MAX_RETRY_ATTEMPTS: u32 = 10;
/// The longest wait between retries, in minutes (24 hours).
const MAX_RETRY_DELAY_MINUTES: u32 = 24 * 60;

pub(crate) fn check(definition: &Definition, report: &mut Report<'_>) {
    if definition.flows.is_empty() {
        report.add("flows", "an integration needs at least one flow");
    }
    let mut names = HashSet::new();
    let mut stable_keys = HashSet::new();
    for (index, flow) in definition.flows.iter().enumerate() {
        let path = format!("flows[{index}]");
        if flow.name.trim().is_empty() {
            report.add(&format!("{path}.name"), "must not be empty");
        }
        report.unique(&mut names, &flow.name, &format!("{path}.name"), "flow");
        if let Some(stable) = &flow.stable_key {
            report.unique(
                &mut stable_keys,
                stable,
                &format!("{path}.stableKey"),
                "stable key",
            );
        }
        check_trigger(definition, flow, &format!("{path}.trigger"), report);
        check_retry(flow, &path, report);
    }
    check_routing(definition, report);
    check_renames(definition, report);
}

/// Parses a cron expression (five or six fields, seconds optional), as schedules will.
pub(crate) fn parse_cron(cron: &str) -> Result<croner::Cron, String> {
    croner::Cron::new(cron)
        .with_seconds_optional()
        .parse()
        .map_err(|err| format!("invalid cron expression {cron:?}: {err}"))
}

fn check_trigger(definition: &Definition, flow: &Flow, path: &str, report: &mut Report<'_>) {
    let trigger = &flow.trigger;
    let webhook_like = matches!(trigger.kind, TriggerType::Webhook | TriggerType::CrossFlow);
    if !webhook_like && (trigger.is_synchronous || trigger.queue_config != Default::default()) {
        report.add(
            path,
            "isSynchronous and queueConfig apply to webhook and crossFlow triggers only",
        );
    }
    let takes_action = matches!(trigger.kind, TriggerType::Webhook | TriggerType::Polling);
    if trigger.action.is_some() && !takes_action {
        report.add(
            &format!("{path}.action"),
            "only webhook triggers (custom component triggers) and polling triggers name an action",
        );
    }
    match trigger.kind {
        TriggerType::Schedule => match (&trigger.cron, &trigger.config_var) {
            (Some(cron), None) => {
                if let Err(err) = parse_cron(cron) {
                    report.add(&format!("{path}.cron"), err);
                }
            }
            (None, Some(key)) => {
                let var = definition
                    .required_config_vars
                    .iter()
                    .find(|v| &v.key == key);
                match var {
                    None => report.add(
                        &format!("{path}.configVar"),
                        format!("no config variable {key:?}"),
                    ),
                    Some(var) if var.data_type != DataType::Schedule => report.add(
                        &format!("{path}.configVar"),
                        format!("{key:?} is not of dataType schedule"),
                    ),
                    Some(_) => {}
                }
            }
            _ => report.add(
                path,
                "a schedule trigger needs either `cron` or `configVar`",
            ),
        },
        TriggerType::Polling => {
            if trigger.action.is_none() {
                report.add(path, "a polling trigger needs the `action` to poll");
            }
            for (key, field) in [
                ("itemsField", &trigger.items_field),
                ("cursorField", &trigger.cursor_field),
            ] {
                if field.as_deref().is_some_and(|f| f.trim().is_empty()) {
                    report.add(&format!("{path}.{key}"), "must not be empty");
                }
            }
            match &trigger.cron {
                None => report.add(path, "a polling trigger needs a `cron` schedule"),
                Some(cron) => {
                    if let Err(err) = parse_cron(cron) {
                        report.add(&format!("{path}.cron"), err);
                    }
                }
            }
        }
        TriggerType::Management if trigger.event.is_none() => {
            report.add(
                path,
                "a management trigger needs its `event` (instanceDeploy or instanceRemove)",
            );
        }
        _ => {}
    }
    if let Some(zone) = &trigger.timezone {
        if zone.trim().is_empty() {
            report.add(&format!("{path}.timezone"), "must not be empty");
        }
    }
}

/// The actions a polling trigger may run: built-in plain actions that need nothing from an
/// execution (not `state.*`, `flow.*`, `log.*`, `branch.*`, `loop.*` or `code.run`), with their
/// required inputs.
pub(crate) fn check_polling(
    definition: &Definition,
    catalog: &dyn Catalog,
    report: &mut Report<'_>,
) {
    const ENGINE_ONLY: [&str; 6] = ["state.", "flow.", "log.", "branch.", "loop.", "code."];
    for (index, flow) in definition.flows.iter().enumerate() {
        let trigger = &flow.trigger;
        let (TriggerType::Polling, Some(action)) = (trigger.kind, &trigger.action) else {
            continue;
        };
        let path = format!("flows[{index}].trigger");
        let spec = catalog.action(action);
        let Some(spec) = spec.filter(|s| s.kind == ActionKind::Plain) else {
            report.add(
                &format!("{path}.action"),
                format!("unknown action {action:?}"),
            );
            continue;
        };
        if ENGINE_ONLY.iter().any(|prefix| action.starts_with(prefix)) {
            report.add(
                &format!("{path}.action"),
                format!("{action:?} cannot poll: use an action such as http.request"),
            );
            continue;
        }
        for input in spec.inputs.iter().filter(|i| i.required) {
            if !trigger.inputs.contains_key(&input.key) {
                report.add(
                    &format!("{path}.inputs"),
                    format!("missing required input {:?} of {action}", input.key),
                );
            }
        }
    }
}

fn check_retry(flow: &Flow, path: &str, report: &mut Report<'_>) {
    let Some(retry) = &flow.retry_config else {
        return;
    };
    if !(1..=MAX_RETRY_ATTEMPTS).contains(&retry.max_attempts) {
        report.add(
            &format!("{path}.retryConfig.maxAttempts"),
            format!("must be between 1 and {MAX_RETRY_ATTEMPTS}"),
        );
    }
    if !(1..=MAX_RETRY_DELAY_MINUTES).contains(&retry.delay_minutes) {
        report.add(
            &format!("{path}.retryConfig.delayMinutes"),
            format!("must be between 1 and {MAX_RETRY_DELAY_MINUTES}"),
        );
    }
}

fn check_routing(definition: &Definition, report: &mut Report<'_>) {
    let preprocess: Vec<usize> = definition
        .flows
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_preprocess_flow)
        .map(|(i, _)| i)
        .collect();
    let fields = &definition.trigger_preprocess_flow_config;
    match definition.endpoint_type {
        EndpointType::FlowSpecific => {
            for index in &preprocess {
                report.add(
                    &format!("flows[{index}].isPreprocessFlow"),
                    "preprocess flows route instance-specific and shared endpoints only",
                );
            }
            if fields.is_some() {
                report.add(
                    "triggerPreprocessFlowConfig",
                    "applies to instance_specific and shared_instance endpoints only",
                );
            }
        }
        kind => {
            let routing = match (preprocess.as_slice(), fields) {
                ([], None) => {
                    report.add("endpointType", "instance-specific and shared endpoints need a preprocess flow or triggerPreprocessFlowConfig");
                    return;
                }
                ([_], Some(_)) => {
                    report.add(
                        "triggerPreprocessFlowConfig",
                        "give either a preprocess flow or triggerPreprocessFlowConfig, not both",
                    );
                    return;
                }
                ([index], None) => {
                    let flow = &definition.flows[*index];
                    if flow.trigger.kind != TriggerType::Webhook {
                        report.add(
                            &format!("flows[{index}].trigger.type"),
                            "a preprocess flow has a webhook trigger",
                        );
                    }
                    (
                        flow.preprocess_flow_config.clone().unwrap_or_default(),
                        format!("flows[{index}].preprocessFlowConfig"),
                    )
                }
                ([], Some(fields)) => (fields.clone(), "triggerPreprocessFlowConfig".to_string()),
                (many, _) => {
                    for index in &many[1..] {
                        report.add(
                            &format!("flows[{index}].isPreprocessFlow"),
                            "only one flow may be the preprocess flow",
                        );
                    }
                    return;
                }
            };
            let (fields, path) = routing;
            if fields.flow_name_field.is_none() {
                report.add(&path, "name the flowNameField that picks the flow");
            }
            if kind == EndpointType::SharedInstance && fields.external_customer_id_field.is_none() {
                report.add(
                    &path,
                    "a shared endpoint needs externalCustomerIdField to pick the customer",
                );
            }
        }
    }
}

fn check_renames(definition: &Definition, report: &mut Report<'_>) {
    let vars: HashSet<&str> = definition
        .required_config_vars
        .iter()
        .map(|v| v.key.as_str())
        .collect();
    let flows: HashSet<&str> = definition.flows.iter().map(|f| f.name.as_str()).collect();
    let renames = &definition.rename_attributes;
    for (index, rename) in renames.required_config_vars.iter().enumerate() {
        if !vars.contains(rename.new_name.as_str()) {
            let path = format!("renameAttributes.requiredConfigVars[{index}].newName");
            report.add(&path, format!("no config variable {:?}", rename.new_name));
        }
    }
    for (index, rename) in renames.flows.iter().enumerate() {
        if !flows.contains(rename.new_name.as_str()) {
            report.add(
                &format!("renameAttributes.flows[{index}].newName"),
                format!("no flow {:?}", rename.new_name),
            );
        }
    }
}
