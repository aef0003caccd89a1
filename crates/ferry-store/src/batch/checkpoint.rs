//! Checkpoints of SQLite's write-ahead log, copied into the database file by a thread of their
//! own rather than by the writer.
//!
//! Left to itself, SQLite checkpoints on the connection that commits once the log holds 1,000
//! pages: the writer stops after that commit to copy them all into the database file and
//! `fsync` it, and every write of the next batch waits the while (a few milliseconds, the
//! longest waits for an acknowledgement under load). Here every connection leaves that
//! alone (`wal_autocheckpoint = 0`) and a checkpointer thread, woken by the writer's commits,
//! copies what the log holds a few milliseconds at a time, beside the writer's next commit.
//! It never blocks the writer (a `PASSIVE` checkpoint takes no lock writers wait for).
//!
//! SQLite writes the log from its beginning again only when a write transaction starts on a
//! log copied to its last page; a writer that never pauses would otherwise grow it without
//! bound. So once the log is longer than [`RESTART_AT`] pages, the writer copies what is left
//! itself before its next transaction (little, the checkpointer having copied the rest), and
//! that transaction starts the log over.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// Log pages past which the writer has the log start over.
pub(super) const RESTART_AT: i64 = 4_000;

/// How long the checkpointer lets commits add to the log after a checkpoint: pages that
/// consecutive commits rewrite (the last leaf of each index, say) are copied once.
const PAUSE: Duration = Duration::from_millis(5);

/// How often the checkpointer looks at the log without a commit of the writer to wake it:
/// other connections' writes (the API's) are checkpointed too.
const IDLE_LOOK: Duration = Duration::from_secs(1);

/// The writer's side of the checkpointer; the thread stops when this is dropped.
pub(super) struct Checkpoints {
    wake: SyncSender<()>,
    /// Set by the checkpointer when the log is longer than [`RESTART_AT`] pages.
    long: Arc<AtomicBool>,
}

impl Checkpoints {
    /// Starts the checkpointer on its own connection to the database at `path`.
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let db = open(path)?;
        // A checkpoint syncs the log before copying it, and the database file after.
        db.execute_batch("PRAGMA synchronous = FULL;")?;
        let (wake, woken) = mpsc::sync_channel(1);
        let long = Arc::new(AtomicBool::new(false));
        let checkpointer = Checkpointer {
            db,
            woken,
            long: long.clone(),
        };
        std::thread::Builder::new()
            .name("ferry-store-checkpoints".into())
            .spawn(move || checkpointer.run())
            .map_err(sqlx::Error::Io)?;
        Ok(Checkpoints { wake, long })
    }

    /// Tells the checkpointer the writer committed (it wakes if it was waiting). A wake-up
    /// already pending covers this commit too, and a stopped checkpointer needs none.
    pub(super) fn committed(&self) {
        let _ = self.wake.try_send(());
    }

    /// Before a write transaction on `db`: when the log is long, copies what is left of it,
    /// so that the transaction starts it over. Not copying all of it (the checkpointer is at
    /// it, or a reader still reads old pages) is no error: the next transaction tries again.
    /// Nor is a failed copy the transaction's: it is logged, and the writes go ahead.
    pub(super) fn before_transaction(&self, db: &Connection) {
        if !self.long.load(Ordering::Relaxed) {
            return;
        }
        match checkpoint(db) {
            Ok(log) => self.long.store(!log.copied(), Ordering::Relaxed),
            Err(error) => tracing::warn!(%error, "could not copy the SQLite log before a commit"),
        }
    }
}

/// Opens a read-write connection to the database at `path` that never checkpoints by itself
/// (the writer's, and the checkpointer's).
pub(super) fn open(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let db = Connection::open_with_flags(path, flags)?;
    db.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
    Ok(db)
}

/// What a checkpoint found.
struct Log {
    /// Another connection was checkpointing.
    busy: bool,
    /// The log's pages.
    pages: i64,
    /// How many of them are in the database file now.
    copied: i64,
}

impl Log {
    /// Every page is in the database file: the next write transaction starts the log over.
    fn copied(&self) -> bool {
        !self.busy && self.copied == self.pages
    }
}

/// A `PASSIVE` checkpoint on `db`.
fn checkpoint(db: &Connection) -> Result<Log, StoreError> {
    let log = db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(Log {
            busy: row.get(0)?,
            pages: row.get(1)?,
            copied: row.get(2)?,
        })
    })?;
    Ok(log)
}

struct Checkpointer {
    db: Connection,
    woken: Receiver<()>,
    long: Arc<AtomicBool>,
}

impl Checkpointer {
    fn run(self) {
        loop {
            match self.woken.recv_timeout(IDLE_LOOK) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            match checkpoint(&self.db) {
                Ok(log) if log.pages > RESTART_AT => self.long.store(true, Ordering::Relaxed),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "could not checkpoint the SQLite log"),
            }
            std::thread::sleep(PAUSE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database in WAL mode with one table, and the writer's connection to it.
    fn database(dir: &Path) -> (std::path::PathBuf, Connection) {
        let path = dir.join("log.db");
        let db = Connection::open(&path).unwrap();
        db.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
             CREATE TABLE rows (id INTEGER PRIMARY KEY, data BLOB NOT NULL);",
        )
        .unwrap();
        (path, db)
    }

    /// Commits a transaction of 20 pages, as the writer would.
    fn commit(db: &Connection, checkpoints: &Checkpoints) {
        checkpoints.before_transaction(db);
        let tx = db.unchecked_transaction().unwrap();
        for _ in 0..20 {
            tx.execute("INSERT INTO rows (data) VALUES (zeroblob(4000))", [])
                .unwrap();
        }
        tx.commit().unwrap();
        checkpoints.committed();
    }

    /// The log's pages, and how many of them are in the database file.
    fn log(db: &Connection) -> (i64, i64) {
        db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get(1)?, row.get(2)?))
        })
        .unwrap()
    }

    #[test]
    fn the_log_is_copied_into_the_database_without_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let (path, db) = database(dir.path());
        let checkpoints = Checkpoints::start(&path).unwrap();
        for _ in 0..5 {
            commit(&db, &checkpoints);
        }
        // The writer never checkpoints here, so only the checkpointer can grow the file.
        let size = || std::fs::metadata(&path).unwrap().len();
        let waited = std::time::Instant::now();
        while size() < 100 * 4_000 && waited.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(PAUSE);
        }
        assert!(
            size() >= 100 * 4_000,
            "the database file holds the 100 rows: {} bytes",
            size()
        );
    }

    #[test]
    fn a_writer_that_never_pauses_keeps_the_log_short() {
        let dir = tempfile::tempdir().unwrap();
        let (path, db) = database(dir.path());
        let checkpoints = Checkpoints::start(&path).unwrap();
        let mut longest = 0;
        // 12,000 pages: three times the length at which the log starts over.
        for _ in 0..600 {
            commit(&db, &checkpoints);
            let frames = std::fs::metadata(path.with_extension("db-wal"))
                .unwrap()
                .len()
                / 4_096;
            longest = longest.max(frames);
        }
        assert!(
            longest < RESTART_AT as u64 * 3 / 2,
            "the log grew to {longest} pages"
        );
        let (pages, _) = log(&db);
        assert!(pages < RESTART_AT * 3 / 2, "the log holds {pages} pages");
    }
}
