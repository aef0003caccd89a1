//! `structuredClone`: deep copies keeping dates, regular expressions, maps, sets, buffers,
//! errors and cycles, refusing functions and symbols; built on first use.

export function build({  }) {
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

  const structuredClone = (value) => cloneInto(value, new Map());
  return { structuredClone };
}
