//! Reading what the code returned — `{ data, statusCode?, headers?, contentType?,
//! executionState?, instanceState?, crossFlowState?, integrationState? }` — into a
//! [`CodeOutput`], checking each field's shape and naming the one that is wrong.

use rquickjs::{Object, Value};
use serde_json::{Map, Value as Json};

use super::convert::{self, Problem, OCTETS};
use crate::{CodeOutput, StateChanges};

/// A reason the returned value is not a result.
pub(super) enum Refusal {
    /// Reading it failed, or part of it is not JSON.
    Problem(Problem),
    /// A field has the wrong shape.
    Invalid(String),
}

impl From<Problem> for Refusal {
    fn from(problem: Problem) -> Self {
        Refusal::Problem(problem)
    }
}

impl From<rquickjs::Error> for Refusal {
    fn from(error: rquickjs::Error) -> Self {
        Refusal::Problem(Problem::Threw(error))
    }
}

/// The output `value` describes; `undefined` (nothing returned) is `{ data: null }`. Each part
/// may be at most `budget` bytes as JSON.
pub(super) fn read(value: Value<'_>, budget: usize) -> Result<CodeOutput, Refusal> {
    if value.type_of().is_void() {
        return Ok(CodeOutput::default());
    }
    let object = value
        .as_object()
        .filter(|_| !value.is_array() && !value.is_function())
        .ok_or_else(|| {
            Refusal::Invalid(format!(
                "the code must return an object like {{ data }}, not {}",
                kind(&value)
            ))
        })?;
    let content_type = text_field(object, "contentType")?;
    Ok(CodeOutput {
        data: data(object, content_type.as_deref(), budget)?,
        status_code: status_code(object)?,
        headers: headers(object, budget)?,
        content_type,
        state_changes: StateChanges {
            execution: state(object, "executionState", budget)?,
            flow: state(object, "instanceState", budget)?,
            instance: state(object, "crossFlowState", budget)?,
            integration: state(object, "integrationState", budget)?,
        },
    })
}

fn kind(value: &Value<'_>) -> &'static str {
    if value.is_array() {
        "an array"
    } else if value.is_function() {
        "a function"
    } else {
        match value.type_name() {
            "string" => "a string",
            "int" | "float" => "a number",
            "bool" => "a boolean",
            _ => "a value of another kind",
        }
    }
}

/// `data`; bytes become a binary value with the returned `contentType`.
fn data(object: &Object<'_>, content_type: Option<&str>, budget: usize) -> Result<Json, Refusal> {
    let value: Value = object.get("data")?;
    if let Some(bytes) = convert::bytes_of(&value) {
        return Ok(convert::binary(&bytes, content_type.unwrap_or(OCTETS)));
    }
    Ok(convert::to_json(value, "data", budget)?)
}

fn present<'js>(object: &Object<'js>, name: &str) -> Result<Option<Value<'js>>, Refusal> {
    let value: Value = object.get(name)?;
    Ok((!value.type_of().is_void()).then_some(value))
}

fn status_code(object: &Object<'_>) -> Result<Option<u16>, Refusal> {
    let Some(value) = present(object, "statusCode")? else {
        return Ok(None);
    };
    let number = value.as_number().filter(|n| n.fract() == 0.0);
    match number {
        Some(n) if (100.0..=599.0).contains(&n) => Ok(Some(n as u16)),
        _ => Err(Refusal::Invalid(
            "statusCode must be a whole number from 100 to 599".into(),
        )),
    }
}

fn text_field(object: &Object<'_>, name: &str) -> Result<Option<String>, Refusal> {
    let Some(value) = present(object, name)? else {
        return Ok(None);
    };
    if !value.is_string() {
        return Err(Refusal::Invalid(format!("{name} must be a string")));
    }
    Ok(Some(convert::text(&value)?))
}

/// `headers`: an object of header name → text (numbers and booleans written as text).
fn headers(object: &Object<'_>, budget: usize) -> Result<Option<Map<String, Json>>, Refusal> {
    let Some(value) = present(object, "headers")? else {
        return Ok(None);
    };
    let invalid = || Refusal::Invalid("headers must be an object of header name → text".into());
    let Json::Object(map) = plain(value, "headers", budget).ok_or_else(invalid)?? else {
        return Err(invalid());
    };
    let mut texts = Map::new();
    for (name, value) in map {
        let text = match value {
            Json::String(text) => text,
            Json::Number(number) => number.to_string(),
            Json::Bool(flag) => flag.to_string(),
            _ => return Err(invalid()),
        };
        texts.insert(name, Json::String(text));
    }
    Ok(Some(texts))
}

/// A state scope's changes: an object of key → value, `null` meaning delete.
fn state(
    object: &Object<'_>,
    name: &'static str,
    budget: usize,
) -> Result<Map<String, Json>, Refusal> {
    let Some(value) = present(object, name)? else {
        return Ok(Map::new());
    };
    let invalid = || Refusal::Invalid(format!("{name} must be an object of key → value"));
    match plain(value, name, budget).ok_or_else(invalid)?? {
        Json::Object(map) => Ok(map),
        _ => Err(invalid()),
    }
}

/// A plain object as JSON; `None` for arrays, functions and non-objects.
fn plain(value: Value<'_>, root: &'static str, budget: usize) -> Option<Result<Json, Refusal>> {
    if !value.is_object() || value.is_array() || value.is_function() {
        return None;
    }
    Some(convert::to_json(value, root, budget).map_err(Refusal::from))
}
