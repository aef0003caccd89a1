//! The SQLite writer's callers are answered once their commit is on disk, by a thread that
//! syncs the write-ahead log while the writer goes on with the next commit.
//!
//! With `synchronous = FULL` every commit ends with an `fsync` of the log, and the writer,
//! which commits one batch at a time, waits for the disk before it can start the next: about
//! a third of each commit's time under load. The writer's connection instead commits with
//! `synchronous = NORMAL` (SQLite writes the log but does not sync it; the database stays
//! consistent whatever happens) and hands the commit's answers here. The syncer syncs the log
//! file (one `fdatasync` covers every commit written before it) and only then answers the
//! callers, so nothing is acknowledged before it is on disk, as before: what changes is that
//! the next commit's statements run while the disk works.
//!
//! Another connection may see a commit before it is on disk (it reads the log SQLite
//! wrote). A machine losing power in that moment loses the commit and what was read of it;
//! nothing of it was acknowledged.

use std::fs::File;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};

use super::Answered;
use crate::StoreError;

/// Answers to send once the log is on disk.
type Answers = Vec<Answered>;

/// The writer's side of the syncer; the thread stops when this is dropped.
pub(super) struct Syncer {
    answers: Sender<Answers>,
}

impl Syncer {
    /// Starts the syncer for the database at `path`, whose log is `<path>-wal`.
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let mut name = path.as_os_str().to_owned();
        name.push("-wal");
        // Opened for writing (never written here): some systems sync only such files.
        let log = File::options().write(true).open(&name).map_err(|error| {
            let why = format!("opening the SQLite log {}: {error}", name.to_string_lossy());
            sqlx::Error::Io(std::io::Error::new(error.kind(), why))
        })?;
        let (answers, committed) = mpsc::channel();
        std::thread::Builder::new()
            .name("ferry-store-sync".into())
            .spawn(move || sync(&log, &committed))
            .map_err(sqlx::Error::Io)?;
        Ok(Syncer { answers })
    }

    /// Answers `answered` once what was committed so far is on disk.
    pub(super) fn answer(&self, answered: Answers) {
        if let Err(mpsc::SendError(answered)) = self.answers.send(answered) {
            // The syncer is gone (it cannot be while this lives); nothing may be answered
            // as durable that was not synced.
            for (job, _) in answered {
                job.answer(Err(not_synced("the log's syncer stopped")));
            }
        }
    }
}

/// What the syncer syncs: the log file.
trait Log {
    /// Puts on disk what was written to the log so far.
    fn sync(&self) -> std::io::Result<()>;
}

impl Log for File {
    fn sync(&self) -> std::io::Result<()> {
        self.sync_data()
    }
}

/// Syncs `log` and answers, until the writer is gone.
fn sync(log: &impl Log, committed: &Receiver<Answers>) {
    while let Ok(first) = committed.recv() {
        let mut waiting = vec![first];
        waiting.extend(committed.try_iter());
        let synced = log.sync();
        if let Err(error) = &synced {
            tracing::error!(%error, "could not sync the SQLite log; its last commits were not acknowledged");
        }
        for (job, done) in waiting.into_iter().flatten() {
            let done = match &synced {
                Ok(()) => done,
                Err(error) => Err(not_synced(&error.to_string())),
            };
            job.answer(done);
        }
    }
}

fn not_synced(why: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Io(std::io::Error::other(format!(
        "the commit may not be on disk: {why}"
    ))))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tokio::sync::oneshot;
    use uuid::Uuid;

    use super::*;
    use crate::batch::{Done, Job, Write};

    /// A log whose syncs wait for the test's word, then succeed or fail as told.
    #[derive(Clone)]
    struct Held(Arc<Mutex<mpsc::Receiver<std::io::Result<()>>>>);

    impl Log for Held {
        fn sync(&self) -> std::io::Result<()> {
            let release = self
                .0
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?;
            release.recv().map_err(std::io::Error::other)?
        }
    }

    /// A syncer thread on a held log: what answers it, and how to release its syncs.
    fn syncer() -> (Sender<Answers>, mpsc::Sender<std::io::Result<()>>) {
        let (release, released) = mpsc::channel();
        let log = Held(Arc::new(Mutex::new(released)));
        let (answers, committed) = mpsc::channel();
        std::thread::spawn(move || sync(&log, &committed));
        (answers, release)
    }

    /// Where a caller waits for its answer.
    type Waiting = oneshot::Receiver<Result<Done, StoreError>>;

    /// A committed write, answered `Written`, and where its caller waits.
    fn committed() -> (Answered, Waiting) {
        let (answer, answered) = oneshot::channel();
        let write = Write::Checkpoint {
            org_id: Uuid::nil(),
            steps: Vec::new(),
            logs: Vec::new(),
        };
        ((Job { write, answer }, Ok(Done::Written)), answered)
    }

    /// Waits a little for an answer that may come.
    fn answer_of(answered: &mut Waiting) -> Option<Result<Done, StoreError>> {
        for _ in 0..100 {
            if let Ok(done) = answered.try_recv() {
                return Some(done);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    }

    #[test]
    fn a_caller_is_answered_only_once_the_log_is_on_disk() {
        let (answers, release) = syncer();
        let (first, mut first_answered) = committed();
        answers.send(vec![first]).unwrap();
        assert!(
            answer_of(&mut first_answered).is_none(),
            "answered before the sync"
        );
        // Committed while the first sync runs: the next sync covers it.
        let (second, mut second_answered) = committed();
        answers.send(vec![second]).unwrap();
        release.send(Ok(())).unwrap();
        assert!(matches!(
            answer_of(&mut first_answered),
            Some(Ok(Done::Written))
        ));
        assert!(
            answer_of(&mut second_answered).is_none(),
            "answered before its sync"
        );
        release.send(Ok(())).unwrap();
        assert!(matches!(
            answer_of(&mut second_answered),
            Some(Ok(Done::Written))
        ));
    }

    #[test]
    fn a_database_without_its_log_is_refused_with_the_log_named() {
        let dir = tempfile::tempdir().unwrap();
        let Err(error) = Syncer::start(&dir.path().join("ferry.db")) else {
            panic!("a syncer without a log file");
        };
        let error = error.to_string();
        assert!(
            error.contains("opening the SQLite log") && error.contains("ferry.db-wal"),
            "{error}"
        );
    }

    #[test]
    fn a_failed_sync_acknowledges_nothing() {
        let (answers, release) = syncer();
        let (write, mut answered) = committed();
        answers.send(vec![write]).unwrap();
        release
            .send(Err(std::io::Error::other("the disk is gone")))
            .unwrap();
        let error = answer_of(&mut answered).unwrap().err().unwrap();
        assert!(error.is_database_failure());
        assert!(
            error
                .to_string()
                .contains("may not be on disk: the disk is gone"),
            "{error}"
        );
    }
}
