-- An instance's executions by status, newest id last: counting them (`totalCount` of
-- `executionResults(instance:, status:)`, which dashboards and the benchmark's drain poll ask
-- for) and listing one page of them read a range of this index alone. Without it, each count
-- read every execution row of the instance, payload pages included, to test its status.

CREATE INDEX executions_instance_status ON executions (org_id, instance_id, status, id);
