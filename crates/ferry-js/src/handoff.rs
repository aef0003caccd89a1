//! [`Handoff`]: the queue between the tasks that submit steps and the sandbox threads that
//! run them, and the gate that lets only as many steps compute at once as the machine has
//! cores.
//!
//! - **The gate.** A pool has more threads than cores so that steps waiting for host work
//!   (`fetch`, `invokeFlow`, a timer) do not hold up the others; but when steps only compute,
//!   more threads than cores only take turns on them, each with its own runtime's memory to
//!   bring back into the caches. So a thread takes a job only while fewer than `cores` steps
//!   compute; a step leaves the count while it waits for host work ([`Handoff::pause`]) and
//!   comes back before it goes on ([`Handoff::resume`]), ahead of new jobs.
//! - **Last idle, first woken.** A job goes to the thread that went idle last: its runtime
//!   (atoms, shapes, the prelude's bytecode, the allocator's pages) is the one most likely
//!   still in the caches.
//!
//! On 2 cores, 2 sandboxes instead of 8 computing at once cost about 11 % less CPU per
//! webhook-async execution (five alternated pairs). Written here because no queue of the
//! standard library or the usual crates counts computing threads or wakes the last waiter.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::thread::Thread;

/// Jobs waiting for a thread, and the threads waiting for a job or for their turn to compute.
pub(crate) struct Handoff<J> {
    queue: Mutex<Queue<J>>,
    /// How many steps may compute at once.
    cores: usize,
}

struct Queue<J> {
    jobs: VecDeque<J>,
    /// The threads waiting for a job, the one that went idle last on top.
    idle: Vec<Thread>,
    /// Threads whose step waited for host work and wants to compute again, first come first.
    resuming: VecDeque<Thread>,
    /// Steps computing now.
    computing: usize,
    /// Steps waiting for host work, or for a core to go on after it.
    paused: usize,
    /// Threads serving this queue or being started for it by [`Handoff::push`]'s caller.
    threads: usize,
    closed: bool,
}

/// What [`Handoff::push`] asks of its caller.
pub(crate) enum Push<J> {
    /// The job is queued.
    Queued,
    /// No thread is free and fewer than the limit run: the caller starts thread number
    /// `.1` (counted already), then hands the job to [`Handoff::started`].
    Start(J, usize),
}

impl<J> Queue<J> {
    fn free_cores(&self, cores: usize) -> usize {
        cores.saturating_sub(self.computing)
    }

    /// Threads with no step: idle, starting, or on their way back to the queue.
    fn free_threads(&self) -> usize {
        self.threads.saturating_sub(self.computing + self.paused)
    }

    /// Wakes who should compute next: a step coming back from host work, else the thread
    /// that went idle last when a job waits.
    fn wake_next(&mut self, cores: usize) -> Option<Thread> {
        if self.free_cores(cores) == 0 {
            return None;
        }
        match self.resuming.front() {
            Some(thread) => Some(thread.clone()),
            None if self.jobs.is_empty() => None,
            None => self.idle.pop(),
        }
    }
}

impl<J> Handoff<J> {
    /// A queue letting `cores` steps compute at once (at least one).
    pub(crate) fn new(cores: usize) -> Self {
        Handoff {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                idle: Vec::new(),
                resuming: VecDeque::new(),
                computing: 0,
                paused: 0,
                threads: 0,
                closed: false,
            }),
            cores: cores.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue<J>> {
        // Nothing panics while holding this lock; if something did, the queue is still whole.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes who should compute next, after letting go of the lock.
    fn wake(&self, mut queue: MutexGuard<'_, Queue<J>>) {
        let woken = queue.wake_next(self.cores);
        drop(queue);
        if let Some(thread) = woken {
            thread.unpark();
        }
    }

    /// Queues `job` and wakes the thread that went idle last if a core is free; asks for a
    /// new thread when no thread without a step will take it, a core is free for it, and
    /// fewer than `max_threads` serve the queue (the job is then queued by
    /// [`Handoff::started`]).
    pub(crate) fn push(&self, job: J, max_threads: usize) -> Push<J> {
        let mut queue = self.lock();
        let waiting = queue.jobs.len() + 1;
        let wanted = waiting > queue.free_threads() && waiting <= queue.free_cores(self.cores);
        if wanted && queue.threads < max_threads.max(1) {
            queue.threads += 1;
            return Push::Start(job, queue.threads - 1);
        }
        queue.jobs.push_back(job);
        self.wake(queue);
        Push::Queued
    }

    /// Queues `job` once its caller tried to start a thread for it. A thread that did not
    /// start is counted out; the job is given back when no thread is left to take it.
    pub(crate) fn started(&self, job: J, started: bool) -> Result<(), J> {
        let mut queue = self.lock();
        if !started {
            queue.threads -= 1;
            if queue.threads == 0 {
                return Err(job);
            }
        }
        queue.jobs.push_back(job);
        self.wake(queue);
        Ok(())
    }

    /// The next job for the calling thread, counted as computing until [`Handoff::finished`];
    /// `None` once the queue is closed and empty. Waits on top of the idle threads until a
    /// job and a free core, or [`Handoff::close`], wake it.
    pub(crate) fn next(&self) -> Option<J> {
        let me = std::thread::current();
        loop {
            let mut queue = self.lock();
            // Woken, or woken spuriously while still on the stack: off it either way.
            queue.idle.retain(|thread| thread.id() != me.id());
            let turn = queue.resuming.is_empty() && queue.free_cores(self.cores) > 0;
            if turn {
                if let Some(job) = queue.jobs.pop_front() {
                    queue.computing += 1;
                    return Some(job);
                }
            }
            if queue.closed && queue.jobs.is_empty() {
                queue.threads -= 1;
                return None;
            }
            queue.idle.push(me.clone());
            drop(queue);
            // A wake sent between the push and here is kept: `park` returns at once.
            std::thread::park();
        }
    }

    /// The calling thread's job is done: its core goes to whoever should compute next.
    pub(crate) fn finished(&self) {
        let mut queue = self.lock();
        queue.computing -= 1;
        self.wake(queue);
    }

    /// The calling thread's step waits for host work: its core goes to someone else.
    pub(crate) fn pause(&self) {
        let mut queue = self.lock();
        queue.computing -= 1;
        queue.paused += 1;
        self.wake(queue);
    }

    /// The calling thread's step goes on after host work: waits for a core, ahead of new jobs.
    pub(crate) fn resume(&self) {
        let me = std::thread::current();
        let mut queue = self.lock();
        queue.resuming.push_back(me.clone());
        loop {
            let first = queue.resuming.front().is_some_and(|t| t.id() == me.id());
            if first && queue.free_cores(self.cores) > 0 {
                queue.resuming.pop_front();
                queue.paused -= 1;
                queue.computing += 1;
                // Another core may be free for the next in line.
                self.wake(queue);
                return;
            }
            drop(queue);
            std::thread::park();
            queue = self.lock();
        }
    }

    /// Lets every thread end once the queue is empty.
    pub(crate) fn close(&self) {
        let mut queue = self.lock();
        queue.closed = true;
        for thread in queue.idle.drain(..) {
            thread.unpark();
        }
    }

    #[cfg(test)]
    fn idle(&self) -> usize {
        self.lock().idle.len()
    }

    #[cfg(test)]
    fn threads(&self) -> usize {
        self.lock().threads
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{mpsc, Arc};
    use std::time::{Duration, Instant};

    use super::*;

    /// What a test thread does with a job: answers with its name, then follows the script.
    struct Job {
        answer: mpsc::Sender<&'static str>,
        /// Waits for a word before finishing; "pause" makes it wait for host work first.
        script: Option<mpsc::Receiver<&'static str>>,
    }

    fn job(answer: &mpsc::Sender<&'static str>) -> Job {
        Job {
            answer: answer.clone(),
            script: None,
        }
    }

    /// Starts a thread named `name` serving `handoff`.
    fn serve(handoff: &Arc<Handoff<Job>>, name: &'static str) {
        let handoff = handoff.clone();
        std::thread::spawn(move || {
            while let Some(job) = handoff.next() {
                let _ = job.answer.send(name);
                if let Some(script) = &job.script {
                    if script.recv() == Ok("pause") {
                        handoff.pause();
                        let _ = script.recv();
                        handoff.resume();
                        let _ = job.answer.send("resumed");
                    }
                }
                handoff.finished();
            }
        });
    }

    /// Queues a job; the queue must not ask for a thread.
    fn push(handoff: &Handoff<Job>, job: Job) {
        assert!(matches!(handoff.push(job, 2), Push::Queued));
    }

    /// Counts two threads, idle in the order given.
    fn two_threads(cores: usize) -> Arc<Handoff<Job>> {
        let handoff = Arc::new(Handoff::new(cores));
        handoff.lock().threads = 2;
        serve(&handoff, "first");
        wait_until(|| handoff.idle() == 1);
        serve(&handoff, "second");
        wait_until(|| handoff.idle() == 2);
        handoff
    }

    fn wait_until(what: impl Fn() -> bool) {
        let start = Instant::now();
        while !what() {
            assert!(start.elapsed() < Duration::from_secs(10), "timed out");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn heard(from: &mpsc::Receiver<&'static str>) -> &'static str {
        from.recv_timeout(Duration::from_secs(10)).unwrap()
    }

    /// Nothing said within a moment (a check that can only miss a wrong word, never invent one).
    fn silent(from: &mpsc::Receiver<&'static str>) -> bool {
        from.recv_timeout(Duration::from_millis(50)).is_err()
    }

    #[test]
    fn a_job_goes_to_the_thread_that_went_idle_last() {
        let handoff = two_threads(2);
        let (answer, ran) = mpsc::channel();
        // "first" waits below "second"; each job returns its thread to the top.
        for _ in 0..5 {
            push(&handoff, job(&answer));
            assert_eq!(heard(&ran), "second");
            wait_until(|| handoff.idle() == 2);
        }
        handoff.close();
        wait_until(|| handoff.threads() == 0);
    }

    #[test]
    fn a_step_waiting_for_host_work_lets_another_compute_and_comes_back_first() {
        let handoff = two_threads(1);
        let (answer, ran) = mpsc::channel();
        let (tell, script) = mpsc::channel();
        push(
            &handoff,
            Job {
                answer: answer.clone(),
                script: Some(script),
            },
        );
        assert_eq!(heard(&ran), "second");
        let (tell_other, other_script) = mpsc::channel();
        push(
            &handoff,
            Job {
                answer: answer.clone(),
                script: Some(other_script),
            },
        );
        assert!(silent(&ran), "one core: the second job waits");
        tell.send("pause").unwrap();
        assert_eq!(heard(&ran), "first", "the paused step's core went to it");
        tell.send("answered").unwrap();
        push(&handoff, job(&answer));
        assert!(
            silent(&ran),
            "the core is taken: neither resumed nor a new job"
        );
        tell_other.send("done").unwrap();
        assert_eq!(heard(&ran), "resumed", "back ahead of the new job");
        assert!(
            matches!(heard(&ran), "first" | "second"),
            "then the new job"
        );
        handoff.close();
        wait_until(|| handoff.threads() == 0);
    }

    #[test]
    fn a_new_thread_is_asked_for_only_when_none_is_free_and_below_the_limits() {
        let handoff: Handoff<u32> = Handoff::new(2);
        assert!(matches!(handoff.push(1, 3), Push::Start(1, 0)));
        assert_eq!(handoff.started(1, true), Ok(()));
        assert!(matches!(handoff.push(2, 3), Push::Start(2, 1)));
        // A thread that cannot start while another serves: the other takes its job.
        assert_eq!(handoff.started(2, false), Ok(()));
        assert_eq!(handoff.threads(), 1);
        // Two jobs wait for the two cores already: a third needs no thread of its own.
        assert!(matches!(handoff.push(3, 3), Push::Queued));
        assert_eq!(handoff.next(), Some(1));
        assert_eq!(handoff.next(), Some(2));
        handoff.finished();
        handoff.finished();
        assert_eq!(handoff.next(), Some(3));
        handoff.finished();
        // The thread is back from its step, not yet waiting: it takes the job, no new thread.
        assert!(matches!(handoff.push(5, 3), Push::Queued));
        assert_eq!(handoff.next(), Some(5));
        handoff.finished();
        handoff.close();
        assert_eq!(handoff.next(), None);
        assert_eq!(handoff.threads(), 0);
        // No thread at all and none could start: the job comes back to be failed.
        assert!(matches!(handoff.push(4, 1), Push::Start(4, 0)));
        assert_eq!(handoff.started(4, false), Err(4));
    }
}
