//! Ferry's JavaScript runtime: `code.run` steps in embedded QuickJS sandboxes (`DESIGN.md` 3.5).
//! No Node.js is needed: QuickJS (through `rquickjs`) is compiled into the binary.
//!
//! A code step is CommonJS-shaped:
//!
//! ```js
//! module.exports = async (context, stepResults) => ({ data, statusCode, headers, contentType });
//! ```
//!
//! (`export default` works too.) The code is an ES module, so strict mode applies and there is
//! no `require`. It may be TypeScript ([`Language::TypeScript`]): its types are stripped in
//! Rust ([`typescript::strip_types`]) before QuickJS compiles it. [`JsRuntime::run_code`] runs one such step and gives its [`CodeOutput`];
//! everything the step needs from the engine goes through a [`CodeHost`].
//!
//! # How runs are isolated
//!
//! A [`JsRuntime`] is a pool of threads, each owning one QuickJS runtime (a heap) and running
//! one code step at a time, in a fresh context (its own globals) that no other step used,
//! dropped after it; the garbage of dropped contexts is collected every few steps.
//! (`DESIGN.md` asks for a sandbox per execution; this is one per code step, which is
//! stricter.) A node may instead keep contexts warm ([`JsOptions::keep_warm`], off by
//! default): a code step then runs in the context an earlier step of the same scope (the
//! instance) and code left, calling its function again, so what the code keeps at its
//! module's top level lasts between that instance's executions; nothing crosses scopes. So:
//!
//! - **memory**: the memory limit is a QuickJS *runtime* limit; with one step per runtime at a
//!   time it is a per-step limit, and one step's allocations cannot push another over its own;
//! - **time**: the runtime's interrupt handler checks the step's deadline (and whether the
//!   caller gave up), so `while (true) {}` stops; waits (timers, `fetch`) are bounded by the
//!   same deadline;
//! - **stack**: the threads have a known stack, larger than QuickJS's stack limit, so a deep
//!   recursion is a catchable `RangeError` reported as a stack overflow, never a crash;
//! - **the server**: JavaScript never runs on the async executor's threads, so a busy code step
//!   slows no HTTP request. The pool grows on demand up to `max_runtimes` threads; further
//!   steps wait for a free one (their wait counts against their deadline).
//!
//! Threads talk to the caller through channels: the sandbox asks for host work (log lines,
//! `fetch`, `invokeFlow`), the caller's task does it on the async runtime and sends the
//! answers back. When the caller stops waiting, the sandbox sees it and ends the step.
//!
//! # The sandbox
//!
//! QuickJS without its `std`/`os` modules: no file system, no process, no environment, no
//! module loading (a custom component's bundle may load `@ferry/sdk`, nothing else; see
//! [`component`]). Added globals: `console`, `fetch` (http and https only, bodies capped, with
//! a timeout) with `Headers`/`Response`/`AbortController`, `URL`, `URLSearchParams`,
//! `TextEncoder`/`TextDecoder`, `atob`/`btoa`, `crypto.randomUUID`/`getRandomValues`,
//! `crypto.subtle` (`digest`, HMAC `importKey`/`sign`/`verify`), `setTimeout`/`setInterval`
//! and their `clear*`, `structuredClone`. QuickJS supplies `queueMicrotask` and `performance`.
//!
//! # Speed
//!
//! Compiled code is cached as QuickJS bytecode keyed by the SHA-256 of its language and text,
//! shared by all threads (so TypeScript is stripped once, when first compiled); the built-in globals are compiled once per thread, and only their core is loaded
//! into every context (the rest when a step first names it). A thread prepares the next
//! context, and every few steps collects the garbage of the last ones, after it has sent a
//! step's answer, so a step waits for neither. What is left per step: the thread hop, loading
//! the bytecode, the call, and the JSON in and out (`tests/bench.rs` measures it).
//!
//! # Sizes
//!
//! Turning the returned value into JSON stops at `max_result_bytes`, so a small JavaScript
//! value standing for a huge one (a sparse array) cannot make the Rust side allocate without
//! bound; `fetch` bodies and `invokeFlow` data stop at `max_fetch_bytes`.

#![deny(missing_docs)]
#![deny(unsafe_code)]

mod cache;
mod channel;
pub mod component;
mod error;
mod fetch;
mod handoff;
mod pool;
mod runtime;
mod sandbox;
mod step_results;
pub mod typescript;

use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

pub use component::{prepare_bundle, ComponentCall, Operation};
pub use error::JsError;
pub use runtime::JsRuntime;
pub use step_results::{has_binary, StepResults};
pub use typescript::Language;

/// How the sandboxes are set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsOptions {
    /// The most one code step may allocate (default 1 GiB).
    pub memory_limit_bytes: usize,
    /// QuickJS's stack limit (default 1 MiB); the threads get this plus room for Rust.
    pub max_stack_bytes: usize,
    /// How many code steps may run at once, one QuickJS runtime (and thread) each (default 8).
    pub max_runtimes: usize,
    /// How many of them may compute at once (default: the machine's cores); the others wait
    /// for a core. A step waiting for host work (`fetch`, `invokeFlow`, a timer) does not
    /// count.
    pub cores: usize,
    /// The longest one `fetch` may take when the code sets no shorter timeout (default 5 min);
    /// the step's deadline bounds it too.
    pub fetch_timeout: Duration,
    /// The largest request or response body `fetch` moves, and the largest `invokeFlow` data
    /// (default 50 MiB).
    pub max_fetch_bytes: usize,
    /// The largest part of a result (`data`, each state scope's changes), as JSON (default
    /// 100 MiB, the engine's default limit on a step's result).
    pub max_result_bytes: usize,
    /// How many code steps each runtime keeps warm for later executions of the same scope
    /// and code (default 0: every step gets a fresh context). See [`CodeCall::warm_scope`].
    pub keep_warm: usize,
}

/// 1 GiB: the default memory limit of a code step.
pub const DEFAULT_MEMORY_LIMIT: usize = 1024 * 1024 * 1024;

impl Default for JsOptions {
    fn default() -> Self {
        JsOptions {
            memory_limit_bytes: DEFAULT_MEMORY_LIMIT,
            max_stack_bytes: 1024 * 1024,
            max_runtimes: 8,
            cores: std::thread::available_parallelism().map_or(2, |n| n.get()),
            fetch_timeout: Duration::from_secs(300),
            max_fetch_bytes: 50 * 1024 * 1024,
            max_result_bytes: 100 * 1024 * 1024,
            keep_warm: 0,
        }
    }
}

/// One code step to run.
#[derive(Debug, Clone)]
pub struct CodeCall {
    /// The code: JavaScript, or TypeScript when `language` says so.
    pub code: String,
    /// What `code` is written in. TypeScript has its types stripped ([`typescript`]) when it
    /// is first compiled; the cache keeps the result under the hash of the TypeScript.
    pub language: Language,
    /// What `context` carries besides its functions: `configVars`, `customer`, `instance`,
    /// `flow`, `integration`, `executionId`, `stepId`, `webhookUrls`, `webhookApiKeys`,
    /// `debug`, and the state scopes' current values (`executionState`, `instanceState`,
    /// `crossFlowState`, `integrationState`). Any JSON object; given to the code as is.
    pub context: Value,
    /// The earlier steps' results by reference name (`{ shapeOrder: { results } }`). Binary
    /// values (`{ contentType, base64 }`) reach the code as `{ data: Uint8Array, contentType }`.
    pub step_results: StepResults,
    /// When the step must have ended.
    pub deadline: Instant,
    /// The time limit `deadline` comes from, named in the error when it passes.
    pub time_limit: Duration,
    /// Who may share a context kept warm ([`JsOptions::keep_warm`]): steps with the same
    /// scope and the same code run in one context, one after another, so what the code keeps
    /// at its module's top level lasts between them. The engine gives the instance's id, so
    /// nothing crosses customers. `None`: a fresh context, always.
    pub warm_scope: Option<String>,
}

/// What a code step returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CodeOutput {
    /// `data`: the step's result. A `Uint8Array` or `ArrayBuffer` becomes a binary value
    /// `{ contentType, base64 }`.
    pub data: Value,
    /// `statusCode`, for a synchronous caller.
    pub status_code: Option<u16>,
    /// `headers`, for a synchronous caller: header name → text.
    pub headers: Option<Map<String, Value>>,
    /// `contentType`, for a synchronous caller.
    pub content_type: Option<String>,
    /// The state the code changed.
    pub state_changes: StateChanges,
}

/// State written by a code step, per scope: key → new value, `null` meaning delete.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateChanges {
    /// `executionState`: this execution only.
    pub execution: Map<String, Value>,
    /// `instanceState`: the flow config's (Ferry's `flow` scope).
    pub flow: Map<String, Value>,
    /// `crossFlowState`: shared by the instance's flows (Ferry's `instance` scope).
    pub instance: Map<String, Value>,
    /// `integrationState`: shared by every instance of the integration.
    pub integration: Map<String, Value>,
}

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// `logger.debug`, `console.debug`.
    Debug,
    /// `logger.info`, `console.log`, `console.info`.
    Info,
    /// `logger.warn`, `console.warn`.
    Warn,
    /// `logger.error`, `console.error`.
    Error,
}

/// The longest log line, in characters; longer ones are cut.
pub const MAX_LOG_CHARS: usize = 4096;

/// What a code step needs from the engine that runs it.
pub trait CodeHost: Send + Sync {
    /// Writes a line (at most [`MAX_LOG_CHARS`] characters) to the execution's logs.
    fn log(&self, level: LogLevel, message: &str);

    /// `context.invokeFlow(name, data)`: runs another flow of the same instance and gives its
    /// result, or an error message the code's promise is rejected with.
    fn invoke_flow(&self, name: String, data: Value) -> BoxFuture<'_, Result<Value, String>>;

    /// Called before the code reaches outside its execution (each `fetch`, before the request
    /// is sent), so the engine can first make durable what the execution did so far. An error
    /// rejects the request with that message; nothing is sent. Does nothing by default.
    fn before_effect(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}
