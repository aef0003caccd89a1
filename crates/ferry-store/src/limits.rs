//! Concurrency limits: how many executions of one organization, and of one instance, may run
//! at once. Executions over a limit stay QUEUED and are claimed as others end; nothing is
//! refused or failed.
//!
//! The limits are the claim's business: [`limited_pick`] turns the claim's candidate query
//! into one that ranks each candidate within its organization and its instance (oldest first)
//! and keeps those whose rank, added to what already runs there under a live lease, stays
//! within the limit. Two claims must not count at once, or each could fill the same free
//! places: on SQLite the single writer serializes them; on PostgreSQL a limited claim holds
//! [`CLAIM_LOCK`] (a transaction-scoped advisory lock) while it picks and marks.

/// The PostgreSQL advisory lock key limited claims hold (`pg_advisory_xact_lock`), so that
/// claims on every node count running executions one at a time.
pub(crate) const CLAIM_LOCK: i64 = 0x6665_7272_795f_636c; // "ferry_cl"

/// How many executions may run at once, per organization and per instance; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConcurrencyLimits {
    /// Running executions per organization, across every node on the store.
    pub per_organization: Option<u32>,
    /// Running executions per instance, across every node on the store.
    pub per_instance: Option<u32>,
}

impl ConcurrencyLimits {
    /// Whether no limit is set (claims then take the plain, lock-free path).
    pub fn is_unlimited(&self) -> bool {
        self.per_organization.is_none() && self.per_instance.is_none()
    }
}

/// The ids a limited claim takes: the candidates (`FROM {tables} WHERE {conditions}`, with `e`
/// the executions; `$3` is now, `$4` the claim's size), ranked oldest first within their
/// organization and their instance, kept while rank plus running stays within each limit.
/// `None` when no limit is set.
pub(crate) fn limited_pick(
    limits: &ConcurrencyLimits,
    tables: &str,
    conditions: &str,
) -> Option<String> {
    if limits.is_unlimited() {
        return None;
    }
    let groups = [
        ("org_id", "org_load", limits.per_organization),
        ("instance_id", "instance_load", limits.per_instance),
    ];
    let mut loads = Vec::new();
    let mut joins = Vec::new();
    let mut keep = Vec::new();
    for (column, load, limit) in groups {
        let Some(limit) = limit else { continue };
        loads.push(format!(
            "ROW_NUMBER() OVER (PARTITION BY e.{column} ORDER BY e.queued_at, e.id) + COALESCE({load}.n, 0) AS {load}"
        ));
        joins.push(format!(
            "LEFT JOIN (SELECT {column} AS k, COUNT(*) AS n FROM executions WHERE status = 'RUNNING' \
             AND lease_until >= $3 GROUP BY {column}) {load} ON {load}.k = e.{column}"
        ));
        keep.push(format!("{load} <= {limit}"));
    }
    Some(format!(
        "SELECT id FROM (SELECT e.id, e.queued_at, {loads} FROM {tables} {joins} WHERE {conditions}) ranked \
         WHERE {keep} ORDER BY queued_at, id LIMIT $4",
        loads = loads.join(", "),
        joins = joins.join(" "),
        keep = keep.join(" AND "),
    ))
}
