//! The part of a context an expression can reach, converted for minijinja alone.
//!
//! Converting a whole context (every step's results, the trigger's payload) for each expression
//! cost more than evaluating it, and grew with the payload. minijinja reports the variables an
//! expression reads as dotted paths (`steps.transform.results.total`: the longest chain of
//! attribute reads from a variable), so only those values are converted, inside maps that hold
//! just the fields on the way to them. The expression sees the same values: it can reach a map
//! on the way only by reading the fields named, so the fields left out are never looked at.
//! Where that does not hold, the whole value is converted instead: a field that is missing
//! (what the expression then sees must not depend on what was left out), a value that is not
//! an object, and a field named like a method of Python-like maps (`x.items()` would list all
//! of `x`; the evaluator has no such methods today, so this only keeps the rule safe if it
//! gains them).

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use super::Variables;

/// The methods of Python-like maps: a path through one of these names may be a method call
/// on the whole map.
const MAP_METHODS: [&str; 4] = ["items", "keys", "values", "get"];

/// What an expression reads of a value: all of it, or some of its fields.
#[derive(Debug)]
enum Reach<'p> {
    All,
    Fields(BTreeMap<&'p str, Reach<'p>>),
}

/// The variables of `context` that `paths` read, with just what they read of each.
pub(super) fn reached(context: &dyn Variables, paths: &HashSet<String>) -> minijinja::Value {
    let mut variables = BTreeMap::new();
    for path in paths {
        let mut segments = path.split('.');
        if let Some(variable) = segments.next() {
            variables
                .entry(variable)
                .or_insert_with(|| Reach::Fields(BTreeMap::new()))
                .add(segments);
        }
    }
    // A variable the context does not have stays out, as in the whole context (it may be one
    // of minijinja's globals, or a mistake that the evaluation reports).
    variables
        .iter()
        .filter_map(|(name, reach)| Some((*name, reach.take_variable(context, name)?)))
        .collect()
}

impl<'p> Reach<'p> {
    /// Adds the path of fields `segments` under this value.
    fn add(&mut self, mut segments: impl Iterator<Item = &'p str>) {
        let Reach::Fields(fields) = self else {
            return;
        };
        match segments.next() {
            None => *self = Reach::All,
            Some(field) => fields
                .entry(field)
                .or_insert_with(|| Reach::Fields(BTreeMap::new()))
                .add(segments),
        }
    }

    /// What of variable `name` is reached: its fields read one by one through
    /// [`Variables::field`] when every one named exists, else the whole variable.
    fn take_variable(&self, context: &dyn Variables, name: &str) -> Option<minijinja::Value> {
        // `Fields` always names at least one field (`add` makes a reach with none `All`).
        if let Reach::Fields(fields) = self {
            let found = fields
                .iter()
                .map(|(field, reach)| {
                    let plain = !MAP_METHODS.contains(field);
                    let value = context.field(name, field).filter(|_| plain)?;
                    Some((*field, reach.take(value)))
                })
                .collect::<Option<Vec<_>>>();
            if let Some(found) = found {
                return Some(found.into_iter().collect());
            }
        }
        Some(self.take(context.variable(name)?))
    }

    /// What of `value` is reached, converted for minijinja.
    fn take(&self, value: &Value) -> minijinja::Value {
        match (self, value) {
            (Reach::Fields(fields), Value::Object(map)) if all_plain_fields_of(fields, map) => {
                fields
                    .iter()
                    .map(|(name, reach)| (*name, reach.take(&map[*name])))
                    .collect()
            }
            _ => minijinja::Value::from_serialize(value),
        }
    }
}

/// Whether `map` has every field named, none of them named like a map method.
fn all_plain_fields_of(
    fields: &BTreeMap<&str, Reach<'_>>,
    map: &serde_json::Map<String, Value>,
) -> bool {
    fields
        .keys()
        .all(|name| map.contains_key(*name) && !MAP_METHODS.contains(name))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(list: &[&str]) -> HashSet<String> {
        list.iter().map(|p| p.to_string()).collect()
    }

    fn as_json(value: minijinja::Value) -> Value {
        serde_json::to_value(value).unwrap()
    }

    fn context() -> Value {
        json!({
            "steps": {
                "trigger": { "results": { "body": "x".repeat(100), "id": 7 } },
                "transform": { "results": { "total": 12.5, "items": [1, 2], "lines": [3] } }
            },
            "configVars": { "Greeting": "hello", "Other": "x" }
        })
    }

    #[test]
    fn only_the_values_named_are_converted_inside_the_maps_that_lead_to_them() {
        let reached = reached(&context(), &paths(&["steps.transform.results.total"]));
        assert_eq!(
            as_json(reached),
            json!({ "steps": { "transform": { "results": { "total": 12.5 } } } })
        );
    }

    #[test]
    fn a_shorter_path_takes_the_whole_value_and_paths_merge() {
        let reached = reached(
            &context(),
            &paths(&[
                "configVars",
                "configVars.Greeting",
                "steps.trigger.results.id",
            ]),
        );
        assert_eq!(
            as_json(reached),
            json!({
                "configVars": { "Greeting": "hello", "Other": "x" },
                "steps": { "trigger": { "results": { "id": 7 } } }
            })
        );
    }

    #[test]
    fn a_missing_field_a_method_name_or_a_non_object_takes_the_whole_parent() {
        let whole_results = json!({ "total": 12.5, "items": [1, 2], "lines": [3] });
        for path in [
            "steps.transform.results.nothing",
            "steps.transform.results.items",
            "steps.transform.results.keys",
        ] {
            let reached = reached(&context(), &paths(&[path]));
            assert_eq!(
                as_json(reached),
                json!({ "steps": { "transform": { "results": whole_results } } }),
                "{path}"
            );
        }
        let reached = reached(&context(), &paths(&["configVars.Greeting.upper"]));
        assert_eq!(
            as_json(reached),
            json!({ "configVars": { "Greeting": "hello" } })
        );
    }

    #[test]
    fn variables_the_context_lacks_stay_out() {
        let reached = reached(&context(), &paths(&["range", "namespace.x"]));
        assert_eq!(as_json(reached), json!({}));
    }
}
