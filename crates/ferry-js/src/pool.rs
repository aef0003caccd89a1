//! The sandbox threads: each owns one QuickJS runtime and runs one step at a time. Threads
//! start on demand, up to the configured number, and live as long as the pool; steps queue
//! when all are busy. A step that panics the Rust side loses its sandbox, which the thread
//! builds anew for the next step.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::cache::CodeCache;
use crate::channel::Job;
use crate::sandbox::Sandbox;
use crate::{JsError, JsOptions};

/// Room on a sandbox thread's stack for Rust, beyond QuickJS's own limit.
const RUST_STACK_BYTES: usize = 8 * 1024 * 1024;

/// What every sandbox reads.
pub(crate) struct Settings {
    pub(crate) options: JsOptions,
    pub(crate) cache: CodeCache,
}

/// The threads and their queue.
pub(crate) struct Pool {
    state: Arc<State>,
}

struct State {
    settings: Arc<Settings>,
    queue: Mutex<Queue>,
    ready: Condvar,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    idle: usize,
    threads: usize,
    closed: bool,
}

impl Pool {
    pub(crate) fn new(options: JsOptions) -> Self {
        let settings = Arc::new(Settings {
            options,
            cache: CodeCache::default(),
        });
        Pool {
            state: Arc::new(State {
                settings,
                queue: Mutex::new(Queue::default()),
                ready: Condvar::new(),
            }),
        }
    }

    /// Queues `job`, starting a thread for it when none is free and the pool may grow.
    pub(crate) fn submit(&self, job: Job) -> Result<(), JsError> {
        let mut queue = self.state.lock();
        let wanted = queue.jobs.len() + 1 > queue.idle;
        if wanted && queue.threads < self.state.settings.options.max_runtimes.max(1) {
            match self.spawn(queue.threads) {
                Ok(()) => queue.threads += 1,
                Err(error) if queue.threads == 0 => return Err(error),
                Err(_) => {} // the running threads will take it
            }
        }
        queue.jobs.push_back(job);
        drop(queue);
        self.state.ready.notify_one();
        Ok(())
    }

    fn spawn(&self, number: usize) -> Result<(), JsError> {
        let state = self.state.clone();
        let stack = self.state.settings.options.max_stack_bytes + RUST_STACK_BYTES;
        std::thread::Builder::new()
            .name(format!("ferry-js-{number}"))
            .stack_size(stack)
            .spawn(move || serve(&state))
            .map(|_| ())
            .map_err(|e| JsError::Runtime(format!("could not start a sandbox thread: {e}")))
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.state.lock().closed = true;
        self.state.ready.notify_all();
    }
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while holding this lock; if something did, the queue is still whole.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next job, or `None` when the pool is closed.
    fn next(&self) -> Option<Job> {
        let mut queue = self.lock();
        loop {
            if let Some(job) = queue.jobs.pop_front() {
                return Some(job);
            }
            if queue.closed {
                queue.threads -= 1;
                return None;
            }
            queue.idle += 1;
            queue = self.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
            queue.idle -= 1;
        }
    }
}

/// A sandbox thread's life: take jobs until the pool closes.
fn serve(state: &State) {
    let mut sandbox: Option<Sandbox> = None;
    while let Some(job) = state.next() {
        if job.abandoned.is_set() {
            continue;
        }
        let ready = match sandbox.take() {
            Some(ready) => ready,
            None => match Sandbox::new(state.settings.clone()) {
                Ok(made) => made,
                Err(error) => {
                    let _ = job.done.send(Err(error));
                    continue;
                }
            },
        };
        // A panic drops the job (its caller hears that the thread stopped) and the sandbox.
        let kept = catch_unwind(AssertUnwindSafe(move || {
            let mut ready = ready;
            ready.run(job);
            ready
        }));
        sandbox = kept.ok();
    }
}
