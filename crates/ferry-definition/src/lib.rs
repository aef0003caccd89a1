//! Integration definitions: the YAML document an integration is written in (`DESIGN.md` 3.3),
//! read with the line of every problem, checked before anything is stored, and written back.
//!
//! - [`parse`] reads YAML text, checks it against the actions a [`Catalog`] knows, and gives a
//!   [`Definition`] or every [`Problem`] found, each with its path and line.
//! - [`to_yaml`] writes a definition back; parsing the result gives the same definition.
//! - [`reference_name`] is how steps are named in expressions (`Shape Order` → `shapeOrder`).
//! - [`values`] checks an instance's config values against the variables.
#![deny(missing_docs)]

mod catalog;
pub mod model;
mod names;
mod source;
mod validate;
pub mod values;

use std::fmt;

pub use catalog::{
    ActionKind, ActionSpec, Catalog, InputProblem, InputSpec, SyncSupport, TriggerSpec,
};
pub use model::Definition;
pub use names::reference_name;

/// The operators of `branch.onExpression` conditions, by the names definitions use.
pub const BRANCH_OPERATORS: &[&str] = &[
    "equals",
    "doesNotEqual",
    "exactlyMatches",
    "doesNotExactlyMatch",
    "isGreaterThan",
    "isGreaterThanOrEqualTo",
    "isLessThan",
    "isLessThanOrEqualTo",
    "in",
    "notIn",
    "contains",
    "doesNotContain",
    "isEmpty",
    "isNotEmpty",
    "startsWith",
    "doesNotStartWith",
    "endsWith",
    "doesNotEndWith",
    "isAfter",
    "isBefore",
    "isSame",
    "isTrue",
    "isFalse",
    "exists",
    "doesNotExist",
];

/// One problem with a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `flows[0].steps[2].inputs.url`, or `""` for the whole document.
    pub path: String,
    /// The line (1-based) where that path starts, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.path.is_empty(), self.line) {
            (true, Some(line)) => write!(f, "line {line}: {}", self.message),
            (true, None) => write!(f, "{}", self.message),
            (false, Some(line)) => write!(f, "{} (line {line}): {}", self.path, self.message),
            (false, None) => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// A definition that cannot be used, with every problem found.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid integration definition: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct Invalid {
    /// The problems, in document order where possible.
    pub problems: Vec<Problem>,
}

/// The custom component versions a definition's text pins (`componentVersions`), read before
/// the whole definition is checked (so that the caller can find their manifests); empty when
/// the text does not say, or does not parse.
pub fn component_pins(text: &str) -> std::collections::BTreeMap<String, u32> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Pins {
        #[serde(default)]
        component_versions: std::collections::BTreeMap<String, u32>,
    }
    serde_yaml::from_str::<Pins>(text)
        .map(|pins| pins.component_versions)
        .unwrap_or_default()
}

/// Reads and checks a definition.
pub fn parse(text: &str, catalog: &dyn Catalog) -> Result<Definition, Invalid> {
    let (value, lines) = source::parse(text).map_err(|problem| Invalid {
        problems: vec![problem],
    })?;
    let definition: Definition = serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let problem = Problem {
            line: lines.line_of(&path),
            message: err.into_inner().to_string(),
            path,
        };
        Invalid {
            problems: vec![problem],
        }
    })?;
    let problems = validate::check(&definition, catalog, &lines);
    if problems.is_empty() {
        Ok(definition)
    } else {
        Err(Invalid { problems })
    }
}

/// Writes a definition as YAML.
pub fn to_yaml(definition: &Definition) -> String {
    // A definition holds only strings, numbers, booleans, lists and maps with string keys, all
    // of which YAML can write; an error here would be a bug in the model.
    serde_yaml::to_string(definition)
        .unwrap_or_else(|err| format!("# cannot write the definition: {err}\n"))
}
