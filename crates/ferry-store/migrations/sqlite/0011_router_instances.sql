-- Shared endpoints routed by a preprocess flow: the preprocess flow runs, before the customer
-- is known, in a system instance of the integration version whose endpoint configuration
-- applies (on the organization's system customer, never a customer's instance). One per
-- version, created on the first request that needs it.

ALTER TABLE instances ADD COLUMN is_router BOOLEAN NOT NULL DEFAULT FALSE;
CREATE UNIQUE INDEX instances_router ON instances (version_id) WHERE is_router = TRUE;
