-- Executions held at enqueue (inserted already RUNNING under the inserting node's lease, run
-- by that node's worker) are nobody else's work: the insert notification wakes the workers only
-- when the statement queued at least one execution.

DROP TRIGGER executions_queued_insert ON executions;

CREATE FUNCTION ferry_notify_inserted_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inserted WHERE status = 'QUEUED') THEN
        PERFORM pg_notify('ferry_queued', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER executions_queued_insert AFTER INSERT ON executions
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION ferry_notify_inserted_queued();
