//! [`JsRuntime`]: the handle a worker shares. Running a step hands it to a sandbox thread and,
//! while waiting for its end, does the host work the code asks for (log lines, `fetch`,
//! `invokeFlow`) on the caller's async runtime, sending the answers back.

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};

use crate::channel::{Abandoned, Answer, Job, Reply, Request, Task};
use crate::fetch::Fetcher;
use crate::pool::Pool;
use crate::{CodeCall, CodeHost, CodeOutput, JsError, JsOptions};

/// Runs code steps; one per worker, shared by its tasks.
pub struct JsRuntime {
    pool: Pool,
    fetcher: Fetcher,
}

impl JsRuntime {
    /// A runtime whose sandboxes follow `options`. Threads start when steps first need them.
    pub fn new(options: JsOptions) -> Self {
        let fetcher = Fetcher::new(&options);
        JsRuntime {
            pool: Pool::new(options),
            fetcher,
        }
    }

    /// Runs one code step to its end. Dropping the future abandons the step: its sandbox
    /// stops it at the next instruction or wait.
    pub async fn run_code(
        &self,
        call: CodeCall,
        host: &dyn CodeHost,
    ) -> Result<CodeOutput, JsError> {
        self.run_task(Task::Code(call), host).await
    }

    /// Runs `task` on a sandbox thread, doing its host work meanwhile.
    pub(crate) async fn run_task(
        &self,
        task: Task,
        host: &dyn CodeHost,
    ) -> Result<CodeOutput, JsError> {
        let (requests_tx, mut requests) = tokio::sync::mpsc::unbounded_channel();
        let (answers, answers_rx) = std::sync::mpsc::channel();
        let (done_tx, mut done) = tokio::sync::oneshot::channel();
        let guard = AbandonOnDrop(Abandoned::default());
        self.pool.submit(Job {
            task,
            requests: requests_tx,
            answers: answers_rx,
            abandoned: guard.0.clone(),
            done: done_tx,
        })?;
        let mut running: FuturesUnordered<BoxFuture<'_, Answer>> = FuturesUnordered::new();
        loop {
            tokio::select! {
                ended = &mut done => {
                    // Log lines written just before the end may still be queued.
                    while let Ok(request) = requests.try_recv() {
                        if let Request::Log(level, line) = request {
                            host.log(level, &line);
                        }
                    }
                    return ended.unwrap_or_else(|_| {
                        Err(JsError::Runtime("the sandbox thread stopped during the step".into()))
                    });
                }
                Some(request) = requests.recv() => match request {
                    Request::Log(level, line) => host.log(level, &line),
                    Request::Fetch(id, request) => running.push(Box::pin(async move {
                        let result = match host.before_effect().await {
                            Ok(()) => self.fetcher.fetch(request).await,
                            Err(error) => Err(error),
                        };
                        Answer { id, result: result.map(Reply::Response) }
                    })),
                    Request::InvokeFlow(id, name, data) => running.push(Box::pin(async move {
                        let result = host.invoke_flow(name, data).await;
                        Answer { id, result: result.map(Reply::Json) }
                    })),
                },
                Some(answer) = running.next(), if !running.is_empty() => {
                    // The sandbox may have ended the step already; then nobody needs it.
                    let _ = answers.send(answer);
                }
            }
        }
    }
}

impl Default for JsRuntime {
    fn default() -> Self {
        JsRuntime::new(JsOptions::default())
    }
}

/// Raises the abandoned flag when the waiting task goes away, finished or not.
struct AbandonOnDrop(Abandoned);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}
