//! One sandbox: a QuickJS runtime owned by one pool thread, with its limits (memory, stack,
//! and an interrupt handler watching the running step's deadline and whether its caller is
//! still waiting) and the prelude compiled once. Each step gets a fresh context, dropped and
//! garbage-collected after it, so nothing a step leaves behind reaches the next.

mod convert;
mod failure;
mod natives;
mod output;
mod step;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use rquickjs::context::intrinsic;
use rquickjs::{Context, Module, Runtime, WriteOptions};

use crate::channel::{Abandoned, Job};
use crate::pool::Settings;
use crate::{CodeOutput, JsError};

/// The prelude's source: the globals the sandbox adds to QuickJS's.
const PRELUDE: &str = include_str!("prelude.js");

/// Why the interrupt handler stopped a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The deadline passed.
    Time,
    /// The caller stopped waiting.
    Abandoned,
}

/// What the interrupt handler watches: set for each step, cleared after it.
#[derive(Default)]
struct Watch {
    deadline: Cell<Option<Instant>>,
    abandoned: RefCell<Option<Abandoned>>,
    stopped: Cell<Option<Stop>>,
}

impl Watch {
    fn arm(&self, deadline: Instant, abandoned: Abandoned) {
        self.deadline.set(Some(deadline));
        self.abandoned.replace(Some(abandoned));
        self.stopped.set(None);
    }

    fn disarm(&self) {
        self.deadline.set(None);
        self.abandoned.replace(None);
    }

    /// Whether the running step must stop now (and why, remembered).
    fn check(&self) -> bool {
        let abandoned = self.abandoned.borrow().as_ref().is_some_and(|a| a.is_set());
        let late = self.deadline.get().is_some_and(|d| Instant::now() >= d);
        let stop = match (abandoned, late) {
            (true, _) => Stop::Abandoned,
            (false, true) => Stop::Time,
            (false, false) => return false,
        };
        self.stopped.set(Some(stop));
        true
    }

    fn stopped(&self) -> Option<Stop> {
        self.stopped.get()
    }
}

/// A QuickJS runtime ready for steps.
pub(crate) struct Sandbox {
    runtime: Runtime,
    watch: Rc<Watch>,
    prelude: Vec<u8>,
    settings: Arc<Settings>,
}

impl Sandbox {
    /// A runtime with the configured limits and the prelude compiled.
    pub(crate) fn new(settings: Arc<Settings>) -> Result<Self, JsError> {
        let failed = |e: rquickjs::Error| JsError::Runtime(format!("could not start QuickJS: {e}"));
        let runtime = Runtime::new().map_err(failed)?;
        runtime.set_max_stack_size(settings.options.max_stack_bytes);
        let watch = Rc::new(Watch::default());
        let watching = watch.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || watching.check())));
        let prelude = compile_prelude(&runtime).map_err(failed)?;
        // The limit comes last: compiling the prelude must not count against a small one.
        runtime.set_memory_limit(settings.options.memory_limit_bytes);
        Ok(Sandbox {
            runtime,
            watch,
            prelude,
            settings,
        })
    }

    /// Runs `job` and sends its end to its caller.
    pub(crate) fn run(&mut self, job: Job) {
        let Job {
            call,
            requests,
            answers,
            abandoned,
            done,
        } = job;
        self.watch.arm(call.deadline, abandoned);
        let limits = failure::Limits {
            seconds: call.time_limit.as_secs(),
            mebibytes: self.settings.options.memory_limit_bytes / (1024 * 1024),
        };
        let ended = match Context::custom::<intrinsic::All>(&self.runtime) {
            Ok(context) => {
                let parts = step::Parts {
                    call: &call,
                    settings: &self.settings,
                    prelude: &self.prelude,
                    limits: &limits,
                    watch: &self.watch,
                };
                context.with(|ctx| step::run(&ctx, &parts, requests, &answers))
            }
            Err(_) => Err(JsError::MemoryLimit {
                mebibytes: limits.mebibytes,
            }),
        };
        let ended = self.judge(ended, &limits);
        self.watch.disarm();
        self.runtime.run_gc();
        let _ = done.send(ended);
    }

    /// A stop by the interrupt handler overrides whatever the step made of it.
    fn judge(
        &self,
        ended: Result<CodeOutput, JsError>,
        limits: &failure::Limits,
    ) -> Result<CodeOutput, JsError> {
        match (self.watch.stopped(), ended) {
            (Some(Stop::Abandoned), _) => Err(JsError::Cancelled),
            (Some(Stop::Time), Err(_)) => Err(JsError::TimeLimit {
                seconds: limits.seconds,
            }),
            (_, ended) => ended,
        }
    }
}

/// The prelude as bytecode, compiled in a throwaway context of `runtime`.
fn compile_prelude(runtime: &Runtime) -> rquickjs::Result<Vec<u8>> {
    let context = Context::custom::<intrinsic::All>(runtime)?;
    context.with(|ctx| {
        Module::declare(ctx.clone(), failure::PRELUDE_FILE, PRELUDE)?.write(WriteOptions::default())
    })
}
