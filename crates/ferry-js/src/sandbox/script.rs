//! Scripts as bytecode: compiled once, run in many contexts. The prelude's core is a script
//! rather than a module because a fresh context runs it before every step, and a module costs
//! more to read and to run (a module record to link, an asynchronous evaluation to settle).
//! Written over QuickJS's own calls because rquickjs compiles to bytecode only modules.

use std::ffi::CString;

use rquickjs::{qjs, Ctx, Value};

/// Compiles `source` as a strict script named `name`, to bytecode without source text or
/// debug information (frames in it are left out of stacks).
#[allow(unsafe_code)]
pub(super) fn compile(ctx: &Ctx<'_>, name: &str, source: &str) -> rquickjs::Result<Vec<u8>> {
    let name = CString::new(name)?;
    let source = CString::new(source)?;
    let raw = ctx.as_raw().as_ptr();
    let flags = (qjs::JS_EVAL_TYPE_GLOBAL
        | qjs::JS_EVAL_FLAG_STRICT
        | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32;
    let write = (qjs::JS_WRITE_OBJ_BYTECODE
        | qjs::JS_WRITE_OBJ_STRIP_SOURCE
        | qjs::JS_WRITE_OBJ_STRIP_DEBUG) as i32;
    // SAFETY: `raw` is the live context `ctx` borrows, used on its own thread. `JS_Eval` reads
    // the NUL-terminated source (its length excludes the NUL, as QuickJS requires) and gives a
    // new value, freed here once written; the written buffer is QuickJS's, copied and freed.
    unsafe {
        let bytes = source.as_bytes();
        let compiled = qjs::JS_Eval(raw, source.as_ptr(), bytes.len() as _, name.as_ptr(), flags);
        if qjs::JS_IsException(compiled) {
            return Err(rquickjs::Error::Exception);
        }
        let mut len = 0;
        let buffer = qjs::JS_WriteObject(raw, &mut len, compiled, write);
        qjs::JS_FreeValue(raw, compiled);
        if buffer.is_null() {
            return Err(rquickjs::Error::Exception);
        }
        let bytecode = std::slice::from_raw_parts(buffer, len as usize).to_vec();
        qjs::js_free(raw, buffer.cast());
        Ok(bytecode)
    }
}

/// Runs script bytecode this process compiled ([`compile`]): the script's completion value.
#[allow(unsafe_code)]
pub(super) fn run<'js>(ctx: &Ctx<'js>, bytecode: &[u8]) -> rquickjs::Result<Value<'js>> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: the bytes come from `compile` in this process, so they are valid bytecode for
    // this QuickJS (`JS_ReadObject` copies what it keeps). `JS_EvalFunction` takes the function
    // it runs; its result is a new value, owned by the `Value` made of it.
    unsafe {
        let function = qjs::JS_ReadObject(
            raw,
            bytecode.as_ptr(),
            bytecode.len() as _,
            qjs::JS_READ_OBJ_BYTECODE as i32,
        );
        if qjs::JS_IsException(function) {
            return Err(rquickjs::Error::Exception);
        }
        let result = qjs::JS_EvalFunction(raw, function);
        if qjs::JS_IsException(result) {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), result))
    }
}

#[cfg(test)]
mod tests {
    use rquickjs::{Context, Runtime};

    use super::*;

    #[test]
    fn a_compiled_script_runs_strict_in_other_contexts_to_its_value() {
        let runtime = Runtime::new().unwrap();
        let first = Context::full(&runtime).unwrap();
        let source = "(() => { let sloppy = true; try { undeclared = 1; } catch { sloppy = false; } return { sloppy, answer: 42 }; })()";
        let bytecode = first.with(|ctx| compile(&ctx, "test", source)).unwrap();
        let second = Context::full(&runtime).unwrap();
        second.with(|ctx| {
            let value = run(&ctx, &bytecode).unwrap();
            let object = value.as_object().unwrap();
            assert_eq!(object.get::<_, i32>("answer").unwrap(), 42);
            assert!(!object.get::<_, bool>("sloppy").unwrap());
        });
    }

    #[test]
    fn a_script_that_throws_leaves_its_exception_to_catch() {
        let runtime = Runtime::new().unwrap();
        let context = Context::full(&runtime).unwrap();
        context.with(|ctx| {
            let bytecode = compile(&ctx, "test", "throw new TypeError('no')").unwrap();
            assert!(matches!(
                run(&ctx, &bytecode),
                Err(rquickjs::Error::Exception)
            ));
            let thrown = ctx.catch();
            let message: String = thrown.as_object().unwrap().get("message").unwrap();
            assert_eq!(message, "no");
            assert!(matches!(
                compile(&ctx, "test", "let = ;"),
                Err(rquickjs::Error::Exception)
            ));
            let _ = ctx.catch();
        });
    }
}
