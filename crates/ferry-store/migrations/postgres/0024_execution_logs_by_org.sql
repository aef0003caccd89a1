-- Log lines are keyed by organization and id: the primary key becomes (org_id, id) and the
-- index by organization, which held the same keys, goes. Each line then updates two B-trees
-- (the primary key and the index by execution) besides the table, where it updated three. An
-- execution writes several log lines (the engine's own: started, each step, a branch taken,
-- ended). Reading by organization or by execution, paging by id and pruning by age (per
-- organization, `retention.rs`) use the same keys as before. The primary key is built once.

ALTER TABLE execution_logs DROP CONSTRAINT execution_logs_pkey;
ALTER TABLE execution_logs ADD PRIMARY KEY (org_id, id);
DROP INDEX IF EXISTS execution_logs_org;
