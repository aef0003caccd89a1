//! `TextEncoder` and `TextDecoder` (UTF-8 only), built when a step first names them.

export function build({ native, toBytes }) {
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

  return { TextEncoder, TextDecoder };
}
