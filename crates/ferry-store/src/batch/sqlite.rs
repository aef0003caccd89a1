//! The grouped commit on SQLite, run synchronously on the writer's own thread, through a
//! connection of its own.
//!
//! Through sqlx, every statement is a round trip to the connection's thread: a channel send,
//! a wake-up there, the answer back and a wake-up here, about seven a commit. Each is a pair
//! of context switches, and on a loaded machine a chance for the writer to wait behind other
//! threads while every caller of the batch waits for it. Here the writer thread opens the
//! database file itself (through `rusqlite`, which links the same SQLite as sqlx) and runs the
//! whole transaction with one statement per kind of row, prepared once for the connection's
//! life and run once per row (a multi-row statement saves round trips over a network; in
//! process there are none to save).
//!
//! SQLite still has one writer at a time: the writer holds the write pool's one connection
//! (without using it) for as long as its transaction lasts, so every other writer of the node,
//! which goes through that pool, waits its turn as it did when the batch went through it.
//! While commits follow one another, the writer keeps that turn for up to [`TURN`] rather than
//! giving it back after each: sqlx tests a connection given back to its pool with a round
//! trip to the connection's thread, and the next commit waited for it, on a loaded machine up
//! to several milliseconds that every acknowledgement of the batch waited too. Other writers
//! wait at most [`TURN`] longer (the pool serves waiters in order), and the turn goes back as
//! soon as nothing is left to write.
//!
//! Values are written as sqlx writes them, so that every other query reads them alike: uuids
//! as 16-byte blobs, times as RFC 3339 text (with the fraction of a second when there is one,
//! and `+00:00`), booleans as integers, JSON as text.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use ferry_core::execution::{LogLine, StepResult};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row, Statement, ToSql};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::pool::PoolConnection;
use sqlx::types::Json;
use sqlx::{Sqlite, SqlitePool};
use uuid::Uuid;

use super::checkpoint::{self, Checkpoints};
use super::durable::Syncer;
use super::plan::{self, Commit, Owned, Queued, Sorted, Statements};
use super::sql::{
    CLOSE_CHAIN, COPY_PAYLOAD, INSERT_LOGS, INSERT_STEPS, KEEP_RECORDED_STEP, QUEUE_RETRY,
    WRITE_STATE,
};
use super::{Answered, Done, Finish, Write};
use crate::executions::{ExecutionRow, INSERT_PAYLOADS, INSERT_QUEUED};
use crate::runs::{lease_end, Claim, ClaimedRow, StateWrite};
use crate::{new_id, now, StoreError};

/// Ends an execution its worker still holds: `?5` the execution, `?6` the worker.
const END_HELD: &str =
    "UPDATE executions SET status = ?1, error = ?2, result = ?3, ended_at = ?4, \
     lease_owner = NULL, lease_until = NULL \
     WHERE id = ?5 AND lease_owner = ?6 AND status = 'RUNNING' RETURNING retry_for";

/// The longest the writer keeps the write pool's connection across commits.
const TURN: Duration = Duration::from_millis(10);

/// Commits batches on SQLite.
pub(super) struct SqliteCommit {
    /// The write pool, whose one connection is the right to write.
    pool: SqlitePool,
    /// That connection while the writer has it, and since when.
    turn: Option<(PoolConnection<Sqlite>, Instant)>,
    db: Connection,
    texts: Texts,
    checkpoints: Checkpoints,
    syncer: Syncer,
}

/// The statement texts, built once.
struct Texts {
    /// The claim's statements ([`crate::runs::claim_statements`]).
    claims: [String; 2],
    queued: String,
    payload: String,
    step: String,
    log: String,
}

impl SqliteCommit {
    /// Opens the writer's connection to the database at `path` (migrated already).
    pub(super) fn open(
        pool: SqlitePool,
        path: &Path,
        claims: [String; 2],
    ) -> Result<Self, StoreError> {
        let db = checkpoint::open(path)?;
        // The settings of the pools' connections ([`crate::backend::open_sqlite`]), except
        // that the syncer, not the commit, syncs the log (`durable.rs`); WAL is the database's
        // own, and its checkpoints are the checkpointer's ([`checkpoint`]).
        db.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;",
        )?;
        db.busy_timeout(Duration::from_secs(10))?;
        // One cached statement per text the writer runs.
        db.set_prepared_statement_cache_capacity(16);
        let texts = Texts {
            claims,
            queued: format!("{INSERT_QUEUED}VALUES ({})", placeholders(19)),
            payload: format!("{INSERT_PAYLOADS}VALUES ({})", placeholders(2)),
            step: format!(
                "{INSERT_STEPS}VALUES ({}){KEEP_RECORDED_STEP}",
                placeholders(12)
            ),
            log: format!("{INSERT_LOGS}VALUES ({})", placeholders(7)),
        };
        Ok(SqliteCommit {
            pool,
            turn: None,
            db,
            texts,
            checkpoints: Checkpoints::start(path)?,
            syncer: Syncer::start(path)?,
        })
    }
}

/// `?1, ?2, …, ?n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Commit for SqliteCommit {
    async fn commit(&mut self, writes: &[&Write]) -> Result<Vec<Done>, StoreError> {
        self.take_turn().await?;
        self.checkpoints.before_transaction(&self.db);
        let tx = self
            .db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Every statement here is synchronous, so the plan's future never waits. Should one
        // fail, `tx` rolls back as it drops.
        let mut rows = Rows {
            db: &tx,
            texts: &self.texts,
        };
        let answers = plan::write_all(&mut rows, writes, Sorted::of(writes), now()).await?;
        tx.commit()?;
        self.checkpoints.committed();
        Ok(answers)
    }

    /// Answers once the log holding the commit is on disk.
    fn answer(&self, answered: Vec<Answered>) {
        self.syncer.answer(answered);
    }

    fn idle(&mut self) {
        self.turn = None;
    }
}

impl SqliteCommit {
    /// Makes sure the writer has the write pool's connection: kept from the last commit unless
    /// it had it for [`TURN`] already, in which case it goes back first, for whoever waits.
    async fn take_turn(&mut self) -> Result<(), StoreError> {
        if self
            .turn
            .as_ref()
            .is_some_and(|(_, since)| since.elapsed() >= TURN)
        {
            self.turn = None;
        }
        if self.turn.is_none() {
            self.turn = Some((self.pool.acquire().await?, Instant::now()));
        }
        Ok(())
    }
}

/// The statements of one transaction.
struct Rows<'a> {
    db: &'a Connection,
    texts: &'a Texts,
}

impl Statements for Rows<'_> {
    async fn insert_executions(&mut self, rows: &[Queued<'_>]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = self.db.prepare_cached(&self.texts.queued)?;
        let mut payload = self.db.prepare_cached(&self.texts.payload)?;
        for (org_id, e, fifo, lease) in rows {
            insert.execute(params![
                id(org_id),
                id(&e.id),
                id(&e.instance_id),
                id(&e.customer_id),
                id(&e.flow_config_id),
                e.flow_key,
                e.status.as_str(),
                e.is_synchronous,
                time(e.queued_at),
                e.invoked_by.as_ref().map(id),
                e.retry_for.as_ref().map(id),
                e.retry_attempt,
                e.replay_for.as_ref().map(id),
                e.not_before.map(time),
                fifo,
                e.started_at.map(time),
                e.attempt,
                lease.map(|l| l.owner.as_str()),
                lease.map(|l| time(l.until)),
            ])?;
            payload.execute(params![id(&e.id), e.trigger_payload.text()])?;
        }
        Ok(())
    }

    async fn end_held(
        &mut self,
        ends: &[&Finish],
        at: DateTime<Utc>,
    ) -> Result<HashMap<Uuid, Option<Uuid>>, StoreError> {
        let mut held = HashMap::new();
        if ends.is_empty() {
            return Ok(held);
        }
        let mut end_held = self.db.prepare_cached(END_HELD)?;
        for end in ends {
            let result = end.ending.result.as_ref().map(json).transpose()?;
            let ended: Option<Option<Vec<u8>>> = end_held
                .query_row(
                    params![
                        end.ending.status.as_str(),
                        end.ending.error,
                        result,
                        time(at),
                        id(&end.id),
                        end.owner,
                    ],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(retry_for) = ended {
                let first = retry_for.map(|bytes| uuid_of(&bytes, "retry_for"));
                held.insert(end.id, first.transpose()?);
            }
        }
        Ok(held)
    }

    async fn claim(
        &mut self,
        claim: &Claim,
        at: DateTime<Utc>,
    ) -> Result<Vec<ClaimedRow>, StoreError> {
        let until = time(lease_end(at, claim.lease));
        let at = time(at);
        let mut rows = Vec::new();
        for text in &self.texts.claims {
            let left = claim.limit - rows.len() as i64;
            if left <= 0 {
                break;
            }
            let mut statement = self.db.prepare_cached(text)?;
            bind_numbered(&mut statement, &[&claim.owner, &until, &at, &left])?;
            let mut taken = statement.raw_query();
            while let Some(row) = taken.next()? {
                rows.push(claimed_row(row)?);
            }
        }
        Ok(rows)
    }

    async fn queue_retry(
        &mut self,
        end: &Finish,
        retry_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let retry = new_id();
        let values: [&dyn ToSql; 3] = [&id(&retry), &time(retry_at), &id(&end.id)];
        run_numbered(self.db, QUEUE_RETRY, &values)?;
        run_numbered(self.db, COPY_PAYLOAD, &[&id(&retry), &id(&end.id)])
    }

    async fn close_chain(&mut self, first: Uuid) -> Result<(), StoreError> {
        run_numbered(self.db, CLOSE_CHAIN, &[&id(&first)])
    }

    async fn write_state(
        &mut self,
        org_id: Uuid,
        state: &StateWrite,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let values: [&dyn ToSql; 5] = [
            &id(&org_id),
            &state.scope,
            &id(&state.owner_id),
            &json(&state.value)?,
            &time(at),
        ];
        run_numbered(self.db, WRITE_STATE, &values)
    }

    async fn insert_steps(&mut self, rows: &[Owned<'_, StepResult>]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = self.db.prepare_cached(&self.texts.step)?;
        for (org_id, step) in rows {
            // A trigger's payload is read from its execution (`records::STEP_COLUMNS`).
            let results = step.results.as_ref().filter(|_| !step.from_trigger);
            let effects = (!step.effects.is_empty()).then_some(&step.effects);
            insert.execute(params![
                id(org_id),
                id(&step.id),
                id(&step.execution_id),
                step.step_key,
                step.step_name,
                step.loop_path,
                results.map(json).transpose()?,
                step.from_trigger,
                step.error,
                effects.map(json).transpose()?,
                time(step.started_at),
                time(step.ended_at),
            ])?;
        }
        Ok(())
    }

    async fn insert_logs(&mut self, rows: &[Owned<'_, LogLine>]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = self.db.prepare_cached(&self.texts.log)?;
        for (org_id, line) in rows {
            insert.execute(params![
                id(org_id),
                id(&line.id),
                id(&line.execution_id),
                line.severity.as_str(),
                line.message,
                line.step_name,
                time(line.at),
            ])?;
        }
        Ok(())
    }
}

/// Binds `values` to the statement's `$1`, `$2`, … (the texts shared with PostgreSQL), by
/// name: SQLite numbers named parameters in the order they first appear.
fn bind_numbered(statement: &mut Statement<'_>, values: &[&dyn ToSql]) -> Result<(), StoreError> {
    for (n, value) in values.iter().enumerate() {
        if let Some(index) = statement.parameter_index(&format!("${}", n + 1))? {
            statement.raw_bind_parameter(index, value)?;
        }
    }
    Ok(())
}

/// Runs a statement with `$n` parameters.
fn run_numbered(db: &Connection, text: &str, values: &[&dyn ToSql]) -> Result<(), StoreError> {
    let mut statement = db.prepare_cached(text)?;
    bind_numbered(&mut statement, values)?;
    statement.raw_execute()?;
    Ok(())
}

/// A uuid as sqlx writes it: its 16 bytes.
fn id(value: &Uuid) -> &[u8] {
    value.as_bytes()
}

/// A time as sqlx writes it.
fn time(value: DateTime<Utc>) -> String {
    value.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// JSON as sqlx writes it: text.
fn json(value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("a value does not write as JSON: {e}")))
}

/// A row a claim returned (`RETURNING org_id, …` the execution's columns).
fn claimed_row(row: &Row<'_>) -> Result<ClaimedRow, StoreError> {
    let read = Read(row);
    Ok(ClaimedRow {
        org_id: read.uuid("org_id")?,
        execution: ExecutionRow {
            id: read.uuid("id")?,
            instance_id: read.uuid("instance_id")?,
            customer_id: read.uuid("customer_id")?,
            flow_config_id: read.uuid("flow_config_id")?,
            flow_key: row.get("flow_key")?,
            status: row.get("status")?,
            is_synchronous: row.get("is_synchronous")?,
            trigger_payload: Json(read.raw("trigger_payload")?),
            error: row.get("error")?,
            queued_at: read
                .time("queued_at")?
                .ok_or_else(|| missing("queued_at"))?,
            started_at: read.time("started_at")?,
            ended_at: read.time("ended_at")?,
            attempt: row.get("attempt")?,
            result: read.json("result")?.map(Json),
            invoked_by: read.optional_uuid("invoked_by")?,
            retry_for: read.optional_uuid("retry_for")?,
            retry_attempt: row.get("retry_attempt")?,
            replay_for: read.optional_uuid("replay_for")?,
            not_before: read.time("not_before")?,
        },
    })
}

/// Reads a row's columns written as sqlx writes them.
struct Read<'a, 'r>(&'a Row<'r>);

impl Read<'_, '_> {
    fn uuid(&self, column: &str) -> Result<Uuid, StoreError> {
        self.optional_uuid(column)?.ok_or_else(|| missing(column))
    }

    fn optional_uuid(&self, column: &str) -> Result<Option<Uuid>, StoreError> {
        let bytes: Option<Vec<u8>> = self.0.get(column)?;
        bytes.map(|bytes| uuid_of(&bytes, column)).transpose()
    }

    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let text: Option<String> = self.0.get(column)?;
        text.map(|text| {
            DateTime::parse_from_rfc3339(&text)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| StoreError::Corrupt(format!("{column} {text:?} is not a time: {e}")))
        })
        .transpose()
    }

    /// A JSON column as text, checked but not parsed into a value.
    fn raw(&self, column: &str) -> Result<Box<RawValue>, StoreError> {
        self.json(column)?.ok_or_else(|| missing(column))
    }

    fn json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>, StoreError> {
        let bytes = match self.0.get_ref(column)? {
            ValueRef::Null => return Ok(None),
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes,
            other => {
                let kind = other.data_type();
                return Err(StoreError::Corrupt(format!(
                    "{column} holds {kind}, not JSON"
                )));
            }
        };
        serde_json::from_slice(bytes)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("{column} is not JSON: {e}")))
    }
}

fn uuid_of(bytes: &[u8], column: &str) -> Result<Uuid, StoreError> {
    Uuid::from_slice(bytes)
        .map_err(|_| StoreError::Corrupt(format!("{column} is not a uuid ({} bytes)", bytes.len())))
}

fn missing(column: &str) -> StoreError {
    StoreError::Corrupt(format!("{column} is missing"))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use sqlx::sqlite::SqliteArgumentValue;
    use sqlx::{Encode, Sqlite};

    use super::*;

    /// What sqlx writes for `value` on SQLite.
    fn sqlx_writes<'q>(value: &impl Encode<'q, Sqlite>) -> SqliteArgumentValue<'q> {
        let mut written = Vec::new();
        let _ = value.encode_by_ref(&mut written);
        written.pop().unwrap_or(SqliteArgumentValue::Null)
    }

    /// A writer on a new database in `dir`, and the write pool it shares with other writers.
    async fn writer(dir: &Path) -> (SqliteCommit, SqlitePool) {
        let url = format!("sqlite://{}", dir.join("turn.db").display());
        let backend = crate::backend::open_sqlite(&url, 1).await.unwrap();
        let claims = crate::runs::claim_statements(&backend);
        let crate::backend::Backend::Sqlite(pools) = backend else {
            unreachable!("a SQLite URL opens SQLite")
        };
        let pool = pools.writer.clone();
        (
            SqliteCommit::open(pools.writer, &pools.path, claims).unwrap(),
            pool,
        )
    }

    /// Whether another writer gets the write pool's connection within a second.
    async fn others_may_write(pool: &SqlitePool) -> bool {
        let waited = tokio::time::timeout(Duration::from_secs(1), pool.acquire()).await;
        waited.is_ok_and(|acquired| acquired.is_ok())
    }

    #[tokio::test]
    async fn the_writer_keeps_its_turn_between_commits_and_gives_it_back_when_idle() {
        let dir = tempfile::tempdir().unwrap();
        let (mut commit, pool) = writer(dir.path()).await;
        commit.commit(&[]).await.unwrap();
        assert!(!others_may_write(&pool).await, "kept for the next commit");
        commit.idle();
        assert!(
            others_may_write(&pool).await,
            "given back with nothing to write"
        );
    }

    #[tokio::test]
    async fn the_writer_gives_its_turn_back_after_a_while_even_when_busy() {
        let dir = tempfile::tempdir().unwrap();
        let (mut commit, pool) = writer(dir.path()).await;
        commit.commit(&[]).await.unwrap();
        // Another writer waits; the next commit finds the turn too old: it goes back, and the
        // waiting writer, first in the pool's line, writes before the commit can start.
        let (waited, next) = tokio::join!(others_may_write(&pool), async {
            tokio::time::sleep(TURN).await;
            commit.commit(&[]).await
        });
        assert!(waited, "another writer got its turn");
        assert!(next.is_ok(), "and the busy writer went on after it");
    }

    #[test]
    fn times_are_written_as_sqlx_writes_them() {
        let whole = Utc.with_ymd_and_hms(2026, 12, 6, 9, 5, 0).unwrap();
        let times = [
            whole,
            whole + chrono::Duration::milliseconds(120),
            whole + chrono::Duration::microseconds(123_456),
            now(),
        ];
        for at in times {
            match sqlx_writes(&at) {
                SqliteArgumentValue::Text(text) => assert_eq!(time(at), text, "{at:?}"),
                _ => panic!("sqlx wrote {at:?} as something else than text"),
            }
        }
    }

    #[test]
    fn uuids_and_json_are_written_as_sqlx_writes_them() {
        let value = new_id();
        match sqlx_writes(&value) {
            SqliteArgumentValue::Blob(bytes) => assert_eq!(id(&value), &*bytes),
            _ => panic!("sqlx wrote a uuid as something else than a blob"),
        }
        let document = serde_json::json!({ "a": [1, "ü", null], "b": { "c": true } });
        match sqlx_writes(&Json(&document)) {
            SqliteArgumentValue::Text(text) => assert_eq!(json(&document).ok(), Some(text.into())),
            _ => panic!("sqlx wrote JSON as something else than text"),
        }
    }
}
