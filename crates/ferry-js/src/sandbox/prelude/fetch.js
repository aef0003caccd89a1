//! `fetch` with `Headers`, `Response`, `AbortController` and `AbortSignal` (including
//! `AbortSignal.timeout` and a `timeout` option), built on first use. Requests go to the host
//! through the natives; answers come back through the core's `awaitAnswer`.

export function build({ native, toBytes, toArrayBuffer, awaitAnswer, pending }) {
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
    const answer = awaitAnswer(id, (r) => new Response(r.body, r));
    if (!signal) return answer;
    return new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => { delete pending[id]; reject(signal.reason); });
      answer.then(resolve, reject);
    });
  }

  return { fetch, Headers, Response, AbortController, AbortSignal };
}
