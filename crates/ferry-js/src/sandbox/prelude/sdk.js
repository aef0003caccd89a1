//! The SDK custom components are built on (`@ferry/sdk`), shaped like the reference's:
//! `component`, `action`, `input`, `trigger`, `pollingTrigger`, `connection`,
//! `oauth2Connection`, `dataSource`, `templateConnectionInputs`, `util.types`, the error classes
//! `ConnectionError`, `HttpResponseError` and `InputError`; and, for the Rust side, `invoke`:
//! an operation of a component (its manifest, an action, a trigger or its hooks, a data source)
//! run with cleaned inputs, giving a result in a code step's shape. Built on first use.

export function build({ native, toBytes }) {
  const BRAND = '__ferryComponent';

  // ---- errors ------------------------------------------------------------------------------

  class ConnectionError extends Error {
    constructor(connection, message) {
      super(message);
      this.name = 'ConnectionError';
      this.connection = connection;
    }
  }

  class HttpResponseError extends Error {
    constructor(message, response) {
      super(message);
      this.name = 'HttpResponseError';
      this.response = response;
    }
  }

  class InputError extends Error {
    constructor(message) {
      super(message);
      this.name = 'InputError';
    }
  }

  // ---- util.types --------------------------------------------------------------------------

  const shown = (value) => {
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return String(value);
    }
  };
  const blank = (value) => value === undefined || value === null || value === '';

  const isBool = (value) => value === true || value === false;
  function toBool(value, defaultValue) {
    if (isBool(value)) return value;
    if (typeof value === 'string') {
      const text = value.trim().toLowerCase();
      if (['t', 'true', 'y', 'yes', '1'].includes(text)) return true;
      if (['f', 'false', 'n', 'no', '0', ''].includes(text)) return text === '' ? Boolean(defaultValue) : false;
    }
    if (blank(value)) return Boolean(defaultValue);
    return Boolean(value);
  }

  const isNumber = (value) => typeof value === 'number' && Number.isFinite(value);
  function toNumber(value, defaultValue) {
    if (isNumber(value)) return value;
    if (blank(value) && defaultValue !== undefined) return defaultValue;
    const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    if (!Number.isFinite(number)) throw new InputError(`Value ${shown(value)} cannot be coerced to a number.`);
    return number;
  }

  const isInt = (value) => Number.isInteger(value);
  function toInt(value, defaultValue) {
    if (isInt(value)) return value;
    if (blank(value) && defaultValue !== undefined) return defaultValue;
    const number = toNumber(value);
    if (!Number.isInteger(number)) throw new InputError(`Value ${shown(value)} cannot be coerced to an integer.`);
    return number;
  }

  function toString(value, defaultValue = '') {
    if (blank(value)) return defaultValue;
    if (typeof value === 'string') return value;
    if (value instanceof Uint8Array) return native.utf8Decode(value);
    if (typeof value === 'object') return isData(value) ? toString(value.data) : shown(value);
    return String(value);
  }

  const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);
  function toObject(value) {
    if (isObject(value) || Array.isArray(value)) return value;
    if (typeof value === 'string') {
      try {
        return JSON.parse(value);
      } catch (error) {
        throw new InputError(`Value ${shown(value.slice(0, 80))} is not JSON: ${error.message}`);
      }
    }
    if (blank(value)) return {};
    throw new InputError(`Value ${shown(value)} cannot be coerced to an object.`);
  }

  const isData = (value) => isObject(value) && value.data instanceof Uint8Array;
  function toData(value) {
    if (isData(value)) return { data: value.data, contentType: value.contentType ?? 'application/octet-stream' };
    if (value instanceof Uint8Array || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
      return { data: toBytes(value), contentType: 'application/octet-stream' };
    }
    if (isObject(value) && typeof value.base64 === 'string') {
      return { data: native.base64Decode(value.base64), contentType: value.contentType ?? 'application/octet-stream' };
    }
    if (typeof value === 'string') return { data: toBytes(value), contentType: 'text/plain; charset=utf-8' };
    if (isObject(value) || Array.isArray(value)) {
      return { data: toBytes(JSON.stringify(value)), contentType: 'application/json' };
    }
    throw new InputError(`Value ${shown(value)} cannot be coerced to data.`);
  }

  function keyValPairListToObject(list, valueConverter) {
    const convert = typeof valueConverter === 'function' ? valueConverter : (v) => v;
    if (blank(list)) return {};
    if (isObject(list)) return Object.fromEntries(Object.entries(list).map(([k, v]) => [k, convert(v)]));
    if (!Array.isArray(list)) throw new InputError(`Value ${shown(list)} is not a list of { key, value } pairs.`);
    const object = {};
    for (const pair of list) {
      if (!isObject(pair) || typeof pair.key !== 'string') throw new InputError(`${shown(pair)} is not a { key, value } pair.`);
      object[pair.key] = convert(pair.value);
    }
    return object;
  }

  const isUrl = (value) => {
    try {
      return typeof value === 'string' && ['http:', 'https:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  };

  const util = Object.freeze({
    types: Object.freeze({
      isBool, toBool, isNumber, toNumber, isInt, toInt, toString, isObject, toObject,
      isData, toData, keyValPairListToObject, isUrl,
    }),
  });

  // ---- declarations ------------------------------------------------------------------------

  const OAuth2Type = Object.freeze({
    AuthorizationCode: 'authorization_code',
    ClientCredentials: 'client_credentials',
    Password: 'password',
  });
  const OAuth2PkceMethod = Object.freeze({ Plain: 'plain', S256: 'S256' });

  function declared(what, definition) {
    if (!isObject(definition)) throw new TypeError(`${what}() takes an object, not ${shown(definition)}`);
    return { ...definition };
  }

  const action = (definition) => declared('action', definition);
  const input = (definition) => declared('input', definition);
  const trigger = (definition) => declared('trigger', definition);
  const pollingTrigger = (definition) => ({ ...declared('pollingTrigger', definition), polling: true });
  const dataSource = (definition) => declared('dataSource', definition);
  const connection = (definition) => declared('connection', definition);
  const oauth2Connection = (definition) => ({
    oauth2Type: OAuth2Type.AuthorizationCode,
    ...declared('oauth2Connection', definition),
    oauth2: true,
  });
  const templateConnectionInputs = (inputs, templated) => ({ ...inputs, ...templated });

  function component(definition) {
    const made = declared('component', definition);
    Object.defineProperty(made, BRAND, { value: true, enumerable: false });
    return Object.freeze(made);
  }

  const exports = Object.freeze({
    component, action, input, trigger, pollingTrigger, connection, oauth2Connection, dataSource,
    templateConnectionInputs, util, OAuth2Type, OAuth2PkceMethod, ConnectionError, HttpResponseError,
    InputError,
  });

  // ---- the manifest ------------------------------------------------------------------------

  // The members of a map of key → definition (`actions`, `triggers`, `dataSources`, inputs).
  function members(value, path) {
    if (value === undefined || value === null) return [];
    if (!isObject(value)) throw new TypeError(`${path} must be an object of key → definition, not ${Array.isArray(value) ? 'an array' : shown(value)}`);
    return Object.entries(value).map(([key, item]) => {
      if (!isObject(item)) throw new TypeError(`${path}.${key} must be an object, not ${shown(item)}`);
      return [key, item];
    });
  }

  const text = (value) => (typeof value === 'string' ? value : undefined);
  const display = (value) => (isObject(value) ? { label: text(value.label), description: text(value.description) } : {});
  const plain = (value) => {
    if (value === undefined || typeof value === 'function') return undefined;
    try {
      return JSON.parse(JSON.stringify(value));
    } catch {
      return undefined;
    }
  };

  function describeInput(key, item) {
    return {
      key, label: text(item.label), type: typeof item.type === 'string' ? item.type : shown(item.type),
      required: item.required === true, default: plain(item.default), collection: plain(item.collection),
      model: plain(item.model), comments: text(item.comments), placeholder: text(item.placeholder),
      example: plain(item.example), language: text(item.language), shown: item.shown !== false,
      hasClean: typeof item.clean === 'function',
    };
  }

  const describeInputs = (value, path) => members(value, path).map(([key, item]) => describeInput(key, item));

  function describe(made) {
    const actions = members(made.actions, 'actions').map(([key, item]) => ({
      key, display: display(item.display), inputs: describeInputs(item.inputs, `actions.${key}.inputs`),
      hasPerform: typeof item.perform === 'function', examplePayload: plain(item.examplePayload),
      allowsBranching: item.allowsBranching === true, staticBranchNames: plain(item.staticBranchNames) ?? [],
    }));
    const triggers = members(made.triggers, 'triggers').map(([key, item]) => ({
      key, display: display(item.display), inputs: describeInputs(item.inputs, `triggers.${key}.inputs`),
      hasPerform: typeof item.perform === 'function',
      hasOnInstanceDeploy: typeof item.onInstanceDeploy === 'function',
      hasOnInstanceDelete: typeof item.onInstanceDelete === 'function',
      synchronousResponseSupport: text(item.synchronousResponseSupport) ?? 'valid',
      scheduleSupport: text(item.scheduleSupport) ?? 'invalid', polling: item.polling === true,
      examplePayload: plain(item.examplePayload),
    }));
    const dataSources = members(made.dataSources, 'dataSources').map(([key, item]) => ({
      key, display: display(item.display), inputs: describeInputs(item.inputs, `dataSources.${key}.inputs`),
      hasPerform: typeof item.perform === 'function', dataSourceType: text(item.dataSourceType),
      examplePayload: plain(item.examplePayload),
    }));
    const given = made.connections ?? [];
    if (!Array.isArray(given)) throw new TypeError('connections must be an array of connection(...) definitions');
    const connections = given.map((item, index) => {
      if (!isObject(item)) throw new TypeError(`connections[${index}] must be an object, not ${shown(item)}`);
      return {
        key: text(item.key), display: display(item.display), inputs: describeInputs(item.inputs, `connections[${index}].inputs`),
        oauth2: item.oauth2 === true, oauth2Type: text(item.oauth2Type), oauth2PkceMethod: text(item.oauth2PkceMethod),
      };
    });
    return {
      key: text(made.key), public: made.public === true, display: display(made.display),
      actions, triggers, connections, dataSources,
      hooks: { error: typeof made.hooks?.error === 'function' },
    };
  }

  // ---- running an operation -----------------------------------------------------------------

  // A connection input's value as `perform` sees it: `{ key, fields, token? }`.
  function connectionValue(value) {
    if (!isObject(value)) return value;
    if (isObject(value.fields) || isObject(value.token)) return value;
    return { fields: value };
  }

  // The step's inputs as `perform` sees them: defaults, required inputs, collections, `clean`.
  function cleanParams(inputs, given, where) {
    const params = {};
    for (const [key, item] of members(inputs, `${where}.inputs`)) {
      let value = isObject(given) ? given[key] : undefined;
      if (blank(value) && item.default !== undefined) value = item.default;
      if (blank(value) && item.required === true) {
        throw new InputError(`${where}: input "${key}"${item.label ? ` (${item.label})` : ''} is required`);
      }
      if (item.collection === 'keyvaluelist' && isObject(value)) {
        value = Object.entries(value).map(([k, v]) => ({ key: k, value: v }));
      }
      if (item.type === 'connection') value = connectionValue(value);
      if (typeof item.clean === 'function') {
        try {
          value = item.clean(value);
        } catch (error) {
          throw new InputError(`${where}: input "${key}": ${error instanceof Error ? error.message : shown(error)}`);
        }
      }
      params[key] = value;
    }
    return params;
  }

  function member(made, group, key) {
    const found = isObject(made[group]) && Object.hasOwn(made[group], key) ? made[group][key] : undefined;
    if (!isObject(found)) {
      const known = isObject(made[group]) ? Object.keys(made[group]).join(', ') || 'none' : 'none';
      throw new InputError(`component ${shown(made.key)} has no ${group.replace(/s$/, '')} ${shown(key)}; it has: ${known}`);
    }
    return found;
  }

  // Runs `body`, passing what it throws through the component's error hook.
  async function guarded(made, body) {
    try {
      return await body();
    } catch (error) {
      const hook = made.hooks?.error;
      throw typeof hook === 'function' ? hook(error) ?? error : error;
    }
  }

  const result = (returned) => (returned === undefined || returned === null ? { data: null } : returned);

  async function runAction(made, key, context, args) {
    const definition = member(made, 'actions', key);
    const where = `action "${key}"`;
    if (typeof definition.perform !== 'function') throw new InputError(`${where} has no perform function`);
    const params = cleanParams(definition.inputs, args.params, where);
    return result(await guarded(made, () => definition.perform(context, params)));
  }

  async function runTrigger(made, key, context, args) {
    const definition = member(made, 'triggers', key);
    const where = `trigger "${key}"`;
    if (typeof definition.perform !== 'function') throw new InputError(`${where} has no perform function`);
    const params = cleanParams(definition.inputs, args.params, where);
    const returned = await guarded(made, () => definition.perform(context, args.payload, params));
    const { payload, response, ...rest } = isObject(returned) ? returned : {};
    return { ...rest, data: { payload: payload ?? args.payload, response: response ?? null } };
  }

  async function runHook(made, hook, key, context, args) {
    const definition = member(made, 'triggers', key);
    if (typeof definition[hook] !== 'function') return { data: null };
    const params = cleanParams(definition.inputs, args.params, `trigger "${key}"`);
    return result(await guarded(made, () => definition[hook](context, params)));
  }

  async function runDataSource(made, key, context, args) {
    const definition = member(made, 'dataSources', key);
    const where = `data source "${key}"`;
    if (typeof definition.perform !== 'function') throw new InputError(`${where} has no perform function`);
    const params = cleanParams(definition.inputs, args.params, where);
    const returned = await guarded(made, () => definition.perform(context, params));
    return { data: isObject(returned) ? returned.result ?? null : null };
  }

  function invoke(made, operation, key, context, args) {
    switch (operation) {
      case 'manifest': return { data: describe(made) };
      case 'action': return runAction(made, key, context, args);
      case 'trigger': return runTrigger(made, key, context, args);
      case 'onInstanceDeploy':
      case 'onInstanceDelete': return runHook(made, operation, key, context, args);
      case 'dataSource': return runDataSource(made, key, context, args);
      default: throw new TypeError(`unknown component operation ${operation}`);
    }
  }

  return { exports, invoke };
}
