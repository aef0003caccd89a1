//! One sandbox: a QuickJS runtime owned by one pool thread, with its limits (memory, stack,
//! and an interrupt handler watching the running step's deadline and whether its caller is
//! still waiting) and the prelude compiled once. Each step gets a fresh context, never used
//! before, dropped after it (its garbage collected every few steps), so nothing a step leaves
//! behind reaches the next. The next step's context is prepared right after a step ends, while
//! the thread would otherwise wait; the intrinsics few steps use are added to it on first use
//! ([`intrinsics`]). The memory limit is kept by the runtime's allocator ([`budget`]). When
//! the node keeps contexts warm, a code step may instead run in the context an earlier step of
//! the same scope and code left ([`kept`]).

mod budget;
mod component;
mod convert;
mod failure;
mod intrinsics;
mod kept;
mod lazy;
mod natives;
mod output;
mod script;
mod step;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use rquickjs::context::intrinsic;
use rquickjs::{Context, Ctx, Function, Module, Object, Persistent, Runtime, WriteOptions};
use tokio::sync::mpsc::UnboundedSender;

use crate::channel::{Abandoned, Answer, Job, Request, Task};
use crate::pool::Settings;
use crate::{CodeOutput, JsError};
use natives::Link;

/// The prelude's core: the globals every step gets, and the names of the others, made on first
/// use ([`lazy`]). A script ([`script`]); the groups are modules.
const CORE: &str = include_str!("prelude/core.js");

/// The groups of globals built on first use, by the name the core loads them under.
const GROUPS: [(&str, &str); 8] = [
    ("timers", include_str!("prelude/timers.js")),
    ("text", include_str!("prelude/text.js")),
    ("url", include_str!("prelude/url.js")),
    ("crypto", include_str!("prelude/crypto.js")),
    ("clone", include_str!("prelude/clone.js")),
    ("fetch", include_str!("prelude/fetch.js")),
    ("sdk", include_str!("prelude/sdk.js")),
    ("component", include_str!("prelude/component.js")),
];

/// The prelude compiled: the core (script bytecode), and each group by name (module bytecode).
pub(super) struct Prelude {
    core: Vec<u8>,
    groups: Vec<(&'static str, Vec<u8>)>,
    /// The class of the object that answers for globals made on first use.
    lazy: lazy::LazyClass,
}

impl Prelude {
    /// The bytecode of group `name`.
    pub(super) fn group(&self, name: &str) -> Option<&[u8]> {
        self.groups
            .iter()
            .find(|(group, _)| *group == name)
            .map(|(_, bytecode)| bytecode.as_slice())
    }
}

/// Steps between two collections of the garbage they leave (their contexts, which are cyclic).
const COLLECT_EVERY: u32 = 4;

/// Collections between two measures of what a collected runtime holds (it grows only with what
/// the runtime keeps between steps, such as a larger atom table).
const MEASURE_EVERY: u64 = 64;

/// How much QuickJS may allocate past what was live after a collection before it collects by
/// itself, within a step (capped at a quarter of the memory limit).
const GARBAGE_ALLOWANCE: usize = 4 * 1024 * 1024;

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

/// A context prepared for the next step (natives and the prelude's core in place), made while
/// the thread would otherwise be idle, so a step does not wait for it.
///
/// Fields drop in order: the saved namespace before the context holding it.
pub(super) struct Warm {
    core: Persistent<Object<'static>>,
    context: Context,
    link: Rc<Link>,
}

/// A code step's function, saved to call again in its context.
type Saved = Persistent<Function<'static>>;

/// A context for a step, with its code's function when one was loaded in it.
///
/// Fields drop in order: the saved function before the context holding it.
pub(super) struct Ready {
    code: Option<Saved>,
    warm: Warm,
    /// What the context was kept under, when it was.
    key: Option<kept::Key>,
}

impl Ready {
    fn fresh(warm: Warm) -> Ready {
        Ready {
            code: None,
            warm,
            key: None,
        }
    }
}

/// A QuickJS runtime ready for steps.
///
/// Fields drop in order: the kept and prepared contexts before the runtime, which QuickJS requires
/// (it aborts when a runtime is freed with objects still alive).
pub(crate) struct Sandbox {
    /// Contexts kept warm for later steps of the same scope and code.
    shelf: kept::Shelf,
    warm: Option<Warm>,
    /// Contexts dropped since the last collection.
    uncollected: u32,
    /// Collections so far.
    collections: u64,
    /// What the runtime holds with no context alive, as last measured (every
    /// [`MEASURE_EVERY`] collections: measuring walks the whole heap, which at every collection
    /// was 1.3 % of a trivial step's instructions).
    baseline: usize,
    runtime: Runtime,
    /// What the runtime may allocate: the memory limit.
    budget: Rc<budget::Budget>,
    watch: Rc<Watch>,
    prelude: Rc<Prelude>,
    settings: Arc<Settings>,
}

impl Sandbox {
    /// A runtime with the configured limits and the prelude compiled.
    pub(crate) fn new(settings: Arc<Settings>) -> Result<Self, JsError> {
        let failed = |e: rquickjs::Error| JsError::Runtime(format!("could not start QuickJS: {e}"));
        let budget = Rc::new(budget::Budget::default());
        let runtime = Runtime::new_with_alloc(budget::Metered(budget.clone())).map_err(failed)?;
        runtime.set_max_stack_size(settings.options.max_stack_bytes);
        let watch = Rc::new(Watch::default());
        let watching = watch.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || watching.check())));
        let prelude = Rc::new(compile_prelude(&runtime).map_err(failed)?);
        // The limit comes last: compiling the prelude must not count against a small one.
        budget.set_limit(settings.options.memory_limit_bytes);
        let shelf = kept::Shelf::new(
            settings.options.keep_warm,
            settings.options.memory_limit_bytes,
        );
        let mut sandbox = Sandbox {
            shelf,
            warm: None,
            uncollected: 0,
            collections: 0,
            baseline: 0,
            runtime,
            budget,
            watch,
            prelude,
            settings,
        };
        sandbox.collect();
        sandbox.warm = sandbox.warm_up().ok();
        Ok(sandbox)
    }

    /// Collects the garbage steps left, and lets QuickJS collect by itself only once it has
    /// allocated [`GARBAGE_ALLOWANCE`] more than a runtime without contexts holds (a step
    /// making much cyclic garbage).
    fn collect(&mut self) {
        self.runtime.run_gc();
        self.uncollected = 0;
        if self.collections.is_multiple_of(MEASURE_EVERY) {
            let live = self.runtime.memory_usage().malloc_size;
            self.baseline = usize::try_from(live).unwrap_or(0);
        }
        self.collections += 1;
        let allowance = GARBAGE_ALLOWANCE.min(self.settings.options.memory_limit_bytes / 4);
        self.runtime.set_gc_threshold(self.baseline + allowance);
    }

    /// A fresh context, prepared.
    fn warm_up(&self) -> rquickjs::Result<Warm> {
        let context = Context::custom::<intrinsics::Eager>(&self.runtime)?;
        let link = Link::new(self.settings.options.max_fetch_bytes);
        let core = context.with(|ctx| {
            step::prepare(&ctx, &self.prelude, &link).map(|core| Persistent::save(&ctx, core))
        })?;
        Ok(Warm {
            core,
            context,
            link,
        })
    }

    /// Runs `job` and sends its end to its caller; then keeps its context warm or lets it go,
    /// cleans up and prepares the next context, off the caller's clock.
    pub(crate) fn run(&mut self, job: Job) {
        let Job {
            task,
            requests,
            answers,
            abandoned,
            done,
        } = job;
        self.watch.arm(task.deadline(), abandoned);
        self.budget.rearm();
        let limits = failure::Limits {
            seconds: task.time_limit().as_secs(),
            mebibytes: self.settings.options.memory_limit_bytes / (1024 * 1024),
            budget: self.budget.clone(),
        };
        let ready = match &task {
            Task::Code(call) => self.shelf.take(call).map(kept::Kept::into_ready),
            Task::Component(_) => None,
        };
        let ready = match ready {
            Some(ready) => Ok(ready),
            None => self
                .warm
                .take()
                .map_or_else(|| self.warm_up(), Ok)
                .map(Ready::fresh),
        };
        let (ended, used) = match ready {
            Ok(ready) => {
                let (ended, used) = self.step(ready, &task, requests, &answers, &limits);
                (ended, Some(used))
            }
            Err(error) => (Err(unprepared(error, &limits)), None),
        };
        let ended = self.judge(ended, &limits);
        self.watch.disarm();
        let how = Ended::of(&ended);
        let _ = done.send(ended);
        self.keep(&task, used, how);
        // What a dropped context leaves is cyclic garbage (its intrinsics, closures), collected
        // every few dropped contexts, after the step's end is sent. A collection walks what is
        // live too: collecting after every step cost about 7 % of a loaded server's CPU, and
        // QuickJS's own rule (collect once the runtime has grown by half) collected every 1.7
        // steps. Every 4 steps, a trivial step costs 6 % fewer instructions (callgrind,
        // `tests/bench.rs`); every 8, 8 % fewer, but the longer pauses showed in the code
        // step's p99. A failed step (which may have stopped at the limit) is collected now.
        if how != Ended::Fine || self.uncollected >= COLLECT_EVERY {
            self.collect();
        }
        if self.warm.is_none() {
            self.warm = self.warm_up().ok();
        }
    }

    /// Runs `task` in `ready`'s context, calling its code's function when it was kept with
    /// the context: the step's end, and the context with the function the step called.
    fn step(
        &self,
        ready: Ready,
        task: &Task,
        requests: UnboundedSender<Request>,
        answers: &Receiver<Answer>,
        limits: &failure::Limits,
    ) -> (Result<CodeOutput, JsError>, Ready) {
        let Ready { warm, code, key } = ready;
        warm.link.connect(requests);
        let parts = step::Parts {
            task,
            settings: &self.settings,
            limits,
            watch: &self.watch,
            link: &warm.link,
        };
        let (ended, saved) = warm.context.with(|ctx| {
            let restored = warm.core.clone().restore(&ctx).and_then(|core| {
                let function = code.map(|code| code.restore(&ctx)).transpose()?;
                Ok((core, function))
            });
            let (core, mut function) = match restored {
                Ok(restored) => restored,
                Err(error) => return (Err(failure::classify(&ctx, error, limits)), None),
            };
            let ended = step::run(&ctx, &parts, core, answers, &mut function);
            (
                ended,
                function.map(|function| Persistent::save(&ctx, function)),
            )
        });
        let used = Ready {
            code: saved,
            warm,
            key,
        };
        (ended, used)
    }

    /// Keeps the context a code step ran in when it may be ([`kept`]), or lets it go; counts
    /// the contexts that are now garbage.
    fn keep(&mut self, task: &Task, used: Option<Ready>, ended: Ended) {
        if ended == Ended::OutOfMemory {
            self.uncollected += count(self.shelf.clear());
        }
        let Some(Ready {
            code: saved,
            warm,
            key,
        }) = used
        else {
            return;
        };
        // A kept context keeps its key; a fresh one gets its step's.
        let key = key.or_else(|| match task {
            Task::Code(call) if self.shelf.keeps() => kept::Key::of(call),
            _ => None,
        });
        let clean = ended == Ended::Fine && warm.link.idle() && !self.runtime.is_job_pending();
        let (Some(key), Some(saved), true) = (key, saved, clean) else {
            self.uncollected += 1;
            return;
        };
        // What dropped contexts left counts until collected: collect before refusing room.
        if !self.shelf.fits(self.budget.used()) && self.uncollected > 0 {
            self.collect();
        }
        let dropped = self
            .shelf
            .put(kept::Kept::new(key, warm, saved), self.budget.used());
        self.uncollected += count(dropped.len());
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

/// How a step ended, as far as its context is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Fine,
    Failed,
    /// At the memory limit: kept contexts may be why.
    OutOfMemory,
}

impl Ended {
    fn of(ended: &Result<CodeOutput, JsError>) -> Ended {
        match ended {
            Ok(_) => Ended::Fine,
            Err(JsError::MemoryLimit { .. }) => Ended::OutOfMemory,
            Err(_) => Ended::Failed,
        }
    }
}

/// Why no context could be prepared for a step.
fn unprepared(error: rquickjs::Error, limits: &failure::Limits) -> JsError {
    match error {
        rquickjs::Error::Allocation => JsError::MemoryLimit {
            mebibytes: limits.mebibytes,
        },
        error => JsError::Runtime(format!("could not prepare a context: {error}")),
    }
}

/// `n` as a count of contexts.
fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The prelude as bytecode, compiled in a throwaway context of `runtime` (with every intrinsic,
/// which also registers their classes with the runtime).
fn compile_prelude(runtime: &Runtime) -> rquickjs::Result<Prelude> {
    let context = Context::custom::<intrinsic::All>(runtime)?;
    context.with(|ctx| {
        let compile = |name: &str, source: &str| {
            let name = format!("{}{name}", failure::PRELUDE_PREFIX);
            // Frames in the prelude are left out of stacks, so its debug information can go.
            let options = WriteOptions {
                strip_source: true,
                strip_debug: true,
                ..WriteOptions::default()
            };
            Module::declare(ctx.clone(), name, source)?.write(options)
        };
        let core = script::compile(&ctx, &format!("{}core", failure::PRELUDE_PREFIX), CORE)?;
        let groups = GROUPS
            .iter()
            .map(|(name, source)| Ok((*name, compile(name, source)?)))
            .collect::<rquickjs::Result<_>>()?;
        let lazy = lazy::LazyClass::register(&ctx)?;
        Ok(Prelude { core, groups, lazy })
    })
}

/// Module bytecode this process compiled.
#[allow(unsafe_code)]
fn load<'js>(ctx: &Ctx<'js>, bytecode: &[u8]) -> rquickjs::Result<Module<'js>> {
    // SAFETY: the bytes come from `Module::write` in this process (the prelude, or the code
    // cache, which only holds what it compiled), so they are valid bytecode for this QuickJS.
    unsafe { Module::load(ctx.clone(), bytecode) }
}

/// Evaluates a module with no top-level `await` (the prelude's): its namespace.
fn evaluate(module: Module<'_>) -> rquickjs::Result<Object<'_>> {
    let (evaluated, promise) = module.eval()?;
    promise.finish::<()>()?;
    evaluated.namespace()
}
