//! Turning what JavaScript threw into a [`JsError`]: the limits first (QuickJS reports them as
//! ordinary exceptions: `interrupted`, `out of memory`, `Maximum call stack size exceeded`),
//! then syntax errors with their line and column, thrown `Error`s with their stack (frames of
//! the built-in prelude left out), and thrown non-`Error` values described.

use std::rc::Rc;

use rquickjs::{Ctx, Object, Value};

use super::budget::Budget;
use super::convert;
use crate::JsError;

/// The file name code steps compile under, as their stack frames show it.
pub(super) const CODE_FILE: &str = "code.js";

/// How the built-in prelude's module names start; stacks leave their frames out.
pub(super) const PRELUDE_PREFIX: &str = "ferry:";

/// What a failure is judged against.
pub(super) struct Limits {
    /// The step's time limit, in seconds.
    pub(super) seconds: u64,
    /// The memory limit, in MiB.
    pub(super) mebibytes: usize,
    /// What the runtime may allocate, and whether an allocation was refused.
    pub(super) budget: Rc<Budget>,
}

/// The error `error` stands for; a pending exception is taken from `ctx`.
pub(super) fn classify<'js>(ctx: &Ctx<'js>, error: rquickjs::Error, limits: &Limits) -> JsError {
    match error {
        rquickjs::Error::Exception => thrown(ctx, ctx.catch(), limits),
        rquickjs::Error::Allocation => JsError::MemoryLimit {
            mebibytes: limits.mebibytes,
        },
        other => JsError::Runtime(other.to_string()),
    }
}

/// The error a thrown (or rejected-with) `value` stands for.
pub(super) fn thrown<'js>(ctx: &Ctx<'js>, value: Value<'js>, limits: &Limits) -> JsError {
    // What QuickJS throws when it cannot even make its `out of memory` error (the budget's
    // reserve is there to prevent it).
    if value.is_null() && limits.budget.refused() {
        return JsError::MemoryLimit {
            mebibytes: limits.mebibytes,
        };
    }
    let Some(object) = value.as_object().filter(|o| is_error(ctx, o)) else {
        return non_error(ctx, &value);
    };
    let name = field(object, "name").unwrap_or_else(|| "Error".into());
    let message = field(object, "message").unwrap_or_default();
    match (name.as_str(), message.as_str()) {
        ("InternalError", "out of memory") => JsError::MemoryLimit {
            mebibytes: limits.mebibytes,
        },
        ("InternalError", "interrupted") => JsError::TimeLimit {
            seconds: limits.seconds,
        },
        ("RangeError", "Maximum call stack size exceeded") => JsError::StackOverflow,
        _ => JsError::Thrown {
            message: format!("{name}: {message}"),
            stack: field(object, "stack").and_then(|stack| own_frames(&stack)),
        },
    }
}

/// The error for code that did not compile: a syntax error with its place, or what else
/// stopped it (the memory limit).
pub(super) fn compile<'js>(
    ctx: &Ctx<'js>,
    error: rquickjs::Error,
    limits: &Limits,
    file: &str,
) -> JsError {
    if !matches!(error, rquickjs::Error::Exception) {
        return classify(ctx, error, limits);
    }
    let value = ctx.catch();
    let syntax = value
        .as_object()
        .filter(|o| field(o, "name").as_deref() == Some("SyntaxError"));
    let Some(object) = syntax else {
        return thrown(ctx, value, limits);
    };
    let stack = field(object, "stack").unwrap_or_default();
    let (line, column) = place(&stack, file).unwrap_or((0, 0));
    JsError::Syntax {
        line,
        column,
        message: field(object, "message").unwrap_or_default(),
    }
}

/// Whether `object` is an `Error` (a `DOMException` included).
fn is_error<'js>(ctx: &Ctx<'js>, object: &Object<'js>) -> bool {
    if object.as_value().is_error() {
        return true;
    }
    let error: Option<Value> = ctx.globals().get("Error").ok();
    error.is_some_and(|class| object.is_instance_of(class))
}

fn field(object: &Object<'_>, name: &str) -> Option<String> {
    let value: Value = object.get(name).ok()?;
    if value.is_string() {
        convert::text(&value).ok()
    } else {
        None
    }
}

/// `line:column` from the first frame in `file`: `    at code.js:2:10`.
fn place(stack: &str, file: &str) -> Option<(u32, u32)> {
    let at = stack.find(&format!("{file}:"))? + file.len() + 1;
    let mut numbers = stack[at..].split(|c: char| !c.is_ascii_digit());
    let line = numbers.next()?.parse().ok()?;
    let column = numbers.next()?.parse().ok()?;
    Some((line, column))
}

/// The stack without the prelude's frames; `None` when nothing is left.
fn own_frames(stack: &str) -> Option<String> {
    let frames: Vec<&str> = stack
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.contains(PRELUDE_PREFIX))
        // Prelude functions are compiled without debug information: their frames say `<null>`.
        .filter(|line| !line.contains("<null>"))
        .collect();
    (!frames.is_empty()).then(|| frames.join("\n"))
}

fn non_error<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> JsError {
    let shown = if value.is_undefined() {
        "undefined".to_string()
    } else {
        describe(ctx, value)
    };
    JsError::Thrown {
        message: format!("the code threw a non-Error value: {shown}"),
        stack: None,
    }
}

/// A short description of a thrown value: its JSON, or its text.
fn describe<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> String {
    let json = ctx
        .json_stringify(value.clone())
        .ok()
        .flatten()
        .and_then(|s| s.to_string().ok());
    let text = json.unwrap_or_else(|| {
        value
            .as_string()
            .and_then(|s| s.to_string().ok())
            .unwrap_or_else(|| value.type_name().to_string())
    });
    match text.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use rquickjs::allocator::Allocator;

    use super::super::budget::Metered;
    use super::*;

    #[test]
    fn a_syntax_error_s_place_is_read_from_its_first_frame_in_the_code() {
        assert_eq!(place("    at code.js:2:10\n", CODE_FILE), Some((2, 10)));
        assert_eq!(place("    at f (code.js:14:3)\n", CODE_FILE), Some((14, 3)));
        assert_eq!(place("    at other.js:1:1\n", CODE_FILE), None);
    }

    #[test]
    fn stacks_leave_out_the_prelude_s_frames() {
        let stack = "    at f (code.js:1:20)\n    at run (ferry:prelude:5:3)\n";
        assert_eq!(
            own_frames(stack).as_deref(),
            Some("    at f (code.js:1:20)")
        );
        assert_eq!(own_frames("    at run (ferry:prelude:5:3)\n"), None);
    }

    #[test]
    fn a_thrown_null_is_the_memory_limit_only_after_an_allocation_was_refused() {
        let runtime = rquickjs::Runtime::new().unwrap();
        let context = rquickjs::Context::full(&runtime).unwrap();
        let limits = Limits {
            seconds: 1,
            mebibytes: 1,
            budget: Rc::new(Budget::default()),
        };
        context.with(|ctx| {
            let null = || Value::new_null(ctx.clone());
            let thrown_by_the_step = thrown(&ctx, null(), &limits).to_string();
            assert_eq!(thrown_by_the_step, "the code threw a non-Error value: null");
            limits.budget.set_limit(1);
            let mut allocator = Metered(limits.budget.clone());
            assert!(allocator.alloc(2).is_null(), "refused past the limit");
            let out_of_memory = thrown(&ctx, null(), &limits);
            assert_eq!(out_of_memory, JsError::MemoryLimit { mebibytes: 1 });
        });
    }
}
