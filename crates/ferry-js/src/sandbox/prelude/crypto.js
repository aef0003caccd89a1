//! `crypto`: `randomUUID`, `getRandomValues`, and `subtle` with digests (SHA-1/256/384/512)
//! and HMAC keys (`importKey` raw, `sign`, `verify`, `exportKey`), built on first use.

export function build({ native, toBytes, toArrayBuffer }) {
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

  const crypto = Object.freeze({
    subtle,
    randomUUID: () => native.randomUUID(),
    getRandomValues(array) {
      if (!ArrayBuffer.isView(array) || array instanceof DataView) throw new TypeError('getRandomValues needs an integer typed array');
      if (array.byteLength > 65536) throw new DOMException('at most 65536 bytes at a time', 'QuotaExceededError');
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(native.randomBytes(array.byteLength));
      return array;
    },
  });
  return { crypto, CryptoKey };
}
