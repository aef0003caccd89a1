//! The sandbox's globals, written over the natives in `natives.rs` (which this module takes
//! from `globalThis.__ferry` and then removes), and the three functions the Rust event loop
//! calls: `run` (start the step), `complete` (an answer to host work) and `fire` (a timer).

const native = globalThis.__ferry;
delete globalThis.__ferry;

const define = (name, value) =>
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });

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

const pending = new Map();

function awaitAnswer(id, settle) {
  return new Promise((resolve, reject) => pending.set(id, { resolve: (v) => resolve(settle(v)), reject }));
}

export function complete(id, ok, value) {
  const waiter = pending.get(id);
  if (!waiter) return;
  pending.delete(id);
  if (ok) waiter.resolve(value);
  else waiter.reject(new TypeError(value));
}

const timers = new Map();
let nextTimer = 1;

function addTimer(callback, ms, args, repeat) {
  if (typeof callback !== 'function') throw new TypeError('the callback must be a function');
  const id = nextTimer++;
  const delay = Math.max(0, Number(ms) || 0);
  timers.set(id, { run: () => callback(...args), delay, repeat });
  native.timer(id, delay);
  return id;
}

function clearTimer(id) {
  if (timers.delete(id)) native.clearTimer(id);
}

export function fire(id) {
  const timer = timers.get(id);
  if (!timer) return;
  if (timer.repeat) native.timer(id, timer.delay);
  else timers.delete(id);
  timer.run();
}

define('setTimeout', (callback, ms, ...args) => addTimer(callback, ms, args, false));
define('setInterval', (callback, ms, ...args) => addTimer(callback, ms, args, true));
define('clearTimeout', clearTimer);
define('clearInterval', clearTimer);

// ---- text --------------------------------------------------------------------------------

class TextEncoder {
  get encoding() { return 'utf-8'; }
  encode(text = '') { return native.utf8Encode(String(text).toWellFormed()); }
  encodeInto(text, destination) {
    const bytes = native.utf8Encode(String(text).toWellFormed());
    const written = Math.min(bytes.length, destination.length);
    destination.set(bytes.subarray(0, written));
    return { read: String(text).length, written };
  }
}

const UTF8_LABELS = ['utf-8', 'utf8', 'unicode-1-1-utf-8'];
class TextDecoder {
  #fatal; #ignoreBOM;
  constructor(label = 'utf-8', options = {}) {
    if (!UTF8_LABELS.includes(String(label).trim().toLowerCase())) {
      throw new RangeError(`TextDecoder: only utf-8 is supported, not ${label}`);
    }
    this.#fatal = Boolean(options.fatal);
    this.#ignoreBOM = Boolean(options.ignoreBOM);
  }
  get encoding() { return 'utf-8'; }
  get fatal() { return this.#fatal; }
  get ignoreBOM() { return this.#ignoreBOM; }
  decode(input = new Uint8Array(0)) {
    const text = native.utf8Decode(toBytes(input, 'the input'), this.#fatal);
    return !this.#ignoreBOM && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
}

define('TextEncoder', TextEncoder);
define('TextDecoder', TextDecoder);
define('btoa', (text) => native.btoa(String(text)));
define('atob', (text) => native.atob(String(text)));

// ---- URL ---------------------------------------------------------------------------------

const LIST = Symbol('list');
const onChange = new WeakMap();

class URLSearchParams {
  constructor(init = '') {
    Object.defineProperty(this, LIST, { value: [], writable: true });
    if (init instanceof URLSearchParams) this[LIST] = init[LIST].map(([k, v]) => [k, v]);
    else if (typeof init === 'string') this[LIST] = native.formDecode(init.startsWith('?') ? init.slice(1) : init);
    else if (init && typeof init[Symbol.iterator] === 'function') {
      for (const pair of init) {
        const items = [...pair];
        if (items.length !== 2) throw new TypeError('URLSearchParams: each pair must have two items');
        this[LIST].push([String(items[0]), String(items[1])]);
      }
    } else if (init && typeof init === 'object') {
      for (const key of Object.keys(init)) this[LIST].push([key, String(init[key])]);
    } else if (init != null) this[LIST] = native.formDecode(String(init));
  }
  #changed() { onChange.get(this)?.(this.toString()); }
  get size() { return this[LIST].length; }
  append(name, value) { this[LIST].push([String(name), String(value)]); this.#changed(); }
  delete(name, value) {
    this[LIST] = this[LIST].filter(([k, v]) => k !== String(name) || (value !== undefined && v !== String(value)));
    this.#changed();
  }
  get(name) { return this[LIST].find(([k]) => k === String(name))?.[1] ?? null; }
  getAll(name) { return this[LIST].filter(([k]) => k === String(name)).map(([, v]) => v); }
  has(name, value) {
    return this[LIST].some(([k, v]) => k === String(name) && (value === undefined || v === String(value)));
  }
  set(name, value) {
    const at = this[LIST].findIndex(([k]) => k === String(name));
    if (at < 0) return this.append(name, value);
    this[LIST] = this[LIST].filter(([k], i) => i === at || k !== String(name));
    this[LIST][at] = [String(name), String(value)];
    this.#changed();
  }
  sort() { this[LIST].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)); this.#changed(); }
  forEach(callback, thisArg) { for (const [k, v] of this[LIST]) callback.call(thisArg, v, k, this); }
  *entries() { for (const [k, v] of this[LIST]) yield [k, v]; }
  *keys() { for (const [k] of this[LIST]) yield k; }
  *values() { for (const [, v] of this[LIST]) yield v; }
  [Symbol.iterator]() { return this.entries(); }
  toString() { return native.formEncode(this[LIST]); }
}

const PARTS = ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname', 'port', 'pathname', 'search', 'hash'];

function parseUrl(input, base) {
  const parts = native.parseUrl(String(input), base === undefined ? undefined : String(base));
  if (!parts) throw new TypeError(`Invalid URL: ${input}`);
  return parts;
}

class URL {
  #parts; #params = null;
  constructor(input, base) { this.#parts = parseUrl(input, base); }
  static canParse(input, base) {
    return native.parseUrl(String(input), base === undefined ? undefined : String(base)) != null;
  }
  static parse(input, base) { return URL.canParse(input, base) ? new URL(input, base) : null; }
  #get(part) { return this.#parts[PARTS.indexOf(part)]; }
  #set(part, value) {
    const parts = native.setUrl(this.#parts[0], part, String(value));
    if (parts) this.#replace(parts);
  }
  #replace(parts) {
    this.#parts = parts;
    if (this.#params) this.#params[LIST] = native.formDecode(this.#get('search').slice(1));
  }
  get href() { return this.#parts[0]; }
  set href(value) { this.#replace(parseUrl(value)); }
  get origin() { return this.#get('origin'); }
  get searchParams() {
    if (!this.#params) {
      this.#params = new URLSearchParams(this.#get('search'));
      onChange.set(this.#params, (query) => this.#set('search', query));
    }
    return this.#params;
  }
  toString() { return this.href; }
  toJSON() { return this.href; }
  static {
    for (const part of PARTS.slice(2)) {
      Object.defineProperty(URL.prototype, part, {
        get() { return this.#get(part); },
        set(value) { this.#set(part, value); },
        configurable: true,
      });
    }
  }
}

define('URL', URL);
define('URLSearchParams', URLSearchParams);

// ---- crypto ------------------------------------------------------------------------------

const HASHES = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];

function hashName(algorithm) {
  const name = typeof algorithm === 'string' ? algorithm : algorithm?.name;
  const upper = String(name).toUpperCase();
  if (!HASHES.includes(upper)) throw new DOMException(`Unrecognized algorithm name: ${name}`, 'NotSupportedError');
  return upper;
}

function hmacOnly(algorithm) {
  const name = typeof algorithm === 'string' ? algorithm : algorithm?.name;
  if (String(name).toUpperCase() !== 'HMAC') {
    throw new DOMException(`Unsupported algorithm ${name}: crypto.subtle here supports HMAC and digests`, 'NotSupportedError');
  }
}

const secrets = new WeakMap();

class CryptoKey {
  constructor(hash, extractable, usages, raw) {
    this.type = 'secret';
    this.extractable = Boolean(extractable);
    this.algorithm = { name: 'HMAC', hash: { name: hash }, length: raw.length * 8 };
    this.usages = [...usages];
    secrets.set(this, raw);
  }
}

function secretOf(key, usage) {
  const raw = secrets.get(key);
  if (!raw) throw new TypeError('the key must be a CryptoKey made by crypto.subtle.importKey');
  if (!key.usages.includes(usage)) throw new DOMException(`the key cannot be used to ${usage}`, 'InvalidAccessError');
  return raw;
}

const subtle = Object.freeze({
  async digest(algorithm, data) { return toArrayBuffer(native.digest(hashName(algorithm), toBytes(data, 'data'))); },
  async importKey(format, keyData, algorithm, extractable = false, usages = ['sign', 'verify']) {
    if (format !== 'raw') throw new DOMException(`key format ${format} is not supported: use raw`, 'NotSupportedError');
    hmacOnly(algorithm);
    const raw = toBytes(keyData, 'keyData').slice();
    return new CryptoKey(hashName(algorithm.hash), extractable, usages, raw);
  },
  async exportKey(format, key) {
    if (format !== 'raw') throw new DOMException(`key format ${format} is not supported: use raw`, 'NotSupportedError');
    if (!key.extractable) throw new DOMException('the key is not extractable', 'InvalidAccessError');
    return toArrayBuffer(secrets.get(key));
  },
  async sign(algorithm, key, data) {
    hmacOnly(algorithm);
    return toArrayBuffer(native.hmac(key.algorithm.hash.name, secretOf(key, 'sign'), toBytes(data, 'data')));
  },
  async verify(algorithm, key, signature, data) {
    hmacOnly(algorithm);
    const expected = native.hmac(key.algorithm.hash.name, secretOf(key, 'verify'), toBytes(data, 'data'));
    const given = toBytes(signature, 'signature');
    let difference = expected.length ^ given.length;
    for (let i = 0; i < expected.length; i++) difference |= expected[i] ^ (given[i] ?? 0);
    return difference === 0;
  },
});

define('crypto', Object.freeze({
  subtle,
  randomUUID: () => native.randomUUID(),
  getRandomValues(array) {
    if (!ArrayBuffer.isView(array) || array instanceof DataView) throw new TypeError('getRandomValues needs an integer typed array');
    if (array.byteLength > 65536) throw new DOMException('at most 65536 bytes at a time', 'QuotaExceededError');
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(native.randomBytes(array.byteLength));
    return array;
  },
}));
define('CryptoKey', CryptoKey);

// ---- structuredClone ---------------------------------------------------------------------

function cloneError(value, seen) {
  const Kind = { EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError }[value.name] ?? Error;
  const copy = new Kind(value.message);
  seen.set(value, copy);
  if (value.stack !== undefined) copy.stack = value.stack;
  if ('cause' in value) copy.cause = cloneInto(value.cause, seen);
  return copy;
}

function cloneInto(value, seen) {
  if (typeof value === 'function' || typeof value === 'symbol') {
    throw new DOMException(`${String(value).slice(0, 60)} could not be cloned`, 'DataCloneError');
  }
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return seen.get(value);
  if (value instanceof Date) return new Date(value.getTime());
  if (value instanceof RegExp) return new RegExp(value.source, value.flags);
  if (value instanceof ArrayBuffer) { const copy = value.slice(0); seen.set(value, copy); return copy; }
  if (ArrayBuffer.isView(value)) {
    const buffer = cloneInto(value.buffer, seen);
    return value instanceof DataView
      ? new DataView(buffer, value.byteOffset, value.byteLength)
      : new value.constructor(buffer, value.byteOffset, value.length);
  }
  if (value instanceof Error) return cloneError(value, seen);
  if (value instanceof Map) {
    const copy = new Map();
    seen.set(value, copy);
    for (const [k, v] of value) copy.set(cloneInto(k, seen), cloneInto(v, seen));
    return copy;
  }
  if (value instanceof Set) {
    const copy = new Set();
    seen.set(value, copy);
    for (const v of value) copy.add(cloneInto(v, seen));
    return copy;
  }
  if (value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet) {
    throw new DOMException(`${value.constructor.name} could not be cloned`, 'DataCloneError');
  }
  const copy = Array.isArray(value) ? new Array(value.length) : {};
  seen.set(value, copy);
  for (const key of Object.keys(value)) copy[key] = cloneInto(value[key], seen);
  return copy;
}

define('structuredClone', (value) => cloneInto(value, new Map()));

// ---- fetch -------------------------------------------------------------------------------

const headerName = (name) => {
  const text = String(name).toLowerCase();
  if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(text)) throw new TypeError(`invalid header name: ${name}`);
  return text;
};

class Headers {
  #list = [];
  constructor(init) {
    if (init == null) return;
    if (init instanceof Headers || typeof init[Symbol.iterator] === 'function') {
      for (const pair of init) { const [name, value] = pair; this.append(name, value); }
    } else for (const name of Object.keys(init)) this.append(name, init[name]);
  }
  append(name, value) { this.#list.push([headerName(name), String(value).trim()]); }
  delete(name) { const key = headerName(name); this.#list = this.#list.filter(([k]) => k !== key); }
  get(name) {
    const key = headerName(name);
    const values = this.#list.filter(([k]) => k === key).map(([, v]) => v);
    return values.length ? values.join(', ') : null;
  }
  getSetCookie() { return this.#list.filter(([k]) => k === 'set-cookie').map(([, v]) => v); }
  has(name) { const key = headerName(name); return this.#list.some(([k]) => k === key); }
  set(name, value) { this.delete(name); this.append(name, value); }
  forEach(callback, thisArg) { for (const [k, v] of this) callback.call(thisArg, v, k, this); }
  *entries() {
    const names = [...new Set(this.#list.map(([k]) => k))].sort();
    for (const name of names) {
      if (name === 'set-cookie') for (const v of this.getSetCookie()) yield [name, v];
      else yield [name, this.get(name)];
    }
  }
  *keys() { for (const [k] of this) yield k; }
  *values() { for (const [, v] of this) yield v; }
  [Symbol.iterator]() { return this.entries(); }
}

class Response {
  #body; #used = false;
  constructor(body = null, init = {}) {
    this.#body = body == null ? new Uint8Array(0) : toBytes(body, 'the body');
    this.status = init.status ?? 200;
    this.statusText = init.statusText ?? '';
    this.headers = new Headers(init.headers);
    this.url = init.url ?? '';
    this.redirected = Boolean(init.redirected);
    this.type = 'basic';
  }
  get ok() { return this.status >= 200 && this.status < 300; }
  get bodyUsed() { return this.#used; }
  #take() {
    if (this.#used) throw new TypeError('the body has already been read');
    this.#used = true;
    return this.#body;
  }
  async arrayBuffer() { return toArrayBuffer(this.#take()); }
  async bytes() { return this.#take().slice(); }
  async text() { return native.utf8Decode(this.#take(), false); }
  async json() { return JSON.parse(await this.text()); }
  clone() {
    if (this.#used) throw new TypeError('the body has already been read');
    return new Response(this.#body.slice(), this);
  }
  static json(data, init = {}) {
    const headers = new Headers(init.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new Response(JSON.stringify(data), { ...init, headers });
  }
}

const ABORT = Symbol('abort');
const TIMEOUT = Symbol('timeout');

class AbortSignal {
  #listeners = [];
  aborted = false;
  reason = undefined;
  onabort = null;
  addEventListener(type, listener) { if (type === 'abort') this.#listeners.push(listener); }
  removeEventListener(type, listener) { this.#listeners = this.#listeners.filter((l) => l !== listener); }
  throwIfAborted() { if (this.aborted) throw this.reason; }
  [ABORT](reason) {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    const event = { type: 'abort', target: this };
    for (const listener of [...this.#listeners, this.onabort].filter(Boolean)) listener.call(this, event);
  }
  static abort(reason) { const signal = new AbortSignal(); signal[ABORT](reason); return signal; }
  static timeout(ms) {
    const signal = new AbortSignal();
    signal[TIMEOUT] = Number(ms);
    return signal;
  }
}

class AbortController {
  signal = new AbortSignal();
  abort(reason) { this.signal[ABORT](reason); }
}

function requestBody(body, headers) {
  if (body == null) return undefined;
  const type = (value) => { if (!headers.has('content-type')) headers.set('content-type', value); };
  if (typeof body === 'string') { type('text/plain;charset=UTF-8'); return toBytes(body); }
  if (body instanceof URLSearchParams) {
    type('application/x-www-form-urlencoded;charset=UTF-8');
    return toBytes(body.toString());
  }
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return toBytes(body);
  throw new TypeError('fetch: the body must be a string, URLSearchParams, an ArrayBuffer or a typed array (JSON.stringify objects)');
}

async function fetch(input, init = {}) {
  const url = input instanceof URL ? input.href : typeof input === 'object' && input ? String(input.url) : String(input);
  const method = String(init.method ?? input?.method ?? 'GET').toUpperCase();
  const headers = new Headers(init.headers ?? input?.headers);
  const body = requestBody(init.body ?? input?.body, headers);
  const signal = init.signal ?? input?.signal;
  signal?.throwIfAborted();
  const timeout = init.timeout ?? signal?.[TIMEOUT];
  const id = native.fetch(url, method, [...headers], body, timeout === undefined ? undefined : Number(timeout));
  const answer = awaitAnswer(id, (r) => new Response(r.body, { ...r, redirected: r.url !== url }));
  if (!signal) return answer;
  return new Promise((resolve, reject) => {
    signal.addEventListener('abort', () => { pending.delete(id); reject(signal.reason); });
    answer.then(resolve, reject);
  });
}

define('fetch', fetch);
define('Headers', Headers);
define('Response', Response);
define('AbortController', AbortController);
define('AbortSignal', AbortSignal);

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

export function run(code, data, stepResults, hasBinary) {
  const context = { ...data, logger, invokeFlow };
  const results = hasBinary ? revive(stepResults) : stepResults;
  return (async () => code(context, results))();
}
