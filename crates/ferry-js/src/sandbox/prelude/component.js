//! A custom component's entry points, built only for a component's operation: `enter` lets
//! the bundle `require` the SDK (and nothing else), `invoke` runs one of its operations.

export function build({ define, group, logger, invokeFlow, revive }) {
  const SDK_NAME = '@ferry/sdk';
  const sdk = () => group('sdk');

  function enter() {
    define('require', (name) => {
      if (name === SDK_NAME) return sdk().exports;
      throw new Error(`require(${JSON.stringify(name)}) is not available: a component bundle may require only "${SDK_NAME}"; bundle other modules into it`);
    });
  }

  function invoke(exported, operation, key, data, args, hasBinary) {
    const context = { ...data, logger, invokeFlow };
    const given = hasBinary ? revive(args) : args;
    return (async () => sdk().invoke(exported, operation, key, context, given))();
  }

  return { enter, invoke };
}
