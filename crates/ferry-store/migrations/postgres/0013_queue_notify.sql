-- Waking idle workers on every node: whenever executions are queued (inserted, or put back in
-- the queue when a lease is handed back), the commit sends a notification on the channel
-- `ferry_queued`, which each worker LISTENs to. PostgreSQL folds identical notifications of a
-- transaction into one. Polling stays the fallback; a lost notification only delays a pickup.

CREATE FUNCTION ferry_notify_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ferry_queued', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER executions_queued_insert AFTER INSERT ON executions
    FOR EACH STATEMENT EXECUTE FUNCTION ferry_notify_queued();

CREATE TRIGGER executions_queued_again AFTER UPDATE OF status ON executions
    FOR EACH ROW WHEN (NEW.status = 'QUEUED' AND OLD.status <> 'QUEUED')
    EXECUTE FUNCTION ferry_notify_queued();
