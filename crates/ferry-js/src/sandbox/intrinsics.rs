//! QuickJS's intrinsics that a step gets only when it first uses them.
//!
//! Every step gets a fresh context, and building a context's intrinsics, then collecting them
//! after the step, was the largest part of a trivial step's cost. Most steps use JSON,
//! promises, strings and arrays, and never typed arrays, `Map`, `Date` or `DOMException`, so
//! those groups ([`Group`]) are added to a context when one of their globals is first read or
//! assigned: [`install_lazy`] names each of their globals to the context's lazy globals
//! ([`lazy::define`]), with a loader that adds the group (QuickJS then defines the real
//! globals). A step sees no difference, with these exceptions before any global of a group was
//! used: the names are not yet own properties of the global object; a global of the group that
//! the step defined with `Object.defineProperty` before using the group, which adding the group
//! replaces (assignment is kept: it adds the group first); and a step that made one of the
//! globals non-configurable, or the global object non-extensible, gets a `TypeError` saying so
//! when it uses the group.
//!
//! Rust code that makes a value of a lazy group (a `Uint8Array` of bytes, a `DOMException`)
//! adds the group first: see [`bytes`] and [`throw_dom`].

use std::cell::Cell;
use std::rc::Rc;

use rquickjs::context::intrinsic;
use rquickjs::{qjs, Ctx, Exception, Function, TypedArray, Value};

use super::lazy;
use super::natives::Link;

/// The intrinsics every context gets at once: what the prelude's core and nearly every step
/// use (`Promise` for async functions, `JSON`, modules), regular expressions, which QuickJS's
/// own string functions create without reading a global, and the groups that cost less to
/// add than waiting would save (`Proxy`, `WeakRef`, `performance`).
pub(super) type Eager = (
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Promise,
    intrinsic::Proxy,
    intrinsic::WeakRef,
    intrinsic::Performance,
);

/// A group of intrinsics added on first use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Group {
    Date,
    MapSet,
    TypedArrays,
    DomException,
}

impl Group {
    /// Every group.
    pub(super) const ALL: [Group; 4] = [
        Group::Date,
        Group::MapSet,
        Group::TypedArrays,
        Group::DomException,
    ];

    /// The group that defines global `name`.
    fn of(name: &str) -> Option<Group> {
        Group::ALL
            .into_iter()
            .find(|group| group.globals().contains(&name))
    }

    /// The globals adding it defines (a test checks them against QuickJS).
    pub(super) fn globals(self) -> &'static [&'static str] {
        match self {
            Group::Date => &["Date"],
            Group::MapSet => &["Map", "Set", "WeakMap", "WeakSet"],
            Group::TypedArrays => &[
                "ArrayBuffer",
                "SharedArrayBuffer",
                "Uint8ClampedArray",
                "Int8Array",
                "Uint8Array",
                "Int16Array",
                "Uint16Array",
                "Int32Array",
                "Uint32Array",
                "BigInt64Array",
                "BigUint64Array",
                "Float16Array",
                "Float32Array",
                "Float64Array",
                "DataView",
                "Atomics",
            ],
            Group::DomException => &["DOMException"],
        }
    }

    /// What errors call it.
    fn label(self) -> &'static str {
        match self {
            Group::Date => "Date",
            Group::MapSet => "Map, Set, WeakMap and WeakSet",
            Group::TypedArrays => "The typed arrays",
            Group::DomException => "DOMException",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// Names the globals of every group to the context's lazy globals ([`lazy::define`]): reading
/// one adds its group and gives the global; assigning one adds its group, then sets the global.
pub(super) fn install_lazy<'js>(
    ctx: &Ctx<'js>,
    link: &Rc<Link>,
    class: lazy::LazyClass,
) -> rquickjs::Result<()> {
    let to = link.clone();
    let load = move |ctx: Ctx<'js>, name: String| -> rquickjs::Result<Value<'js>> {
        if let Some(group) = Group::of(&name) {
            add(&ctx, &to.added, group)?;
        }
        ctx.globals().get(name)
    };
    let load = Function::new(ctx.clone(), load)?;
    for group in Group::ALL {
        for name in group.globals() {
            lazy::define(ctx, class, name, &load)?;
        }
    }
    Ok(())
}

/// Which groups a context has: kept with the context, so that a group is added once.
#[derive(Debug, Default)]
pub(super) struct Added(Cell<u16>);

/// Adds `group` to the context unless it has it: whether it was added now. Adding defines the
/// group's globals, in place of whatever was under their names.
pub(super) fn add(ctx: &Ctx<'_>, added: &Added, group: Group) -> rquickjs::Result<bool> {
    if added.0.get() & group.bit() != 0 {
        return Ok(false);
    }
    // QuickJS defines some of them (`Atomics`) only where nothing is defined yet, and aborts
    // otherwise: whatever is under their names goes first. A global the step made
    // non-configurable cannot go, nor can new globals be defined once the step made the
    // global object non-extensible: the group is then not added, and reading its globals
    // throws a `TypeError` saying why.
    if !global_extensible(ctx) {
        let message = format!(
            "{} cannot be added: the step made the global object non-extensible first",
            group.label()
        );
        return Err(Exception::throw_type(ctx, &message));
    }
    let globals = ctx.globals();
    for name in group.globals() {
        if globals.remove(*name).is_err() {
            let _ = ctx.catch();
            let message = format!(
                "{} cannot be added: the step made the global {name} non-configurable first",
                group.label()
            );
            return Err(Exception::throw_type(ctx, &message));
        }
    }
    added.0.set(added.0.get() | group.bit());
    if add_to(ctx, group) < 0 {
        return Err(rquickjs::Error::Exception);
    }
    Ok(true)
}

/// Whether globals can still be defined.
#[allow(unsafe_code)]
fn global_extensible(ctx: &Ctx<'_>) -> bool {
    let globals = ctx.globals();
    // SAFETY: `ctx` is live and `globals` an object of it, borrowed for the call.
    unsafe { qjs::JS_IsExtensible(ctx.as_raw().as_ptr(), globals.as_raw()) == 1 }
}

/// QuickJS's function for `group`: below zero when it failed (with an exception pending).
#[allow(unsafe_code)]
fn add_to(ctx: &Ctx<'_>, group: Group) -> i32 {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `raw` is the live context `ctx` borrows, used on its own thread; each function
    // is called at most once per context ([`Added`]), as QuickJS expects of them.
    unsafe {
        match group {
            Group::Date => qjs::JS_AddIntrinsicDate(raw),
            Group::MapSet => qjs::JS_AddIntrinsicMapSet(raw),
            Group::TypedArrays => qjs::JS_AddIntrinsicTypedArrays(raw),
            Group::DomException => qjs::JS_AddIntrinsicDOMException(raw),
        }
    }
}

/// A `Uint8Array` holding `data`, the typed arrays added first if the step had not used them.
/// (Added this way, the step's own replacements of their globals, made with
/// `Object.defineProperty` before any use, are not kept; an assignment is, because assigning
/// adds the group first.)
pub(super) fn bytes<'js>(
    ctx: &Ctx<'js>,
    added: &Added,
    data: Vec<u8>,
) -> rquickjs::Result<TypedArray<'js, u8>> {
    add(ctx, added, Group::TypedArrays)?;
    TypedArray::new(ctx.clone(), data)
}

/// Throws a `DOMException` named `name`, the group added first if the step had not used it
/// (QuickJS makes the exception from the context's `DOMException` prototype).
pub(super) fn throw_dom(
    ctx: &Ctx<'_>,
    added: &Added,
    name: &str,
    message: &str,
) -> rquickjs::Error {
    match add(ctx, added, Group::DomException) {
        Ok(_) => Exception::throw_dom(ctx, name, message),
        Err(error) => error,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rquickjs::{Context, Object, Runtime};

    use super::*;

    fn global_names(ctx: &Ctx<'_>) -> BTreeSet<String> {
        let names: Vec<String> = ctx
            .eval("Object.getOwnPropertyNames(globalThis)")
            .unwrap_or_default();
        names.into_iter().collect()
    }

    #[test]
    fn each_group_defines_exactly_its_globals() {
        let runtime = Runtime::new().unwrap();
        let context = Context::custom::<Eager>(&runtime).unwrap();
        context.with(|ctx| {
            let added = Added::default();
            for group in Group::ALL {
                let before = global_names(&ctx);
                assert!(add(&ctx, &added, group).unwrap());
                let new: BTreeSet<String> =
                    global_names(&ctx).difference(&before).cloned().collect();
                let listed: BTreeSet<String> =
                    group.globals().iter().map(|n| n.to_string()).collect();
                assert_eq!(new, listed, "{group:?}");
                assert!(!add(&ctx, &added, group).unwrap(), "added once");
            }
        });
    }

    #[test]
    fn the_eager_context_and_every_group_make_all_intrinsics() {
        let runtime = Runtime::new().unwrap();
        let full = Context::custom::<intrinsic::All>(&runtime).unwrap();
        let all = full.with(|ctx| global_names(&ctx));
        let lazy = Context::custom::<Eager>(&runtime).unwrap();
        lazy.with(|ctx| {
            let added = Added::default();
            for group in Group::ALL {
                add(&ctx, &added, group).unwrap();
            }
            assert_eq!(global_names(&ctx), all);
            let globals: Object = ctx.globals();
            assert!(globals.contains_key("Uint8Array").unwrap());
        });
    }
}
