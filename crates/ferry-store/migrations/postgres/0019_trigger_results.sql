-- The result of a trigger that is not a poll is the execution's trigger payload, which the
-- execution row (or its blob) already holds: such a step result row keeps no copy
-- (`results` NULL) and says so here; reads take the payload from the execution.

ALTER TABLE step_results ADD COLUMN results_from_trigger BOOLEAN NOT NULL DEFAULT FALSE;
