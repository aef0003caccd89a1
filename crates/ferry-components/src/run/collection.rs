//! The `collection.*` actions: reshaping lists.
//!
//! A `key` input names a field of object items; a dotted path (`address.city`) reaches into
//! nested objects, unless the item has a field with the dotted name itself. Items without the
//! field count as null.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::inputs::kind;
use super::{ActionError, Inputs};

/// Runs `action`, or `None` when it is not a `collection.*` action.
pub(super) fn run(action: &str, inputs: &Inputs) -> Option<Result<Value, ActionError>> {
    let result = match action {
        "collection.chunk" => chunk(inputs),
        "collection.flatten" => flatten(inputs),
        "collection.dedupe" => dedupe(inputs),
        "collection.group" => group(inputs),
        "collection.sort" => sort(inputs),
        "collection.mapKeys" => map_keys(inputs),
        _ => return None,
    };
    Some(result)
}

fn chunk(inputs: &Inputs) -> Result<Value, ActionError> {
    let items = inputs.list("items")?;
    let size = chunk_size(inputs)?;
    let chunks = items
        .chunks(size)
        .map(|chunk| Value::Array(chunk.to_vec()))
        .collect();
    Ok(Value::Array(chunks))
}

/// The `size` input: a whole number of at least 1 (any larger size is one chunk).
fn chunk_size(inputs: &Inputs) -> Result<usize, ActionError> {
    let size = inputs.number("size")?;
    if size.fract() != 0.0 || size < 1.0 {
        return Err(ActionError::input(
            "size",
            format!("must be a whole number of at least 1, got {size}"),
        ));
    }
    // Saturates for sizes beyond usize, which chunk the same as the list's length.
    Ok(size as usize)
}

fn flatten(inputs: &Inputs) -> Result<Value, ActionError> {
    let mut flat = Vec::new();
    for item in inputs.list("items")? {
        match item {
            Value::Array(inner) => flat.extend(inner.iter().cloned()),
            other => flat.push(other.clone()),
        }
    }
    Ok(Value::Array(flat))
}

fn dedupe(inputs: &Inputs) -> Result<Value, ActionError> {
    let items = inputs.list("items")?;
    let key = inputs.opt_text("key")?;
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let compared = match &key {
            Some(key) => field(item, index, key)?,
            None => item,
        };
        if seen.insert(canonical(compared)) {
            kept.push(item.clone());
        }
    }
    Ok(Value::Array(kept))
}

fn group(inputs: &Inputs) -> Result<Value, ActionError> {
    let items = inputs.list("items")?;
    let key = inputs.text("key")?;
    let mut groups: Map<String, Value> = Map::new();
    for (index, item) in items.iter().enumerate() {
        let name = group_name(field(item, index, &key)?);
        let members = groups
            .entry(name)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(members) = members {
            members.push(item.clone());
        }
    }
    Ok(Value::Object(groups))
}

/// A group's key: text as it is, null as `null`, anything else as JSON.
fn group_name(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn sort(inputs: &Inputs) -> Result<Value, ActionError> {
    let items = inputs.list("items")?;
    let key = inputs.opt_text("key")?;
    let descending = match inputs.opt_text("direction")?.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ActionError::input(
                "direction",
                format!("must be asc or desc, got `{other}`"),
            ))
        }
    };
    let mut keyed = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let sort_key = match &key {
            Some(key) => field(item, index, key)?,
            None => item,
        };
        keyed.push((sort_key, item));
    }
    // `sort_by` is stable: equal items keep their order in either direction.
    keyed.sort_by(|(a, _), (b, _)| compare(a, b, descending));
    Ok(Value::Array(
        keyed.into_iter().map(|(_, item)| item.clone()).collect(),
    ))
}

/// Sort order: numbers, then text, then booleans, lists and objects (reversed when
/// descending); null last in either direction.
fn compare(a: &Value, b: &Value, descending: bool) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    let order = rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => Ordering::Equal,
    });
    if descending {
        order.reverse()
    } else {
        order
    }
}

fn rank(value: &Value) -> u8 {
    match value {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) | Value::Null => 4,
    }
}

/// Whole numbers compare exactly; others as floating point.
fn compare_numbers(x: &serde_json::Number, y: &serde_json::Number) -> Ordering {
    match (whole(x), whole(y)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.total_cmp(&y)
        }
    }
}

fn whole(number: &serde_json::Number) -> Option<i128> {
    number
        .as_i64()
        .map(i128::from)
        .or_else(|| number.as_u64().map(i128::from))
}

fn map_keys(inputs: &Inputs) -> Result<Value, ActionError> {
    let items = inputs.list("items")?;
    let mapping = renames(inputs)?;
    let mut renamed = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        renamed.push(Value::Object(rename(object(item, index)?, &mapping)));
    }
    Ok(Value::Array(renamed))
}

/// The `mapping` input: old field name to new field name.
fn renames(inputs: &Inputs) -> Result<HashMap<&str, &str>, ActionError> {
    let mut renames = HashMap::new();
    for (old, new) in inputs.object("mapping")? {
        let new = new.as_str().ok_or_else(|| {
            ActionError::input(
                "mapping",
                format!("the new name for `{old}` must be text, got {}", kind(new)),
            )
        })?;
        renames.insert(old.as_str(), new);
    }
    Ok(renames)
}

/// `item` with its fields renamed in place; a renamed field replaces a field already holding
/// its new name.
fn rename(item: &Map<String, Value>, renames: &HashMap<&str, &str>) -> Map<String, Value> {
    let replaced: HashSet<&str> = item
        .keys()
        .filter_map(|old| renames.get(old.as_str()).copied())
        .collect();
    let mut out = Map::new();
    for (name, value) in item {
        match renames.get(name.as_str()) {
            Some(new) => {
                out.insert((*new).to_string(), value.clone());
            }
            None if !replaced.contains(name.as_str()) => {
                out.insert(name.clone(), value.clone());
            }
            None => {}
        }
    }
    out
}

/// Item `index` as an object, or an error naming `items`.
fn object(item: &Value, index: usize) -> Result<&Map<String, Value>, ActionError> {
    item.as_object().ok_or_else(|| {
        ActionError::input(
            "items",
            format!("item {index} is {}, expected an object", kind(item)),
        )
    })
}

/// The field `key` of item `index` (null when missing).
fn field<'a>(item: &'a Value, index: usize, key: &str) -> Result<&'a Value, ActionError> {
    const NULL: &Value = &Value::Null;
    let fields = object(item, index)?;
    if let Some(value) = fields.get(key) {
        return Ok(value);
    }
    let mut current = item;
    for part in key.split('.') {
        match current.get(part) {
            Some(next) => current = next,
            None => return Ok(NULL),
        }
    }
    Ok(current)
}

/// A text that is equal for equal values: object fields sorted, whole numbers without a
/// fraction (so `1` and `1.0` are the same).
fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                out.push_str(&(f as i64).to_string())
            }
            _ => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for item in items {
                write_canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(fields) => {
            let mut names: Vec<&String> = fields.keys().collect();
            names.sort();
            out.push('{');
            for name in names {
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                if let Some(field) = fields.get(name) {
                    write_canonical(field, out);
                }
                out.push(',');
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(action: &str, inputs: Value) -> Result<Value, ActionError> {
        run(action, &Inputs::from(inputs.as_object().unwrap().clone())).unwrap()
    }

    fn input_error(result: Result<Value, ActionError>) -> (String, String) {
        match result {
            Err(ActionError::Input { input, message }) => (input, message),
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_actions_are_not_collection_actions() {
        let inputs = Inputs::default();
        assert!(run("collection.nope", &inputs).is_none());
        assert!(run("text.trim", &inputs).is_none());
    }

    #[test]
    fn chunk_splits_into_lists_of_size_with_a_shorter_last_one() {
        let out = call(
            "collection.chunk",
            json!({"items": [1, 2, 3, 4, 5], "size": 2}),
        );
        assert_eq!(out.unwrap(), json!([[1, 2], [3, 4], [5]]));
    }

    #[test]
    fn chunk_of_an_empty_list_is_empty_and_a_huge_size_is_one_chunk() {
        let empty = call("collection.chunk", json!({"items": [], "size": 3}));
        assert_eq!(empty.unwrap(), json!([]));
        let huge = call("collection.chunk", json!({"items": [1, 2], "size": 1e300}));
        assert_eq!(huge.unwrap(), json!([[1, 2]]));
    }

    #[test]
    fn chunk_size_must_be_a_whole_number_of_at_least_one() {
        for size in [json!(0), json!(-1), json!(1.5), json!("x"), json!(null)] {
            let (input, _) = input_error(call(
                "collection.chunk",
                json!({"items": [1], "size": size}),
            ));
            assert_eq!(input, "size");
        }
        let (input, _) = input_error(call("collection.chunk", json!({"items": 3, "size": 1})));
        assert_eq!(input, "items");
    }

    #[test]
    fn flatten_removes_one_level_and_keeps_other_items() {
        let out = call(
            "collection.flatten",
            json!({"items": [[1, [2]], 3, [], [4]]}),
        );
        assert_eq!(out.unwrap(), json!([1, [2], 3, 4]));
    }

    #[test]
    fn flatten_needs_a_list() {
        let (input, message) = input_error(call("collection.flatten", json!({"items": {"a": 1}})));
        assert_eq!(input, "items");
        assert!(message.contains("expected a list"), "{message}");
    }

    #[test]
    fn dedupe_keeps_the_first_of_equal_items() {
        let items = json!([1, 1.0, "1", {"a": 1, "b": 2}, {"b": 2, "a": 1}, 2, 1]);
        let out = call("collection.dedupe", json!({ "items": items }));
        assert_eq!(out.unwrap(), json!([1, "1", {"a": 1, "b": 2}, 2]));
    }

    #[test]
    fn dedupe_by_key_compares_that_field_and_items_without_it_count_as_null() {
        let items = json!([
            {"id": 1, "v": "a"}, {"id": 2}, {"id": 1, "v": "b"}, {"x": 0}, {"x": 1}
        ]);
        let out = call("collection.dedupe", json!({ "items": items, "key": "id" }));
        assert_eq!(
            out.unwrap(),
            json!([{"id": 1, "v": "a"}, {"id": 2}, {"x": 0}])
        );
    }

    #[test]
    fn a_key_needs_object_items() {
        let (input, message) = input_error(call(
            "collection.dedupe",
            json!({"items": [{"id": 1}, 5], "key": "id"}),
        ));
        assert_eq!(input, "items");
        assert!(message.contains("item 1 is a number"), "{message}");
    }

    #[test]
    fn group_collects_items_by_their_field_as_text() {
        let items = json!([
            {"t": "a", "n": 1}, {"t": 2, "n": 2}, {"t": "a", "n": 3}, {"n": 4}, {"t": true}
        ]);
        let out = call("collection.group", json!({ "items": items, "key": "t" }));
        assert_eq!(
            out.unwrap(),
            json!({
                "a": [{"t": "a", "n": 1}, {"t": "a", "n": 3}],
                "2": [{"t": 2, "n": 2}],
                "null": [{"n": 4}],
                "true": [{"t": true}],
            })
        );
    }

    #[test]
    fn group_reaches_into_nested_fields_by_dotted_path() {
        let items = json!([{"a": {"b": "x"}}, {"a": {"b": "y"}}, {"a.b": "x"}]);
        let out = call("collection.group", json!({ "items": items, "key": "a.b" }));
        assert_eq!(
            out.unwrap(),
            json!({"x": [{"a": {"b": "x"}}, {"a.b": "x"}], "y": [{"a": {"b": "y"}}]})
        );
    }

    #[test]
    fn group_needs_a_key_and_object_items() {
        let (input, _) = input_error(call("collection.group", json!({"items": [{}]})));
        assert_eq!(input, "key");
        let (input, _) = input_error(call(
            "collection.group",
            json!({"items": ["a"], "key": "k"}),
        ));
        assert_eq!(input, "items");
    }

    #[test]
    fn sort_orders_numbers_numerically_and_text_lexically() {
        let out = call("collection.sort", json!({"items": [10, 9, 2.5, -1]}));
        assert_eq!(out.unwrap(), json!([-1, 2.5, 9, 10]));
        let out = call(
            "collection.sort",
            json!({"items": ["b", "B", "a", "10", "9"]}),
        );
        assert_eq!(out.unwrap(), json!(["10", "9", "B", "a", "b"]));
    }

    #[test]
    fn sort_puts_numbers_before_text_and_null_last_in_either_direction() {
        let items = json!([null, "a", 1, true, 2]);
        let asc = call("collection.sort", json!({ "items": items }));
        assert_eq!(asc.unwrap(), json!([1, 2, "a", true, null]));
        let desc = call(
            "collection.sort",
            json!({ "items": items, "direction": "desc" }),
        );
        assert_eq!(desc.unwrap(), json!([true, "a", 2, 1, null]));
    }

    #[test]
    fn sort_by_key_is_stable_in_both_directions() {
        let items = json!([
            {"n": 2, "i": 0}, {"n": 1, "i": 1}, {"n": 2, "i": 2}, {"i": 3}, {"n": 1, "i": 4}
        ]);
        let asc = call("collection.sort", json!({ "items": items, "key": "n" }));
        let order = |v: Value| -> Vec<i64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|i| i["i"].as_i64().unwrap())
                .collect()
        };
        assert_eq!(order(asc.unwrap()), vec![1, 4, 0, 2, 3]);
        let desc = call(
            "collection.sort",
            json!({ "items": items, "key": "n", "direction": "desc" }),
        );
        assert_eq!(order(desc.unwrap()), vec![0, 2, 1, 4, 3]);
    }

    #[test]
    fn sort_compares_large_whole_numbers_exactly() {
        let items = json!([9007199254740993_u64, 9007199254740992_u64]);
        let out = call("collection.sort", json!({ "items": items }));
        assert_eq!(
            out.unwrap(),
            json!([9007199254740992_u64, 9007199254740993_u64])
        );
    }

    #[test]
    fn sort_direction_must_be_asc_or_desc() {
        let (input, message) = input_error(call(
            "collection.sort",
            json!({"items": [], "direction": "up"}),
        ));
        assert_eq!(input, "direction");
        assert!(message.contains("asc or desc"), "{message}");
    }

    #[test]
    fn map_keys_renames_fields_in_place_and_keeps_the_others() {
        let items = json!([{"a": 1, "b": 2, "c": 3}, {"c": 4}]);
        let out = call(
            "collection.mapKeys",
            json!({ "items": items, "mapping": {"a": "x", "c": "z"} }),
        );
        let out = out.unwrap();
        assert_eq!(out, json!([{"x": 1, "b": 2, "z": 3}, {"z": 4}]));
        let names: Vec<&String> = out[0].as_object().unwrap().keys().collect();
        assert_eq!(names, ["x", "b", "z"]);
    }

    #[test]
    fn map_keys_renamed_fields_win_over_fields_of_the_same_name_and_can_swap() {
        let items = json!([{"a": 1, "b": 2}]);
        let out = call(
            "collection.mapKeys",
            json!({ "items": items, "mapping": {"a": "b"} }),
        );
        assert_eq!(out.unwrap(), json!([{"b": 1}]));
        let out = call(
            "collection.mapKeys",
            json!({ "items": items, "mapping": {"a": "b", "b": "a"} }),
        );
        assert_eq!(out.unwrap(), json!([{"b": 1, "a": 2}]));
    }

    #[test]
    fn map_keys_needs_text_names_and_object_items() {
        let (input, message) = input_error(call(
            "collection.mapKeys",
            json!({"items": [{}], "mapping": {"a": 1}}),
        ));
        assert_eq!(input, "mapping");
        assert!(message.contains("`a`"), "{message}");
        let (input, _) = input_error(call(
            "collection.mapKeys",
            json!({"items": [{}], "mapping": []}),
        ));
        assert_eq!(input, "mapping");
        let (input, _) = input_error(call(
            "collection.mapKeys",
            json!({"items": [[]], "mapping": {}}),
        ));
        assert_eq!(input, "items");
    }
}
