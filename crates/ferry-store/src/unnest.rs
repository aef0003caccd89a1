//! Queued executions bound as arrays, one per column, for PostgreSQL's `UNNEST`: a statement
//! that inserts them keeps one text however many rows it takes (so it stays prepared on every
//! connection), and PostgreSQL parses and binds twenty arrays instead of twenty values a row.
//! Written once, for the grouped commit ([`crate::batch`]) and the firing of schedules.

use serde_json::value::RawValue;
use sqlx::postgres::PgArguments;
use sqlx::Arguments;
use uuid::Uuid;

use chrono::{DateTime, Utc};

use crate::executions::{INSERT_PAYLOADS, INSERT_QUEUED};
use crate::json_text::JsonText;

/// Two data-modifying CTEs, `queued` and `payloads`, inserting the executions of `$1`–`$19`
/// and their payloads (`$2`, `$20`): the first twenty parameters, as [`QueuedColumns`] binds
/// them.
pub(crate) fn queued_ctes() -> String {
    format!(
        "queued AS (
    {INSERT_QUEUED}
    SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[],
        $7::text[], $8::bool[], $9::timestamptz[], $10::uuid[], $11::uuid[], $12::int4[], $13::uuid[],
        $14::timestamptz[], $15::bool[], $16::timestamptz[], $17::int4[], $18::text[], $19::timestamptz[])
), payloads AS (
    {INSERT_PAYLOADS} SELECT * FROM UNNEST($2::uuid[], $20::json[])
)"
    )
}

/// Queued executions (or held ones, with their lease) and their payloads, a column each.
#[derive(Default)]
pub(crate) struct QueuedColumns<'a> {
    org_id: Vec<Uuid>,
    id: Vec<Uuid>,
    instance_id: Vec<Uuid>,
    customer_id: Vec<Uuid>,
    flow_config_id: Vec<Uuid>,
    flow_key: Vec<&'a str>,
    status: Vec<&'static str>,
    is_synchronous: Vec<bool>,
    queued_at: Vec<DateTime<Utc>>,
    invoked_by: Vec<Option<Uuid>>,
    retry_for: Vec<Option<Uuid>>,
    retry_attempt: Vec<i32>,
    replay_for: Vec<Option<Uuid>>,
    not_before: Vec<Option<DateTime<Utc>>>,
    fifo: Vec<bool>,
    started_at: Vec<Option<DateTime<Utc>>>,
    attempt: Vec<i32>,
    lease_owner: Vec<Option<&'a str>>,
    lease_until: Vec<Option<DateTime<Utc>>>,
    payload: Vec<JsonText<&'a RawValue>>,
}

impl<'a> QueuedColumns<'a> {
    /// Adds execution `e` of organization `org_id`.
    pub(crate) fn push(
        &mut self,
        org_id: Uuid,
        e: &'a ferry_core::execution::Execution,
        fifo: bool,
        lease: Option<&'a crate::runs::Lease>,
    ) {
        self.org_id.push(org_id);
        self.id.push(e.id);
        self.instance_id.push(e.instance_id);
        self.customer_id.push(e.customer_id);
        self.flow_config_id.push(e.flow_config_id);
        self.flow_key.push(&e.flow_key);
        self.status.push(e.status.as_str());
        self.is_synchronous.push(e.is_synchronous);
        self.queued_at.push(e.queued_at);
        self.invoked_by.push(e.invoked_by);
        self.retry_for.push(e.retry_for);
        self.retry_attempt.push(e.retry_attempt);
        self.replay_for.push(e.replay_for);
        self.not_before.push(e.not_before);
        self.fifo.push(fifo);
        self.started_at.push(e.started_at);
        self.attempt.push(e.attempt);
        self.lease_owner.push(lease.map(|l| l.owner.as_str()));
        self.lease_until.push(lease.map(|l| l.until));
        self.payload.push(JsonText(e.trigger_payload.raw()));
    }

    /// The columns as a statement's first twenty parameters ([`queued_ctes`]); the caller
    /// binds its own after them.
    pub(crate) fn arguments(self) -> Result<PgArguments, sqlx::Error> {
        let mut args = PgArguments::default();
        let add = |added: Result<(), sqlx::error::BoxDynError>| added.map_err(sqlx::Error::Encode);
        add(args.add(self.org_id))?;
        add(args.add(self.id))?;
        add(args.add(self.instance_id))?;
        add(args.add(self.customer_id))?;
        add(args.add(self.flow_config_id))?;
        add(args.add(self.flow_key))?;
        add(args.add(self.status))?;
        add(args.add(self.is_synchronous))?;
        add(args.add(self.queued_at))?;
        add(args.add(self.invoked_by))?;
        add(args.add(self.retry_for))?;
        add(args.add(self.retry_attempt))?;
        add(args.add(self.replay_for))?;
        add(args.add(self.not_before))?;
        add(args.add(self.fifo))?;
        add(args.add(self.started_at))?;
        add(args.add(self.attempt))?;
        add(args.add(self.lease_owner))?;
        add(args.add(self.lease_until))?;
        add(args.add(self.payload))?;
        Ok(args)
    }
}
