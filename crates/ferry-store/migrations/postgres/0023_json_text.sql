-- JSON that users send and flows make (trigger payloads, step results and their effects,
-- results, flow state, and their blobs) is kept as the text it was written in: `json`, not
-- `jsonb`. `jsonb` reorders object keys, drops duplicate keys and rewrites numbers, so a value
-- read back differed from the one written (and from what SQLite, which keeps the text, gives
-- back); it also parsed every value into a tree on the way in and wrote it out on every read.
-- Nothing queries inside these columns. Values written before this migration keep the form
-- `jsonb` gave them. Every table named is rewritten, once.

ALTER TABLE execution_payloads ALTER COLUMN data TYPE json;
ALTER TABLE blobs ALTER COLUMN data TYPE json;
ALTER TABLE step_results ALTER COLUMN results TYPE json, ALTER COLUMN effects TYPE json;
ALTER TABLE executions ALTER COLUMN result TYPE json;
ALTER TABLE flow_state ALTER COLUMN value TYPE json;
