//! Steps: actions that exist, the inputs they require, the shapes of branch and loop steps,
//! error handlers, and the references inside `{{ expressions }}` (to steps that run earlier,
//! and to config variables that exist).

use std::collections::HashSet;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::catalog::{ActionKind, Catalog, SyncSupport};
use crate::model::{Definition, Flow, Step};
use crate::names::reference_name;
use crate::validate::Report;

const MAX_STEP_ATTEMPTS: u32 = 10;

struct Walker<'r, 'a> {
    catalog: &'r dyn Catalog,
    report: &'r mut Report<'a>,
    config_vars: HashSet<String>,
    every_step: HashSet<String>,
    names: HashSet<String>,
    references: HashSet<String>,
}

pub(crate) fn check(
    definition: &Definition,
    flow: &Flow,
    path: &str,
    catalog: &dyn Catalog,
    report: &mut Report<'_>,
) {
    let trigger = reference_name(flow.trigger.name.as_deref().unwrap_or("trigger"));
    let mut every_step = HashSet::from([trigger.clone()]);
    collect_names(&flow.steps, &mut every_step);
    let mut walker = Walker {
        catalog,
        report,
        config_vars: definition
            .required_config_vars
            .iter()
            .map(|v| v.key.clone())
            .collect(),
        every_step,
        names: HashSet::new(),
        references: HashSet::from([trigger.clone()]),
    };
    walker.check_trigger_action(flow, &format!("{path}.trigger"));
    let mut visible = vec![trigger];
    for (index, input) in &flow.trigger.inputs {
        let input_path = format!("{path}.trigger.inputs.{index}");
        walker.check_value(input, &input_path, &visible);
    }
    walker.steps(&flow.steps, &format!("{path}.steps"), &mut visible);
}

fn collect_names(steps: &[Step], names: &mut HashSet<String>) {
    for step in steps {
        names.insert(reference_name(&step.name));
        collect_names(&step.steps, names);
        for branch in &step.branches {
            collect_names(&branch.steps, names);
        }
    }
}

impl Walker<'_, '_> {
    /// Checks `steps`; each one's name becomes visible to those after it.
    fn steps(&mut self, steps: &[Step], path: &str, visible: &mut Vec<String>) {
        for (index, step) in steps.iter().enumerate() {
            let step_path = format!("{path}[{index}]");
            self.step(step, &step_path, visible);
        }
    }

    fn step(&mut self, step: &Step, path: &str, visible: &mut Vec<String>) {
        let reference = reference_name(&step.name);
        if reference.is_empty() {
            self.report.add(
                &format!("{path}.name"),
                "needs at least one letter or digit",
            );
        } else if !self.names.insert(step.name.clone()) {
            self.report.add(
                &format!("{path}.name"),
                format!("duplicate step {:?}", step.name),
            );
        } else if !self.references.insert(reference.clone()) {
            self.report.add(
                &format!("{path}.name"),
                format!(
                    "{:?} has the same reference name ({reference}) as another step",
                    step.name
                ),
            );
        }
        for (key, value) in &step.inputs {
            self.check_value(value, &format!("{path}.inputs.{key}"), visible);
        }
        self.check_action(step, path);
        self.check_error_handler(step, path);
        for (index, branch) in step.branches.iter().enumerate() {
            let branch_path = format!("{path}.branches[{index}]");
            if let Some(condition) = &branch.condition {
                self.check_operators(condition, &format!("{branch_path}.condition"));
            }
            for (field, value) in [("condition", &branch.condition), ("value", &branch.value)] {
                if let Some(value) = value {
                    self.check_value(value, &format!("{branch_path}.{field}"), visible);
                }
            }
            let mut inside = visible.clone();
            self.steps(&branch.steps, &format!("{branch_path}.steps"), &mut inside);
        }
        let mut inside = visible.clone();
        inside.push(reference.clone());
        self.steps(&step.steps, &format!("{path}.steps"), &mut inside);
        visible.push(reference);
        let mut nested = HashSet::new();
        collect_names(std::slice::from_ref(step), &mut nested);
        visible.extend(nested);
    }

    fn check_action(&mut self, step: &Step, path: &str) {
        let Some(spec) = self.catalog.action(&step.action) else {
            let message = self
                .catalog
                .explain_unknown(&step.action)
                .unwrap_or_else(|| format!("unknown action {:?}", step.action));
            self.report.add(&format!("{path}.action"), message);
            return;
        };
        if !spec.any_inputs {
            check_inputs(self.report, &step.inputs, &spec.inputs, path, &step.action);
        }
        for problem in self.catalog.check_inputs(&step.action, &step.inputs) {
            self.report
                .add(&format!("{path}.inputs.{}", problem.input), problem.message);
        }
        match spec.kind {
            ActionKind::Branch if step.branches.is_empty() => self
                .report
                .add(path, format!("{} needs `branches`", step.action)),
            ActionKind::Loop if step.steps.is_empty() => self.report.add(
                path,
                format!("{} needs the `steps` to loop over", step.action),
            ),
            ActionKind::Plain if !step.branches.is_empty() || !step.steps.is_empty() => {
                self.report.add(
                    path,
                    format!("{} takes no nested `steps` or `branches`", step.action),
                )
            }
            _ => {}
        }
        if spec.kind == ActionKind::Branch {
            let mut names = HashSet::new();
            for (index, branch) in step.branches.iter().enumerate() {
                self.report.unique(
                    &mut names,
                    &branch.name,
                    &format!("{path}.branches[{index}].name"),
                    "branch",
                );
            }
        }
    }

    /// Checks a custom trigger (`trigger.action` of a webhook trigger) and its inputs.
    fn check_trigger_action(&mut self, flow: &Flow, path: &str) {
        let Some(action) = &flow.trigger.action else {
            return;
        };
        if flow.trigger.kind != crate::model::TriggerType::Webhook {
            return; // polling triggers name an action; other kinds are refused in flows.rs
        }
        let Some(spec) = self.catalog.trigger(action) else {
            let message = self
                .catalog
                .explain_unknown(action)
                .unwrap_or_else(|| format!("unknown trigger {action:?}"));
            self.report.add(&format!("{path}.action"), message);
            return;
        };
        if !spec.any_inputs {
            check_inputs(
                self.report,
                &flow.trigger.inputs,
                &spec.inputs,
                path,
                action,
            );
        }
        let synchronous = flow.trigger.is_synchronous;
        let refusal = match spec.synchronous {
            SyncSupport::Invalid if synchronous => "does not answer synchronous calls",
            SyncSupport::Required if !synchronous => {
                "answers only synchronous calls; set isSynchronous: true"
            }
            _ => return,
        };
        self.report.add(
            &format!("{path}.isSynchronous"),
            format!("trigger {action} {refusal}"),
        );
    }

    /// Checks the operators of a condition and its `and` / `or` groups.
    fn check_operators(&mut self, condition: &Value, path: &str) {
        let Value::Object(map) = condition else {
            self.report.add(path, "a condition is an object: { left, operator, right }, { and: [...] } or { or: [...] }");
            return;
        };
        for group in ["and", "or"] {
            if let Some(items) = map.get(group) {
                match items.as_array().filter(|items| !items.is_empty()) {
                    Some(items) => {
                        for (index, item) in items.iter().enumerate() {
                            self.check_operators(item, &format!("{path}.{group}[{index}]"));
                        }
                    }
                    None => self.report.add(
                        &format!("{path}.{group}"),
                        format!("`{group}` takes a non-empty list of conditions"),
                    ),
                }
                return;
            }
        }
        match map.get("operator") {
            Some(Value::String(operator))
                if crate::BRANCH_OPERATORS.contains(&operator.as_str()) => {}
            Some(Value::String(operator)) if operator.contains("{{") => {}
            Some(Value::String(operator)) => self.report.add(
                &format!("{path}.operator"),
                format!(
                    "unknown operator {operator:?}; operators are: {}",
                    crate::BRANCH_OPERATORS.join(", ")
                ),
            ),
            _ => self.report.add(path, "a condition needs an `operator`"),
        }
    }

    fn check_error_handler(&mut self, step: &Step, path: &str) {
        let Some(handler) = &step.error_handler else {
            return;
        };
        if handler.kind == crate::model::ErrorHandlerType::Retry {
            match handler.max_attempts {
                Some(n) if (1..=MAX_STEP_ATTEMPTS).contains(&n) => {}
                _ => self.report.add(
                    &format!("{path}.errorHandler.maxAttempts"),
                    format!("a retry handler needs maxAttempts between 1 and {MAX_STEP_ATTEMPTS}"),
                ),
            }
        }
    }

    /// Checks the expressions in a value (strings at any depth).
    fn check_value(&mut self, value: &Value, path: &str, visible: &[String]) {
        match value {
            Value::String(text) => self.check_template(text, path, visible),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.check_value(item, &format!("{path}[{index}]"), visible);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    self.check_value(item, &format!("{path}.{key}"), visible);
                }
            }
            _ => {}
        }
    }

    fn check_template(&mut self, text: &str, path: &str, visible: &[String]) {
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                self.report
                    .add(path, "an expression opened with {{ is never closed with }}");
                return;
            };
            self.check_expression(&after[..end], path, visible);
            rest = &after[end + 2..];
        }
    }

    fn check_expression(&mut self, expression: &str, path: &str, visible: &[String]) {
        for name in captures(step_pattern(), expression) {
            if visible.contains(&name) {
                continue;
            }
            let message = if self.every_step.contains(&name) {
                format!("refers to step {name:?}, which does not run before this point")
            } else {
                format!("refers to step {name:?}, which does not exist")
            };
            self.report.add(path, message);
        }
        for key in captures(config_var_pattern(), expression) {
            if !self.config_vars.contains(&key) {
                self.report.add(
                    path,
                    format!("refers to config variable {key:?}, which does not exist"),
                );
            }
        }
    }
}

/// Checks `given` inputs against `specs`: required ones present, no unknown ones.
fn check_inputs(
    report: &mut Report<'_>,
    given: &std::collections::BTreeMap<String, Value>,
    specs: &[crate::catalog::InputSpec],
    path: &str,
    action: &str,
) {
    for input in specs.iter().filter(|i| i.required) {
        if !given.contains_key(&input.key) {
            report.add(
                &format!("{path}.inputs"),
                format!("missing required input {:?} of {action}", input.key),
            );
        }
    }
    let known: Vec<&str> = specs.iter().map(|i| i.key.as_str()).collect();
    for key in given.keys().filter(|k| !known.contains(&k.as_str())) {
        let takes = if known.is_empty() {
            "no inputs".to_string()
        } else {
            known.join(", ")
        };
        report.add(
            &format!("{path}.inputs.{key}"),
            format!("unknown input {key:?}; {action} takes {takes}"),
        );
    }
}

/// The names in `steps.name` and `steps['name']`.
fn step_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(r#"\bsteps\s*(?:\.\s*([A-Za-z_$][A-Za-z0-9_$]*)|\[\s*['"]([^'"]+)['"]\s*\])"#)
            .expect("the pattern is a valid regex")
    })
}

/// The keys in `configVars.key` and `configVars['Some Key']`.
fn config_var_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(
            r#"\bconfigVars\s*(?:\.\s*([A-Za-z_$][A-Za-z0-9_$]*)|\[\s*['"]([^'"]+)['"]\s*\])"#,
        )
        .expect("the pattern is a valid regex")
    })
}

fn captures(pattern: &Regex, text: &str) -> Vec<String> {
    pattern
        .captures_iter(text)
        .filter_map(|c| {
            c.get(1)
                .or_else(|| c.get(2))
                .map(|m| m.as_str().to_string())
        })
        .collect()
}
