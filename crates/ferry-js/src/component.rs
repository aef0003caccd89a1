//! Custom components (`DESIGN.md` 3.5): a JavaScript bundle built on the SDK Ferry provides in
//! the sandbox (`@ferry/sdk`, shaped like the reference's: `component`, `action`, `input`,
//! `trigger`, `connection`, `oauth2Connection`, `dataSource`, `util.types`, error classes).
//!
//! A bundle is loaded like a code step's code (an ES module, or CommonJS through `module` and
//! `require`), with `require("@ferry/sdk")` and `import … from "@ferry/sdk"` giving the SDK and
//! nothing else. It must export a component made with `component({ … })`: `export default`,
//! `module.exports =`, or `exports.default =` (what TypeScript and bundlers write).
//!
//! [`JsRuntime::run_component`] runs one [`Operation`] of a bundle in a fresh sandbox, with the
//! same limits, host work and result rules as a code step: reading its manifest, an action's
//! `perform`, a trigger's `perform` or its deploy and delete hooks, a data source. Inputs are
//! cleaned by the SDK (defaults, required inputs, `clean` functions, connection values) before
//! `perform` sees them. [`prepare_bundle`] is the one place a bundle's text is turned into what
//! the sandbox runs.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::channel::Task;
use crate::{CodeHost, CodeOutput, JsError, JsRuntime, LogLevel};

/// What a custom component is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// Describe itself: its manifest as JSON (`data`).
    Manifest,
    /// Run action `key` with the step's `params` (input key → value, before cleaning).
    Action {
        /// The action's key in the component's `actions`.
        key: String,
        /// The step's inputs.
        params: Value,
    },
    /// Handle a webhook request with trigger `key`: `data` is `{ payload, response }`.
    Trigger {
        /// The trigger's key in the component's `triggers`.
        key: String,
        /// The request as a webhook trigger's result.
        payload: Value,
        /// The trigger's inputs.
        params: Value,
    },
    /// Trigger `key`'s `onInstanceDeploy` (nothing happens when it has none).
    Deploy {
        /// The trigger's key.
        key: String,
        /// The trigger's inputs.
        params: Value,
    },
    /// Trigger `key`'s `onInstanceDelete` (nothing happens when it has none).
    Delete {
        /// The trigger's key.
        key: String,
        /// The trigger's inputs.
        params: Value,
    },
    /// Data source `key`'s `perform`: `data` is its `result`.
    DataSource {
        /// The data source's key.
        key: String,
        /// Its inputs.
        params: Value,
    },
}

impl Operation {
    /// The name the SDK knows it by, the key it names, and its arguments.
    pub(crate) fn parts(&self) -> (&'static str, &str, Value) {
        match self {
            Operation::Manifest => ("manifest", "", Value::Null),
            Operation::Action { key, params } => ("action", key, json!({ "params": params })),
            Operation::Trigger {
                key,
                payload,
                params,
            } => (
                "trigger",
                key,
                json!({ "params": params, "payload": payload }),
            ),
            Operation::Deploy { key, params } => {
                ("onInstanceDeploy", key, json!({ "params": params }))
            }
            Operation::Delete { key, params } => {
                ("onInstanceDelete", key, json!({ "params": params }))
            }
            Operation::DataSource { key, params } => {
                ("dataSource", key, json!({ "params": params }))
            }
        }
    }
}

/// One operation of a custom component to run.
#[derive(Debug, Clone)]
pub struct ComponentCall {
    /// The bundle, as [`prepare_bundle`] gave it.
    pub bundle: String,
    /// What to run.
    pub operation: Operation,
    /// What `context` carries besides `logger` and `invokeFlow` (as for a code step).
    pub context: Value,
    /// When it must have ended.
    pub deadline: Instant,
    /// The time limit `deadline` comes from, named in the error when it passes.
    pub time_limit: Duration,
}

/// The bundle text the sandbox runs, from the text an author publishes: a leading byte-order
/// mark and `#!` line are dropped (QuickJS refuses both in a module). This is the one place
/// bundle text is turned into JavaScript, so a transpiler (TypeScript) plugs in here.
pub fn prepare_bundle(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.starts_with("#!") {
        // Keep the line count, so errors give the lines the author sees.
        let rest = text.find('\n').map_or("", |end| &text[end..]);
        return rest.to_string();
    }
    text.to_string()
}

impl JsRuntime {
    /// Runs one operation of a custom component; its result follows a code step's rules
    /// (`data`, `statusCode`, `headers`, `contentType`, the state scopes).
    pub async fn run_component(
        &self,
        call: ComponentCall,
        host: &dyn CodeHost,
    ) -> Result<CodeOutput, JsError> {
        self.run_task(Task::Component(call), host).await
    }

    /// The manifest of `bundle` (already prepared), read within `time_limit`: what
    /// `component({ … })` declares, as JSON, for the caller to check.
    pub async fn component_manifest(
        &self,
        bundle: String,
        time_limit: Duration,
    ) -> Result<Value, JsError> {
        let call = ComponentCall {
            bundle,
            operation: Operation::Manifest,
            context: json!({}),
            deadline: Instant::now() + time_limit,
            time_limit,
        };
        Ok(self.run_component(call, &Silent).await?.data)
    }
}

/// A host for reading manifests: loading a bundle may log, but nothing needs the lines.
struct Silent;

impl CodeHost for Silent {
    fn log(&self, _level: LogLevel, _message: &str) {}

    fn invoke_flow(
        &self,
        name: String,
        _data: Value,
    ) -> futures::future::BoxFuture<'_, Result<Value, String>> {
        Box::pin(async move { Err(format!("no flow {name:?} can be invoked while publishing")) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_loses_its_byte_order_mark_and_shebang_but_keeps_its_lines() {
        assert_eq!(prepare_bundle("\u{feff}let a;"), "let a;");
        assert_eq!(prepare_bundle("#!/usr/bin/env node\nlet a;"), "\nlet a;");
        assert_eq!(prepare_bundle("let a;"), "let a;");
    }
}
