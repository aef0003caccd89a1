-- Log lines are kept in one B-tree ordered by organization and id (a table WITHOUT ROWID whose
-- primary key is (org_id, id)), beside the index by execution: two B-trees where there were
-- four (the rowid table, the index of its primary key `id`, and the indexes by organization and
-- by execution). An execution writes several log lines (the engine's own: started, each step,
-- a branch taken, ended), so these inserts were the largest share of the pages a grouped commit
-- wrote. Reading by organization or by execution, paging by id and pruning by age (per
-- organization, `retention.rs`) use the same keys as before. The table is rebuilt once.

CREATE TABLE execution_logs_by_org (
    org_id        BLOB NOT NULL,
    id            BLOB NOT NULL,
    execution_id  BLOB NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    severity      TEXT NOT NULL,
    message       TEXT NOT NULL,
    step_name     TEXT,
    at            TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;

INSERT INTO execution_logs_by_org (org_id, id, execution_id, severity, message, step_name, at)
    SELECT org_id, id, execution_id, severity, message, step_name, at FROM execution_logs;

DROP TABLE execution_logs;
ALTER TABLE execution_logs_by_org RENAME TO execution_logs;
CREATE INDEX execution_logs_execution ON execution_logs (execution_id, id);
