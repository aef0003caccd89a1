-- Webhook ids (flow configs and instances) whose instance was deleted, so that a request to a
-- deleted instance's URL is answered 410 Gone rather than 404.

CREATE TABLE deleted_webhooks (
    id          BLOB PRIMARY KEY NOT NULL,
    org_id      BLOB NOT NULL,
    deleted_at  TEXT NOT NULL
);
