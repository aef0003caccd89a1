//! Branch conditions (`branch.onExpression`): the reference's comparison operators, combined
//! with `and` / `or` groups, over values whose expressions are already evaluated.
//!
//! A condition is `{ left, operator, right }` (unary operators take `left` only), or
//! `{ and: [conditions] }`, or `{ or: [conditions] }`, nested at will. Comparisons follow the
//! reference's tables: `equals` compares across types (`"5.2"` equals `5.2`, `false` equals
//! `0`), `exactlyMatches` does not; ordering compares text alphabetically and anything else as
//! numbers; dates are ISO-8601 text or epoch milliseconds.

use chrono::{DateTime, NaiveDate, Utc};
use ferry_definition::BRANCH_OPERATORS as OPERATORS;
use serde_json::Value;

/// A condition that cannot be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConditionError(pub String);

/// Evaluates a condition or a group of them.
pub fn evaluate(condition: &Value) -> Result<bool, ConditionError> {
    let Value::Object(map) = condition else {
        return Err(ConditionError(format!("a condition is an object with left, operator and right, or with and / or; got {condition}")));
    };
    if let Some(group) = map.get("and") {
        return group_of(group, "and")?
            .iter()
            .try_fold(true, |all, c| Ok(all && evaluate(c)?));
    }
    if let Some(group) = map.get("or") {
        return group_of(group, "or")?
            .iter()
            .try_fold(false, |any, c| Ok(any || evaluate(c)?));
    }
    let operator = map
        .get("operator")
        .and_then(Value::as_str)
        .ok_or_else(|| ConditionError("a condition needs an operator".into()))?;
    let left = map.get("left").unwrap_or(&Value::Null);
    let right = map.get("right").unwrap_or(&Value::Null);
    compare(operator, left, right)
}

fn group_of<'a>(group: &'a Value, name: &str) -> Result<&'a Vec<Value>, ConditionError> {
    group
        .as_array()
        .filter(|items| !items.is_empty())
        .ok_or_else(|| ConditionError(format!("`{name}` takes a non-empty list of conditions")))
}

/// Applies one operator.
pub fn compare(operator: &str, left: &Value, right: &Value) -> Result<bool, ConditionError> {
    use std::cmp::Ordering::*;
    Ok(match operator {
        "equals" => loose_equals(left, right),
        "doesNotEqual" => !loose_equals(left, right),
        "exactlyMatches" => left == right,
        "doesNotExactlyMatch" => left != right,
        "isGreaterThan" => order(left, right) == Some(Greater),
        "isGreaterThanOrEqualTo" => matches!(order(left, right), Some(Greater | Equal)),
        "isLessThan" => order(left, right) == Some(Less),
        "isLessThanOrEqualTo" => matches!(order(left, right), Some(Less | Equal)),
        "in" => contained_in(left, right),
        "notIn" => !contained_in(left, right),
        "contains" => contained_in(right, left),
        "doesNotContain" => !contained_in(right, left),
        "isEmpty" => is_empty(left),
        "isNotEmpty" => !is_empty(left),
        "startsWith" => text_pair(left, right).is_some_and(|(l, r)| l.starts_with(&r)),
        "doesNotStartWith" => !text_pair(left, right).is_some_and(|(l, r)| l.starts_with(&r)),
        "endsWith" => text_pair(left, right).is_some_and(|(l, r)| l.ends_with(&r)),
        "doesNotEndWith" => !text_pair(left, right).is_some_and(|(l, r)| l.ends_with(&r)),
        "isAfter" => date(left)? > date(right)?,
        "isBefore" => date(left)? < date(right)?,
        "isSame" => date(left)? == date(right)?,
        "isTrue" => truthy(left),
        "isFalse" => !truthy(left),
        "exists" => exists(left),
        "doesNotExist" => !exists(left),
        other => {
            return Err(ConditionError(format!(
                "unknown operator {other:?}; operators are: {}",
                OPERATORS.join(", ")
            )))
        }
    })
}

/// A primitive as a number, as JavaScript's `==` and `>` would read it.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) if s.trim().is_empty() => Some(0.0),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn loose_equals(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::String(_), Value::String(_))
        | (Value::Array(_), Value::Array(_))
        | (Value::Object(_), Value::Object(_)) => left == right,
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        _ => match (number(left), number(right)) {
            (Some(l), Some(r)) => l == r,
            _ => false,
        },
    }
}

fn order(left: &Value, right: &Value) -> Option<std::cmp::Ordering> {
    match (left, right) {
        (Value::String(l), Value::String(r)) => Some(l.cmp(r)),
        _ => number(left)?.partial_cmp(&number(right)?),
    }
}

fn contained_in(needle: &Value, haystack: &Value) -> bool {
    match haystack {
        Value::Array(items) => items.contains(needle),
        Value::String(text) => match needle {
            Value::String(n) => text.contains(n.as_str()),
            Value::Number(n) => text.contains(&n.to_string()),
            _ => false,
        },
        _ => false,
    }
}

fn is_empty(value: &Value) -> bool {
    matches!(value, Value::String(s) if s.is_empty())
        || matches!(value, Value::Array(a) if a.is_empty())
}

fn text_pair(left: &Value, right: &Value) -> Option<(String, String)> {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    Some((text(left)?, text(right)?))
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !matches!(
            s.as_str(),
            "" | "false" | "False" | "FALSE" | "no" | "No" | "NO" | "n" | "N"
        ),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn exists(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// A date from ISO-8601 text (a date, or a date and time) or epoch milliseconds.
fn date(value: &Value) -> Result<DateTime<Utc>, ConditionError> {
    let parsed = match value {
        Value::Number(n) => n.as_i64().and_then(DateTime::from_timestamp_millis),
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|d| d.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc())
            }),
        _ => None,
    };
    parsed.ok_or_else(|| {
        ConditionError(format!(
            "cannot read {value} as a date: use ISO-8601 text or epoch milliseconds"
        ))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(operator: &str, left: Value, right: Value) -> bool {
        compare(operator, &left, &right).unwrap()
    }

    #[test]
    fn equality_follows_the_reference_table() {
        assert!(check("equals", json!(5.2), json!(5.2)));
        assert!(!check("equals", json!(5.2), json!(5)));
        assert!(check("equals", json!("5.2"), json!(5.2)));
        assert!(!check("equals", json!("Hello"), json!("hello")));
        assert!(check("equals", json!(false), json!(0)));
        assert!(check("equals", json!([1, 2, 3]), json!([1, 2, 3])));
        assert!(check(
            "equals",
            json!({ "foo": "bar" }),
            json!({ "foo": "bar" })
        ));
        assert!(check("doesNotEqual", json!([1, 2, 3]), json!([1, 2, 4])));
        assert!(!check("exactlyMatches", json!("5"), json!(5)));
        assert!(check("doesNotExactlyMatch", json!("5"), json!(5)));
    }

    #[test]
    fn ordering_follows_the_reference_table() {
        assert!(!check("isGreaterThan", json!(5.2), json!(5.3)));
        assert!(!check("isGreaterThan", json!(5.3), json!(5.3)));
        assert!(check("isGreaterThan", json!("5.3"), json!(5.2)));
        assert!(!check("isGreaterThan", json!("Hello"), json!("World")));
        assert!(check("isGreaterThan", json!("hello"), json!("World")));
        assert!(check("isGreaterThan", json!(true), json!(false)));
        assert!(check("isGreaterThanOrEqualTo", json!(5.3), json!("5.3")));
        assert!(check("isLessThan", json!(3), json!(4)));
        assert!(check("isLessThan", json!("abc"), json!("daa")));
        assert!(!check("isLessThan", json!(null), json!(4)));
    }

    #[test]
    fn containment_emptiness_and_text() {
        assert!(check("in", json!("world"), json!("Hello, world!")));
        assert!(!check("in", json!("World"), json!("Hello, world!")));
        assert!(check("in", json!(2), json!([1, 2, 3])));
        assert!(!check("in", json!("2"), json!([1, 2, 3])));
        assert!(check("notIn", json!("Hi"), json!("Hello")));
        assert!(check("contains", json!([1, 2, 3]), json!(2)));
        assert!(
            check("isEmpty", json!(""), Value::Null) && check("isEmpty", json!([]), Value::Null)
        );
        assert!(!check("isEmpty", json!([1]), Value::Null));
        assert!(check("startsWith", json!("Testing Value"), json!("Test")));
        assert!(!check("startsWith", json!("Testing Value"), json!("test")));
        assert!(check("endsWith", json!("Hello, World!"), json!("orld!")));
        assert!(check(
            "doesNotEndWith",
            json!("Hello, World!"),
            json!("orld")
        ));
    }

    #[test]
    fn dates_truth_and_existence() {
        assert!(!check("isAfter", json!("2021-03-20"), json!("2021-04-13")));
        assert!(check(
            "isAfter",
            json!("2021-03-20T12:50:30.105Z"),
            json!("2021-03-20T11:52:21.881Z")
        ));
        assert!(check(
            "isSame",
            json!("2021-03-20T12:50:30Z"),
            json!(1616244630000_i64)
        ));
        assert!(check(
            "isBefore",
            json!("2021-03-20"),
            json!(1631568050000_i64)
        ));
        let err = compare("isAfter", &json!("soon"), &json!("2021-01-01")).unwrap_err();
        assert!(err.0.contains("cannot read \"soon\" as a date"), "{err}");
        for truthy in [
            json!("Yes"),
            json!("True"),
            json!([]),
            json!({}),
            json!("Hello"),
            json!(-5),
        ] {
            assert!(check("isTrue", truthy.clone(), Value::Null), "{truthy}");
        }
        for falsy in [json!("n"), json!(false), json!(""), Value::Null, json!(0)] {
            assert!(check("isFalse", falsy.clone(), Value::Null), "{falsy}");
        }
        assert!(
            check("doesNotExist", Value::Null, Value::Null)
                && check("doesNotExist", json!(0), Value::Null)
        );
        assert!(
            check("exists", json!(1), Value::Null) && check("exists", json!("Hello"), Value::Null)
        );
    }

    #[test]
    fn groups_combine_with_and_and_or() {
        // (foo > 500 and bar <= 20) or ("b" in ["a","b","c"])
        let condition = |foo: i64, bar: i64, letter: &str| {
            json!({ "or": [
                { "and": [
                    { "left": foo, "operator": "isGreaterThan", "right": 500 },
                    { "left": bar, "operator": "isLessThanOrEqualTo", "right": 20 }
                ] },
                { "left": letter, "operator": "in", "right": ["a", "b", "c"] }
            ] })
        };
        assert!(evaluate(&condition(600, 10, "z")).unwrap());
        assert!(!evaluate(&condition(600, 30, "z")).unwrap());
        assert!(evaluate(&condition(0, 30, "b")).unwrap());
        assert!(evaluate(&json!({ "and": [] })).is_err());
        let err = evaluate(&json!({ "left": 1, "operator": "isBig" })).unwrap_err();
        assert!(err.0.contains("unknown operator \"isBig\""), "{err}");
    }
}
