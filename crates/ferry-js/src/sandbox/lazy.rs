//! Globals made on first use. Each context's global object gets as its prototype one object
//! of a class of our own ([`LazyClass`]) that knows the names not made yet, each with its
//! loader ([`define`]). QuickJS asks that object only for a name the global object does not
//! have; for a name it knows, it calls the loader once (which must define the global on the
//! global object) and answers with a getter and a setter that read and assign that global.
//! Reading the name gives what the loader defined; assigning it (`globalThis.fetch = f` before
//! any use) loads first, then sets the global. A name nobody defined still throws
//! `ReferenceError`, and a global the step deleted after its first use stays deleted.
//!
//! Every step's context has a few dozen such names (the prelude's groups, the intrinsics of
//! [`super::intrinsics`]), so knowing them must cost little: a getter and a setter per name
//! (two C functions each, with their `name` and `length` properties) cost about 10 % of a
//! trivial step's instructions, where an atom and a reference to the loader cost next to
//! nothing. The object answers only QuickJS's `get_own_property` question: with `get_property`
//! (what rquickjs's exotic classes and a `Proxy` give) QuickJS would hand it the whole lookup
//! and could no longer throw `ReferenceError` for an undeclared name. Written by hand because
//! rquickjs has no safe way to make such a class.
//!
//! What a step can tell: before first use, these names are not own properties of the global
//! object (`Object.getOwnPropertyNames(globalThis)` lists them once used; `'fetch' in
//! globalThis` and `typeof fetch` load and find them), and the global object's prototype is
//! this object, whose prototype is `Object.prototype` (a step that gives the global object
//! another prototype before using a name loses the names not made yet).

use std::cell::RefCell;
use std::ffi::c_int;

use rquickjs::{qjs, Ctx, Function};

/// The class of the object that answers for the names not made yet, registered with a runtime.
#[derive(Debug, Clone, Copy)]
pub(super) struct LazyClass(qjs::JSClassID);

/// A name not made yet and its loader.
struct Entry {
    atom: qjs::JSAtom,
    loader: qjs::JSValue,
    /// Whether the loader ran (or runs now) without throwing: the name is answered once.
    loaded: bool,
}

/// What the object holds (as its opaque pointer): its names, with references to their atoms
/// and loaders, marked for the collector and freed by the finalizer.
#[derive(Default)]
struct Names(RefCell<Vec<Entry>>);

/// QuickJS calls these through the class; only `get_own_property` is answered.
static EXOTIC: qjs::JSClassExoticMethods = qjs::JSClassExoticMethods {
    get_own_property: Some(get_own_property),
    get_own_property_names: None,
    delete_property: None,
    define_own_property: None,
    has_property: None,
    get_property: None,
    set_property: None,
};

impl LazyClass {
    /// Registers the class with the runtime of `ctx`.
    #[allow(unsafe_code)]
    pub(super) fn register(ctx: &Ctx<'_>) -> rquickjs::Result<Self> {
        let raw = ctx.as_raw().as_ptr();
        // SAFETY: `raw` is a live context; the class definition's name is a static C string
        // and its exotic methods a static QuickJS only reads (hence the cast to `*mut`).
        unsafe {
            let runtime = qjs::JS_GetRuntime(raw);
            let mut id: qjs::JSClassID = 0;
            qjs::JS_NewClassID(runtime, &mut id);
            let definition = qjs::JSClassDef {
                class_name: c"LazyGlobals".as_ptr(),
                finalizer: Some(finalize),
                gc_mark: Some(mark),
                call: None,
                exotic: std::ptr::addr_of!(EXOTIC).cast_mut(),
            };
            if qjs::JS_NewClass(runtime, id, &definition) < 0 {
                return Err(rquickjs::Error::Exception);
            }
            Ok(LazyClass(id))
        }
    }

    /// Gives the context's global object an object of this class as its prototype (between
    /// it and `Object.prototype`), knowing no name yet.
    #[allow(unsafe_code)]
    pub(super) fn install(self, ctx: &Ctx<'_>) -> rquickjs::Result<()> {
        let raw = ctx.as_raw().as_ptr();
        // SAFETY: `raw` is the live context `ctx` borrows, used on its own thread. The new
        // object owns the boxed `Names` through its opaque pointer (the finalizer frees it);
        // the values got here (the global object, its prototype, the new object) are freed
        // here once linked, `JS_SetPrototype` keeping its own reference.
        unsafe {
            let global = qjs::JS_GetGlobalObject(raw);
            let object_proto = qjs::JS_GetPrototype(raw, global);
            let lazy = qjs::JS_NewObjectProtoClass(raw, object_proto, self.0);
            qjs::JS_FreeValue(raw, object_proto);
            if qjs::JS_IsException(lazy) {
                qjs::JS_FreeValue(raw, global);
                return Err(rquickjs::Error::Exception);
            }
            qjs::JS_SetOpaque(lazy, Box::into_raw(Box::<Names>::default()).cast());
            let linked = qjs::JS_SetPrototype(raw, global, lazy);
            qjs::JS_FreeValue(raw, lazy);
            qjs::JS_FreeValue(raw, global);
            if linked < 0 {
                return Err(rquickjs::Error::Exception);
            }
        }
        Ok(())
    }

    /// The names of the context's object of this class, for as long as `ctx` is borrowed.
    #[allow(unsafe_code)]
    fn names_of<'c>(self, ctx: &'c Ctx<'_>) -> Option<&'c Names> {
        let raw = ctx.as_raw().as_ptr();
        // SAFETY: the opaque pointer of an object of this class is the `Names` boxed by
        // `install`, alive while the object is; the object is the global object's prototype,
        // which the context keeps while the caller (preparing the context) runs.
        unsafe {
            let global = qjs::JS_GetGlobalObject(raw);
            let proto = qjs::JS_GetPrototype(raw, global);
            let names = qjs::JS_GetOpaque(proto, self.0).cast::<Names>();
            qjs::JS_FreeValue(raw, proto);
            qjs::JS_FreeValue(raw, global);
            names.as_ref()
        }
    }
}

/// Makes global `name` on first use by calling `load(name)`, which must define the global on
/// the global object (with whatever attributes it chooses) and may give anything back.
#[allow(unsafe_code)]
pub(super) fn define<'js>(
    ctx: &Ctx<'js>,
    class: LazyClass,
    name: &str,
    load: &Function<'js>,
) -> rquickjs::Result<()> {
    let names = class.names_of(ctx).ok_or_else(|| {
        let problem = "the context's global object has no lazy globals' object as prototype";
        rquickjs::Error::new_from_js_message("context", "lazy globals", problem)
    })?;
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `raw` is the live context `ctx` borrows. The atom and the duplicated loader are
    // new references, kept by the entry until the finalizer frees them. No QuickJS call runs
    // while the entries are borrowed (a collection could start in one and mark them).
    unsafe {
        let atom = qjs::JS_NewAtomLen(raw, name.as_ptr().cast(), name.len() as _);
        if atom == qjs::JS_ATOM_NULL {
            return Err(rquickjs::Error::Exception);
        }
        let loader = qjs::JS_DupValue(raw, load.as_raw());
        names.0.borrow_mut().push(Entry {
            atom,
            loader,
            loaded: false,
        });
    }
    Ok(())
}

/// QuickJS asks whether the object has `atom`: for a name it knows and has not loaded, it
/// loads it and, if the global object has it then, answers with a getter and a setter of
/// that global (a data property here would make QuickJS add the global again on assignment).
#[allow(unsafe_code)]
unsafe extern "C" fn get_own_property(
    ctx: *mut qjs::JSContext,
    desc: *mut qjs::JSPropertyDescriptor,
    obj: qjs::JSValue,
    atom: qjs::JSAtom,
) -> c_int {
    // SAFETY: QuickJS calls this with a live context and an object of the class, whose
    // opaque pointer is its `Names`. The loader is duplicated before the entries are let go,
    // so the call (which may reach this function again) holds its own reference.
    unsafe {
        let Some(names) = qjs::JS_GetOpaque(obj, qjs::JS_GetClassID(obj))
            .cast::<Names>()
            .as_ref()
        else {
            return 0;
        };
        // Marked loaded before the call: a loader that reads its own name (one the step
        // deleted) must not come back here.
        let loader = {
            let mut entries = names.0.borrow_mut();
            match entries.iter_mut().find(|e| e.atom == atom && !e.loaded) {
                Some(entry) => {
                    entry.loaded = true;
                    qjs::JS_DupValue(ctx, entry.loader)
                }
                None => return 0,
            }
        };
        let mut name = qjs::JS_AtomToValue(ctx, atom);
        let loaded = qjs::JS_Call(ctx, loader, qjs::JS_UNDEFINED, 1, &mut name);
        qjs::JS_FreeValue(ctx, loader);
        if qjs::JS_IsException(loaded) {
            // Asked again, it loads again (and throws again).
            let mut entries = names.0.borrow_mut();
            if let Some(entry) = entries.iter_mut().find(|e| e.atom == atom) {
                entry.loaded = false;
            }
            drop(entries);
            qjs::JS_FreeValue(ctx, name);
            return -1;
        }
        qjs::JS_FreeValue(ctx, loaded);
        let global = qjs::JS_GetGlobalObject(ctx);
        let defined = qjs::JS_GetOwnProperty(ctx, std::ptr::null_mut(), global, atom);
        qjs::JS_FreeValue(ctx, global);
        if defined <= 0 || desc.is_null() {
            qjs::JS_FreeValue(ctx, name);
            return defined;
        }
        answer(ctx, desc, name)
    }
}

/// Fills `desc` with a getter and a setter of the global named by the string `name` (taken).
#[allow(unsafe_code)]
unsafe fn answer(
    ctx: *mut qjs::JSContext,
    desc: *mut qjs::JSPropertyDescriptor,
    mut name: qjs::JSValue,
) -> c_int {
    // SAFETY: the caller passes a live context, a descriptor to fill (QuickJS frees what it
    // holds) and a string value it hands over, freed here once the functions hold their own.
    unsafe {
        let getter = qjs::JS_NewCFunctionData(ctx, Some(get_global), 0, 0, 1, &mut name);
        let setter = qjs::JS_NewCFunctionData(ctx, Some(set_global), 1, 0, 1, &mut name);
        qjs::JS_FreeValue(ctx, name);
        if qjs::JS_IsException(getter) || qjs::JS_IsException(setter) {
            qjs::JS_FreeValue(ctx, getter);
            qjs::JS_FreeValue(ctx, setter);
            return -1;
        }
        (*desc).flags = (qjs::JS_PROP_GETSET | qjs::JS_PROP_CONFIGURABLE) as c_int;
        (*desc).value = qjs::JS_UNDEFINED;
        (*desc).getter = getter;
        (*desc).setter = setter;
        1
    }
}

/// The getter: the global named by the data.
#[allow(unsafe_code)]
unsafe extern "C" fn get_global(
    ctx: *mut qjs::JSContext,
    _this: qjs::JSValue,
    _argc: c_int,
    _argv: *mut qjs::JSValue,
    _magic: c_int,
    data: *mut qjs::JSValue,
) -> qjs::JSValue {
    // SAFETY: QuickJS calls this with the one data value `answer` gave (the name).
    unsafe {
        let atom = qjs::JS_ValueToAtom(ctx, *data);
        if atom == qjs::JS_ATOM_NULL {
            return qjs::JS_EXCEPTION;
        }
        let global = qjs::JS_GetGlobalObject(ctx);
        let value = qjs::JS_GetProperty(ctx, global, atom);
        qjs::JS_FreeValue(ctx, global);
        qjs::JS_FreeAtom(ctx, atom);
        value
    }
}

/// The setter: the global named by the data defined as the value assigned (writable and
/// configurable, not enumerable, as an assigned global of the prelude is).
#[allow(unsafe_code)]
unsafe extern "C" fn set_global(
    ctx: *mut qjs::JSContext,
    _this: qjs::JSValue,
    _argc: c_int,
    argv: *mut qjs::JSValue,
    _magic: c_int,
    data: *mut qjs::JSValue,
) -> qjs::JSValue {
    // SAFETY: as in `get_global`; QuickJS gives at least `length` (1) arguments, padding with
    // `undefined`. The value is duplicated for `JS_DefinePropertyValue`, which takes it.
    unsafe {
        let atom = qjs::JS_ValueToAtom(ctx, *data);
        if atom == qjs::JS_ATOM_NULL {
            return qjs::JS_EXCEPTION;
        }
        let value = qjs::JS_DupValue(ctx, *argv);
        let global = qjs::JS_GetGlobalObject(ctx);
        let flags = (qjs::JS_PROP_CONFIGURABLE | qjs::JS_PROP_WRITABLE) as c_int;
        let defined = qjs::JS_DefinePropertyValue(ctx, global, atom, value, flags);
        qjs::JS_FreeValue(ctx, global);
        qjs::JS_FreeAtom(ctx, atom);
        if defined < 0 {
            qjs::JS_EXCEPTION
        } else {
            qjs::JS_UNDEFINED
        }
    }
}

/// Marks the loaders for the collector.
#[allow(unsafe_code)]
unsafe extern "C" fn mark(
    runtime: *mut qjs::JSRuntime,
    value: qjs::JSValue,
    mark_func: qjs::JS_MarkFunc,
) {
    // SAFETY: QuickJS calls this with an object of the class, whose opaque is its `Names`;
    // nothing borrows the entries mutably while QuickJS runs (see `define`).
    unsafe {
        if let Some(names) = qjs::JS_GetOpaque(value, qjs::JS_GetClassID(value))
            .cast::<Names>()
            .as_ref()
        {
            for entry in names.0.borrow().iter() {
                qjs::JS_MarkValue(runtime, entry.loader, mark_func);
            }
        }
    }
}

/// Frees the names, their atoms and loaders, with the object.
#[allow(unsafe_code)]
unsafe extern "C" fn finalize(runtime: *mut qjs::JSRuntime, value: qjs::JSValue) {
    // SAFETY: QuickJS calls this once, as the object goes; its opaque is the `Names` boxed by
    // `install`, taken back here.
    unsafe {
        let names = qjs::JS_GetOpaque(value, qjs::JS_GetClassID(value)).cast::<Names>();
        if names.is_null() {
            return;
        }
        let names = Box::from_raw(names);
        for entry in names.0.into_inner() {
            qjs::JS_FreeAtomRT(runtime, entry.atom);
            qjs::JS_FreeValueRT(runtime, entry.loader);
        }
    }
}

#[cfg(test)]
mod tests {
    use rquickjs::{Context, Runtime};

    use super::*;

    const ANSWER: &str = "(name) => { globalThis.loads = (globalThis.loads ?? 0) + 1; Object.defineProperty(globalThis, name, { value: 42, writable: true, configurable: true }); return 42; }";

    /// Runs `check` in a fresh context of `runtime` whose global `name` is made on first use
    /// by the function `loader` (JavaScript source).
    fn with_lazy(runtime: &Runtime, name: &str, loader: &str, check: impl FnOnce(&Ctx<'_>)) {
        let context = Context::full(runtime).unwrap();
        context.with(|ctx| {
            let class = LazyClass::register(&ctx).unwrap();
            class.install(&ctx).unwrap();
            let load: Function = ctx.eval(loader).unwrap();
            define(&ctx, class, name, &load).unwrap();
            check(&ctx);
        });
    }

    fn with_lazy_answer(runtime: &Runtime, check: impl FnOnce(&Ctx<'_>)) {
        with_lazy(runtime, "answer", ANSWER, check);
    }

    #[test]
    fn reading_loads_once_and_assigning_loads_then_sets() {
        let runtime = Runtime::new().unwrap();
        with_lazy_answer(&runtime, |ctx| {
            let read: Vec<i32> = ctx
                .eval("[answer, answer, globalThis.answer, loads]")
                .unwrap();
            assert_eq!(read, [42, 42, 42, 1]);
        });
        with_lazy_answer(&runtime, |ctx| {
            let set: Vec<i32> = ctx.eval("globalThis.answer = 7; [answer, loads]").unwrap();
            assert_eq!(set, [7, 1]);
        });
        with_lazy_answer(&runtime, |ctx| {
            let set: Vec<i32> = ctx.eval("answer = 8; [answer, loads]").unwrap();
            assert_eq!(set, [8, 1]);
        });
        with_lazy_answer(&runtime, |ctx| {
            let found: Vec<bool> = ctx
                .eval("[typeof answer === 'number', 'answer' in globalThis, Object.getOwnPropertyNames(globalThis).includes('answer')]")
                .unwrap();
            assert_eq!(found, [true, true, true]);
        });
    }

    #[test]
    fn other_names_are_still_undeclared_and_a_deleted_global_stays_deleted() {
        let runtime = Runtime::new().unwrap();
        with_lazy_answer(&runtime, |ctx| {
            let thrown: String = ctx
                .eval("(() => { try { undeclared; } catch (e) { return `${e.name}: ${e.message}`; } })()")
                .unwrap();
            assert_eq!(thrown, "ReferenceError: undeclared is not defined");
            let gone: Vec<String> = ctx
                .eval("answer; delete globalThis.answer; [typeof answer, (() => { try { answer; return 'found'; } catch (e) { return e.name; } })()]")
                .unwrap();
            assert_eq!(gone, ["undefined", "ReferenceError"]);
        });
    }

    #[test]
    fn a_global_object_given_another_prototype_loses_the_names_not_made_yet() {
        let runtime = Runtime::new().unwrap();
        with_lazy_answer(&runtime, |ctx| {
            let kind: String = ctx
                .eval("Object.setPrototypeOf(globalThis, Object.prototype); typeof answer")
                .unwrap();
            assert_eq!(kind, "undefined");
        });
    }

    #[test]
    fn a_loader_that_throws_throws_at_each_use() {
        let runtime = Runtime::new().unwrap();
        let loader = "() => { throw new TypeError('no'); }";
        with_lazy(&runtime, "broken", loader, |ctx| {
            let thrown: Vec<String> = ctx
                .eval("[1, 2].map(() => { try { broken; } catch (e) { return e.message; } })")
                .unwrap();
            assert_eq!(thrown, ["no", "no"]);
        });
    }

    #[test]
    fn a_context_with_lazy_globals_is_collected_whole() {
        let runtime = Runtime::new().unwrap();
        runtime.run_gc();
        let before = runtime.memory_usage().obj_count;
        for read in [false, true] {
            with_lazy_answer(&runtime, |ctx| {
                if read {
                    let _: i32 = ctx.eval("answer").unwrap();
                }
            });
            runtime.run_gc();
            assert_eq!(runtime.memory_usage().obj_count, before, "read: {read}");
        }
    }
}
