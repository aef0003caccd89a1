//! `URL` and `URLSearchParams` over the natives' WHATWG parser and form encoding, built when a
//! step first names them.

export function build({ native }) {
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

  return { URL, URLSearchParams };
}
