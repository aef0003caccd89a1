//! State kept between executions, in four scopes (`DESIGN.md` 1): `execution` (this run
//! only), `flow` (the flow config's, the reference's `instanceState`), `instance` (shared by
//! the instance's flows, `crossFlowState`) and `integration` (shared by every instance of the
//! integration, `integrationState`). Steps change a copy; the worker writes the changed
//! scopes back when the execution succeeds.

use serde_json::{Map, Value};

/// The largest a scope may grow to, serialized: 64 MiB.
pub const MAX_STATE_BYTES: usize = 64 * 1024 * 1024;

/// The scopes a step may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// This execution only.
    Execution,
    /// The flow config's.
    Flow,
    /// The instance's, shared by its flows.
    Instance,
    /// The integration's, shared by its instances.
    Integration,
}

impl Scope {
    /// The scope named `name`.
    pub fn parse(name: &str) -> Result<Scope, String> {
        match name {
            "execution" => Ok(Scope::Execution),
            "flow" => Ok(Scope::Flow),
            "instance" => Ok(Scope::Instance),
            "integration" => Ok(Scope::Integration),
            other => Err(format!(
                "unknown state scope {other:?}: use execution, flow, instance or integration"
            )),
        }
    }

    /// The name the store uses for a persisted scope.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Execution => "execution",
            Scope::Flow => "flow",
            Scope::Instance => "instance",
            Scope::Integration => "integration",
        }
    }

    /// The persisted scopes.
    pub const PERSISTED: [Scope; 3] = [Scope::Flow, Scope::Instance, Scope::Integration];
}

/// The four scopes' values, and which persisted ones changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct States {
    scopes: [Map<String, Value>; 4],
    changed: [bool; 4],
}

impl States {
    /// States starting from the stored values of the persisted scopes.
    pub fn loaded(
        flow: Option<Value>,
        instance: Option<Value>,
        integration: Option<Value>,
    ) -> Self {
        let as_map = |value: Option<Value>| match value {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        States {
            scopes: [
                Map::new(),
                as_map(flow),
                as_map(instance),
                as_map(integration),
            ],
            changed: [false; 4],
        }
    }

    /// The value under `key`, or null.
    pub fn get(&self, scope: Scope, key: &str) -> Value {
        self.scopes[scope as usize]
            .get(key)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Sets `key` (null removes it), refusing to grow the scope past [`MAX_STATE_BYTES`].
    pub fn set(&mut self, scope: Scope, key: &str, value: Value) -> Result<(), String> {
        let map = &mut self.scopes[scope as usize];
        let previous = if value.is_null() {
            map.remove(key)
        } else {
            map.insert(key.to_string(), value)
        };
        let size = serde_json::to_vec(map)
            .map(|bytes| bytes.len())
            .unwrap_or(0);
        if size > MAX_STATE_BYTES {
            match previous {
                Some(previous) => map.insert(key.to_string(), previous),
                None => map.remove(key),
            };
            return Err(format!(
                "{} state would grow to {size} bytes, over the limit of {MAX_STATE_BYTES}",
                scope.as_str()
            ));
        }
        self.changed[scope as usize] = true;
        Ok(())
    }

    /// Every key of `scope`, as an object.
    pub fn all(&self, scope: Scope) -> Value {
        Value::Object(self.scopes[scope as usize].clone())
    }

    /// Applies several changes (key → value, null removing the key) at once, per scope: all
    /// of them, or none when one scope would grow past [`MAX_STATE_BYTES`].
    pub fn apply(&mut self, changes: Vec<(Scope, Map<String, Value>)>) -> Result<(), String> {
        let changes: Vec<_> = changes.into_iter().filter(|(_, c)| !c.is_empty()).collect();
        let before: Vec<(Scope, Map<String, Value>, bool)> = changes
            .iter()
            .map(|(scope, _)| {
                let at = *scope as usize;
                (*scope, self.scopes[at].clone(), self.changed[at])
            })
            .collect();
        for (scope, entries) in changes {
            if let Err(error) = self.apply_one(scope, entries) {
                for (scope, map, changed) in before {
                    self.scopes[scope as usize] = map;
                    self.changed[scope as usize] = changed;
                }
                return Err(error);
            }
        }
        Ok(())
    }

    fn apply_one(&mut self, scope: Scope, entries: Map<String, Value>) -> Result<(), String> {
        let map = &mut self.scopes[scope as usize];
        for (key, value) in entries {
            if value.is_null() {
                map.remove(&key);
            } else {
                map.insert(key, value);
            }
        }
        let size = serde_json::to_vec(map)
            .map(|bytes| bytes.len())
            .unwrap_or(0);
        if size > MAX_STATE_BYTES {
            return Err(format!(
                "{} state would grow to {size} bytes, over the limit of {MAX_STATE_BYTES}",
                scope.as_str()
            ));
        }
        self.changed[scope as usize] = true;
        Ok(())
    }

    /// The persisted scopes that changed, with their whole new values.
    pub fn changed(&self) -> Vec<(Scope, Value)> {
        Scope::PERSISTED
            .into_iter()
            .filter(|scope| self.changed[*scope as usize])
            .map(|scope| (scope, Value::Object(self.scopes[scope as usize].clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_changed_persisted_scopes_are_written_back() {
        let mut states = States::loaded(Some(json!({"cursor": 1})), None, None);
        assert_eq!(states.get(Scope::Flow, "cursor"), json!(1));
        states.set(Scope::Execution, "tmp", json!(true)).unwrap();
        assert!(states.changed().is_empty());
        states.set(Scope::Instance, "seen", json!([1])).unwrap();
        assert_eq!(
            states.changed(),
            vec![(Scope::Instance, json!({"seen": [1]}))]
        );
    }

    #[test]
    fn null_removes_a_key() {
        let mut states = States::loaded(Some(json!({"a": 1})), None, None);
        states.set(Scope::Flow, "a", Value::Null).unwrap();
        assert_eq!(states.changed(), vec![(Scope::Flow, json!({}))]);
    }

    #[test]
    fn a_scope_cannot_grow_past_64_mib() {
        let mut states = States::default();
        let big = "x".repeat(MAX_STATE_BYTES);
        let err = states.set(Scope::Flow, "big", json!(big)).unwrap_err();
        assert!(err.contains("over the limit"), "{err}");
        assert_eq!(
            states.get(Scope::Flow, "big"),
            Value::Null,
            "the old value stays"
        );
    }

    #[test]
    fn changes_apply_together_or_not_at_all() {
        let mut states = States::loaded(Some(json!({"a": 1, "b": 2})), None, None);
        let flow = json!({"a": null, "c": 3}).as_object().unwrap().clone();
        states.apply(vec![(Scope::Flow, flow)]).unwrap();
        assert_eq!(states.all(Scope::Flow), json!({"b": 2, "c": 3}));
        let small = json!({"x": 1}).as_object().unwrap().clone();
        let big = json!({"big": "x".repeat(MAX_STATE_BYTES)})
            .as_object()
            .unwrap()
            .clone();
        let err = states
            .apply(vec![(Scope::Instance, small), (Scope::Integration, big)])
            .unwrap_err();
        assert!(err.contains("integration state"), "{err}");
        assert_eq!(states.all(Scope::Instance), json!({}), "rolled back");
        assert_eq!(
            states.changed(),
            vec![(Scope::Flow, json!({"b": 2, "c": 3}))]
        );
    }

    #[test]
    fn unknown_scopes_are_named() {
        assert!(Scope::parse("global").unwrap_err().contains("\"global\""));
    }
}
