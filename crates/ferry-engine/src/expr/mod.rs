//! Step inputs with `{{ expressions }}` (`DESIGN.md` 3.3).
//!
//! - A string that is exactly one `{{ expression }}` yields the expression's value, with its
//!   type (a number stays a number, an object an object).
//! - Any other string holding `{{ }}` is a template and yields text; objects and lists inside
//!   it are written as JSON.
//! - Lists and objects are evaluated element by element; other values pass through.
//!
//! Expressions are Jinja expressions (minijinja): `steps.shapeOrder.results.total`,
//! `configVars['Acme Base URL']`, `steps.loop.currentItem.sku | upper`. Reading something that
//! does not exist is an error that says what is missing and what is there, never a silent null.

mod reach;

use std::fmt::Write;

use minijinja::value::ValueKind;
use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::Value;

/// An input that could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot evaluate {source_text}: {message}")]
pub struct ExprError {
    /// The expression or template, as written.
    pub source_text: String,
    /// What went wrong.
    pub message: String,
}

/// Evaluates inputs against a context; cheap to share.
pub struct Evaluator {
    env: Environment<'static>,
}

impl Default for Evaluator {
    fn default() -> Self {
        Self::new()
    }
}

impl Evaluator {
    /// An evaluator with strict undefined handling and JSON output for structured values.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_formatter(|out, _state, value| {
            let text = match value.kind() {
                ValueKind::Map | ValueKind::Seq => serde_json::to_string(value).map_err(|err| {
                    minijinja::Error::new(ErrorKind::BadSerialization, err.to_string())
                })?,
                ValueKind::None => String::new(),
                _ => value.to_string(),
            };
            out.write_str(&text).map_err(minijinja::Error::from)
        });
        Self { env }
    }

    /// Evaluates `input` (any JSON value) against `context` (a JSON object, or any other
    /// [`Variables`]). Each expression gets only the part of the context it reads, converted
    /// for minijinja ([`reach`]).
    pub fn evaluate(&self, input: &Value, context: &dyn Variables) -> Result<Value, ExprError> {
        self.evaluate_in(input, context)
    }

    fn evaluate_in(&self, input: &Value, context: &dyn Variables) -> Result<Value, ExprError> {
        match input {
            Value::String(text) => self.evaluate_text(text, context),
            Value::Array(items) => items
                .iter()
                .map(|item| self.evaluate_in(item, context))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Value::Object(map) => map
                .iter()
                .map(|(key, item)| Ok((key.clone(), self.evaluate_in(item, context)?)))
                .collect::<Result<_, _>>()
                .map(Value::Object),
            other => Ok(other.clone()),
        }
    }

    fn evaluate_text(&self, text: &str, context: &dyn Variables) -> Result<Value, ExprError> {
        if !text.contains("{{") {
            return Ok(Value::String(text.to_string()));
        }
        if let Some(expression) = single_expression(text) {
            return self
                .evaluate_expression(expression, context)
                .map_err(|message| ExprError {
                    source_text: text.trim().to_string(),
                    message,
                });
        }
        let failed = |err: minijinja::Error| ExprError {
            source_text: text.to_string(),
            message: describe(&err, first_failing(text, context, self)),
        };
        let template = self.env.template_from_str(text).map_err(failed)?;
        let reached = reach::reached(context, &template.undeclared_variables(true));
        template.render(reached).map(Value::String).map_err(failed)
    }

    fn evaluate_expression(
        &self,
        expression: &str,
        context: &dyn Variables,
    ) -> Result<Value, String> {
        let compiled = self
            .env
            .compile_expression(expression)
            .map_err(|err| describe(&err, None))?;
        let value = compiled
            .eval(reach::reached(
                context,
                &compiled.undeclared_variables(true),
            ))
            .map_err(|err| describe(&err, missing_path(expression, context)))?;
        if value.is_undefined() {
            return Err(missing_path(expression, context)
                .unwrap_or_else(|| "the value is undefined".into()));
        }
        serde_json::to_value(&value)
            .map_err(|err| format!("the value cannot be written as JSON: {err}"))
    }
}

/// What expressions read, by name: a JSON object's fields, or a run's context with its step
/// results (read in place, not copied into one object for each step).
pub trait Variables {
    /// The variable `name`, if there is one.
    fn variable(&self, name: &str) -> Option<&Value>;

    /// Field `field` of the variable `name`, if both exist. A variable kept in parts (a
    /// run's `steps`, whose trigger result stays text until read) gives a field without
    /// making the whole variable.
    fn field(&self, name: &str, field: &str) -> Option<&Value> {
        self.variable(name)?.as_object()?.get(field)
    }
}

impl Variables for Value {
    fn variable(&self, name: &str) -> Option<&Value> {
        self.as_object()?.get(name)
    }
}

impl Variables for serde_json::Map<String, Value> {
    fn variable(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// `{{ expr }}` and nothing else (around it only white space): the expression.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then(|| inner.trim())
}

/// For a template that failed: what the first of its expressions that fails says is missing.
fn first_failing(text: &str, context: &dyn Variables, evaluator: &Evaluator) -> Option<String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        if let Err(message) = evaluator.evaluate_expression(after[..end].trim(), context) {
            return Some(message);
        }
        rest = &after[end + 2..];
    }
    None
}

fn describe(err: &minijinja::Error, missing: Option<String>) -> String {
    match (err.kind(), missing) {
        (ErrorKind::UndefinedError, Some(missing)) => missing,
        (_, _) => {
            let detail = err.detail().map(|d| format!(": {d}")).unwrap_or_default();
            format!("{}{detail}", err.kind())
        }
    }
}

/// For a plain path (`a.b['c'][0]`), says which part is missing and what its parent holds.
fn missing_path(expression: &str, context: &dyn Variables) -> Option<String> {
    let mut segments = path_segments(expression)?.into_iter();
    let Some(Segment::Key(variable)) = segments.next() else {
        return None;
    };
    let Some(mut current) = context.variable(&variable) else {
        return Some(format!("`{variable}` is not defined"));
    };
    let mut walked = variable;
    for segment in segments {
        let next = match (&segment, current) {
            (Segment::Key(key), Value::Object(map)) => map.get(key),
            (Segment::Index(index), Value::Array(items)) => items.get(*index),
            _ => None,
        };
        let Some(next) = next else {
            let shown = match &segment {
                Segment::Key(key) => key.clone(),
                Segment::Index(index) => index.to_string(),
            };
            return Some(format!(
                "`{walked}` has no {} {shown:?} ({})",
                segment.what(),
                holds(current)
            ));
        };
        segment.append_to(&mut walked);
        current = next;
    }
    None
}

/// What a value holds, for error messages.
fn holds(value: &Value) -> String {
    match value {
        Value::Object(map) if map.is_empty() => "it is an empty object".into(),
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).take(20).collect();
            format!("it has: {}", keys.join(", "))
        }
        Value::Array(items) => format!("it is a list of {}", items.len()),
        Value::Null => "it is null".into(),
        other => format!("it is {other}"),
    }
}

enum Segment {
    Key(String),
    Index(usize),
}

impl Segment {
    fn what(&self) -> &'static str {
        match self {
            Segment::Key(_) => "field",
            Segment::Index(_) => "item",
        }
    }

    fn append_to(&self, path: &mut String) {
        match self {
            Segment::Key(key) if path.is_empty() => path.push_str(key),
            Segment::Key(key) if key.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                let _ = write!(path, ".{key}");
            }
            Segment::Key(key) => {
                let _ = write!(path, "[{key:?}]");
            }
            Segment::Index(index) => {
                let _ = write!(path, "[{index}]");
            }
        }
    }
}

/// Splits `a.b['c d'][0]` into segments; `None` for anything that is not such a plain path.
fn path_segments(expression: &str) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    let mut chars = expression.trim().chars().peekable();
    let mut expect_name = true;
    while let Some(&ch) = chars.peek() {
        match ch {
            '.' if !expect_name => {
                chars.next();
                expect_name = true;
            }
            '[' => {
                chars.next();
                let inner: String = chars.by_ref().take_while(|c| *c != ']').collect();
                let inner = inner.trim();
                let quoted = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                match quoted {
                    Some(key) => segments.push(Segment::Key(key.to_string())),
                    None => segments.push(Segment::Index(inner.parse().ok()?)),
                }
                expect_name = false;
            }
            c if expect_name && (c.is_alphanumeric() || c == '_') => {
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if !(c.is_alphanumeric() || c == '_') {
                        break;
                    }
                    name.push(c);
                    chars.next();
                }
                segments.push(Segment::Key(name));
                expect_name = false;
            }
            _ => return None,
        }
    }
    (!segments.is_empty() && !expect_name).then_some(segments)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn context() -> Value {
        json!({
            "steps": {
                "trigger": { "results": { "body": { "data": { "id": 7, "items": [{ "sku": "A-1" }] } } } },
                "shapeOrder": { "results": { "id": 7, "total": 1250.5, "tags": ["x", "y"] } }
            },
            "configVars": { "Acme Base URL": "https://erp.example.test" },
            "customer": { "name": "Mars Missions", "externalId": null }
        })
    }

    fn eval(input: Value) -> Result<Value, ExprError> {
        Evaluator::new().evaluate(&input, &context())
    }

    #[test]
    fn a_lone_expression_keeps_its_type() {
        assert_eq!(
            eval(json!("{{ steps.shapeOrder.results.total }}")).unwrap(),
            json!(1250.5)
        );
        assert_eq!(
            eval(json!("  {{ steps.shapeOrder.results }} ")).unwrap(),
            json!({ "id": 7, "total": 1250.5, "tags": ["x", "y"] })
        );
        assert_eq!(
            eval(json!("{{ steps.trigger.results.body.data.items[0].sku }}")).unwrap(),
            json!("A-1")
        );
        assert_eq!(
            eval(json!("{{ steps.shapeOrder.results.total > 1000 }}")).unwrap(),
            json!(true)
        );
        assert_eq!(
            eval(json!("{{ customer.externalId }}")).unwrap(),
            Value::Null
        );
    }

    #[test]
    fn templates_render_text_with_json_for_structures() {
        assert_eq!(
            eval(json!("{{ configVars['Acme Base URL'] }}/orders")).unwrap(),
            json!("https://erp.example.test/orders")
        );
        assert_eq!(
            eval(json!(
                "order {{ steps.shapeOrder.results.id }} tags {{ steps.shapeOrder.results.tags }}"
            ))
            .unwrap(),
            json!("order 7 tags [\"x\",\"y\"]")
        );
        assert_eq!(
            eval(json!("for {{ customer.name | upper }}")).unwrap(),
            json!("for MARS MISSIONS")
        );
        assert_eq!(
            eval(json!("no expressions here")).unwrap(),
            json!("no expressions here")
        );
    }

    #[test]
    fn structures_are_evaluated_element_by_element() {
        let input = json!({ "id": "{{ steps.shapeOrder.results.id }}", "list": ["{{ customer.name }}", 3], "flag": true });
        assert_eq!(
            eval(input).unwrap(),
            json!({ "id": 7, "list": ["Mars Missions", 3], "flag": true })
        );
    }

    #[test]
    fn missing_values_are_errors_that_say_what_is_there() {
        let err = eval(json!("{{ steps.shapeOrder.results.totl }}")).unwrap_err();
        assert_eq!(err.source_text, "{{ steps.shapeOrder.results.totl }}");
        assert_eq!(
            err.message,
            "`steps.shapeOrder.results` has no field \"totl\" (it has: id, total, tags)"
        );
        let err = eval(json!("{{ steps.nope.results }}")).unwrap_err();
        assert!(
            err.message
                .contains("`steps` has no field \"nope\" (it has: trigger, shapeOrder)"),
            "{err}"
        );
        let err = eval(json!("url {{ configVars['Base'] }}/x")).unwrap_err();
        assert!(
            err.message.contains("`configVars` has no field \"Base\""),
            "{err}"
        );
        let err = eval(json!("{{ steps.trigger.results.body.data.items[3] }}")).unwrap_err();
        assert!(
            err.message
                .contains("has no item \"3\" (it is a list of 1)"),
            "{err}"
        );
        let err = eval(json!("{{ nothing }}")).unwrap_err();
        assert_eq!(err.message, "`nothing` is not defined");
    }

    #[test]
    fn bad_syntax_is_an_error() {
        let err = eval(json!("{{ steps..x }}")).unwrap_err();
        assert!(err.message.contains("syntax error"), "{err}");
        let err = eval(json!("a {{ 1 + }} b")).unwrap_err();
        assert!(err.message.contains("syntax error"), "{err}");
    }

    /// Each expression is given only the part of the context it reads: it must see what it
    /// would see in the whole context.
    #[test]
    fn expressions_see_what_the_whole_context_shows() {
        let evaluator = Evaluator::new();
        let context = context();
        let whole = minijinja::Value::from_serialize(&context);
        let expressions = [
            "steps.shapeOrder.results.total",
            "steps.shapeOrder.results.items()",
            "steps.shapeOrder.results.keys() | list",
            "steps.shapeOrder.results.get('id')",
            "steps.shapeOrder | length",
            "steps.shapeOrder.results.tags | join('-')",
            "steps.shapeOrder.results.nothing is defined",
            "steps.trigger.results.body.data.items[0].sku",
            "steps.trigger.results.body.data.items | length",
            "configVars['Acme Base URL'] ~ customer.name",
            "customer.name.upper()",
            "customer.name | upper",
            "customer.externalId is none",
            "range(2) | list",
        ];
        for expression in expressions {
            let compiled = evaluator.env.compile_expression(expression).unwrap();
            let expected = compiled
                .eval(whole.clone())
                .map(|v| serde_json::to_value(v).unwrap());
            let got = evaluator.evaluate(&json!(format!("{{{{ {expression} }}}}")), &context);
            match (got, expected) {
                (Ok(got), Ok(expected)) => assert_eq!(got, expected, "{expression}"),
                (Err(_), Err(_)) => {}
                (got, expected) => panic!("{expression}: {got:?} against {expected:?}"),
            }
        }
        let template = "{% for tag in steps.shapeOrder.results.tags %}{{ loop.index }}:{{ tag }} {% endfor %}{{ customer }}";
        let expected = evaluator.env.render_str(template, whole).unwrap();
        assert_eq!(eval(json!(template)).unwrap(), json!(expected));
    }
}
