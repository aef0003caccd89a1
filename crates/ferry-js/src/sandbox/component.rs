//! A custom component's operation inside a prepared context: `require` and the `@ferry/sdk`
//! module give the SDK, the bundle is loaded (bytecode cached like a code step's), its exported
//! component found, and the SDK's `invoke` runs the operation, giving a promise of a result in
//! a code step's shape.

use rquickjs::{Function, Object, Promise, Value};

use super::convert;
use super::step::{described, Events};
use crate::component::ComponentCall;
use crate::{JsError, Language};

/// The file name bundles compile under, as their stack frames show it.
pub(super) const BUNDLE_FILE: &str = "component.js";

/// The module name authors import the SDK from.
const SDK_MODULE: &str = "@ferry/sdk";

/// The `@ferry/sdk` ES module: the SDK's names, over what `require` gives.
const SDK_MODULE_SOURCE: &str = "const sdk = require('@ferry/sdk');\n\
export const { component, action, input, trigger, pollingTrigger, connection, oauth2Connection, \
dataSource, templateConnectionInputs, util, OAuth2Type, OAuth2PkceMethod, ConnectionError, \
HttpResponseError, InputError } = sdk;\n\
export default sdk;\n";

/// Loads the bundle and starts the operation.
pub(super) fn start<'js>(
    events: &Events<'_, 'js>,
    call: &ComponentCall,
    core: &Object<'js>,
) -> Result<Promise<'js>, JsError> {
    let fail = |error| events.fail(error);
    let components: Function = core.get("components").map_err(fail)?;
    let entry: Object = components.call(()).map_err(fail)?;
    let enter: Function = entry.get("enter").map_err(fail)?;
    enter.call::<_, ()>(()).map_err(fail)?;
    events.load_module(SDK_MODULE_SOURCE, SDK_MODULE, Language::JavaScript)?;
    let namespace = events.load_module(&call.bundle, BUNDLE_FILE, Language::JavaScript)?;
    let exported = exported_component(events, &namespace)?;
    let (operation, key, args) = call.operation.parts();
    let context = convert::to_js(events.ctx, &call.context).map_err(fail)?;
    let binary = crate::step_results::has_binary(&args);
    let args = convert::to_js(events.ctx, &args).map_err(fail)?;
    let invoke: Function = entry.get("invoke").map_err(fail)?;
    invoke
        .call((exported, operation, key, context, args, binary))
        .map_err(fail)
}

/// The component the bundle exports: `export default`, else `module.exports` (or its
/// `default`, as TypeScript and bundlers write CommonJS).
fn exported_component<'js>(
    events: &Events<'_, 'js>,
    namespace: &Object<'js>,
) -> Result<Value<'js>, JsError> {
    let fail = |error| events.fail(error);
    let default: Value = namespace.get("default").map_err(fail)?;
    let module: Object = events.ctx.globals().get("module").map_err(fail)?;
    let exports: Value = module.get("exports").map_err(fail)?;
    let nested: Value = match exports.as_object() {
        Some(object) => object.get("default").map_err(fail)?,
        None => Value::new_undefined(events.ctx.clone()),
    };
    for candidate in [&default, &exports, &nested] {
        if is_component(candidate) {
            return Ok(candidate.clone());
        }
    }
    let shown = if default.is_undefined() {
        &exports
    } else {
        &default
    };
    Err(JsError::NoComponent {
        found: described(shown),
    })
}

/// Whether `value` was made by the SDK's `component()`.
fn is_component(value: &Value<'_>) -> bool {
    value
        .as_object()
        .and_then(|object| object.get::<_, bool>("__ferryComponent").ok())
        .unwrap_or(false)
}
