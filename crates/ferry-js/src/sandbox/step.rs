//! One step inside its context: install the natives and the prelude (in a fresh context), load
//! the code (bytecode from the cache, or compiled, after stripping TypeScript's types, and
//! cached) and find its exported function, unless a kept context gives it; call it, and run
//! the event loop — microtasks, due timers, answers to host work — until its promise settles,
//! the deadline passes, or nothing is left that could settle it.

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use rquickjs::promise::PromiseState;
use rquickjs::{Ctx, Function, Module, Object, Promise, Value};

use super::convert::{self, Problem};
use super::failure::{self, Limits, CODE_FILE};
use super::intrinsics;
use super::natives::{self, Link};
use super::output::{self, Refusal};
use super::{load, script, Prelude, Watch};
use crate::cache;
use crate::channel::{Answer, FetchResponse, Reply, Task};
use crate::pool::Settings;
use crate::typescript::strip_types;
use crate::{CodeCall, CodeOutput, JsError, Language};

/// What a step reads besides its context.
pub(super) struct Parts<'a> {
    pub(super) task: &'a Task,
    pub(super) settings: &'a Settings,
    pub(super) limits: &'a Limits,
    pub(super) watch: &'a Watch,
    pub(super) link: &'a Rc<Link>,
}

/// Makes a fresh context ready for a step not known yet: the natives, then the prelude's
/// core. Gives the core's functions (`run`, `complete`, `fire`, `components`).
pub(super) fn prepare<'js>(
    ctx: &Ctx<'js>,
    prelude: &Rc<Prelude>,
    link: &Rc<Link>,
) -> rquickjs::Result<Object<'js>> {
    prelude.lazy.install(ctx)?;
    natives::install(ctx, link, prelude)?;
    script::run(ctx, &prelude.core)?.get()
}

/// Runs the step in a prepared context to its output. A code step calls `code` when given
/// (its code's function, kept from an earlier step in this context), else loads its code and
/// leaves the function in `code`.
pub(super) fn run<'js>(
    ctx: &Ctx<'js>,
    parts: &Parts<'_>,
    core: Object<'js>,
    answers: &Receiver<Answer>,
    code: &mut Option<Function<'js>>,
) -> Result<CodeOutput, JsError> {
    let fail = |error| failure::classify(ctx, error, parts.limits);
    let events = Events {
        ctx,
        answers,
        complete: core.get("complete").map_err(fail)?,
        fire: core.get("fire").map_err(fail)?,
        parts,
    };
    let promise = match parts.task {
        Task::Code(call) => events.start_code(call, &core, code)?,
        Task::Component(call) => super::component::start(&events, call, &core)?,
    };
    let returned = events.settle(&promise)?;
    let budget = parts.settings.options.max_result_bytes;
    output::read(returned, budget).map_err(|refusal| refused(ctx, refusal, parts.limits))
}

fn refused(ctx: &Ctx<'_>, refusal: Refusal, limits: &Limits) -> JsError {
    match refusal {
        Refusal::Invalid(message) => JsError::InvalidResult(message),
        Refusal::Problem(problem) => problem_error(ctx, problem, limits),
    }
}

fn problem_error(ctx: &Ctx<'_>, problem: Problem, limits: &Limits) -> JsError {
    match problem {
        Problem::Threw(error) => failure::classify(ctx, error, limits),
        Problem::Unfit { path, problem } => JsError::Unserializable { path, problem },
    }
}

/// The event loop of one step.
pub(super) struct Events<'a, 'js> {
    pub(super) ctx: &'a Ctx<'js>,
    answers: &'a Receiver<Answer>,
    complete: Function<'js>,
    fire: Function<'js>,
    parts: &'a Parts<'a>,
}

impl<'js> Events<'_, 'js> {
    pub(super) fn fail(&self, error: rquickjs::Error) -> JsError {
        failure::classify(self.ctx, error, self.parts.limits)
    }

    /// Starts a code step: its function (`code`, or loaded into it) called with `context` and
    /// `stepResults`.
    fn start_code(
        &self,
        call: &CodeCall,
        core: &Object<'js>,
        code: &mut Option<Function<'js>>,
    ) -> Result<Promise<'js>, JsError> {
        let fail = |error| self.fail(error);
        let code = match code {
            Some(kept) => kept.clone(),
            None => code.insert(self.load_code(call)?).clone(),
        };
        let context = convert::to_js(self.ctx, &call.context).map_err(fail)?;
        let results = self
            .ctx
            .json_parse(call.step_results.json())
            .map_err(fail)?;
        let binary = call.step_results.has_binary();
        let start: Function = core.get("run").map_err(fail)?;
        start.call((code, context, results, binary)).map_err(fail)
    }

    /// Compiles (or loads from the cache) and evaluates the module `source`, named `file` in
    /// stacks: its namespace.
    /// TypeScript is stripped only on a cache miss.
    pub(super) fn load_module(
        &self,
        source: &str,
        file: &str,
        language: Language,
    ) -> Result<Object<'js>, JsError> {
        let key = cache::key_of(language, &format!("{file}\0{source}"));
        let module = match self.parts.settings.cache.get(&key) {
            Some(bytecode) => load(self.ctx, &bytecode).map_err(|e| self.fail(e))?,
            None => {
                let source = match language {
                    Language::JavaScript => Cow::Borrowed(source),
                    Language::TypeScript => Cow::Owned(strip_types(source, file)?),
                };
                let declared = Module::declare(self.ctx.clone(), file, &*source)
                    .map_err(|e| failure::compile(self.ctx, e, self.parts.limits, file))?;
                if let Ok(bytecode) = declared.write(rquickjs::WriteOptions::default()) {
                    self.parts.settings.cache.put(key, bytecode);
                }
                declared
            }
        };
        let (evaluated, promise) = module.eval().map_err(|e| self.fail(e))?;
        self.settle(&promise)?;
        evaluated.namespace().map_err(|e| self.fail(e))
    }

    /// The code's exported function: `export default`, or `module.exports`.
    fn load_code(&self, call: &CodeCall) -> Result<Function<'js>, JsError> {
        let namespace = self.load_module(&call.code, CODE_FILE, call.language)?;
        let default: Value = namespace.get("default").map_err(|e| self.fail(e))?;
        if let Some(function) = default.as_function() {
            return Ok(function.clone());
        }
        let module: Object = self.ctx.globals().get("module").map_err(|e| self.fail(e))?;
        let exported: Value = module.get("exports").map_err(|e| self.fail(e))?;
        exported
            .as_function()
            .cloned()
            .ok_or_else(|| JsError::NoExport {
                found: described(&exported),
            })
    }

    /// Runs the loop until `promise` settles: its value, or why it failed.
    pub(super) fn settle(&self, promise: &Promise<'js>) -> Result<Value<'js>, JsError> {
        loop {
            while self.ctx.execute_pending_job() {}
            if self.parts.watch.stopped().is_some() {
                return Err(self.over_time());
            }
            match promise.state() {
                PromiseState::Resolved | PromiseState::Rejected => {
                    let settled = promise
                        .result::<Value>()
                        .unwrap_or(Err(rquickjs::Error::Unknown));
                    return settled.map_err(|e| self.fail(e));
                }
                PromiseState::Pending => self.wake()?,
            }
        }
    }

    fn over_time(&self) -> JsError {
        JsError::TimeLimit {
            seconds: self.parts.limits.seconds,
        }
    }

    /// Waits for the next thing that can move the step on, and does it.
    fn wake(&self) -> Result<(), JsError> {
        let now = Instant::now();
        if let Some(id) = self.parts.link.due_timer(now) {
            return self.fire.call::<_, ()>((id,)).map_err(|e| self.fail(e));
        }
        let deadline = self.parts.task.deadline();
        if now >= deadline {
            return Err(self.over_time());
        }
        if self.parts.link.idle() {
            return Err(JsError::Unsettled);
        }
        let until = self
            .parts
            .link
            .next_timer()
            .map_or(deadline, |at| at.min(deadline));
        match self.wait_for_answer(until.saturating_duration_since(now)) {
            Ok(answer) => self.deliver(answer),
            Err(RecvTimeoutError::Timeout) => Ok(()),
            Err(RecvTimeoutError::Disconnected) => Err(JsError::Cancelled),
        }
    }

    /// The next answer to host work, waiting up to `timeout` for it; while it waits, the
    /// step does not count as computing ([`crate::handoff`]).
    fn wait_for_answer(&self, timeout: Duration) -> Result<Answer, RecvTimeoutError> {
        match self.answers.try_recv() {
            Ok(answer) => return Ok(answer),
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {}
        }
        let jobs = &self.parts.settings.jobs;
        jobs.pause();
        let answer = self.answers.recv_timeout(timeout);
        jobs.resume();
        answer
    }

    /// Settles the promise waiting for `answer`.
    fn deliver(&self, answer: Answer) -> Result<(), JsError> {
        self.parts.link.answered();
        let (ok, value) = match answer.result {
            Ok(Reply::Json(json)) => (true, convert::to_js(self.ctx, &json)),
            Ok(Reply::Response(response)) => (true, self.response(response)),
            Err(message) => (
                false,
                rquickjs::String::from_str(self.ctx.clone(), &message).map(|s| s.into_value()),
            ),
        };
        let value = value.map_err(|e| self.fail(e))?;
        self.complete
            .call::<_, ()>((answer.id, ok, value))
            .map_err(|e| self.fail(e))
    }

    /// The fields the prelude's `Response` is made from.
    fn response(&self, response: FetchResponse) -> rquickjs::Result<Value<'js>> {
        let object = Object::new(self.ctx.clone())?;
        object.set("status", response.status)?;
        object.set("statusText", response.status_text)?;
        object.set("url", response.url)?;
        object.set("redirected", response.redirected)?;
        let headers: Vec<Vec<String>> = response
            .headers
            .into_iter()
            .map(|(name, value)| vec![name, value])
            .collect();
        object.set("headers", headers)?;
        let body = intrinsics::bytes(self.ctx, &self.parts.link.added, response.body)?;
        object.set("body", body)?;
        Ok(object.into_value())
    }
}

/// What a non-function export is, for the error.
pub(super) fn described(value: &Value<'_>) -> String {
    if value.is_undefined() {
        "undefined".into()
    } else if value.is_null() {
        "null".into()
    } else if value.is_array() {
        "an array".into()
    } else if value.is_object() {
        let empty = value
            .as_object()
            .is_some_and(|o| o.keys::<String>().next().is_none());
        if empty {
            "an empty object (nothing was exported)".into()
        } else {
            "an object".into()
        }
    } else {
        format!("a {}", value.type_name())
    }
}
