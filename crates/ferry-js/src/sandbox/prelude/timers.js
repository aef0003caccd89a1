//! `setTimeout`, `setInterval`, `clearTimeout` and `clearInterval`, built when a step first
//! names one, and `fire`, which the core calls when the Rust event loop finds a timer due.

export function build({ native }) {
  const timers = { __proto__: null };
  let nextTimer = 1;

  function add(callback, ms, args, repeat) {
    if (typeof callback !== 'function') throw new TypeError('the callback must be a function');
    const id = nextTimer++;
    const delay = Math.max(0, Number(ms) || 0);
    timers[id] = { run: () => callback(...args), delay, repeat };
    native.timer(id, delay);
    return id;
  }

  function clear(id) {
    if (id in timers) {
      delete timers[id];
      native.clearTimer(id);
    }
  }

  function fire(id) {
    const timer = timers[id];
    if (!timer) return;
    if (timer.repeat) native.timer(id, timer.delay);
    else delete timers[id];
    timer.run();
  }

  return {
    setTimeout: (callback, ms, ...args) => add(callback, ms, args, false),
    setInterval: (callback, ms, ...args) => add(callback, ms, args, true),
    clearTimeout: clear,
    clearInterval: clear,
    fire,
  };
}
