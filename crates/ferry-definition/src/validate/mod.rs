//! Checking a parsed definition: every problem found, each with its path, before anything is
//! stored. The checks are split by part of the definition: config variables and pages, flows
//! and triggers, steps and the references their inputs make.

mod config;
mod flows;

pub(crate) use flows::parse_cron;
mod steps;

use std::collections::HashSet;

use crate::model::Definition;
use crate::source::Lines;
use crate::{Catalog, Problem};

/// Collects problems with their paths and lines.
pub(crate) struct Report<'a> {
    lines: &'a Lines,
    problems: Vec<Problem>,
}

impl<'a> Report<'a> {
    pub(crate) fn new(lines: &'a Lines) -> Self {
        Self {
            lines,
            problems: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_string(),
            line: self.lines.line_of(path),
            message: message.into(),
        });
    }

    /// Records `name` in `seen`, reporting a repeat.
    pub(crate) fn unique(
        &mut self,
        seen: &mut HashSet<String>,
        name: &str,
        path: &str,
        what: &str,
    ) {
        if !seen.insert(name.to_string()) {
            self.add(path, format!("duplicate {what} {name:?}"));
        }
    }

    pub(crate) fn finish(self) -> Vec<Problem> {
        self.problems
    }
}

/// Every problem of `definition`.
pub(crate) fn check(definition: &Definition, catalog: &dyn Catalog, lines: &Lines) -> Vec<Problem> {
    let mut report = Report::new(lines);
    if definition.definition_version != 1 {
        report.add(
            "definitionVersion",
            format!(
                "version {} is not supported; use 1",
                definition.definition_version
            ),
        );
    }
    if definition.name.trim().is_empty() {
        report.add("name", "must not be empty");
    }
    config::check(definition, &mut report);
    for (key, version) in &definition.component_versions {
        if let Some(problem) = catalog.pin_problem(key, *version) {
            report.add(&format!("componentVersions.{key}"), problem);
        }
    }
    flows::check(definition, &mut report);
    flows::check_polling(definition, catalog, &mut report);
    for (index, flow) in definition.flows.iter().enumerate() {
        steps::check(
            definition,
            flow,
            &format!("flows[{index}]"),
            catalog,
            &mut report,
        );
    }
    report.finish()
}
