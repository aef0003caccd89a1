//! The sandbox threads: each owns one QuickJS runtime and runs one step at a time. Threads
//! start on demand, up to the configured number, and live as long as the pool; steps queue
//! when all are busy, and go to the thread that went idle last ([`Handoff`]). A step that
//! panics the Rust side loses its sandbox, which the thread builds anew for the next step.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::cache::CodeCache;
use crate::channel::Job;
use crate::handoff::{Handoff, Push};
use crate::sandbox::Sandbox;
use crate::{JsError, JsOptions};

/// Room on a sandbox thread's stack for Rust, beyond QuickJS's own limit.
const RUST_STACK_BYTES: usize = 8 * 1024 * 1024;

/// What every sandbox reads.
pub(crate) struct Settings {
    pub(crate) options: JsOptions,
    pub(crate) cache: CodeCache,
    /// The queue of steps, and the count of those computing.
    pub(crate) jobs: Handoff<Job>,
}

/// The threads and their queue.
pub(crate) struct Pool {
    settings: Arc<Settings>,
}

impl Pool {
    pub(crate) fn new(options: JsOptions) -> Self {
        let jobs = Handoff::new(options.cores);
        Pool {
            settings: Arc::new(Settings {
                options,
                cache: CodeCache::default(),
                jobs,
            }),
        }
    }

    /// Queues `job`, starting a thread for it when none is free and the pool may grow.
    pub(crate) fn submit(&self, job: Job) -> Result<(), JsError> {
        let jobs = &self.settings.jobs;
        let max = self.settings.options.max_runtimes;
        let Push::Start(job, number) = jobs.push(job, max) else {
            return Ok(());
        };
        let spawned = self.spawn(number);
        // Started or not, the job waits for a thread; when none is left, it fails here.
        match jobs.started(job, spawned.is_ok()) {
            Ok(()) => Ok(()),
            Err(_) => spawned,
        }
    }

    fn spawn(&self, number: usize) -> Result<(), JsError> {
        let settings = self.settings.clone();
        let stack = self.settings.options.max_stack_bytes + RUST_STACK_BYTES;
        std::thread::Builder::new()
            .name(format!("ferry-js-{number}"))
            .stack_size(stack)
            .spawn(move || serve(&settings))
            .map(|_| ())
            .map_err(|e| JsError::Runtime(format!("could not start a sandbox thread: {e}")))
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.settings.jobs.close();
    }
}

/// A sandbox thread's life: take jobs until the pool closes.
fn serve(settings: &Arc<Settings>) {
    let mut sandbox: Option<Sandbox> = None;
    while let Some(job) = settings.jobs.next() {
        sandbox = run(settings, sandbox, job);
        settings.jobs.finished();
    }
}

/// Runs `job` in `sandbox`, made first if there is none: the sandbox to keep.
fn run(settings: &Arc<Settings>, sandbox: Option<Sandbox>, job: Job) -> Option<Sandbox> {
    if job.abandoned.is_set() {
        return sandbox;
    }
    let ready = match sandbox {
        Some(ready) => ready,
        None => match Sandbox::new(settings.clone()) {
            Ok(made) => made,
            Err(error) => {
                let _ = job.done.send(Err(error));
                return None;
            }
        },
    };
    // A panic drops the job (its caller hears that the thread stopped) and the sandbox.
    catch_unwind(AssertUnwindSafe(move || {
        let mut ready = ready;
        ready.run(job);
        ready
    }))
    .ok()
}
