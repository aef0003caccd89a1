//! The `text.*` actions. Positions count characters (Unicode scalar values), not bytes.

use serde_json::Value;

use super::{ActionError, Inputs};

/// Runs `action`, or `None` when it is not a `text.*` action.
pub(super) fn run(action: &str, inputs: &Inputs) -> Option<Result<Value, ActionError>> {
    let result = match action {
        "text.replace" => replace(inputs),
        "text.split" => split(inputs),
        "text.join" => join(inputs),
        "text.trim" => inputs.text("text").map(|t| t.trim().into()),
        "text.lowerCase" => inputs.text("text").map(|t| t.to_lowercase().into()),
        "text.upperCase" => inputs.text("text").map(|t| t.to_uppercase().into()),
        "text.substring" => substring(inputs),
        _ => return None,
    };
    Some(result)
}

fn replace(inputs: &Inputs) -> Result<Value, ActionError> {
    let text = inputs.text("text")?;
    let find = inputs.text("find")?;
    let replacement = inputs.text("replacement")?;
    if find.is_empty() {
        return Err(ActionError::input("find", "must not be empty"));
    }
    Ok(text.replace(&find, &replacement).into())
}

/// Splits at every `separator`; an empty separator splits into characters.
fn split(inputs: &Inputs) -> Result<Value, ActionError> {
    let text = inputs.text("text")?;
    let separator = inputs.text("separator")?;
    let parts: Vec<Value> = if separator.is_empty() {
        text.chars().map(|c| c.to_string().into()).collect()
    } else {
        text.split(&separator).map(Value::from).collect()
    };
    Ok(Value::Array(parts))
}

fn join(inputs: &Inputs) -> Result<Value, ActionError> {
    let items = inputs.list("items")?;
    let separator = inputs.opt_text("separator")?.unwrap_or_default();
    let parts: Vec<String> = items.iter().map(item_text).collect();
    Ok(parts.join(&separator).into())
}

/// An item as text: text as it is, null as nothing, lists and objects as JSON.
fn item_text(item: &Value) -> String {
    match item {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The characters from `start` up to `end`; positions past the end are clamped, so a start
/// past the end (or an end before the start) gives empty text.
fn substring(inputs: &Inputs) -> Result<Value, ActionError> {
    let text = inputs.text("text")?;
    let start = position("start", inputs.number("start")?)?;
    let end = match inputs.opt_number("end")? {
        Some(end) => position("end", end)?,
        None => usize::MAX,
    };
    let taken = end.saturating_sub(start);
    Ok(text
        .chars()
        .skip(start)
        .take(taken)
        .collect::<String>()
        .into())
}

/// Position input `key`, which must be a whole number of at least 0.
fn position(key: &str, value: f64) -> Result<usize, ActionError> {
    if value.fract() != 0.0 || value < 0.0 {
        return Err(ActionError::input(
            key,
            format!("must be a whole number of at least 0, got {value}"),
        ));
    }
    // Saturates for positions beyond usize, which clamp to the end anyway.
    Ok(value as usize)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(action: &str, inputs: Value) -> Result<Value, ActionError> {
        run(action, &Inputs::from(inputs.as_object().unwrap().clone())).unwrap()
    }

    fn failing_input(result: Result<Value, ActionError>) -> String {
        match result {
            Err(ActionError::Input { input, .. }) => input,
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_actions_are_not_text_actions() {
        assert!(run("text.reverse", &Inputs::default()).is_none());
        assert!(run("collection.sort", &Inputs::default()).is_none());
    }

    #[test]
    fn replace_replaces_every_occurrence() {
        let out = call(
            "text.replace",
            json!({"text": "a-b-c", "find": "-", "replacement": "+"}),
        );
        assert_eq!(out.unwrap(), json!("a+b+c"));
        let out = call(
            "text.replace",
            json!({"text": "a-b", "find": "-", "replacement": ""}),
        );
        assert_eq!(out.unwrap(), json!("ab"));
    }

    #[test]
    fn replace_needs_something_to_find() {
        let out = call(
            "text.replace",
            json!({"text": "ab", "find": "", "replacement": "x"}),
        );
        assert_eq!(failing_input(out), "find");
        let out = call("text.replace", json!({"text": "ab", "find": "a"}));
        assert_eq!(failing_input(out), "replacement");
        let out = call(
            "text.replace",
            json!({"text": [1], "find": "a", "replacement": ""}),
        );
        assert_eq!(failing_input(out), "text");
    }

    #[test]
    fn split_cuts_at_each_separator_keeping_empty_parts() {
        let out = call("text.split", json!({"text": "a,,b", "separator": ","}));
        assert_eq!(out.unwrap(), json!(["a", "", "b"]));
        let out = call("text.split", json!({"text": "", "separator": ","}));
        assert_eq!(out.unwrap(), json!([""]));
    }

    #[test]
    fn split_on_empty_separator_gives_characters() {
        let out = call("text.split", json!({"text": "añ😀", "separator": ""}));
        assert_eq!(out.unwrap(), json!(["a", "ñ", "😀"]));
    }

    #[test]
    fn split_needs_a_separator() {
        assert_eq!(
            failing_input(call("text.split", json!({"text": "a"}))),
            "separator"
        );
    }

    #[test]
    fn join_writes_items_as_text_between_separators() {
        let items = json!(["a", 1, true, null, {"k": "v"}, [1, 2]]);
        let out = call("text.join", json!({"items": items, "separator": "|"}));
        assert_eq!(out.unwrap(), json!(r#"a|1|true||{"k":"v"}|[1,2]"#));
        let out = call("text.join", json!({"items": ["a", "b"]}));
        assert_eq!(out.unwrap(), json!("ab"));
        let out = call("text.join", json!({"items": []}));
        assert_eq!(out.unwrap(), json!(""));
    }

    #[test]
    fn join_needs_a_list() {
        assert_eq!(
            failing_input(call("text.join", json!({"items": "a,b"}))),
            "items"
        );
        let out = call("text.join", json!({"items": [], "separator": {}}));
        assert_eq!(failing_input(out), "separator");
    }

    #[test]
    fn trim_and_case_changes() {
        let trimmed = call("text.trim", json!({"text": " \t a b \n"}));
        assert_eq!(trimmed.unwrap(), json!("a b"));
        let lower = call("text.lowerCase", json!({"text": "ÄbC"}));
        assert_eq!(lower.unwrap(), json!("äbc"));
        let upper = call("text.upperCase", json!({"text": "straße"}));
        assert_eq!(upper.unwrap(), json!("STRASSE"));
        let number = call("text.upperCase", json!({"text": 12}));
        assert_eq!(number.unwrap(), json!("12"));
    }

    #[test]
    fn trim_and_case_changes_need_text() {
        for action in ["text.trim", "text.lowerCase", "text.upperCase"] {
            assert_eq!(failing_input(call(action, json!({}))), "text");
            assert_eq!(failing_input(call(action, json!({"text": {}}))), "text");
        }
    }

    #[test]
    fn substring_counts_characters_not_bytes() {
        let out = call(
            "text.substring",
            json!({"text": "héllo😀!", "start": 1, "end": 6}),
        );
        assert_eq!(out.unwrap(), json!("éllo😀"));
        let out = call("text.substring", json!({"text": "héllo", "start": 2}));
        assert_eq!(out.unwrap(), json!("llo"));
    }

    #[test]
    fn substring_clamps_positions_past_the_end() {
        let text = "abc";
        let out = call(
            "text.substring",
            json!({"text": text, "start": 1, "end": 99}),
        );
        assert_eq!(out.unwrap(), json!("bc"));
        let out = call("text.substring", json!({"text": text, "start": 5}));
        assert_eq!(out.unwrap(), json!(""));
        let out = call(
            "text.substring",
            json!({"text": text, "start": 2, "end": 1}),
        );
        assert_eq!(out.unwrap(), json!(""));
        let out = call(
            "text.substring",
            json!({"text": text, "start": 0, "end": 1e300}),
        );
        assert_eq!(out.unwrap(), json!("abc"));
    }

    #[test]
    fn substring_positions_are_whole_numbers_from_zero() {
        let out = call("text.substring", json!({"text": "abc", "start": -1}));
        assert_eq!(failing_input(out), "start");
        let out = call(
            "text.substring",
            json!({"text": "abc", "start": 0, "end": 1.5}),
        );
        assert_eq!(failing_input(out), "end");
        let out = call("text.substring", json!({"text": "abc"}));
        assert_eq!(failing_input(out), "start");
    }
}
