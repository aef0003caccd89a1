-- Running executions by lease expiry: the claim's second walk (how a lost worker's executions
-- come back) reads a range of this index and stops at its limit, like the first walk does on
-- `executions_queue (status, queued_at)`. Partial, so it stays as small as the running set.

CREATE INDEX executions_leased ON executions (lease_until) WHERE status = 'RUNNING';
