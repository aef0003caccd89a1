//! The step results one scope sees (the flow, or one loop iteration) and what expressions and
//! code steps read of them.
//!
//! The trigger's result is usually the request a webhook queued, which arrives as JSON text
//! ([`Payload`]). It stays text unless an expression reads it: a code step gets the step
//! results as text anyway (the text is spliced in, not parsed and written again), and most
//! flows' expressions read only later steps' results.

use std::sync::{Arc, OnceLock};

use ferry_core::payload::Payload;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::expr::Variables;

/// The step results visible to one scope, and the loop indices that lead to it.
#[derive(Clone, Default)]
pub(super) struct Frame {
    /// By step reference, `{ results }` (or a loop's `{ currentItem, index }`), except a
    /// trigger result kept as text.
    steps: Map<String, Value>,
    /// The trigger's result while it is text (shared by the frames of loop iterations).
    trigger: Option<Arc<TextTrigger>>,
    pub(super) path: Vec<usize>,
}

/// A trigger result kept as text, and its entry (`{ results }`) once something read it.
struct TextTrigger {
    reference: String,
    results: Payload,
    entry: OnceLock<Value>,
}

impl TextTrigger {
    fn entry(&self) -> &Value {
        // Parsed from the text here, not from the payload's own parsed value, which would
        // then be kept twice.
        let results = || self.results.clone().into_value();
        self.entry
            .get_or_init(|| ferry_core::json::object([("results", results())]))
    }

    /// Whether the results hold a binary value; parsed only when the text could.
    fn has_binary(&self) -> bool {
        self.results.text().contains("\"base64\"") && ferry_js::has_binary(self.entry())
    }
}

impl Frame {
    /// Makes the trigger's result `results` visible as `steps.<reference>.results`: kept as
    /// text when it came as text.
    pub(super) fn set_trigger(&mut self, reference: &str, results: Payload) {
        if results.is_parsed() {
            return self.set_results(reference, results.into_value());
        }
        self.trigger = Some(Arc::new(TextTrigger {
            reference: reference.to_string(),
            results,
            entry: OnceLock::new(),
        }));
    }

    /// Sets what `steps.<reference>` reads.
    pub(super) fn set_entry(&mut self, reference: &str, entry: Value) {
        if self.trigger_at(reference).is_some() {
            self.trigger = None;
        }
        self.steps.insert(reference.to_string(), entry);
    }

    /// Makes `results` visible as `steps.<reference>.results`.
    pub(super) fn set_results(&mut self, reference: &str, results: Value) {
        self.set_entry(reference, ferry_core::json::object([("results", results)]));
    }

    /// What `steps.<reference>` reads, if anything.
    pub(super) fn entry(&self, reference: &str) -> Option<&Value> {
        match self.trigger_at(reference) {
            Some(trigger) => Some(trigger.entry()),
            None => self.steps.get(reference),
        }
    }

    fn trigger_at(&self, reference: &str) -> Option<&TextTrigger> {
        self.trigger.as_deref().filter(|t| t.reference == reference)
    }

    /// Every entry as one object, the trigger's first (it was set first).
    fn whole(&self) -> Value {
        let mut steps = Map::new();
        if let Some(trigger) = &self.trigger {
            steps.insert(trigger.reference.clone(), trigger.entry().clone());
        }
        steps.extend(self.steps.iter().map(|(k, v)| (k.clone(), v.clone())));
        Value::Object(steps)
    }

    /// The step results as JSON text for a code step, and whether they hold a binary value
    /// anywhere.
    pub(super) fn step_results(&self) -> ferry_js::StepResults {
        let trigger = self.trigger.as_deref();
        let binary = self.steps.values().any(ferry_js::has_binary)
            || trigger.is_some_and(TextTrigger::has_binary);
        let text = Text {
            trigger: trigger.map(|t| {
                let results = Results {
                    results: t.results.raw(),
                };
                (t.reference.as_str(), results)
            }),
            steps: &self.steps,
        };
        ferry_js::StepResults::written(&text, binary)
    }

    /// The loop path as stored with a step result (`1.0`, or empty outside loops).
    pub(super) fn path_text(&self) -> String {
        let parts: Vec<String> = self.path.iter().map(usize::to_string).collect();
        parts.join(".")
    }

    /// `<stepRef>:<loop path>`: the step's key in the execution's results.
    pub(super) fn key(&self, reference: &str) -> String {
        format!("{reference}:{}", self.path_text())
    }
}

/// The step results written out: the trigger's entry spliced in as text.
struct Text<'a> {
    trigger: Option<(&'a str, Results<'a>)>,
    steps: &'a Map<String, Value>,
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some((reference, results)) = &self.trigger {
            map.serialize_entry(reference, results)?;
        }
        for (reference, entry) in self.steps {
            map.serialize_entry(reference, entry)?;
        }
        map.end()
    }
}

/// `{ "results": <text> }`.
#[derive(serde::Serialize)]
struct Results<'a> {
    results: &'a RawValue,
}

/// The variables of a step's expressions: the run's context, and the step results so far as
/// `steps`, read in place.
pub(super) struct StepVariables<'f> {
    base: &'f Map<String, Value>,
    frame: &'f Frame,
    /// `steps` as one object, made only when an expression reads it whole.
    whole: OnceLock<Value>,
}

impl<'f> StepVariables<'f> {
    pub(super) fn new(base: &'f Map<String, Value>, frame: &'f Frame) -> Self {
        StepVariables {
            base,
            frame,
            whole: OnceLock::new(),
        }
    }
}

impl Variables for StepVariables<'_> {
    fn variable(&self, name: &str) -> Option<&Value> {
        match name {
            "steps" => Some(self.whole.get_or_init(|| self.frame.whole())),
            _ => self.base.get(name),
        }
    }

    fn field(&self, name: &str, field: &str) -> Option<&Value> {
        match name {
            "steps" => self.frame.entry(field),
            _ => self.base.get(name)?.as_object()?.get(field),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::expr::Evaluator;

    fn frame() -> Frame {
        let mut frame = Frame::default();
        let text = r#"{"body": {"data": {"id": 7, "b64": {"contentType": "x", "base64": ""}}}}"#;
        frame.set_trigger("trigger", Payload::from_json(text).unwrap());
        frame.set_results("shape", json!({ "total": 3 }));
        frame
    }

    #[test]
    fn a_code_step_gets_the_trigger_text_spliced_in_first() {
        let frame = frame();
        let results = frame.step_results();
        let parsed: Value = serde_json::from_str(results.json()).unwrap();
        assert_eq!(parsed["trigger"]["results"]["body"]["data"]["id"], 7);
        assert_eq!(parsed["shape"]["results"]["total"], 3);
        assert!(results
            .json()
            .starts_with(r#"{"trigger":{"results":{"body": {"#));
        assert!(results.has_binary());
        assert!(!frame.trigger.as_ref().unwrap().results.is_parsed());
        let mut plain = Frame::default();
        plain.set_trigger("trigger", Payload::from_json("{\"a\":1}").unwrap());
        assert!(!plain.step_results().has_binary());
        assert!(plain.trigger.as_ref().unwrap().entry.get().is_none());
    }

    #[test]
    fn expressions_read_the_trigger_only_when_they_name_it() {
        let frame = frame();
        let base = Map::new();
        let evaluator = Evaluator::new();
        let read = |input: Value| evaluator.evaluate(&input, &StepVariables::new(&base, &frame));
        assert_eq!(read(json!("{{ steps.shape.results.total }}")).unwrap(), 3);
        assert!(frame.trigger.as_ref().unwrap().entry.get().is_none());
        assert_eq!(
            read(json!("{{ steps.trigger.results.body.data.id }}")).unwrap(),
            7
        );
        assert_eq!(read(json!("{{ steps | length }}")).unwrap(), 2);
        let err = read(json!("{{ steps.nope.results }}")).unwrap_err();
        assert!(err.message.contains("it has: trigger, shape"), "{err}");
    }

    #[test]
    fn a_loop_iteration_shares_the_text_and_a_later_entry_replaces_it() {
        let mut frame = frame();
        let inner = frame.clone();
        assert!(Arc::ptr_eq(
            frame.trigger.as_ref().unwrap(),
            inner.trigger.as_ref().unwrap()
        ));
        frame.set_results("trigger", json!(1));
        assert_eq!(frame.entry("trigger"), Some(&json!({ "results": 1 })));
        assert_eq!(
            inner.entry("trigger").unwrap()["results"]["body"]["data"]["id"],
            7
        );
    }
}
