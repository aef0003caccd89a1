//! The core of the sandbox's globals, written over the natives in `natives.rs` (which this
//! script takes from `globalThis.__ferry` and then removes): logging, answers to host work,
//! `atob`/`btoa`, globals built on first use from the other groups (`timers.js`, `text.js`,
//! `url.js`, `crypto.js`, `clone.js`, `fetch.js`; `sdk.js` and `component.js` for custom
//! components), and the functions the Rust event loop calls: `run` (start a code step),
//! `components` (a component's entry points, `component.js`), `complete` (an answer to host
//! work) and `fire` (a timer).

// A script, not a module (cheaper to run in every fresh context: no module record, no async
// evaluation), wrapped in a function so that its declarations stay out of the global scope;
// it evaluates to the functions the Rust side calls. Strict, as a module would be.
(() => {
'use strict';

const native = globalThis.__ferry;
delete globalThis.__ferry;

const define = (name, value) =>
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });

// Globals built on first use, from the group modules the natives load: a step pays (in load
// time and in memory) only for the groups it touches. (`native.lazy` names them to the
// context's lazy globals, which call `load` on first use: cheaper than a closure per name.)
const built = { __proto__: null };
const group = (name) => (built[name] ??= native.load(name)(shared));

function lazy(name, globals) {
  native.lazy(globals, (global) => {
    const value = group(name)[global];
    define(global, value);
    return value;
  });
}

// ---- bytes -------------------------------------------------------------------------------

function toBytes(value, what = 'value') {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return native.utf8Encode(value.toWellFormed());
  throw new TypeError(`${what} must be a string, an ArrayBuffer or a typed array`);
}

const toArrayBuffer = (bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);

// ---- logging -----------------------------------------------------------------------------

function inspect(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}${value.stack ? '\n' + value.stack.trimEnd() : ''}`;
  if (typeof value === 'function') return `[Function ${value.name || 'anonymous'}]`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol' || value === undefined) return String(value);
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text;
  } catch {
    return String(value);
  }
}

const MAX_LOG_LENGTH = 4096;
function write(level, args) {
  let text = args.map(inspect).join(' ');
  if (text.length > MAX_LOG_LENGTH * 2) text = text.slice(0, MAX_LOG_LENGTH * 2);
  native.log(level, text.toWellFormed());
}

const logger = Object.freeze({
  debug: (...args) => write('debug', args),
  info: (...args) => write('info', args),
  log: (...args) => write('info', args),
  warn: (...args) => write('warn', args),
  error: (...args) => write('error', args),
});

define('console', Object.freeze({ ...logger, trace: logger.debug }));

// ---- host work: answers and timers -------------------------------------------------------

// By id. (Objects without a prototype, not `Map`s, which a step gets only when it uses them.)
const pending = { __proto__: null };

function awaitAnswer(id, settle) {
  return new Promise((resolve, reject) => { pending[id] = { resolve: (v) => resolve(settle(v)), reject }; });
}

function complete(id, ok, value) {
  const waiter = pending[id];
  if (!waiter) return;
  delete pending[id];
  if (ok) waiter.resolve(value);
  else waiter.reject(new TypeError(value));
}

// Timers are a group (`timers.js`): a step that never names one never builds them, and then
// none can be due.
function fire(id) {
  built.timers?.fire(id);
}

// ---- globals built on first use ---------------------------------------------------------

define('btoa', (text) => native.btoa(String(text)));
define('atob', (text) => native.atob(String(text)));

const shared = { native, toBytes, toArrayBuffer, awaitAnswer, pending, define, group, logger, invokeFlow, revive };
lazy('timers', ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval']);
lazy('text', ['TextEncoder', 'TextDecoder']);
lazy('url', ['URL', 'URLSearchParams']);
lazy('crypto', ['crypto', 'CryptoKey']);
lazy('clone', ['structuredClone']);
lazy('fetch', ['fetch', 'Headers', 'Response', 'AbortController', 'AbortSignal']);

// ---- the step ----------------------------------------------------------------------------

function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 2 && typeof value.contentType === 'string' && typeof value.base64 === 'string') {
    return { data: native.base64Decode(value.base64), contentType: value.contentType };
  }
  for (const key of keys) value[key] = revive(value[key]);
  return value;
}

function invokeFlow(name, data) {
  return awaitAnswer(native.invokeFlow(String(name), data === undefined ? null : data), (v) => v);
}

define('module', { exports: {} });
define('require', (name) => {
  throw new Error(`require(${JSON.stringify(name)}) is not available: code steps run without modules`);
});
define('exports', globalThis.module.exports);

function run(code, data, stepResults, hasBinary) {
  const context = { ...data, logger, invokeFlow };
  const results = hasBinary ? revive(stepResults) : stepResults;
  return (async () => code(context, results))();
}

// ---- custom components ---------------------------------------------------------------------

// Their entry points are a group (`component.js`), built only for a component's operation.
const components = () => group('component');

return { run, complete, fire, components };
})();
