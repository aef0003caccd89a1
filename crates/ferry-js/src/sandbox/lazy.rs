//! Globals made on first use. [`define`] puts under a global's name a getter and a setter
//! that call the global's loader: reading the global gives what the loader gives, assigning
//! it runs the loader first and then sets it.
//!
//! Every step's context gets a few dozen such globals (the prelude's groups, the intrinsics of
//! [`super::intrinsics`]), so making them must cost little. A JavaScript closure per accessor
//! cost several times what the globals saved; here each accessor is a QuickJS C function
//! carrying the loader and the name as its data, which QuickJS's collector sees like any
//! other reference (a Rust closure holding a JavaScript value would hide it, and keep the
//! whole context alive). Written by hand because rquickjs has no safe way to make such
//! functions.

use std::ffi::c_int;

use rquickjs::{qjs, Ctx, Function};

/// Puts a getter and a setter under global `name` (configurable, not enumerable). The getter
/// gives `load(name)`, which must define the global in their place and give its value; the
/// setter calls `load(name)` first, then defines the global as the value assigned.
#[allow(unsafe_code)]
pub(super) fn define<'js>(
    ctx: &Ctx<'js>,
    name: &str,
    load: &Function<'js>,
) -> rquickjs::Result<()> {
    let key = rquickjs::String::from_str(ctx.clone(), name)?;
    let raw = ctx.as_raw().as_ptr();
    let mut data = [load.as_raw(), key.as_raw()];
    // SAFETY: `raw` is the live context `ctx` borrows, used on its own thread. The data values
    // are borrowed from `load` and `key`, alive for this call; QuickJS keeps its own
    // references to them. `JS_DefinePropertyGetSet` takes the getter and the setter (and frees
    // them on failure), and the atom and the global object are freed here.
    unsafe {
        let getter = qjs::JS_NewCFunctionData(raw, Some(get), 0, 0, 2, data.as_mut_ptr());
        if qjs::JS_IsException(getter) {
            return Err(rquickjs::Error::Exception);
        }
        let setter = qjs::JS_NewCFunctionData(raw, Some(set), 1, 0, 2, data.as_mut_ptr());
        if qjs::JS_IsException(setter) {
            qjs::JS_FreeValue(raw, getter);
            return Err(rquickjs::Error::Exception);
        }
        let atom = qjs::JS_ValueToAtom(raw, key.as_raw());
        if atom == qjs::JS_ATOM_NULL {
            qjs::JS_FreeValue(raw, getter);
            qjs::JS_FreeValue(raw, setter);
            return Err(rquickjs::Error::Exception);
        }
        let global = qjs::JS_GetGlobalObject(raw);
        let flags = qjs::JS_PROP_CONFIGURABLE as c_int;
        let defined = qjs::JS_DefinePropertyGetSet(raw, global, atom, getter, setter, flags);
        qjs::JS_FreeAtom(raw, atom);
        qjs::JS_FreeValue(raw, global);
        if defined < 0 {
            return Err(rquickjs::Error::Exception);
        }
    }
    Ok(())
}

/// The getter: `load(name)`.
#[allow(unsafe_code)]
unsafe extern "C" fn get(
    ctx: *mut qjs::JSContext,
    _this: qjs::JSValue,
    _argc: c_int,
    _argv: *mut qjs::JSValue,
    _magic: c_int,
    data: *mut qjs::JSValue,
) -> qjs::JSValue {
    // SAFETY: QuickJS calls this with the data `define` gave; the result (or exception) goes
    // back to QuickJS, which owns it.
    unsafe { load(ctx, data) }
}

/// `load(name)`, from the accessor's data: the loader, then the name.
#[allow(unsafe_code)]
unsafe fn load(ctx: *mut qjs::JSContext, data: *mut qjs::JSValue) -> qjs::JSValue {
    // SAFETY: the caller passes the two data values `define` gave; the result is the caller's.
    unsafe { qjs::JS_Call(ctx, *data, qjs::JS_UNDEFINED, 1, data.add(1)) }
}

/// The setter: `load(name)`, then the global defined as the value assigned.
#[allow(unsafe_code)]
unsafe extern "C" fn set(
    ctx: *mut qjs::JSContext,
    _this: qjs::JSValue,
    _argc: c_int,
    argv: *mut qjs::JSValue,
    _magic: c_int,
    data: *mut qjs::JSValue,
) -> qjs::JSValue {
    // SAFETY: as in `get`; QuickJS gives at least `length` (1) arguments, padding with
    // `undefined`. The value is duplicated for `JS_DefinePropertyValue`, which takes it; the
    // loader's result, the atom and the global object are freed here.
    unsafe {
        let loaded = load(ctx, data);
        if qjs::JS_IsException(loaded) {
            return loaded;
        }
        qjs::JS_FreeValue(ctx, loaded);
        let atom = qjs::JS_ValueToAtom(ctx, *data.add(1));
        if atom == qjs::JS_ATOM_NULL {
            return qjs::JS_EXCEPTION;
        }
        let value = qjs::JS_DupValue(ctx, *argv);
        let global = qjs::JS_GetGlobalObject(ctx);
        let flags = (qjs::JS_PROP_CONFIGURABLE | qjs::JS_PROP_WRITABLE) as c_int;
        let defined = qjs::JS_DefinePropertyValue(ctx, global, atom, value, flags);
        qjs::JS_FreeAtom(ctx, atom);
        qjs::JS_FreeValue(ctx, global);
        if defined < 0 {
            qjs::JS_EXCEPTION
        } else {
            qjs::JS_UNDEFINED
        }
    }
}

#[cfg(test)]
mod tests {
    use rquickjs::{Context, Runtime};

    use super::*;

    fn lazy_answer(ctx: &Ctx<'_>) {
        let load: Function = ctx
            .eval("(name) => { globalThis.loads = (globalThis.loads ?? 0) + 1; Object.defineProperty(globalThis, name, { value: 42, writable: true, configurable: true }); return 42; }")
            .unwrap();
        define(ctx, "answer", &load).unwrap();
    }

    #[test]
    fn reading_loads_once_and_assigning_loads_then_sets() {
        let runtime = Runtime::new().unwrap();
        let context = Context::full(&runtime).unwrap();
        context.with(|ctx| {
            lazy_answer(&ctx);
            let read: Vec<i32> = ctx.eval("[answer, answer, loads]").unwrap();
            assert_eq!(read, [42, 42, 1]);
        });
        let other = Context::full(&runtime).unwrap();
        other.with(|ctx| {
            lazy_answer(&ctx);
            let set: Vec<i32> = ctx.eval("answer = 7; [answer, loads]").unwrap();
            assert_eq!(set, [7, 1]);
        });
    }

    #[test]
    fn a_context_with_lazy_globals_is_collected_whole() {
        let runtime = Runtime::new().unwrap();
        runtime.run_gc();
        let before = runtime.memory_usage().obj_count;
        for read in [false, true] {
            let context = Context::full(&runtime).unwrap();
            context.with(|ctx| {
                lazy_answer(&ctx);
                if read {
                    let _: i32 = ctx.eval("answer").unwrap();
                }
            });
            drop(context);
            runtime.run_gc();
            assert_eq!(runtime.memory_usage().obj_count, before, "read: {read}");
        }
    }
}
