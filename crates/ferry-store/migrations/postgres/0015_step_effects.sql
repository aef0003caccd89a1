-- What a step did besides giving its result (a code step's response fields and state changes),
-- committed with it so that a resumed execution replays it instead of running the step again.
ALTER TABLE step_results ADD COLUMN effects JSONB;
