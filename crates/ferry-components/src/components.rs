//! The built-in components that group the actions, and the generated catalogue
//! (`docs/components.md`).

use std::fmt::Write;

use ferry_definition::ActionKind;

use crate::catalog::{builtin_actions, BuiltinAction};

/// A built-in component: a family of actions sharing a key prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinComponent {
    /// Its key, the prefix of its actions' keys (`http` for `http.request`).
    pub key: &'static str,
    /// Its name for people.
    pub label: &'static str,
    /// What it is for.
    pub description: &'static str,
}

static COMPONENTS: &[BuiltinComponent] = &[
    BuiltinComponent {
        key: "http",
        label: "HTTP",
        description: "Calls HTTP APIs",
    },
    BuiltinComponent {
        key: "branch",
        label: "Branch",
        description: "Chooses which steps run",
    },
    BuiltinComponent {
        key: "loop",
        label: "Loop",
        description: "Runs steps repeatedly",
    },
    BuiltinComponent {
        key: "code",
        label: "Code",
        description: "Runs JavaScript or TypeScript",
    },
    BuiltinComponent {
        key: "log",
        label: "Log",
        description: "Writes to the execution's logs",
    },
    BuiltinComponent {
        key: "state",
        label: "State",
        description: "Keeps values between executions",
    },
    BuiltinComponent {
        key: "flow",
        label: "Flow",
        description: "Invokes and stops flows",
    },
    BuiltinComponent {
        key: "collection",
        label: "Collection",
        description: "Reshapes lists",
    },
    BuiltinComponent {
        key: "text",
        label: "Text",
        description: "Works on text",
    },
    BuiltinComponent {
        key: "format",
        label: "Format",
        description: "Reads and writes JSON, XML, CSV, YAML and MessagePack",
    },
    BuiltinComponent {
        key: "datetime",
        label: "Date and time",
        description: "Reads, writes and computes times",
    },
    BuiltinComponent {
        key: "hash",
        label: "Hash",
        description: "Digests, HMAC signatures and constant-time comparison",
    },
    BuiltinComponent {
        key: "sleep",
        label: "Sleep",
        description: "Waits",
    },
];

/// Every built-in component, in catalogue order.
pub fn builtin_components() -> &'static [BuiltinComponent] {
    COMPONENTS
}

impl BuiltinComponent {
    /// The component's actions.
    pub fn actions(&self) -> impl Iterator<Item = &'static BuiltinAction> + '_ {
        builtin_actions().iter().filter(move |action| {
            action.key == self.key
                || action
                    .key
                    .split_once('.')
                    .is_some_and(|(prefix, _)| prefix == self.key)
        })
    }
}

/// The catalogue of built-in components as Markdown, as kept in `docs/components.md`.
pub fn catalogue_markdown() -> String {
    let mut out = String::from(
        "# Built-in components\n\n\
         Generated from `crates/ferry-components/src/catalog.rs` by its tests \
         (`UPDATE_DOCS=1 cargo test -p ferry-components`); do not edit by hand. \
         Steps call an action by its key; inputs marked required must be given. \
         Inputs may be values or `{{ expressions }}`; a step's result is what the \
         \"Result\" line says, read by later steps as `steps.<stepName>.results`. \
         `code.run` runs its `code` (not a template) in a QuickJS sandbox: \
         `module.exports = async (context, stepResults) => ({ data })`, with the \
         web globals (`fetch`, `URL`, `crypto.subtle`, timers, …), a memory limit \
         and the execution's time limit; with `language: typescript` its types \
         are stripped first (no type checking). Syntax errors in either language are \
         reported at import, with their line and column. \
         See `crates/ferry-js`.\n",
    );
    for component in builtin_components() {
        let _ = write!(
            out,
            "\n## {} (`{}`)\n\n{}.\n",
            component.label, component.key, component.description
        );
        for action in component.actions() {
            write_action(&mut out, action);
        }
    }
    out
}

fn write_action(out: &mut String, action: &BuiltinAction) {
    let shape = match action.kind {
        ActionKind::Plain => "",
        ActionKind::Branch => " Holds `branches`.",
        ActionKind::Loop => " Holds the `steps` it runs.",
    };
    let _ = write!(
        out,
        "\n### `{}`\n\n{}.{shape}\n\n",
        action.key, action.description
    );
    if action.inputs.is_empty() {
        out.push_str("No inputs.\n");
    } else {
        out.push_str("| input | required | what |\n| --- | --- | --- |\n");
        for input in action.inputs {
            let required = if input.required { "yes" } else { "" };
            let _ = writeln!(
                out,
                "| `{}` | {required} | {} |",
                input.key, input.description
            );
        }
    }
    let _ = writeln!(out, "\nResult: {}.", action.output.trim_end_matches('.'));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_belongs_to_exactly_one_component() {
        for action in builtin_actions() {
            let owners = builtin_components()
                .iter()
                .filter(|c| c.actions().any(|a| a.key == action.key))
                .count();
            assert_eq!(owners, 1, "{}", action.key);
        }
    }

    #[test]
    fn docs_components_md_is_generated_from_the_catalogue() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/components.md");
        let generated = catalogue_markdown();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/components.md is stale; run `UPDATE_DOCS=1 cargo test -p ferry-components`"
        );
    }
}
