-- Webhook ids (flow configs and instances) whose instance was deleted, so that a request to a
-- deleted instance's URL is answered 410 Gone rather than 404.

CREATE TABLE deleted_webhooks (
    id          UUID PRIMARY KEY NOT NULL,
    org_id      UUID NOT NULL,
    deleted_at  TIMESTAMPTZ NOT NULL
);
